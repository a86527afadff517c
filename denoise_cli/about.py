"""`denoise info`: what this installation can do, for a user asking "is my GPU used?" or "can it
read HEIC?", and for a bug report.

It names the versions that matter, the device `--device auto` picks and why, the optional
formats and whether each is there, and the shipped models. Optional packages are looked up, not
imported, so the report stays fast; CUDA is tried for real, as `--device auto` does.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata, util

from denoise_cli._version import __version__


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _installed(*modules: str) -> bool:
    return all(util.find_spec(module) is not None for module in modules)


def report() -> dict:
    import onnxruntime as ort
    from PIL import features

    from denoise_cli import registry
    from denoise_cli.session import _cuda_works, cpu_cores

    providers = ort.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        cuda = "not in this ONNX Runtime (the CPU package); onnxruntime-gpu has it on Linux x86_64 and Windows x64"
    elif _cuda_works():
        cuda = "works"
    else:
        cuda = "in this ONNX Runtime, but no CUDA session starts (no NVIDIA GPU, or its CUDA and cuDNN libraries are missing)"
    optional = {  # format: how to get it, when it is missing
        "AVIF": None if features.check("avif") else "pip install --upgrade pillow",
        "JPEG 2000": None if features.check("jpg_2000") else "Pillow's own wheels have it (pip install --force-reinstall pillow)",
        "HEIC": None if _installed("pillow_heif") else 'pip install "denoise-cli[heif]"',
        "JPEG XL": None if _installed("imagecodecs") else 'pip install "denoise-cli[jxl]"',
        "16-bit colour TIFF, PNG and JPEG 2000, float colour TIFF": None if _installed("tifffile", "imagecodecs") else 'pip install "denoise-cli[tiff16]"',
    }
    models = registry.shipped_models()
    return {
        "denoise-cli": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "packages": {name: version for name in ("numpy", "pillow", "onnxruntime", "onnxruntime-gpu", "pillow-heif", "tifffile", "imagecodecs", "torch")
                     if (version := _version(name))},  # the optional codecs too: a file's fate depends on them
        "onnxruntime providers": providers,
        "cuda": cuda,
        "device auto": "cuda" if cuda == "works" else "cpu",
        "cpu cores": cpu_cores(),
        "formats": ["PNG", "JPEG", "TIFF", "BMP", "WebP", "GIF", "PBM/PGM/PPM", *(name for name, how in optional.items() if how is None)],
        "formats missing": {name: how for name, how in optional.items() if how is not None},
        "models": {"shipped": len(models), "default": registry.default_model_name(), "folder": str(registry.weights_dir())},
    }


def print_report(as_json: bool) -> int:
    facts = report()
    if as_json:
        print(json.dumps(facts, indent=2))
        return 0
    width = max(map(len, facts)) + 2
    for key, value in facts.items():
        if isinstance(value, dict):
            value = "; ".join(f"{k} ({v})" if key == "formats missing" else f"{k} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, list):
            value = ", ".join(value)
        print(f"{key + ':':<{width}}{value}")
    return 0
