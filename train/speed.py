"""Speed of the shipped models: megapixels per second on a 2048x2048 image through the public
API (tiling included), model load time, threads, tiling overhead against one whole-image run,
and ONNX Runtime against the same network in PyTorch eager on the same threads and tiles; and a
folder of small images through the real batch pipeline against pure inference on the same
images, which shows what reading, decoding, encoding and writing add; and worker threads
sharing one Denoiser, as a web service's do."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from denoise_cli.api import Denoiser
from denoise_cli.errors import DenoiseError
from denoise_cli.model import LoadedModel
from denoise_cli.train.networks import build_network, fold_batch_norm
from denoise_cli.train.subpixel import from_subpixel, to_subpixel

SIDE = 2048


@dataclass(frozen=True)
class SpeedRow:
    model: str
    threads: int
    load_seconds: float
    megapixels_per_second: float
    whole_image_megapixels_per_second: float | None  # fully convolutional models only
    tiling_overhead_percent: float | None
    torch_megapixels_per_second: float
    onnx_over_torch: float


class TorchSession:
    """The ONNX session interface (`run`) over the PyTorch network the ONNX file was exported
    from, with the file's own weights: so the same tiler drives both runtimes."""

    def __init__(self, denoiser: Denoiser):
        recipe = denoiser.description.recipe
        # the ONNX file holds the network with its foldable batch norms folded, and possibly its
        # transposed convolutions in sub-pixel form (export_onnx); PyTorch runs the network as
        # trained, batch norms folded as any deployment would
        trained = fold_batch_norm(build_network(recipe["network"], recipe["network_args"]))
        weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(denoiser.model.path)).graph.initializer}
        for form in (to_subpixel(trained), trained):
            needed = {k for k in form.state_dict() if not k.endswith("num_batches_tracked")}
            if needed <= set(weights):
                form.load_state_dict({k: weights.get(k, v) for k, v in form.state_dict().items()})
                self.net = from_subpixel(form, trained).eval() if form is not trained else form
                return
        raise DenoiseError(f"{denoiser.model.path.name}: its weights do not match the {recipe['network']} network.")

    def get_providers(self) -> list[str]:
        return ["CPUExecutionProvider"]

    def run(self, outputs, feeds):
        with torch.inference_mode():
            return [self.net(*(torch.from_numpy(v) for v in feeds.values())).numpy()]


def test_image(side: int = SIDE, seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side] / side
    smooth = 0.5 + 0.3 * np.sin(12 * x) * np.cos(9 * y)
    noisy = smooth + np.random.default_rng(seed).normal(0, 25 / 255, (side, side))
    return np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)


def make_scan(path, width: int, height: int, bits: int = 8, band: int = 1024, overwrite: bool = False) -> None:
    """A large scan-like test image (smooth pattern + grain), built a band of rows at a time and
    written as `denoise` writes its outputs: whole or not at all, an existing file only if asked."""
    from PIL import Image

    from denoise_cli.imageio import from_pillow, write_image

    if bits not in (8, 16):
        raise DenoiseError(f"--bits {bits}: a scan has 8 or 16 bits per pixel.")

    dtype, peak = (np.uint8, 255) if bits == 8 else (np.uint16, 65535)
    out = np.empty((height, width), dtype=dtype)
    rng = np.random.default_rng(0)
    x = np.arange(width) / width
    for top in range(0, height, band):
        y = (np.arange(top, min(top + band, height)) / height)[:, None]
        rows = 0.5 + 0.3 * np.sin(40 * x)[None, :] * np.cos(30 * y) + rng.normal(0, 0.05, (len(y), width))
        out[top : top + len(y)] = np.round(np.clip(rows, 0, 1) * peak).astype(dtype)
    # a TIFF uncompressed, as the README's memory figures were measured on (outputs then stay so)
    scan = dataclasses.replace(from_pillow(Image.fromarray(out)), tiff_compression="raw")
    write_image(scan, path, overwrite=overwrite)


def _seconds(run, repeats: int) -> float:
    """Best of `repeats` runs (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def measure(model: str, threads: int = 2, repeats: int = 2, side: int = SIDE) -> SpeedRow:
    torch.set_num_threads(threads)
    image = test_image(side)
    started = time.perf_counter()
    denoiser = Denoiser(model, device="cpu", threads=threads)
    denoiser.denoise(image[:64, :64])  # warm-up: part of loading
    load = time.perf_counter() - started
    megapixels = image.size / 1e6
    tiled = _seconds(lambda: denoiser.denoise(image), repeats)
    whole = overhead = None
    if not denoiser.description.fixed_size:
        single = Denoiser(model, device="cpu", threads=threads, tile=side + 2 * denoiser.plan(side, side).margin)
        single.denoise(image[:64, :64])
        whole = _seconds(lambda: single.denoise(image), repeats)
        overhead = 100 * (tiled / whole - 1)
    denoiser.model = LoadedModel(denoiser.description, TorchSession(denoiser), denoiser.model.path)
    eager = _seconds(lambda: denoiser.denoise(image), repeats)
    return SpeedRow(
        denoiser.description.name, threads, round(load, 3), round(megapixels / tiled, 3),
        None if whole is None else round(megapixels / whole, 3), None if overhead is None else round(overhead, 1),
        round(megapixels / eager, 3), round(eager / tiled, 2),
    )


def to_markdown(rows: list[SpeedRow]) -> str:
    lines = [
        f"| model | threads | load s | MP/s (tiled, {SIDE}x{SIDE}) | MP/s whole image | tiling overhead | MP/s PyTorch eager | ONNX Runtime / PyTorch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        whole = "" if r.whole_image_megapixels_per_second is None else f"{r.whole_image_megapixels_per_second:.2f}"
        over = "" if r.tiling_overhead_percent is None else f"{r.tiling_overhead_percent:+.1f}%"
        lines.append(f"| {r.model} | {r.threads} | {r.load_seconds:.2f} | {r.megapixels_per_second:.2f} | {whole} | {over} | {r.torch_megapixels_per_second:.2f} | {r.onnx_over_torch:.2f}x |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class FolderRow:
    model: str
    images: int
    size: str
    threads: int
    inference_seconds: float  # denoise_image on images already in memory, one after the other
    batch_seconds: float  # the `denoise FOLDER` pipeline: model load, read, denoise, write
    images_per_second: float
    overhead_percent: float


def measure_folder(model: str, count: int = 500, width: int = 320, height: int = 240, threads: int = 2) -> FolderRow:
    """`count` PNG photos-sized-for-the-web through the batch pipeline, against the same work
    with the files already decoded in memory and nothing written."""
    from PIL import Image

    from denoise_cli.batch import BatchOptions, Reporter, run_batch
    from denoise_cli.imageio import read_image

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for k in range(count):
            Image.fromarray(test_image(max(width, height), seed=k)[:height, :width]).save(folder / f"{k:04d}.png")
        denoiser = Denoiser(model, device="cpu", threads=threads)
        images = [read_image(p) for p in sorted(folder.iterdir())]
        denoiser.denoise_image(images[0])  # warm-up
        started = time.perf_counter()
        for image in images:
            denoiser.denoise_image(image)
        inference = time.perf_counter() - started
        options = BatchOptions(
            inputs=[str(folder)], output=str(Path(tmp) / "out"), model=model, device="cpu", recursive=False, overwrite=False,
            suffix="_denoised", format=None, threads=threads, tile=None, overlap=None, batch_size=None, max_pixels=10**9,
        )
        started = time.perf_counter()
        if run_batch(options, Reporter(quiet=True, json_summary=False)) != 0:
            raise DenoiseError(f"folder-speed: the batch run of {model} failed (its messages are above).")
        batch = time.perf_counter() - started
    return FolderRow(
        denoiser.description.name, count, f"{width}x{height}", threads, round(inference, 2), round(batch, 2),
        round(count / batch, 1), round(100 * (batch / inference - 1), 1),
    )


def folder_markdown(rows: list[FolderRow]) -> str:
    lines = [
        "| model | images | size | threads | pure inference s | `denoise FOLDER` s | images/s | overhead |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.model} | {r.images} | {r.size} | {r.threads} | {r.inference_seconds:.1f} | {r.batch_seconds:.1f} | {r.images_per_second:.1f} | {r.overhead_percent:+.1f}% |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class WorkersRow:
    model: str
    images: int
    size: str
    workers: int
    serial_seconds: float  # one call after another, each on every core (`threads` = cores)
    one_core_each_seconds: float  # `workers` threads sharing one Denoiser made with threads=1
    all_cores_each_seconds: float  # the same threads sharing one Denoiser made with threads=cores


def measure_workers(model: str, count: int = 8, side: int = 512, workers: int = 2, cores: int = 2) -> WorkersRow:
    """A web service's case: worker threads sharing one Denoiser. Whether a call should have
    every core or one: concurrent calls on a session with every core contend for them."""
    from concurrent.futures import ThreadPoolExecutor

    images = [test_image(side, seed=k) for k in range(count)]
    named: list[str] = []

    def seconds(threads: int, pool_size: int) -> float:
        denoiser = Denoiser(model, device="cpu", threads=threads)
        named.append(denoiser.description.name)
        denoiser.denoise(images[0])  # warm-up
        started = time.perf_counter()
        if pool_size == 1:
            for image in images:
                denoiser.denoise(image)
        else:
            with ThreadPoolExecutor(pool_size) as pool:
                list(pool.map(denoiser.denoise, images))
        return round(time.perf_counter() - started, 2)

    serial, one_core, all_cores = seconds(cores, 1), seconds(1, workers), seconds(cores, workers)
    return WorkersRow(named[0], count, f"{side}x{side}", workers, serial, one_core, all_cores)


def workers_markdown(rows: list[WorkersRow]) -> str:
    lines = [
        "| model | images | size | workers | one after another, all cores each | workers, threads=1 | workers, all cores each |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.model} | {r.images} | {r.size} | {r.workers} | {r.serial_seconds:.2f} s | {r.one_core_each_seconds:.2f} s | "
                     f"{r.all_cores_each_seconds:.2f} s |")
    return "\n".join(lines) + "\n"
