"""Keeps the brightness of large areas when a noise-level model is fed more noise than the picture
holds: --strength above 1 (above the camera strength on a camera's own photo, which makes up for
the estimator reading a camera's noise low). A --sigma says what the noise is, and is taken at its
word. So fed, the networks move the brightness of flat areas (a sky, a wall, a page) and stretch
their contrast: told twice the noise of flat fields under noise of std 10, `gaussian` raised
mid-gray by 5 grey levels and a page's white by 11, and lowered dark gray by 2 (tests/test_api.py).
Noise has no mean, so a denoiser should leave each area's mean where it was: the low frequencies of
(input - output) are given back, in the share the over-feeding calls for. The detail the stronger
level removes is above those frequencies, and stays removed. The README's Benchmark has what it
changes (rows at strength 1.5 and 2).

The low-pass is three box passes of RADIUS (about a Gaussian of 4.5 px) down the columns and along
the rows, by running sums a strip of rows at a time: 0.3 s on a 2048x2048 plane here, where `photo`
takes about 3 s, and only when the share is above 0.
"""

from __future__ import annotations

import numpy as np

from denoise_cli.pixels import PixelScale

RADIUS = 4
PASSES = 3
STRIP = 64  # rows summed at a time: small enough to stay in cache
SHARE_FROM, SHARE_FULL = 1.1, 1.35  # the level fed over the picture's own reading


def over_feeding_share(fed: float, read: float) -> float:
    """How much of the low frequencies to give back: none up to 1.1 times the level the picture
    holds, all of them from 1.35 times, linearly between. At the level it holds they would only
    bring back some of the noise's own low frequencies; fed more, they gain (Benchmark).
    """
    if read <= 0:
        return 1.0 if fed > 0 else 0.0
    return min(1.0, max(0.0, (fed / read - SHARE_FROM) / (SHARE_FULL - SHARE_FROM)))


def keep_local_brightness(noisy: np.ndarray, out: np.ndarray, scale: PixelScale, share: float) -> None:
    """Add `share` times the low-pass of (noisy - out) to `out`, in place, in its stored type."""
    if share <= 0:
        return
    residual = noisy.astype(np.float32) - out.astype(np.float32)
    low = _smooth(_smooth(residual.T).T)  # down the columns, then along the rows
    corrected = out.astype(np.float32) + np.float32(share) * low
    out[...] = scale.from_unit(scale.to_unit(corrected))


def _smooth(values: np.ndarray) -> np.ndarray:
    """PASSES box means of 2 RADIUS + 1 along each row, edges repeated: running sums over a
    strip of rows at a time, in float64 (float32 sums drift by 0.05 grey levels along 6,000 px)."""
    width, n = 2 * RADIUS + 1, values.shape[1]
    out = np.empty(values.shape, dtype=np.float32)
    for start in range(0, values.shape[0], STRIP):
        strip = values[start : start + STRIP].astype(np.float64)
        for _ in range(PASSES):
            sums = np.empty((strip.shape[0], n + width))
            sums[:, : RADIUS + 1] = strip[:, :1]  # the first value once more than the window needs: the sums' zero point
            sums[:, RADIUS + 1 : RADIUS + 1 + n] = strip
            sums[:, RADIUS + 1 + n :] = strip[:, -1:]
            np.cumsum(sums, axis=1, out=sums)
            strip = (sums[:, width:] - sums[:, :-width]) / width
        out[start : start + STRIP] = strip
    return out
