"""The Python API: `Denoiser(model="sp").denoise(array)` or `.denoise_file("in.png", "out.png")`.

A Denoiser loads its model once and denoises any number of arrays or files; the CLI is a thin
layer over it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

from denoise_cli import registry
from denoise_cli.description import METADATA_KEY, ModelDescription
from denoise_cli.atomic import check_folder_writable, check_replaceable
from denoise_cli.brightness import keep_local_brightness, over_feeding_share
from denoise_cli.errors import DenoiseError, OutputExistsError
from denoise_cli.estimate import WHITE_NOISE_READING, estimate_noise_levels, uniformity
from denoise_cli.extremes import impulse_guard
from denoise_cli.holes import fill_holes
from denoise_cli.imageio import (DEFAULT_MAX_PIXELS, DEFAULT_QUALITY, at_depth, check_depth_held, check_writable_as, colour_coding_lost, fit_metadata, from_pillow, metadata_lost, output_format,
                                  read_image, suffix_of_content, to_pillow, unwritten_format, write_image)
from denoise_cli.jobs import DEFAULT_SUFFIX, default_output, with_format  # noqa: F401 - DEFAULT_SUFFIX: part of the API
from denoise_cli.model import LoadedModel, load_model
from denoise_cli.pixels import ImageData, PixelScale
from denoise_cli.session import read_metadata
from denoise_cli.tiling import TilePlan, denoise_plane, plan_tiles

Progress = Callable[[int, int], None]  # (tiles done so far, tiles in the image)
CPU_BATCH_PIXELS = 1 << 18  # pixels per inference call: large enough to amortise call overhead
CUDA_BATCH_PIXELS = 1 << 22


@dataclass(frozen=True)
class NoiseSetting:
    """What a noise-level model was fed for one image: per-channel levels (0-255 scale, a model's
    first reading), the strength applied, and the camera when its photo chose the strength, or
    `texture` when the readings looked like dense texture and the texture guard lowered it."""

    sigmas: list[float]
    strength: float
    camera: str | None = None
    texture: bool = False


@dataclass(frozen=True)
class FileResult:
    source: Path
    target: Path
    width: int
    height: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    setting: NoiseSetting | None = None  # what a noise-level model was fed (on the first page)
    pages: int = 1  # a multi-page TIFF's, all denoised; width and height are the first page's

    @property
    def sigmas(self) -> list[float] | None:
        """The noise level used per channel (0-255 scale; a model's first reading), if any."""
        return self.setting.sigmas if self.setting else None


@dataclass(frozen=True)
class LoadedFile:
    """A source read and its target checked, waiting for the model."""

    source: Path
    target: Path
    fmt: str
    image: ImageData
    overwrite: bool
    seconds: float  # spent reading it: in a batch the next file is read while the model works, so no start time is its own
    quality: int = DEFAULT_QUALITY

    @property
    def pixels(self) -> int:
        return sum(page.width * page.height for page in (self.image, *self.image.pages))


def texture_strength(full: float, half: float, guard: list[float] | tuple[float, ...], uniform: float | Callable[[], float] | None = None) -> float:
    """The automatic strength a texture guard [start, cap, low, high, least(, even(, ramp))] gives
    one plane's full and half readings (0-1 scale, before any floor) and its uniformity
    (estimate.py): cap / full, at least `least` and at most 1, where half / full lies between low
    and high, full is above start and the uniformity is below `even` (no `even`: whatever it is);
    else 1. With a ramp, full readings from start - ramp up to start are guarded in part, from
    none to the guard's strength at start.

    White noise reads half as much binned 2x2 (half / full 0.5), camera noise, correlated by
    demosaicing, about twice as much; dense texture reads much the same at both scales, and under
    faint noise such readings are the texture's, not the noise's: fed them in full, `photo`
    smoothed the texture of BSD68's densest pictures away (up to 5 dB lost under noise of std 2).
    Capping the level fed keeps it, at the price of leaving part of the noise on noisy pictures
    that read this way. Mildly correlated noise, or white noise over a picture's faint texture,
    reads that way too, and a smooth picture under it lost most of its denoising to the cap; but
    noise reads as much in the picture's flat areas as anywhere, texture does not: a uniform
    reading is left alone (the photo recipe has the figures; `denoise-train sweep` measures them).
    The ramp is there because the readings come in steps (a quarter of a grey level apart on
    Train400): with a hard start, one step below it a dense texture got strength 1 and one step
    above it less than half, and the textures just under the start were the ones that lost.
    `uniform` may be a function that reads it: called only for readings inside the band."""
    start, cap, low, high, least = guard[:5]
    ramp = guard[6] if len(guard) > 6 else 0.0
    if not (full > start - ramp and low * full <= half <= high * full):
        return 1.0
    if len(guard) > 5:
        if uniform is None:
            raise ValueError("this texture guard needs the picture's uniformity")
        if (uniform() if callable(uniform) else uniform) >= guard[5]:
            return 1.0
    guarded = max(least, min(1.0, cap / max(full, start)))
    if full >= start:
        return guarded
    return 1.0 - (1.0 - guarded) * (full - (start - ramp)) / ramp


MAX_STRENGTH = 4.0  # beyond this, any model smooths an image flat


def flip_ensemble(infer: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """`infer` averaged over each batch of tiles as it is, flipped left-right, upside down, and
    both, each output flipped back. A network's errors differ between the four, so they partly
    cancel (photo on BSD68: clean pictures come back at 50.81 dB instead of 49.28, camera noise
    0.05-0.11 dB better; README, Models). Flips keep a tile's shape and its margins, so tiling
    is unchanged."""

    def averaged(batch: np.ndarray) -> np.ndarray:
        total = None
        for axes in ((), (3,), (2,), (2, 3)):
            out = np.flip(infer(np.ascontiguousarray(np.flip(batch, axes))), axes) if axes else infer(batch)
            total = out.astype(np.float32) if total is None else total + out
        return total / np.float32(4)

    return averaged


# Float arrays with values within this span are on the [0, 1] scale: the picture plus unclipped
# noise (up to sigma 127 in 255 within four standard deviations: the benchmark's sigma 50 never
# leaves it). Beyond it they are on a scale of their own (0-255 floats, physical units).
FLOAT_SCALE_SPAN = (-2.0, 3.0)


def _float_scale(array: np.ndarray) -> PixelScale:
    """[0, 1] for a float array within FLOAT_SCALE_SPAN, else its own finite range."""
    known = np.isfinite(array)
    finite = array if known.all() else array[known]
    if finite.size == 0:
        return PixelScale(0.0, 1.0, array.dtype)
    low, high = float(finite.min()), float(finite.max())
    if FLOAT_SCALE_SPAN[0] <= low and high <= FLOAT_SCALE_SPAN[1]:
        return PixelScale(0.0, 1.0, array.dtype)
    return PixelScale(low, high if high > low else low + 1.0, array.dtype)


@functools.lru_cache(maxsize=None)
def shipped_model_for(noise_kind: str) -> str | None:
    """The shortest name (alias or name) of a shipped model trained on `noise_kind`, read from
    the models' own descriptions, so that a warning can name it; None if none is."""
    for entry in registry.shipped_models():
        metadata = read_metadata(entry.path.read_bytes()) or {}
        with contextlib.suppress(DenoiseError):
            if METADATA_KEY in metadata and ModelDescription.from_metadata(metadata, entry.name).noise.get("kind") == noise_kind:
                return min((entry.name, *entry.aliases), key=len)
    return None


def _same_pixels(a: np.ndarray, b: np.ndarray, rows: int = 1024) -> bool:
    """Whether two (C, H, W) stacks of planes are equal, compared a band of rows at a time (no
    plane-sized temporary for a large scan)."""
    return all(np.array_equal(a[:, top:top + rows], b[:, top:top + rows], equal_nan=np.issubdtype(a.dtype, np.floating))
               for top in range(0, a.shape[1], rows))


class Denoiser:
    """A model loaded on a device, ready to denoise arrays and files.

    model: a shipped model's name or alias ("default", "sp", "mnist-conv-bn", ...) or a path to a
    .onnx file exported by denoise-train. device: "auto" (CUDA if it works, else CPU), "cpu" or
    "cuda". sigma: the noise level on the 0-255 scale, for models with a noise-level input
    (higher removes more); None estimates it from each image. strength: a factor on that level
    (estimated or given), the knob for an over- or under-smoothed result: 0.5 is gentler, 2
    stronger; None is 1, or with the level estimated on a camera's own unresized photo (its noise
    reads low on content that smooth), up to the model's `camera_strength` as the reading rises.
    ensemble: average the model over the image and its three flips (`flip_ensemble`): four times
    the work for a slightly cleaner result. tile / overlap / batch_size: expert overrides of the
    tiling (see tiling.py).

    Threads may share one Denoiser: a call keeps nothing on it. Made with threads=1, each
    concurrent call has a core of its own; with every core, concurrent calls contend for them.
    """

    def __init__(
        self,
        model: str | os.PathLike = registry.DEFAULT,
        device: str = "auto",
        *,
        threads: int | None = None,
        tile: int | None = None,
        overlap: int | None = None,
        batch_size: int | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        sigma: float | None = None,
        strength: float | None = None,
        ensemble: bool = False,
    ):
        for option, value in (("--batch-size", batch_size), ("--threads", threads), ("--max-pixels", max_pixels)):
            if value is not None and value < 1:  # as the command line refuses them
                raise DenoiseError(f"{option} must be at least 1 (got {value}).")
        if sigma is not None and not 0 <= sigma <= 255:
            raise DenoiseError(f"--sigma must be between 0 and 255 (got {sigma:g}).")
        if strength is not None and not 0 <= strength <= MAX_STRENGTH:
            raise DenoiseError(f"--strength must be between 0 and {MAX_STRENGTH:g} (got {strength:g}).")
        self.model: LoadedModel = load_model(model, device=device, threads=threads)
        for option, given in (("--sigma", sigma is not None), ("--strength", strength is not None)):
            if given and not self.description.noise_level_input:
                raise DenoiseError(f"model {self.description.name} has no noise-level input, so {option} does not apply to it.")
        self.sigma, self.strength, self.ensemble = sigma, strength, ensemble
        self.tile, self.overlap, self.batch_size, self.max_pixels = tile, overlap, batch_size, max_pixels
        self.plan(64, 64)  # reject bad tile/overlap overrides now, not on the first image

    @property
    def description(self) -> ModelDescription:
        return self.model.description

    @property
    def device(self) -> str:
        return self.model.device

    def plan(self, height: int, width: int) -> TilePlan:
        return plan_tiles(height, width, self.description, tile=self.tile, overlap=self.overlap)

    def _batch_size(self, plan: TilePlan) -> int:
        if self.batch_size:
            return self.batch_size
        pixels = CUDA_BATCH_PIXELS if self.device == "cuda" else CPU_BATCH_PIXELS
        return max(1, pixels // (plan.tile_h * plan.tile_w))

    def levels_for(self, image: ImageData) -> tuple[list[list[float]] | None, NoiseSetting | None, list[list[float]] | None]:
        """What a noise-level model is fed for each plane (0-1 scale, one level per reading it
        was trained on), the setting to report, and the level each plane holds by the user's
        sigma or the estimator (brightness.py's reference). Fed: the user's sigma as white noise
        of that std reads, else the estimates raised to at least the model's level floor; times
        the strength. The strength is the user's; else, with the levels estimated, on a camera's
        own unresized photo the camera strength its readings call for (camera_strength_at: it
        makes up for the estimator reading a camera's noise low, so the level held is that
        much higher), on any other picture the texture guard's (texture_strength_at); else 1."""
        description = self.description
        if not description.noise_level_input:
            return None, None, None
        camera, texture = None, False
        held_by_camera = 1.0
        if self.sigma is not None:
            read = [[self.sigma / 255 / WHITE_NOISE_READING[r] for r in description.level_readings]] * len(image.planes)
        else:
            raw = [estimate_noise_levels(plane, image.scale, description.level_readings) for plane in image.planes]
            read = [self.floored(plane) for plane in raw]
            if image.camera and description.camera_strength:
                held_by_camera = self.camera_strength_at(read)
        if self.strength is not None:
            strength = self.strength
        elif self.sigma is None and image.camera and description.camera_strength:
            strength, camera = held_by_camera, image.camera
        elif self.sigma is None and description.texture_guard:
            strength = self.texture_strength_at(raw, image)
            texture = strength < 1
        else:
            strength = 1.0
        levels = [[level * strength for level in plane] for plane in read]
        held = [[level * held_by_camera for level in plane] for plane in read]
        return levels, NoiseSetting([round(plane[0] * 255, 2) for plane in levels], strength, camera, texture), held

    def floored(self, readings: list[float]) -> list[float]:
        """The estimator's readings of one plane, each raised to at least the model's level
        floor (description.py says why)."""
        floor = self.description.level_floor or [0.0] * len(readings)
        return [max(reading, least) for reading, least in zip(readings, floor)]

    def texture_strength_at(self, raw: list[list[float]], image: ImageData) -> float:
        """The strength on a picture whose planes read `raw` (before any floor), for a model with
        a texture guard (texture_strength): the most textured plane decides."""
        readings = self.description.level_readings
        guard = self.description.texture_guard
        return round(min(texture_strength(read[readings.index("full")], read[readings.index("half")], guard, lambda plane=plane: uniformity(plane, image.scale))
                         for read, plane in zip(raw, image.planes)), 2)

    def camera_strength_at(self, read: list[list[float]]) -> float:
        """The strength on a camera's own unresized photo whose planes read `read`: 1 while the
        strongest reading is below the start of the model's camera ramp, its full camera strength
        from the ramp's end, linear between (no ramp: in full). The camera strength makes up for
        noise the estimator reads low at a camera's pixel scale; under faint noise, dense texture
        reads up to the ramp's start, and that texture did not survive twice its reading."""
        full = self.description.camera_strength
        if not self.description.camera_ramp:
            return full
        start, end = self.description.camera_ramp
        share = min(1.0, max(0.0, (max(max(plane) for plane in read) - start) / (end - start)))
        return round(1.0 + (full - 1.0) * share, 2)

    def denoise_image(self, image: ImageData, progress: Progress | None = None) -> tuple[ImageData, NoiseSetting | None]:
        """Every plane of an ImageData (alpha untouched), and of its further pages (a multi-page
        TIFF's, each read on its own): the new ImageData, and what the model was fed on the first
        page when it takes a noise level."""
        total = sum(self.plan(page.height, page.width).count * len(page.planes) for page in (image, *image.pages))
        done = 0

        def on_tiles(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        first, setting = self._denoise_page(image, on_tiles)
        return replace(first, pages=[self._denoise_page(page, on_tiles)[0] for page in image.pages]), setting

    def _denoise_page(self, image: ImageData, on_tiles: Callable[[int], None]) -> tuple[ImageData, NoiseSetting | None]:
        plan = self.plan(image.height, image.width)
        filled = [fill_holes(plane) for plane in image.planes]
        holes = [mask for _, mask in filled]
        fed = image if not any(mask is not None for mask in holes) else image.with_planes(np.stack([plane for plane, _ in filled]))
        out = np.empty(image.planes.shape, dtype=image.scale.dtype)
        levels, setting, held = self.levels_for(fed)
        for index, (plane, out_plane) in enumerate(zip(fed.planes, out)):
            level = None if levels is None else levels[index]
            twin = self._same_plane(image, levels, index)
            if twin is not None:  # a gray picture stored as RGB: the same result, at a third of the work
                out_plane[...] = out[twin]
                on_tiles(plan.count)
                continue
            infer = self.model.infer if level is None else (lambda batch, level=level: self.model.infer(batch, level))
            if self.ensemble:
                infer = flip_ensemble(infer)
            if self.description.solid_extremes:  # exact black and white: picture or impulses? (extremes.py)
                infer = impulse_guard(infer, plane, image.scale.low, image.scale.high, self.description.solid_extremes)
            denoise_plane(plane, image.scale, infer, plan, self._batch_size(plan), on_tiles, out=out_plane)
            if level is not None and held is not None:  # fed more noise than it holds: its areas' brightness kept
                keep_local_brightness(plane, out_plane, image.scale, over_feeding_share(level[0], held[index][0]))
            if holes[index] is not None:
                out_plane[holes[index]] = image.planes[index][holes[index]]
        return image.with_planes(out), setting

    @staticmethod
    def _same_plane(image: ImageData, levels: list[list[float]] | None, index: int) -> int | None:
        """An earlier plane identical to plane `index`, holes and level included, whose output
        is therefore the same; None when there is none."""
        for earlier in range(index):
            if (levels is None or levels[earlier] == levels[index]) and np.array_equal(image.planes[earlier], image.planes[index], equal_nan=True):
                return earlier
        return None

    @overload
    def denoise(self, array: np.ndarray, progress: Progress | None = None, *, camera: str | None = None) -> np.ndarray: ...
    @overload
    def denoise(self, array: Image.Image, progress: Progress | None = None, *, camera: str | None = None) -> Image.Image: ...

    def denoise(self, array: np.ndarray | Image.Image, progress: Progress | None = None, *, camera: str | None = None) -> np.ndarray | Image.Image:
        """Denoise a numpy image: (H, W) or (H, W, C), each channel on its own.

        uint8 and uint16 arrays use their full range, other integer types their own; float arrays
        are taken to be in [0, 1] (values a little outside, as unclipped noise leaves them, are
        clipped in the output; NaN and infinite pixels are kept as they are, see holes.py), unless
        their values lie beyond FLOAT_SCALE_SPAN, as 0-255 floats do: those are scaled by their own
        range and restored, as a float file's are, where clipping to [0, 1] would return a white
        picture. Returns the same shape and dtype. camera: the camera whose own unresized photo this
        is (`imageio.camera_of(path)`), which an array cannot tell: with the strength automatic, the
        model's camera strength applies.

        A Pillow image gives a Pillow image, in the mode a file of it is written in (alpha kept
        as it is, palette and bilevel images as RGB or L, `denoise_file` has the list), with its
        ICC profile, DPI and EXIF; its EXIF tells the camera, as a file's does.
        """
        if isinstance(array, Image.Image):
            return self._denoise_pillow(array, progress, camera)
        if isinstance(array, (str, bytes, os.PathLike)):
            raise DenoiseError("denoise() takes an image array or a Pillow image; for a file use denoise_file(path), "
                               "for a file's bytes denoise_bytes(data).")
        array = np.asarray(array)
        if array.ndim not in (2, 3) or array.size == 0:
            raise DenoiseError(f"expected an (H, W) or (H, W, C) image array, got shape {array.shape}.")
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] > 4:
            # channels first, as PyTorch holds images: read as (H, W, C) it would be 3 rows of many
            # channels, denoised into nonsense of the same shape
            raise DenoiseError(f"got shape {array.shape}, which looks like channels first (C, H, W); "
                               "pass (H, W, C), e.g. array.transpose(1, 2, 0).")
        if array.dtype.kind == "u" and array.dtype.itemsize <= 2:  # either byte order: FITS gives big-endian
            scale = PixelScale(0.0, float(np.iinfo(array.dtype).max), array.dtype)
        elif np.issubdtype(array.dtype, np.floating):
            scale = _float_scale(array)
        elif np.issubdtype(array.dtype, np.integer):  # int16 (medical, astronomy), int64 (a list of lists): no usual range
            low, high = float(array.min()), float(array.max())
            scale = PixelScale(low, high if high > low else low + 1.0, array.dtype)
        else:
            raise DenoiseError(f"unsupported array dtype {array.dtype}; use uint8, uint16, another integer type or float.")
        planes = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        image = ImageData(planes=planes, mode="array", scale=scale, camera=camera)
        out = self.denoise_image(image, progress)[0].planes
        return out[0] if array.ndim == 2 else np.moveaxis(out, 0, -1)

    def _denoise_pillow(self, picture: Image.Image, progress: Progress | None, camera: str | None) -> Image.Image:
        image = from_pillow(picture)
        if camera is not None:
            image.camera = camera
        denoised = to_pillow(self.denoise_image(image, progress)[0])
        for key, value in (("icc_profile", image.icc_profile), ("dpi", image.dpi), ("exif", image.exif), ("xmp", image.descriptive.xmp),
                           ("nclx_profile", image.descriptive.colour_box or None)):  # pillow-heif saves a HEIC's colour coding from there
            if value is not None:
                denoised.info[key] = value
        return denoised

    def load_file(self, source: str | os.PathLike, target: str | os.PathLike | None = None, *, overwrite: bool = False, format: str | None = None,
                  quality: int = DEFAULT_QUALITY, depth: int | None = None) -> LoadedFile:
        """Check the target, then read the source: everything of `denoise_file` before the model."""
        if not 1 <= quality <= 100:
            raise DenoiseError(f"quality {quality} is outside 1-100.")
        if depth not in (None, 8, 16):
            raise DenoiseError(f"depth {depth}: 8 or 16 bits per channel.")
        started = time.perf_counter()
        source = Path(source)
        target = Path(target) if target is not None else default_output(source)
        try:
            target = with_format(target, format)  # as `denoise -f`: the name follows the format
            fmt = output_format(target, format)
        except DenoiseError:
            if format is None:  # notes.txt -> notes_denoised.txt: say first that notes.txt is no image
                read_image(source, self.max_pixels)
            raise
        check_depth_held(target, fmt, depth)
        if not overwrite and target.exists():
            raise OutputExistsError(f"{target}: exists already; pass overwrite=True to replace it.")
        check_replaceable(target)  # before the work, not after it (a link to a pipe counts as the pipe)
        if not target.parent.is_dir():
            raise DenoiseError(f"{target}: the output folder {target.parent} does not exist.")
        check_folder_writable(target, overwrite)  # a read-only card or share: refused before the work
        image = read_image(source, self.max_pixels, fmt)
        if depth is not None:
            image = at_depth(image, depth, str(source))
        if image.pages and fmt != "TIFF":  # dropped before the work, not after
            image.warnings.append(f"{source}: has {len(image.pages) + 1} pages, and {fmt} holds one: only the first is denoised "
                                  "and written (a .tif output keeps them all).")
            image.pages = []
        check_writable_as(image, fmt, target)
        for lost in (metadata_lost(image, fmt), colour_coding_lost(image, fmt)):
            if lost:
                image.warnings.append(f"{target}: {lost}")
        image.warnings += [f"{target}: {cut}" for cut in fit_metadata(image, fmt)]
        return LoadedFile(source, target, fmt, image, overwrite, time.perf_counter() - started, quality)

    def save_file(self, loaded: LoadedFile, denoised: ImageData, setting: NoiseSetting | None, model_seconds: float = 0.0) -> FileResult:
        """Write a denoised image where `load_file` said; everything of `denoise_file` after the
        model. The result's seconds are those spent on this file: reading, `model_seconds` and
        writing, not those it waited behind another file of a batch."""
        started = time.perf_counter()
        write_image(denoised, loaded.target, fmt=loaded.fmt, overwrite=loaded.overwrite, quality=loaded.quality)
        image = loaded.image
        if self.description.solid_extremes and image.source_format == "JPEG":
            model = shipped_model_for("compressed-salt-and-pepper")
            image.warnings.append(f"{loaded.source}: a JPEG, whose compression smears impulses into gray blobs that {self.description.name} "
                                  "leaves (it re-predicts only exact black and white); " + (f"-m {model}, trained on salt-and-pepper noise "
                                  "saved as JPEG, removes them." if model else "a model trained on salt-and-pepper noise saved as JPEG "
                                  "(denoise models) removes them."))
        if self.description.solid_extremes and all(_same_pixels(page.planes, out.planes) for page, out in zip((image, *image.pages), (denoised, *denoised.pages))):
            image.warnings.append(f"{loaded.source}: {self.description.name} changed no pixel: it re-predicts only pixels at exactly black or "
                                  "white that may be impulses, and found none; the default model removes other noise.")
        seconds = loaded.seconds + model_seconds + time.perf_counter() - started
        return FileResult(loaded.source, loaded.target, image.width, image.height, seconds, image.warnings, setting,
                          pages=1 + len(image.pages))

    def denoise_file(
        self,
        source: str | os.PathLike,
        target: str | os.PathLike | None = None,
        *,
        overwrite: bool = False,
        format: str | None = None,
        quality: int = DEFAULT_QUALITY,
        depth: int | None = None,
        progress: Progress | None = None,
    ) -> FileResult:
        """Read `source`, denoise it, write `target` atomically (default: <name>_denoised.<ext>;
        an existing folder: the source's name in it, as `denoise FILE -o FOLDER/` does; under the
        extension of `format` when the target's names another, as `denoise -f` does).

        Never replaces an existing file, nor the input, unless `overwrite` is given. quality:
        JPEG, WebP, AVIF, HEIC and JPEG XL output (1-100); a JPEG from a JPEG keeps its chroma subsampling.
        depth: 8 or 16 bits per channel for the output, as `denoise --depth` (default: the source's).
        """
        if target is not None and Path(target).is_dir():  # a folder to write into, as -o FOLDER/ for one file
            target = Path(target) / Path(source).name
        loaded = self.load_file(source, target, overwrite=overwrite, format=format, quality=quality, depth=depth)
        started = time.perf_counter()
        denoised, setting = self.denoise_image(loaded.image, progress)
        return self.save_file(loaded, denoised, setting, time.perf_counter() - started)

    def denoise_bytes(self, data: bytes, *, format: str | None = None, quality: int = DEFAULT_QUALITY, depth: int | None = None,
                      progress: Progress | None = None) -> bytes:
        """An image file's bytes in, the denoised image's file bytes out: for a service that
        receives and sends files. The output is in the input's format unless `format` names
        another, and keeps what `denoise_file` keeps (depth, metadata, a JPEG's subsampling);
        both pass through a private temporary folder. Messages call them <bytes> and <output>."""
        if not isinstance(data, (bytes, bytearray, memoryview)):  # a path, say, where the file's bytes go
            raise DenoiseError(f"denoise_bytes() takes a file's bytes, not {type(data).__name__}; for a file use denoise_file(path).")
        if not data:
            raise DenoiseError("<bytes>: empty: no image in them.")
        with tempfile.TemporaryDirectory(prefix="denoise-") as folder:
            source = target = Path(folder) / "input"
            try:
                source.write_bytes(data)
                source = source.rename(source.with_suffix(suffix_of_content(source, "<bytes>")))
                if format is None and (why := unwritten_format(source.suffix)):
                    raise DenoiseError(f"<bytes>: {why}: pass format= (png, jpeg, tiff, ...).")
                target = with_format(Path(folder) / f"output{source.suffix}", format)
                self.denoise_file(source, target, format=format, quality=quality, depth=depth, progress=progress)
                return target.read_bytes()
            except DenoiseError as exc:
                raise DenoiseError(str(exc).replace(str(source), "<bytes>").replace(str(target), "<output>")) from None
            except OSError as exc:  # the temporary folder's disk is full
                raise DenoiseError(f"<bytes>: cannot keep them in the temporary folder {Path(folder).parent} ({exc.strerror or exc}).") from None
