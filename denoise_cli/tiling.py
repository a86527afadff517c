"""Cut an image plane into model tiles, run them in batches, blend them back without seams.

Vocabulary (per axis):
- `tile`: the side fed to the network;
- `margin`: context on each side of a tile that is computed and thrown away (fully convolutional
  models: at least half the receptive field, so a tile's kept pixels equal whole-image output);
- `kept = tile - 2 * margin`: the part of a tile that reaches the output;
- `overlap`: how much neighbouring kept parts overlap; there they are blended with a sin^2 ramp
  whose two sides sum to one (fixed-size models, whose tiles each see only themselves, blend over
  half a patch by default);
- `stride = kept - overlap`, a multiple of the model's `multiple_of`, so every tile sits on the
  same grid phase and stride-2 networks give the same result tiled or whole;
- tiles of fully convolutional models are shrunk so that the image is shared evenly between as
  few tiles as the tile size allows (no mostly-empty last tile).

Outside the image the plane is mirrored (reflect padding), on the fly, so no padded copy of a
large image is ever made. Tile rows are processed a band at a time: memory holds one band of
float32 accumulators, whatever the image size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.pixels import PixelScale

Infer = Callable[[np.ndarray], np.ndarray]  # (N, 1, th, tw) float32 in [0, 1] -> same shape
BAND_PIXELS = 1 << 24  # cap on a band's accumulator size (pixels), whatever the batch size


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one height x width plane go."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    margin: int
    overlap: int
    ys: tuple[int, ...]  # top rows of the kept parts, in image coordinates
    xs: tuple[int, ...]  # left columns of the kept parts

    @property
    def kept_h(self) -> int:
        return self.tile_h - 2 * self.margin

    @property
    def kept_w(self) -> int:
        return self.tile_w - 2 * self.margin

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_margin(receptive_field: int, multiple_of: int) -> int:
    """What is thrown away around each tile of a fully convolutional model: half its receptive
    field, on the grid its sides must keep."""
    return _round_up(math.ceil(receptive_field / 2), multiple_of)


def axis_starts(length: int, kept: int, stride: int, align: int) -> tuple[int, ...]:
    """Kept-part starts covering [0, length): every `stride`, the last one pulled back so it ends
    at most `align - 1` pixels past the edge (and still on the `align` grid)."""
    if kept >= length:
        return (0,)
    starts = list(range(0, length - kept, stride))
    last = _round_up(length - kept, align)
    if last > starts[-1]:
        starts.append(last)
    return tuple(starts)


def balanced_kept(length: int, most: int, overlap: int, align: int) -> int:
    """The kept size that covers `length` with as few tiles as `most` allows, shared evenly: a
    2048 px side with at most 972 kept px takes three tiles of 684, not two of 972 and a third
    mostly wasted (and a small image takes one tile its own size)."""
    count = 1 if length <= most else math.ceil((length - overlap) / (most - overlap))
    share = math.ceil((length + (count - 1) * overlap) / count)
    return min(most, _round_up(share, align))


def plan_tiles(height: int, width: int, model: ModelDescription, tile: int | None = None, overlap: int | None = None) -> TilePlan:
    """The tile layout for a plane, from the model's description and the user's overrides."""
    if height < 1 or width < 1:
        raise DenoiseError(f"cannot denoise an empty {width}x{height} image.")
    align = model.multiple_of
    if model.fixed_size:
        if tile is not None and tile != model.patch_size:
            raise DenoiseError(f"model {model.name} only takes {model.patch_size}x{model.patch_size} tiles (got --tile {tile}).")
        full_kept = model.patch_size
        margin = 0
        overlap = model.patch_size // 2 if overlap is None else overlap
    else:
        margin = tile_margin(model.receptive_field, align)
        side = _round_up(tile or model.tile_size or model.patch_size, align)
        full_kept = side - 2 * margin
        if full_kept < align:
            raise DenoiseError(f"--tile {tile or side} is too small for model {model.name}: it needs at least {2 * margin + align} (receptive field {model.receptive_field}).")
        overlap = 0 if overlap is None else overlap
    if not 0 <= overlap < full_kept:
        raise DenoiseError(f"--overlap must be between 0 and {full_kept - 1} for model {model.name} (got {overlap}).")
    if model.fixed_size:
        tile_h = tile_w = model.patch_size
    else:
        tile_h = balanced_kept(height, full_kept, overlap, align) + 2 * margin
        tile_w = balanced_kept(width, full_kept, overlap, align) + 2 * margin
    kept_h, kept_w = tile_h - 2 * margin, tile_w - 2 * margin
    stride_h = max(align, (kept_h - overlap) // align * align)
    stride_w = max(align, (kept_w - overlap) // align * align)
    return TilePlan(
        height, width, tile_h, tile_w, margin, overlap,
        axis_starts(height, kept_h, stride_h, align), axis_starts(width, kept_w, stride_w, align),
    )


def ramp_window(kept: int, overlap: int) -> np.ndarray:
    """1 in the middle, sin^2 ramps of length `overlap` at both ends; never zero, and the falling
    ramp of one tile plus the rising ramp of the next sum to exactly one."""
    w = np.ones(kept, dtype=np.float64)
    ramp_len = min(overlap, kept // 2)
    if ramp_len > 0:
        ramp = np.sin(np.pi / 2 * (np.arange(ramp_len) + 0.5) / ramp_len) ** 2
        w[:ramp_len] = ramp
        w[kept - ramp_len :] = ramp[::-1]
    return w.astype(np.float32)


def reflect_indices(start: int, stop: int, n: int) -> np.ndarray:
    """Indices of [start, stop) into an axis of length n, mirrored at the edges (no edge repeat)."""
    index = np.arange(start, stop)
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.mod(index, period)
    return np.where(index >= n, period - index, index)


def read_region(plane: np.ndarray, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """plane[y0:y0+h, x0:x0+w], mirrored where it reaches outside (a copy only when it must)."""
    height, width = plane.shape
    if y0 >= 0 and x0 >= 0 and y0 + h <= height and x0 + w <= width:
        return plane[y0 : y0 + h, x0 : x0 + w]
    return plane[np.ix_(reflect_indices(y0, y0 + h, height), reflect_indices(x0, x0 + w, width))]


def denoise_plane(
    plane: np.ndarray,
    scale: PixelScale,
    infer: Infer,
    plan: TilePlan,
    batch_size: int,
    on_tiles: Callable[[int], None] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Denoise one (H, W) plane of any stored dtype into `out` (a new plane if None)."""
    H, W = plan.height, plan.width
    out = np.empty((H, W), dtype=scale.dtype) if out is None else out
    win_y, win_x = ramp_window(plan.kept_h, plan.overlap), ramp_window(plan.kept_w, plan.overlap)
    tiles_per_row = len(plan.xs)
    rows_per_band = max(1, min(math.ceil(batch_size / tiles_per_row), BAND_PIXELS // max(1, plan.tile_h * W)))
    carry: tuple[int, np.ndarray, np.ndarray] | None = None  # (first row, acc, weights)
    m = plan.margin

    for b in range(0, len(plan.ys), rows_per_band):
        band = plan.ys[b : b + rows_per_band]
        top, bottom = band[0], min(band[-1] + plan.kept_h, H)
        acc = np.zeros((bottom - top, W), dtype=np.float32)
        wsum = np.zeros((bottom - top, W), dtype=np.float32)
        if carry is not None:
            c_top, c_acc, c_w = carry
            acc[c_top - top : c_top - top + len(c_acc)] += c_acc
            wsum[c_top - top : c_top - top + len(c_w)] += c_w
        tiles = [(y, x) for y in band for x in plan.xs]
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start : start + batch_size]
            batch = np.stack([scale.to_unit(read_region(plane, y - m, x - m, plan.tile_h, plan.tile_w)) for y, x in chunk])
            result = infer(batch[:, None])  # (n, 1, tile_h, tile_w)
            for (y, x), tile_out in zip(chunk, result[:, 0]):
                h, w = min(plan.kept_h, H - y), min(plan.kept_w, W - x)
                weight = win_y[:h, None] * win_x[None, :w]
                acc[y - top : y - top + h, x : x + w] += tile_out[m : m + h, m : m + w] * weight
                wsum[y - top : y - top + h, x : x + w] += weight
            if on_tiles:
                on_tiles(len(chunk))
        done = plan.ys[b + rows_per_band] if b + rows_per_band < len(plan.ys) else H
        out[top:done] = scale.from_unit(acc[: done - top] / wsum[: done - top])
        carry = (done, acc[done - top :], wsum[done - top :]) if done < bottom else None
    return out
