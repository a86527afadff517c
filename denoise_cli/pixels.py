"""An image in memory: its planes in their stored type, the scale that maps them to the [0, 1]
the models work in, and what its file carries besides pixels. imageio.py reads files into it
and writes it back; the API builds one from an array."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from denoise_cli.errors import DenoiseError
from denoise_cli.metadata import Descriptive


@dataclass(frozen=True)
class PixelScale:
    """Maps stored values to the [0, 1] scale the models work in, and back."""

    low: float
    high: float
    dtype: np.dtype

    @property
    def _wide(self) -> bool:
        """A span float32 cannot hold: a 64-bit float file's own, or a 32-bit one's from -1e38 to 1e38."""
        return self.dtype == np.float64 or abs(self.high - self.low) > float(np.finfo(np.float32).max)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        if self._wide:
            with np.errstate(all="ignore"):  # infinities are holes, filled before the model (holes.py)
                return ((np.asarray(values, dtype=np.float64) - self.low) / (self.high - self.low)).astype(np.float32)
        unit = values.astype(np.float32)
        if self.low != 0.0:
            unit -= np.float32(self.low)
        if self.high - self.low != 1.0:
            unit *= np.float32(1.0 / (self.high - self.low))
        return unit

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Clip to the range and round to the storage type (a new array)."""
        if self._wide:
            return (np.clip(unit, 0.0, 1.0).astype(np.float64) * (self.high - self.low) + self.low).astype(self.dtype)
        values = np.clip(unit, 0.0, 1.0) * np.float32(self.high - self.low) + np.float32(self.low)
        if np.issubdtype(self.dtype, np.integer):
            return np.round(values).astype(self.dtype)
        return values.astype(self.dtype)


EIGHT_BIT = PixelScale(0.0, 255.0, np.dtype(np.uint8))  # what 8-bit pixels are stored on
SIXTEEN_BIT = PixelScale(0.0, 65535.0, np.dtype(np.uint16))  # what 16-bit pixels are stored on


@dataclass
class ImageData:
    """Pixels to denoise (C, H, W) in their stored dtype, plus what must survive the round trip."""

    planes: np.ndarray
    mode: str
    """Pillow mode to write back (L, I;16, I, F, RGB, RGBA, LA, CMYK; LA;16, RGB;16, RGBA;16, RGB;F and
    RGBA;F, which Pillow has not, for highdepth.py)."""
    scale: PixelScale
    alpha: np.ndarray | None = None
    source_format: str | None = None
    exif: bytes | None = None
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    warnings: list[str] = field(default_factory=list)
    camera: str | None = None
    """The camera named in EXIF when the pixels are its own, unresized (the rule: exif.py)."""
    jpeg_subsampling: int | None = None
    """A JPEG source's chroma subsampling in Pillow's terms (0 4:4:4, 1 4:2:2, 2 4:2:0)."""
    jpeg_progressive: bool = False
    """The source is a progressive JPEG (as on the web): a JPEG output is written so too."""
    tiff_compression: str | None = None
    """A TIFF source's compression in Pillow's terms ("raw", "tiff_lzw", ...)."""
    lossless_coded: bool = False
    """The source is a WebP or JPEG XL coded losslessly: a WebP or JPEG XL output is written
    lossless too (lossy, at --quality, otherwise)."""
    one_bit: bool = False
    """The source stored 1 bit per pixel (a fax, a 1-bit scan), read as 8-bit black and white: an
    output still only black and white is written as 1 bit again where its format can."""
    descriptive: Descriptive = field(default_factory=Descriptive)
    """XMP, IPTC, comments, PNG text: carried into the output where its format holds them."""
    pages: list[ImageData] = field(default_factory=list)
    """A multi-page TIFF's further pages, each with its own planes and mode, written after this one."""
    bits: int | None = None
    """Bits per channel of a source stored with fewer than its values are scaled to (a camera's
    10-bit HEIC, on the 16-bit scale): a HEIC output holds it."""

    @property
    def height(self) -> int:
        return self.planes.shape[1]

    @property
    def width(self) -> int:
        return self.planes.shape[2]

    def with_planes(self, planes: np.ndarray) -> ImageData:
        return replace(self, planes=planes)


def data_scale(planes: np.ndarray, usual: tuple[float, float], dtype) -> PixelScale:
    """The usual range when the data fit in it, else the data's own min-max (e.g. raw floats)."""
    if planes.size == 0:  # nothing but NaN
        return PixelScale(usual[0], usual[1], np.dtype(dtype))
    low, high = float(planes.min()), float(planes.max())
    if usual[0] <= low and high <= usual[1]:
        return PixelScale(usual[0], usual[1], np.dtype(dtype))
    return PixelScale(low, high if high > low else low + 1.0, np.dtype(dtype))


def check_size(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    """Refuse an empty image, or one over the pixel limit, before its pixels are decoded."""
    if width < 1 or height < 1:
        raise DenoiseError(f"{path}: the image is empty ({width}x{height}).")
    if max_pixels is not None and width * height > max_pixels:
        raise DenoiseError(f"{path}: {width}x{height} is {pixel_count(width * height)}, over the limit of "
                           f"{pixel_count(max_pixels)}; pass --max-pixels {width * height} to allow it.")


def pixel_count(count: int) -> str:
    """'25.2 megapixels', or '5,120 pixels' below one megapixel (where '0 megapixels' said nothing)."""
    return f"{count / 1e6:.3g} megapixels" if count >= 1e6 else f"{count:,} pixels"
