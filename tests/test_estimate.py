"""The noise-level estimate that models with a level input get when the user gives none."""

from __future__ import annotations

import numpy as np
import pytest

from denoise_cli.estimate import estimate_noise_levels, uniformity
from denoise_cli.pixels import PixelScale
from denoise_cli.train.degrade import correlation_kernel

FLOAT = PixelScale(0.0, 1.0, np.dtype(np.float32))
UINT8 = PixelScale(0.0, 255.0, np.dtype(np.uint8))


def _scene() -> np.ndarray:
    """A dark half (where strong noise clips at black) beside a mid-grey ramp."""
    x = np.empty((256, 256), np.float32)
    x[:, :128] = 0.08
    x[:, 128:] = np.linspace(0.3, 0.7, 128, dtype=np.float32)
    return x


def test_the_estimate_reads_white_noise_at_its_level():
    rng = np.random.default_rng(0)
    for sigma in (5, 25, 50):
        noisy = _scene() + rng.standard_normal((256, 256), dtype=np.float32) * sigma / 255
        assert abs(estimate_noise_levels(noisy, FLOAT, ["full"])[0] * 255 - sigma) < 0.05 * sigma + 0.5


def test_a_saved_8_bit_file_with_clipped_noise_reads_its_real_level():
    """Clipping at black hides noise; the estimate must not under-read it, or blind models
    leave strong noise in users' 8-bit files."""
    noisy = _scene() + np.random.default_rng(1).standard_normal((256, 256), dtype=np.float32) * 50 / 255
    saved = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    assert np.mean(saved == 0) > 0.15  # a third of the dark half is clipped at black
    assert abs(estimate_noise_levels(saved, UINT8, ["full"])[0] * 255 - 50) < 2.5


def test_the_binned_reading_sees_correlated_noise_that_the_full_one_misses():
    """Demosaicing correlates camera noise, which hides it from the full-resolution reading;
    the 2x2-binned reading must expose it, while white noise reads at half its std there."""
    rng = np.random.default_rng(2)
    white = rng.standard_normal((258, 258), dtype=np.float32) * 12 / 255
    full, half = estimate_noise_levels(_scene() + white[1:-1, 1:-1], FLOAT, ["full", "half"])
    assert abs(full * 255 - 12) < 1 and abs(half * 255 - 6) < 0.6
    kernel = correlation_kernel(0.8)
    correlated = sum(kernel[dy, dx] * white[dy : dy + 256, dx : dx + 256] for dy in range(3) for dx in range(3))
    full, half = estimate_noise_levels(_scene() + correlated, FLOAT, ["full", "half"])
    assert half > 1.5 * full
    clean_full, clean_half = estimate_noise_levels(_scene(), FLOAT, ["full", "half"])
    assert clean_half * 255 < 0.5 and half * 255 > 4


def test_noise_reads_uniformly_and_texture_under_faint_noise_does_not():
    """Noise covers a picture's flat areas as much as its detail; a picture whose reading is
    texture's reads low in its flat areas. The texture guard tells the two apart by this."""
    rng = np.random.default_rng(3)
    for size in (300, 3000):  # whole, and through the sampled blocks of a large image
        noisy = _scene_of(size) + rng.standard_normal((size, size), dtype=np.float32) * 6 / 255
        assert uniformity(noisy, FLOAT) > 0.8
    texture = rng.standard_normal((300, 300), dtype=np.float32) * 12 / 255
    texture[:, :150] = 0  # a textured half beside a flat one
    faint = _scene_of(300) + texture + rng.standard_normal((300, 300), dtype=np.float32) * 2 / 255
    assert uniformity(faint, FLOAT) < 0.5
    saved = np.round(np.clip(faint, 0, 1) * 255).astype(np.uint8)
    assert uniformity(saved, UINT8) == pytest.approx(uniformity(faint, FLOAT), abs=0.1)  # an 8-bit file reads alike
    assert uniformity(np.full((10, 10), 0.5, np.float32), FLOAT) == 1.0  # too small, or nothing to read


def _scene_of(size: int) -> np.ndarray:
    return np.tile(np.linspace(0.3, 0.7, size, dtype=np.float32), (size, 1))
