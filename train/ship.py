"""Put an exported model into weights/ and record it in the manifest (name, file, sha256)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from denoise_cli.errors import DenoiseError
from denoise_cli.atomic import write_atomically
from denoise_cli.registry import MANIFEST
from denoise_cli.session import open_session, read_description


def ship(model_path: Path, weights: Path, aliases: list[str], make_default: bool) -> dict:
    """Copy `model_path` to weights/<name>.onnx and register it; returns the manifest.

    Everything is checked before anything is written, and each file is written whole (a
    temporary file renamed into place): an interrupted or refused ship leaves weights/ as it was,
    not a model the manifest does not list, or a manifest cut short that no model loads from."""
    data = model_path.read_bytes()
    description = read_description(open_session(data, device="cpu", threads=1, name=model_path.name), model_path.name)
    target = weights / f"{description.name}.onnx"
    manifest_path = weights / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"default": None, "aliases": {}, "models": {}}
    except (OSError, ValueError) as error:
        raise DenoiseError(f"{manifest_path}: cannot read it ({error}); restore it from git before shipping.") from None
    for alias in aliases:
        if alias in manifest["models"] or alias in (description.name, "default"):
            raise DenoiseError(f"alias {alias!r} is a model name already.")
    manifest["models"][description.name] = {"file": target.name, "sha256": hashlib.sha256(data).hexdigest()}
    manifest["aliases"].update(dict.fromkeys(aliases, description.name))
    if make_default:
        manifest["default"] = description.name
    manifest["models"] = dict(sorted(manifest["models"].items()))
    manifest["aliases"] = dict(sorted(manifest["aliases"].items()))
    if model_path.resolve() != target.resolve():
        write_atomically(target, lambda f: f.write(data), overwrite=True)
    text = json.dumps(manifest, indent=2) + "\n"
    write_atomically(manifest_path, lambda f: f.write(text.encode()), overwrite=True)
    return manifest
