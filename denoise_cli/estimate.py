"""Estimate an image's noise level, for models with a noise-level input when the user gives none.

Method: the image is filtered with the 3x3 mask [1 -2 1; -2 4 -2; 1 -2 1] (Immerkaer, 1996),
which cancels smooth structure and keeps white noise with gain 6; the median absolute response
/ 0.6745 / 6 is a robust estimate of the noise standard deviation that edges barely move. On a
large image it looks at up to `MAX_BLOCKS` evenly spread 64x64 blocks, so the cost and memory
stay small whatever the image size.
"""

from __future__ import annotations

import numpy as np

from denoise_cli.imageio import PixelScale

BLOCK = 64
MAX_BLOCKS = 1024
MAD_TO_STD = 0.6745
MASK_GAIN = 6.0


def _blocks(plane: np.ndarray, scale: PixelScale) -> np.ndarray:
    h, w = plane.shape
    if h * w <= MAX_BLOCKS * BLOCK * BLOCK or h < BLOCK or w < BLOCK:
        return scale.to_unit(plane)[None]
    rows = np.linspace(0, h - BLOCK, max(1, min(h // BLOCK, int(np.sqrt(MAX_BLOCKS))))).astype(int)
    cols = np.linspace(0, w - BLOCK, max(1, min(w // BLOCK, int(np.sqrt(MAX_BLOCKS))))).astype(int)
    return np.stack([scale.to_unit(plane[y : y + BLOCK, x : x + BLOCK]) for y in rows for x in cols])


def _mask_response(x: np.ndarray) -> np.ndarray:
    """The 3x3 mask over the last two axes (valid part only)."""
    c = x[..., 1:-1, 1:-1]
    edges = x[..., :-2, 1:-1] + x[..., 2:, 1:-1] + x[..., 1:-1, :-2] + x[..., 1:-1, 2:]
    corners = x[..., :-2, :-2] + x[..., :-2, 2:] + x[..., 2:, :-2] + x[..., 2:, 2:]
    return 4 * c - 2 * edges + corners


def estimate_noise_std(plane: np.ndarray, scale: PixelScale) -> float:
    """Noise standard deviation of a (H, W) plane, on the [0, 1] scale of `scale`."""
    x = _blocks(plane, scale)
    if x.shape[1] < 3 or x.shape[2] < 3:
        return 0.0
    return float(np.median(np.abs(_mask_response(x))) / MAD_TO_STD / MASK_GAIN)


def estimate_noise_std_batch(images: np.ndarray) -> np.ndarray:
    """One estimate per image of a (N, ..., H, W) float batch in [0, 1], shaped (N, 1, 1, 1):
    the level fed to a model trained on estimated levels."""
    response = np.abs(_mask_response(images)).reshape(len(images), -1)
    return (np.median(response, axis=1) / MAD_TO_STD / MASK_GAIN).astype(np.float32).reshape(-1, 1, 1, 1)
