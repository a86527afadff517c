"""Noise models: the statistics each one promises, reproducibility, and the benchmark protocol."""

from __future__ import annotations

import numpy as np
import pytest

from denoise_cli.errors import DenoiseError
from denoise_cli.noise import apply_noise, draw_levels, protocol_noise, protocol_sigma

GRAY = np.full((200, 200), 0.5, dtype=np.float32)


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_gaussian_mean_and_std():
    noisy = apply_noise(GRAY, {"kind": "gaussian", "std": 0.1, "clip": False}, _rng())
    assert abs((noisy - GRAY).mean()) < 0.002 and abs((noisy - GRAY).std() - 0.1) < 0.002


def test_gaussian_with_mean_half_and_clipping_r0():
    zeros = np.zeros((200, 200), np.float32)
    noisy = apply_noise(zeros, {"kind": "gaussian", "mean": 0.5, "std": 0.5, "clip": True}, _rng())
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert abs(noisy.mean() - 0.5) < 0.02  # clipping N(0.5, 0.5^2) to [0, 1] keeps the mean near 0.5


def test_blind_levels_vary_per_image():
    batch = np.full((64, 1, 16, 16), 0.5, np.float32)
    noisy = apply_noise(batch, {"kind": "gaussian", "std": (0.0, 0.2), "clip": False}, _rng())
    stds = (noisy - batch).reshape(64, -1).std(axis=1)
    assert stds.min() < 0.05 and stds.max() > 0.15
    levels = draw_levels((0.0, 0.2), _rng(), 5)
    assert levels.shape == (5, 1, 1, 1) and (levels >= 0).all() and (levels <= 0.2).all()


def test_gaussian_png8_fraction_rounds_some_images_as_saved_files():
    batch = np.full((400, 1, 8, 8), 0.02, np.float32)
    spec = {"kind": "gaussian", "std": (0.0, 0.2), "clip": False}
    noisy = apply_noise(batch, {**spec, "png8_fraction": 0.5}, _rng())
    on_8bit_grid = np.all(np.abs(noisy * 255 - np.round(noisy * 255)) < 1e-3, axis=(1, 2, 3))
    assert 0.4 < on_8bit_grid.mean() < 0.6
    assert noisy[on_8bit_grid].min() >= 0 and noisy[~on_8bit_grid].min() < 0  # the rest stays unclipped
    # without the option the random stream is untouched: older recipes reproduce as before
    assert np.array_equal(apply_noise(batch, spec, _rng()), apply_noise(batch, {**spec, "png8_fraction": 0.0}, _rng()))


def test_salt_and_pepper_fractions():
    noisy = apply_noise(GRAY, {"kind": "salt-and-pepper", "density": 0.2}, _rng())
    assert abs((noisy == 0).mean() - 0.1) < 0.005 and abs((noisy == 1).mean() - 0.1) < 0.005
    assert ((noisy == 0.5) | (noisy == 0) | (noisy == 1)).all()


def test_r4_rounded_uniform_is_15_percent_salt_10_percent_pepper():
    noisy = apply_noise(GRAY, {"kind": "rounded-uniform-salt-and-pepper"}, _rng())
    assert abs((noisy == 1).mean() - 0.15) < 0.005 and abs((noisy == 0).mean() - 0.10) < 0.005


def test_poisson_and_speckle_keep_the_mean():
    for spec in ({"kind": "poisson", "peak": 30.0}, {"kind": "speckle", "std": 0.2}):
        noisy = apply_noise(GRAY, spec, _rng())
        assert abs(noisy.mean() - 0.5) < 0.01 and noisy.std() > 0.05


def test_seeded_noise_is_reproducible():
    spec = {"kind": "gaussian", "std": 0.1}
    assert np.array_equal(apply_noise(GRAY, spec, _rng(7)), apply_noise(GRAY, spec, _rng(7)))
    assert not np.array_equal(apply_noise(GRAY, spec, _rng(7)), apply_noise(GRAY, spec, _rng(8)))


def test_unknown_kind_and_bad_parameters():
    with pytest.raises(DenoiseError, match="unknown noise kind"):
        apply_noise(GRAY, {"kind": "pink"}, _rng())
    with pytest.raises(DenoiseError, match="bad parameters"):
        apply_noise(GRAY, {"kind": "gaussian", "sdt": 0.1}, _rng())


def test_protocol_gaussian_matches_the_written_recipe():
    clean = np.random.default_rng(1).random((20, 30), dtype=np.float32)
    rng = np.random.default_rng(10000 * 25 + 3)
    expected = clean + rng.standard_normal(clean.shape, dtype=np.float32) * (25 / 255)
    assert np.array_equal(protocol_noise(clean, "gauss25", 3), expected.astype(np.float32))
    png8 = protocol_noise(clean, "gauss25", 3, "png8")
    assert np.array_equal(png8 * 255, np.round(np.clip(expected, 0, 1) * 255).astype(np.uint8))


def test_protocol_salt_and_pepper_density_and_sigma():
    clean = np.full((300, 300), 0.5, np.float32)
    noisy = protocol_noise(clean, "sp20", 0)
    assert abs((noisy != 0.5).mean() - 0.2) < 0.005
    assert protocol_sigma("gauss15") == 15 and abs(protocol_sigma("sp30") - 255 * np.sqrt(0.1)) < 1e-9
