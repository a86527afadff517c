"""Put an exported model into weights/ and record it in the manifest (name, file, sha256)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from denoise_cli.errors import DenoiseError
from denoise_cli.registry import MANIFEST
from denoise_cli.session import open_session, read_description


def ship(model_path: Path, weights: Path, aliases: list[str], make_default: bool) -> dict:
    """Copy `model_path` to weights/<name>.onnx and register it; returns the manifest."""
    data = model_path.read_bytes()
    description = read_description(open_session(data, device="cpu", threads=1, name=model_path.name), model_path.name)
    target = weights / f"{description.name}.onnx"
    if model_path.resolve() != target.resolve():
        shutil.copyfile(model_path, target)
    manifest_path = weights / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"default": None, "aliases": {}, "models": {}}
    manifest["models"][description.name] = {"file": target.name, "sha256": hashlib.sha256(data).hexdigest()}
    for alias in aliases:
        if alias in manifest["models"] or alias == "default":
            raise DenoiseError(f"alias {alias!r} is a model name already.")
        manifest["aliases"][alias] = description.name
    if make_default:
        manifest["default"] = description.name
    manifest["models"] = dict(sorted(manifest["models"].items()))
    manifest["aliases"] = dict(sorted(manifest["aliases"].items()))
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
