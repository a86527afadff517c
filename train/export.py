"""ONNX export: dynamic batch (and size for fully convolutional nets), the model description in
the metadata, and a parity check against PyTorch that fails the export when they disagree.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from denoise_cli.atomic import write_atomically
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.session import open_session
from denoise_cli.train.recipes import Recipe
from denoise_cli.train.networks import fold_batch_norm, level_channels
from denoise_cli.train.subpixel import to_subpixel

PARITY_TOLERANCE = 1e-4
OPSET = 17


def measure_receptive_field(model: nn.Module, multiple_of: int, trials: int = 3) -> int:
    """Side of the input window that one output pixel depends on, from gradient support. The
    pixel is also tried at exactly black and white: an impulse remover passes any other value
    through (its gradient then reaches that pixel alone) and re-predicts those from the window."""
    size = 96 * multiple_of
    centre = size // 2
    side = 0
    for trial in range(trials):
        for value in (None, 0.0, 1.0):
            x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(trial))
            if value is not None:
                x[0, 0, centre, centre] = value
            x.requires_grad_(True)
            args = (x, torch.full((1, level_channels(model), 1, 1), 0.1)) if level_channels(model) else (x,)
            model(*args)[0, 0, centre, centre].backward()
            rows, cols = np.nonzero(x.grad[0, 0].numpy())
            if len(rows):
                side = max(side, rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    return int(side)


def export_onnx(model: nn.Module, description: ModelDescription, path: str | os.PathLike, seed: int = 0) -> Path:
    """Export `model` (in eval mode) to `path` and check it against PyTorch; returns the path.
    Batch norms that follow a convolution are folded into it, and stride-2 transposed
    convolutions are exported in their faster sub-pixel form (subpixel.py)."""
    path = Path(path)
    model = model.eval()
    exported = to_subpixel(fold_batch_norm(model)).eval()
    side = description.patch_size
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1, side, side, generator=gen) * description.input_scale + description.input_offset
    inputs = {"input": x}
    if description.noise_level_input:
        inputs["sigma"] = torch.rand(2, len(description.level_readings), 1, 1, generator=gen) * 0.2
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    if not description.fixed_size:
        axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}}
    if description.noise_level_input:
        axes["sigma"] = {0: "batch"}
    buffer = io.BytesIO()  # in memory until whole and checked: a full disk leaves no half model behind
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            exported, tuple(inputs.values()), buffer, input_names=list(inputs), output_names=["output"],
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in description.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "denoise-cli"
    onnx.checker.check_model(proto)
    serialized = proto.SerializeToString()
    check_parity(model, serialized, inputs, name=path.name)
    write_atomically(path, lambda f: f.write(serialized), overwrite=True)
    return path


def rewrite_description(path: Path, change) -> ModelDescription:
    """Replace the description in an exported model's metadata (e.g. to add measured scores)."""
    try:
        proto = onnx.load(str(path))
    except Exception:  # protobuf's DecodeError, or whatever else a file that is no model gives
        raise DenoiseError(f"{path}: not an ONNX model (export one with denoise-train).") from None
    entries = {p.key: p.value for p in proto.metadata_props}
    description = change(ModelDescription.from_metadata(entries, path.name))
    entries.update(description.to_metadata())
    del proto.metadata_props[:]
    for key, value in entries.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    serialized = proto.SerializeToString()
    write_atomically(path, lambda f: f.write(serialized), overwrite=True)
    return description


# Recipe fields that set only how a finished model is run, not what it learns.
RUN_SETTINGS = ("camera_strength", "camera_ramp", "texture_guard")


def restate(path: Path, recipe: Recipe) -> ModelDescription:
    """Give an exported model its recipe's run settings as the recipe stands now: what `train
    --resume` does to a finished run's export, for a file whose run folder (its checkpoint) is
    gone. Refused unless every other field of the recipe the file records is the recipe's now,
    so that the file stays what the recipe trains."""

    def change(description: ModelDescription) -> ModelDescription:
        if not description.recipe or description.recipe.get("name") != recipe.name:
            raise DenoiseError(f"{path}: not trained by the recipe {recipe.name!r} (its description records {description.recipe.get('name', 'none')!r}).")
        recorded = Recipe.from_dict(description.recipe)
        differ = [f.name for f in dataclasses.fields(Recipe) if f.name not in RUN_SETTINGS and getattr(recorded, f.name) != getattr(recipe, f.name)]
        if differ:
            raise DenoiseError(f"{path}: the recipe {recipe.name!r} now trains differently ({', '.join(differ)}): train it again instead.")
        settings = {name: getattr(recipe, name) for name in RUN_SETTINGS}
        return dataclasses.replace(description, **{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}, recipe=recipe.to_dict())

    return rewrite_description(path, change)


def check_parity(model: nn.Module, onnx_model: Path | bytes, inputs: dict[str, torch.Tensor], name: str | None = None) -> float:
    """Max abs difference of ONNX Runtime vs PyTorch on the same inputs; raises over tolerance.
    `onnx_model` is a file or its bytes (`name` then names it in the error)."""
    name = name or Path(onnx_model).name
    with torch.no_grad():
        expected = model(*inputs.values()).numpy()
    session = open_session(onnx_model, device="cpu", threads=1, name=name)
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    if not diff <= PARITY_TOLERANCE:
        raise DenoiseError(
            f"export parity check failed for {name}: ONNX Runtime and PyTorch differ by {diff:.3g} "
            f"(tolerance {PARITY_TOLERANCE:g})."
        )
    return diff
