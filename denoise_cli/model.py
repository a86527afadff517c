"""A loaded model: ONNX Runtime session + description, and the one function that runs a batch.

`infer` takes and returns images on the [0, 1] scale; the model's own value range and whether
it predicts the clean image or the noise are applied here, from its description.

Models with small fixed patches (28 or 32 px) get batches of hundreds of patches. On the CPU
they run as one single-threaded session per core, each on its share of the batch, instead of
one session whose threads split every layer: layers that small parallelise poorly inside ONNX
Runtime (its ConvTranspose above all), while independent shards keep every core busy:
`cifar-sp` 0.62 -> 0.87 MP/s, `mnist-conv-strided` 1.09 -> 1.57 at 2 threads. Not for the
cheapest models, which per-call overhead bounds (`mnist-dense`, 616 multiply-adds per pixel:
12.3 -> 11.4).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from denoise_cli import registry
from denoise_cli.description import METADATA_KEY, ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.session import active_device, cpu_cores, open_session, read_description, read_metadata


SHARD_MIN_MACS = 2000  # multiply-adds per pixel below which sharding does not pay


@dataclass(frozen=True)
class LoadedModel:
    description: ModelDescription
    session: ort.InferenceSession
    path: Path
    workers: int = 1  # concurrent runs, each on a shard of the batch (see the module docstring)

    @property
    def device(self) -> str:
        return active_device(self.session)

    def infer(self, batch: np.ndarray, sigma: float | list[float] | None = None) -> np.ndarray:
        """(N, 1, H, W) float32 on the [0, 1] scale -> denoised, same shape and scale. `sigma`:
        the noise level, or one per reading in the description's `level_readings`."""
        d = self.description
        x = batch.astype(np.float32, copy=False)
        if d.input_scale != 1.0 or d.input_offset != 0.0:
            x = x * np.float32(d.input_scale) + np.float32(d.input_offset)
        feeds = {"input": x}
        if d.noise_level_input:
            levels = np.broadcast_to(np.asarray(0.0 if sigma is None else sigma, dtype=np.float32), (len(d.level_readings),))
            levels = levels * np.float32(abs(d.input_scale))  # a std in the network's own units: 0-255 ones for a 0-255 model
            feeds["sigma"] = np.broadcast_to(levels.reshape(1, -1, 1, 1), (len(x), len(levels), 1, 1)).copy()
        y = self._run(feeds)
        if d.predicts == "noise":
            y = x - y
        if d.input_scale != 1.0 or d.input_offset != 0.0:
            y = (y - np.float32(d.input_offset)) * np.float32(1.0 / d.input_scale)
        return y

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        n = len(feeds["input"])
        if self.workers < 2 or n < 2 * self.workers:
            return self._run_session(feeds)
        bounds = np.linspace(0, n, self.workers + 1).astype(int)
        shards = [{k: v[a:b] for k, v in feeds.items()} for a, b in zip(bounds[:-1], bounds[1:])]
        return np.concatenate(list(_pool(self.workers).map(self._run_session, shards)))

    def _run_session(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """One ONNX Runtime call; its failure (a user's model that does not take the tiles its
        description promises, memory running out) is a DenoiseError for this image alone."""
        try:
            return self.session.run(["output"], feeds)[0]
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own exception types
            shape = "x".join(map(str, feeds["input"].shape))
            raise DenoiseError(f"model {self.description.name}: ONNX Runtime failed on a batch of tiles {shape} "
                               f"({str(exc).splitlines()[0][:200]}).") from None


@functools.lru_cache(maxsize=None)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="denoise-shard")


def load_model(model: str | os.PathLike = registry.DEFAULT, device: str = "auto", threads: int | None = None) -> LoadedModel:
    """A shipped model by name or alias, or a user's .onnx file; raises DenoiseError if unusable."""
    entry = registry.resolve(model)
    data = registry.read_verified(entry)
    name = entry.path.name
    metadata = read_metadata(data) or {}
    description = ModelDescription.from_metadata(metadata, name) if METADATA_KEY in metadata else None
    # small fixed patches: one single-threaded run per core (the module docstring)
    shard = description is not None and description.fixed_size and description.macs_per_pixel >= SHARD_MIN_MACS and device != "cuda"
    session = open_session(data, device=device, threads=1 if shard else threads, name=name)
    if description is None:  # ONNX Runtime, or the missing description, says what is wrong
        description = read_description(session, name)
    workers = (threads or cpu_cores()) if shard and active_device(session) == "cpu" else 1
    return LoadedModel(description, session, entry.path, workers)
