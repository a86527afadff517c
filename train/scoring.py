"""Scoring as ../shared/bench/PROTOCOL.md defines it: outputs clipped, quantized to 8 bits, then
PSNR and SSIM (scikit-image, Gaussian weights, sigma 1.5) against the 8-bit clean image.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def quantize(image: np.ndarray) -> np.ndarray:
    """round(clip(x, 0, 1) * 255) as uint8, computed in float64."""
    return np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(clean8: np.ndarray, out8: np.ndarray) -> float:
    mse = np.mean((clean8.astype(np.float64) - out8.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(clean8: np.ndarray, out8: np.ndarray) -> float:
    return float(structural_similarity(
        clean8, out8, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    ))


def score(clean: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of one image; `clean` and `output` float in [0, 1], shape (H, W)."""
    clean8, out8 = quantize(clean), quantize(output)
    return psnr(clean8, out8), ssim(clean8, out8)


def image_scores(clean: np.ndarray, outputs: np.ndarray) -> list[tuple[float, float]]:
    """(PSNR, SSIM) of each image of a stack (N, H, W) or (N, 1, H, W)."""
    return [score(c.squeeze(), o.squeeze()) for c, o in zip(clean, outputs)]


def mean_scores(clean: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """Mean PSNR and SSIM over a stack of images (N, H, W) or (N, 1, H, W)."""
    return mean_of(image_scores(clean, outputs))


def mean_of(pairs: list[tuple[float, float]]) -> dict[str, float]:
    """Mean PSNR (over the finite ones: an unchanged clean image scores inf) and mean SSIM."""
    finite = [p for p, _ in pairs if np.isfinite(p)]
    return {"psnr": round(float(np.mean(finite)), 3) if finite else float("inf"),
            "ssim": round(float(np.mean([s for _, s in pairs])), 4)}
