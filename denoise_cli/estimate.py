"""Estimate an image's noise level, for models with a noise-level input when the user gives none.

Method: the image is filtered with the 3x3 mask [1 -2 1; -2 4 -2; 1 -2 1] (Immerkaer, 1996),
which cancels smooth structure and keeps white noise with gain 6; the median absolute response
/ 0.6745 / 6 is a robust estimate of the noise standard deviation that edges barely move. On a
large image it looks at up to `MAX_BLOCKS` evenly spread 64x64 blocks, so the cost and memory
stay small whatever the image size.

A model can ask for more than one reading (its description's `level_readings`): "full" reads the
image as it is; "half" reads it binned 2x2. Camera noise is correlated by demosaicing, which
hides most of it from the 3x3 mask at full resolution (clean Set12 reads 2.2 on 0-255, the same
pictures with noise of std 11 read 3.1), while binning turns that correlation into visible
pixel-to-pixel noise (2.2 against 7.0) and halves white noise: the two readings together tell
clean, white-noisy and camera-noisy pictures apart where one cannot.

`uniformity` says how evenly the full reading spreads over the image: noise covers the whole
of it, flat areas included, while texture leaves its flat areas reading low. It tells a smooth
picture under noise from a densely textured one under faint noise where both readings agree
(api.texture_strength).
"""

from __future__ import annotations

import numpy as np

from denoise_cli.description import LEVEL_READINGS
from denoise_cli.pixels import PixelScale

BLOCK = 64
MAX_BLOCKS = 1024
MAD_TO_STD = 0.6745
MASK_GAIN = 6.0
STRONG = 20 / 255  # below this level clipping barely hides any noise
CLIPPED_SHARE = 0.005  # more of the pixels than this at exactly 0 or 1: a clipped image
MID_TONES = (0.3, 0.7)  # the 3x3 means read in a clipped image
MIN_WINDOWS = 1000  # fewer mid-tone windows than this: read them all
WHITE_NOISE_READING = {"full": 1.0, "half": 2.0}  # white noise of std s reads s / this
UNIFORM_BLOCK = 16  # uniformity: the blocks compared (smaller ones find a textured picture's flat areas)
UNIFORM_QUANTILE = 0.1  # uniformity: the least active tenth of them


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


def _local_mean(x: np.ndarray) -> np.ndarray:
    """3x3 mean over the last two axes (valid part only: aligned with the mask's response)."""
    rows = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]
    return (rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]) / 9


def _level(x: np.ndarray) -> float:
    """The noise level of one image (or of a stack of its blocks).

    A saved 8-bit file clips strong noise at black and white, and clipped pixels hide part of
    it: at sigma 50 the reading of BSD68's 8-bit files fell to 46 (median), and `gaussian` lost
    0.74 dB against 0.10 dB when told the level. When the noise is strong enough for clipping
    to matter (a first reading above STRONG) and more than CLIPPED_SHARE of the pixels sit at
    exactly 0 or 1, only windows whose mean is in MID_TONES are read (BSD68 at sigma 50: 49.9),
    where clipping is rare. Faint noise is left alone: there the 0s and 1s are saturated areas,
    not clipped noise, and reading mid-tone texture alone over-read faint noise.
    """
    response = np.abs(_mask_response(x))
    level = float(np.median(response) / MAD_TO_STD / MASK_GAIN)
    if level > STRONG and np.mean((x == 0) | (x == 1)) > CLIPPED_SHARE:
        local = _local_mean(x)
        mid = (local > MID_TONES[0]) & (local < MID_TONES[1])
        if np.count_nonzero(mid) >= MIN_WINDOWS:
            level = float(np.median(response[mid]) / MAD_TO_STD / MASK_GAIN)
    return level


def _binned(x: np.ndarray) -> np.ndarray:
    """2x2 means over the last two axes (an odd last row or column is dropped)."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    return (x[..., 0::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 4


def _reading(x: np.ndarray, reading: str) -> float:
    if reading not in LEVEL_READINGS:
        raise ValueError(f"unknown level reading {reading!r} (known: {', '.join(LEVEL_READINGS)})")
    if reading == "half":
        x = _binned(x)
    if x.shape[-2] < 3 or x.shape[-1] < 3:
        return 0.0
    return _level(x)


def _central_mean(values: np.ndarray) -> np.ndarray:
    """The mean of the middle fifth (40th-60th percentile) along the last axis: a median that
    moves smoothly, where the median of an 8-bit image's integer mask responses moves in steps."""
    ordered = np.sort(values, axis=-1)
    n = ordered.shape[-1]
    return ordered[..., int(0.4 * n) : int(0.6 * n) + 1].mean(axis=-1)


def uniformity(plane: np.ndarray, scale: PixelScale) -> float:
    """How evenly a (H, W) plane reads at full resolution: the reading of its least active tenth
    of 16 px blocks over the whole plane's (readings as central means of the mask's absolute
    response). Stationary noise over smooth content reads about 0.85-0.9; a picture whose
    reading is texture's reads lower, its flat areas holding only the noise. 1.0 when the plane
    is too small to hold blocks or reads nothing."""
    response = np.abs(_mask_response(_blocks(plane, scale)))
    whole = float(_central_mean(response.reshape(-1)))
    n, h, w = response.shape
    b = UNIFORM_BLOCK
    if whole <= 0 or h < b or w < b:
        return 1.0
    tiles = response[:, : h // b * b, : w // b * b].reshape(n, h // b, b, w // b, b).transpose(0, 1, 3, 2, 4).reshape(-1, b * b)
    return float(np.quantile(_central_mean(tiles), UNIFORM_QUANTILE) / whole)


def estimate_noise_levels(plane: np.ndarray, scale: PixelScale, readings: list[str] | tuple[str, ...]) -> list[float]:
    """The given readings ("full", "half") of a (H, W) plane, on the [0, 1] scale of `scale`."""
    blocks = _blocks(plane, scale)
    return [_reading(blocks, reading) for reading in readings]


def estimate_noise_levels_batch(images: np.ndarray, readings: list[str] | tuple[str, ...] = ("full",)) -> np.ndarray:
    """The readings of each image of a (N, ..., H, W) float batch in [0, 1], shaped (N, K, 1, 1)
    for K readings: the levels fed to a model trained on estimated levels."""
    levels = [[_reading(image, reading) for reading in readings] for image in images]
    return np.array(levels, dtype=np.float32).reshape(len(images), len(readings), 1, 1)
