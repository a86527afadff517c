"""The reproduction table of the five reference recipes, re-measured from the shipped models.

For each recipe: the write-up's own figure next to ours measured the same way (validation loss
on the same split and noise, from the network's direct output), and PSNR / SSIM of the noisy and
denoised test images through the public API, as a user gets them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from denoise_cli.api import Denoiser
from denoise_cli.noise import apply_noise
from denoise_cli.train.loop import load_data, loss_fn
from denoise_cli.train.recipes import Recipe, get_recipe
from denoise_cli.train.scoring import mean_scores

REFERENCE = ("mnist-conv-strided", "mnist-dense", "mnist-conv-pool", "mnist-conv-bn", "cifar-sp")


def _loss(recipe: Recipe, estimate: np.ndarray, target: np.ndarray) -> float:
    """The training loop's own loss, on numpy arrays."""
    return float(loss_fn(recipe, torch.from_numpy(estimate), torch.from_numpy(target)))


def _direct(denoiser: Denoiser, noisy: np.ndarray) -> np.ndarray:
    """The network on whole (N, 1, side, side) images, as the write-ups evaluate it."""
    return np.concatenate([denoiser.model.infer(noisy[k : k + 500]) for k in range(0, len(noisy), 500)])


def _through_api(denoiser: Denoiser, noisy: np.ndarray) -> np.ndarray:
    return np.stack([denoiser.denoise(image[0])[None] for image in noisy])


def measure_recipe(name: str, data_dir: Path) -> dict:
    recipe = get_recipe(name)
    denoiser = Denoiser(name, device="cpu")
    data = load_data(recipe, data_dir)
    estimate = _direct(denoiser, data.val_noisy)
    row = {
        "recipe": name,
        "reported": recipe.reported,
        "val_loss": round(_loss(recipe, estimate, data.val.images), 5),
        "loss": recipe.loss,
        "epochs": recipe.epochs,
        "test_noisy": mean_scores(data.test.images, data.test_noisy),
        "test_denoised": mean_scores(data.test.images, _through_api(denoiser, data.test_noisy)),
    }
    if recipe.reported.get("metric", "").endswith("against the NOISY image"):
        row["val_loss_noisy_target"] = round(_loss(recipe, estimate, data.val_noisy), 5)
    for k, spec in enumerate(recipe.grid_noise):
        noisy = apply_noise(data.test.images, spec, np.random.default_rng([recipe.seed, 60 + k]))
        row[f"test_denoised_std_{spec['std']}"] = mean_scores(data.test.images, _through_api(denoiser, noisy))
        row[f"test_noisy_std_{spec['std']}"] = mean_scores(data.test.images, noisy)
    return row


def to_markdown(rows: list[dict]) -> str:
    lines = [
        "| recipe | write-up's figure | ours, measured the same way | test PSNR noisy -> denoised (dB) | test SSIM noisy -> denoised |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        reported = r["reported"]
        theirs = f"{reported['metric']}: {reported['val_loss']}" if "val_loss" in reported else reported.get("claim", "no figure")
        ours = f"validation {r['loss'].upper()} {r['val_loss']:.4f} after {r['epochs']} epochs"
        if "val_loss_noisy_target" in r:
            ours += f" (against the clean image; against the noisy image as the write-up measures: {r['val_loss_noisy_target']:.4f})"
        extra = [k for k in r if k.startswith("test_denoised_std_")]
        psnr = f"{r['test_noisy']['psnr']:.2f} -> {r['test_denoised']['psnr']:.2f}"
        ssim = f"{r['test_noisy']['ssim']:.3f} -> {r['test_denoised']['ssim']:.3f}"
        for k in extra:
            std = k.rsplit("_", 1)[1]
            psnr += f"; std {std}: {r[f'test_noisy_std_{std}']['psnr']:.2f} -> {r[k]['psnr']:.2f}"
            ssim += f"; std {std}: {r[f'test_noisy_std_{std}']['ssim']:.3f} -> {r[k]['ssim']:.3f}"
        lines.append(f"| `{r['recipe']}` | {theirs} | {ours} | {psnr} | {ssim} |")
    return "\n".join(lines) + "\n"
