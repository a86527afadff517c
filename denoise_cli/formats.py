"""The output formats as users name them (`--format`, `format=`), and Pillow's names for them.

Apart from imageio so that the command line can check --format without importing Pillow.
"""

from __future__ import annotations

# the user's name -> Pillow's (JXL, which Pillow has not, is jpegxl.py's), in the order messages list them
PILLOW_NAMES = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP", "avif": "AVIF", "heic": "HEIF", "gif": "GIF",
                "jp2": "JPEG2000", "jxl": "JXL", "pnm": "PPM"}
# names as file extensions spell them
ALIASES = {"jpg": "jpeg", "tif": "tiff", "heif": "heic", "j2k": "jp2", "jpeg2000": "jp2", "jpegxl": "jxl", "pgm": "pnm", "ppm": "pnm", "pbm": "pnm"}
USER_NAMES = {pillow: user for user, pillow in PILLOW_NAMES.items()}


def user_name(requested: str) -> str | None:
    """A format's name, or its extension (`jpg`, in any case) -> the user's name; None if unknown."""
    name = ALIASES.get(requested.lower(), requested.lower())
    return name if name in PILLOW_NAMES else None
