"""The shipped models: a data table (weights/manifest.json) of names, files and sha256 sums.

A name resolves to a shipped file whose checksum must match the manifest (a corrupted or altered
model is refused); anything that looks like a path resolves to a user's own .onnx file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from denoise_cli.errors import DenoiseError

MANIFEST = "manifest.json"
DEFAULT = "default"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    sha256: str | None  # None for a user's own file
    aliases: tuple[str, ...] = ()


def weights_dir() -> Path:
    return Path(str(resources.files("denoise_cli.weights")))


@lru_cache(maxsize=1)
def _manifest() -> dict:
    path = weights_dir() / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"default": None, "aliases": {}, "models": {}}
    except (OSError, json.JSONDecodeError) as exc:
        raise DenoiseError(f"the model manifest {path} is unreadable ({exc}); reinstall denoise-cli.") from None


def shipped_models() -> list[ModelEntry]:
    manifest = _manifest()
    aliases: dict[str, list[str]] = {}
    for alias, target in manifest.get("aliases", {}).items():
        aliases.setdefault(target, []).append(alias)
    if manifest.get("default"):
        aliases.setdefault(manifest["default"], []).insert(0, DEFAULT)
    return [
        ModelEntry(name, weights_dir() / info["file"], info["sha256"], tuple(aliases.get(name, ())))
        for name, info in manifest.get("models", {}).items()
    ]


def default_model_name() -> str | None:
    return _manifest().get("default")


def _looks_like_path(model: str) -> bool:
    return model.endswith(".onnx") or os.sep in model or (os.altsep is not None and os.altsep in model)


def resolve(model: str | os.PathLike) -> ModelEntry:
    """A shipped model by name or alias ('default', 'sp', ...), or a path to a .onnx file."""
    text = os.fspath(model)
    if isinstance(model, Path) or _looks_like_path(text):
        return _user_file(Path(text).expanduser())
    manifest = _manifest()
    name = manifest.get("default") if text == DEFAULT else manifest.get("aliases", {}).get(text, text)
    for entry in shipped_models():
        if entry.name == name:
            return entry
    if Path(text).is_file():  # a model file named without a folder or .onnx: 'my-model.bin'
        return _user_file(Path(text))
    known = sorted({e.name for e in shipped_models()} | set(manifest.get("aliases", {})) | {DEFAULT})
    guess = _likely_meant(text, known)
    raise DenoiseError(f"unknown model {text!r}{guess}; available: {', '.join(known) or 'none'} (or a path to a .onnx file).")


# A training framework's own files, which users try first: how each comes to be an ONNX model
FRAMEWORK_FILES = {
    **dict.fromkeys((".pt", ".pth", ".ckpt", ".safetensors"), ("a PyTorch", "export the network with torch.onnx.export")),
    **dict.fromkeys((".h5", ".keras", ".pb", ".tflite"), ("a TensorFlow or Keras", "convert it with tf2onnx")),
}


def _user_file(path: Path) -> ModelEntry:
    if path.is_dir():
        raise DenoiseError(f"model {path} is a folder; give the path to a .onnx file.")
    if not path.is_file():
        raise DenoiseError(f"model file {path} does not exist.")
    if path.suffix.lower() in FRAMEWORK_FILES:
        framework, way = FRAMEWORK_FILES[path.suffix.lower()]
        raise DenoiseError(f"model {path} is {framework} file, not an ONNX model: {way}, then give it its description with "
                           "denoise-train describe (README: A model trained elsewhere).")
    return ModelEntry(path.stem, path, None)


def read_verified(entry: ModelEntry) -> bytes:
    """The model file's bytes; a shipped one must match its manifest checksum."""
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise DenoiseError(f"cannot read model file {entry.path} ({exc.strerror or exc}).") from None
    if entry.sha256 is not None and hashlib.sha256(data).hexdigest() != entry.sha256:
        raise DenoiseError(
            f"shipped model {entry.name} ({entry.path.name}) is corrupted or altered: its sha256 does not match "
            "the manifest; reinstall denoise-cli."
        )
    return data


def _likely_meant(text: str, known: list[str]) -> str:
    """" (did you mean photo?)" for a typo (-m phot, -m Gausian, -m SP), where one name is close; ""
    where none is, or several start so (-m mnist)."""
    lower = text.lower()
    starting = [name for name in known if name.startswith(lower)]
    close = [lower] if lower in known else starting or difflib.get_close_matches(lower, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if len(close) == 1 else ""
