"""What a photo's EXIF says that denoise acts on: its orientation (the output is written
upright), whether it is a camera's own unresized picture, and which tags describe the picture
rather than the file's layout.

A photo is marked as a camera's own (`ImageData.camera`) when its EXIF names the camera (Make or
Model) and records a pixel size (ExifImageWidth / ExifImageHeight) equal to the file's, and that
size is a sensor's (at least CAMERA_MIN_PIXELS): not resized since it left the camera, so as smooth
at the pixel scale as the camera made it. The size floor is there because editors that export a
smaller copy (for the web, say) rewrite the recorded size and keep Make and Model.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

from denoise_cli.metadata import JPEG_MARKER_LIMIT

ORIENTATION_TAG = 0x0112
MAKE_TAG, MODEL_TAG = 0x010F, 0x0110
EXIF_IFD = 0x8769
EXIF_WIDTH_TAG, EXIF_HEIGHT_TAG = 0xA002, 0xA003
BULKY_TAGS = {0x927C: "the camera maker's notes", 0x9286: "the user comment"}  # what a big EXIF is big with
CAMERA_MIN_PIXELS = 5_000_000  # phones and cameras record 8-50 MP; web exports are 1-4 MP
# TIFF tags that describe a file's pixel layout, not the picture: a TIFF's getexif() includes
# them, and copying them into another file would corrupt it. YCbCrPositioning (531) is among
# them: where a JPEG's chroma samples sit is its encoder's doing. Left out, readers take the
# default, centred, which is what libjpeg writes; a camera's "co-sited" would misdescribe our file.
LAYOUT_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289,
    290, 291, 317, 318, 319, 320, 321, 322, 323, 324, 325, 338, 339, 340, 341, 347, 512, 513, 514,
    515, 517, 518, 519, 520, 521, 529, 530, 531, 532, 700, 33723, 34377, 34675, 37724,
}
# The picture's resolution (X, Y, unit): picture, not layout, so kept in the EXIF as the input had
# it; the output format's own resolution field (JFIF, pHYs, a TIFF's tags) comes from `ImageData.dpi`.
X_RESOLUTION_TAG, Y_RESOLUTION_TAG, RESOLUTION_UNIT_TAG = 282, 283, 296
RESOLUTION_TAGS = {X_RESOLUTION_TAG, Y_RESOLUTION_TAG, RESOLUTION_UNIT_TAG}
IMAGE_DESCRIPTION_TAG = 270
ORIENTATIONS: dict[int, Callable[[np.ndarray], np.ndarray]] = {  # EXIF orientation -> upright (H, W, C)
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}
TIFF_TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, software, date, artist, copyright
# EXIF orientation -> the transpose that makes a Pillow image upright (ImageOps.exif_transpose's,
# without its rewriting of the EXIF, which raises on damaged EXIF that Pillow could read).
TRANSPOSES = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
SIDEWAYS = {5, 6, 7, 8}  # orientations whose upright picture swaps width and height (and X and Y resolution)


def exif_bytes(exif: Image.Exif, warnings: list[str], name: str) -> bytes | None:
    """The EXIF to write back, or None (none, or damaged beyond writing: said in `warnings`).
    Always in classic TIFF form: a BigTIFF's tags come with its 64-bit header, which no format
    holds EXIF in and which Pillow itself cannot read back."""
    if not len(exif):
        return None
    exif.bigtiff = False
    try:
        data = exif.tobytes()
        Image.Exif().load(data)  # as Pillow's TIFF writer reads it back: refused now, not after the work
        return data
    except Exception:  # noqa: BLE001 - Pillow raises many types on damaged EXIF it could read but cannot write back
        warnings.append(f"{name}: its EXIF is damaged and cannot be written back, so the output has none; the picture is denoised.")
        return None


def describes_layout(description: object) -> bool:
    """Whether a TIFF's ImageDescription is a program's record of the file's layout, not a caption:
    tifffile's JSON shape, ImageJ's hyperstack header, OME-XML. Carried into the output, whose
    layout differs (planar RGB comes out interleaved), it would misguide those programs."""
    text = description.decode("latin-1", "replace") if isinstance(description, bytes) else description
    return isinstance(text, str) and (text.lstrip().startswith(('{"shape"', "ImageJ=")) or "<OME" in text[:1000])


def fit_in_jpeg(data: bytes) -> tuple[bytes | None, str | None]:
    """The EXIF a JPEG can hold, and what was left out to fit it (None: nothing). A JPEG holds
    EXIF in one marker segment, at most 64 KB, where a TIFF or PNG holds any size (a raw
    converter's copy of the camera maker's notes, say), and Pillow refuses the whole file past
    it. The maker's private notes and the user comment go first; if that is not enough, all."""
    if len(data) <= JPEG_MARKER_LIMIT:
        return data, None
    removed: list[str] = []
    try:
        exif = Image.Exif()
        exif.load(data)
        for tags in (exif, exif.get_ifd(EXIF_IFD)):
            for tag, name in BULKY_TAGS.items():
                if tags.pop(tag, None) is not None:
                    removed.append(name)
        smaller = exif.tobytes()
    except Exception:  # noqa: BLE001 - Pillow raises many types on EXIF it cannot rewrite
        smaller = b""
    if removed and 0 < len(smaller) <= JPEG_MARKER_LIMIT:  # "Exif\0\0" included, as Pillow counts
        return smaller, " and ".join(removed)
    return None, "the EXIF"


def unresized_camera(exif: Image.Exif, size: tuple[int, int]) -> str | None:
    """"Make Model" when the EXIF names a camera and records `size` (the stored pixel size, before
    any orientation is applied) as the picture's, at a sensor's size; else None. Malformed EXIF
    counts as none."""
    if size[0] * size[1] < CAMERA_MIN_PIXELS:
        return None
    try:
        make, model = (str(exif.get(tag) or "").strip(" \x00") for tag in (MAKE_TAG, MODEL_TAG))
        recorded = exif.get_ifd(EXIF_IFD)
        recorded_size = (recorded.get(EXIF_WIDTH_TAG), recorded.get(EXIF_HEIGHT_TAG))
    except Exception:  # noqa: BLE001 - Pillow raises many types on broken EXIF; it only loses the hint
        return None
    if not (make or model) or tuple(recorded_size) != tuple(size):
        return None
    brand = make.split()[0].lower() if make else ""
    return model if model.lower().startswith(brand) else f"{make} {model}".strip()  # "Canon EOS 80D", not "Canon Canon EOS 80D"
