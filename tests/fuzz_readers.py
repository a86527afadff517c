"""Damaged files through the image reader: every one must be a DenoiseError, never another
exception (which would reach the user as a traceback, or as a batch's "unexpected" line).

Not a test (pytest collects test_*.py only): it takes a minute or two. Run it after touching
imageio.py or highdepth.py, or after a Pillow, tifffile or imagecodecs upgrade:

    python tests/fuzz_readers.py            # 300 damaged copies of each sample file
    python tests/fuzz_readers.py --copies 50

Each sample file (one per format and layout the reader handles) is damaged three ways, in turn:
cut at a random length; 1-5 random bytes in its first 400 (the header); 1-5 anywhere. Seeded, so
a run is repeatable. Prints a table of outcomes and exits 1 if any copy raised anything else.
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, features

from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import read_image, use_heif_plugin


def samples() -> dict[str, bytes]:
    """Small valid files, each with some metadata for the reader to walk through."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Canon"

    def pillow(image: Image.Image, fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        return buffer.getvalue()

    out = {
        "png": pillow(Image.fromarray(rgb), "PNG", exif=exif.tobytes()),
        "jpg": pillow(Image.fromarray(rgb), "JPEG", exif=exif.tobytes(), quality=90),
        "tif": pillow(Image.fromarray(rgb), "TIFF", compression="tiff_lzw", exif=exif.tobytes()),
        "pages.tif": pillow(Image.fromarray(rgb), "TIFF", save_all=True, append_images=[Image.fromarray(rgb[..., 0])]),
        "bmp": pillow(Image.fromarray(rgb), "BMP"),
        "gif": pillow(Image.fromarray(rgb).convert("P"), "GIF"),
        "webp": pillow(Image.fromarray(rgb), "WEBP", exif=exif.tobytes()),
        "ppm": b"P6\n50 40\n65535\n" + rng.integers(0, 65536, (40, 50, 3)).astype(">u2").tobytes(),
    }
    if features.check("avif"):
        out["avif"] = pillow(Image.fromarray(rgb), "AVIF", exif=exif.tobytes())
    if features.check("jpg_2000"):
        out["jp2"] = pillow(Image.fromarray(rgb), "JPEG2000")
        out["j2k"] = pillow(Image.fromarray(rgb[..., 0]), "JPEG2000", no_jp2=True)
    try:
        use_heif_plugin("fuzz")
        out["heic"] = pillow(Image.fromarray(rgb), "HEIF", exif=exif.tobytes())
        import pillow_heif

        for name, mode, pixels in (("10-bit.heic", "RGB;16", rng.integers(0, 1024, (40, 50, 3))), ("10-bit-gray.heic", "L;16", rng.integers(0, 1024, (40, 50)))):
            buffer = io.BytesIO()  # a camera's .HIF: read at its depth for a HEIC output (read_image's output_format)
            pillow_heif.from_bytes(mode, (50, 40), (pixels.astype(np.uint16) << 6).tobytes()).save(buffer, quality=90, exif=exif.tobytes())
            out[name] = buffer.getvalue()
    except DenoiseError:
        pass
    chunks = PngImagePlugin.PngInfo()
    chunks.add(b"cICP", bytes([9, 16, 0, 1]))  # an HDR PNG's colour coding, which the reader walks the chunks for
    out["cicp.png"] = pillow(Image.fromarray(rgb), "PNG", pnginfo=chunks)
    try:
        import imagecodecs
        import tifffile
    except ImportError:
        return out
    deep = rng.integers(0, 65536, (40, 50, 3)).astype(np.uint16)
    if features.check("jpg_2000"):
        out["16-bit.jp2"] = imagecodecs.jpeg2k_encode(deep, level=0, codecformat="jp2")
    for name, pixels, options in (
        ("16-bit.tif", deep, {"photometric": "rgb", "compression": "zlib", "extratags": [(274, "H", 1, 6, True)]}),
        ("float.tif", rng.random((40, 50, 3)).astype(np.float32), {"photometric": "rgb", "compression": "zlib"}),
        ("float64.tif", rng.random((40, 50)), {"resolution": (300, 300), "resolutionunit": "INCH"}),
        ("jpeg2000.tif", rgb, {"photometric": "rgb", "compression": "jpeg2000"}),  # codecs Pillow's libtiff lacks
        ("webp.tif", rgb, {"photometric": "rgb", "compression": "webp"}),
        ("lerc.tif", rgb[..., 0], {"photometric": "miniswhite", "compression": "lerc"}),
    ):
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, pixels, **options)
        out[name] = buffer.getvalue()
    out["16-bit.png"] = imagecodecs.png_encode(deep)
    if features.check("avif") and imagecodecs.AVIF.available:  # an HDR AVIF: read at its depth for a PNG output
        out["10-bit.avif"] = bytes(imagecodecs.avif_encode(deep >> 6, level=90, bitspersample=10))
    out["jxl"] = bytes(imagecodecs.jpegxl_encode(rgb, level=90))
    def box(kind: bytes, payload: bytes) -> bytes:
        return (len(payload) + 8).to_bytes(4, "big") + kind + payload

    out["boxes.jxl"] = (b"\0\0\0\x0cJXL \r\n\x87\n" + box(b"ftyp", b"jxl \0\0\0\0jxl ") + box(b"Exif", b"\0\0\0\0" + exif.tobytes()[6:])
                        + box(b"brob", b"xml " + imagecodecs.brotli_encode(b"<x:xmpmeta/>")) + box(b"jxlc", out["jxl"]))  # as cjxl writes
    out["gray-alpha.png"] = imagecodecs.png_encode(np.ascontiguousarray(deep[..., :2]))
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ascontiguousarray(deep[..., :2]), photometric="minisblack", extrasamples=("unassalpha",))
    out["gray-alpha.tif"] = buffer.getvalue()
    return out


def read(path: Path, name: str) -> None:
    """Read a damaged copy of sample `name` as `denoise` would for an output in its own format
    (a 10-bit HEIC is then decoded twice: at 8 bits, and at its depth), a 10-bit AVIF for a PNG
    output (an AVIF output is written at 8 bits)."""
    read_image(path, output_format="HEIF" if name.endswith("heic") else "PNG" if name == "10-bit.avif" else None)


def damaged(data: bytes, copy: int, rng: random.Random) -> bytes:
    if copy % 3 == 0:
        return data[: rng.randrange(8, len(data))]
    out = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        out[rng.randrange(0, min(len(out), 400) if copy % 3 == 1 else len(out))] = rng.randrange(256)
    return bytes(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300, help="damaged copies of each sample file")
    copies = parser.parse_args().copies
    warnings.simplefilter("ignore")  # Pillow's and numpy's, on damaged files: not what is counted here
    logging.disable(logging.CRITICAL)  # tifffile's and Pillow's logs, as the CLI silences them
    uncaught = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, data in samples().items():
            rng, outcomes = random.Random(name), Counter()
            path = Path(folder) / f"damaged.{name.rsplit('.', 1)[-1]}"
            for copy in range(copies):
                path.write_bytes(damaged(data, copy, rng))
                try:
                    read(path, name)
                    outcomes["read"] += 1
                except DenoiseError:
                    outcomes["one error line"] += 1
                except Exception as exc:  # noqa: BLE001 - what this looks for
                    outcomes[f"UNCAUGHT {type(exc).__name__}"] += 1
                    uncaught += 1
                    print(f"{name} copy {copy}: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(f"{name:14} " + ", ".join(f"{count} {what}" for what, count in sorted(outcomes.items())))
    print(f"{uncaught} uncaught")
    return 1 if uncaught else 0


if __name__ == "__main__":
    sys.exit(main())
