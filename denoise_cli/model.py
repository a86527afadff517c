"""A loaded model: ONNX Runtime session + description, and the one function that runs a batch.

`infer` takes and returns images on the [0, 1] scale; the model's own value range and whether
it predicts the clean image or the noise are applied here, from its description.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from denoise_cli import registry
from denoise_cli.description import ModelDescription
from denoise_cli.session import active_device, open_session, read_description


@dataclass(frozen=True)
class LoadedModel:
    description: ModelDescription
    session: ort.InferenceSession
    path: Path

    @property
    def device(self) -> str:
        return active_device(self.session)

    def infer(self, batch: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """(N, 1, H, W) float32 on the [0, 1] scale -> denoised, same shape and scale."""
        d = self.description
        x = batch.astype(np.float32, copy=False)
        if d.input_scale != 1.0 or d.input_offset != 0.0:
            x = x * np.float32(d.input_scale) + np.float32(d.input_offset)
        feeds = {"input": x}
        if d.noise_level_input:
            feeds["sigma"] = np.full((len(x), 1, 1, 1), 0.0 if sigma is None else sigma, dtype=np.float32)
        y = self.session.run(["output"], feeds)[0]
        if d.predicts == "noise":
            y = x - y
        if d.input_scale != 1.0 or d.input_offset != 0.0:
            y = (y - np.float32(d.input_offset)) * np.float32(1.0 / d.input_scale)
        return y


def load_model(model: str | os.PathLike = registry.DEFAULT, device: str = "auto", threads: int | None = None) -> LoadedModel:
    """A shipped model by name or alias, or a user's .onnx file; raises DenoiseError if unusable."""
    entry = registry.resolve(model)
    data = registry.read_verified(entry)
    session = open_session(data, device=device, threads=threads, name=entry.path.name)
    description = read_description(session, entry.path.name)
    return LoadedModel(description, session, entry.path)
