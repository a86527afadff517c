"""Every image mode through a real file round trip with an identity model: depth, alpha, EXIF
orientation, ICC profile and DPI survive; palette, bilevel, CMYK and multi-frame inputs get the
documented behaviour."""

from __future__ import annotations

import importlib.util
import io
import os
import stat
import struct
import warnings

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, PngImagePlugin, features

from conftest import camera_exif
from denoise_cli import Denoiser
from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import camera_of, read_image, write_image


@pytest.fixture
def identity(identity_fixed):
    return Denoiser(identity_fixed, "cpu")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _round_trip(identity, tmp_path, image: Image.Image, name: str, out_name: str | None = None, **save):
    src = tmp_path / name
    image.save(src, **save)
    dst = tmp_path / (out_name or f"out_{name}")
    identity.denoise_file(src, dst)
    return Image.open(src), Image.open(dst)


@pytest.mark.parametrize("mode,dtype,high", [("L", np.uint8, 255), ("I;16", np.uint16, 65535)])
def test_integer_grayscale_keeps_depth_and_values(identity, tmp_path, mode, dtype, high):
    pixels = _rng().integers(0, high + 1, size=(37, 53), dtype=dtype)
    src, out = _round_trip(identity, tmp_path, Image.fromarray(pixels), "gray.png")
    assert out.mode == src.mode
    assert np.array_equal(np.asarray(out), pixels)


def test_16_bit_tiff_keeps_full_precision(identity, tmp_path):
    pixels = _rng(1).integers(0, 65536, size=(30, 40), dtype=np.uint16)
    src, out = _round_trip(identity, tmp_path, Image.fromarray(pixels), "scan.tif")
    assert np.array_equal(np.asarray(out), pixels)
    assert len(np.unique(np.asarray(out))) > 256  # not rounded to 8 bits


def test_float_tiff_keeps_float(identity, tmp_path):
    pixels = _rng(2).random((30, 40), dtype=np.float32)
    _, out = _round_trip(identity, tmp_path, Image.fromarray(pixels), "float.tif")
    assert out.mode == "F"
    assert np.allclose(np.asarray(out), pixels, atol=1e-6)


def test_float_outside_unit_range_keeps_its_range(identity, tmp_path):
    pixels = (_rng(3).random((20, 30), dtype=np.float32) * 1000 - 200).astype(np.float32)
    _, out = _round_trip(identity, tmp_path, Image.fromarray(pixels), "raw.tif")
    assert np.allclose(np.asarray(out), pixels, atol=1e-3)


def test_a_float_range_wider_than_float32_spans_is_kept_not_turned_to_nan(identity, tmp_path):
    """Values from -1e38 to 3e38 fit float32, but their span does not: scaled in float32 the
    picture came back all NaN, with numpy's overflow warnings."""
    pixels = (_rng(4).random((20, 30)) * 4e38 - 1e38).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        _, out = _round_trip(identity, tmp_path, Image.fromarray(pixels), "wide.tif")
    assert np.allclose(np.asarray(out), pixels, rtol=1e-5, atol=1e33)


def test_nan_and_infinite_pixels_are_left_so_and_the_others_denoised(conv_stack, tmp_path):
    """Missing data in a float image: the holes keep their values; elsewhere the output is finite,
    and beyond the receptive field (7 px) of any hole it is what the image without holes gives."""
    pixels = (_rng(5).random((60, 70), dtype=np.float32) * 1000 - 200).astype(np.float32)
    pixels[0, 0], pixels[-1, -1] = -200.0, 800.0  # the range with the holes' values left out
    holed = pixels.copy()
    holed[20:30, 25:40] = np.nan
    holed[50, 5] = np.inf
    Image.fromarray(pixels).save(tmp_path / "whole.tif")
    Image.fromarray(holed).save(tmp_path / "holed.tif")
    denoiser = Denoiser(conv_stack, "cpu")
    denoiser.denoise_file(tmp_path / "whole.tif", tmp_path / "whole_out.tif")
    result = denoiser.denoise_file(tmp_path / "holed.tif", tmp_path / "holed_out.tif")
    assert any("151 pixels are NaN or infinite" in w for w in result.warnings)
    whole, out = (np.asarray(Image.open(tmp_path / f"{n}_out.tif")) for n in ("whole", "holed"))
    assert np.isnan(out[20:30, 25:40]).all() and out[50, 5] == np.inf
    holes = ~np.isfinite(holed)
    assert np.isfinite(out[~holes]).all()
    near = np.zeros_like(holes)
    near[20 - 7:30 + 7, 25 - 7:40 + 7] = True
    near[50 - 7:50 + 8, 0:5 + 8] = True
    assert np.allclose(out[~near], whole[~near], atol=1e-3)


def test_32_bit_integer_grayscale(identity, tmp_path):
    pixels = _rng(4).integers(0, 65536, size=(20, 30)).astype(np.int32)
    _, out = _round_trip(identity, tmp_path, Image.fromarray(pixels, mode="I") if False else Image.fromarray(pixels), "int.tif")
    assert out.mode == "I"
    assert np.array_equal(np.asarray(out), pixels)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_colour_and_alpha_round_trip(identity, tmp_path, mode):
    bands = len(mode)
    pixels = _rng(5).integers(0, 256, size=(31, 45, bands), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0]) if bands == 1 else Image.merge(mode, [Image.fromarray(pixels[..., k]) for k in range(bands)])
    _, out = _round_trip(identity, tmp_path, image, "colour.png")
    assert out.mode == mode
    assert np.array_equal(np.asarray(out), pixels)


def test_alpha_is_never_denoised(box_blur, tmp_path):
    rgba = _rng(6).integers(0, 256, size=(40, 40, 4), dtype=np.uint8)
    src = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(src)
    Denoiser(box_blur, "cpu").denoise_file(src, tmp_path / "b.png")
    out = np.asarray(Image.open(tmp_path / "b.png"))
    assert np.array_equal(out[..., 3], rgba[..., 3])
    assert not np.array_equal(out[..., :3], rgba[..., :3])  # the colour planes were blurred


def test_palette_becomes_rgb_and_transparency_becomes_alpha(identity, tmp_path):
    pal = Image.fromarray(_rng(7).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).quantize(16)
    _, out = _round_trip(identity, tmp_path, pal, "pal.png")
    assert out.mode == "RGB"
    assert np.array_equal(np.asarray(out), np.asarray(pal.convert("RGB")))
    pal.info["transparency"] = 0
    src = tmp_path / "palt.png"
    pal.save(src, transparency=0)
    identity.denoise_file(src, tmp_path / "palt_out.png")
    assert Image.open(tmp_path / "palt_out.png").mode == "RGBA"


@pytest.mark.parametrize("mode,key", [("RGB", (200, 200, 200)), ("L", 200)])
def test_a_png_colour_key_becomes_alpha(box_blur, tmp_path, mode, key):
    """A PNG whose pixels of one value are transparent (tRNS): denoising moves that value, and
    the picture came back opaque. The key becomes an alpha channel, kept untouched."""
    pixels = np.full((20, 30, 3) if mode == "RGB" else (20, 30), 200, np.uint8)
    pixels[5:15, 5:25] = 40
    Image.fromarray(pixels).save(tmp_path / "keyed.png", transparency=key)
    Denoiser(box_blur, "cpu").denoise_file(tmp_path / "keyed.png", tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    assert out.mode == mode + "A"
    first = pixels[..., 0] if mode == "RGB" else pixels
    assert np.array_equal(np.asarray(out.getchannel("A")), np.where(first == 200, 0, 255))  # transparent where the key was


def test_a_1_bit_picture_stays_1_bit_while_its_output_is_black_and_white(identity, box_blur, tmp_path):
    """A fax folder through `sp` must come back as faxes (1 bit, the fax coding kept), not as
    8-bit gray files; a model that makes grays gets 8-bit gray, and a JPEG cannot hold 1 bit."""
    bits = Image.fromarray(_rng(8).integers(0, 2, size=(20, 30), dtype=np.uint8) * 255).convert("1")
    _, out = _round_trip(identity, tmp_path, bits, "bits.png")
    assert out.mode == "1" and np.array_equal(np.asarray(out.convert("L")), np.asarray(bits.convert("L")))
    _, blurred = _round_trip(Denoiser(box_blur, "cpu"), tmp_path, bits, "blurred.png")
    assert blurred.mode == "L"
    page = np.full((60, 80), 255, np.uint8)
    page[10:50, 20] = page[30, 25:70] = 0  # one-pixel lines
    noisy = page.copy()
    noisy[5, 60] = noisy[55, 5] = 0  # lone specks
    Image.fromarray(noisy).convert("1").save(tmp_path / "fax.tif", compression="group4", dpi=(200, 200))
    Denoiser("sp", "cpu").denoise_file(tmp_path / "fax.tif", tmp_path / "fax_out.tif")
    with Image.open(tmp_path / "fax_out.tif") as out:
        assert out.mode == "1" and out.info["compression"] == "group4" and out.info["dpi"] == (200, 200)
        assert np.array_equal(np.asarray(out.convert("L")), page)
    identity.denoise_file(tmp_path / "fax.tif", tmp_path / "fax.jpg")
    assert Image.open(tmp_path / "fax.jpg").mode == "L"
    assert identity.denoise(bits).mode == "1"  # the Python API on a Pillow image, alike


def test_a_phone_s_jpeg_with_a_second_picture_is_written_as_its_main_picture(identity, tmp_path):
    main = Image.fromarray(_rng(8).integers(0, 256, size=(24, 32, 3), dtype=np.uint8))
    main.save(tmp_path / "pixel.jpg", format="MPO", save_all=True, append_images=[Image.new("L", (8, 6))], quality=95)
    result = identity.denoise_file(tmp_path / "pixel.jpg", tmp_path / "pixel_out.jpg")
    assert [w for w in result.warnings if "1 secondary picture" in w and "main picture alone" in w]
    out = Image.open(tmp_path / "pixel_out.jpg")
    assert out.format == "JPEG" and out.size == (32, 24) and getattr(out, "n_frames", 1) == 1


def test_cmyk_jpeg_stays_cmyk(identity, tmp_path):
    cmyk = Image.fromarray(_rng(9).integers(0, 256, size=(24, 24, 3), dtype=np.uint8)).convert("CMYK")
    _, out = _round_trip(identity, tmp_path, cmyk, "cmyk.jpg", quality=95)
    assert out.mode == "CMYK"


def test_multi_frame_gif_denoises_the_first_frame_with_a_warning(identity, tmp_path):
    frames = [Image.fromarray(_rng(k).integers(0, 256, size=(16, 16), dtype=np.uint8)) for k in range(3)]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:])
    result = identity.denoise_file(src, tmp_path / "anim_out.png")
    assert any("3 frames" in w for w in result.warnings)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "anim_out.png")), np.asarray(Image.open(src).convert("L")))


def test_a_multi_page_tiff_has_every_page_denoised_on_its_own(tmp_path, level_echo, box_blur):
    """A scanned document: every page comes back, in order and mode, each denoised as if alone
    (its own noise reading: level_echo writes the level it was fed); into PNG, the first page
    alone, with a warning; --max-pixels counts the pages together."""
    pages = [Image.fromarray((_rng(k).normal(128, 5 + 20 * k, (24 + 8 * k, 40)).clip(0, 255)).astype(np.uint8)) for k in range(3)]
    pages[2] = pages[2].convert("RGB")
    src = tmp_path / "document.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:], compression="tiff_lzw", dpi=(300, 300))
    blur = Denoiser(box_blur, device="cpu")
    result = blur.denoise_file(src, tmp_path / "blurred.tif")
    assert result.pages == 3 and not result.warnings
    with Image.open(tmp_path / "blurred.tif") as out:
        assert out.n_frames == 3 and out.info["compression"] == "tiff_lzw" and out.info["dpi"] == (300, 300)
        for k, page in enumerate(pages):
            out.seek(k)
            assert out.mode == page.mode and np.array_equal(np.asarray(out), np.asarray(blur.denoise(page)))
    echo = Denoiser(level_echo, device="cpu")
    echo.denoise_file(src, tmp_path / "levels.tif")
    with Image.open(tmp_path / "levels.tif") as out:
        levels = [(out.seek(k), np.asarray(out).mean())[1] for k in range(3)]
    assert levels[0] < levels[1] < levels[2]  # each page's own reading, noisier pages higher
    first = blur.denoise_file(src, tmp_path / "first.png")
    assert first.pages == 1 and any("has 3 pages, and PNG holds one" in w for w in first.warnings)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "first.png")), np.asarray(blur.denoise(pages[0])))
    with pytest.raises(DenoiseError, match="its 3 pages hold over"):
        Denoiser(box_blur, device="cpu", max_pixels=3000).denoise_file(src, tmp_path / "big.tif")


def test_exif_orientation_is_applied_and_exif_kept(identity, tmp_path):
    """The camera's tags come back, its resolution among them (picture, not file layout), turned
    with the pixels; a sideways photo's X and Y resolution swap as its width and height do."""
    pixels = _rng(10).integers(0, 256, size=(20, 40, 3), dtype=np.uint8)
    for orientation, resolution in ((6, (200.0, 300.0)), (1, (300.0, 200.0))):  # 6: rotate 90 degrees clockwise to display
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "TestCam"  # Make
        exif[282], exif[283], exif[296] = 300.0, 200.0, 2  # X and Y resolution, in inches
        src = tmp_path / "rot.jpg"
        Image.fromarray(pixels).save(src, exif=exif, quality=95)
        identity.denoise_file(src, tmp_path / "rot_out.jpg", overwrite=True)
        out = Image.open(tmp_path / "rot_out.jpg")
        assert out.size == ((20, 40) if orientation == 6 else (40, 20))  # width and height swapped: the pixels are upright now
        kept = out.getexif()
        assert kept.get(0x0112, 1) == 1
        assert kept.get(0x010F) == "TestCam"
        assert (kept.get(282), kept.get(283), kept.get(296)) == (*resolution, 2)


def test_a_camera_s_own_unresized_photo_is_recognised(tmp_path):
    """EXIF naming a camera and recording the file's own sensor-sized pixel count marks the photo
    as the camera's (the cue for its automatic strength); a resized copy, a small export that
    records its new size, or a file without a camera is not marked."""
    full, small = (2600, 2000), (1600, 1200)  # 5.2 MP: a sensor's size; 1.9 MP: a web export's
    cases = {
        "own.jpg": (full, camera_exif("Canon", "Canon EOS 80D", full), "Canon EOS 80D"),
        "rotated.jpg": (full, camera_exif("NIKON CORPORATION", "NIKON D800", full, orientation=6), "NIKON D800"),
        "phone.png": (full, camera_exif("Google", "Pixel 7", full), "Google Pixel 7"),
        "resized.jpg": (full, camera_exif("Canon", "Canon EOS 80D", (6000, 4000)), None),
        "web-export.jpg": (small, camera_exif("Canon", "Canon EOS 80D", small), None),
        "no-camera.jpg": (full, camera_exif("", "", full), None),
        "no-exif.jpg": (full, None, None),
    }
    for name, (size, exif, camera) in cases.items():
        Image.new("L", size, 120).save(tmp_path / name, **({"exif": exif} if exif is not None else {}))
        assert read_image(tmp_path / name).camera == camera, name
        assert camera_of(tmp_path / name) == camera, name


def test_icc_profile_and_dpi_are_kept(identity, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.fromarray(_rng(11).integers(0, 256, size=(20, 20, 3), dtype=np.uint8))
    src = tmp_path / "icc.png"
    image.save(src, icc_profile=icc, dpi=(300, 300))
    identity.denoise_file(src, tmp_path / "icc_out.tif")
    out = Image.open(tmp_path / "icc_out.tif")
    assert out.info.get("icc_profile") == icc
    assert tuple(round(v) for v in out.info["dpi"]) == (300, 300)


NO_AVIF = pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF support")
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'tiff:Orientation="6"><dc:subject>harbour, 1998</dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')
IPTC = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x19\x00\x07harbour\x00"  # keyword "harbour"


def _xmp_of(image: Image.Image) -> bytes | None:
    xmp = image.info.get("xmp")
    return xmp.encode() if isinstance(xmp, str) else xmp


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp", pytest.param("avif", marks=NO_AVIF), "heic"])
def test_xmp_iptc_and_comments_are_kept(identity, tmp_path, ext):
    """A photo's keywords, captions and ratings survive: XMP into every format that holds it,
    its orientation set upright with the pixels; a JPEG's IPTC and comment into a JPEG."""
    exif = Image.Exif()
    exif[0x0112] = 6
    app13 = b"\xff\xed" + (len(IPTC) + 2).to_bytes(2, "big") + IPTC
    pixels = _rng(13).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "shot.jpg", xmp=XMP, exif=exif, comment=b"scanned in 1998", extra=app13)
    identity.denoise_file(tmp_path / "shot.jpg", tmp_path / f"out.{ext}")
    if ext == "heic":
        pytest.importorskip("pillow_heif").register_heif_opener()
    out = Image.open(tmp_path / f"out.{ext}")
    assert out.size == (20, 30) and out.getexif().get(0x0112, 1) == 1
    assert _xmp_of(out) == XMP.replace(b'tiff:Orientation="6"', b'tiff:Orientation="1"')
    if ext == "jpg":
        assert out.info["comment"] == b"scanned in 1998"
        assert [payload for marker, payload in out.applist if marker == "APP13"] == [IPTC]
    if ext == "jpg":  # a phone's JPEG with a second picture (MPO) too
        Image.fromarray(pixels).save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[Image.new("RGB", (8, 8))],
                                     comment=b"scanned in 1998")  # Pillow writes no IPTC into an MPO
        identity.denoise_file(tmp_path / "phone.jpg", tmp_path / "phone_out.jpg")
        assert Image.open(tmp_path / "phone_out.jpg").info["comment"] == b"scanned in 1998"


def test_a_jpeg_is_written_with_fitted_huffman_tables_and_stays_progressive(identity, tmp_path):
    """The same pixels as Pillow's default JPEG at the same quality, in fewer bytes; a progressive
    JPEG comes back progressive."""
    yy, xx = np.mgrid[0:96, 0:128]
    picture = Image.fromarray(np.stack([(xx * 2) % 256, (yy * 2) % 256, (xx + yy) % 256], -1).astype(np.uint8))
    picture.save(tmp_path / "in.png")
    identity.denoise_file(tmp_path / "in.png", tmp_path / "out.jpg", quality=90)
    picture.save(tmp_path / "plain.jpg", quality=90)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.jpg")), np.asarray(Image.open(tmp_path / "plain.jpg")))
    assert (tmp_path / "out.jpg").stat().st_size < (tmp_path / "plain.jpg").stat().st_size
    assert not Image.open(tmp_path / "out.jpg").info.get("progressive")
    picture.save(tmp_path / "web.jpg", quality=90, progressive=True)  # as web pictures often are
    identity.denoise_file(tmp_path / "web.jpg", tmp_path / "web_out.jpg")
    assert Image.open(tmp_path / "web_out.jpg").info.get("progressive")


def test_metadata_a_jpeg_cannot_hold_is_left_out_not_fatal(identity, tmp_path):
    """A GIF's comment, a PNG's XMP and a TIFF's or PNG's EXIF have no size limit; one JPEG
    marker holds 64 KB. What does not fit is left out, and said; the picture is written."""
    from PIL import PngImagePlugin

    Image.fromarray(_rng(16).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(tmp_path / "long.gif", comment=b"x" * 70_000)
    said = identity.denoise_file(tmp_path / "long.gif", tmp_path / "long.jpg").warnings
    assert "comment" not in Image.open(tmp_path / "long.jpg").info
    assert said == [f"{tmp_path / 'long.jpg'}: the picture's comment (68 KB) is more than a JPEG holds (64 KB): the output leaves it out."]
    chunks = PngImagePlugin.PngInfo()
    chunks.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>" + "y" * 70_000 + "</x:xmpmeta>")
    Image.fromarray(_rng(17).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(tmp_path / "big-xmp.png", pnginfo=chunks)
    said = identity.denoise_file(tmp_path / "big-xmp.png", tmp_path / "big-xmp.jpg").warnings
    assert "xmp" not in Image.open(tmp_path / "big-xmp.jpg").info
    assert said == [f"{tmp_path / 'big-xmp.jpg'}: the picture's XMP (68 KB) is more than a JPEG holds (64 KB): the output leaves it out."]
    identity.denoise_file(tmp_path / "big-xmp.png", tmp_path / "big-xmp.tif")
    assert len(_xmp_of(Image.open(tmp_path / "big-xmp.tif"))) > 70_000  # a TIFF holds it


@pytest.mark.parametrize("bulk,kept", [("maker notes", True), ("description", False)])
def test_an_exif_too_large_for_a_jpeg_loses_its_bulk_or_is_left_out(identity, tmp_path, bulk, kept):
    """A raw converter's TIFF can carry the camera maker's notes whole, past the 64 KB a JPEG's
    EXIF holds, where Pillow refused to write the file at all. The maker's notes go first, and
    the camera's name and settings stay; EXIF that is large with anything else is left out."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 80D"
    settings = exif.get_ifd(0x8769)
    settings[0x829A] = 1 / 100  # exposure time
    if bulk == "maker notes":
        settings[0x927C] = b"m" * 70_000
    else:
        exif[0x010E] = "d" * 70_000
    Image.fromarray(_rng(20).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(tmp_path / "shot.tif", exif=exif.tobytes())
    said = identity.denoise_file(tmp_path / "shot.tif", tmp_path / "shot.jpg").warnings
    left_out = "the camera maker's notes" if kept else "the EXIF"
    assert said == [f"{tmp_path / 'shot.jpg'}: the picture's EXIF (68 KB) is more than a JPEG holds (64 KB): the output leaves out "
                    f"{left_out} (a TIFF, PNG or WebP output keeps it whole)."]
    written = Image.open(tmp_path / "shot.jpg").getexif()
    assert (written.get(0x0110), float(written.get_ifd(0x8769).get(0x829A, 0))) == (("EOS 80D", 0.01) if kept else (None, 0.0))
    assert identity.denoise_file(tmp_path / "shot.tif", tmp_path / "shot.png").warnings == []
    assert len(Image.open(tmp_path / "shot.png").info["exif"]) > 70_000  # a PNG holds it whole


def test_a_format_that_holds_no_exif_or_icc_profile_says_they_are_left_out(identity, tmp_path):
    """A photographer converting to BMP, GIF or Netpbm is told that the EXIF and the colour
    profile stay behind (a wide-gamut photo's colours change without its profile)."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_rng(18).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(tmp_path / "shot.jpg", exif=camera_exif("Canon", "EOS", (30, 20)), icc_profile=icc)
    said = identity.denoise_file(tmp_path / "shot.jpg", tmp_path / "shot.bmp").warnings
    assert said == [f"{tmp_path / 'shot.bmp'}: a bmp file holds no EXIF or ICC profile, so the picture's EXIF and ICC profile are left out "
                    "(png, jpeg, tiff, webp, avif and heic keep them)."]
    assert identity.denoise_file(tmp_path / "shot.jpg", tmp_path / "shot.png").warnings == []
    Image.fromarray(_rng(19).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(tmp_path / "plain.png")
    assert identity.denoise_file(tmp_path / "plain.png", tmp_path / "plain.pgm").warnings == []  # nothing to lose


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_png_keeps_its_gamma_and_chromaticities(identity, tmp_path, dtype):
    """A linear scan's PNG says gamma 1.0 (gAMA), its primaries (cHRM) or its sRGB intent; Pillow
    reads them but writes none back, and a viewer then shows the picture as sRGB, darker."""
    import struct

    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add(b"gAMA", struct.pack(">I", 100000))
    chunks.add(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    chunks.add(b"sRGB", bytes([1]))
    pixels = _rng(29).integers(0, np.iinfo(dtype).max + 1, size=(20, 30), dtype=dtype)
    Image.fromarray(pixels).save(tmp_path / "linear.png", pnginfo=chunks)
    identity.denoise_file(tmp_path / "linear.png", tmp_path / "out.png")
    info = Image.open(tmp_path / "out.png").info
    assert (info.get("gamma"), info.get("chromaticity"), info.get("srgb")) == (1.0, (0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06), 1)


def test_png_text_and_a_16_bit_tiff_s_xmp_are_kept(identity, tmp_path):
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Software", "FlatScan 2")
    chunks.add_itxt("Title", "Hafen – Überfahrt")
    chunks.add_itxt("XML:com.adobe.xmp", XMP.decode())
    Image.fromarray(_rng(14).integers(0, 256, size=(20, 30), dtype=np.uint8)).save(tmp_path / "scan.png", pnginfo=chunks)
    identity.denoise_file(tmp_path / "scan.png", tmp_path / "scan_out.png")
    out = Image.open(tmp_path / "scan_out.png")
    assert out.text["Software"] == "FlatScan 2" and out.text["Title"] == "Hafen – Überfahrt"
    assert out.size == (20, 30) and _xmp_of(out) == XMP.replace(b'"6"', b'"1"')  # no EXIF: Pillow takes XMP's orientation
    tifffile = pytest.importorskip("tifffile")
    colour = _rng(15).integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", colour, photometric="rgb", extratags=[(700, 1, len(XMP), XMP, True)])
    identity.denoise_file(tmp_path / "deep.tif", tmp_path / "deep_out.tif")
    assert _xmp_of(Image.open(tmp_path / "deep_out.tif")) == XMP.replace(b'"6"', b'"1"')



@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp", "webp", pytest.param("avif", marks=NO_AVIF), "gif", "pgm", "jfif"])
def test_every_format_reads_and_writes(identity, tmp_path, ext):
    image = Image.fromarray(_rng(12).integers(0, 256, size=(20, 30), dtype=np.uint8))
    src = tmp_path / f"in.{ext}"
    image.save(src)
    identity.denoise_file(src, tmp_path / f"out.{ext}")
    assert Image.open(tmp_path / f"out.{ext}").size == (30, 20)



def _netpbm(path, magic: bytes, pixels: np.ndarray, maxval: int, plain: bool = False) -> None:
    """A Netpbm file written by hand, as a scanner (`scanimage --format=pnm`) writes it."""
    header = magic + b"\n# a comment\n%d %d\n%d\n" % (pixels.shape[1], pixels.shape[0], maxval)
    data = " ".join(map(str, pixels.ravel())).encode() if plain else pixels.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    path.write_bytes(header + data)


@pytest.mark.parametrize("magic,shape,maxval,plain", [(b"P5", (9, 11), 255, False), (b"P6", (9, 11, 3), 255, False),
                                                      (b"P5", (9, 11), 65535, False), (b"P6", (9, 11, 3), 65535, False),
                                                      (b"P3", (9, 11, 3), 65535, True)])
def test_netpbm_scans_keep_their_depth_and_values(identity, tmp_path, magic, shape, maxval, plain):
    """PGM and PPM, 8 or 16 bits (what scanners and image tools write): every value back as it
    was; Pillow alone would read a 16-bit PPM at 8 bits per channel."""
    pixels = _rng(21).integers(0, maxval + 1, size=shape)
    src = tmp_path / ("scan.ppm" if len(shape) == 3 else "scan.pgm")
    _netpbm(src, magic, pixels, maxval, plain)
    result = identity.denoise_file(src)
    assert result.target.suffix == src.suffix
    out = read_image(result.target)
    assert out.source_format == "PPM" and out.mode == {(2, 255): "L", (3, 255): "RGB", (2, 65535): "I;16", (3, 65535): "RGB;16"}[len(shape), maxval]
    assert np.array_equal(out.planes, np.moveaxis(pixels.reshape(9, 11, -1), -1, 0))


def test_a_12_bit_ppm_is_brought_to_full_scale_and_a_short_one_refused(identity, tmp_path):
    pixels = _rng(22).integers(0, 4096, size=(5, 6, 3))
    _netpbm(tmp_path / "deep.ppm", b"P6", pixels, 4095)
    image = read_image(tmp_path / "deep.ppm")
    assert image.mode == "RGB;16" and np.array_equal(image.planes, np.round(np.moveaxis(pixels, -1, 0) * 65535 / 4095))
    (tmp_path / "short.ppm").write_bytes((tmp_path / "deep.ppm").read_bytes()[:-7])
    with pytest.raises(DenoiseError, match="short.ppm: cannot read the image .its pixel data is truncated or damaged"):
        identity.denoise_file(tmp_path / "short.ppm")


def test_netpbm_output_by_format_and_a_pbm_fax_stays_1_bit(identity, tmp_path):
    """--format pnm writes NAME.pnm (PGM or PPM by its content); a 1-bit PBM through `sp` comes
    back as PBM; 16-bit colour goes into a PPM but not into a BMP."""
    Image.fromarray(_rng(23).integers(0, 256, size=(8, 9, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    identity.denoise_file(tmp_path / "photo.png", tmp_path / "photo.pnm", format="pnm")
    assert open(tmp_path / "photo.pnm", "rb").read(2) == b"P6"
    page = np.full((30, 40), 255, np.uint8)
    page[5:25, 10] = 0
    noisy = page.copy()
    noisy[3, 30] = 0
    Image.fromarray(noisy).convert("1").save(tmp_path / "fax.pbm")
    Denoiser("sp", "cpu").denoise_file(tmp_path / "fax.pbm", tmp_path / "fax_out.pbm")
    with Image.open(tmp_path / "fax_out.pbm") as out:
        assert out.mode == "1" and np.array_equal(np.asarray(out.convert("L")), page)
    _netpbm(tmp_path / "deep.ppm", b"P6", _rng(24).integers(0, 65536, size=(4, 5, 3)), 65535)
    with pytest.raises(DenoiseError, match=r"BMP cannot store this 16-bit RGB image without loss; choose another format .png, tiff, jp2, pnm., or --depth 8 to write it "
                                           r"at 8 bits per channel\.$"):
        identity.denoise_file(tmp_path / "deep.ppm", tmp_path / "deep.bmp")

def _phone_photo_round_trip(identity, folder, name: str, make: str) -> Image.Image:
    """A colour photo with its maker in EXIF, saved as `name`, through denoise beside it."""
    exif = Image.Exif()
    exif[0x010F] = make
    Image.fromarray(_rng(16).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)).save(folder / name, exif=exif.tobytes(), quality=90)
    result = identity.denoise_file(folder / name)
    return Image.open(result.target)


@NO_AVIF
def test_an_avif_photo_keeps_its_exif_and_comes_out_as_avif(identity, tmp_path):
    out = _phone_photo_round_trip(identity, tmp_path, "pixel.avif", "Google")
    assert out.format == "AVIF" and out.mode == "RGB" and out.getexif()[0x010F] == "Google"
    Image.new("LA", (4, 4)).save(tmp_path / "la.png")
    with pytest.raises(DenoiseError, match="AVIF cannot store this grayscale \\+ alpha image"):  # Pillow would write RGBA
        identity.denoise_file(tmp_path / "la.png", tmp_path / "la.avif")


def _avif_codec():
    imagecodecs = pytest.importorskip("imagecodecs")
    if not imagecodecs.AVIF.available:
        pytest.skip("this imagecodecs has no AVIF codec")
    return imagecodecs


@NO_AVIF
@pytest.mark.parametrize("bits", [10, 12])
def test_an_hdr_avif_is_denoised_at_its_depth_where_the_output_keeps_it(identity, tmp_path, bits):
    """Pillow reads a 10- or 12-bit AVIF (an HDR photo, as Lightroom and phones export it) as 8
    bits per channel: into a 16-bit PNG it is decoded again at its depth, every value kept; into
    an AVIF (Pillow writes 8 bits) or a JPEG it stays at 8, and the warning says where its depth
    would be kept."""
    imagecodecs = _avif_codec()
    full = (1 << bits) - 1
    y, x, c = np.mgrid[:16, :24, :3]
    deep = np.minimum(full // 4 + (full // 60) * x + (full // 90) * y + 7 * c, full).astype(np.uint16)  # a sky's smooth ramp
    (tmp_path / "hdr.avif").write_bytes(imagecodecs.avif_encode(deep, level=100, bitspersample=bits))
    decoded = imagecodecs.avif_decode((tmp_path / "hdr.avif").read_bytes()).astype(np.float64)
    sixteen = np.round(decoded * 65535 / full)
    assert identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "hdr.png").warnings == []
    written = imagecodecs.imread(tmp_path / "hdr.png")
    assert written.dtype == np.uint16 and np.array_equal(written, sixteen)  # at 8 bits: steps of 257
    keeping = "png, tiff, heic, jp2, pnm" if bits == 10 else "png, tiff, jp2, pnm"
    said = identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "out.avif").warnings
    assert said == [f"{tmp_path / 'hdr.avif'}: a {bits}-bit AVIF, read and denoised at 8 bits per channel: an AVIF is written at 8 bits "
                    f"({keeping} keep its depth)."]
    said = identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "out.jpg").warnings
    assert said == [f"{tmp_path / 'hdr.avif'}: a {bits}-bit AVIF, read and denoised at 8 bits per channel: a jpeg file holds no more "
                    f"({keeping} keep its depth)."]
    if importlib.util.find_spec("pillow_heif"):  # a HEIC holds 10 bits: a 12-bit one's is then written from the 8 read
        import pillow_heif

        from denoise_cli.imageio import use_heif_plugin

        use_heif_plugin("test")
        said = identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "out.heic").warnings
        if bits == 10:
            assert said == [] and pillow_heif.open_heif(tmp_path / "out.heic", convert_hdr_to_8bit=False).info["bit_depth"] == 10
        else:
            assert said == [f"{tmp_path / 'hdr.avif'}: a 12-bit AVIF, read and denoised at 8 bits per channel: a heic file holds 10 (png, "
                            "tiff, jp2, pnm keep its 12)."]
    gray = deep[..., 0]
    (tmp_path / "gray.avif").write_bytes(imagecodecs.avif_encode(gray, level=100, bitspersample=bits))
    identity.denoise_file(tmp_path / "gray.avif", tmp_path / "gray.png")
    out = Image.open(tmp_path / "gray.png")
    expected = np.round(imagecodecs.avif_decode((tmp_path / "gray.avif").read_bytes()) * (65535 / full))
    assert out.mode == "I;16" and np.array_equal(np.asarray(out), expected)


@NO_AVIF
def test_an_hdr_avif_decoded_otherwise_than_pillow_read_it_stays_as_pillow_read_it(identity, tmp_path, monkeypatch):
    """The second decoding must be the picture Pillow read: turned upright as Pillow turned it (an
    AVIF's irot and imir boxes, its EXIF orientation), or else not used."""
    imagecodecs = _avif_codec()
    deep = (np.arange(12 * 20 * 3).reshape(12, 20, 3) % 1024).astype(np.uint16)
    (tmp_path / "hdr.avif").write_bytes(imagecodecs.avif_encode(deep, level=100, bitspersample=10))
    decode = imagecodecs.avif_decode
    upright = np.round(decode((tmp_path / "hdr.avif").read_bytes()) * (65535 / 1023))
    monkeypatch.setattr(imagecodecs, "avif_decode", lambda data: np.rot90(decode(data))[::-1])  # as if stored turned
    assert identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "turned.png").warnings == []
    assert np.array_equal(imagecodecs.imread(tmp_path / "turned.png"), upright)
    monkeypatch.setattr(imagecodecs, "avif_decode", lambda data: decode(data)[:, ::-1] // 2)  # another picture: not taken for it
    said = identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "other.png").warnings
    assert said == [f"{tmp_path / 'hdr.avif'}: a 10-bit AVIF, read and denoised at 8 bits per channel: libavif, through imagecodecs, did not "
                    "decode it at its depth as the picture Pillow read."]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "other.png")), np.asarray(Image.open(tmp_path / "hdr.avif")))
    monkeypatch.setitem(__import__("sys").modules, "imagecodecs", None)  # as if it were not installed
    said = identity.denoise_file(tmp_path / "hdr.avif", tmp_path / "without.ppm").warnings
    assert said == [f"{tmp_path / 'hdr.avif'}: a 10-bit AVIF, read and denoised at 8 bits per channel: imagecodecs, with libavif, reads it "
                    "at its depth (pip install \"denoise-cli[tiff16]\")."]


@NO_AVIF
def test_an_avif_photo_says_when_its_colours_are_coded_for_hdr(identity, tmp_path):
    """An HDR photo's coding, BT.2020 with PQ, in its colour box: Pillow writes sRGB's into an
    AVIF, so that is said; an 8-bit AVIF is read as it is, without a word."""
    imagecodecs = _avif_codec()
    ten_bit = _rng(32).integers(0, 1024, size=(16, 16, 3)).astype(np.uint16)
    (tmp_path / "hdr.avif").write_bytes(imagecodecs.avif_encode(ten_bit, level=100, bitspersample=10))
    Image.fromarray((ten_bit >> 2).astype(np.uint8)).save(tmp_path / "sdr.avif")
    assert identity.denoise_file(tmp_path / "sdr.avif", tmp_path / "sdr.png").warnings == []
    coded = bytearray((tmp_path / "hdr.avif").read_bytes())
    at = coded.find(b"colrnclx")
    coded[at + 8 : at + 14] = struct.pack(">3H", 9, 16, 9)
    (tmp_path / "pq.avif").write_bytes(bytes(coded))
    assert any("values are coded as BT.2020 with PQ (HDR) (its colour box), which denoise's avif output does not record" in w
               for w in identity.denoise_file(tmp_path / "pq.avif", tmp_path / "pq_out.avif").warnings)


def _png_chunk(path, kind: bytes) -> bytes | None:
    """The data of a PNG's first chunk of a kind, which Pillow may not read."""
    data, at = path.read_bytes(), 8
    while at < len(data):
        length, found = struct.unpack(">I4s", data[at : at + 8])
        if found == kind:
            return data[at + 8 : at + 8 + length]
        at += 12 + length
    return None


def test_a_png_keeps_its_colour_coding_chunk(identity, tmp_path):
    """An HDR PNG (PNG's third edition: a cICP chunk says BT.2020 with PQ, as ffmpeg and browsers
    write it) came out without the chunk, which Pillow neither reads nor writes back: viewers then
    took its values for sRGB. Kept into a PNG, as a colour box into a HEIC; a JPEG says it is lost."""
    pixels = _rng(31).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    chunks = PngImagePlugin.PngInfo()
    chunks.add(b"cICP", bytes([9, 16, 0, 1]))
    Image.fromarray(pixels).save(tmp_path / "hdr.png", pnginfo=chunks)
    identity.denoise_file(tmp_path / "hdr.png", tmp_path / "out.png")
    assert _png_chunk(tmp_path / "out.png", b"cICP") == bytes([9, 16, 0, 1]) and np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), pixels)
    said = identity.denoise_file(tmp_path / "hdr.png", tmp_path / "out.jpg").warnings
    assert said == [f"{tmp_path / 'out.jpg'}: the picture's values are coded as BT.2020 with PQ (HDR) (its colour box), which denoise's jpeg output "
                    "does not record: it will look different there, washed out or dark (a .heic or .png output keeps the coding)."]
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    identity.denoise_file(tmp_path / "plain.png", tmp_path / "plain_out.png")
    assert _png_chunk(tmp_path / "plain_out.png", b"cICP") is None  # sRGB needs no chunk


def test_a_heic_photo_goes_through_with_pillow_heif_and_is_named_without_it(identity, tmp_path, monkeypatch):
    """An iPhone's HEIC or a camera's .HIF: read and written by the optional pillow-heif plugin,
    EXIF kept; without the plugin, one sentence says what to install."""
    pytest.importorskip("pillow_heif")
    from denoise_cli.imageio import use_heif_plugin
    from denoise_cli.jobs import plan_jobs

    use_heif_plugin("test")
    out = _phone_photo_round_trip(identity, tmp_path, "IMG_0001.HEIC", "Apple")
    assert out.format == "HEIF" and out.mode == "RGB" and out.getexif()[0x010F] == "Apple"
    assert out.filename.endswith("IMG_0001_denoised.HEIC")
    import pillow_heif

    y, x, c = np.mgrid[:16, :16, :3]
    ten_bit = (300 + 13 * x + 7 * y + 5 * c + _rng(18).integers(0, 4, size=(16, 16, 3))).astype(np.uint16) << 6  # an HDR sky's depth
    hdr_photo = pillow_heif.from_bytes(mode="RGB;16", size=(16, 16), data=ten_bit.tobytes())
    pq = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}  # BT.2020 with PQ
    hdr_photo.info["nclx_profile"] = pq
    hdr_photo.save(tmp_path / "DSCF0001.HIF", quality=-1)  # as Fujifilm names it
    assert "DSCF0001.HIF" in [job.source.name for job in plan_jobs([str(tmp_path)], None).jobs]  # a folder of them was "no images"
    hdr = identity.denoise_file(tmp_path / "DSCF0001.HIF")
    assert hdr.target.name == "DSCF0001_denoised.HIF" and Image.open(hdr.target).format == "HEIF"
    decoded = np.array(pillow_heif.open_heif(tmp_path / "DSCF0001.HIF", convert_hdr_to_8bit=False)).astype(int)
    again = pillow_heif.open_heif(hdr.target, convert_hdr_to_8bit=False)  # at its 10 bits: at 8, PQ's steps band
    assert again.info["bit_depth"] == 10 and np.abs(np.array(again) - decoded).mean() < 2 * 64  # x265 at quality 95
    kept = Image.open(hdr.target).info["nclx_profile"]  # pillow-heif wrote sRGB's: the HDR values looked washed out
    assert {key: kept[key] for key in pq} == pq
    assert identity.denoise(Image.open(tmp_path / "DSCF0001.HIF")).info["nclx_profile"] == pq  # the API's Pillow image carries it too
    assert identity.denoise_file(tmp_path / "DSCF0001.HIF", tmp_path / "hdr.png").warnings == []
    assert _png_chunk(tmp_path / "hdr.png", b"cICP") == bytes([9, 16, 0, 1])  # PNG's own colour box: RGB, full range
    if importlib.util.find_spec("imagecodecs"):  # 16-bit colour PNG: the tiff16 extra
        assert np.array_equal(__import__("imagecodecs").imread(tmp_path / "hdr.png"), decoded)
    assert any("values are coded as BT.2020 with PQ (HDR) (its colour box), which denoise's tiff output does not record" in w
               for w in identity.denoise_file(tmp_path / "DSCF0001.HIF", tmp_path / "hdr.tif").warnings)
    eight = identity.denoise_file(tmp_path / "DSCF0001.HIF", tmp_path / "hdr.jpg").warnings
    assert any("DSCF0001.HIF: a 10-bit HEIC, read and denoised at 8 bits per channel: a jpeg file holds no more (" in w for w in eight)
    monkeypatch.setitem(__import__("sys").modules, "pillow_heif", None)  # as if it were not installed
    with pytest.raises(DenoiseError, match="IMG_0001.HEIC: HEIC needs the pillow-heif plugin: pip install pillow-heif"):
        identity.denoise_file(tmp_path / "IMG_0001.HEIC", tmp_path / "again.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(DenoiseError, match="HEIC output needs the pillow-heif plugin"):
        identity.denoise_file(tmp_path / "small.png", tmp_path / "out.heic")


def test_a_gray_10_bit_heic_is_written_at_its_depth_or_brought_to_8_bits(identity, tmp_path):
    """Pillow reads a gray 10-bit HEIC at 16 bits, and no format took it: its own HEIC output
    was refused ("cannot store this 16-bit grayscale image"), and so was a JPEG."""
    pillow_heif = pytest.importorskip("pillow_heif")
    from denoise_cli.imageio import use_heif_plugin

    use_heif_plugin("test")
    ramp = ((np.arange(24 * 32).reshape(24, 32) % 1024) << 6).astype(np.uint16)
    pillow_heif.from_bytes("L;16", (32, 24), ramp.tobytes()).save(tmp_path / "gray.heic", quality=-1)
    decoded = np.array(pillow_heif.open_heif(tmp_path / "gray.heic", convert_hdr_to_8bit=False)).astype(int)
    assert identity.denoise_file(tmp_path / "gray.heic").warnings == []
    again = pillow_heif.open_heif(tmp_path / "gray_denoised.heic", convert_hdr_to_8bit=False)
    assert again.info["bit_depth"] == 10 and np.abs(np.array(again) - decoded).mean() < 2 * 64
    said = identity.denoise_file(tmp_path / "gray.heic", tmp_path / "gray.jpg").warnings
    assert said == [f"{tmp_path / 'gray.heic'}: a 10-bit HEIC, read and denoised at 8 bits per channel: a jpeg file holds no more (png, tiff, "
                    "heic, jp2, pnm keep its depth)."]
    assert np.abs(np.asarray(Image.open(tmp_path / "gray.jpg")).astype(int) - decoded / 257).mean() < 3
    identity.denoise_file(tmp_path / "gray.heic", tmp_path / "gray.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "gray.png")), decoded)
    Image.fromarray(ramp).save(tmp_path / "sixteen.png")  # 16 bits of its own: a HEIC holds 10 of them
    with pytest.raises(DenoiseError, match=r"sixteen.heic: HEIC cannot store this 16-bit grayscale image without loss; choose another format \(png"):
        identity.denoise_file(tmp_path / "sixteen.png", tmp_path / "sixteen.heic")


def test_a_12_bit_heic_into_a_heic_is_denoised_at_8_bits_and_says_so(identity, tmp_path, monkeypatch):
    """A HEIC holds 10 bits, and a 12-bit one was read at 12 for a HEIC output, then refused
    ("HEIC cannot store this 16-bit RGB image"): `denoise photo.heic` failed. Now it is denoised
    at 8 bits with a warning naming the formats that keep 12, as a 12-bit AVIF is."""
    pillow_heif = pytest.importorskip("pillow_heif")
    from denoise_cli.imageio import use_heif_plugin

    use_heif_plugin("test")
    monkeypatch.setattr(pillow_heif.options, "SAVE_HDR_TO_12_BIT", True)
    y, x, c = np.mgrid[:16, :24, :3]
    colour = ((1000 + 97 * x + 61 * y + 300 * c) << 4).astype(np.uint16)  # 12 bits on the 16-bit scale
    pillow_heif.from_bytes("RGB;16", (24, 16), colour.tobytes()).save(tmp_path / "colour.heic", quality=-1)
    pillow_heif.from_bytes("L;16", (24, 16), np.ascontiguousarray(colour[..., 0]).tobytes()).save(tmp_path / "gray.heic", quality=-1)
    monkeypatch.setattr(pillow_heif.options, "SAVE_HDR_TO_12_BIT", False)
    for name in ("colour", "gray"):
        assert Image.open(tmp_path / f"{name}.heic").info["bit_depth"] == 12
        said = identity.denoise_file(tmp_path / f"{name}.heic").warnings
        assert said == [f"{tmp_path / f'{name}.heic'}: a 12-bit HEIC, read and denoised at 8 bits per channel: a heic file holds 10 (png, "
                        "tiff, jp2, pnm keep its 12)."]
        assert Image.open(tmp_path / f"{name}_denoised.heic").format == "HEIF"
        assert identity.denoise_file(tmp_path / f"{name}.heic", tmp_path / f"{name}.png").warnings == []
        if features.check("avif"):  # "a avif file" it said
            assert ": an avif file holds no more (png, tiff, jp2, pnm keep its depth)." in identity.denoise_file(
                tmp_path / f"{name}.heic", tmp_path / f"{name}.avif").warnings[0]
    decoded = np.array(pillow_heif.open_heif(tmp_path / "gray.heic", convert_hdr_to_8bit=False))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "gray.png")), decoded)  # the PNG keeps every one of the 12 bits


def test_depth_brings_a_picture_to_8_or_16_bits_per_channel(identity, tmp_path):
    """A 16-bit scan was refused as a JPEG ("cannot store this 16-bit grayscale image") with no
    way to say "at 8 bits, then"; an 8-bit photo came out at 8 bits, whose steps band in a smooth
    sky once the grain that dithered them is gone. depth= (--depth) sets the output's bits."""
    scan = _rng(40).integers(0, 65536, size=(20, 30), dtype=np.uint16)
    Image.fromarray(scan).save(tmp_path / "scan.png")
    with pytest.raises(DenoiseError, match=r"scan.jpg: JPEG cannot store this 16-bit grayscale image without loss; choose another format "
                                           r"\(png, tiff, jp2, pnm\), or --depth 8 to write it at 8 bits per channel\.$"):
        identity.denoise_file(tmp_path / "scan.png", tmp_path / "scan.jpg")
    identity.denoise_file(tmp_path / "scan.png", tmp_path / "scan.jpg", depth=8)
    assert Image.open(tmp_path / "scan.jpg").mode == "L"
    identity.denoise_file(tmp_path / "scan.png", tmp_path / "scan8.png", depth=8)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "scan8.png")), np.round(scan / 257).astype(np.uint8))
    photo = _rng(41).integers(0, 256, size=(20, 30, 2), dtype=np.uint8)  # gray + alpha
    Image.fromarray(photo, "LA").save(tmp_path / "photo.png")
    identity.denoise_file(tmp_path / "photo.png", tmp_path / "photo.tif", depth=16)
    tifffile = pytest.importorskip("tifffile")
    assert np.array_equal(tifffile.imread(tmp_path / "photo.tif"), photo.astype(np.uint16) * 257)  # alpha too, exactly
    with pytest.raises(DenoiseError, match=r"photo.jpg: JPEG holds 8 bits per channel, not the 16 of --depth 16; choose another format "
                                           r"\(png, tiff, jp2, pnm\)\.$"):
        identity.denoise_file(tmp_path / "photo.png", tmp_path / "photo.jpg", depth=16)
    assert not (tmp_path / "photo.jpg").exists()
    tifffile.imwrite(tmp_path / "float.tif", _rng(42).random((20, 30)).astype(np.float32))
    with pytest.raises(DenoiseError, match=r"float.tif: --depth 8 converts 8- and 16-bit gray and RGB pictures, and this is 32-bit float "
                                           r"grayscale, which keeps its own\.$"):
        identity.denoise_file(tmp_path / "float.tif", tmp_path / "float_out.tif", depth=8)
    with pytest.raises(DenoiseError, match=r"depth 12: 8 or 16 bits per channel\."):
        identity.denoise_file(tmp_path / "scan.png", tmp_path / "x.png", depth=12)
    Image.fromarray(_rng(43).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).convert("CMYK").save(tmp_path / "print.jpg")
    identity.denoise_file(tmp_path / "print.jpg", tmp_path / "print_out.jpg", depth=8)  # 8 bits already: it was refused, failing a batch
    assert Image.open(tmp_path / "print_out.jpg").mode == "CMYK"
    with pytest.raises(DenoiseError, match=r"print.jpg: --depth 16 converts 8- and 16-bit gray and RGB pictures, and this is CMYK, which "):
        identity.denoise_file(tmp_path / "print.jpg", tmp_path / "print_out.tif", depth=16)


@pytest.mark.parametrize("source,compression,expected", [
    ("scan.tif", "tiff_lzw", "tiff_lzw"), ("scan.tif", "raw", "raw"), ("scan.tif", "packbits", "packbits"),
    ("scan.png", None, "tiff_adobe_deflate"),
])
def test_a_tiff_keeps_its_lossless_compression_and_others_are_deflated(identity, tmp_path, source, compression, expected):
    """Pillow alone writes every TIFF uncompressed: an LZW scan came back twice its size."""
    pixels = _rng(21).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / source, **({"compression": compression} if compression else {}))
    identity.denoise_file(tmp_path / source, tmp_path / "out.tif")
    out = Image.open(tmp_path / "out.tif")
    assert out.info["compression"] == expected and np.array_equal(np.asarray(out), pixels)


def test_a_lossless_webp_stays_lossless(identity, tmp_path):
    """Pillow writes WebP lossy unless told; a lossless source (a screenshot, a scan) must not
    come back with compression artefacts. A lossy one stays lossy, at --quality."""
    pixels = _rng(22).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "lossless.webp", lossless=True)
    Image.fromarray(pixels).save(tmp_path / "lossy.webp", quality=80)
    for name in ("lossless", "lossy"):
        identity.denoise_file(tmp_path / f"{name}.webp", tmp_path / f"{name}_out.webp")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "lossless_out.webp")), pixels)
    lossy_in = np.asarray(Image.open(tmp_path / "lossy.webp"))
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "lossy_out.webp")), lossy_in)


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0"])
def test_a_jpeg_keeps_its_chroma_subsampling(identity, tmp_path, subsampling):
    """Pillow writes 4:2:0 unless told; a camera's 4:2:2 or 4:4:4 file must not lose colour
    resolution by going through denoise."""
    image = Image.fromarray(_rng(14).integers(0, 256, size=(32, 48, 3), dtype=np.uint8))
    _, out = _round_trip(identity, tmp_path, image, "colour.jpg", subsampling=subsampling, quality=90)
    assert JpegImagePlugin.get_sampling(out) == {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}[subsampling]


@pytest.mark.parametrize("quality,progressive", [(90, False), (100, False), (90, True)])
def test_a_grainy_colour_jpeg_is_written_at_any_quality(identity, tmp_path, quality, progressive):
    """Pillow sizes the buffer of an optimized or progressive JPEG at 1-2 bytes a pixel; grain
    that a model leaves (a low --strength, -m sp on camera noise) in a 4:4:4 colour photo needs
    more, and libjpeg failed the file after the work: 'broken data stream'."""
    from PIL import ImageFile

    grain = _rng(21).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    with pytest.MonkeyPatch.context() as patch:  # Pillow itself needs the larger buffer to write the source
        patch.setattr(ImageFile, "MAXBLOCK", 1 << 22)
        Image.fromarray(grain).save(tmp_path / "grain.jpg", quality=100, subsampling=0, progressive=progressive)
    identity.denoise_file(tmp_path / "grain.jpg", tmp_path / "out.jpg", quality=quality)
    written = Image.open(tmp_path / "out.jpg")
    assert written.size == (256, 256) and JpegImagePlugin.get_sampling(written) == 0
    assert bool(written.info.get("progressive")) == progressive
    reference = io.BytesIO()
    Image.open(tmp_path / "grain.jpg").save(reference, format="JPEG", quality=quality, subsampling=0)  # unoptimized: no buffer
    assert np.array_equal(np.asarray(written), np.asarray(Image.open(reference)))  # the same picture


def test_jpeg_quality_is_the_callers(identity, tmp_path):
    src = tmp_path / "grain.png"
    Image.fromarray(_rng(15).integers(0, 256, size=(64, 64), dtype=np.uint8)).save(src)
    identity.denoise_file(src, tmp_path / "q50.jpg", quality=50)
    identity.denoise_file(src, tmp_path / "q95.jpg")  # the default
    reference = io.BytesIO()
    Image.open(src).save(reference, format="JPEG", quality=50)
    assert Image.open(tmp_path / "q50.jpg").quantization == Image.open(reference).quantization
    assert (tmp_path / "q50.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size
    with pytest.raises(DenoiseError, match="quality 0 is outside 1-100"):
        identity.denoise_file(src, tmp_path / "q0.jpg", quality=0)


def test_lossy_format_choice_is_refused_before_work(identity, tmp_path):
    src = tmp_path / "deep.png"
    Image.fromarray(_rng(13).integers(0, 65536, size=(10, 10), dtype=np.uint16)).save(src)
    with pytest.raises(DenoiseError, match="JPEG cannot store this 16-bit grayscale image"):
        identity.denoise_file(src, tmp_path / "deep.jpg")
    assert not (tmp_path / "deep.jpg").exists()


@pytest.mark.skipif(not features.check("jpg_2000"), reason="this Pillow has no JPEG 2000 support")
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_a_jpeg_2000_scan_comes_back_as_one_losslessly(identity, tmp_path, mode):
    """Archives and digital libraries keep their scans as JPEG 2000: it is read, and written
    back losslessly in its own depth and channels (a .j2k as a bare codestream)."""
    shape, dtype = {"L": ((20, 30), np.uint8), "LA": ((20, 30, 2), np.uint8), "RGB": ((20, 30, 3), np.uint8),
                    "RGBA": ((20, 30, 4), np.uint8), "I;16": ((20, 30), np.uint16)}[mode]
    pixels = _rng(25).integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    Image.fromarray(pixels, None if mode == "I;16" else mode).save(tmp_path / "scan.jp2")
    identity.denoise_file(tmp_path / "scan.jp2", tmp_path / "out.jp2")
    identity.denoise_file(tmp_path / "scan.jp2", tmp_path / "out.j2k")
    for name, box in (("out.jp2", b"jP  "), ("out.j2k", b"\xff\x4f\xff\x51")):
        written = Image.open(tmp_path / name)
        assert written.mode == mode and np.array_equal(np.asarray(written), pixels)
        assert box in (tmp_path / name).read_bytes()[:12]


@pytest.mark.skipif(not features.check("jpg_2000"), reason="this Pillow has no JPEG 2000 support")
@pytest.mark.parametrize("channels,bits", [(3, 16), (4, 16), (3, 12)])
def test_a_deep_colour_jpeg_2000_keeps_its_depth(identity, tmp_path, channels, bits):
    """Pillow reads colour JPEG 2000 of more than 8 bits per channel as 8: imagecodecs reads
    and writes it at 16 (a 12-bit one brought to the 16-bit scale, as Pillow does for gray)."""
    imagecodecs = pytest.importorskip("imagecodecs")
    deep = _rng(27).integers(0, 1 << bits, size=(20, 30, channels), dtype=np.uint16)
    (tmp_path / "deep.jp2").write_bytes(imagecodecs.jpeg2k_encode(deep, level=0, bitspersample=bits, codecformat="jp2"))
    for name in ("out.jp2", "out.j2k", "out.png"):
        identity.denoise_file(tmp_path / "deep.jp2", tmp_path / name)
        decode = imagecodecs.png_decode if name.endswith(".png") else imagecodecs.jpeg2k_decode
        assert np.array_equal(decode((tmp_path / name).read_bytes()), deep << (16 - bits)), name


def _jxl_box(kind: bytes, payload: bytes) -> bytes:
    return len(payload + b"12345678").to_bytes(4, "big") + kind + payload


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_a_jpeg_xl_picture_comes_back_as_one_losslessly_with_its_exif_and_xmp(identity, tmp_path, mode):
    """Lightroom, Photoshop and cjxl write JPEG XL, which Pillow cannot read: imagecodecs reads
    it, here in a container with an EXIF box and a Brotli-compressed XMP box as cjxl writes
    them, both saying the picture is turned; libjxl turns it by the codestream's own word, so
    both come out upright. The output is lossless, EXIF and XMP kept."""
    imagecodecs = pytest.importorskip("imagecodecs")
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    pixels = _rng(29).integers(0, 256, size=(20, 30, channels), dtype=np.uint8)[..., :channels]
    codestream = imagecodecs.jpegxl_encode(pixels[..., 0] if channels == 1 else pixels, lossless=True)
    exif = camera_exif("Canon", "EOS R5", (30, 20), orientation=6).tobytes()[6:]
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6" xmp:Rating="4"/></x:xmpmeta>'
    container = (b"\0\0\0\x0cJXL \r\n\x87\n" + _jxl_box(b"ftyp", b"jxl \0\0\0\0jxl ") + _jxl_box(b"Exif", b"\0\0\0\0" + exif)
                 + _jxl_box(b"brob", b"xml " + imagecodecs.brotli_encode(xmp)) + _jxl_box(b"jxlc", codestream))
    (tmp_path / "shot.jxl").write_bytes(container)
    result = identity.denoise_file(tmp_path / "shot.jxl")
    assert result.target == tmp_path / "shot_denoised.jxl" and result.warnings == [] and result.setting is None
    back = read_image(result.target)
    assert back.mode == mode and back.source_format == "JXL"
    assert np.array_equal(np.moveaxis(back.planes, 0, -1), pixels[..., :1 if channels < 3 else 3])
    assert (back.alpha is None) == (channels in (1, 3))
    written = Image.Exif()
    written.load(back.exif)
    assert written[0x0110] == "EOS R5" and written[0x0112] == 1
    assert b'tiff:Orientation="1"' in back.descriptive.xmp and b'xmp:Rating="4"' in back.descriptive.xmp
    identity.denoise_file(tmp_path / "shot.jxl", tmp_path / "shot.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "shot.png")), pixels[..., 0] if channels == 1 else pixels)


def test_a_jpeg_xl_file_s_size_depth_and_kind_are_read_from_its_header(identity, tmp_path):
    """Its header gives the size before anything is decoded (--max-pixels refuses a bomb
    there), in each of its forms, and the bit depth, by which a 12-bit picture is brought to
    the 16-bit scale; an animation, a damaged header and a 16-bit JPEG XL output are refused
    with what to do, and colours in linear light are said to change meaning."""
    imagecodecs = pytest.importorskip("imagecodecs")
    from denoise_cli.jpegxl import boxes, codestream_of, read_header

    for width, height in ((1, 1), (8, 8), (64, 64), (40, 30), (1200, 1000), (1920, 1080), (1000, 750), (5000, 7), (7, 5000), (2000, 1000)):
        data = imagecodecs.jpegxl_encode(np.zeros((height, width), np.uint8), lossless=True, effort=1, usecontainer=width == 40)
        header = read_header(codestream_of(boxes(data)))
        assert (header.width, header.height, header.bits, header.colours) == (width, height, 8, "sRGB"), (width, height)
    twelve = _rng(30).integers(0, 4096, size=(20, 30), dtype=np.uint16)
    (tmp_path / "twelve.jxl").write_bytes(imagecodecs.jpegxl_encode(twelve, lossless=True, bitspersample=12))
    bits = read_header(codestream_of(boxes((tmp_path / "twelve.jxl").read_bytes()))).bits  # imagecodecs 2024.6 writes 16, 2026.3 12
    image = read_image(tmp_path / "twelve.jxl")
    assert image.mode == "I;16" and np.array_equal(image.planes[0], np.round(twelve * (65535 / ((1 << bits) - 1))).astype(np.uint16))
    assert image.warnings == [f"{tmp_path / 'twelve.jxl'}: its JPEG XL header gives it colours other than sRGB (a wide gamut or HDR, say), "
                              "which its output does not record: they may look different there."]  # imagecodecs writes 16 bits as linear light
    with pytest.raises(DenoiseError, match=r"out.jxl: JXL cannot store this 16-bit grayscale image without loss; choose another format \(png, tiff"):
        identity.load_file(tmp_path / "twelve.jxl", tmp_path / "out.jxl")
    with pytest.raises(DenoiseError, match=r"twelve.jxl: 30x20 is 600 pixels, over the limit of 599 pixels"):
        read_image(tmp_path / "twelve.jxl", max_pixels=599)
    frames = np.zeros((2, 8, 8), np.uint8)
    (tmp_path / "anim.jxl").write_bytes(imagecodecs.jpegxl_encode(frames, lossless=True, photometric="gray"))
    with pytest.raises(DenoiseError, match=r"anim.jxl: an animated JPEG XL file, which denoise does not read; export one frame"):
        read_image(tmp_path / "anim.jxl")
    (tmp_path / "cut.jxl").write_bytes(b"\xff\x0a\x00")
    with pytest.raises(DenoiseError, match=r"cut.jxl: cannot read the JPEG XL file \(its header is damaged\)"):
        read_image(tmp_path / "cut.jxl")


def test_a_jpeg_recompressed_as_jpeg_xl_comes_out_upright(identity, tmp_path):
    """cjxl keeps a JPEG's pixels and its EXIF orientation (in the codestream's header) when it
    recompresses it: the picture comes out turned, as a viewer shows it, its EXIF upright."""
    imagecodecs = pytest.importorskip("imagecodecs")
    if not hasattr(imagecodecs, "jpegxl_encode_jpeg"):
        pytest.skip("this imagecodecs cannot recompress a JPEG as JPEG XL")
    pixels = _rng(33).integers(0, 256, size=(24, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "shot.jpg", exif=camera_exif("Canon", "EOS", (40, 24), orientation=6), quality=95)
    (tmp_path / "shot.jxl").write_bytes(imagecodecs.jpegxl_encode_jpeg((tmp_path / "shot.jpg").read_bytes()))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "shot.jpg")))
    image = read_image(tmp_path / "shot.jxl")
    assert np.moveaxis(image.planes, 0, -1).shape == expected.shape == (40, 24, 3)
    assert np.abs(np.moveaxis(image.planes, 0, -1).astype(int) - expected).mean() < 1  # libjxl and libjpeg decode a few levels apart
    identity.denoise_file(tmp_path / "shot.jxl", tmp_path / "out.jpg")
    assert Image.open(tmp_path / "out.jpg").size == (24, 40) and Image.open(tmp_path / "out.jpg").getexif()[0x0112] == 1


def test_a_jpeg_xl_output_is_lossy_at_its_quality_unless_its_source_was_lossless(identity, tmp_path):
    """As cjxl does for anything but a JPEG, and as a WebP output does: lossy at --quality; a
    lossless JPEG XL or WebP source keeps a JPEG XL or WebP output lossless (a lossy one grew
    seven times when written back losslessly)."""
    imagecodecs = pytest.importorskip("imagecodecs")
    from denoise_cli.imageio import _webp_is_lossless
    from denoise_cli.jpegxl import boxes, codestream_of, read_header

    def coded_lossy(path) -> bool:
        return read_header(codestream_of(boxes(path.read_bytes()))).xyb

    yy, xx = np.mgrid[0:64, 0:96]
    smooth = np.stack([(xx * 2 + yy) % 256, (yy * 3) % 256, (xx + 40) % 256], -1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "scan.png")
    for quality in (95, 40):
        identity.denoise_file(tmp_path / "scan.png", tmp_path / f"q{quality}.jxl", quality=quality)
        assert coded_lossy(tmp_path / f"q{quality}.jxl")
    assert (tmp_path / "q40.jxl").stat().st_size < (tmp_path / "q95.jxl").stat().st_size
    (tmp_path / "lossless.jxl").write_bytes(imagecodecs.jpegxl_encode(smooth, lossless=True))
    identity.denoise_file(tmp_path / "lossless.jxl", tmp_path / "again.jxl", quality=40)
    identity.denoise_file(tmp_path / "lossless.jxl", tmp_path / "again.webp", quality=40)
    assert not coded_lossy(tmp_path / "again.jxl") and _webp_is_lossless(tmp_path / "again.webp")
    assert np.array_equal(np.moveaxis(read_image(tmp_path / "again.jxl").planes, 0, -1), smooth)
    identity.denoise_file(tmp_path / "q95.jxl", tmp_path / "from_lossy.jxl")
    assert coded_lossy(tmp_path / "from_lossy.jxl")


def test_jpeg_xl_without_imagecodecs_names_what_to_install(identity, tmp_path, monkeypatch):
    """imagecodecs is optional (the jxl extra): without it, a .jxl in or out is one sentence
    saying what to install, before any work."""
    imagecodecs = pytest.importorskip("imagecodecs")
    (tmp_path / "shot.jxl").write_bytes(imagecodecs.jpegxl_encode(np.zeros((8, 8), np.uint8), lossless=True))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "scan.png")
    monkeypatch.setitem(__import__("sys").modules, "imagecodecs", None)  # as if it were not installed
    with pytest.raises(DenoiseError, match=r'shot.jxl: JPEG XL needs imagecodecs: pip install "denoise-cli\[jxl\]"'):
        read_image(tmp_path / "shot.jxl")
    with pytest.raises(DenoiseError, match=r'JPEG XL output: JPEG XL needs imagecodecs: pip install "denoise-cli\[jxl\]"'):
        identity.load_file(tmp_path / "scan.png", tmp_path / "scan.jxl")


def test_a_jpeg_xl_output_says_what_metadata_it_cannot_hold(identity, tmp_path):
    """imagecodecs writes no ICC profile into a JPEG XL file: a picture's is left out, and said;
    its EXIF is kept."""
    pytest.importorskip("imagecodecs")
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_rng(31).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(tmp_path / "shot.jpg", exif=camera_exif("Canon", "EOS", (30, 20)),
                                                                                        icc_profile=profile)
    said = identity.denoise_file(tmp_path / "shot.jpg", tmp_path / "shot.jxl").warnings
    assert said == [f"{tmp_path / 'shot.jxl'}: a jxl file as denoise writes it holds no ICC profile, so the picture's ICC profile is left out "
                    "(png, jpeg, tiff, webp, avif and heic keep it)."]
    assert read_image(tmp_path / "shot.jxl").exif


@pytest.mark.skipif(not features.check("jpg_2000"), reason="this Pillow has no JPEG 2000 support")
def test_a_jpeg_2000_output_says_what_metadata_it_cannot_hold(identity, tmp_path):
    """Pillow writes no EXIF into JPEG 2000: a photo's is left out, and said; a 12-bit gray
    scan comes out on the 16-bit scale, as Pillow reads it."""
    imagecodecs = pytest.importorskip("imagecodecs")
    Image.fromarray(_rng(26).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(tmp_path / "shot.jpg", exif=camera_exif("Canon", "EOS", (30, 20)))
    said = identity.denoise_file(tmp_path / "shot.jpg", tmp_path / "shot.jp2").warnings
    assert said == [f"{tmp_path / 'shot.jp2'}: a jp2 file holds no EXIF, so the picture's EXIF is left out (png, jpeg, tiff, webp, avif and heic keep it)."]
    twelve = _rng(28).integers(0, 4096, size=(20, 30), dtype=np.uint16)
    (tmp_path / "twelve.jp2").write_bytes(imagecodecs.jpeg2k_encode(twelve, level=0, bitspersample=12, codecformat="jp2"))
    identity.denoise_file(tmp_path / "twelve.jp2", tmp_path / "twelve_out.jp2")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "twelve_out.jp2")), twelve << 4)


@pytest.mark.parametrize("fmt,side", [("webp", 16383), ("jpg", 65500), ("gif", 65535),
                                      pytest.param("avif", 32768, marks=pytest.mark.skipif(not features.check("avif"), reason="no AVIF in this Pillow"))])
def test_a_picture_wider_than_a_format_holds_is_refused_before_work(identity, tmp_path, fmt, side):
    """A stitched panorama or a long scan past a format's longest side failed only when written,
    after the work (WebP, JPEG), or as 'unexpected OverflowError' (GIF)."""
    src = tmp_path / "panorama.png"
    Image.fromarray(_rng(14).integers(0, 256, size=(2, side + 1), dtype=np.uint8)).save(src)
    with pytest.raises(DenoiseError, match=rf"panorama.{fmt}: {'an avif' if fmt == 'avif' else 'a jpeg' if fmt == 'jpg' else 'a ' + fmt} file holds pictures of at most "
                                           rf"{side:,} pixels a side, and this one is {side + 1}x2; choose another format \(png, tiff, bmp, jp2, jxl, pnm\)\.$"):
        identity.denoise_file(src, tmp_path / f"panorama.{fmt}")
    assert not (tmp_path / f"panorama.{fmt}").exists()
    Image.fromarray(_rng(15).integers(0, 256, size=(2, side), dtype=np.uint8)).save(src)
    identity.denoise_file(src, tmp_path / f"panorama.{fmt}")  # the longest side it holds
    assert Image.open(tmp_path / f"panorama.{fmt}").size == (side, 2)


def _png_16_bit_colour(path, pixels: np.ndarray, exif: Image.Exif | None = None, icc: bytes | None = None) -> None:
    """A 48- or 64-bit PNG as a raw converter writes it (Pillow cannot write one): signature,
    IHDR, the EXIF and ICC profile chunks, one IDAT, IEND."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width, channels = pixels.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    extra = (chunk(b"eXIf", exif.tobytes()[6:]) if exif is not None else b"") + (chunk(b"iCCP", b"icc\0\0" + zlib.compress(icc)) if icc else b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6 if channels == 4 else 2, 0, 0, 0))
                     + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels,orientation", [(3, 1), (4, 1), (3, 6)])
def test_a_48_bit_png_keeps_its_depth_alpha_and_metadata(identity, tmp_path, channels, orientation):
    """A raw converter's 16-bit colour PNG (Pillow reads it as 8 bits per channel): read and
    written at full depth by imagecodecs, alpha untouched, turned upright, EXIF (the camera) and
    ICC profile kept; a JPEG cannot hold it."""
    imagecodecs = pytest.importorskip("imagecodecs")
    pixels = _rng(15).integers(0, 65536, size=(6, 7, channels)).astype(np.uint16)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = camera_exif("Nikon", "Nikon Z 6", (7, 6), orientation)
    _png_16_bit_colour(tmp_path / "shot.png", pixels, exif, icc)
    assert Image.open(tmp_path / "shot.png").mode in ("RGB", "RGBA")  # what Pillow makes of it
    identity.denoise_file(tmp_path / "shot.png", tmp_path / "out.png")
    upright = np.rot90(pixels, -1) if orientation == 6 else pixels
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), upright)
    header = Image.open(tmp_path / "out.png")
    assert header.info["icc_profile"] == icc and header.getexif()[0x0110] == "Nikon Z 6" and header.getexif()[0x0112] == 1
    with pytest.raises(DenoiseError, match="JPEG cannot store this 16-bit RGB"):
        identity.denoise_file(tmp_path / "shot.png", tmp_path / "out.jpg")


def test_a_48_bit_png_without_imagecodecs_names_what_to_install(identity, tmp_path, monkeypatch):
    _png_16_bit_colour(tmp_path / "scan.png", _rng(15).integers(0, 65536, size=(6, 7, 3)))
    monkeypatch.setitem(__import__("sys").modules, "imagecodecs", None)  # as if it were not installed
    with pytest.raises(DenoiseError, match=r'scan.png: RGB with 16 bits per channel, which Pillow reads as 8; pip install "denoise-cli\[tiff16\]"'):
        identity.denoise_file(tmp_path / "scan.png", tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
    _netpbm(tmp_path / "deep.ppm", b"P6", _rng(25).integers(0, 65536, size=(4, 5, 3)), 65535)  # read without it
    with pytest.raises(DenoiseError, match=r'deep.png: RGB with 16 bits per channel.*denoise-cli\[tiff16\]'):
        identity.load_file(tmp_path / "deep.ppm", tmp_path / "deep.png")  # before the model runs, not after


def test_a_tiff_written_by_a_program_keeps_its_caption_not_its_layout_record(identity, tmp_path):
    """tifffile (a Python pipeline's, a microscope's) and ImageJ record the file's layout in the
    ImageDescription; carried into an output of another layout, it misguides them. A caption
    stays. Channels that Pillow does not read (a multispectral scan's extra ones) are said."""
    tifffile = pytest.importorskip("tifffile")
    planar = _rng(22).integers(0, 256, size=(3, 20, 30), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")  # description {"shape": [3, 20, 30]}
    assert identity.denoise_file(tmp_path / "planar.tif", tmp_path / "out.tif").warnings == []
    with tifffile.TiffFile(tmp_path / "out.tif") as written:
        assert written.pages[0].description == "" and written.series[0].shape == (20, 30, 3)
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), planar.transpose(1, 2, 0))
    tifffile.imwrite(tmp_path / "caption.tif", planar[0], description="Harbour at dawn", metadata=None)  # no shape record besides
    identity.denoise_file(tmp_path / "caption.tif", tmp_path / "caption.jpg")
    assert Image.open(tmp_path / "caption.jpg").getexif().get(270) == "Harbour at dawn"
    tifffile.imwrite(tmp_path / "five.tif", _rng(23).integers(0, 256, size=(20, 30, 5), dtype=np.uint8), photometric="rgb", extrasamples=[0, 0])
    said = identity.denoise_file(tmp_path / "five.tif", tmp_path / "five_out.tif").warnings
    assert said == [f"{tmp_path / 'five.tif'}: has 5 channels, and Pillow reads 3 of them (RGB): the output holds no more."]


@pytest.mark.parametrize("compression", ["png", "lerc", "webp", "jpeg2000", "jpegxl"])
def test_a_tiff_compressed_in_a_way_pillow_cannot_decode_is_read_by_tifffile(identity, tmp_path, compression):
    """Slide scanners store JPEG 2000 in their TIFFs, GIS tools WebP, LERC or JPEG XL: Pillow
    cannot open (or, WebP, decode) them, and an 8-bit RGB or gray one was refused as a layout
    "neither Pillow nor denoise reads". tifffile and imagecodecs read them, tags included; a
    gray one whose white is zero comes out as Pillow reads such a file."""
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("imagecodecs")
    pixels = _rng(27).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    lossless = {"webp": {"lossless": True}, "jpeg2000": {"level": 0}, "jpegxl": {"lossless": True}}.get(compression)
    tifffile.imwrite(tmp_path / "scan.tif", pixels, photometric="rgb", compression=compression, compressionargs=lossless,
                     software="Scanner 9", metadata=None)
    result = identity.denoise_file(tmp_path / "scan.tif", tmp_path / "out.tif")
    out = Image.open(tmp_path / "out.tif")
    assert result.warnings == [] and out.mode == "RGB" and out.getexif().get(305) == "Scanner 9"
    assert np.array_equal(np.asarray(out), tifffile.imread(tmp_path / "scan.tif"))
    if compression == "webp":  # WebP holds colour only
        return
    tifffile.imwrite(tmp_path / "plain.tif", pixels[..., 0], photometric="miniswhite", metadata=None)
    tifffile.imwrite(tmp_path / "fax.tif", pixels[..., 0], photometric="miniswhite", compression=compression, compressionargs=lossless,
                     metadata=None)
    identity.denoise_file(tmp_path / "fax.tif", tmp_path / "fax.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "fax.png")), np.asarray(Image.open(tmp_path / "plain.tif")))


@pytest.mark.parametrize("out_name", ["out.tif", "out.jpg", "out.png"])
def test_a_bigtiff_keeps_its_pixels_and_tags(identity, tmp_path, out_name):
    """A BigTIFF (64-bit offsets: what slide scanners, GIS tools and tifffile write for files that
    may pass 4 GB) failed only when written, after the work: its tags came back with a BigTIFF
    header, which Pillow cannot read back as EXIF."""
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(26).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "scan.tif", pixels, bigtiff=True, photometric="rgb", software="Scanner 9", metadata=None)
    identity.denoise_file(tmp_path / "scan.tif", tmp_path / out_name)
    out = Image.open(tmp_path / out_name)
    assert out.getexif().get(305) == "Scanner 9"
    if out_name != "out.jpg":
        assert np.array_equal(np.asarray(out), pixels)


@pytest.mark.parametrize("layout", ["RGB", "RGB planar", "RGBA"])
def test_a_48_bit_tiff_keeps_its_depth_alpha_and_header(identity, tmp_path, layout):
    """A raw converter's or a film scanner's 16-bit colour TIFF, read and written with tifffile:
    every value kept by an identity model, alpha untouched, ICC profile, DPI and camera kept."""
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(19).integers(0, 65536, size=(30, 40, 4 if layout == "RGBA" else 3)).astype(np.uint16)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored = np.moveaxis(pixels, -1, 0) if layout == "RGB planar" else pixels
    tifffile.imwrite(tmp_path / "scan.tif", stored, photometric="rgb", planarconfig="separate" if layout == "RGB planar" else None,
                     extrasamples=("unassalpha",) if layout == "RGBA" else None, iccprofile=icc, resolution=(300, 300), resolutionunit="INCH",
                     extratags=[(271, "s", 0, "Nikon", True), (272, "s", 0, "Coolscan", True)], metadata=None)
    identity.denoise_file(tmp_path / "scan.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        out, tags = tif.pages[0].asarray(), {tag.name: tag.value for tag in tif.pages[0].tags}
    assert out.dtype == np.uint16 and np.array_equal(out, pixels)
    header = Image.open(tmp_path / "out.tif")
    assert header.info["icc_profile"] == icc and tuple(round(v) for v in header.info["dpi"]) == (300, 300)
    assert tags["Make"] == "Nikon" and tags["Model"] == "Coolscan"
    identity.denoise_file(tmp_path / "scan.tif", tmp_path / "out.png")  # a 16-bit PNG holds it too
    assert np.array_equal(read_image(tmp_path / "out.png").planes, np.moveaxis(pixels[..., :3], -1, 0))


def test_a_48_bit_tiff_keeps_its_caption_and_drops_tifffile_s_note_of_its_shape(identity, tmp_path):
    """tifffile writes its array's shape as the ImageDescription by default, and every such
    16-bit colour TIFF warned that it "keeps only its text tags of EXIF", with no EXIF in it; a
    caption (ImageDescription) was dropped. Now the shape note goes unsaid and a caption is kept."""
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(44).integers(0, 65536, size=(12, 16, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", pixels, photometric="rgb")  # tifffile's defaults: '{"shape": [12, 16, 3]}'
    assert identity.denoise_file(tmp_path / "plain.tif", tmp_path / "plain_out.tif").warnings == []
    with tifffile.TiffFile(tmp_path / "plain_out.tif") as tif:
        assert "ImageDescription" not in tif.pages[0].tags
    tifffile.imwrite(tmp_path / "captioned.tif", pixels, photometric="rgb", description="Harbour at dawn, roll 12", metadata=None)
    assert identity.denoise_file(tmp_path / "captioned.tif", tmp_path / "captioned_out.tif").warnings == []
    with tifffile.TiffFile(tmp_path / "captioned_out.tif") as tif:
        assert tif.pages[0].tags["ImageDescription"].value == "Harbour at dawn, roll 12"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_48_bit_tiff_is_turned_upright_as_pillow_turns_an_8_bit_one(identity, tmp_path, orientation):
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(20).integers(0, 65536, size=(6, 9, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", pixels, photometric="rgb", extratags=[(274, "H", 1, orientation, True)], metadata=None)
    eight = Image.fromarray((pixels >> 8).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    eight.save(tmp_path / "eight.tif", exif=exif.tobytes())
    identity.denoise_file(tmp_path / "deep.tif", tmp_path / "deep_out.tif")
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "eight.tif")))
    assert np.array_equal(tifffile.imread(tmp_path / "deep_out.tif") >> 8, upright)


def test_a_48_bit_tiff_without_tifffile_names_what_to_install(identity, tmp_path, monkeypatch):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "scan.tif", np.zeros((4, 4, 3), np.uint16), photometric="rgb")
    monkeypatch.setitem(__import__("sys").modules, "tifffile", None)  # as if it were not installed
    with pytest.raises(DenoiseError, match=r'scan.tif: RGB with 16 bits per channel, which Pillow reads as 8; pip install "denoise-cli\[tiff16\]"'):
        identity.denoise_file(tmp_path / "scan.tif", tmp_path / "out.tif")


@pytest.mark.parametrize("layout", ["RGB float32", "RGB float32 planar", "RGBA float32", "gray float64", "gray float16", "RGB 0-1000"])
def test_a_float_tiff_pillow_cannot_open_keeps_its_type_alpha_and_header(identity, tmp_path, layout):
    """Astro stacking (Siril, DeepSkyStacker) and HDR merges write float colour TIFFs, which
    Pillow cannot open ("not an image"): tifffile reads and writes them in their own float type."""
    tifffile = pytest.importorskip("tifffile")
    dtype = {"float64": np.float64, "float16": np.float16}.get(layout.split()[1], np.float32)
    samples = 1 if layout.startswith("gray") else 4 if layout.startswith("RGBA") else 3
    pixels = _rng(21).random((30, 40, samples)) * (1000 if "1000" in layout else 1)
    pixels = (pixels[..., 0] if samples == 1 else pixels).astype(dtype)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    planar = "planar" in layout
    tifffile.imwrite(tmp_path / "stack.tif", np.moveaxis(pixels, -1, 0) if planar else pixels,
                     photometric="minisblack" if samples == 1 else "rgb", planarconfig="separate" if planar else None,
                     extrasamples=("unassalpha",) if samples == 4 else None, iccprofile=icc, resolution=(300, 300), resolutionunit="INCH",
                     extratags=[(271, "s", 0, "ZWO", True), (700, 1, 14, b"<x:xmpmeta/>\n\n", True)], metadata=None)
    identity.denoise_file(tmp_path / "stack.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        out, tags = tif.pages[0].asarray(), {tag.name: tag.value for tag in tif.pages[0].tags}
    assert out.dtype == dtype and out.shape == pixels.shape
    assert np.allclose(out, pixels, rtol=1e-5, atol=1e-6)  # the model runs in float32, its patches blended
    assert tags["InterColorProfile"] == icc and tags["XResolution"] == (300, 1) and tags["Make"] == "ZWO"
    assert tags["XMP"] == b"<x:xmpmeta/>\n\n"
    with pytest.raises(DenoiseError, match=r"out.png: PNG cannot store this (float RGB|64-bit float gray|16-bit float gray|32-bit float gray)"):
        identity.denoise_file(tmp_path / "stack.tif", tmp_path / "out.png")


def test_a_float_colour_tiff_is_denoised_with_its_holes_kept(conv_stack, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    pixels = np.clip(0.5 + 0.1 * _rng(22).standard_normal((40, 50, 3)), 0, 1).astype(np.float32)
    pixels[5, 7, 1] = np.nan  # a dead pixel masked by the stacking software
    tifffile.imwrite(tmp_path / "m42.tif", pixels, photometric="rgb")
    image = read_image(tmp_path / "m42.tif")
    assert image.mode == "RGB;F" and any("1 pixel is NaN" in w for w in image.warnings)
    Denoiser(conv_stack, "cpu").denoise_file(tmp_path / "m42.tif", tmp_path / "out.tif")
    out = tifffile.imread(tmp_path / "out.tif")
    assert np.isnan(out[5, 7, 1]) and np.isfinite(out).sum() == out.size - 1 and not np.allclose(out[:, :, 0], pixels[:, :, 0])


def _image_in_mode(mode: str, rng: np.random.Generator):
    """An ImageData of `mode` with random pixels over its whole scale."""
    from denoise_cli.pixels import SIXTEEN_BIT, ImageData, PixelScale

    channels = {"L": 1, "LA": 1, "RGB": 3, "RGBA": 3, "CMYK": 4}.get(mode.split(";")[0], 1 if mode in ("I;16", "I", "F") else 3)
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        pixels, scale = rng.integers(0, 256, (channels + 1, 16, 24)).astype(np.uint8), PixelScale(0, 255, np.dtype(np.uint8))
    elif mode in ("I;16", "LA;16", "RGB;16", "RGBA;16"):
        pixels, scale = rng.integers(0, 65536, (channels + 1, 16, 24)).astype(np.uint16), SIXTEEN_BIT
    elif mode == "I":
        pixels, scale = rng.integers(-100000, 100000, (channels + 1, 16, 24)).astype(np.int32), PixelScale(-100000, 100000, np.dtype(np.int32))
    else:  # F, RGB;F, RGBA;F
        pixels, scale = rng.random((channels + 1, 16, 24)).astype(np.float32), PixelScale(0, 1, np.dtype(np.float32))
    return ImageData(np.ascontiguousarray(pixels[:channels]), mode, scale, pixels[channels] if "A" in mode else None)


@pytest.mark.parametrize("fmt,mode", [(fmt, mode) for fmt, modes in sorted(__import__("denoise_cli.imageio").imageio.FORMAT_MODES.items())
                                      for mode in sorted(modes)])
def test_every_mode_a_format_is_said_to_hold_comes_back_from_it(tmp_path, fmt, mode):
    """What check_writable_as lets through is written and read back with its depth, channels and
    alpha (exactly, where the format is lossless): Pillow 12 stopped writing 32-bit integers into
    PNG, and its BMP drops alpha, both silently for a table that said otherwise."""
    from denoise_cli.imageio import SUFFIX_BY_FORMAT, output_format

    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
    if mode.endswith((";16", ";F")) and fmt in ("TIFF", "PNG"):
        pytest.importorskip("tifffile" if fmt == "TIFF" else "imagecodecs")
    if fmt == "JXL":
        pytest.importorskip("imagecodecs")
    image = _image_in_mode(mode, _rng(27))
    path = tmp_path / f"out{SUFFIX_BY_FORMAT[fmt]}"
    write_image(image, path, fmt=output_format(path))  # which registers the HEIC plugin, as for any output
    back = read_image(path)
    gray_as_colour = fmt in ("WEBP", "AVIF", "HEIF") and mode in ("L", "LA")  # formats without a gray mode
    assert back.mode == ({"L": "RGB", "LA": "RGBA"}[mode] if gray_as_colour and back.mode != mode else mode)
    assert (back.alpha is None) == (image.alpha is None) and back.planes.dtype == image.planes.dtype
    if fmt not in ("JPEG", "WEBP", "AVIF", "HEIF", "JXL"):  # JPEG XL: lossy unless its source was lossless (another test)
        assert np.array_equal(back.planes, image.planes) and (image.alpha is None or np.array_equal(back.alpha, image.alpha))


@pytest.mark.parametrize("kind", ["png", "tif"])
def test_16_bit_gray_with_alpha_keeps_its_depth(identity, tmp_path, kind):
    """GIMP and Krita export 16-bit gray with transparency; Pillow reads such a PNG as 8-bit RGBA
    (and cannot open such a TIFF): imagecodecs and tifffile read and write it at full depth."""
    tifffile = pytest.importorskip("tifffile")
    imagecodecs = pytest.importorskip("imagecodecs")
    pixels = _rng(28).integers(0, 65536, size=(20, 30, 2)).astype(np.uint16)
    if kind == "png":
        (tmp_path / "in.png").write_bytes(imagecodecs.png_encode(pixels))
    else:
        tifffile.imwrite(tmp_path / "in.tif", pixels, photometric="minisblack", extrasamples=("unassalpha",))
    image = read_image(tmp_path / f"in.{kind}")
    assert image.mode == "LA;16" and image.planes.shape == (1, 20, 30) and np.array_equal(image.alpha, pixels[..., 1])
    identity.denoise_file(tmp_path / f"in.{kind}", tmp_path / "out.png")
    identity.denoise_file(tmp_path / f"in.{kind}", tmp_path / "out.tif")
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), pixels)
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), pixels)
    with pytest.raises(DenoiseError, match=r"out.jpg: JPEG cannot store this 16-bit grayscale \+ alpha image without loss; choose another format \(png, tiff\)"):
        identity.load_file(tmp_path / f"in.{kind}", tmp_path / "out.jpg")


def test_alpha_is_not_written_into_a_bmp(identity, tmp_path):
    """Pillow writes RGBA into a BMP's 32-bit BI_RGB pixels, whose fourth byte readers ignore
    (Pillow itself reads the file back as RGB): the alpha would be lost, so BMP is refused."""
    Image.fromarray(_rng(26).integers(0, 256, size=(8, 8, 4), dtype=np.uint8), "RGBA").save(tmp_path / "icon.png")
    with pytest.raises(DenoiseError, match=r"icon.bmp: BMP cannot store this RGB \+ alpha image without loss; choose another format \(png, tiff, webp"):
        identity.load_file(tmp_path / "icon.png", tmp_path / "icon.bmp")


def test_32_bit_integer_gray_goes_into_a_16_bit_png_only_when_it_fits(identity, tmp_path):
    """A TIFF of int32 pixels within 0-65535 (as some scientific cameras write) is on the 16-bit
    scale, so a 16-bit PNG or PGM holds it exactly; Pillow itself writes no 32-bit PNG (before 12
    it clipped, now it refuses, after the model has run). Beyond that scale it is refused first."""
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(24).integers(0, 65536, size=(20, 30)).astype(np.int32)
    tifffile.imwrite(tmp_path / "fits.tif", pixels)
    for name in ("out.png", "out.pgm", "out.jp2"):
        identity.denoise_file(tmp_path / "fits.tif", tmp_path / name)
        assert np.array_equal(np.asarray(Image.open(tmp_path / name)).astype(np.int64), pixels)
    assert Image.open(tmp_path / "out.png").mode == "I;16"
    with pytest.raises(DenoiseError, match=r"out.jpg: JPEG cannot store .* choose another format \(png, tiff, jp2, pnm\)"):  # the formats that hold it
        identity.load_file(tmp_path / "fits.tif", tmp_path / "out.jpg")
    tifffile.imwrite(tmp_path / "wide.tif", pixels - 1000)  # negative values: a scale of its own
    for name in ("wide.png", "wide.pgm"):
        with pytest.raises(DenoiseError, match=rf"{name}: P[NP][GM] cannot store this 32-bit integer grayscale image without loss; choose another format \(tiff\)"):
            identity.load_file(tmp_path / "wide.tif", tmp_path / name)


def test_a_64_bit_float_tiff_beyond_float32s_range_keeps_its_values(identity, tmp_path):
    """Its own range is mapped to [0, 1] in 64-bit floats: in 32-bit ones 1e39 is infinite."""
    tifffile = pytest.importorskip("tifffile")
    pixels = _rng(23).random((20, 30)) * 1e39
    tifffile.imwrite(tmp_path / "wide.tif", pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings
        identity.denoise_file(tmp_path / "wide.tif", tmp_path / "out.tif")
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.dtype == np.float64 and np.allclose(out, pixels, rtol=1e-5)


def test_a_tiff_pillow_cannot_open_says_what_is_missing_or_wrong(identity, tmp_path, monkeypatch):
    from denoise_cli.imageio import suffix_of_content

    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "gray-alpha.tif", np.zeros((4, 4, 2), np.int32), photometric="minisblack", extrasamples=("unassalpha",))
    with pytest.raises(DenoiseError, match=r"gray-alpha.tif: a TIFF of int32 with 2 samples per pixel, which neither Pillow nor denoise reads"):
        read_image(tmp_path / "gray-alpha.tif")
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((4, 4, 3), np.float32), photometric="rgb")
    assert suffix_of_content(tmp_path / "float.tif", "<stdin>") == ".tif"  # a pipe's bytes are named by their content
    with pytest.raises(DenoiseError, match=r"float.tif: 4x4 is 16 pixels, over the limit of 15 pixels"):
        read_image(tmp_path / "float.tif", max_pixels=15)
    monkeypatch.setitem(__import__("sys").modules, "tifffile", None)  # as if it were not installed
    with pytest.raises(DenoiseError, match=r'float.tif: a TIFF Pillow cannot read \(float colour, or compressed with JPEG 2000, .*\); pip install "denoise-cli\[tiff16\]"'):
        identity.denoise_file(tmp_path / "float.tif", tmp_path / "out.tif")


def test_write_is_atomic_and_never_replaces_without_overwrite(tmp_path):
    src = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src)
    data = read_image(src)
    target = tmp_path / "y.png"
    target.write_bytes(b"keep me")
    with pytest.raises(DenoiseError, match="exists already"):
        write_image(data, target)
    assert target.read_bytes() == b"keep me"
    write_image(data, target, overwrite=True)
    assert Image.open(target).size == (8, 8)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_an_encoder_that_refuses_is_one_error_and_leaves_nothing(tmp_path):
    from denoise_cli.atomic import write_atomically

    def refuse(stream):
        stream.write(b"half an image")
        raise ValueError("COM data is too long")  # as Pillow's JPEG encoder says it

    with pytest.raises(DenoiseError, match="y.jpg: the encoder refused it"):
        write_atomically(tmp_path / "y.jpg", refuse)
    assert list(tmp_path.iterdir()) == []


def test_decompression_bomb_limit(tmp_path):
    src = tmp_path / "big.png"
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(src)
    with pytest.raises(DenoiseError, match="over the limit"):
        read_image(src, max_pixels=5000)
    assert read_image(src, max_pixels=10000).width == 100


def test_truncated_file_is_a_clean_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_rng(14).integers(0, 256, size=(64, 64), dtype=np.uint8)).save(buf, format="PNG")
    src = tmp_path / "cut.png"
    src.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DenoiseError, match="cut.png"):
        read_image(src)


def test_read_gray_brings_16_bit_gray_to_8_bits_by_scale(tmp_path):
    """The benchmark's reader (`bench --pairs` references, often kept 16-bit as a mean of many
    shots): Pillow's convert('L') clips 16-bit values, which turned nearly every pixel white."""
    from denoise_cli.imageio import read_gray

    sixteen = (np.arange(0, 65536, 64).reshape(32, 32)).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "mean.png")
    assert np.array_equal(read_gray(tmp_path / "mean.png") * 255, np.round(sixteen / 257).astype(np.float32))
    eight = sixteen // 257
    Image.fromarray(eight.astype(np.uint8)).save(tmp_path / "eight.png")
    assert np.array_equal(read_gray(tmp_path / "eight.png") * 255, eight.astype(np.float32))  # the protocol's way, as before


@pytest.mark.parametrize("kind", ["jxl", "lerc.tif", "webp.tif"])
def test_read_gray_reads_what_read_image_reads(tmp_path, kind):
    """Training folders and `bench --pairs` list files by the extensions denoise reads: a JPEG XL
    picture, or a TIFF Pillow cannot decode, is read as the same picture in a PNG is."""
    from denoise_cli.imageio import read_gray

    imagecodecs = pytest.importorskip("imagecodecs")
    tifffile = pytest.importorskip("tifffile")
    rgb = _rng(34).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "same.png")
    if kind == "jxl":
        (tmp_path / "pic.jxl").write_bytes(imagecodecs.jpegxl_encode(rgb, lossless=True))
    else:
        codec = kind.split(".")[0]
        tifffile.imwrite(tmp_path / "pic.tif", rgb, photometric="rgb", compression=codec,
                         compressionargs={"lossless": True} if codec == "webp" else None, metadata=None)
    assert np.array_equal(read_gray(tmp_path / f"pic.{kind.split('.')[-1]}"), read_gray(tmp_path / "same.png"))


def test_read_gray_reads_an_iphone_s_heic_as_denoise_does(tmp_path):
    """A phone's burst for `make-pair` and `bench --pairs` is often HEIC: read_gray opened files
    with Pillow alone, which knows no HEIC without its plugin, and called them unreadable."""
    from denoise_cli.imageio import _gray_of, read_gray

    pillow_heif = pytest.importorskip("pillow_heif")
    rgb = _rng(35).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    pillow_heif.from_bytes(mode="RGB", size=(32, 24), data=rgb.tobytes()).save(tmp_path / "shot.heic", quality=90)
    gray = read_gray(tmp_path / "shot.heic")
    assert gray.shape == (24, 32) and np.array_equal(gray, _gray_of(read_image(tmp_path / "shot.heic")))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_overwrite_keeps_the_replaced_files_permissions(tmp_path):
    src = tmp_path / "private.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src)
    src.chmod(0o600)  # a private photo must not come back readable by everyone
    write_image(read_image(src), src, overwrite=True)
    assert stat.S_IMODE(src.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.png"
    write_image(read_image(src), fresh)  # a new file gets the umask's mode, as any new file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_overwrite_through_a_symlink_writes_the_file_it_names(tmp_path):
    real = tmp_path / "albums" / "photo.png"
    real.parent.mkdir()
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(real)
    link = tmp_path / "latest.png"
    link.symlink_to(real)
    with pytest.raises(DenoiseError, match="exists already"):
        write_image(read_image(real), link)
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "new.png")
    write_image(read_image(tmp_path / "new.png"), link, overwrite=True)
    assert link.is_symlink() and Image.open(real).size == (6, 6)
    assert sorted(p.name for p in real.parent.iterdir()) == ["photo.png"]  # no temp file left beside it


def test_a_name_near_the_file_systems_limit_is_written(tmp_path):
    """The temporary file is named after the target, but never longer than the system allows:
    a 250-byte name (83 three-byte characters, say) is valid, and must not fail for ours."""
    src = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src)
    for name in ("b" * 246 + ".png", "写" * 82 + ".png"):
        write_image(read_image(src), tmp_path / name)
        assert Image.open(tmp_path / name).size == (8, 8)
