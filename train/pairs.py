"""A real noisy pair from a burst: one shot as taken, and the mean of the others as its reference.

Real-noise sets (PolyU, Nam et al., SIDD) are made this way: many shots of a still scene from a
tripod, one kept as the noisy shot, their mean as the clean picture. `make-pair` does it for a
user's own camera, so `bench --pairs` and `before-after --noisy` can score the models on its real
noise. The shot is copied byte for byte, so its EXIF still tells `bench` what `denoise` would make
of it (a camera's own unresized photo); the shot itself is left out of the mean, so the reference's
noise is independent of the shot's. Shots that moved are refused: their mean is blurred, and every
method would be scored against a blur.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoise_cli.atomic import write_atomically
from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import read_gray, write_image
from denoise_cli.pixels import SIXTEEN_BIT, ImageData

MIN_SHOTS = 3  # the shot and a mean of at least two
ALIGN_SIDE = 1024  # the central square compared for movement (enough to see a shift, quick on 12 MP)
ALIGN_CUTOFF = 0.1  # cycles per pixel: the frequencies that decide the shift lie mostly below it
# The correlation peak's height over the surface's mean, in its standard deviations, below which
# a scene shows nothing to align by. Noise alone (600x900 shots of a flat card, a smooth gradient
# or sinusoid, noise of std 2-25 of 255) peaked at 5.5-8.1, at a random shift; BSD68 pictures
# enlarged 2.25x at 146-298, each at its true shift (of 0-2 px), and still at 30-33 at 3% of their
# contrast under noise of std 8 (at std 25: 7-11, two of three shifts wrong).
ALIGN_MIN_PEAK = 15


@dataclass(frozen=True)
class MadePair:
    shot: Path
    mean: Path
    shots_averaged: int
    noise: float
    """The shot's noise, std on 0-255 of its gray, from its difference to the mean."""
    unchecked: int = 0
    """Shots whose movement could not be told: the scene holds too little detail."""

    @property
    def mean_noise(self) -> float:
        """What the mean keeps of that noise: it averages the other shots' independent noise."""
        return self.noise / np.sqrt(self.shots_averaged)


def offset(a: np.ndarray, b: np.ndarray) -> tuple[int, int] | None:
    """The whole-pixel shift (dy, dx) that moves `b` onto `a`, by phase correlation of their
    central squares: (0, 0) for a still scene; None where the scene has too little detail to
    tell (ALIGN_MIN_PEAK). Hann-windowed, so the borders do not read as an edge, and weighted to
    the coarser frequencies (ALIGN_CUTOFF), where the scene outweighs the noise: whitened in
    full, two noisy shots of a still scene met at a random shift."""
    side_y, side_x = min(ALIGN_SIDE, a.shape[0]), min(ALIGN_SIDE, a.shape[1])
    top, left = (a.shape[0] - side_y) // 2, (a.shape[1] - side_x) // 2
    window = np.outer(np.hanning(side_y), np.hanning(side_x))
    spectra = [np.fft.rfft2((p[top : top + side_y, left : left + side_x] - p.mean()) * window) for p in (a, b)]
    cross = spectra[0] * np.conj(spectra[1])
    fy, fx = np.fft.fftfreq(side_y)[:, None], np.fft.rfftfreq(side_x)[None, :]
    coarse = np.exp(-(fy**2 + fx**2) / (2 * ALIGN_CUTOFF**2))
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-12) * coarse, s=(side_y, side_x))
    if surface.max() - surface.mean() < ALIGN_MIN_PEAK * surface.std():
        return None
    dy, dx = np.unravel_index(int(np.argmax(surface)), surface.shape)
    return (int(dy) - side_y if dy > side_y // 2 else int(dy), int(dx) - side_x if dx > side_x // 2 else int(dx))


def make_pair(shots: list[Path], out: Path, index: int = 0, overwrite: bool = False) -> MadePair:
    """Write OUT_real.EXT (shot `index`, copied) and OUT_mean.png (the other shots' mean, 16-bit
    gray), names `bench --pairs` pairs up. Shots are read as `bench --pairs` reads them (8-bit
    gray); all must be the same size and none may have moved against the chosen one."""
    if len(shots) < MIN_SHOTS:
        raise DenoiseError(f"a pair needs at least {MIN_SHOTS} shots of the scene (the shot and a mean of two or more; ten or more make a clean mean), got {len(shots)}.")
    if not 0 <= index < len(shots):
        raise DenoiseError(f"--shot must be between 1 and {len(shots)} (got {index + 1}).")
    chosen = read_gray(shots[index])
    total = np.zeros(chosen.shape, np.float64)
    unchecked = 0
    for k, path in enumerate(shots):
        if k == index:
            continue
        gray = read_gray(path)
        if gray.shape != chosen.shape:
            raise DenoiseError(f"{path} is {gray.shape[1]}x{gray.shape[0]} and {shots[index]} {chosen.shape[1]}x{chosen.shape[0]}: the shots of a pair must be the same size.")
        shift = offset(chosen, gray)
        unchecked += shift is None
        if shift is not None and shift != (0, 0):
            dy, dx = shift
            moved = " and ".join(f"{abs(v)} px {way}" for v, way in ((dx, "sideways"), (dy, "vertically")) if v)
            raise DenoiseError(f"{path} is moved by {moved} against {shots[index]}: a mean of shots that moved is blurred; "
                               "shoot the scene from a tripod, or leave that shot out.")
        total += gray
    averaged = len(shots) - 1
    mean = total / averaged
    difference = float(np.sqrt(np.mean((chosen - mean) ** 2)) * 255)
    if difference == 0:
        raise DenoiseError("the shot is the same as the mean of the others: these are copies of one picture, not separate shots.")
    shot_path = out.with_name(f"{out.name}_real{shots[index].suffix.lower()}")
    mean_path = out.with_name(f"{out.name}_mean.png")
    for path in (shot_path, mean_path):  # both before either is written: never half a pair
        if path.exists() and not overwrite:
            raise DenoiseError(f"{path} exists already (--overwrite replaces it).")
    out.parent.mkdir(parents=True, exist_ok=True)
    planes = np.round(mean * SIXTEEN_BIT.high).astype(np.uint16)[None]
    write_image(ImageData(planes=planes, mode="I;16", scale=SIXTEEN_BIT), mean_path, overwrite=overwrite)
    source = shots[index].read_bytes()
    write_atomically(shot_path, lambda f: f.write(source), overwrite)
    # The difference holds the shot's noise and the mean's, 1 / averaged of it in variance.
    return MadePair(shot_path, mean_path, averaged, difference / float(np.sqrt(1 + 1 / averaged)), unchecked)
