"""Gray images as SVG text, pixel for pixel, so that a README can show a before/after crop while
git holds no binary file but the models.

Each panel is drawn as horizontal runs of equal 8-bit value: one path per value, each run a
stroke of width 1 along the middle of its pixel row (`M x y+0.5 h n`, then relative moves). A
64x64 panel takes about 35 kB this way (docs/before-after.svg: 4 panels, 137 kB); an embedded
PNG would be a binary file in disguise. `read_panels` parses the file back, so the figure can be
checked against its pixels.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from denoise_cli.atomic import write_atomically

SVG_NS = "http://www.w3.org/2000/svg"
LABEL_HEIGHT = 18  # screen pixels above each panel for its label
GAP = 6  # screen pixels between panels


@dataclass(frozen=True)
class Panel:
    label: str
    pixels: np.ndarray  # (H, W) floats in [0, 1]


def _runs(values: np.ndarray) -> dict[int, list[tuple[int, int, int]]]:
    """(x, y, length) runs of equal value, grouped by value, in reading order."""
    runs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for y, row in enumerate(values):
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        ends = np.r_[starts[1:], len(row)]
        for start, end in zip(starts, ends):
            runs[int(row[start])].append((int(start), y, int(end - start)))
    return runs


def _path_data(runs: list[tuple[int, int, int]]) -> str:
    parts, pen = [], None
    for x, y, length in runs:
        if pen is None:
            parts.append(f"M{x} {y}.5h{length}")
        else:
            parts.append(f"m{x - pen[0]} {y - pen[1]}h{length}")
        pen = (x + length, y)
    return "".join(parts)


def panels_svg(panels: list[Panel], zoom: int = 4) -> str:
    """The panels side by side, each `zoom` screen pixels per image pixel, labelled above."""
    heights = {p.pixels.shape[0] for p in panels}
    if len(heights) != 1:
        raise ValueError("panels must have the same height")
    height = heights.pop()
    widths = [p.pixels.shape[1] for p in panels]
    total = sum(w * zoom for w in widths) + GAP * (len(panels) - 1)
    out = [
        f'<svg xmlns="{SVG_NS}" width="{total}" height="{height * zoom + LABEL_HEIGHT}" '
        f'viewBox="0 0 {total} {height * zoom + LABEL_HEIGHT}">',
        f'<rect width="{total}" height="{height * zoom + LABEL_HEIGHT}" fill="#fff"/>',
    ]
    left = 0
    for panel, width in zip(panels, widths):
        values = np.round(np.clip(panel.pixels, 0, 1) * 255).astype(np.uint8)
        label = panel.label.replace("&", "&amp;").replace("<", "&lt;")
        out.append(f'<text x="{left + 2}" y="{LABEL_HEIGHT - 5}" font-family="sans-serif" font-size="12">{label}</text>')
        out.append(
            f'<g transform="translate({left} {LABEL_HEIGHT}) scale({zoom})" fill="none" stroke-width="1" '
            f'shape-rendering="crispEdges">'
        )
        for value, runs in sorted(_runs(values).items()):
            out.append(f'<path stroke="#{value:02x}{value:02x}{value:02x}" d="{_path_data(runs)}"/>')
        out.append("</g>")
        left += width * zoom + GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_panels(panels: list[Panel], path: Path, zoom: int = 4, overwrite: bool = False) -> None:
    text = panels_svg(panels, zoom).encode()
    write_atomically(Path(path), lambda f: f.write(text), overwrite)


_STEP = re.compile(r"([Mmh])(-?\d+(?:\.\d+)?)(?: (-?\d+(?:\.\d+)?))?")


def read_panels(text: str) -> list[tuple[str, np.ndarray]]:
    """(label, uint8 pixels) of each panel of an SVG written by `panels_svg`: the check that the
    figure shows exactly the pixels it was given."""
    root = ElementTree.fromstring(text)
    labels = [t.text or "" for t in root.iter(f"{{{SVG_NS}}}text")]
    panels = []
    for label, group in zip(labels, root.iter(f"{{{SVG_NS}}}g")):
        pixels: dict[tuple[int, int], int] = {}
        for path in group.iter(f"{{{SVG_NS}}}path"):
            value = int(path.get("stroke")[1:3], 16)
            x = y = 0.0
            for command, a, b in _STEP.findall(path.get("d")):
                if command == "M":
                    x, y = float(a), float(b)
                elif command == "m":
                    x, y = x + float(a), y + float(b)
                else:
                    for dx in range(int(a)):
                        pixels[(int(y), int(x) + dx)] = value
                    x += int(a)
        rows = 1 + max(r for r, _ in pixels)
        cols = 1 + max(c for _, c in pixels)
        image = np.zeros((rows, cols), np.uint8)
        for (r, c), value in pixels.items():
            image[r, c] = value
        panels.append((label, image))
    return panels
