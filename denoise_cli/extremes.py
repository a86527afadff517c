"""Exact black and white that are picture, not impulses, for models that re-predict every pixel at
exactly black or white (salt-and-pepper removers).

Such a model cannot tell a scan's black border, a crushed shadow or a blown sky from impulses,
and fills them in from their neighbours (a black border came out white). Impulses are scattered;
picture areas are solid: the pixels of one extreme value in a side x side square that is mostly
that value (SOLID_SHARE: at 30% noise a black border is 85% black still) are picture. They reach
the network a hair inside the range, so it keeps them and uses them to fill the impulses beside
them, and get their own values back after. (Growing the areas into touching pixels of their value
took in the impulses at their edges: the bordered picture of tests/test_api.py scored 39.2 / 32.6
dB at 10 / 30% noise so, in f6dad0e, against 49.3 / 36.3 now.)

A bilevel page (a fax, a 1-bit scan) is all extremes: there the network has nothing to go on, so
it is not used; a pixel that none of its eight neighbours shares is a speck, and is flipped. On a
page with many specks (PAIRED_SPECKS), impulses also touch by chance, so two pixels that only have
each other are specks too (the page of tests/test_api.py at 5% impulses kept 281-318 of its
paper's impulses without, 99-124 with).

Rendered text (a PDF page, a screenshot) is mostly extremes too, with exact black stroke cores
one or two pixels wide amid gray edges: no square holds them. Where a plane is mostly extremes
(DOCUMENT_SHARE) and lone ones are few (clean, or nearly), only an outlier, which no neighbour
comes near, is an impulse, for each extreme value that draws strokes there (STROKE_SHARE of its
pixels have two neighbours of that value or more): paper white always does, black only on a sharp
page. A soft-edged page (a scan, blurred text) has no exact black but its pepper, which the
network then fills: kept beside the gray edges, it cost 3-13 dB at 1-2% impulses on the pages
measured. Elsewhere the rule would cost: at 1% impulses on BSD68 it kept pairs of neighbouring
impulses and those on dark or bright picture, 13 dB lower.

Both work tile by tile, on the tiler's batches in the model's 0-1 scale, so a large scan needs no
plane-sized masks; a tile's margin gives them the context they need (a few pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

Infer = Callable[[np.ndarray], np.ndarray]  # (N, 1, H, W) tiles in [0, 1] -> the same shape

SOLID_SHARE = 0.875  # of a square (14 of 16): at 30% noise, 3e-10 of squares by chance alone
NUDGE = np.float32(1e-3)  # how far inside the 0-1 range a solid pixel reaches the network
BILEVEL_SHARE = 0.98  # pixels at exactly black or white from which a plane is a bilevel page
PAIRED_SPECKS = 0.01  # lone pixels (of all) from which a bilevel page's isolated pairs are specks too
DOCUMENT_SHARE = 0.75  # pixels at exactly black or white from which a plane may be a document
DOCUMENT_LONE_SHARE = 0.015  # lone ones (of all pixels) under which it is clean or nearly so
STROKE_SHARE = 0.2  # of a value's pixels with two neighbours of it or more, from which it draws strokes
NEAR = 0.15  # in such a document, a neighbour this near to a black or white pixel makes it picture
READ_ROWS = 1024  # rows read at a time: no plane-sized temporaries for a large scan


def impulse_guard(infer: Infer, plane: np.ndarray, low: float, high: float, side: int) -> Infer:
    """What runs on `plane`'s tiles in place of `infer`, an impulse remover's: a bilevel page is
    despeckled; a clean or nearly clean document keeps every pixel of the extreme values that
    draw its strokes but lone outliers; anything else keeps its solid black and white areas."""
    pixels = _census(plane, low, high, neighbours=False)[:, 0]
    if pixels.sum() < DOCUMENT_SHARE * plane.size:  # a photo: the neighbour counts are not needed
        return keeping_extremes(infer, side)
    _, lone, stroked = _census(plane, low, high, neighbours=True).T
    if pixels.sum() >= BILEVEL_SHARE * plane.size:
        return despeckling(pairs=lone.sum() >= PAIRED_SPECKS * plane.size)
    if lone.sum() >= DOCUMENT_LONE_SHARE * plane.size:  # too many impulses for the outlier rule
        return keeping_extremes(infer, side)
    black_strokes, white_strokes = (bool(s > 0 and s >= STROKE_SHARE * p) for s, p in zip(stroked, pixels))
    return keeping_extremes(infer, side, strokes=(black_strokes, white_strokes))


def keeping_extremes(infer: Infer, side: int, strokes: tuple[bool, bool] = (False, False)) -> Infer:
    """`infer` with each tile's solid black and white areas kept as they are; of the extreme
    values that `strokes` names (black, white), every pixel that some neighbour comes near (NEAR)
    too."""

    def run(batch: np.ndarray) -> np.ndarray:
        tiles = batch[:, 0]
        black, white = tiles <= 0, tiles >= 1
        kept = _mostly(black, side) | _mostly(white, side)
        # an impulse stands out from all its neighbours; a stroke's core does not
        if strokes[0]:
            kept |= black & (_nearest_neighbour(tiles, np.minimum) <= NEAR)
        if strokes[1]:
            kept |= white & (_nearest_neighbour(tiles, np.maximum) >= 1 - NEAR)
        if not kept.any():
            return infer(batch)
        fed = batch.copy()
        fed[:, 0][kept & black] = NUDGE
        fed[:, 0][kept & white] = 1 - NUDGE
        out = np.array(infer(fed), dtype=np.float32)
        out[:, 0][kept] = tiles[kept]
        return out

    return run


def solid_extremes(tiles: np.ndarray, side: int) -> np.ndarray:
    """The mask of the solid areas at exactly 0 or 1 in (N, H, W) tiles."""
    return _mostly(tiles <= 0, side) | _mostly(tiles >= 1, side)


def _census(plane: np.ndarray, low: float, high: float, neighbours: bool) -> np.ndarray:
    """For `plane`'s pixels at exactly `low` and at `high` (rows): how many there are and, with
    `neighbours`, how many of those none of their eight neighbours shares the value of (lone),
    and how many two or more do (in strokes). Read a band of rows at a time; the neighbours cost
    eight passes, so they are only counted for a plane that may be a document."""
    height = len(plane)
    counts = np.zeros((2, 3), np.int64)
    for start in range(0, height, READ_ROWS):
        top = max(start - 1, 0)  # a row of context above and below the band
        rows = plane[top:start + READ_ROWS + 1]
        inside = slice(start - top, start - top + min(READ_ROWS, height - start))
        for count, extreme in zip(counts, (rows <= low, rows >= high)):
            count[0] += np.count_nonzero(extreme[inside])
            if neighbours:
                shared = _neighbours_in(extreme[None])[0][inside]
                count[1] += np.count_nonzero(extreme[inside] & (shared == 0))
                count[2] += np.count_nonzero(extreme[inside] & (shared >= 2))
    return counts


def despeckling(pairs: bool = False) -> Infer:
    """What flips, in (N, 1, H, W) bilevel tiles, every pixel at 0 or 1 that none of its eight
    neighbours shares (the tile's mirrored edge counts as neighbours), and with `pairs` every two
    such pixels that only have each other; a stroke's pixels, even a one-pixel line's, have more."""

    def run(batch: np.ndarray) -> np.ndarray:
        tiles = batch[:, 0]
        out = batch.astype(np.float32)
        for extreme, other in ((tiles <= 0, 1), (tiles >= 1, 0)):
            shared = _neighbours_in(extreme, mirrored=True)
            specks = extreme & (shared == 0)
            if pairs:  # one neighbour of its value, and that one has no other: the two stand alone
                single = extreme & (shared == 1)
                specks |= single & (_neighbours_in(single, mirrored=True) == 1)
            out[:, 0][specks] = other
        return out

    return run


def _window_sums(mask: np.ndarray, side: int) -> np.ndarray:
    """Sums of (N, H, W) `mask` over every side x side window, indexed by its top-left corner."""
    total = np.pad(mask.cumsum(1, dtype=np.int32).cumsum(2, dtype=np.int32), ((0, 0), (1, 0), (1, 0)))
    return total[:, side:, side:] - total[:, :-side, side:] - total[:, side:, :-side] + total[:, :-side, :-side]


def _mostly(mask: np.ndarray, side: int) -> np.ndarray:
    """Pixels of `mask` inside some side x side window that is mostly (SOLID_SHARE) `mask`."""
    if min(mask.shape[1:]) < side:
        return np.zeros(mask.shape, bool)
    mostly = _window_sums(mask, side) >= SOLID_SHARE * side * side
    if not mostly.any():
        return np.zeros(mask.shape, bool)
    # (y, x) is inside such a window when one has its corner in [y - side + 1, y] x [x - side + 1, x]
    return mask & (_window_sums(np.pad(mostly, ((0, 0), (side - 1, side - 1), (side - 1, side - 1))), side) > 0)


def _nearest_neighbour(tiles: np.ndarray, pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """The darkest (np.minimum) or brightest (np.maximum) of each pixel's eight neighbours in
    (N, H, W) tiles, the tile's edge mirrored."""
    out = None
    for shifted in _neighbours(tiles, "reflect"):
        out = shifted.copy() if out is None else pick(out, shifted, out=out)
    return out


def _neighbours_in(mask: np.ndarray, mirrored: bool = False) -> np.ndarray:
    """How many of each pixel's eight neighbours are in (N, H, W) `mask` (outside the tile: none,
    or the mirror image of the inside)."""
    count = np.zeros(mask.shape, np.uint8)
    for shifted in _neighbours(mask.view(np.uint8), "reflect" if mirrored else "constant"):
        count += shifted
    return count


def _neighbours(tiles: np.ndarray, edge: str) -> Iterator[np.ndarray]:
    """The eight (N, H, W) views of `tiles` shifted by one pixel, padded by `edge` (np.pad's mode;
    a one-pixel-wide tile can only repeat its edge)."""
    mode = "edge" if edge == "reflect" and min(tiles.shape[1:]) < 2 else edge
    padded = np.pad(tiles, ((0, 0), (1, 1), (1, 1)), mode=mode)
    height, width = tiles.shape[1:]
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                yield padded[:, dy:dy + height, dx:dx + width]
