"""The tiler: identity round trips at every awkward size, tiled == whole image for a fully
convolutional model, blending that hides the seams of a fixed-size model, band carry-over."""

from __future__ import annotations

import numpy as np
import pytest

from denoise_cli import Denoiser
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.tiling import axis_starts, plan_tiles, ramp_window, reflect_indices

SIZES = [(1, 1), (1, 57), (57, 1), (2, 3), (27, 29), (28, 28), (29, 28), (100, 37), (131, 250)]


def _random_u8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("shape", SIZES)
def test_identity_fixed_patches_round_trip_exactly(identity_fixed, shape):
    image = _random_u8(shape)
    assert np.array_equal(Denoiser(identity_fixed, "cpu").denoise(image), image)


@pytest.mark.parametrize("shape", SIZES)
def test_identity_fully_convolutional_round_trip_exactly(identity_conv, shape):
    image = _random_u8(shape, seed=1)
    assert np.array_equal(Denoiser(identity_conv, "cpu", tile=16).denoise(image), image)


def test_identity_round_trip_16_bit_and_float(identity_fixed):
    u16 = np.random.default_rng(2).integers(0, 65536, size=(45, 70), dtype=np.uint16)
    assert np.array_equal(Denoiser(identity_fixed, "cpu").denoise(u16), u16)
    f32 = np.random.default_rng(3).random((45, 70), dtype=np.float32)
    assert np.allclose(Denoiser(identity_fixed, "cpu").denoise(f32), f32, atol=1e-6)


@pytest.mark.parametrize("tile,shape", [(24, (61, 77)), (32, (100, 100)), (40, (33, 130)), (64, (5, 300))])
def test_fully_convolutional_tiled_matches_whole_image(conv_stack, tile, shape):
    image = np.random.default_rng(4).random(shape, dtype=np.float32)
    whole = Denoiser(conv_stack, "cpu", tile=1024).denoise(image)
    tiled = Denoiser(conv_stack, "cpu", tile=tile, batch_size=3).denoise(image)
    assert np.abs(tiled - whole).max() < 1e-3


def test_every_shipped_fully_convolutional_model_tiled_gives_the_whole_picture_s_output():
    """A shipped model's receptive field, from its description, sets the margins thrown away
    around each tile; one described too small leaves seams along the tile edges. `salt-and-pepper`
    said 1 where its window is 50: its tiles differed by up to 12 grey levels there."""
    from denoise_cli.registry import shipped_models

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:200, 0:200]
    image = np.clip(0.5 + 0.25 * np.sin(x / 7.0) * np.cos(y / 5.0) + rng.normal(0, 0.08, (200, 200)), 0, 1).astype(np.float32)
    speckles = rng.random(image.shape)
    image[speckles < 0.05], image[speckles > 0.95] = 0, 1  # impulses too, which the impulse removers re-predict
    for entry in shipped_models():
        d = Denoiser(entry.name, "cpu").description
        if d.fixed_size:
            continue
        tile = 2 * -(-d.receptive_field // 2) + 16 * d.multiple_of  # small: dozens of tiles on 200 x 200
        level = {"sigma": 20} if d.noise_level_input else {}  # a fixed level: not read per tile
        whole = Denoiser(entry.name, "cpu", **level).denoise(image)
        tiled = Denoiser(entry.name, "cpu", tile=tile, **level)
        assert tiled.plan(200, 200).count > 9
        assert np.abs(tiled.denoise(image) - whole).max() < 1e-4, entry.name


def test_blending_hides_fixed_patch_seams(box_blur):
    """A 3x3 blur on 28 px patches with zero padding: wrong at every patch edge. Blended over
    half a patch, the error left at the seams is far smaller than with butted patches."""
    y, x = np.mgrid[0:140, 0:140]
    image = (0.5 + 0.4 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.float32)
    padded = np.pad(image, 1, mode="reflect")
    truth = sum(padded[dy : dy + 140, dx : dx + 140] for dy in range(3) for dx in range(3)) / 9
    butted = Denoiser(box_blur, "cpu", overlap=0).denoise(image)
    blended = Denoiser(box_blur, "cpu").denoise(image)
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(blended - truth)[inner].max() < 0.5 * np.abs(butted - truth)[inner].max()


def test_small_batches_and_bands_give_the_same_result(conv_stack):
    image = np.random.default_rng(5).random((150, 90), dtype=np.float32)
    big = Denoiser(conv_stack, "cpu", tile=24, batch_size=64).denoise(image)
    one = Denoiser(conv_stack, "cpu", tile=24, batch_size=1).denoise(image)
    assert np.abs(big - one).max() < 1e-6


def test_colour_array_is_denoised_per_channel(identity_fixed):
    image = _random_u8((40, 50, 3), seed=6)
    assert np.array_equal(Denoiser(identity_fixed, "cpu").denoise(image), image)


def test_plan_covers_the_image_on_the_alignment_grid():
    d = ModelDescription(name="m", summary="", noise={"kind": "gaussian"}, patch_size=28, fixed_size=False, params=0,
                         macs_per_pixel=0, multiple_of=4, receptive_field=23, tile_size=64)
    plan = plan_tiles(300, 171, d)
    assert plan.margin % 4 == 0 and plan.margin * 2 >= 23
    for starts, length, kept in ((plan.ys, 300, plan.kept_h), (plan.xs, 171, plan.kept_w)):
        assert starts[0] == 0 and starts[-1] + kept >= length
        assert all(s % 4 == 0 for s in starts)
        assert all(b - a <= kept for a, b in zip(starts, starts[1:]))


def test_axis_starts_single_tile_when_it_fits():
    assert axis_starts(10, 28, 14, 1) == (0,)


def test_ramp_window_halves_sum_to_one():
    w = ramp_window(28, 14)
    assert np.allclose(w[14:] + w[:14], 1.0) and w.min() > 0


def test_reflect_indices_mirror_without_repeating_the_edge():
    assert reflect_indices(-3, 6, 4).tolist() == [3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert reflect_indices(-2, 3, 1).tolist() == [0, 0, 0, 0, 0]


def test_bad_overrides_are_refused_early(identity_fixed, conv_stack):
    with pytest.raises(DenoiseError, match="only takes 28x28"):
        Denoiser(identity_fixed, "cpu", tile=64)
    with pytest.raises(DenoiseError, match="overlap"):
        Denoiser(identity_fixed, "cpu", overlap=28)
    with pytest.raises(DenoiseError, match="too small"):
        Denoiser(conv_stack, "cpu", tile=4)
    with pytest.raises(DenoiseError, match="--tile 51 is too small"):  # as given, not rounded to the model's multiple
        Denoiser("photo", "cpu", tile=51)
