"""A camera's 10-bit HEIF (the .HIF of Canon, Fujifilm and Sony, an HDR HEIC) at its depth. Pillow,
through pillow-heif, reads it at 8 bits per channel; pillow-heif itself gives its values on the
16-bit scale and writes such values back at 10 bits. A picture read so is denoised on the 16-bit
scale and written as a 10-bit HEIC, or at 16 bits where its format holds that; for an 8-bit
format (JPEG, WebP, ...) it is read at 8 bits, as before, since the output holds no more. Pillow
reads a gray one at 16 bits itself: it only needs its 10 bits named, or bringing to 8.

An HDR AVIF (10 or 12 bits, as Lightroom and phones export it) likewise, decoded again by libavif
through imagecodecs (the `tiff16` extra), which gives its values on their own scale (0-1023 for 10
bits). Pillow writes AVIF at 8 bits alone, so an AVIF output stays at 8."""

from __future__ import annotations

from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from denoise_cli.atomic import write_atomically
from denoise_cli.errors import DenoiseError
from denoise_cli.highdepth import colour_planes, interleaved, on_sixteen_bits, planes_of
from denoise_cli.metadata import save_options
from denoise_cli.pixels import SIXTEEN_BIT, ImageData

HEIF_BITS = 10  # what pillow-heif writes 16-bit values with (its 12-bit option is global, so not used)
TEN_BIT_MODES = {"I;16", "RGB;16", "RGBA;16"}  # Pillow reads a gray one at its depth itself


def holds_ten_bits(fmt: str) -> bool:
    """Whether an output format keeps a 10-bit HEIF's depth with the codecs installed: HEIC
    itself, and 16-bit colour (PNG and JPEG 2000 by imagecodecs, TIFF by tifffile, PPM)."""
    codec = {"PNG": "imagecodecs", "JPEG2000": "imagecodecs", "TIFF": "tifffile"}.get(fmt)
    return fmt in ("HEIF", "PPM") or (codec is not None and find_spec(codec) is not None)


def at_full_depth(path: Path, eight_bit: ImageData, bits: int) -> ImageData:
    """`eight_bit`, a HEIF as Pillow read it (its metadata, orientation and camera worked out
    as for any picture), with its pixels decoded again at the file's own depth."""
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
        pixels = np.array(heif)  # a copy: pillow-heif 0.16 frees the decoded buffer with the file object
    except (ValueError, RuntimeError, OSError) as exc:
        raise DenoiseError(f"{path}: cannot decode the HEIC at its depth ({exc}).") from None
    if pixels.dtype != np.uint16 or pixels.ndim != 3 or pixels.shape[:2] != eight_bit.planes.shape[1:]:
        return eight_bit  # a layout the 8-bit reading does not match: that reading stands
    mode, planes, alpha = colour_planes(pixels)
    return replace(eight_bit, planes=planes, mode=mode, scale=SIXTEEN_BIT, alpha=alpha, bits=bits)


def decodes_deep_avif() -> bool:
    """Whether imagecodecs is installed with libavif, which decodes an AVIF at its depth."""
    if find_spec("imagecodecs") is None:
        return False
    import imagecodecs

    return bool(imagecodecs.AVIF.available)


def avif_at_full_depth(path: Path, eight_bit: ImageData, bits: int) -> ImageData | None:
    """`eight_bit`, an AVIF as Pillow read it, with its pixels decoded again at the file's own
    depth, on the 16-bit scale (decodes_deep_avif); None where libavif fails there or its
    reading is not Pillow's picture (turned upright as Pillow turned it)."""
    import imagecodecs

    try:
        pixels = imagecodecs.avif_decode(path.read_bytes())
    except (imagecodecs.AvifError, ValueError, RuntimeError, OSError):  # the 8-bit reading stands
        return None
    if pixels.dtype != np.uint16:
        return None
    mode, planes, alpha, _ = planes_of(on_sixteen_bits(pixels, bits))
    way = _way_turned(planes, eight_bit.planes)
    if way is None or (alpha is not None) != (eight_bit.alpha is not None):
        return None
    planes = np.ascontiguousarray(_turned(planes, way))
    alpha = None if alpha is None else np.ascontiguousarray(_turned(alpha[None], way)[0])
    return replace(eight_bit, planes=planes, mode=mode, scale=SIXTEEN_BIT, alpha=alpha, bits=bits)


WAYS = [(turns, flip) for turns in range(4) for flip in (False, True)]  # the eight ways a picture can be turned


def _turned(planes: np.ndarray, way: tuple[int, bool]) -> np.ndarray:
    """(C, H, W) planes turned one of the eight ways: a view."""
    turns, flip = way
    return np.rot90(planes[:, :, ::-1] if flip else planes, turns, axes=(1, 2))


def _way_turned(deep: np.ndarray, eight_bit: np.ndarray) -> tuple[int, bool] | None:
    """How `deep` (C, H, W) on the 16-bit scale must be turned to be `eight_bit` as Pillow turned
    it (an AVIF's irot and imir boxes, its EXIF orientation): of the eight ways, the closest
    (on every third pixel), or None if even that is another picture. libavif converts YUV to RGB
    at each depth on its own: on a phone's photo the two readings part by 0.6-0.7 levels in 255
    on average (up to 3.4), and by over 40 turned a wrong way."""
    eight = eight_bit[:, ::3, ::3].astype(np.float32)
    distances = []
    for way in WAYS:
        view = _turned(deep, way)
        same = view.shape == eight_bit.shape
        distances.append(float(np.abs(view[:, ::3, ::3].astype(np.float32) / 257 - eight).mean()) if same else np.inf)
    best = int(np.argmin(distances))
    return WAYS[best] if distances[best] < 2.0 else None


def write_ten_bit_heif(image: ImageData, path: Path, overwrite: bool, quality: int) -> None:
    """pillow-heif writes 16-bit values at 10 bits by dropping the lower six: rounded here
    first, so each value goes to the nearest 10-bit one."""
    import pillow_heif

    pixels = interleaved(image)
    shift = 16 - HEIF_BITS
    nearest = np.minimum((pixels.astype(np.uint32) + (1 << (shift - 1))) >> shift, (1 << HEIF_BITS) - 1) << shift
    mode = "L;16" if image.mode == "I;16" else image.mode  # pillow-heif's name for 16-bit gray
    heif = pillow_heif.from_bytes(mode, (image.width, image.height), np.ascontiguousarray(nearest.astype(np.uint16)).tobytes())
    options: dict = {"quality": quality}
    if image.exif:
        options["exif"] = image.exif
    if image.icc_profile:
        options["icc_profile"] = image.icc_profile
    save_options(image.descriptive, "HEIF", options)
    write_atomically(path, lambda f: heif.save(f, **options), overwrite)
