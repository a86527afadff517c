"""Reading and writing image files: the one place that knows Pillow's modes and formats.

An image is read into `ImageData`: the planes to denoise in their native dtype (uint8, uint16,
int32 or float, so a 16-bit scan keeps its precision), the alpha plane kept aside untouched,
and what the file carries besides pixels (EXIF, ICC profile, DPI, and the descriptive metadata of
metadata.py: XMP, IPTC, comments, PNG text). Writing goes through atomic.py, so no reader ever
sees half an image.

Mode policy (documented in the README):
- L, I;16, I, F (grayscale 8/16/32-bit int/float): one plane, written back in the same mode.
- RGB, CMYK: one plane per channel. RGBA, LA: alpha kept untouched.
- 1 (bilevel): denoised as 8-bit grayscale; written as 1 bit again where the format can while
  the output is still only black and white (as `sp` leaves a fax), else as L.
- P/PA (palette): expanded to RGB or RGBA (with transparency), or L/LA when the palette is
  all grays, and written so.
- other modes (YCbCr, LAB, HSV, ...): converted to RGB.
- a multi-page TIFF (a scanned document): every page, each denoised on its own (its own noise
  reading) and written back as the pages of a TIFF; into a single-picture format, the first page
  alone, with a warning. Several frames of anything else (an animated GIF): the first, with a
  warning.
- colour with 16 bits per channel (RGB;16, RGBA;16): Pillow reads it as 8 bits per channel, so
  highdepth.py reads and writes a TIFF's with tifffile and a PNG's with imagecodecs (both the
  optional `tiff16` extra), and a PPM's (a scanner's 16-bit scan: `scanimage --depth 16`) with
  numpy; refused otherwise.
- float TIFFs Pillow cannot open (float colour, RGB;F and RGBA;F, from astronomy stacking or HDR
  merges; gray floats of 16 or 64 bits, as F): read and written by tifffile in their own float
  type (highdepth.py).
- 16-bit gray with alpha (LA;16), as GIMP and Krita export it: Pillow reads a PNG of it as 8-bit
  RGBA and cannot open a TIFF of it, so imagecodecs and tifffile read and write it.
- Netpbm (PBM, PGM, PPM: scanners and image-processing tools write them): a 16-bit PGM is read
  as I;16, whatever its maximum value, and every Netpbm output holds 8 or 16 bits at full scale.
- EXIF orientation is applied to the pixels, and the written EXIF says "upright".
- A JPEG written from a JPEG keeps its chroma subsampling (4:4:4, 4:2:2 or 4:2:0): Pillow would
  otherwise write 4:2:0 and halve the colour resolution of a camera's 4:2:2 or 4:4:4 file.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, UnidentifiedImageError, features

from denoise_cli import formats, jpegxl
from denoise_cli.atomic import write_atomically
from denoise_cli.errors import DenoiseError
from denoise_cli.exif import (IMAGE_DESCRIPTION_TAG, LAYOUT_TAGS, ORIENTATION_TAG, SIDEWAYS, TRANSPOSES, X_RESOLUTION_TAG, Y_RESOLUTION_TAG,
                              describes_layout, exif_bytes, fit_in_jpeg, unresized_camera)
from denoise_cli.heifdepth import HEIF_BITS, TEN_BIT_MODES, at_full_depth, avif_at_full_depth, decodes_deep_avif, holds_ten_bits, write_ten_bit_heif
from denoise_cli.highdepth import (is_tiff, jpeg2000_bits, read_16_bit_colour, read_with_tifffile, sixteen_bit_codec, write_16_bit_jpeg2000,
                                    write_16_bit_png, write_16_bit_ppm, write_with_tifffile)
from denoise_cli.metadata import JPEG_MARKER_LIMIT, JPEG_XMP_LIMIT, coded_otherwise, read_descriptive, save_options
from denoise_cli.pixels import EIGHT_BIT, SIXTEEN_BIT, ImageData, check_size, data_scale, pixel_count

# Pillow's own limit guards against decompression bombs by raising on large images; we check
# the declared size ourselves against a limit the user can raise (--max-pixels).
Image.MAX_IMAGE_PIXELS = None
DEFAULT_MAX_PIXELS = 300_000_000
DEFAULT_QUALITY = 95  # JPEG, WebP, AVIF, HEIC and JPEG XL output (`denoise --quality`)
QUALITY_FORMATS = {"JPEG", "WEBP", "AVIF", "HEIF", "JXL"}  # the formats that take a quality

FORMAT_BY_SUFFIX = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP", ".avif": "AVIF", ".heic": "HEIF", ".heif": "HEIF", ".gif": "GIF",
    ".hif": "HEIF",  # Canon's and Fujifilm's in-camera HEIF (10-bit)
    ".jp2": "JPEG2000", ".j2k": "JPEG2000", ".jpf": "JPEG2000", ".jpx": "JPEG2000",  # archives' and libraries' scans
    ".jxl": "JXL",  # JPEG XL, by imagecodecs (jpegxl.py)
    ".pbm": "PPM", ".pgm": "PPM", ".ppm": "PPM", ".pnm": "PPM",  # Pillow calls all of Netpbm "PPM"
}
IMAGE_SUFFIXES = set(FORMAT_BY_SUFFIX)
SUFFIX_BY_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp", "WEBP": ".webp", "AVIF": ".avif", "HEIF": ".heic", "GIF": ".gif",
                    "JPEG2000": ".jp2", "JXL": ".jxl", "PPM": ".pnm"}
# Camera raw files: sensor data for a raw developer, not a picture. Several are TIFFs inside,
# which Pillow may open, reading the small preview they embed.
RAW_SUFFIXES = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf", ".pef", ".srw", ".x3f",
                ".3fr", ".iiq", ".erf", ".mrw", ".raw", ".rwl"}
# Pictures Pillow reads in formats denoise does not write: looked for in folders and globs only
# when --format names an output format for them (a game's TGA textures, a Photoshop file's
# composite, a telescope's FITS), counted and said otherwise.
READ_ONLY_SUFFIXES = {".tga", ".pcx", ".psd", ".dds", ".sgi", ".ras", ".qoi", ".fits", ".fit"}
HEIF_SUFFIXES = {".heic", ".heif", ".hif"}  # an iPhone's or a camera's photos: read and written by the pillow-heif plugin
# The modes each output format stores without losing depth or channels.
FORMAT_MODES = {
    "PNG": {"L", "LA", "RGB", "RGBA", "I;16", "LA;16", "RGB;16", "RGBA;16"},  # 16-bit alpha or colour by imagecodecs; I when it fits 16 bits
    "JPEG": {"L", "RGB", "CMYK"},
    "TIFF": {"L", "LA", "RGB", "RGBA", "I;16", "I", "F", "CMYK", "LA;16", "RGB;16", "RGBA;16", "RGB;F", "RGBA;F"},  # by tifffile: ;16 and ;F
    "BMP": {"L", "RGB"},  # Pillow writes RGBA as 32-bit BI_RGB, whose fourth byte readers ignore: the alpha would be lost
    "WEBP": {"L", "LA", "RGB", "RGBA"},
    "AVIF": {"L", "RGB", "RGBA"},  # Pillow writes LA as RGBA
    "HEIF": {"L", "RGB", "RGBA"},  # so does pillow-heif
    "GIF": {"L"},
    "JPEG2000": {"L", "LA", "RGB", "RGBA", "I;16", "RGB;16", "RGBA;16"},  # lossless (OpenJPEG's reversible wavelet); ;16 by imagecodecs
    # floats as linear light. Not 16-bit integers: imagecodecs tags them linear light too, while
    # 16-bit pixels elsewhere are sRGB's, so they would look different
    "JXL": {"L", "LA", "RGB", "RGBA", "F", "RGB;F", "RGBA;F"},
    "PPM": {"L", "RGB", "I;16", "RGB;16"},  # 16-bit colour by our own writer
}
# The formats that hold a photo's EXIF, ICC profile and XMP (metadata.py writes the XMP), and
# those that hold some of them.
METADATA_FORMATS = {"PNG", "JPEG", "TIFF", "WEBP", "AVIF", "HEIF"}
SOME_METADATA = {"JXL": {"EXIF", "XMP"}}  # imagecodecs writes no ICC profile into a JPEG XL file
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
SIXTEEN_BIT_WITH_CODECS = {"LA;16", "RGB;16", "RGBA;16"}  # Pillow reads them as 8 bits: tifffile, imagecodecs (and our PPM code)
SIXTEEN_BIT_GRAY_FORMATS = {"PNG", "PPM", "JPEG2000"}  # I;16 at most: 32-bit integer gray only within the 16-bit scale
CHANNEL_MODES = {"L": "L", "RGB": "RGB", "CMYK": "CMYK", "LA": "L", "RGBA": "RGB"}
SAMPLES_PER_PIXEL_TAG = 277  # TIFF


# What Pillow and its plugins raise on a damaged or unsupported file (RuntimeError: the AVIF
# decoder's "Failed to decode image"; TypeError: a TIFF's "Missing dimensions" while its pages
# are counted).
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, RuntimeError, TypeError, Image.DecompressionBombError, UnidentifiedImageError)


def _open_error(path: Path, exc: BaseException) -> DenoiseError:
    if isinstance(exc, FileNotFoundError):
        return DenoiseError(f"{path}: no such file.")
    if isinstance(exc, IsADirectoryError):
        return DenoiseError(f"{path}: is a folder, not an image.")
    if isinstance(exc, PermissionError):
        return DenoiseError(f"{path}: permission denied.")
    if isinstance(exc, UnidentifiedImageError):
        return DenoiseError(f"{path}: not an image Pillow can read (empty, corrupt or unknown format).")
    return DenoiseError(f"{path}: cannot read the image ({exc}).")


def _open_image(path: Path) -> Image.Image:
    """Image.open, with the HEIF plugin registered first for a .heic or .heif file."""
    if path.suffix.lower() in HEIF_SUFFIXES:
        use_heif_plugin(f"{path}: HEIC")
    return Image.open(path)


def _starts_as_jpegxl(path: Path) -> bool:
    try:
        with open(path, "rb") as fp:
            return jpegxl.is_jpegxl(fp.read(12))
    except OSError:  # Pillow's opening says what is wrong
        return False


def suffix_of_content(path: Path, name: str) -> str:
    """The suffix for the format a file's bytes show, whatever its name (a pipe's or a buffer's
    spooled bytes); `name` is what messages call it. HEIC needs the optional plugin."""
    if _starts_as_jpegxl(path):
        return ".jxl"
    for attempt in range(2):
        try:
            with Image.open(path) as img:
                return SUFFIX_BY_FORMAT.get(img.format, f".{img.format.lower()}")
        except UnidentifiedImageError:
            if is_tiff(path):  # a float colour TIFF, say, which tifffile reads
                return ".tif"
            with open(path, "rb") as fp:
                is_heif = fp.read(12)[4:8] == b"ftyp"  # ISO media: HEIC when Pillow does not know it
            if attempt or not is_heif:
                break
            use_heif_plugin(f"{name}: HEIC")
        except UNREADABLE as exc:
            raise DenoiseError(f"{name}: cannot read the image ({exc}).") from None
    raise DenoiseError(f"{name}: not an image Pillow can read (empty, corrupt or unknown format).")


def unwritten_format(suffix: str) -> str | None:
    """Why an output cannot simply keep its input's format, given the input's suffix (a spooled
    pipe's or buffer's, named after its content); None when it can."""
    if suffix.lower() in FORMAT_BY_SUFFIX:
        return None
    return f"{suffix[1:].upper()} is read, not written" if suffix else "no extension names a format"


def raw_advice(files: int = 1) -> str:
    """What to do with camera raw files instead."""
    return f"export {'it' if files == 1 else 'them'} from your raw developer as 16-bit TIFF (or JPEG) and denoise that"


def refuse_raw(path: Path) -> None:
    """A camera raw file is refused by name: Pillow opens several (TIFFs inside) and would read
    the small preview they embed, not the sensor's picture."""
    if path.suffix.lower() in RAW_SUFFIXES:
        raise DenoiseError(f"{path}: a camera raw file, which denoise does not develop: {raw_advice()}.")


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS, output_format: str | None = None) -> ImageData:
    """Read an image file; any problem is one DenoiseError naming the file. A 10-bit HEIC or AVIF
    is read at its depth when `output_format` keeps it, else at 8 bits (heifdepth.py)."""
    path = Path(path)
    refuse_raw(path)
    if _starts_as_jpegxl(path):
        return jpegxl.read_jpegxl(path, max_pixels)
    try:
        with _open_image(path) as img:
            width, height = img.size
            check_size(path, width, height, max_pixels)
            warnings = []
            heif_bits = img.info.get("bit_depth", 8) if img.format == "HEIF" else 8
            avif_head = _file_head(path) if img.format == "AVIF" else b""  # its properties, which Pillow does not give
            avif_bits = _avif_bits(avif_head) if avif_head else 8  # Pillow reads an HDR AVIF at 8 bits too
            if img.format == "MPO":  # a phone's JPEG that carries a second picture
                warnings.append(f"{path}: also holds {img.n_frames - 1} secondary picture{'s' if img.n_frames > 2 else ''} (an HDR gain map "
                                "or a depth map, say); the main picture alone is denoised and written.")
            pages = getattr(img, "n_frames", 1)
            if pages > 1 and img.format != "MPO" and (img.format != "TIFF" or _sixteen_bit_colour(img)):
                warnings.append(f"{path}: has {pages} frames; only the first is denoised.")
            if _sixteen_bit_colour(img):
                return read_16_bit_colour(path, img, warnings)  # Pillow would read 8 bits per channel
            if _pillow_cannot_decode(img):
                return read_with_tifffile(path, max_pixels)
            img.load()
            image = _to_image_data(img, warnings, str(path))
            samples = img.tag_v2.get(SAMPLES_PER_PIXEL_TAG, 1) if img.format == "TIFF" else 0
            kept = len(image.planes) + (image.alpha is not None)
            if samples > kept:  # Pillow reads RGB and 2 extra samples (a multispectral scan's) as RGB, say
                image.warnings.append(f"{path}: has {samples} channels, and Pillow reads {kept} of them ({_describe(image)}): the output "
                                      "holds no more.")
            image.lossless_coded = img.format == "WEBP" and _webp_is_lossless(path)
            if avif_head:  # Pillow does not say how an AVIF's values are coded
                image.descriptive = replace(image.descriptive, colour_box=_avif_colour_box(avif_head))
            if img.format == "TIFF" and pages > 1:
                image.pages = _further_pages(img, path, width * height, max_pixels)
            if heif_bits > 8:
                image = _heif_at_depth(path, image, heif_bits, output_format)
            if avif_bits > 8:
                image = _avif_at_depth(path, image, avif_bits, output_format)
    except DenoiseError:
        raise
    except UnidentifiedImageError as exc:
        if not is_tiff(path):
            raise _open_error(path, exc) from None
        image = read_with_tifffile(path, max_pixels)  # float colour, 16-bit gray + alpha, ...: Pillow has no mode for them
    except UNREADABLE as exc:
        raise _open_error(path, exc) from None
    holes = image.planes.size - np.count_nonzero(np.isfinite(image.planes)) if image.planes.dtype.kind == "f" else 0
    if holes:
        image.warnings.append(f"{path}: {holes} {'pixels are' if holes > 1 else 'pixel is'} NaN or infinite and left so; the others are denoised.")
    return image


def _heif_at_depth(path: Path, image: ImageData, bits: int, output_format: str | None) -> ImageData:
    """A HEIF of over 8 bits per channel, as Pillow read it (colour at 8 bits, gray at 16), at its
    depth where the output format keeps that (heifdepth.py), else at 8 bits, saying so."""
    gray = image.mode == "I;16"
    keeps = partial(_keeps_depth, gray=gray, bits=bits)
    if output_format is None and gray:
        return replace(image, bits=bits)
    if output_format is not None and keeps(output_format):
        return replace(image, bits=bits) if gray else at_full_depth(path, image, bits)
    why = _holds_no_more(output_format, keeps, bits) if output_format else ""
    image.warnings.append(f"{path}: a {bits}-bit HEIC, read and denoised at 8 bits per channel{why}.")
    return at_depth(image, 8, str(path)) if gray else image


def _avif_at_depth(path: Path, image: ImageData, bits: int, output_format: str | None) -> ImageData:
    """An AVIF of over 8 bits per channel, as Pillow read it (at 8), at its depth where the output
    format keeps that and imagecodecs decodes it (heifdepth.py), else at 8 bits, saying so."""
    keeps = partial(_keeps_depth, gray=len(image.planes) == 1, bits=bits)
    decodes = decodes_deep_avif()
    if output_format is not None and keeps(output_format) and decodes and (deep := avif_at_full_depth(path, image, bits)) is not None:
        return deep
    if output_format is None:
        why = ""
    elif not decodes:
        why = ": imagecodecs, with libavif, reads it at its depth (pip install \"denoise-cli[tiff16]\")"
    elif output_format == "AVIF":
        why = f": an AVIF is written at 8 bits ({_formats_keeping(keeps)} keep its depth)"
    elif keeps(output_format):
        why = ": libavif, through imagecodecs, did not decode it at its depth as the picture Pillow read"
    else:
        why = _holds_no_more(output_format, keeps, bits)
    image.warnings.append(f"{path}: a {bits}-bit AVIF, read and denoised at 8 bits per channel{why}.")
    return image


def _keeps_depth(fmt: str, gray: bool, bits: int) -> bool:
    """Whether an output format holds the depth of a HEIC's or AVIF's `bits`: 16-bit gray for
    gray, at least 10 bits per channel for colour; a HEIC, 10 bits at most."""
    if fmt == "HEIF":
        return bits <= HEIF_BITS
    return "I;16" in FORMAT_MODES[fmt] if gray else holds_ten_bits(fmt)


def _formats_keeping(keeps: Callable[[str], bool]) -> str:
    return ", ".join(format_name(f) for f in FORMAT_MODES if keeps(f))


def _holds_no_more(fmt: str, keeps: Callable[[str], bool], bits: int) -> str:
    """The end of a deep picture's warning when the output format holds fewer of its bits."""
    if fmt == "HEIF":  # 10 of a 12-bit one's 12: read at 8, as any picture it cannot keep
        return f": a heic file holds {HEIF_BITS} ({_formats_keeping(keeps)} keep its {bits})"
    return f": {_a_file(fmt)} holds no more ({_formats_keeping(keeps)} keep its depth)"


def _pillow_cannot_decode(img: Image.Image) -> bool:
    """A TIFF Pillow opens but whose pixels its libtiff cannot decode (GDAL's WebP: Pillow's
    wheels have no WebP in libtiff, which says so on stderr when tried): tifffile reads it."""
    return img.format == "TIFF" and img.info.get("compression") == "webp"


def _file_head(path: Path) -> bytes:
    """A file's first 64 KB, where an AVIF's properties are."""
    with open(path, "rb") as fp:
        return fp.read(1 << 16)


def _avif_bits(head: bytes) -> int:
    """The bits per channel an AVIF file's "pixi" property gives (after its size, type, version
    and flags, a channel count and a byte per channel), in its head; 8 without one."""
    at = head.find(b"pixi")
    channels = head[at + 8] if 0 <= at < len(head) - 8 else 0
    return max(head[at + 9 : at + 9 + channels], default=8)


def _avif_colour_box(head: bytes) -> dict[str, int]:
    """An AVIF's nclx colour box ("colr", then "nclx", three 16-bit codes and the full-range
    flag's byte), in its head, by pillow-heif's save() keywords; empty without one."""
    at = head.find(b"colrnclx")
    if at < 0 or len(head) < at + 15:
        return {}
    primaries, transfer, matrix = struct.unpack(">3H", head[at + 8 : at + 14])
    return {"color_primaries": primaries, "transfer_characteristics": transfer, "matrix_coefficients": matrix,
            "full_range_flag": head[at + 14] >> 7}


def _further_pages(img: Image.Image, path: Path, pixels: int, max_pixels: int | None) -> list[ImageData]:
    """A multi-page TIFF's pages after the first; --max-pixels counts them all together."""
    pages = []
    for index in range(1, img.n_frames):
        img.seek(index)
        pixels += img.size[0] * img.size[1]
        if max_pixels is not None and pixels > max_pixels:
            raise DenoiseError(f"{path}: its {img.n_frames} pages hold over {pixel_count(max_pixels)}, the limit; "
                               f"pass a larger --max-pixels to allow them.")
        if _sixteen_bit_colour(img):
            raise DenoiseError(f"{path}: page {index + 1} is colour with 16 bits per channel, which is read from a TIFF's first page only.")
        img.load()
        pages.append(_to_image_data(img, [], f"{path} page {index + 1}"))
    return pages


def _webp_is_lossless(path: Path) -> bool:
    """Whether a WebP file's image data is a lossless ("VP8L") chunk: its RIFF chunks, read up to
    the first image chunk (Pillow does not say)."""
    with open(path, "rb") as fp:
        fp.seek(12)  # past "RIFF", the size and "WEBP"
        while len(header := fp.read(8)) == 8:
            kind, size = header[:4], int.from_bytes(header[4:], "little")
            if kind in (b"VP8 ", b"VP8L"):
                return kind == b"VP8L"
            if kind == b"ANMF":  # an animation frame holds the image chunks, after 16 bytes of its own
                fp.seek(16, 1)
                continue
            fp.seek(size + (size & 1), 1)
    return False


LOSSLESS_TIFF = {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits"}
ONE_BIT_TIFF = {"group3", "group4", "tiff_ccitt"}  # fax codings: lossless, for 1-bit pixels only
ONE_BIT_FORMATS = {"PNG", "TIFF", "BMP", "PPM"}  # what stores 1-bit pixels as such


def tiff_compression(image: ImageData, one_bit: bool = False) -> str:
    """A TIFF output keeps its TIFF source's lossless compression (uncompressed stays so, for
    the workflows that need it; a fax's coding when the output is 1 bit again); anything else is
    deflated, losslessly: Pillow alone writes TIFF uncompressed, and an LZW scan came back twice
    its size."""
    keep = LOSSLESS_TIFF | ONE_BIT_TIFF if one_bit else LOSSLESS_TIFF
    return image.tiff_compression if image.tiff_compression in keep else "tiff_adobe_deflate"


def _still_one_bit(image: ImageData) -> bool:
    """A 1-bit source whose output is still only black and white (salt-and-pepper removal)."""
    if not image.one_bit or image.mode != "L" or image.alpha is not None:
        return False
    plane = image.planes[0]
    return np.count_nonzero((plane == 0) | (plane == 255)) == plane.size


def _sixteen_bit_colour(img: Image.Image) -> bool:
    """Colour with more than 8 bits per channel, which Pillow would read as 8 (tifffile reads it)."""
    return img.mode not in SIXTEEN_BIT_MODES | {"I", "F"} and _bits_per_channel(img) > 8


def _bits_per_channel(img: Image.Image) -> int:
    """What the file stores per channel, before Pillow converts it to its mode: a TIFF's
    BitsPerSample (planar files too), else 16 when the raw mode says so (e.g. PNG's "RGB;16B")."""
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, 8)
        return max(bits) if isinstance(bits, tuple) else int(bits)
    if img.format == "JPEG2000":
        return jpeg2000_bits(img.filename)
    args = img.tile[0][3] if img.tile else ""  # (decoder, extents, offset, args); a plain tuple before Pillow 11
    if img.format == "PPM" and isinstance(args, tuple):  # (raw mode, maximum value): rescaled by Pillow
        return 16 if args[-1] > 255 else 8
    return 16 if ";16" in str(args[0] if isinstance(args, tuple) and args else args) else 8


def from_pillow(img: Image.Image) -> ImageData:
    """A Pillow image in memory as a file of it would be read, but not turned upright: the
    caller's pixels keep their geometry (the API's `Denoiser.denoise` on a Pillow image)."""
    return _to_image_data(img, [], "the image", upright=False)


def _to_image_data(img: Image.Image, warnings: list[str], name: str, upright: bool = True) -> ImageData:
    source_format = img.format
    compression = img.info.get("compression") if source_format == "TIFF" else None
    subsampling = JpegImagePlugin.get_sampling(img)  # -1 for anything but a colour JPEG
    icc = img.info.get("icc_profile")
    dpi = img.info.get("dpi")
    exif = img.getexif()
    camera = unresized_camera(exif, img.size)
    turn = TRANSPOSES.get(exif.get(ORIENTATION_TAG, 1)) if upright else None
    descriptive = read_descriptive(img, turned_upright=turn is not None)
    if turn is not None:
        if exif.get(ORIENTATION_TAG) in SIDEWAYS:  # the X resolution of the picture as stored is the Y of it upright
            dpi = dpi[::-1] if dpi else dpi
            if X_RESOLUTION_TAG in exif and Y_RESOLUTION_TAG in exif:
                exif[X_RESOLUTION_TAG], exif[Y_RESOLUTION_TAG] = exif[Y_RESOLUTION_TAG], exif[X_RESOLUTION_TAG]
        img = img.transpose(turn)
        exif[ORIENTATION_TAG] = 1
    for tag in LAYOUT_TAGS & set(exif):
        del exif[tag]
    if describes_layout(exif.get(IMAGE_DESCRIPTION_TAG)):
        del exif[IMAGE_DESCRIPTION_TAG]
    keep = {"exif": exif_bytes(exif, warnings, name), "icc_profile": icc, "dpi": dpi, "warnings": warnings, "camera": camera,
            "jpeg_subsampling": subsampling if subsampling >= 0 else None, "jpeg_progressive": bool(img.info.get("progressive")),
            "tiff_compression": compression, "descriptive": descriptive, "one_bit": img.mode == "1"}

    if img.mode in SIXTEEN_BIT_MODES:
        planes = np.asarray(img, dtype=np.uint16)[None]
        mode, scale = "I;16", SIXTEEN_BIT
    elif img.mode == "I" and source_format == "PPM":  # a 16-bit PGM, which Pillow reads as I
        planes = np.asarray(img).astype(np.uint16)[None]
        mode, scale = "I;16", SIXTEEN_BIT
    elif img.mode == "I":
        planes = np.asarray(img, dtype=np.int32)[None]
        mode, scale = "I", data_scale(planes, (0.0, 65535.0), np.int32)
    elif img.mode == "F":
        planes = np.asarray(img, dtype=np.float32)[None]
        mode, scale = "F", data_scale(planes[np.isfinite(planes)], (0.0, 1.0), np.float32)
    else:
        img = _to_channel_mode(img)
        mode, scale = img.mode, EIGHT_BIT
        if mode == "L":
            planes = np.asarray(img)[None]  # one copy, no stacking
            return ImageData(planes, mode, scale, None, source_format, **keep)
        bands = [np.asarray(img.getchannel(k)) for k in range(len(img.getbands()))]
        alpha = bands.pop() if mode in ("LA", "RGBA") else None
        planes = np.stack(bands)
        return ImageData(planes, mode, scale, alpha, source_format, **keep)
    return ImageData(planes, mode, scale, None, source_format, **keep)


def camera_of(path: str | os.PathLike) -> str | None:
    """`ImageData.camera` of a file, from its header alone (no pixels decoded)."""
    path = Path(path)
    try:
        with _open_image(path) as img:
            return unresized_camera(img.getexif(), img.size)
    except UNREADABLE as exc:
        raise _open_error(path, exc) from None


def _to_channel_mode(img: Image.Image) -> Image.Image:
    if img.mode in ("L", "RGB") and img.info.get("transparency") is not None:
        # a PNG's colour key (tRNS): the pixels of one value are transparent. Denoising moves that
        # value, so the key would be lost; as an alpha channel it is kept, untouched
        return img.convert("LA" if img.mode == "L" else "RGBA")
    if img.mode in CHANNEL_MODES:
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode in ("P", "PA"):
        has_alpha = img.mode == "PA" or "transparency" in img.info
        if _gray_palette(img):
            return img.convert("LA" if has_alpha else "L")
        return img.convert("RGBA" if has_alpha else "RGB")
    if img.mode in ("RGBa", "La"):
        return img.convert("RGBA" if img.mode == "RGBa" else "LA")
    return img.convert("RGB")


def _gray_palette(img: Image.Image) -> bool:
    palette = img.getpalette("RGB") or []
    return bool(palette) and all(palette[k] == palette[k + 1] == palette[k + 2] for k in range(0, len(palette), 3))


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """8-bit grayscale as float32 in [0, 1], the benchmark protocol's way (convert('L') / 255).

    A 16-bit gray file (a mean of many shots is often kept so) is brought to 8 bits by its scale:
    Pillow's convert('L') clips it instead, which turns all but the darkest pixels white. A camera
    raw file is refused, as by read_image."""
    path = Path(path)
    refuse_raw(path)
    if _starts_as_jpegxl(path):
        return _gray_of(read_image(path))
    try:
        with _open_image(path) as img:
            if _pillow_cannot_decode(img):
                return _gray_of(read_image(path))
            if img.mode in SIXTEEN_BIT_MODES or img.mode == "I":
                values = np.asarray(img, dtype=np.float64)
                if values.min() < 0 or values.max() > 65535:
                    raise DenoiseError(f"{path}: its {img.mode} pixels are not 16-bit gray; save it as 8- or 16-bit gray.")
                return (np.round(values / 257) / 255).astype(np.float32)
            return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except UNREADABLE as exc:
        if is_tiff(path):  # one Pillow cannot open or decode (JPEG 2000 or WebP inside, float colour): read_image can
            return _gray_of(read_image(path))
        raise _open_error(path, exc) from None


def _gray_of(image: ImageData) -> np.ndarray:
    """read_gray's answer for a picture read_image read: on the 8-bit scale (16 bits by theirs),
    colour made gray by Pillow's convert('L'), as the protocol does."""
    planes = EIGHT_BIT.from_unit(image.scale.to_unit(image.planes))
    gray = planes[0] if len(planes) == 1 else np.asarray(Image.merge("RGB", [Image.fromarray(p) for p in planes]).convert("L"))
    return gray.astype(np.float32) / 255.0


def to_pillow(image: ImageData, one_bit: bool | None = None) -> Image.Image:
    """Build the Pillow image to save from the (denoised) planes; 1-bit when `one_bit` says so
    (None: when the source was 1-bit and the planes are still only black and white)."""
    if one_bit if one_bit is not None else _still_one_bit(image):
        return Image.fromarray(image.planes[0] > 127)
    if image.mode in ("I;16", "I", "F"):
        return Image.fromarray(np.ascontiguousarray(image.planes[0]))
    bands = [Image.fromarray(np.ascontiguousarray(p)) for p in image.planes]
    if image.alpha is not None:
        bands.append(Image.fromarray(image.alpha))
    return bands[0] if image.mode == "L" else Image.merge(image.mode, bands)


def output_format(path: Path, requested: str | None = None) -> str:
    """The Pillow format name for an output path (or an explicit request such as 'png')."""
    if requested:
        name = formats.user_name(requested)
        if name is None:
            raise DenoiseError(f"unknown output format {requested!r}; choose one of {', '.join(formats.PILLOW_NAMES)}.")
        return _available(formats.PILLOW_NAMES[name])
    fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None and not path.suffix:
        raise DenoiseError(f"{path}: no extension to tell the image format; name it {path.name}.png (or .jpg, .tif, ...), choose a "
                           "--format, or end it with / for a folder.")
    if fmt is None:  # a format Pillow only reads (x.tga -> x_denoised.tga), or none
        read_only = Image.registered_extensions().get(path.suffix.lower())
        what = f"{read_only} is read, not written" if read_only else f"unknown image extension {path.suffix!r}"
        raise DenoiseError(f"{path}: {what}; use .png, .jpg, .tif, .bmp, .webp, .avif, .heic, .gif, .jp2, .jxl, .pgm, .ppm or .pbm, "
                           "or choose a --format.")
    return _available(fmt)


def _available(fmt: str) -> str:
    """The format, if this Pillow can write it (AVIF needs a recent Pillow built with libavif,
    HEIF the pillow-heif plugin)."""
    if fmt == "AVIF" and not features.check("avif"):
        raise DenoiseError("this Pillow cannot write AVIF; a recent one can (pip install --upgrade pillow).")
    if fmt == "JPEG2000" and not features.check("jpg_2000"):
        raise DenoiseError("this Pillow cannot write JPEG 2000 (it was built without OpenJPEG); Pillow's own wheels can.")
    if fmt == "HEIF":
        use_heif_plugin("HEIC output")
    if fmt == "JXL":
        jpegxl.codec("JPEG XL output")
    return fmt


def use_heif_plugin(what: str) -> None:
    """Register pillow-heif with Pillow, once; a DenoiseError naming `what` needs it when it is
    not installed (it is optional: `pip install "denoise-cli[heif]"`)."""
    try:
        import pillow_heif
    except ImportError:
        raise DenoiseError(f"{what} needs the pillow-heif plugin: pip install pillow-heif (or \"denoise-cli[heif]\").") from None
    if "HEIF" not in Image.OPEN:
        pillow_heif.register_heif_opener()


# the longest side each format is written with: libjpeg's JPEG_MAX_DIMENSION, libwebp's
# WEBP_MAX_DIMENSION, GIF's 16-bit sizes (Pillow raised OverflowError past it), and what libavif
# reads by default (it writes up to 65,536, but Pillow, as other readers, then cannot open the
# file). HEIC's encoder (x265) refuses some sizes too, by rules of its own (17000x20,
# 12000x12000): it says so when writing.
MAX_SIDE = {"JPEG": 65500, "WEBP": 16383, "GIF": 65535, "AVIF": 32768}


def check_writable_as(image: ImageData, fmt: str, path: Path) -> None:
    """Refuse, before any work, an output format that would lose depth, channels or alpha, that
    cannot hold the picture's size, or that needs a codec not installed (16-bit colour PNG, TIFF
    or JPEG 2000: the tiff16 extra)."""
    if image.mode in SIXTEEN_BIT_WITH_CODECS and fmt in ("PNG", "TIFF", "JPEG2000"):
        sixteen_bit_codec("tifffile" if fmt == "TIFF" else "imagecodecs", path, image.mode[:-3])
    if not _holds(fmt, image):
        able = _formats_holding(image)
        eight = SIXTEEN_TO_EIGHT.get(image.mode)
        or_eight = ", or --depth 8 to write it at 8 bits per channel" if eight in FORMAT_MODES[fmt] else ""  # a scan's 16 bits into a JPEG
        raise DenoiseError(
            f"{path}: {format_name(fmt).upper()} cannot store this {_describe(image)} image without loss; "
            f"choose another format ({able}){or_eight}."
        )
    height, width = image.planes.shape[-2:]
    if max(width, height) > MAX_SIDE.get(fmt, max(width, height)):
        able = _formats_holding(image, besides=(*MAX_SIDE, "HEIF"))  # HEIC's encoder has size limits of its own
        raise DenoiseError(f"{path}: {_a_file(fmt)} holds pictures of at most {MAX_SIDE[fmt]:,} pixels a side, and this one "
                           f"is {width}x{height}; choose another format ({able}).")


def _formats_holding(image: ImageData, besides: tuple[str, ...] = ()) -> str:
    """The formats, as users name them, that store `image` without loss, but those `besides`."""
    return ", ".join(format_name(f) for f in FORMAT_MODES if _holds(f, image) and f not in besides)


def _holds(fmt: str, image: ImageData) -> bool:
    if fmt == "JXL" and image.planes.dtype == np.float64:  # libjxl's floats are of 32 bits at most
        return False
    if fmt == "HEIF" and image.mode in TEN_BIT_MODES and image.bits is not None:  # a 10-bit HEIC's values, on the 16-bit scale
        return image.bits <= HEIF_BITS
    return image.mode in FORMAT_MODES[fmt] or (fmt in SIXTEEN_BIT_GRAY_FORMATS and _fits_16_bits(image))


def _fits_16_bits(image: ImageData) -> bool:
    """32-bit integer gray on the 16-bit scale (a TIFF of int32 pixels within 0-65535): its output
    is clipped to that scale, so a 16-bit PNG or PGM holds it without loss."""
    return image.mode == "I" and image.scale.low >= 0 and image.scale.high <= 65535


EIGHT_TO_SIXTEEN = {"L": "I;16", "LA": "LA;16", "RGB": "RGB;16", "RGBA": "RGBA;16"}  # --depth's modes
SIXTEEN_TO_EIGHT = {sixteen: eight for eight, sixteen in EIGHT_TO_SIXTEEN.items()}


def at_depth(image: ImageData, bits: int, name: str) -> ImageData:
    """`image` (and its further pages) at 8 or 16 bits per channel, as --depth asks: 8-bit values
    times 257, exactly; 16-bit ones divided by 257 and rounded. A 16-bit output keeps the finer
    steps of the model's output, which 8 bits round away; an 8-bit one is what JPEG and WebP
    hold. Floats, CMYK and the like keep their type (CMYK's 8 bits meet --depth 8)."""
    page = _as_16_bits(image)  # 32-bit integer gray within 0-65535, as a 16-bit PNG holds it
    modes = EIGHT_TO_SIXTEEN if bits == 16 else SIXTEEN_TO_EIGHT
    if page.mode in modes:
        alpha = None if page.alpha is None else _to_bits(page.alpha, bits)
        page = replace(page, planes=_to_bits(page.planes, bits), alpha=alpha, mode=modes[page.mode], scale=SIXTEEN_BIT if bits == 16 else EIGHT_BIT,
                       one_bit=False)
    elif page.mode not in modes.values() and not (bits == 8 and page.mode == "CMYK"):  # CMYK is of 8 bits already
        raise DenoiseError(f"{name}: --depth {bits} converts 8- and 16-bit gray and RGB pictures, and this is {_describe(image)}, which keeps its own.")
    return replace(page, bits=None, pages=[at_depth(extra, bits, name) for extra in image.pages])  # a 10-bit HEIC's 16 bits are 16 now


def check_depth_held(path: Path, fmt: str, bits: int | None) -> None:
    """Refuse --depth 16 into a format of 8 bits per channel, before any reading."""
    if bits == 16 and not _holds_16_bits(fmt):
        able = ", ".join(format_name(f) for f in FORMAT_MODES if _holds_16_bits(f))
        held = "8 (or a camera's 10)" if fmt == "HEIF" else "8"
        raise DenoiseError(f"{path}: {format_name(fmt).upper()} holds {held} bits per channel, not the 16 of --depth 16; choose another format ({able}).")


def _holds_16_bits(fmt: str) -> bool:
    return any(mode.endswith(";16") for mode in FORMAT_MODES[fmt])


def _to_bits(values: np.ndarray, bits: int) -> np.ndarray:
    if bits == 16:
        return values.astype(np.uint16) * np.uint16(257)
    return ((values.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)  # v / 257, rounded


def _as_16_bits(image: ImageData) -> ImageData:
    return replace(image, planes=image.planes.astype(np.uint16), mode="I;16", scale=SIXTEEN_BIT) if _fits_16_bits(image) else image


def format_name(fmt: str) -> str:
    """Pillow's format name as `--format` takes it: HEIF is heic, Netpbm's PPM is pnm."""
    return formats.USER_NAMES[fmt]


def _a_file(fmt: str) -> str:
    """"a png file", "an avif file": the format as users name it, in a sentence."""
    name = format_name(fmt)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} file"


def metadata_lost(image: ImageData, fmt: str) -> str | None:
    """A sentence's end naming what the image carries of EXIF, ICC profile and XMP that `fmt`
    cannot hold (BMP, GIF, Netpbm), or None: a photographer would not expect it to vanish."""
    if fmt in METADATA_FORMATS:
        return None
    held = SOME_METADATA.get(fmt, set())
    kinds = [kind for kind, value in (("EXIF", image.exif), ("ICC profile", image.icc_profile), ("XMP", image.descriptive.xmp))
             if value and kind not in held]
    if not kinds:
        return None
    able = [format_name(f) for f in FORMAT_MODES if f in METADATA_FORMATS]
    what = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} and {kinds[-1]}"
    written = " as denoise writes it" if fmt in SOME_METADATA else ""
    return (f"{_a_file(fmt)}{written} holds no {' or '.join(kinds)}, so the picture's {what} {'is' if len(kinds) == 1 else 'are'} "
            f"left out ({', '.join(able[:-1])} and {able[-1]} keep {'it' if len(kinds) == 1 else 'them'}).")


def colour_coding_lost(image: ImageData, fmt: str) -> str | None:
    """A sentence's end for a HEIF, AVIF or PNG whose colour box codes its values otherwise than
    sRGB (an HDR photo: BT.2020 with PQ), going where no such box is written (all but HEIC and
    PNG) and no ICC profile says it instead: viewers would take the values for sRGB. None
    otherwise."""
    coded = coded_otherwise(image.descriptive.colour_box)
    if fmt in ("HEIF", "PNG") or image.icc_profile or not coded:
        return None
    return (f"the picture's values are coded as {' with '.join(coded)} (its colour box), which denoise's {format_name(fmt)} output "
            "does not record: it will look different there, washed out or dark (a .heic or .png output keeps the coding).")


def fit_metadata(image: ImageData, fmt: str) -> list[str]:
    """Cut what a JPEG cannot hold for size, saying so in sentence ends: EXIF, XMP and a comment
    each fit one 64 KB marker there, while a TIFF or PNG holds any size, and Pillow refuses the
    whole file on an EXIF too long (metadata.save_options leaves too long an XMP or comment out)."""
    if fmt != "JPEG":
        return []
    cuts = []
    if image.exif and len(image.exif) > JPEG_MARKER_LIMIT:
        size = len(image.exif)
        image.exif, left_out = fit_in_jpeg(image.exif)
        cuts.append(f"the picture's EXIF ({size // 1024} KB) is more than a JPEG holds (64 KB): the output leaves out {left_out} "
                    "(a TIFF, PNG or WebP output keeps it whole).")
    for what, value, limit in (("XMP", image.descriptive.xmp, JPEG_XMP_LIMIT), ("comment", image.descriptive.comment, JPEG_MARKER_LIMIT)):
        if value and len(value) > limit:
            cuts.append(f"the picture's {what} ({len(value) // 1024} KB) is more than a JPEG holds (64 KB): the output leaves it out.")
    return cuts


def _describe(image: ImageData) -> str:
    if image.mode == "F" and image.scale.dtype != np.float32:  # read by tifffile in its own float type
        return f"{image.scale.dtype.itemsize * 8}-bit float grayscale"
    return _describe_mode(image.mode)


def _describe_mode(mode: str) -> str:
    return {
        "I;16": "16-bit grayscale", "I": "32-bit integer grayscale", "F": "32-bit float grayscale",
        "LA": "grayscale + alpha", "RGBA": "RGB + alpha", "CMYK": "CMYK", "L": "8-bit grayscale", "RGB": "RGB",
        "LA;16": "16-bit grayscale + alpha", "RGB;16": "16-bit RGB", "RGBA;16": "16-bit RGB + alpha", "RGB;F": "float RGB", "RGBA;F": "float RGB + alpha",
    }.get(mode, mode)


def write_image(image: ImageData, path: str | os.PathLike, fmt: str | None = None, overwrite: bool = False, quality: int = DEFAULT_QUALITY) -> None:
    """Write atomically: temporary file in the same folder, fsync, then link or rename into place.

    Without `overwrite`, an existing file is never replaced, even one that another process
    created while we worked (the final step is an atomic hard link, which fails if it exists).
    """
    path = Path(path)
    fmt = fmt or output_format(path)
    for page in (image, *image.pages):
        check_writable_as(page, fmt, path)
    if fmt == "JXL":
        jpegxl.write_jpegxl(image, path, overwrite, quality)
        return
    if fmt == "HEIF" and image.mode in TEN_BIT_MODES:
        write_ten_bit_heif(image, path, overwrite, quality)
        return
    if image.mode in SIXTEEN_BIT_WITH_CODECS:
        {"PPM": write_16_bit_ppm, "PNG": write_16_bit_png, "JPEG2000": write_16_bit_jpeg2000}.get(fmt, write_with_tifffile)(image, path, overwrite)
        return
    if image.mode in ("RGB;F", "RGBA;F") or (image.mode == "F" and image.scale.dtype != np.float32):  # Pillow has no mode for these
        write_with_tifffile(image, path, overwrite)
        return
    if fmt in SIXTEEN_BIT_GRAY_FORMATS:  # Pillow writes no 32-bit integers there (before 12 it clipped them to 16 bits)
        image = replace(_as_16_bits(image), pages=[_as_16_bits(page) for page in image.pages])
    one_bit = fmt in ONE_BIT_FORMATS and all(_still_one_bit(page) for page in (image, *image.pages))
    pil = to_pillow(image, one_bit)
    options: dict = {}
    if image.icc_profile and fmt in METADATA_FORMATS:
        options["icc_profile"] = image.icc_profile
    if image.exif and fmt in METADATA_FORMATS:
        options["exif"] = image.exif
    if image.dpi and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        options["dpi"] = image.dpi
    if fmt in QUALITY_FORMATS:
        options["quality"] = quality
    if fmt == "JPEG":
        options["progressive"] = image.jpeg_progressive
        options["optimize"] = True  # Huffman tables fitted to the picture: the same pixels in fewer bytes
        if image.jpeg_subsampling is not None:
            options["subsampling"] = image.jpeg_subsampling
    if fmt == "WEBP" and image.lossless_coded:
        options["lossless"] = True
    if fmt == "JPEG2000":  # lossless, Pillow's default; a .j2k file holds the bare codestream, without JP2's boxes
        options["no_jp2"] = path.suffix.lower() == ".j2k"
    if fmt == "TIFF":
        options["compression"] = tiff_compression(image, one_bit)
    save_options(image.descriptive, fmt, options)
    if image.pages and fmt == "TIFF":
        options.update(save_all=True, append_images=[to_pillow(page, one_bit) for page in image.pages])
    save = _save_jpeg if fmt == "JPEG" else Image.Image.save
    write_atomically(path, lambda f: save(pil, f, format=fmt, **options), overwrite)


_JPEG_BUFFER = threading.Lock()


def _save_jpeg(pil: Image.Image, f, **options) -> None:
    """Pillow writes an optimized or progressive JPEG into a buffer it sizes by quality alone, at
    1-2 bytes a pixel, and libjpeg fails ("Suspension not allowed here") on a picture that needs
    more: a grainy colour one at 4:4:4, at quality 90 or 100. ImageFile.MAXBLOCK, the buffer's
    floor, is raised for this save to twice the picture's raw size padded to whole 16-pixel
    blocks (random noise at quality 100 takes 1.6 times) plus its metadata. Untouched, the
    buffer's pages cost no memory."""
    width, height = pil.size
    padded = -(-width // 16) * 16 * -(-height // 16) * 16 * len(pil.getbands())
    metadata = sum(len(options.get(key) or b"") for key in ("exif", "icc_profile", "comment", "xmp"))
    with _JPEG_BUFFER:
        floor = ImageFile.MAXBLOCK
        ImageFile.MAXBLOCK = max(floor, 2 * padded + metadata + 65536)
        try:
            pil.save(f, **options)
        finally:
            ImageFile.MAXBLOCK = floor
