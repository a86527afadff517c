"""The quality and speed benchmark of ../shared/bench/PROTOCOL.md: our models against the
classical methods a user would otherwise try, on Set12 and BSD68, Gaussian and impulse noise;
and on a folder of real noisy photos with their references (`--pairs`), where no noise is
simulated at all.

Every method is a function (noisy float image, noise level on the 0-255 scale) -> denoised
float image; the protocol's noise, scoring and timing are applied around it identically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import IMAGE_SUFFIXES, camera_of, read_gray
from denoise_cli.noise import PROTOCOL_VARIANTS, check_protocol_variant, protocol_noise, protocol_scenario, protocol_sigma
from denoise_cli.train.data import enlarge
from denoise_cli.train.scoring import image_scores, mean_of

Method = Callable[[np.ndarray, float], np.ndarray]
SETS = ("set12", "bsd68")
SCENARIOS = ("gauss15", "gauss25", "gauss50", "sp10", "sp20", "sp30")
VARIANTS = PROTOCOL_VARIANTS
THREADS = 2
# Scenarios without a protocol level: methods that need one get the estimator's reading.
STAND_IN_CAMERA = "camera (stand-in)"  # what `camera_photo` runs test pictures as
ESTIMATED_LEVEL = ("camera", "clean", "real", "reference")
# Real photo pairs (`--pairs`), in one folder or its sub-folders: NAME_real / NAME_noisy with
# NAME_mean / NAME_clean / NAME_gt, the naming of the PolyU and Nam et al. real-noise sets (noisy
# shot, mean of many shots); or NOISY_NAME with GT_NAME (or CLEAN_, MEAN_), as SIDD names them
# in a folder per scene; or the same name in sibling folders noisy/ (or real/) and mean/ (or
# clean/, gt/, reference/). Case does not matter.
NOISY_SUFFIXES = ("_real", "_noisy")
REFERENCE_SUFFIXES = ("_mean", "_clean", "_gt")
NOISY_PREFIXES = ("noisy_", "real_")
REFERENCE_PREFIXES = ("gt_", "clean_", "mean_")
NOISY_FOLDERS = ("noisy", "real")
REFERENCE_FOLDERS = ("mean", "clean", "gt", "reference")
PAIR_VARIANT = "file"  # the pair's own 8-bit files: neither float nor our png8 rounding


# --- classical baselines -------------------------------------------------------------------


def noisy_input(noisy: np.ndarray, sigma: float) -> np.ndarray:
    return noisy


def median3(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(noisy, size=3, mode="reflect")


def switching_median(noisy: np.ndarray, sigma: float, max_window: int = 15) -> np.ndarray:
    """Decision-based adaptive median: only pixels at exactly 0 or 255 (8-bit) are impulses; each
    is replaced by the median of the non-impulse pixels in the smallest window, 3x3 up to
    max_window, that has any. Other pixels are left untouched."""
    image8 = np.round(np.clip(noisy, 0, 1) * 255)
    impulse = (image8 == 0) | (image8 == 255)
    out = noisy.copy()
    values = np.where(impulse, np.nan, noisy)
    todo_y, todo_x = np.nonzero(impulse)
    for window in range(3, max_window + 1, 2):
        if len(todo_y) == 0:
            break
        r = window // 2
        padded = np.pad(values, r, mode="symmetric")
        patches = np.lib.stride_tricks.sliding_window_view(padded, (window, window))[todo_y, todo_x]
        has_good = ~np.isnan(patches).all(axis=(1, 2))
        if has_good.any():
            out[todo_y[has_good], todo_x[has_good]] = np.nanmedian(patches[has_good].reshape(has_good.sum(), -1), axis=1)
        todo_y, todo_x = todo_y[~has_good], todo_x[~has_good]
    return out


def nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV non-local means on the 8-bit image, filter strength h = 0.8 sigma (its best over
    0.6 / 0.8 / 1.0 sigma on Set12 at sigma 25), larger search window for strong noise."""
    import cv2

    cv2.setNumThreads(THREADS)
    image8 = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    search = 21 if sigma <= 30 else 35
    return cv2.fastNlMeansDenoising(image8, None, h=0.8 * sigma, templateWindowSize=7, searchWindowSize=search).astype(np.float32) / 255


def bm3d_method(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return bm3d.bm3d(noisy, sigma_psd=sigma / 255).astype(np.float32)


BASELINES: dict[str, Method] = {
    "noisy": noisy_input,
    "median3": median3,
    "switching-median": switching_median,
    "nlm": nlm,
    "bm3d": bm3d_method,
}


# The module each baseline imports that the training extra lacks: the bench extra brings it.
BASELINE_MODULES = {"nlm": "cv2", "bm3d": "bm3d"}
LEVEL_BASELINES = ("nlm", "bm3d")  # the baselines that take a noise level


def baseline_of(method: str) -> str:
    """A row's method without its tags: "bm3d (sigma 8)" is the bm3d baseline."""
    return method.partition(" (")[0]


def check_baselines(baselines: list[str]) -> None:
    """Refuse, before any work, a baseline that does not exist or whose library is missing."""
    import importlib.util

    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise DenoiseError(f"unknown baseline {unknown[0]!r} (expected {', '.join(BASELINES)}).")
    missing = [b for b in baselines if b in BASELINE_MODULES and importlib.util.find_spec(BASELINE_MODULES[b]) is None]
    if missing:
        which = f"the {missing[0]} baseline needs" if len(missing) == 1 else f"the {' and '.join(missing)} baselines need"
        raise DenoiseError(f"{which} the bench extra: pip install \"denoise-cli[bench]\" (or leave {'it' if len(missing) == 1 else 'them'} out of --baselines).")


def check_scenario(scenario: str) -> None:
    """A DenoiseError for a scenario the benchmark does not know."""
    unknown = f"unknown benchmark scenario {scenario!r} (expected gaussS, spNN, spjpegNN, cameraXL/L/M/H or clean)."
    if scenario == "clean":
        return
    if scenario.startswith("camera"):
        from denoise_cli.train.degrade import CAMERA_SETTINGS

        if scenario not in CAMERA_SETTINGS:
            raise DenoiseError(f"unknown camera setting {scenario!r} (expected {', '.join(CAMERA_SETTINGS)}).")
    elif scenario.startswith(COMPRESSED_IMPULSES):
        if not scenario.removeprefix(COMPRESSED_IMPULSES).isdigit():
            raise DenoiseError(unknown)
    elif scenario.startswith(("gauss", "sp")):
        try:
            protocol_scenario(scenario)
        except DenoiseError:  # its message knows the protocol's two kinds only
            raise DenoiseError(unknown) from None
    else:
        raise DenoiseError(unknown)


COMPRESSED_IMPULSES = "spjpeg"  # spjpegNN: the protocol's spNN, then saved as a JPEG (degrade.SPJPEG_QUALITY)


def _uncompressed(scenario: str) -> str:
    """'sp10' for 'spjpeg10': the protocol scenario a compressed one starts from (any other
    scenario as it is)."""
    return "sp" + scenario.removeprefix(COMPRESSED_IMPULSES) if scenario.startswith(COMPRESSED_IMPULSES) else scenario


def check_scenarios(scenarios: list[str], variants: list[str]) -> None:
    """Refuse, before any work, a scenario or variant the benchmark does not know."""
    for variant in variants:
        check_protocol_variant(variant)
    for scenario in scenarios:
        check_scenario(scenario)


SIGMA_GIVEN = "sigma given"  # in the row name of a noise-level model told the protocol's level
BLIND = "blind"  # in the row name of a noise-level model that estimates the level itself


def applies(name: str, noise_kind: str | None, scenario: str) -> bool:
    """Impulse filters and impulse models on impulse noise, Gaussian models on Gaussian noise;
    every model on clean pictures, which none may damage."""
    impulse = scenario.startswith("sp")
    if name == "switching-median":
        return impulse
    if scenario == "clean":
        return True
    if f"({SIGMA_GIVEN}" in name and scenario.startswith(ESTIMATED_LEVEL):
        return False  # no protocol level to give: the blind row is the one that means something
    if noise_kind in ("gaussian", "camera"):
        return not impulse  # Gaussian models also face camera noise: what users' photos hold
    if noise_kind is not None and "salt-and-pepper" in noise_kind:
        return impulse
    return True


def model_method(model: str, give_sigma: bool, strength: float | None = None, camera_photo: bool = False,
                 ensemble: bool = False, fixed_sigma: float | None = None) -> tuple[str, Method, str]:
    """One of our models through the public API; with `give_sigma`, a noise-level model is told
    the protocol's level instead of estimating it (blind); `strength` is the API's factor on it
    (None: automatic, as `denoise`; 1 on arrays, or on a camera's shot the camera strength its
    readings call for); `camera_photo` runs every picture as a camera's own unresized photo, as
    its EXIF would; `ensemble` averages over flips, as `denoise --ensemble`. `fixed_sigma` tells
    it that level on every picture, as `denoise --sigma` (give_sigma then does not apply)."""
    from denoise_cli.api import Denoiser

    if camera_photo and strength is not None:
        raise DenoiseError("a strength and a camera photo's automatic strength exclude each other: give one of them.")
    denoiser = Denoiser(model, device="cpu", threads=THREADS, sigma=fixed_sigma, strength=strength, ensemble=ensemble)
    levels = denoiser.description.noise_level_input
    if fixed_sigma is not None:
        tags = [f"sigma {fixed_sigma:g}"] if levels else []
    else:
        tags = [SIGMA_GIVEN if give_sigma else BLIND] if levels else []
    tags += [f"strength {strength:g}"] if levels and strength not in (None, 1) else []
    tags += ["as a camera's photo"] if levels and camera_photo else []
    tags += ["ensemble"] if ensemble else []
    name = denoiser.description.name + (f" ({', '.join(tags)})" if tags else "")

    def run(noisy: np.ndarray, sigma: float, camera: str | None = None) -> np.ndarray:
        if fixed_sigma is None:
            denoiser.sigma = sigma if (give_sigma and levels) else None
        return denoiser.denoise(noisy.astype(np.float32), camera=camera or (STAND_IN_CAMERA if camera_photo else None))

    run(np.zeros((32, 32), np.float32), 25.0)  # warm-up, excluded from timing
    return name, run, denoiser.description.noise["kind"]


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    set: str
    scenario: str
    variant: str
    psnr: float
    ssim: float
    megapixels_per_second: float
    images: int
    # image file name -> [PSNR, SSIM]: which pictures a method helps or hurts, behind the mean
    per_image: dict[str, list[float]] = field(default_factory=dict)


def set_paths(data_dir: Path, name: str, limit: int | None) -> list[Path]:
    """The PNG files of a test set, in name order (the protocol seeds noise by this index)."""
    folder = data_dir / name
    if not folder.is_dir():
        raise DenoiseError(f"benchmark set {folder} not found (expected {', '.join(SETS)} under the data directory).")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")[:limit]


@dataclass(frozen=True)
class PhotoPairs:
    """Real photo pairs, read as 8-bit gray, with each file's `camera_of` (its EXIF's hint that
    `denoise` would act on: the model's camera strength)."""

    names: list[str]  # the noisy shots' file names
    references: list[np.ndarray]
    shots: list[np.ndarray]
    reference_cameras: list[str | None]
    shot_cameras: list[str | None]


def _pair_reference(path: Path, files: dict[str, Path]) -> Path | None | bool:
    """The reference beside a noisy shot (files: lower-case stem -> path, in its folder); None
    when it has none; False when the file is not a noisy shot by its name."""
    stem = path.stem.lower()
    for end in NOISY_SUFFIXES:
        if stem.endswith(end):
            base = stem[: -len(end)]
            return next((files[base + suffix] for suffix in REFERENCE_SUFFIXES if base + suffix in files), None)
    for start in NOISY_PREFIXES:
        if stem.startswith(start):
            base = stem[len(start):]
            return next((files[prefix + base] for prefix in REFERENCE_PREFIXES if prefix + base in files), None)
    return False


def _reference_folder(parent: Path, by_folder: dict[Path, dict[str, Path]]) -> dict[str, Path] | None:
    """For a folder named as noisy shots (NOISY_FOLDERS), the files of its sibling reference
    folder (REFERENCE_FOLDERS; empty when there is none); None for any other folder."""
    if parent.name.lower() not in NOISY_FOLDERS:
        return None
    siblings = (files for folder, files in by_folder.items() if folder.parent == parent.parent and folder.name.lower() in REFERENCE_FOLDERS)
    return next(siblings, {})


def load_pairs(folder: Path, limit: int | None) -> PhotoPairs:
    """The noisy shots and references of a folder of real photo pairs (and its sub-folders)."""
    if not folder.is_dir():
        raise DenoiseError(f"{folder}: not a folder of photo pairs.")
    by_folder: dict[Path, dict[str, Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            by_folder.setdefault(path.parent, {})[path.stem.lower()] = path
    pairs = []
    for parent, files in by_folder.items():
        references = _reference_folder(parent, by_folder)
        for path in files.values():
            if references is not None:  # noisy/NAME beside mean/NAME (or mean/NAME_mean)
                reference = references.get(path.stem.lower()) or _pair_reference(path, references) or None
            else:
                reference = _pair_reference(path, files)
            if reference is not False:
                pairs.append((reference, path))
    unmatched = [str(path.relative_to(folder)) for reference, path in pairs if reference is None]
    if unmatched or not pairs:
        what = f"no reference for {', '.join(unmatched[:3])}" if unmatched else "no noisy photos"
        raise DenoiseError(f"{folder}: {what}; expected NAME_real or NAME_noisy beside NAME_mean, NAME_clean or NAME_gt "
                           "(or NOISY_NAME beside GT_NAME, or noisy/NAME beside mean/NAME), in the folder or its sub-folders.")
    pairs = pairs[:limit]
    references, noisy = [], []
    for reference, path in pairs:
        clean, shot = read_pair(reference, path)
        references.append(clean)
        noisy.append(shot)
    return PhotoPairs([str(p.relative_to(folder)) for _, p in pairs], references, noisy, [camera_of(r) for r, _ in pairs], [camera_of(p) for _, p in pairs])


def read_pair(reference: Path, shot: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real noisy shot and its reference (the mean of many shots), both as 8-bit gray, the way
    `bench --pairs` and `before-after --noisy` read them; a size mismatch is the user's error."""
    clean, noisy = read_gray(reference), read_gray(shot)
    if noisy.shape != clean.shape:
        raise DenoiseError(f"{shot} is {noisy.shape[1]}x{noisy.shape[0]} and its reference {reference} "
                           f"{clean.shape[1]}x{clean.shape[0]}: a noisy shot and its reference must be the same size.")
    return clean, noisy


def scenario_noise(clean: np.ndarray, scenario: str, index: int, variant: str) -> np.ndarray:
    """The protocol's noise, the protocol's impulses saved as a JPEG (spjpegNN), the camera
    pipeline at a fixed setting (seeded per image; its output is 8-bit JPEG, so both variants
    coincide), or no noise at all ("clean": what a denoiser does to a photo that needs nothing)."""
    check_scenario(scenario)
    if scenario == "clean":
        return clean.copy()
    if scenario.startswith("camera"):
        from denoise_cli.train.degrade import CAMERA_SETTINGS, camera_setting

        rng = np.random.default_rng(30000 + 1000 * list(CAMERA_SETTINGS).index(scenario) + 1000003 * index)
        return camera_setting(clean, scenario, rng)
    if scenario.startswith(COMPRESSED_IMPULSES):
        from denoise_cli.train.degrade import SPJPEG_QUALITY, jpeg

        return jpeg(protocol_noise(clean, _uncompressed(scenario), index, variant), SPJPEG_QUALITY)
    return protocol_noise(clean, scenario, index, variant)


def scenario_sigma(scenario: str, noisy: np.ndarray) -> float:
    """The level a method that needs one is given: the protocol's, or for camera noise (which
    has no single level) and clean images the estimator's reading of the input."""
    if scenario.startswith(ESTIMATED_LEVEL):
        from denoise_cli.estimate import estimate_noise_levels_batch

        return float(estimate_noise_levels_batch(noisy[None])[0, 0, 0, 0] * 255)
    return protocol_sigma(_uncompressed(scenario))


def run_method(
    name: str, method: Method, clean: list[np.ndarray], set_name: str, scenario: str, variant: str,
    inputs: list[np.ndarray] | None = None, cameras: list[str | None] | None = None, names: list[str] | None = None,
) -> Row:
    """One method on a set; `inputs` are given noisy images (real photos) instead of the
    scenario's noise, `cameras` (for our models) their files' camera hints, and `names` the
    images' names in the row's per-image scores (default: their numbers from 1)."""
    outputs, seconds = [], 0.0
    for index, image in enumerate(clean):
        noisy = inputs[index] if inputs is not None else scenario_noise(image, scenario, index, variant)
        sigma = scenario_sigma(scenario, noisy)
        started = time.perf_counter()
        outputs.append(method(noisy, sigma) if cameras is None else method(noisy, sigma, cameras[index]))
        seconds += time.perf_counter() - started
    per_image = image_scores(clean, outputs)
    scores = mean_of(per_image)
    pixels = sum(c.size for c in clean)
    speed = pixels / 1e6 / seconds if seconds > 0 else float("inf")
    names = names or [str(number) for number in range(1, len(clean) + 1)]
    return Row(name, set_name, scenario, variant, scores["psnr"], scores["ssim"], round(speed, 3), len(clean),
               {n: [round(p, 3), round(s, 4)] for n, (p, s) in zip(names, per_image)})


FAMILIES = (
    ("gauss", "Gaussian noise"), ("sp", "salt-and-pepper noise"),
    (("camera", "clean"), "camera noise (train/degrade.py, fixed settings) and clean images"),
    (("real", "reference"), "real photos: the noisy shot, and the reference itself as input"),
)


# Every scenario, in table order: the protocol's, near-clean Gaussian, camera noise, clean.
ALL_SCENARIOS = (*SCENARIOS[:3], "gauss2", *SCENARIOS[3:], "spjpeg10", "spjpeg20", "spjpeg30", "cameraXL", "cameraL", "cameraM", "cameraH", "clean")


def _column_order(column: tuple[str, str]) -> tuple[int, int]:
    scenario, variant = column
    position = ALL_SCENARIOS.index(scenario) if scenario in ALL_SCENARIOS else len(ALL_SCENARIOS)
    return position, VARIANTS.index(variant) if variant in VARIANTS else 0


def _method_order(method: str) -> int:
    """Classical baselines first, in their usual order; then our models (sorted() is stable)."""
    return list(BASELINES).index(baseline_of(method)) if baseline_of(method) in BASELINES else len(BASELINES)


def to_markdown(rows: list[Row]) -> str:
    """A table per set and noise family: a row per method, PSNR / SSIM per scenario and variant,
    and the method's speed (megapixels per second, mean over the table's columns)."""
    lines = []
    for set_name in dict.fromkeys(r.set for r in rows):
        for prefix, family in FAMILIES:
            subset = [r for r in rows if r.set == set_name and r.scenario.startswith(prefix)]
            if not subset:
                continue
            columns = sorted(dict.fromkeys((r.scenario, r.variant) for r in subset), key=_column_order)
            lines += [f"**{set_name}, {family}** ({subset[0].images} images): PSNR dB / SSIM", ""]
            lines.append("| method | " + " | ".join(f"{s} {v}" for s, v in columns) + " | MP/s |")
            lines.append("|---" * (len(columns) + 2) + "|")
            for method in sorted(dict.fromkeys(r.method for r in subset), key=_method_order):
                cells, speeds = [], []
                for s, v in columns:
                    match = [r for r in subset if r.method == method and r.scenario == s and r.variant == v]
                    cells.append(f"{match[0].psnr:.2f} / {match[0].ssim:.3f}" if match else "")
                    speeds += [r.megapixels_per_second for r in match]
                speed = np.mean(speeds)
                lines.append(f"| {method} | " + " | ".join(cells) + (f" | {speed:.2f} |" if speed < 1000 else " | |"))
            lines.append("")
    return "\n".join(lines)


REAL_PHOTO_GAIN = 1.5  # dB over the noisy shots: the default model's target on real photos
NEARLY_CLEAN_LOSS = 0.1  # dB a picture without visible noise may lose, at most


def target_lines(rows: list[Row]) -> list[str]:
    """The default model's targets, read off the rows where they can be: on real photos (`--pairs`)
    a gain of at least REAL_PHOTO_GAIN over the noisy shots and more than the 3x3 median's; on
    nearly clean pictures (`gauss2`) no picture losing more than NEARLY_CLEAN_LOSS against its
    input. Each needs the `noisy` baseline in the rows (and `median3` for the median)."""
    lines = []
    by_key = {(r.method, r.set, r.scenario, r.variant): r for r in rows}
    for row in rows:
        if baseline_of(row.method) in BASELINES or row.scenario not in ("real", "gauss2"):
            continue
        noisy = by_key.get(("noisy", row.set, row.scenario, row.variant))
        if noisy is None:
            continue
        where = f"{row.method} on {row.set} {row.scenario} {row.variant}"
        if row.scenario == "real":
            gain = row.psnr - noisy.psnr
            line = f"{where}: {gain:+.2f} dB over the noisy shots (target +{REAL_PHOTO_GAIN:.2f}: {'met' if gain >= REAL_PHOTO_GAIN else 'NOT met'})"
            median = by_key.get(("median3", row.set, row.scenario, row.variant))
            if median is not None:
                ahead = row.psnr - median.psnr
                line += f"; {ahead:+.2f} dB against median3 (target: above it: {'met' if ahead > 0 else 'NOT met'})"
            lines.append(line + ".")
        else:
            losing = sorted((name, noisy.per_image[name][0] - score[0]) for name, score in row.per_image.items()
                            if name in noisy.per_image and noisy.per_image[name][0] - score[0] > NEARLY_CLEAN_LOSS)
            named = ", ".join(f"{name} {loss:.2f}" for name, loss in losing[:5]) + (", ..." if len(losing) > 5 else "")
            lines.append(f"{where}: {len(losing)} of {len(row.per_image)} pictures lose more than {NEARLY_CLEAN_LOSS} dB against their input"
                         + (f" ({named})." if losing else "."))
    return lines


def log_line(row: Row) -> str:
    """A row as one JSON line for the progress log, without its per-image scores."""
    return json.dumps({k: v for k, v in row.__dict__.items() if k != "per_image"})


def per_image_csv(rows: list[Row]) -> str:
    """Every row's per-image scores as CSV: method, set, scenario, variant, image, psnr, ssim."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("method", "set", "scenario", "variant", "image", "psnr", "ssim"))
    for r in rows:
        writer.writerows((r.method, r.set, r.scenario, r.variant, name, *scores) for name, scores in r.per_image.items())
    return text.getvalue()


def scores_for_metadata(rows: list[Row], method: str) -> dict:
    """A model's rows as description scores: {"bsd68/gauss25/float": {...}}."""
    return {
        f"{r.set}/{r.scenario}/{r.variant}": {"dataset": f"{r.set} {r.scenario} {r.variant}", "denoised": {"psnr": r.psnr, "ssim": r.ssim}, "megapixels_per_second": r.megapixels_per_second}
        for r in rows if r.method == method
    }


def load_rows(paths: list[Path]) -> list[Row]:
    """Rows saved by earlier runs (--out), e.g. the parts of a benchmark run in parallel."""
    rows = []
    for path in paths:
        try:
            rows += [Row(**row) for row in json.loads(Path(path).read_text())]
        except OSError as exc:
            raise DenoiseError(f"{path}: cannot read ({exc.strerror or exc}).") from None
        except (ValueError, TypeError):
            raise DenoiseError(f"{path}: not a rows file written by `denoise-train bench --out`.") from None
    return rows


def set_threads() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    try:
        import torch

        torch.set_num_threads(THREADS)
    except ImportError:
        pass


def benchmark(
    data_dir: Path | None, sets: list[str], scenarios: list[str], variants: list[str], baselines: list[str],
    models: list[str], limit: int | None, log=print, sigma_given: bool = True, strength: float | None = None,
    pairs: Path | None = None, enlarge_by: float = 1.0, camera_photo: bool = False, ensemble: bool = False,
    fixed_sigma: float | None = None,
) -> list[Row]:
    """Every method on every set, scenario and variant, each set's pictures enlarged by
    `enlarge_by` (the set is then named e.g. "bsd68 x2.5"); with `pairs`, on that folder of real
    photos instead (scenarios "real" and "reference"; data_dir, sets, scenarios and variants
    unused). `camera_photo`: our models take every test picture for a camera's own photo;
    `ensemble`: they average over flips (`denoise --ensemble`). `fixed_sigma`: every method that
    takes a level is given that one (0-255), in place of the estimate or the protocol's: on real
    photos, it tells a model that falls short by its reading from one that falls short itself."""
    check_baselines(baselines)
    if pairs is None:
        check_scenarios(scenarios, variants)
    set_threads()
    methods: list[tuple[str, Method, str | None]] = []
    for b in baselines:
        if fixed_sigma is not None and b in LEVEL_BASELINES:
            methods.append((f"{b} (sigma {fixed_sigma:g})", lambda noisy, sigma, method=BASELINES[b]: method(noisy, fixed_sigma), None))
        else:
            methods.append((b, BASELINES[b], None))
    for model in models:
        for give_sigma in (False, True) if sigma_given and fixed_sigma is None else (False,):
            name, run, kind = model_method(model, give_sigma, strength, camera_photo, ensemble, fixed_sigma)
            methods.append((name, run, kind))
            if f"({BLIND}" not in name:
                break  # a model without a noise-level input has one row only
    rows = []
    if pairs is not None:
        photos = load_pairs(pairs, limit)
        hinted = sum(c is not None for c in photos.shot_cameras)
        log(f"{hinted} of {len(photos.shots)} noisy shots are a camera's own unresized photos by their EXIF: models with a camera strength use it there, as `denoise` does")
        for scenario, inputs, cameras in (("real", photos.shots, photos.shot_cameras), ("reference", photos.references, photos.reference_cameras)):
            for name, method, kind in methods:
                if applies(name, kind, scenario):
                    rows.append(run_method(name, method, photos.references, pairs.name, scenario, PAIR_VARIANT, inputs, None if kind is None else cameras, photos.names))
                    log(log_line(rows[-1]))
        return rows
    for set_name in sets:
        paths = set_paths(data_dir, set_name, limit)
        clean, names = [read_gray(p) for p in paths], [p.name for p in paths]
        if enlarge_by != 1:
            clean, set_name = [enlarge(c, enlarge_by) for c in clean], f"{set_name} x{enlarge_by:g}"
        for scenario in scenarios:
            for variant in variants:
                if scenario.startswith(("sp", "camera", "clean")) and variant == "float":
                    continue  # the variants coincide for impulse and camera noise: recorded as png8
                for name, method, kind in methods:
                    if not applies(name, kind, scenario):
                        continue
                    row = run_method(name, method, clean, set_name, scenario, variant, names=names)
                    rows.append(row)
                    log(log_line(row))
    return rows
