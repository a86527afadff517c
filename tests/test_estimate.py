"""The noise-level estimate that models with a level input get when the user gives none."""

from __future__ import annotations

import numpy as np

from denoise_cli.estimate import estimate_noise_std
from denoise_cli.imageio import PixelScale

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
        assert abs(estimate_noise_std(noisy, FLOAT) * 255 - sigma) < 0.05 * sigma + 0.5


def test_a_saved_8_bit_file_with_clipped_noise_reads_its_real_level():
    """Clipping at black hides noise; the estimate must not under-read it, or blind models
    leave strong noise in users' 8-bit files."""
    noisy = _scene() + np.random.default_rng(1).standard_normal((256, 256), dtype=np.float32) * 50 / 255
    saved = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    assert np.mean(saved == 0) > 0.15  # a third of the dark half is clipped at black
    assert abs(estimate_noise_std(saved, UINT8) * 255 - 50) < 2.5
