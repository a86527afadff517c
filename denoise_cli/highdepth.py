"""Pictures Pillow cannot hold at their depth, read and written with other codecs: colour with 16
bits per channel (tifffile for TIFF, imagecodecs for PNG and JPEG 2000, both the optional
`tiff16` extra; a PPM by numpy here, the format being that simple), 16-bit gray with alpha
(LA;16, as GIMP and Krita export it), and TIFFs of floats Pillow cannot open (float colour from
astronomy stacking or HDR merges, gray floats of 16 or 64 bits), and TIFFs compressed in ways
Pillow's libtiff cannot decode (JPEG 2000, WebP, LERC, JPEG XL). Pillow would read the first two
as 8 bits per channel and refuse the others; imageio.py sends them here and keeps everything
else."""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Mapping
from typing import Any
from pathlib import Path

import numpy as np
from PIL import Image

from denoise_cli.atomic import write_atomically
from denoise_cli.errors import DenoiseError
from denoise_cli.exif import (EXIF_IFD, LAYOUT_TAGS, ORIENTATION_TAG, ORIENTATIONS, RESOLUTION_TAGS, TIFF_TEXT_TAGS, describes_layout, exif_bytes,
                              unresized_camera)
from denoise_cli.metadata import XMP_TAG, Descriptive, read_descriptive, save_options
from denoise_cli.pixels import EIGHT_BIT, SIXTEEN_BIT, ImageData, PixelScale, check_size, data_scale


# --- colour with 16 bits per channel (a raw converter's or a film scanner's TIFF) ----------------
# Pillow reads it as 8 bits per channel, so tifffile reads and writes the pixels; Pillow still
# reads the header (EXIF, ICC profile, DPI).

def sixteen_bit_codec(name: str, path: Path, mode: str):
    """tifffile or imagecodecs (the optional `tiff16` extra), or one sentence saying to install it."""
    try:
        return __import__(name)
    except ImportError:
        raise DenoiseError(f"{path}: {mode} with 16 bits per channel, which Pillow reads as 8; pip install "
                           "\"denoise-cli[tiff16]\" to denoise it at full depth, or convert it to 8-bit.") from None


def read_16_bit_colour(path: Path, img: Image.Image, warnings: list[str]) -> ImageData:
    if img.format == "PPM":
        return _read_16_bit_ppm(path, img, warnings)
    if img.format not in ("TIFF", "PNG", "JPEG2000") or img.mode not in ("RGB", "RGBA"):
        raise DenoiseError(f"{path}: {img.mode} with 16 bits per channel, which Pillow reads as 8; save it as a 16-bit "
                           "RGB TIFF or PNG (with \"denoise-cli[tiff16]\" installed), or convert it to 8-bit, to denoise it.")
    if img.format == "PNG":
        return _read_16_bit_png(path, img, warnings)
    if img.format == "JPEG2000":
        return _read_16_bit_jpeg2000(path, img, warnings)
    tifffile = sixteen_bit_codec("tifffile", path, img.mode)
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            pixels = page.asarray()
            axes = page.axes
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types, e.g. for a codec it lacks
        raise DenoiseError(f"{path}: cannot read the 16-bit colour TIFF ({exc}).") from None
    if pixels.dtype != np.uint16 or pixels.ndim != 3:
        raise DenoiseError(f"{path}: colour stored as {pixels.dtype} {pixels.shape}; colour TIFFs are read with 8 or 16 bits per channel.")
    if axes.startswith("S"):  # planar: (channel, y, x)
        pixels = np.moveaxis(pixels, 0, -1)
    exif = img.getexif()
    camera = unresized_camera(exif, img.size)
    turn = ORIENTATIONS.get(exif.get(ORIENTATION_TAG, 1))
    pixels = turn(pixels) if turn is not None else pixels
    descriptive = read_descriptive(img, turned_upright=turn is not None)
    text = _text_tags(exif)
    if set(exif) - set(TIFF_TEXT_TAGS) - LAYOUT_TAGS - RESOLUTION_TAGS - {ORIENTATION_TAG} or exif.get_ifd(EXIF_IFD):
        warnings.append(f"{path}: a 16-bit colour TIFF keeps only its text tags of EXIF (make, model, date, ...), its XMP and its ICC profile.")
    exif_out = Image.Exif()
    exif_out.update(text)
    mode, planes, alpha = colour_planes(pixels)
    return ImageData(planes, mode, SIXTEEN_BIT, alpha, "TIFF", exif_out.tobytes() if text else None,
                     img.info.get("icc_profile"), img.info.get("dpi"), warnings, camera, tiff_compression=img.info.get("compression"),
                     descriptive=descriptive)


def _text_tags(tags: Mapping[int, Any]) -> dict[int, str]:
    """A TIFF's text tags that are carried into the output: not an ImageDescription that records
    the file's layout (tifffile's JSON shape, which it writes by default; exif.describes_layout)."""
    return {tag: tags[tag] for tag in TIFF_TEXT_TAGS if isinstance(tags.get(tag), str) and not describes_layout(tags[tag])}


def _read_16_bit_png(path: Path, img: Image.Image, warnings: list[str]) -> ImageData:
    """A 48- or 64-bit PNG (a raw converter's export): pixels by imagecodecs' libpng, the rest
    (EXIF, ICC profile, XMP, text, DPI) from Pillow's reading of the header, as for any PNG."""
    imagecodecs = sixteen_bit_codec("imagecodecs", path, img.mode)
    try:
        pixels = imagecodecs.png_decode(path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise DenoiseError(f"{path}: cannot read the 16-bit colour PNG ({exc}).") from None
    if pixels.dtype != np.uint16 or pixels.ndim != 3 or pixels.shape[2] not in (2, 3, 4):
        raise DenoiseError(f"{path}: colour stored as {pixels.dtype} {pixels.shape}; colour PNGs are read with 8 or 16 bits per channel.")
    exif = img.getexif()
    camera = unresized_camera(exif, img.size)
    turn = ORIENTATIONS.get(exif.get(ORIENTATION_TAG, 1))
    if turn is not None:
        pixels = turn(pixels)
        exif[ORIENTATION_TAG] = 1
    mode, planes, alpha = colour_planes(pixels)
    return ImageData(planes, mode, SIXTEEN_BIT, alpha, "PNG", exif_bytes(exif, warnings, str(path)),
                     img.info.get("icc_profile"), img.info.get("dpi"), warnings, camera, descriptive=read_descriptive(img, turned_upright=turn is not None))


def _read_16_bit_jpeg2000(path: Path, img: Image.Image, warnings: list[str]) -> ImageData:
    """Colour JPEG 2000 of 9 to 16 bits per channel (an archive's master scan): pixels by
    imagecodecs' OpenJPEG, brought to the 16-bit scale as Pillow brings gray ones (a 12-bit
    value v becomes v << 4); the ICC profile from Pillow's reading of the header."""
    imagecodecs = sixteen_bit_codec("imagecodecs", path, img.mode)
    try:
        pixels = imagecodecs.jpeg2k_decode(path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise DenoiseError(f"{path}: cannot read the 16-bit colour JPEG 2000 ({exc}).") from None
    if pixels.dtype != np.uint16 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise DenoiseError(f"{path}: colour stored as {pixels.dtype} {pixels.shape}; colour JPEG 2000 is read with 8 to 16 bits per channel.")
    pixels = pixels << np.uint16(16 - jpeg2000_bits(path))
    mode, planes, alpha = colour_planes(pixels)
    return ImageData(planes, mode, SIXTEEN_BIT, alpha, "JPEG2000", None, img.info.get("icc_profile"), None, warnings)


def write_16_bit_jpeg2000(image: ImageData, path: Path, overwrite: bool) -> None:
    """Lossless (OpenJPEG's reversible wavelet, by imagecodecs), a .j2k file as a bare codestream."""
    imagecodecs = sixteen_bit_codec("imagecodecs", path, image.mode[:-3])
    pixels = interleaved(image)
    encoded = imagecodecs.jpeg2k_encode(np.ascontiguousarray(pixels), level=0, codecformat="j2k" if path.suffix.lower() == ".j2k" else "jp2")
    write_atomically(path, lambda f: f.write(encoded), overwrite)


def jpeg2000_bits(path: str | os.PathLike) -> int:
    """The most bits per channel a JPEG 2000 codestream declares: its SIZ marker segment, right
    after the start of the codestream, gives each component's precision (Ssiz + 1, in its low 7
    bits) after 38 bytes of sizes and offsets and the component count (Csiz)."""
    with open(path, "rb") as fp:
        head = fp.read(1 << 16)
    at = head.find(b"\xff\x4f\xff\x51")  # SOC, then SIZ
    components = int.from_bytes(head[at + 40 : at + 42], "big") if at >= 0 else 0
    precisions = [(head[k] & 0x7F) + 1 for k in range(at + 42, min(at + 42 + 3 * components, len(head)), 3)]
    return max(precisions, default=8)


def on_sixteen_bits(pixels: np.ndarray, bits: int) -> np.ndarray:
    """uint16 values of `bits` bits as stored (0-1023 for 10) on the 16-bit scale, each rounded
    to the nearest, in integers: exact, at half the memory of float64. Values above the top are
    taken as the top."""
    full = (1 << bits) - 1  # odd: no value falls half-way, so this rounds as np.round would
    return ((np.minimum(pixels, full).astype(np.uint32) * 65535 + full // 2) // full).astype(np.uint16)


def planes_of(pixels: np.ndarray) -> tuple[str, np.ndarray, np.ndarray | None, PixelScale]:
    """(H, W) gray or (H, W, 2-4) as colour_planes takes it, 8-bit, 16-bit or float -> its mode,
    planes, alpha plane and scale (a float picture's own range, as for any float file)."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:  # one sample per pixel, as a damaged header may say
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        mode = {"f": "F", "u": "I;16" if pixels.dtype == np.uint16 else "L"}[pixels.dtype.kind]
        planes, alpha = np.ascontiguousarray(pixels[None]), None
    else:
        mode, planes, alpha = colour_planes(pixels)
    scale = {np.dtype(np.uint8): EIGHT_BIT, np.dtype(np.uint16): SIXTEEN_BIT}.get(pixels.dtype)
    return mode, planes, alpha, scale or data_scale(planes[np.isfinite(planes)], (0.0, 1.0), pixels.dtype)


def colour_planes(pixels: np.ndarray) -> tuple[str, np.ndarray, np.ndarray | None]:
    """(H, W, 2, 3 or 4) gray + alpha or colour, 8-bit, 16-bit or float -> its mode (LA, RGB,
    RGBA; LA;16, RGB;16, RGBA;16; RGB;F, RGBA;F), its (1 or 3, H, W) planes and its alpha plane.
    GIMP and Krita export 16-bit gray with transparency, which Pillow reads as 8-bit RGBA."""
    channels = 1 if pixels.shape[2] == 2 else 3
    alpha = np.ascontiguousarray(pixels[..., channels]) if pixels.shape[2] in (2, 4) else None
    depth = ";F" if pixels.dtype.kind == "f" else ";16" if pixels.dtype == np.uint16 else ""
    mode = {2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]] + depth
    return mode, np.ascontiguousarray(np.moveaxis(pixels[..., :channels], -1, 0)), alpha


def interleaved(image: ImageData) -> np.ndarray:
    """The planes and alpha as one (H, W, C) array, or (H, W) for gray alone, as codecs take
    pixels: colour_planes' inverse."""
    if len(image.planes) == 1 and image.alpha is None:
        return image.planes[0]
    pixels = np.moveaxis(image.planes, 0, -1)
    if image.alpha is not None:
        pixels = np.concatenate([pixels, image.alpha[..., None].astype(pixels.dtype)], axis=-1)
    return pixels


def write_16_bit_png(image: ImageData, path: Path, overwrite: bool) -> None:
    """libpng (imagecodecs) writes the pixels; the metadata chunks a PNG from Pillow would carry
    (ICC profile, EXIF, DPI, XMP and text) go in after the header chunk, where readers look."""
    imagecodecs = sixteen_bit_codec("imagecodecs", path, image.mode[:-3])
    pixels = interleaved(image)
    encoded = imagecodecs.png_encode(np.ascontiguousarray(pixels), level=6)
    header_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    write_atomically(path, lambda f: f.write(encoded[:header_end] + _png_metadata_chunks(image) + encoded[header_end:]), overwrite)


def _png_metadata_chunks(image: ImageData) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out = []
    if image.icc_profile:
        out.append(chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(image.icc_profile)))
    if image.exif:
        out.append(chunk(b"eXIf", image.exif[6:] if image.exif.startswith(b"Exif\0\0") else image.exif))
    if image.dpi:
        per_metre = [int(round(float(v) / 0.0254)) for v in image.dpi]
        out.append(chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    options: dict = {"icc_profile": image.icc_profile}  # which a cICP chunk would override
    save_options(image.descriptive, "PNG", options)  # the XMP and text chunks, as Pillow's PNG writer gets them
    out += [chunk(kind, data) for kind, data, *_ in getattr(options.get("pnginfo"), "chunks", [])]
    return b"".join(out)


def _read_16_bit_ppm(path: Path, img: Image.Image, warnings: list[str]) -> ImageData:
    """A PPM with 2 bytes per sample (binary P6: big-endian) or its plain-text form (P3), any
    maximum value over 255, brought to the full 16-bit scale as Pillow does for a 16-bit PGM."""
    codec, _, offset, args = img.tile[0]  # a plain tuple before Pillow 11
    width, height = img.size
    count = width * height * 3
    try:
        if codec == "ppm_plain":
            with open(path, "rb") as fp:
                fp.seek(offset)
                values = np.array(fp.read().split()[:count], dtype=np.int64)
        else:
            values = np.fromfile(path, dtype=">u2", count=count, offset=offset)
    except ValueError:  # text that is no number
        raise DenoiseError(f"{path}: cannot read the image (its pixel data is truncated or damaged).") from None
    maxval = args[-1]
    if len(values) < count or values.max(initial=0) > maxval:
        raise DenoiseError(f"{path}: cannot read the image (its pixel data is truncated or damaged).")
    if maxval != 65535:
        values = np.round(values * (65535 / maxval))
    mode, planes, _ = colour_planes(values.astype(np.uint16).reshape(height, width, 3))
    return ImageData(planes, mode, SIXTEEN_BIT, None, "PPM", warnings=warnings)


def write_16_bit_ppm(image: ImageData, path: Path, overwrite: bool) -> None:
    """Binary P6 at maximum value 65535: 2 bytes per sample, big-endian."""
    header = f"P6\n{image.width} {image.height}\n65535\n".encode()
    pixels = np.moveaxis(image.planes, 0, -1).astype(">u2")
    write_atomically(path, lambda f: (f.write(header), f.write(pixels.tobytes())), overwrite)


def write_with_tifffile(image: ImageData, path: Path, overwrite: bool) -> None:
    """A TIFF of the planes in their own type (16-bit colour, float colour, gray floats Pillow
    does not write), with alpha, the text tags of EXIF, XMP, ICC profile and DPI."""
    tifffile = sixteen_bit_codec("tifffile", path, image.mode.split(";")[0])
    pixels = interleaved(image)
    exif = Image.Exif()
    if image.exif:
        exif.load(image.exif)
    options = {"photometric": "rgb" if len(image.planes) == 3 else "minisblack", "compression": None if image.tiff_compression == "raw" else "zlib",
               "metadata": None, "software": False,
               "extrasamples": ("unassalpha",) if image.alpha is not None else None,
               "extratags": [(tag, "s", 0, exif[tag], True) for tag in TIFF_TEXT_TAGS if isinstance(exif.get(tag), str)]}
    if image.descriptive.xmp:
        options["extratags"].append((XMP_TAG, 1, len(image.descriptive.xmp), image.descriptive.xmp, True))  # BYTE
    if image.icc_profile:
        options["iccprofile"] = image.icc_profile
    if image.dpi:
        options.update(resolution=tuple(float(v) for v in image.dpi), resolutionunit="INCH")
    write_atomically(path, lambda f: tifffile.imwrite(f, np.ascontiguousarray(pixels), **options), overwrite)


# --- TIFFs Pillow cannot open: float colour (astro stacking, HDR merges), gray floats of 16 or 64
# bits, 16-bit gray with alpha. tifffile reads the pixels and the few tags that describe the
# picture, and writes them back in the same type.

PHOTOMETRIC_TAG = 262  # TIFF: 0 gray with white at zero, 1 gray with black at zero, 2 RGB, others (palette, CMYK, ...)


def is_tiff(path: Path) -> bool:
    with contextlib.suppress(OSError), open(path, "rb") as fp:
        return fp.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF, either byte order
    return False


def read_with_tifffile(path: Path, max_pixels: int | None) -> ImageData:
    """A TIFF Pillow cannot open or decode: float colour, 16-bit gray with alpha, and gray or
    colour of 8 or 16 bits compressed in a way Pillow's libtiff lacks (JPEG 2000 in slide
    scanners' files, WebP, LERC and JPEG XL in GIS tools', PNG), which imagecodecs decodes."""
    try:
        import tifffile
    except ImportError:
        raise DenoiseError(f"{path}: a TIFF Pillow cannot read (float colour, or compressed with JPEG 2000, WebP, LERC or JPEG XL); "
                           "pip install \"denoise-cli[tiff16]\" to read it with tifffile.") from None
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            check_size(path, page.imagewidth, page.imagelength, max_pixels)
            pixels, axes, tags = page.asarray(), page.axes, {tag.code: tag.value for tag in page.tags}
            pages = len(tif.pages)
    except DenoiseError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types on a damaged file
        raise DenoiseError(f"{path}: cannot read the TIFF ({exc}).") from None
    if axes.startswith("S"):  # planar: (channel, y, x)
        pixels = np.moveaxis(pixels, 0, -1)
    samples = {2: 1, 3: pixels.shape[-1]}.get(pixels.ndim, 0)
    photometric = tags.get(PHOTOMETRIC_TAG, 1)
    integer = pixels.dtype in (np.uint8, np.uint16) and samples in (1, 2, 3, 4) and photometric in (0, 1, 2)
    if not integer and (pixels.dtype.kind != "f" or samples not in (1, 3, 4)):
        layout = f"with {samples} samples per pixel" if samples else f"shaped {pixels.shape}"
        colours = f" and colours of photometric kind {photometric}" if pixels.dtype.kind == "u" and photometric not in (0, 1, 2) else ""
        raise DenoiseError(f"{path}: a TIFF of {pixels.dtype} {layout}{colours}, which neither Pillow nor denoise reads; "
                           "save it as gray or RGB, with or without alpha, to denoise it.")
    if photometric == 0 and pixels.dtype.kind == "u":  # white is zero (a fax's or a scanner's): read as Pillow reads it
        pixels = np.iinfo(pixels.dtype).max - pixels
    warnings = [f"{path}: has {pages} pages; only the first is denoised."] if pages > 1 else []
    orientation = tags.get(ORIENTATION_TAG, 1)
    turn = ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    pixels = turn(pixels) if turn is not None else pixels
    mode, planes, alpha, scale = planes_of(pixels)
    text = Image.Exif()
    text.update(_text_tags(tags))
    xmp = tags.get(XMP_TAG)
    descriptive = Descriptive(xmp=bytes(xmp)) if isinstance(xmp, (bytes, bytearray)) and xmp else Descriptive()
    icc = tags.get(34675)
    return ImageData(planes, mode, scale, alpha, "TIFF",
                     text.tobytes() if len(text) else None, icc if isinstance(icc, bytes) and icc else None, _tiff_dpi(tags), warnings,
                     tiff_compression="raw" if tags.get(259, 1) == 1 else None, descriptive=descriptive)


def _tiff_dpi(tags: dict) -> tuple[float, float] | None:
    """Dots per inch from a TIFF's resolution tags (rationals), or None: no unit, another unit,
    or tags too damaged to read."""
    try:
        if tags.get(296, 2) != 2:  # resolution unit: inch is the default
            return None
        (xn, xd), (yn, yd) = tags[282], tags[283]
        return xn / xd, yn / yd
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
