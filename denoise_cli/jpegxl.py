"""JPEG XL files (.jxl, as Lightroom, Photoshop and cjxl write them), read and written by
imagecodecs' libjxl (the optional `jxl` extra): Pillow has no JPEG XL codec.

A file is a bare codestream or an ISO BMFF container whose boxes hold the codestream ("jxlc",
or "jxlp" parts), EXIF ("Exif") and XMP ("xml "), each possibly Brotli-compressed ("brob").
The picture's size and bit depth are read from the codestream's header here, before anything
is decoded: the size for --max-pixels, the depth to put 10- and 12-bit pictures on the 16-bit
scale (libjxl gives their values as stored). The decoder turns a picture upright by the
codestream's orientation, which in JPEG XL overrides EXIF's; so EXIF and XMP say upright.
Outputs are lossy at --quality, or lossless after a lossless source, with the picture's EXIF
and XMP, in 8 bits or float: imagecodecs marks 16 bits as linear light, which would change their
look (imageio.FORMAT_MODES leaves them out).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from denoise_cli.atomic import write_atomically
from denoise_cli.errors import DenoiseError
from denoise_cli.exif import ORIENTATION_TAG, exif_bytes, unresized_camera
from denoise_cli.highdepth import interleaved, on_sixteen_bits, planes_of
from denoise_cli.metadata import ORIENTATION, Descriptive
from denoise_cli.pixels import ImageData, check_size

CODESTREAM_SIGNATURE = b"\xff\x0a"
CONTAINER_SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
# libjxl's effort (1-9), between speed and size. Three BSD68 pictures as the channels of one 12 MP
# colour picture (enlarged 4000x3000, Lanczos), on this machine's two cores, losslessly: effort 3
# 1.6 s, 7.3 MB; 5 6.2 s, 5.8 MB; 7 (cjxl's default) 10.0 s, 4.7 MB; at quality 95 (replace
# `lossless=True` by `level=95`): 0.5 s, 1.29 MB; 2.0 s, 0.80 MB; 3.1 s, 0.80 MB. `photo` takes
# about 40 s on such a picture here. By:
#   python -c "import time, numpy as np, imagecodecs; from PIL import Image; x = np.stack([np.asarray(Image.open(
#   f'../shared/data/bsd68/test00{k}.png').resize((4000, 3000), Image.LANCZOS)) for k in (1, 2, 3)], -1); [print(e,
#   len(imagecodecs.jpegxl_encode(x, lossless=True, effort=e)), time.perf_counter() - t) for e in (3, 5, 7) for t in
#   [time.perf_counter()]]"
EFFORT = 5
# the width-to-height ratios a SizeHeader may name instead of a width
RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def is_jpegxl(head: bytes) -> bool:
    """Whether a file's first 12 bytes are a JPEG XL codestream's or container's."""
    return head.startswith(CODESTREAM_SIGNATURE) or head.startswith(CONTAINER_SIGNATURE)


def codec(what: str):
    """imagecodecs with libjxl, or one sentence saying to install it."""
    try:
        import imagecodecs
    except ImportError:
        imagecodecs = None
    if imagecodecs is None or not imagecodecs.JPEGXL.available:
        raise DenoiseError(f"{what}: JPEG XL needs imagecodecs: pip install \"denoise-cli[jxl]\".")
    return imagecodecs


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bits: int  # per sample, as stored
    float_samples: bool
    orientation: int  # 1-8, as EXIF numbers them
    animated: bool
    colours: str | None  # "sRGB", "linear" (light) or "other" (_colours)
    xyb: bool  # coded in XYB, as lossy pictures are; a lossless one never is


class _Bits:
    """The codestream's bit reader: least significant bit first."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def read(self, count: int) -> int:
        value = 0
        for k in range(count):
            byte = self.at >> 3
            if byte >= len(self.data):
                raise ValueError("the header is cut short")
            value |= ((self.data[byte] >> (self.at & 7)) & 1) << k
            self.at += 1
        return value

    def u32(self, *choices: tuple[int, int]) -> int:
        """U32: a 2-bit selector picks (bits to read, offset to add); 0 bits is a constant."""
        bits, offset = choices[self.read(2)]
        return self.read(bits) + offset


def _size(bits: _Bits) -> tuple[int, int]:
    """A SizeHeader: (width, height); a small side is in units of 8 pixels."""
    small = bits.read(1)
    wide = ((9, 1), (13, 1), (18, 1), (30, 1))
    height = (bits.read(5) + 1) * 8 if small else bits.u32(*wide)
    ratio = bits.read(3)
    if ratio:
        num, den = RATIOS[ratio]
        return height * num // den, height
    return ((bits.read(5) + 1) * 8 if small else bits.u32(*wide)), height


def _skip_preview(bits: _Bits) -> None:
    div8 = bits.read(1)
    side = ((0, 16), (0, 32), (5, 1), (9, 33)) if div8 else ((6, 1), (8, 65), (10, 321), (12, 1345))
    bits.u32(*side)
    if bits.read(3) == 0:
        bits.u32(*side)


def _skip_animation(bits: _Bits) -> None:
    bits.u32((0, 100), (0, 1000), (10, 1), (30, 1))
    bits.u32((0, 1), (0, 1001), (8, 1), (10, 1))
    bits.u32((0, 0), (3, 0), (16, 0), (32, 0))
    bits.read(1)


def read_header(codestream: bytes) -> Header:
    """SizeHeader, then ImageMetadata up to its colour encoding (ISO/IEC 18181-1)."""
    bits = _Bits(codestream[2:])
    width, height = _size(bits)
    if bits.read(1):  # all_default: 8 bits, upright
        return Header(width, height, 8, False, 1, False, "sRGB", True)
    orientation, animated = 1, False
    if bits.read(1):  # extra_fields
        orientation = 1 + bits.read(3)
        if bits.read(1):
            _size(bits)  # intrinsic size
        if bits.read(1):
            _skip_preview(bits)
        animated = bool(bits.read(1))
        if animated:
            _skip_animation(bits)
    float_samples = bool(bits.read(1))
    if float_samples:
        sample_bits = bits.u32((0, 32), (0, 16), (0, 24), (6, 1))
        bits.read(4)  # exponent bits
    else:
        sample_bits = bits.u32((0, 8), (0, 10), (0, 12), (6, 1))
    bits.read(1)  # modular_16_bit_buffers
    for _ in range(bits.u32((0, 0), (0, 1), (4, 2), (12, 1))):
        if not bits.read(1):  # an extra channel other than a plain alpha: not followed
            return Header(width, height, sample_bits, float_samples, orientation, animated, None, False)
    xyb = bool(bits.read(1))
    return Header(width, height, sample_bits, float_samples, orientation, animated, _colours(bits), xyb)


def _colours(bits: _Bits) -> str:
    """The ColourEncoding: "sRGB" for sRGB's colours (RGB or gray, D65 white, sRGB primaries and
    transfer curve), as pixels are taken everywhere else; "linear" for the same in linear light
    (as floats are); "other"."""
    if bits.read(1):  # all_default
        return "sRGB"
    enum = ((0, 0), (0, 1), (4, 2), (6, 18))
    if bits.read(1):  # want_icc: a profile of its own
        return "other"
    space = bits.u32(*enum)  # 0 RGB, 1 gray, 2 XYB, 3 unknown
    if space not in (0, 1) or bits.u32(*enum) != 1:  # white point D65
        return "other"
    if space == 0 and bits.u32(*enum) != 1:  # sRGB primaries
        return "other"
    if bits.read(1):  # a plain gamma
        return "other"
    return {13: "sRGB", 8: "linear"}.get(bits.u32(*enum), "other")


def boxes(data: bytes) -> dict[str, list[bytes]]:
    """A container's top-level boxes by type, Brotli-compressed ones ("brob") decompressed under
    their own type; a bare codestream is one "jxlc"."""
    if not data.startswith(CONTAINER_SIGNATURE):
        return {"jxlc": [data]}
    found: dict[str, list[bytes]] = {}
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        head = 8
        if size == 1:
            size, head = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = len(data) - at
        if size < head:
            raise ValueError("a box is damaged")
        payload = data[at + head: at + size]
        name = kind.decode("latin-1")
        if name == "brob" and len(payload) >= 4:
            name, payload = payload[:4].decode("latin-1"), _brotli(payload[4:])
        found.setdefault(name, []).append(payload)
        at += size
    return found


def _brotli(data: bytes) -> bytes:
    try:
        return bytes(codec("a compressed JPEG XL box").brotli_decode(data))
    except DenoiseError:
        raise
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise ValueError("a compressed box is damaged") from exc


def codestream_of(found: dict[str, list[bytes]]) -> bytes:
    if "jxlc" in found:
        return found["jxlc"][0]
    if "jxlp" in found:  # parts, each after a 4-byte index
        return b"".join(part[4:] for part in found["jxlp"])
    raise ValueError("it holds no codestream")


def read_jpegxl(path: Path, max_pixels: int | None) -> ImageData:
    """The picture, upright, with its EXIF and XMP; any problem is one DenoiseError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DenoiseError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    try:
        found = boxes(data)
        header = read_header(codestream_of(found))
    except (ValueError, KeyError, struct.error):
        raise DenoiseError(f"{path}: cannot read the JPEG XL file (its header is damaged).") from None
    check_size(path, header.width, header.height, max_pixels)
    if header.animated:
        raise DenoiseError(f"{path}: an animated JPEG XL file, which denoise does not read; export one frame to denoise it.")
    imagecodecs = codec(str(path))
    try:
        pixels = imagecodecs.jpegxl_decode(data)
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise DenoiseError(f"{path}: cannot read the JPEG XL file ({exc}).") from None
    upright = (header.height, header.width) if header.orientation <= 4 else (header.width, header.height)
    if pixels.shape[:2] != upright or pixels.ndim == 3 and pixels.shape[-1] > 4:  # a depth map or CMYK's black besides, say
        channels = pixels.shape[0] if pixels.shape[:2] != upright else pixels.shape[-1]  # libjxl gives gray + extras planar
        raise DenoiseError(f"{path}: a JPEG XL picture of {channels} channels, which denoise does not read; save it as gray or RGB, "
                           "with or without alpha, to denoise it.")
    if pixels.dtype.kind == "f":
        pixels = pixels.astype(np.float32)
    elif pixels.dtype == np.uint16 and pixels.max(initial=0) < 1 << header.bits < 65536:  # 10 or 12 bits as stored: to 16
        pixels = on_sixteen_bits(pixels, header.bits)
    mode, planes, alpha, scale = planes_of(pixels)
    expected = ("sRGB", "linear", None) if header.float_samples else ("sRGB", None)  # floats hold linear light, as in a float TIFF
    warnings = [] if header.colours in expected else [
        f"{path}: its JPEG XL header gives it colours other than sRGB (a wide gamut or HDR, say), which its output does not record: "
        "they may look different there."]
    exif, camera = _exif(found, (planes.shape[2], planes.shape[1]), warnings, str(path))
    xmp = found.get("xml ", [None])[0]
    xmp = ORIENTATION.sub(rb"\g<1>1", xmp) if xmp else None
    return ImageData(planes, mode, scale, alpha, "JXL", exif, None, None, warnings, camera, lossless_coded=not header.xyb,
                     descriptive=Descriptive(xmp=xmp))


def _exif(found: dict[str, list[bytes]], size: tuple[int, int], warnings: list[str], name: str) -> tuple[bytes | None, str | None]:
    """The "Exif" box (a 4-byte offset to the TIFF header, then EXIF), upright, and the camera
    whose unresized photo it shows."""
    box = found.get("Exif", [b""])[0]
    if len(box) < 8:
        return None, None
    offset = int.from_bytes(box[:4], "big")
    exif = Image.Exif()
    try:
        exif.load(b"Exif\0\0" + box[4 + offset:])
    except Exception:  # noqa: BLE001 - Pillow raises many types on damaged EXIF
        warnings.append(f"{name}: its EXIF is damaged, so the output has none; the picture is denoised.")
        return None, None
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    return exif_bytes(exif, warnings, name), unresized_camera(exif, size)


def write_jpegxl(image: ImageData, path: Path, overwrite: bool, quality: int) -> None:
    """Lossy at `quality`, as cjxl writes anything but a JPEG by default, or lossless after a
    lossless source (a JPEG XL or WebP); a container with the EXIF and XMP when there are any."""
    imagecodecs = codec(str(path))
    pixels = interleaved(image)
    try:
        coding = {"lossless": True} if image.lossless_coded else {"level": quality}
        codestream = imagecodecs.jpegxl_encode(np.ascontiguousarray(pixels), effort=EFFORT, **coding)
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise DenoiseError(f"{path}: the encoder refused it ({exc}).") from None
    metadata = []
    if image.exif:
        tiff = image.exif[6:] if image.exif.startswith(b"Exif\0\0") else image.exif
        metadata.append(_box(b"Exif", b"\0\0\0\0" + tiff))
    if image.descriptive.xmp:
        metadata.append(_box(b"xml ", image.descriptive.xmp))
    if metadata:
        data = CONTAINER_SIGNATURE + _box(b"ftyp", b"jxl \0\0\0\0jxl ") + b"".join(metadata) + _box(b"jxlc", codestream)
    else:
        data = codestream
    write_atomically(path, lambda f: f.write(data), overwrite)


def _box(kind: bytes, payload: bytes) -> bytes:
    if len(payload) + 8 < 1 << 32:
        return struct.pack(">I4s", len(payload) + 8, kind) + payload
    return struct.pack(">I4sQ", 1, kind, len(payload) + 16) + payload
