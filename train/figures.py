"""The figures the reference write-ups show: loss curves and a grid of original / noisy /
denoised samples. Written with matplotlib's Agg backend, so no screen is needed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from denoise_cli.atomic import write_atomically  # noqa: E402


def plot_losses(history: list[dict], path: Path, title: str, loss_name: str) -> None:
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    if any("val_loss_noisy_target" in h for h in history):
        ax.plot(epochs, [h.get("val_loss_noisy_target") for h in history], "^--", label="validation vs noisy image")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_name)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        write_atomically(path, lambda f: fig.savefig(f, format="png"), overwrite=True)
    finally:
        plt.close(fig)


def plot_samples(rows: list[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """One row per (label, images (N, H, W) in [0, 1])."""
    columns = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 1.1, len(rows) * 1.2 + 0.4), dpi=100, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            ax.imshow(np.clip(images[c], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        write_atomically(path, lambda f: fig.savefig(f, format="png"), overwrite=True)
    finally:
        plt.close(fig)


def before_after_panels(image_path: Path | None, box: tuple[int, int, int, int], scenario: str, models: list[str], seed: int = 0, enlarge: float = 1.0, noisy_path: Path | None = None) -> list:
    """Noisy / each model / clean crops of one image, labelled with each crop's PSNR. The noise
    is the benchmark scenario's, saved as an 8-bit file would hold it; the models denoise the
    whole image through the public API, so the crop shows what a user gets. A model given as
    NAME@S runs at strength S, NAME@camera as on a camera's own unresized photo (as its EXIF
    would); `enlarge` enlarges the image first, as `bench --enlarge` does (the box is then in the
    enlarged image).

    With `noisy_path`, a real noisy shot takes the simulated noise's place and `image_path` is its
    reference (the mean of many shots), both read as `bench --pairs` reads them (8-bit gray), and
    the models see the shot as `denoise` would (a camera's own photo, if its EXIF says so). With no
    reference (`image_path` None) the figure is the shot and the outputs alone, without scores: a
    real photo shows what the models do to real noise even where no mean of many shots exists.

    A classical baseline of `bench` (median3, nlm, bm3d, ...) may stand among the models, given the
    level `bench` gives it: the protocol's sigma, or the estimator's reading of the noisy picture."""
    from denoise_cli.api import Denoiser
    from denoise_cli.errors import DenoiseError
    from denoise_cli.imageio import camera_of, read_gray, read_image
    from denoise_cli.train.bench import BASELINES, STAND_IN_CAMERA, check_baselines, read_pair, scenario_noise, scenario_sigma
    from denoise_cli.train.data import enlarge as enlarged
    from denoise_cli.train.scoring import psnr, quantize
    from denoise_cli.train.svg import Panel

    check_baselines([spec for spec in models if spec in BASELINES])
    camera, clean = None, None
    if noisy_path is not None:
        if enlarge != 1:
            raise DenoiseError("--enlarge simulates a camera's full-size photo; with --noisy the photo is real, so it does not apply.")
        if image_path is None:
            noisy = read_gray(noisy_path)
        else:
            clean, noisy = read_pair(image_path, noisy_path)
            clean = clean.astype(np.float64)
        camera = camera_of(noisy_path)
    elif image_path is None:
        raise DenoiseError("give a clean IMAGE to add noise to, or a real noisy shot with --noisy.")
    else:
        image = read_image(image_path)
        clean = image.scale.to_unit(image.planes[0]).astype(np.float64)
        if enlarge != 1:
            clean = enlarged(clean, enlarge)
    x, y, width, height = box
    shape = (noisy if clean is None else clean).shape
    if min(width, height) < 1 or x < 0 or y < 0 or x + width > shape[1] or y + height > shape[0]:
        raise DenoiseError(f"the box {x},{y},{width},{height} does not fit inside the {shape[1]}x{shape[0]} image.")
    if noisy_path is None:
        noisy = quantize(scenario_noise(clean, scenario, seed, "png8")).astype(np.float32) / 255

    def crop(a: np.ndarray) -> np.ndarray:
        return a[y : y + height, x : x + width]

    def labelled(name: str, output: np.ndarray) -> Panel:
        if clean is None:
            return Panel(name, crop(output))
        return Panel(f"{name} {psnr(quantize(crop(clean)), quantize(crop(output))):.1f} dB", crop(output))

    def run(spec: str) -> Panel:
        if spec in BASELINES:
            return labelled(spec, BASELINES[spec](noisy, scenario_sigma("real" if noisy_path else scenario, noisy)))
        name, _, strength = spec.partition("@")
        if strength == "camera":
            return labelled(f"{name} (camera photo)", Denoiser(name).denoise(noisy, camera=STAND_IN_CAMERA))
        try:
            value = float(strength) if strength else None
        except ValueError:
            raise DenoiseError(f"{spec!r}: expected a model, MODEL@STRENGTH with a number after the @, or MODEL@camera.") from None
        label = name if value is None else f"{name} (strength {value:g})"
        return labelled(label, Denoiser(name, strength=value).denoise(noisy, camera=camera))

    panels = [labelled("noisy (real)" if noisy_path else f"noisy ({scenario})", noisy), *(run(spec) for spec in models)]
    if clean is None:
        return panels
    return [*panels, Panel("reference" if noisy_path else "clean", crop(clean))]
