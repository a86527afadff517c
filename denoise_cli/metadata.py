"""A file's descriptive metadata (XMP, IPTC, comments, PNG text), carried into the denoised file.

This is what photographers and archives write about a picture: captions, keywords, ratings,
copyright, a scanner's notes, the settings an image was made with. Pillow reads it but drops it
on saving a new image, so a denoised photo lost its keywords. EXIF, ICC profile and DPI, which
describe the pixels, are handled in imageio.py and exif.py; this module handles the rest:

- XMP: into every output format that holds it (JPEG, PNG, TIFF, WebP, AVIF, HEIC), except an
  XMP packet over 64 KB into a JPEG, which holds at most that in one marker (so does a comment;
  imageio.fit_metadata says what is left out, and cuts an EXIF too large for a JPEG).
  When the pixels were turned upright, its tiff:Orientation is set to 1, as EXIF's is.
- IPTC (a JPEG's Photoshop APP13 segment): from a JPEG into a JPEG, copied as it is.
- A JPEG's or GIF's comment: into a JPEG or GIF output.
- PNG text chunks (tEXt, zTXt, iTXt), and its gamma, chromaticities and sRGB intent (gAMA,
  cHRM, sRGB): from a PNG into a PNG.
- A HEIF's or AVIF's colour description (its nclx box: primaries, transfer, matrix, range), which
  says how an HDR photo's values are coded (BT.2020 with PQ or HLG), and a PNG's (its cICP
  chunk, the same codes): into a HEIC, and into a PNG without an ICC profile as cICP (Pillow
  writes an AVIF's as sRGB's).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from PIL import Image, JpegImagePlugin, PngImagePlugin

JPEG_MARKER_LIMIT = 65533  # the payload of one JPEG marker
JPEG_XMP_LIMIT = JPEG_MARKER_LIMIT - 29  # less XMP's namespace header
XMP_KEY = "XML:com.adobe.xmp"  # the PNG text chunk that holds XMP
ORIENTATION = re.compile(rb"""(tiff:Orientation\s*=\s*["']|<tiff:Orientation>\s*)[1-8]""")
XMP_TAG = 700  # TIFF
NCLX_PRIMARIES = {9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}  # the ITU-T H.273 codes of a colour box, other than sRGB's
NCLX_TRANSFERS = {8: "linear light", 16: "PQ (HDR)", 18: "HLG (HDR)"}
NCLX_KEYS = ("color_primaries", "transfer_characteristics", "matrix_coefficients", "full_range_flag")


@dataclass(frozen=True)
class Descriptive:
    xmp: bytes | None = None
    iptc: list[bytes] = field(default_factory=list)  # a JPEG's APP13 payloads, in order
    comment: bytes | None = None
    png_text: dict[str, str] = field(default_factory=dict)
    png_colour: list[tuple[bytes, bytes]] = field(default_factory=list)  # a PNG's gAMA, cHRM and sRGB chunks
    colour_box: dict[str, int] = field(default_factory=dict)  # a HEIF's or AVIF's nclx values, by pillow-heif's save() keywords


def read_descriptive(img: Image.Image, turned_upright: bool) -> Descriptive:
    """What `img`, as opened from its file, says of its picture."""
    xmp = img.info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if xmp and turned_upright:
        xmp = ORIENTATION.sub(rb"\g<1>1", xmp)
    jpeg = isinstance(img, JpegImagePlugin.JpegImageFile)  # MPO too: a phone's JPEG with a second picture
    iptc = [payload for marker, payload in img.applist if marker == "APP13"] if jpeg else []
    comment = img.info.get("comment") if jpeg or img.format == "GIF" else None
    if isinstance(comment, str):
        comment = comment.encode("utf-8")
    text = {key: str(value) for key, value in getattr(img, "text", {}).items() if key != XMP_KEY} if img.format == "PNG" else {}
    nclx = img.info.get("nclx_profile") if img.format == "HEIF" else None
    colour_box = {key: int(nclx[key]) for key in NCLX_KEYS if key in nclx} if isinstance(nclx, dict) else {}
    if img.format == "PNG" and getattr(img, "filename", None):
        colour_box = _png_cicp(img.filename)
    return Descriptive(xmp or None, iptc, comment or None, text, _png_colour(img) if img.format == "PNG" else [], colour_box)


def coded_otherwise(colour_box: dict[str, int]) -> list[str]:
    """The primaries and transfer a colour box codes values with where they are not sRGB's
    (["BT.2020", "PQ (HDR)"], say): a viewer that does not read the box shows them wrongly."""
    coded = [NCLX_PRIMARIES.get(colour_box.get("color_primaries", 1)), NCLX_TRANSFERS.get(colour_box.get("transfer_characteristics", 13))]
    return [c for c in coded if c]


def _png_cicp(filename: str) -> dict[str, int]:
    """A PNG's cICP chunk (PNG's third edition: primaries, transfer, matrix 0, range), which
    Pillow skips, as a colour box; the chunks before the pixels are walked, not read."""
    try:
        with open(filename, "rb") as fp:
            fp.seek(8)
            while len(head := fp.read(8)) == 8:
                length, kind = struct.unpack(">I4s", head)
                if kind == b"cICP" and length == 4:
                    return dict(zip(NCLX_KEYS, fp.read(4)))
                if kind in (b"IDAT", b"IEND"):
                    break
                fp.seek(length + 4, 1)
    except OSError:
        pass
    return {}


def _png_colour(img: Image.Image) -> list[tuple[bytes, bytes]]:
    """A PNG's gamma, chromaticities and sRGB intent, as the chunks that held them (Pillow keeps
    their values in `info` but writes none back). A viewer without them takes the picture for
    sRGB: a linear scan's (gamma 1.0) would come out darker."""
    info, chunks = img.info, []
    if "gamma" in info:
        chunks.append((b"gAMA", struct.pack(">I", round(info["gamma"] * 100000))))
    if "chromaticity" in info:
        chunks.append((b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in info["chromaticity"]))))
    if "srgb" in info:
        chunks.append((b"sRGB", bytes([info["srgb"]])))
    return chunks


def save_options(meta: Descriptive, fmt: str, options: dict) -> None:
    """Add to Pillow's save() keywords for `fmt` what it can carry of `meta`; `options` may hold
    the EXIF already ("exif"), which a TIFF's XMP joins as a tag."""
    if meta.xmp and fmt in ("JPEG", "WEBP", "AVIF", "HEIF") and not (fmt == "JPEG" and len(meta.xmp) > JPEG_XMP_LIMIT):
        options["xmp"] = meta.xmp
    if meta.xmp and fmt == "TIFF":
        tags = Image.Exif()
        if options.get("exif"):
            tags.load(options["exif"])
        tags[XMP_TAG] = meta.xmp
        options["exif"] = tags
    if meta.iptc and fmt == "JPEG":
        options["extra"] = b"".join(b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload for payload in meta.iptc)
    if meta.colour_box and fmt == "HEIF" and len(meta.colour_box) == len(NCLX_KEYS):  # else pillow-heif writes sRGB's
        options.update(meta.colour_box)
    if meta.comment and fmt in ("JPEG", "GIF") and not (fmt == "JPEG" and len(meta.comment) > JPEG_MARKER_LIMIT):
        options["comment"] = meta.comment
    cicp = fmt == "PNG" and not options.get("icc_profile") and coded_otherwise(meta.colour_box)  # an ICC profile says it already
    if fmt == "PNG" and (meta.png_text or meta.xmp or meta.png_colour or cicp):
        chunks = PngImagePlugin.PngInfo()
        if cicp:  # RGB pixels (matrix 0); a HEIF's range flag is its YCbCr's, and RGB decoded from it spans the full range
            box = meta.colour_box
            full = box.get("full_range_flag", 1) if box.get("matrix_coefficients", 0) == 0 else 1
            chunks.add(b"cICP", bytes([box.get("color_primaries", 1), box.get("transfer_characteristics", 13), 0, full]))
        for kind, data in meta.png_colour:
            chunks.add(kind, data)
        for key, value in meta.png_text.items():
            _add_png_text(chunks, key, value)
        if meta.xmp:
            chunks.add_itxt(XMP_KEY, meta.xmp.decode("utf-8", "replace"))
        options["pnginfo"] = chunks


def _add_png_text(chunks: PngImagePlugin.PngInfo, key: str, value: str) -> None:
    """tEXt where the text is Latin-1 (compressed when long), else iTXt (UTF-8)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        chunks.add_itxt(key, value, zip=len(value) > 1024)
        return
    chunks.add_text(key, value, zip=len(value) > 1024)
