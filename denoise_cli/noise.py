"""Noise models, one implementation each, shared by training (noise on the fly) and the API.

Every function takes a float image batch in [0, 1] (any shape) and a `numpy.random.Generator`,
and returns a new float32 array; nothing here keeps state, so a seeded generator reproduces the
same noise. A noise *spec* is a plain dict ({"kind": ..., parameters}) that recipes store and
that model descriptions carry, so the noise a model was trained on is written down exactly.

`protocol_noise` is the benchmark protocol (../shared/bench/PROTOCOL.md) to the letter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from denoise_cli.errors import DenoiseError

Level = float | tuple[float, float] | list[float] | np.ndarray  # an array: one level per image


def _levels(level: Level, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | float:
    """A fixed level, or one level per image drawn uniformly from a [low, high] range.

    The first axis is the batch axis; per-image levels broadcast over the rest.
    """
    if isinstance(level, np.ndarray):
        return level.astype(np.float32, copy=False)
    if isinstance(level, (list, tuple)):
        low, high = level
        per_image = (shape[0],) + (1,) * (len(shape) - 1) if shape else ()
        return rng.uniform(low, high, size=per_image).astype(np.float32)
    return float(level)


def draw_levels(level: Level, rng: np.random.Generator, count: int) -> np.ndarray:
    """One level per image, shape (count, 1, 1, 1): for training with a noise-level input."""
    if isinstance(level, (list, tuple)):
        return rng.uniform(level[0], level[1], size=(count, 1, 1, 1)).astype(np.float32)
    return np.full((count, 1, 1, 1), level, dtype=np.float32)


def gaussian(x: np.ndarray, rng: np.random.Generator, std: Level, mean: float = 0.0, clip: bool = True,
             png8_fraction: float = 0.0) -> np.ndarray:
    """x + N(mean, std^2); `std` a level or a [low, high] range for blind training.

    `png8_fraction` of the images (drawn per image along the first axis) are then clipped and
    rounded to 8 bits, as a saved file holds them: clipping biases strong noise near black and
    white, and a model that never saw it leaves that bias in users' files.
    """
    std_arr = _levels(std, rng, x.shape)
    noisy = _finish(x + (rng.standard_normal(x.shape, dtype=np.float32) * std_arr + mean), clip)
    if png8_fraction > 0:
        chosen = rng.random(x.shape[0]) < png8_fraction
        noisy[chosen] = np.round(np.clip(noisy[chosen], 0.0, 1.0) * 255) / 255
    return noisy


def salt_and_pepper(x: np.ndarray, rng: np.random.Generator, density: Level, salt_fraction: float = 0.5) -> np.ndarray:
    """A fraction `density` of the pixels set to 0 or 1 (salt with probability `salt_fraction`)."""
    d = _levels(density, rng, x.shape)
    u = rng.random(x.shape, dtype=np.float32)
    noisy = np.array(x, dtype=np.float32, copy=True)
    noisy[u < d * (1.0 - salt_fraction)] = 0.0
    noisy[(u >= d * (1.0 - salt_fraction)) & (u < d)] = 1.0
    return noisy


def rounded_uniform_salt_and_pepper(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recipe R4's process: r = round(U(0,1), 1); r > 0.8 -> salt, r == 0.8 -> pepper.

    In effect 15% salt and 10% pepper (r rounds to 0.9 or 1.0 with probability 0.15, to 0.8
    with probability 0.1).
    """
    r = np.round(rng.random(x.shape), 1)
    noisy = np.array(x, dtype=np.float32, copy=True)
    noisy[r > 0.8] = 1.0
    noisy[r == 0.8] = 0.0
    return noisy


def poisson(x: np.ndarray, rng: np.random.Generator, peak: Level, clip: bool = True) -> np.ndarray:
    """Photon shot noise: counts ~ Poisson(x * peak), image = counts / peak."""
    p = _levels(peak, rng, x.shape)
    noisy = rng.poisson(np.clip(x, 0, None) * p).astype(np.float32) / p
    return _finish(noisy, clip)


def speckle(x: np.ndarray, rng: np.random.Generator, std: Level, clip: bool = True) -> np.ndarray:
    """Multiplicative noise: x * (1 + N(0, std^2))."""
    std_arr = _levels(std, rng, x.shape)
    noisy = x * (1.0 + rng.standard_normal(x.shape, dtype=np.float32) * std_arr)
    return _finish(noisy, clip)


def _finish(noisy: np.ndarray, clip: bool) -> np.ndarray:
    noisy = noisy.astype(np.float32, copy=False)
    return np.clip(noisy, 0.0, 1.0, out=noisy) if clip else noisy


NOISE_KINDS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian,
    "salt-and-pepper": salt_and_pepper,
    "rounded-uniform-salt-and-pepper": rounded_uniform_salt_and_pepper,
    "poisson": poisson,
    "speckle": speckle,
}


def register_noise(kind: str, function: Callable[..., np.ndarray]) -> None:
    """Add a noise kind (the training extra adds its camera pipeline this way)."""
    NOISE_KINDS[kind] = function


def apply_noise(x: np.ndarray, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Apply the noise a spec dict describes, e.g. {"kind": "gaussian", "std": 0.1}."""
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in NOISE_KINDS:
        raise DenoiseError(f"unknown noise kind {kind!r}; known: {', '.join(NOISE_KINDS)}.")
    try:
        return NOISE_KINDS[kind](x, rng, **params)
    except TypeError as exc:
        raise DenoiseError(f"bad parameters for {kind} noise: {exc}.") from None


# --- the benchmark protocol (../shared/bench/PROTOCOL.md) ------------------------------------


PROTOCOL_VARIANTS = ("float", "png8")  # unclipped Gaussian noise, or what a saved 8-bit file holds


def protocol_scenario(scenario: str) -> tuple[str, int]:
    """("gauss", 25) for 'gauss25', ("sp", 10) for 'sp10'; a DenoiseError for any other name."""
    kind = scenario.rstrip("0123456789")
    level = scenario[len(kind):]
    if kind not in ("gauss", "sp") or not level:
        raise DenoiseError(f"unknown benchmark scenario {scenario!r} (expected gaussS or spNN, e.g. gauss25 or sp10).")
    return kind, int(level)


def check_protocol_variant(variant: str) -> None:
    if variant not in PROTOCOL_VARIANTS:
        raise DenoiseError(f"unknown benchmark variant {variant!r} (expected {' or '.join(PROTOCOL_VARIANTS)}).")


def protocol_noise(clean: np.ndarray, scenario: str, index: int, variant: str = "float") -> np.ndarray:
    """Noisy version of clean image number `index` of a set, for scenario 'gaussS' or 'spNN'.

    `clean` is float32 in [0, 1]; `variant` "float" keeps Gaussian noise unclipped, "png8" rounds
    it to what a saved 8-bit file holds. Salt-and-pepper is the same in both variants.
    """
    kind, level = protocol_scenario(scenario)
    check_protocol_variant(variant)
    if kind == "gauss":
        s = level
        rng = np.random.default_rng(10000 * s + index)
        noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(s / 255)
        if variant == "png8":
            noisy = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8).astype(np.float32) / 255
        return noisy.astype(np.float32)
    d = level / 100
    rng = np.random.default_rng(20000 + round(d * 1000) + 1000003 * index)
    u = rng.random(clean.shape)
    noisy = clean.copy()
    noisy[u < d / 2] = 0
    noisy[(u >= d / 2) & (u < d)] = 1
    return noisy.astype(np.float32)


def protocol_sigma(scenario: str) -> float:
    """The noise level (0-255 scale) a method that needs one is given for a scenario."""
    kind, level = protocol_scenario(scenario)
    return float(level) if kind == "gauss" else 255 * math.sqrt(level / 100 / 3)
