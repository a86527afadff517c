"""Float images with holes: pixels that hold NaN or an infinity (missing data in scientific and
stitched images). A network spreads one NaN over its whole receptive field, and one infinity
makes the image's range, hence every pixel, meaningless; so the holes are filled from their
neighbours for the model and the estimator, and given back their own values afterwards.
"""

from __future__ import annotations

import numpy as np

FILL_STEPS = 32  # rings filled from the neighbours; deeper inside a hole only the mean is needed


def fill_holes(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The plane with every NaN or infinite pixel replaced by the mean of its filled neighbours
    (ring by ring, up to FILL_STEPS deep, then the mean of the finite pixels), and the mask of
    those pixels; (plane, None) when there is none (integer planes never have any)."""
    if not np.issubdtype(plane.dtype, np.floating):
        return plane, None
    known = np.isfinite(plane)
    if known.all():
        return plane, None
    holes = ~known
    filled = np.where(known, plane, 0).astype(plane.dtype)
    fallback = float(filled[known].mean()) if known.any() else 0.0
    for _ in range(FILL_STEPS):
        rows, cols = np.nonzero(~known)
        if rows.size == 0 or not known.any():
            break
        # Work inside the holes' bounding box, one pixel wider: a few holes in a large image are cheap.
        r0, r1 = max(rows.min() - 1, 0), min(rows.max() + 2, plane.shape[0])
        c0, c1 = max(cols.min() - 1, 0), min(cols.max() + 2, plane.shape[1])
        sub, sub_known = filled[r0:r1, c0:c1], known[r0:r1, c0:c1]  # views: writes reach the plane
        values = np.pad(np.where(sub_known, sub, 0), 1)
        weights = np.pad(sub_known.astype(np.float32), 1)
        sums = np.zeros(sub.shape, np.float64)
        counts = np.zeros(sub.shape, np.float32)
        height, width = sub.shape
        for dy in range(3):
            for dx in range(3):
                sums += values[dy:dy + height, dx:dx + width]
                counts += weights[dy:dy + height, dx:dx + width]
        ring = ~sub_known & (counts > 0)
        sub[ring] = sums[ring] / counts[ring]
        sub_known |= ring
    filled[~known] = fallback
    return filled, holes
