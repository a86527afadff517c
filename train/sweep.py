"""A strength sweep: each picture of a set, under a scenario's noise, denoised by a noise-level
model at a range of fixed strengths, with the estimator's readings of the noisy picture.

A mean over a set hides the pictures a fixed automatic strength damages; the sweep shows each
one, and what a rule that sets the strength from the readings (a texture guard, see
`denoise_cli.api.texture_strength`) gives on them without running the model again: a picture's
PSNR at the rule's strength is read off its sweep, linearly between the two nearest strengths.
These are the figures behind the `photo` recipe's `texture_guard`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from denoise_cli.api import Denoiser, texture_strength
from denoise_cli.errors import DenoiseError
from denoise_cli.estimate import estimate_noise_levels, uniformity
from denoise_cli.imageio import read_gray
from denoise_cli.pixels import PixelScale
from denoise_cli.train.bench import check_scenarios, scenario_noise, set_paths
from denoise_cli.train.data import enlarge
from denoise_cli.train.scoring import psnr, quantize

UNIT = PixelScale(0.0, 1.0, np.dtype(np.float32))
LOSS = 0.1  # dB below the noisy input: a picture this denoiser damaged


@dataclass(frozen=True)
class SweptPicture:
    set: str
    scenario: str
    image: str
    readings: list[float]  # full and half, 0-255, as read (before any floor)
    noisy: float  # PSNR of the noisy input (inf for "clean")
    strengths: list[float]
    psnr: list[float]  # at each strength
    uniformity: float | None = None  # estimate.uniformity (None: a sweep written before it was read)

    def psnr_at(self, strength: float) -> float:
        return float(np.interp(strength, self.strengths, self.psnr))


def sweep(data_dir: Path, sets: list[str], scenarios: list[str], model: str, strengths: list[float], every: int = 1,
          enlarge_by: float = 1.0, log: Callable[[str], None] = print) -> list[SweptPicture]:
    """Every `every`-th picture of each set (noise seeded by its index in the whole set, as the
    benchmark does), at each strength; one JSON line per picture to `log`."""
    check_scenarios(scenarios, [])
    strengths = sorted(strengths)
    denoisers = [Denoiser(model, device="cpu", threads=2, strength=s) for s in strengths]
    if not denoisers[0].description.noise_level_input:
        raise DenoiseError(f"model {denoisers[0].description.name} has no noise-level input: it has no strength to sweep.")
    pictures = []
    for set_name in sets:
        paths = set_paths(data_dir, set_name, None)
        for index in range(0, len(paths), every):
            clean = read_gray(paths[index])
            if enlarge_by != 1:
                clean = enlarge(clean, enlarge_by)
            clean8 = quantize(clean)
            for scenario in scenarios:
                noisy = scenario_noise(clean, scenario, index, "png8").astype(np.float32)
                readings = [round(r * 255, 3) for r in estimate_noise_levels(noisy, UNIT, ("full", "half"))]
                scores = [round(psnr(clean8, quantize(d.denoise(noisy))), 3) for d in denoisers]
                picture = SweptPicture(set_name, scenario, paths[index].stem, readings, round(psnr(clean8, quantize(noisy)), 3), strengths, scores,
                                       round(uniformity(noisy, UNIT), 4))
                pictures.append(picture)
                log(json.dumps(asdict(picture)))
    return pictures


def load_sweep(path: Path) -> list[SweptPicture]:
    try:
        return [SweptPicture(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise DenoiseError(f"{path}: cannot read ({exc.strerror or exc}).") from None
    except (ValueError, TypeError):
        raise DenoiseError(f"{path}: not a file written by `denoise-train sweep --out`.") from None


GREY_LEVEL_ENTRIES = (0, 1, 6)  # a texture guard's start, cap and ramp: readings, not ratios


def rescale_guard(guard: list[float], factor: float) -> list[float]:
    """A texture guard with its readings (start, cap, ramp) times `factor`: 255 from a model's
    0-1 scale to the grey levels `--guard` is given in, 1 / 255 back."""
    return [v * factor if i in GREY_LEVEL_ENTRIES else v for i, v in enumerate(guard)]


def guard_rows(pictures: list[SweptPicture], guard: list[float]) -> list[dict]:
    """Per set and scenario: mean PSNR and gain over the noisy input at strength 1 and with the
    guard (start, cap and any ramp on 0-255), pictures losing more than LOSS dB, the worst, the mean
    strength."""
    unit_guard = rescale_guard(guard, 1 / 255)
    if len(guard) > 5 and any(p.uniformity is None for p in pictures):
        raise DenoiseError("a guard with a sixth value (even) needs each picture's uniformity, which this sweep predates: run it again.")
    groups: dict[tuple[str, str], list[tuple[SweptPicture, float]]] = {}
    for p in pictures:
        strength = texture_strength(p.readings[0] / 255, p.readings[1] / 255, unit_guard, p.uniformity)
        groups.setdefault((p.set, p.scenario), []).append((p, strength))
    rows = []
    for (set_name, scenario), members in groups.items():
        row = {"set": set_name, "scenario": scenario, "images": len(members), "guarded": sum(s < 1 for _, s in members),
               "mean strength": float(np.mean([s for _, s in members]))}
        for label, at in (("strength 1", lambda p, s: p.psnr_at(1.0)), ("guard", lambda p, s: p.psnr_at(s))):
            scores = np.array([at(p, s) for p, s in members])
            row[f"{label} psnr"] = float(scores.mean())
            if all(np.isfinite(p.noisy) for p, _ in members):
                gains = scores - np.array([p.noisy for p, _ in members])
                row[f"{label} gain"], row[f"{label} losing"], row[f"{label} worst"] = float(gains.mean()), int(np.sum(gains < -LOSS)), float(gains.min())
        rows.append(row)
    return rows


def to_markdown(rows: list[dict]) -> str:
    def cell(row: dict, label: str) -> str:
        text = f"{row[f'{label} psnr']:.2f}"
        if f"{label} gain" in row:
            text += f" ({row[f'{label} gain']:+.2f}); {row[f'{label} losing']} losing, worst {row[f'{label} worst']:+.2f}"
        return text

    lines = [f"| set | scenario | images | guarded | mean strength | strength 1: dB (gain); losing > {LOSS} dB | guard: dB (gain); losing > {LOSS} dB |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['scenario']} | {r['images']} | {r['guarded']} | {r['mean strength']:.2f} | {cell(r, 'strength 1')} | {cell(r, 'guard')} |")
    return "\n".join(lines)
