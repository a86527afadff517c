"""The Python API and the light import: `import denoise_cli` pulls in neither torch, numpy nor
onnxruntime; the registry refuses a corrupted shipped model."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from denoise_cli import Denoiser, OutputExistsError
from denoise_cli import registry
from denoise_cli.errors import DenoiseError
from denoise_cli.estimate import estimate_noise_levels, uniformity
from denoise_cli.pixels import ImageData, PixelScale

from conftest import camera_exif, describe, level_echo_model

FLOAT = PixelScale(0.0, 1.0, np.dtype(np.float32))


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_is_light():
    loaded = _modules_after("import denoise_cli")
    assert not {"torch", "numpy", "onnxruntime"} & loaded


def test_cli_help_path_imports_no_numpy_or_onnxruntime():
    loaded = _modules_after("import denoise_cli.cli")
    assert not {"torch", "numpy", "onnxruntime"} & loaded


def test_inference_never_imports_torch(identity_fixed):
    loaded = _modules_after(f"import numpy as np\nfrom denoise_cli import Denoiser\nDenoiser({str(identity_fixed)!r}, 'cpu').denoise(np.zeros((5, 5), np.uint8))")
    assert "torch" not in loaded
    assert "torch" not in _modules_after("from denoise_cli import about\nabout.report()")  # `denoise info` names torch's version only


def test_denoise_array_shapes_and_dtypes(identity_fixed):
    d = Denoiser(identity_fixed, device="cpu")
    for array in (np.zeros((10, 12), np.uint8), np.ones((10, 12, 3), np.uint16), np.full((3, 4), 0.5, np.float32)):
        out = d.denoise(array)
        assert out.shape == array.shape and out.dtype == array.dtype
    with pytest.raises(DenoiseError):
        d.denoise(np.zeros((2, 2, 2, 2)))
    with pytest.raises(DenoiseError, match=r"channels first .*transpose\(1, 2, 0\)"):
        d.denoise(np.zeros((3, 40, 50), np.uint8))  # as PyTorch holds a picture
    assert d.denoise(np.zeros((40, 50, 31), np.float32)).shape == (40, 50, 31)  # many channels, last
    with pytest.raises(DenoiseError, match=r"for a file use denoise_file\(path\)"):
        d.denoise("photo.png")  # a path where an array goes: numpy would read it as a 0-d array


@pytest.mark.parametrize("keyword", ["threads", "max_pixels", "batch_size"])
def test_counts_below_one_are_refused_when_the_denoiser_is_made(identity_fixed, keyword):
    """As the command line refuses them: max_pixels=0 refused every picture later, one by one,
    and threads=-1 went to ONNX Runtime as it was."""
    for value in (0, -1):
        with pytest.raises(DenoiseError, match=f"--{keyword.replace('_', '-')} must be at least 1"):
            Denoiser(identity_fixed, "cpu", **{keyword: value})


def test_float_and_integer_arrays_on_a_scale_of_their_own_keep_it(identity_fixed, box_blur):
    """A float array is taken on [0, 1], noisy values a little outside it too (clipped); values
    far beyond (the 0-255 floats of `img.astype(float)`) keep their scale: clipping them to
    [0, 1] returned a white picture."""
    picture = np.random.default_rng(2).integers(10, 250, size=(30, 40)).astype(np.float64)
    assert np.allclose(Denoiser(identity_fixed, "cpu").denoise(picture), picture)
    blurred = Denoiser(box_blur, "cpu").denoise(picture)
    assert blurred.dtype == np.float64 and 100 < blurred.mean() < 160 and blurred.std() < picture.std()
    for dtype in (np.int16, np.int64):  # a scanner's signed data, a list of lists
        assert np.array_equal(Denoiser(identity_fixed, "cpu").denoise(picture.astype(dtype) - 100), picture.astype(dtype) - 100)
    with pytest.raises(DenoiseError, match="unsupported array dtype bool"):
        Denoiser(identity_fixed, "cpu").denoise(picture > 100)
    noisy = picture / 255 + np.random.default_rng(3).normal(0, 0.4, picture.shape)  # far below 0 and above 1
    assert np.allclose(Denoiser(identity_fixed, "cpu").denoise(noisy), np.clip(noisy, 0, 1), atol=1e-6)


def test_a_big_endian_array_is_denoised_as_its_native_twin(level_echo):
    """FITS files (astropy) and raw dumps give big-endian uint16: the full 16-bit range is still
    the scale, not the picture's own, or the noise reading (here the output) would change."""
    picture = np.random.default_rng(5).integers(20000, 40000, size=(30, 40)).astype(np.uint16)
    denoiser = Denoiser(level_echo, "cpu")
    native, swapped = denoiser.denoise(picture), denoiser.denoise(picture.astype(">u2"))
    assert swapped.dtype == np.dtype(">u2") and np.array_equal(swapped, native)


def test_a_nan_in_an_array_stays_one_pixel(conv_stack, level_echo):
    """A network would spread a NaN over its receptive field, and the noise estimate with it."""
    array = np.random.default_rng(0).random((40, 50))
    array[10, 10] = np.nan
    out = Denoiser(conv_stack, "cpu").denoise(array)
    assert np.isnan(out[10, 10]) and np.isfinite(np.delete(out.ravel(), 10 * 50 + 10)).all()
    echoed = Denoiser(level_echo, "cpu").denoise(array)
    assert np.isfinite(np.delete(echoed.ravel(), 10 * 50 + 10)).all()  # the level fed was a number


def test_ensemble_averages_the_model_over_the_picture_and_its_flips(conv_stack):
    """`ensemble=True` is the mean of the model's output on the picture and on its three flips
    (each flipped back), through the real tiling: here several tiles with margins."""
    array = np.random.default_rng(1).random((70, 90)).astype(np.float32)
    plain = Denoiser(conv_stack, "cpu", tile=24)
    flips = [lambda a: a, np.fliplr, np.flipud, lambda a: a[::-1, ::-1]]
    outputs = np.stack([f(plain.denoise(np.ascontiguousarray(f(array)))) for f in flips])
    ensembled = Denoiser(conv_stack, "cpu", tile=24, ensemble=True).denoise(array)
    unclipped = ((outputs > 0) & (outputs < 1)).all(axis=0)  # the outputs are clipped after averaging
    assert unclipped.sum() > 500
    assert np.allclose(ensembled[unclipped], outputs.mean(axis=0)[unclipped], atol=1e-5)
    assert not np.allclose(ensembled, plain.denoise(array), atol=1e-3)  # the random stack is not flip-symmetric


def test_a_pillow_image_comes_back_a_pillow_image(identity_fixed, models_dir, echoed_levels):
    """As a file would be written: alpha untouched, a palette as RGB, ICC, DPI and EXIF carried,
    the geometry as given (no EXIF orientation applied); a camera's EXIF brings its strength."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (30, 40, 4), dtype=np.uint8), "RGBA")
    exif = camera_exif("Canon", "Canon EOS 80D", (40, 30), orientation=6)
    rgba.info.update(icc_profile=b"an ICC profile", dpi=(300, 300), exif=exif.tobytes())
    out = Denoiser(identity_fixed).denoise(rgba)
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (40, 30)
    assert np.array_equal(np.asarray(out), np.asarray(rgba))
    assert out.info["icc_profile"] == b"an ICC profile" and out.info["dpi"] == (300, 300)
    kept = Image.Exif()
    kept.load(out.info["exif"])
    assert kept[0x0112] == 6 and kept[0x0110] == "Canon EOS 80D"  # still true of the pixels given back
    assert Denoiser(identity_fixed).denoise(rgba.convert("P")).mode == "RGB"

    echo = level_echo_model(models_dir / "pillow-echo.onnx", level_floor=[3 / 255], camera_strength=2.0, tile_size=512)
    flat = Image.new("L", (2600, 2000), 128)  # reads no noise: the floor, 3
    assert np.asarray(Denoiser(echo).denoise(flat)).max() == 3
    shot = Image.new("L", flat.size, 128)
    shot.info["exif"] = camera_exif("Canon", "Canon EOS 80D", flat.size).tobytes()
    assert np.asarray(Denoiser(echo).denoise(shot)).max() == 6  # a camera's own photo: strength 2


def test_progress_callback_counts_tiles(identity_fixed):
    seen = []
    Denoiser(identity_fixed, "cpu").denoise(np.zeros((60, 60), np.uint8), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]


def test_corrupted_shipped_model_is_refused(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"original bytes")
    entry = registry.ModelEntry("m", model, hashlib.sha256(b"original bytes").hexdigest())
    assert registry.read_verified(entry) == b"original bytes"
    model.write_bytes(b"tampered bytes")
    with pytest.raises(DenoiseError, match="corrupted or altered"):
        registry.read_verified(entry)


def test_shipped_models_match_their_manifest():
    for entry in registry.shipped_models():
        assert registry.read_verified(entry)


def test_model_metadata_is_read_from_the_file_as_onnx_runtime_reads_it():
    """The description decides how a session is built, so it is read before there is one;
    it must be exactly what ONNX Runtime sees, and garbage must not pass for a model."""
    from denoise_cli.session import open_session, read_metadata

    for entry in registry.shipped_models():
        data = registry.read_verified(entry)
        session = open_session(data, device="cpu", threads=1)
        assert read_metadata(data) == dict(session.get_modelmeta().custom_metadata_map), entry.name
    assert read_metadata(b"\xff\xff\xff") is None
    assert read_metadata(data[: len(data) // 2]) is None  # truncated


def test_default_model_is_registered():
    name = registry.default_model_name()
    assert name is not None and registry.resolve("default").name == name


@pytest.mark.parametrize("typed,guess", [("phot", "photo"), ("Gausian", "gaussian"), ("SP", "sp"), ("mnist", None), ("blur", None)])
def test_a_mistyped_model_name_gets_the_one_it_likely_meant(typed, guess):
    """One close name is suggested; none where several start as typed (mnist: four do)."""
    with pytest.raises(DenoiseError, match=f"unknown model '{typed}'") as refused:
        registry.resolve(typed)
    said = str(refused.value)
    assert (f"(did you mean {guess}?)" in said) if guess else "did you mean" not in said
    assert "available: " in said and "photo" in said


def test_a_model_fed_more_noise_than_a_picture_holds_keeps_its_brightness(monkeypatch):
    """Told twice the noise a flat field holds (--strength 2, a camera's strength, a high --sigma),
    `gaussian` moved its brightness: mid-gray and a page's white up by 5-11 grey levels under
    noise of std 10, dark gray down. The low frequencies of what it removed are given back
    (brightness.py); at the level the picture reads, and at a camera photo's own strength,
    nothing changes."""
    from denoise_cli import api

    rng = np.random.default_rng(7)
    fields = np.stack([np.clip(np.round(level + rng.normal(0, 10, (96, 96))), 0, 255) for level in (20, 105, 200, 235)]).astype(np.uint8)
    row = np.concatenate(list(fields), axis=1)  # one picture, four flat areas

    def shifts(strength: float) -> np.ndarray:
        out = Denoiser("gaussian", "cpu", strength=strength).denoise(row).astype(float)
        return np.array([(out - row)[:, k * 96 + 16 : (k + 1) * 96 - 16].mean() for k in range(4)])  # away from the areas' edges

    assert np.abs(shifts(2)).max() < 1
    at_its_level = Denoiser("gaussian", "cpu").denoise(row)
    grainy = np.clip(np.round(128 + rng.normal(0, 25, (128, 128))), 0, 255).astype(np.uint8)
    as_shot = Denoiser("photo", "cpu").denoise(grainy, camera="Canon EOS 80D")  # the camera strength: 2 at this reading
    monkeypatch.setattr(api, "keep_local_brightness", lambda *args: None)
    assert np.array_equal(Denoiser("gaussian", "cpu").denoise(row), at_its_level)  # nothing given back at strength 1
    assert np.array_equal(Denoiser("photo", "cpu").denoise(grainy, camera="Canon EOS 80D"), as_shot)  # nor at a camera's strength
    assert np.abs(shifts(2)).max() > 3  # what it did before


def test_sigma_and_strength_set_the_level_a_model_is_given(level_echo, echoed_levels):
    """--sigma replaces the estimate and --strength scales it: the knobs a user turns when a
    result is over- or under-smoothed."""
    flat = np.full((40, 40), 0.5, dtype=np.float32)
    assert np.allclose(Denoiser(level_echo, sigma=51).denoise(flat), 51 / 255)
    assert np.allclose(Denoiser(level_echo, sigma=51, strength=0.5).denoise(flat), 25.5 / 255)
    noisy = np.clip(flat + np.random.default_rng(0).normal(0, 20 / 255, flat.shape), 0, 1).astype(np.float32)
    estimated = float(Denoiser(level_echo).denoise(noisy).mean())
    assert abs(estimated * 255 - 20) < 3  # the automatic default follows the image's noise
    assert np.isclose(float(Denoiser(level_echo, strength=2).denoise(noisy).mean()), 2 * estimated, rtol=1e-5)


def test_a_two_reading_model_is_fed_both_readings(models_dir, echoed_levels):
    """A model trained on the full-resolution and the binned reading gets both, each scaled by
    --strength; a user's --sigma feeds each as white noise of that std reads (half: sigma / 2)."""
    echo_full, echo_half = (
        level_echo_model(models_dir / f"echo-{k}.onnx", echo=k, level_readings=["full", "half"]) for k in (0, 1)
    )
    flat = np.full((64, 64), 0.5, dtype=np.float32)
    assert np.allclose(Denoiser(echo_full, sigma=51).denoise(flat), 51 / 255)
    assert np.allclose(Denoiser(echo_half, sigma=51).denoise(flat), 25.5 / 255)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 12 / 255, (130, 130)).astype(np.float32)
    correlated = (noise[:-2, :-2] + noise[1:-1, 1:-1] + noise[2:, 2:] + noise[1:-1, :-2] + noise[1:-1, 2:]) / np.sqrt(5)
    noisy = np.clip(0.5 + correlated, 0, 1).astype(np.float32)
    full, half = estimate_noise_levels(noisy, FLOAT, ["full", "half"])
    assert np.allclose(Denoiser(echo_full, strength=1.5).denoise(noisy), 1.5 * full, rtol=1e-5)
    assert np.allclose(Denoiser(echo_half, strength=1.5).denoise(noisy), 1.5 * half, rtol=1e-5)


def test_a_model_s_level_floor_raises_the_estimates_but_not_a_user_s_sigma(models_dir, echoed_levels):
    """A model with a level floor gets each estimate raised to at least its floor, then the
    strength: a smooth picture is read as its training patches were. A user's --sigma stays as
    given, and a camera's own photo gets the camera strength on the raised estimates."""
    floor = [3 / 255, 5 / 255]
    echo_full, echo_half = (
        level_echo_model(models_dir / f"floor-{k}.onnx", echo=k, level_readings=["full", "half"], level_floor=floor,
                         camera_strength=2.0) for k in (0, 1)
    )
    rng = np.random.default_rng(1)
    noisy = np.clip(0.5 + rng.normal(0, 4 / 255, (96, 96)), 0, 1).astype(np.float32)
    full, half = estimate_noise_levels(noisy, FLOAT, ["full", "half"])
    assert full > floor[0] and half < floor[1]
    assert np.allclose(Denoiser(echo_full).denoise(noisy), full, rtol=1e-5)  # above its floor: as read
    assert np.allclose(Denoiser(echo_half, strength=2).denoise(noisy), 2 * floor[1], rtol=1e-5)
    assert np.allclose(Denoiser(echo_half).denoise(noisy, camera="Canon EOS 80D"), 2 * floor[1], rtol=1e-5)
    flat = np.full((64, 64), 0.5, dtype=np.float32)
    assert np.allclose(Denoiser(echo_full).denoise(flat), floor[0], rtol=1e-5)  # reads 0: the floor
    assert np.allclose(Denoiser(echo_half, sigma=51).denoise(flat), 25.5 / 255)


def test_a_camera_ramp_phases_the_camera_strength_in_as_the_reading_rises(models_dir, echoed_levels):
    """On a camera's own photo, a model with a camera ramp gets strength 1 while its strongest
    reading is below the ramp, its full camera strength above, and in between a share of it in
    proportion; the strength used is reported. A user's --sigma gets no camera strength."""
    ramp = [8 / 255, 16 / 255]
    echo = level_echo_model(models_dir / "ramp-echo.onnx", camera_strength=3.0, camera_ramp=ramp)
    rng = np.random.default_rng(4)
    strengths = []
    for std in (4, 12, 24):  # below, on and past the ramp
        noisy = np.clip(0.5 + rng.normal(0, std / 255, (96, 96)), 0, 1).astype(np.float32)
        (reading,) = estimate_noise_levels(noisy, FLOAT, ["full"])
        image = ImageData(planes=noisy[None], mode="array", scale=FLOAT, camera="Canon EOS 80D")
        setting = Denoiser(echo).denoise_image(image)[1]
        assert setting.camera == "Canon EOS 80D"
        assert np.allclose(Denoiser(echo).denoise(noisy, camera="Canon EOS 80D"), setting.strength * reading, rtol=1e-5)
        assert setting.strength == pytest.approx(1 + 2 * min(1, max(0, (reading - ramp[0]) / (ramp[1] - ramp[0]))), abs=0.01)
        strengths.append(setting.strength)
    assert strengths[0] == 1 and 1.2 < strengths[1] < 2.8 and strengths[2] == 3
    assert np.allclose(Denoiser(echo, sigma=51).denoise(noisy, camera="Canon EOS 80D"), 51 / 255)


def test_a_texture_guard_lowers_the_automatic_strength_on_readings_that_look_like_dense_texture(models_dir, echoed_levels):
    """Readings with half / full inside the guard's band and full above its start get the
    strength cap / full (at least its least), reported; white noise (half / full 0.5), and the
    same texture fainter than the start, keep 1. A user's strength or sigma, and a camera's own
    photo (the camera strength), are not guarded."""
    guard = [4 / 255, 3 / 255, 0.7, 1.8, 0.25]
    echo = level_echo_model(models_dir / "guard-echo.onnx", level_readings=["full", "half"], camera_strength=2.0, texture_guard=guard)
    rng = np.random.default_rng(5)
    white = rng.normal(0, 12 / 255, (130, 130)).astype(np.float32)
    textured = (white[:-2, :-2] + white[1:-1, 1:-1] + white[2:, 2:] + white[1:-1, :-2] + white[1:-1, 2:]) / np.sqrt(5)
    for pattern, guarded in ((white, False), (textured, True)):
        picture = np.clip(0.5 + pattern, 0, 1).astype(np.float32)
        full, half = estimate_noise_levels(picture, FLOAT, ["full", "half"])
        assert (0.7 <= half / full <= 1.8) == guarded
        setting = Denoiser(echo).denoise_image(ImageData(planes=picture[None], mode="array", scale=FLOAT))[1]
        assert setting.strength == pytest.approx(guard[1] / full if guarded else 1.0, abs=0.005)
        assert np.allclose(Denoiser(echo).denoise(picture), setting.strength * full, rtol=1e-5)
    assert 0.25 < setting.strength < 1
    faint = np.clip(0.5 + textured / 2, 0, 1).astype(np.float32)  # reads below the start
    assert estimate_noise_levels(faint, FLOAT, ["full"])[0] < guard[0]
    assert Denoiser(echo).denoise_image(ImageData(planes=faint[None], mode="array", scale=FLOAT))[1].strength == 1
    assert np.allclose(Denoiser(echo, strength=1).denoise(picture), full, rtol=1e-5)
    assert np.allclose(Denoiser(echo).denoise(picture, camera="Canon EOS 80D"), 2 * full, rtol=1e-5)
    assert np.allclose(Denoiser(echo, sigma=51).denoise(picture), 51 / 255)
    low_cap = level_echo_model(models_dir / "guard-least-echo.onnx", level_readings=["full", "half"], texture_guard=[0, 1 / 255, 0.7, 1.8, 0.25])
    assert np.allclose(Denoiser(low_cap).denoise(picture), 0.25 * full, rtol=1e-5)  # 1 / 6.4 raised to its least


def test_a_texture_guard_with_an_even_value_leaves_noise_that_reads_uniformly(models_dir):
    """The same in-band readings are texture's where the picture's flat areas read low, and
    noise's where they read as much as the rest: only the first is guarded."""
    guard = [2 / 255, 2 / 255, 0.7, 1.8, 0.25, 0.8]
    echo = level_echo_model(models_dir / "guard-even-echo.onnx", level_readings=["full", "half"], texture_guard=guard)
    rng = np.random.default_rng(6)
    white = rng.normal(0, 12 / 255, (202, 202)).astype(np.float32)
    correlated = (white[:-2, :-2] + white[1:-1, 1:-1] + white[2:, 2:] + white[1:-1, :-2] + white[1:-1, 2:]) / np.sqrt(5)
    everywhere = np.clip(0.5 + correlated, 0, 1).astype(np.float32)
    with_flat = everywhere.copy()
    with_flat[:, :60] = 0.5 + rng.normal(0, 1 / 255, (200, 60)).astype(np.float32)  # a flat strip
    for picture, guarded in ((everywhere, False), (with_flat, True)):
        full, half = estimate_noise_levels(picture, FLOAT, ["full", "half"])
        assert 0.7 <= half / full <= 1.8 and full > guard[0]  # in the band either way
        assert (uniformity(picture, FLOAT) < guard[5]) == guarded
        setting = Denoiser(echo).denoise_image(ImageData(planes=picture[None], mode="array", scale=FLOAT))[1]
        assert setting.texture == guarded and (setting.strength < 1) == guarded


def test_a_texture_guard_with_a_ramp_phases_in_below_its_start():
    """Readings come in steps: with a ramp, a texture just under the start is guarded in part,
    not given strength 1 while one step above gets the whole guard; the strength falls without a
    jump from 1 at start - ramp to the guard's at start, and above it is as without a ramp."""
    from denoise_cli.api import texture_strength

    hard = [3.75, 1.2, 0.65, 1.8, 0.1, 0.82]
    ramped = [*hard, 1.25]
    fulls = np.arange(2.0, 6.0, 0.01)
    strengths = [texture_strength(f, f, ramped, 0.5) for f in fulls]
    assert all(s == 1 for f, s in zip(fulls, strengths) if f <= 2.5)
    assert texture_strength(3.125, 3.125, ramped, 0.5) == pytest.approx(1 - (1 - 1.2 / 3.75) / 2)
    assert max(abs(a - b) for a, b in zip(strengths, strengths[1:])) < 0.01  # no jump
    assert all(texture_strength(f, f, ramped, 0.5) == texture_strength(f, f, hard, 0.5) for f in fulls if f >= 3.75)
    assert texture_strength(3.7, 3.7, hard, 0.5) == 1 and texture_strength(3.7, 3.7, ramped, 0.5) < 0.4
    assert texture_strength(3.0, 1.5, ramped, 0.5) == 1  # out of the band: white noise
    assert texture_strength(3.0, 3.0, ramped, 0.9) == 1  # uniform: noise, not texture
    with pytest.raises(DenoiseError, match="texture_guard"):
        describe("bad", noise_level_input=True, level_readings=["full", "half"], texture_guard=[0.01, 0.01, 0.7, 1.8, 0.25, 0.8, 0.02])  # ramp beyond 0


def test_a_texture_guard_needs_both_readings_and_a_band():
    with pytest.raises(DenoiseError, match="texture_guard"):
        describe("bad", noise_level_input=True, texture_guard=[0.01, 0.01, 0.7, 1.8, 0.25])  # the full reading only
    with pytest.raises(DenoiseError, match="texture_guard"):
        describe("bad", noise_level_input=True, level_readings=["full", "half"], texture_guard=[0.01, 0.01, 1.8, 0.7, 0.25])
    with pytest.raises(DenoiseError, match="texture_guard"):
        describe("bad", noise_level_input=True, level_readings=["full", "half"], texture_guard=[0.01, 0.01, 0.7, 1.8, 0.25, 0])


def test_a_camera_ramp_needs_a_start_below_its_end_and_a_camera_strength():
    with pytest.raises(DenoiseError, match="camera_ramp"):
        describe("bad", noise_level_input=True, camera_strength=2.0, camera_ramp=[0.03, 0.02])
    with pytest.raises(DenoiseError, match="camera_ramp"):
        describe("bad", noise_level_input=True, camera_ramp=[0.02, 0.03])


def test_a_level_floor_needs_one_level_per_reading():
    with pytest.raises(DenoiseError, match="level_floor"):
        describe("bad", noise_level_input=True, level_readings=["full", "half"], level_floor=[0.01])
    with pytest.raises(DenoiseError, match="level_floor"):
        describe("bad", noise_level_input=True, level_floor=[-0.01])


def test_a_solid_square_side_cannot_be_negative():
    with pytest.raises(DenoiseError, match="solid_extremes"):
        describe("bad", solid_extremes=-1)


def test_strength_is_refused_where_it_cannot_act(identity_fixed, level_echo):
    with pytest.raises(DenoiseError, match="no noise-level input"):
        Denoiser(identity_fixed, strength=0.5)
    with pytest.raises(DenoiseError, match="between 0 and 4"):
        Denoiser(level_echo, strength=9)


def test_default_model_leaves_a_clean_image_alone():
    """A photo without visible noise must come back unharmed: smooth shading, edges and fine
    texture, 8-bit; the default model may only move values by rounding-sized amounts."""
    y, x = np.mgrid[0:160, 0:200] / 160
    image = 0.5 + 0.25 * np.sin(9 * x) * np.cos(7 * y) + 0.03 * np.sin(60 * x)
    image[40:120, 60:70], image[100:110, 20:180] = 0.9, 0.1
    clean = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    out = Denoiser("default", device="cpu").denoise(clean)
    psnr = 10 * np.log10(255**2 / np.mean((out.astype(np.float64) - clean) ** 2))
    assert psnr > 45, psnr


def _impulses(clean: np.ndarray, density: float, seed: int = 0) -> np.ndarray:
    u = np.random.default_rng(seed).random(clean.shape)
    noisy = clean.copy()
    noisy[u < density / 2], noisy[(u >= density / 2) & (u < density)] = 0, 255
    return noisy


def test_the_impulse_model_keeps_true_black_and_white_areas():
    """A scan's black border and a blown highlight are exact black and white, as impulses are:
    `sp` must keep them as they are, and still clean the impulses in and around them (before,
    it turned a black border white, with or without noise)."""
    y, x = np.mgrid[0:160, 0:200] / 160
    clean = np.round(255 * (0.5 + 0.25 * np.sin(9 * x) * np.cos(7 * y))).astype(np.uint8)
    clean[:, :24], clean[:30, 120:] = 0, 255
    sp = Denoiser("sp", device="cpu")
    assert np.array_equal(sp.denoise(clean), clean)
    for density, least in ((0.1, 45), (0.3, 34)):
        out = sp.denoise(_impulses(clean, density)).astype(np.float64)
        assert out[:, :24].mean() < 3 and out[:30, 130:].mean() > 252
        assert 10 * np.log10(255**2 / np.mean((out - clean) ** 2)) > least


def test_scattered_impulses_are_never_taken_for_solid_black_or_white():
    """The rule that keeps solid areas must leave 30% impulses on a picture to the model."""
    from denoise_cli.extremes import solid_extremes

    tiles = _impulses(np.full((4, 256, 256), 128, np.uint8), 0.3).astype(np.float32) / 255
    assert not solid_extremes(tiles, 4).any()


def test_the_impulse_model_despeckles_a_bilevel_page_and_keeps_its_strokes():
    """A fax or 1-bit scan is all black and white: its one-pixel lines and dots must survive
    as they are, and isolated specks go."""
    page = np.full((120, 160), 255, np.uint8)
    page[20:60, 30] = 0  # a one-pixel vertical line
    page[40, 50:120] = 0  # a horizontal one
    page[70:100, 20:60] = 0  # a filled block
    page[90:110, 100:102] = 0  # a two-pixel stroke
    page[80, 130], page[81, 131] = 0, 0  # a diagonal pair: a dot of the picture, not a speck
    sp = Denoiser("sp", device="cpu")
    assert np.array_equal(sp.denoise(page), page)
    noisy = page.copy()
    noisy[10, 10], noisy[10, 150], noisy[85, 40], noisy[115, 70] = 0, 0, 255, 0  # lone specks
    assert np.array_equal(sp.denoise(noisy), page)


def test_the_impulse_model_leaves_a_clean_anti_aliased_page_as_it_is():
    """Rendered text (a PDF page, a screenshot) has exactly black stroke cores amid gray edges:
    `sp` took them for impulses and thinned every letter; a clean or nearly clean page keeps them,
    and its lone specks still go."""
    from PIL import Image, ImageDraw

    big = Image.new("L", (640, 320), 255)
    draw = ImageDraw.Draw(big)
    for row in range(4):
        for col in range(9):
            x, y = 20 + 70 * col, 20 + 70 * row
            draw.line([(x, y), (x + 30, y + 30)], fill=0, width=7)  # strokes 1-2 px wide once shrunk
            draw.ellipse([x + 5, y, x + 35, y + 30], outline=0, width=6)
    page = np.asarray(big.resize((160, 80), Image.Resampling.BOX))
    assert 0.75 < np.mean((page == 0) | (page == 255)) < 0.98 and (page == 0).any()  # anti-aliased: not bilevel
    sp = Denoiser("sp", device="cpu")
    assert np.array_equal(sp.denoise(page), page)
    noisy = page.copy()
    noisy[5, 5], noisy[75, 150], noisy[40, 2] = 0, 0, 0  # lone specks on the paper
    out = sp.denoise(noisy)
    assert np.abs(out.astype(int) - page).max() < 8


def test_an_image_file_s_bytes_come_back_denoised_in_their_format(identity_fixed, tmp_path):
    """What a web service receives and sends: bytes in and out, in the input's format unless
    another is asked for, metadata kept as denoise_file keeps it; bad bytes are one DenoiseError
    that names no temporary file."""
    import io

    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", dpi=(300, 300))
    denoiser = Denoiser(identity_fixed)
    out = Image.open(io.BytesIO(denoiser.denoise_bytes(buffer.getvalue())))
    assert out.format == "PNG" and np.array_equal(np.asarray(out), pixels) and tuple(round(v) for v in out.info["dpi"]) == (300, 300)
    progress = []
    as_jpeg = Image.open(io.BytesIO(denoiser.denoise_bytes(buffer.getvalue(), format="jpeg", quality=80,
                                                           progress=lambda done, total: progress.append((done, total)))))
    assert as_jpeg.format == "JPEG" and progress and progress[-1][0] == progress[-1][1]
    tga = io.BytesIO()
    Image.fromarray(pixels).save(tga, format="TGA")
    for data, says in ((b"", "empty"), (b"no image here", "not an image"), (tga.getvalue(), "TGA is read, not written: pass format=")):
        with pytest.raises(DenoiseError, match=says) as refused:
            denoiser.denoise_bytes(data)
        assert str(refused.value).startswith("<bytes>: ") and "denoise-" not in str(refused.value)
    assert Image.open(io.BytesIO(denoiser.denoise_bytes(tga.getvalue(), format="png"))).format == "PNG"
    with pytest.raises(DenoiseError, match=r"takes a file's bytes, not str; for a file use denoise_file\(path\)"):
        denoiser.denoise_bytes("photo.png")
    pgm = io.BytesIO()
    Image.fromarray(pixels).save(pgm, format="PPM")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(denoiser.denoise_bytes(pgm.getvalue())))), pixels)  # a scanner's PGM, as PGM


def test_denoise_file_names_its_output_after_the_format_asked_for(identity_fixed, tmp_path):
    """As `denoise -f`: format="png" with a target named .jpg writes target.png, and says so."""
    from PIL import Image

    Image.fromarray(np.random.default_rng(2).integers(0, 256, size=(12, 14), dtype=np.uint8)).save(tmp_path / "in.png")
    denoiser = Denoiser(identity_fixed)
    result = denoiser.denoise_file(tmp_path / "in.png", tmp_path / "out.jpg", format="png")
    assert result.target == tmp_path / "out.png" and Image.open(result.target).format == "PNG"
    assert not (tmp_path / "out.jpg").exists()
    assert denoiser.denoise_file(tmp_path / "in.png", tmp_path / "out.jpeg", format="jpg").target == tmp_path / "out.jpeg"
    assert denoiser.denoise_file(tmp_path / "in.png", format="tiff").target == tmp_path / "in_denoised.tif"


def test_a_gray_picture_stored_as_rgb_is_denoised_once(conv_stack, monkeypatch):
    """Scans and screenshots are often gray pixels in an RGB file: identical planes (and levels)
    give identical outputs, so the network runs on one and the others are copied. Bit for bit
    what three runs give; a plane that differs in one pixel runs on its own."""
    gray = np.random.default_rng(0).integers(0, 256, (40, 50), dtype=np.uint8)
    from denoise_cli.model import LoadedModel

    denoiser, alone = Denoiser(conv_stack), Denoiser(conv_stack).denoise(gray)
    calls = []
    infer = LoadedModel.infer
    monkeypatch.setattr(LoadedModel, "infer", lambda model, *args: calls.append(1) or infer(model, *args))
    progress = []
    out = denoiser.denoise(np.stack([gray] * 3, -1), lambda done, total: progress.append((done, total)))
    once = len(calls)
    assert all(np.array_equal(out[..., k], alone) for k in range(3))
    assert progress[-1][0] == progress[-1][1]  # the copied planes count as done
    calls.clear()
    differs = np.stack([gray, gray, gray ^ np.pad(np.ones((1, 1), np.uint8), ((0, 39), (0, 49)))], -1)
    denoiser.denoise(differs)
    assert len(calls) == 2 * once


def test_the_impulse_model_cleans_a_soft_edged_page_beside_its_gray_edges():
    """A scanned or blurred page has no exact black but its impulses: the rule that keeps a sharp
    page's black stroke cores must not keep the impulses that land beside its gray strokes (it
    did, and cost 8-13 dB at 2% impulses), and the clean page still comes back as it was."""
    from PIL import Image, ImageDraw, ImageFilter

    big = Image.new("L", (640, 320), 255)
    draw = ImageDraw.Draw(big)
    for row in range(3):
        for col in range(6):
            x, y = 20 + 105 * col, 20 + 105 * row
            draw.line([(x, y), (x + 30, y + 30)], fill=0, width=7)
            draw.ellipse([x + 5, y, x + 35, y + 30], outline=0, width=6)
    page = np.asarray(big.resize((160, 80), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(0.8)))
    assert np.mean((page == 0) | (page == 255)) > 0.75 and not (page == 0).any()  # a document, but soft
    sp = Denoiser("sp", device="cpu")
    assert np.array_equal(sp.denoise(page), page)
    for seed in range(3):
        out = sp.denoise(_impulses(page, 0.02, seed)).astype(np.float64)
        assert 10 * np.log10(255**2 / np.mean((out - page) ** 2)) > 38


def test_a_noisy_fax_loses_its_paired_specks_too():
    """On a bilevel page with many specks, impulses touch by chance: two pixels that only have
    each other are specks then (before, every such pair stayed: 348-402 pixels wrong at 5%
    impulses on this page, against 160-208), while its rules, blocks and one-pixel lines stay."""
    page = np.full((200, 300), 255, np.uint8)
    for top in range(20, 180, 40):
        page[top:top + 3, 20:280] = 0  # three-pixel rules
        page[top + 10:top + 30, 40:60] = 0  # blocks
        page[top + 8:top + 32, 100] = 0  # one-pixel lines
    sp = Denoiser("sp", device="cpu")
    assert np.array_equal(sp.denoise(page), page)
    for seed in range(3):
        out = sp.denoise(_impulses(page, 0.05, seed))
        assert np.count_nonzero(out != page) < 260
        assert np.count_nonzero((out == 255) & (page == 0)) < 0.03 * np.count_nonzero(page == 0)


def test_denoise_file_into_a_folder_keeps_the_source_name(tmp_path, identity_fixed):
    """As `denoise photo.png -o clean/` does; a folder was taken for a file name without extension."""
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "clean").mkdir()
    denoiser = Denoiser(identity_fixed, "cpu")
    result = denoiser.denoise_file(tmp_path / "photo.png", tmp_path / "clean")
    assert result.target == tmp_path / "clean" / "photo.png" and (tmp_path / "clean" / "photo.png").exists()
    with pytest.raises(OutputExistsError, match=r"photo.png: exists already; pass overwrite=True to replace it\.$"):  # the API's words, not the CLI's
        denoiser.denoise_file(tmp_path / "photo.png", tmp_path / "clean")


def test_one_denoiser_serves_several_threads_at_once(level_echo, conv_stack):
    """A web service loads a model once and shares it between its worker threads: each call
    gives what it gives alone, the noise level it read included (level_echo's output is that
    level), and JPEG bytes too (their encoder's buffer size is a Pillow global)."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(2)
    pictures = [np.clip(0.5 + rng.normal(0, s, (40 + 9 * k, 50 + 7 * k)), 0, 1).astype(np.float32)
                for k, s in enumerate(np.linspace(0.01, 0.2, 12))]
    files = []
    for picture in pictures:
        buffer = io.BytesIO()
        Image.fromarray(np.round(picture * 255).astype(np.uint8)).save(buffer, format="PNG")
        files.append(buffer.getvalue())
    for model in (level_echo, conv_stack):
        denoiser = Denoiser(model, "cpu", tile=24, threads=1)
        alone = [denoiser.denoise(p) for p in pictures]
        alone_bytes = [denoiser.denoise_bytes(f, format="jpeg") for f in files]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(denoiser.denoise, pictures))
            together_bytes = list(pool.map(lambda f: denoiser.denoise_bytes(f, format="jpeg"), files))
        assert len({float(a.mean()) for a in alone}) > 6  # the pictures differ, and so do their results
        assert all(np.array_equal(a, t) for a, t in zip(alone, together))
        assert together_bytes == alone_bytes


def test_a_type_checker_sees_the_api_s_own_types(tmp_path, monkeypatch):
    """`from denoise_cli import Denoiser` is imported lazily at run time; an editor or mypy must
    still see the real class, and `denoise` must say that an array gives an array and a Pillow
    image an image, so that user code needs no casts (the wheel marks the package typed)."""
    from pathlib import Path

    mypy = pytest.importorskip("mypy.api")
    script = tmp_path / "user.py"
    script.write_text(
        "import numpy as np\n"
        "from PIL import Image\n"
        "from denoise_cli import Denoiser, DenoiseError\n"
        "denoiser = Denoiser('sp', device='cpu')\n"
        "reveal_type(denoiser)\n"
        "shape = denoiser.denoise(np.zeros((8, 8), np.uint8)).shape\n"
        "denoiser.denoise(Image.new('L', (8, 8))).save('x.png')\n"
        "seconds: float = denoiser.denoise_file('a.png', 'b.png').seconds\n"
        "error: type[Exception] = DenoiseError\n"
    )
    monkeypatch.setenv("MYPYPATH", str(Path(__file__).resolve().parent.parent))
    out, err, status = mypy.run(["--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"), str(script)])
    assert status == 0, out + err
    assert 'Revealed type is "denoise_cli.api.Denoiser"' in out
