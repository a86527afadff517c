"""Datasets read from a directory the user gives: MNIST (IDX .gz), CIFAR-10 (python tarball or
its extracted folder) and any folder of images (random crops for natural-image training).

Everything returns clean float32 images in [0, 1] shaped (N, 1, H, W); noise is added later, on
the fly. Missing files raise a DenoiseError that names the files and where they come from.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import IMAGE_SUFFIXES, read_gray
from denoise_cli.train.scoring import quantize

DATA_DIR_ENV = "DENOISE_DATA_DIR"

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_TARBALL = "cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = {"train": [f"data_batch_{k}" for k in range(1, 6)], "test": ["test_batch"]}


@dataclass(frozen=True)
class Split:
    """Clean images (N, 1, H, W) float32 in [0, 1], and labels when the dataset has them."""

    images: np.ndarray
    labels: np.ndarray | None = None

    def take(self, index: np.ndarray) -> Split:
        return Split(self.images[index], None if self.labels is None else self.labels[index])


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The --data-dir option, else $DENOISE_DATA_DIR; it must exist."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise DenoiseError(f"no data directory: pass --data-dir DIR or set {DATA_DIR_ENV}.")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        where = "" if data_dir else f" (from ${DATA_DIR_ENV})"  # set long ago, in a shell profile: say where it came from
        raise DenoiseError(f"data directory {path}{where} does not exist.")
    return path


def _first_existing(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.exists()), None)


# --- MNIST -----------------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not): big-endian magic, dimensions, then uint8 values."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DenoiseError(f"{path}: cannot read IDX file ({exc}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DenoiseError(f"{path}: not an unsigned-byte IDX file.")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DenoiseError(f"{path}: truncated IDX file ({data.size} values, header says {dims}).")
    return data.reshape(dims)


def load_mnist(data_dir: Path, split: str) -> Split:
    images_name, labels_name = MNIST_FILES[split]
    folder = _first_existing([data_dir / "mnist", data_dir])
    images_path = _first_existing([folder / images_name, folder / images_name[:-3]]) if folder else None
    labels_path = _first_existing([folder / labels_name, folder / labels_name[:-3]]) if folder else None
    if images_path is None or labels_path is None:
        raise DenoiseError(
            f"MNIST not found in {data_dir}/mnist: expected {images_name} and {labels_name} "
            "(the official IDX files from the MNIST database)."
        )
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise DenoiseError(f"{images_path}: images and labels do not match.")
    return Split((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64))


# --- CIFAR-10 --------------------------------------------------------------------------------


def _cifar_batches(data_dir: Path, names: list[str]) -> list[dict]:
    folder = _first_existing([data_dir / "cifar10" / CIFAR_FOLDER, data_dir / CIFAR_FOLDER])
    if folder is not None:
        return [_unpickle((folder / n).read_bytes(), folder / n) for n in names]
    tarball = _first_existing([data_dir / "cifar10" / CIFAR_TARBALL, data_dir / CIFAR_TARBALL])
    if tarball is None:
        raise DenoiseError(
            f"CIFAR-10 not found in {data_dir}/cifar10: expected {CIFAR_TARBALL} (the official "
            f"'CIFAR-10 python version') or its extracted folder {CIFAR_FOLDER}/."
        )
    with tarfile.open(tarball, "r:gz") as tar:
        out = []
        for n in names:
            member = tar.extractfile(f"{CIFAR_FOLDER}/{n}")
            if member is None:
                raise DenoiseError(f"{tarball}: has no {CIFAR_FOLDER}/{n}.")
            out.append(_unpickle(member.read(), tarball))
        return out


def _unpickle(raw: bytes, source: Path) -> dict:
    try:
        return pickle.loads(raw, encoding="bytes")
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise DenoiseError(f"{source}: not a CIFAR-10 batch ({exc}).") from None


def load_cifar10_rgb(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) and labels."""
    batches = _cifar_batches(data_dir, CIFAR_BATCHES[split])
    data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches]).astype(np.int64)
    return data, labels


def cifar_gray_minmax(rgb: np.ndarray) -> np.ndarray:
    """Recipe R4's preprocessing: channel mean, per-image min-max to [0, 1], 2 decimals."""
    gray = rgb.astype(np.float32).mean(axis=-1)
    low = gray.min(axis=(1, 2), keepdims=True)
    high = gray.max(axis=(1, 2), keepdims=True)
    scaled = (gray - low) / np.maximum(high - low, 1e-8)
    return np.round(scaled, 2).astype(np.float32)


def load_cifar10_gray(data_dir: Path, split: str) -> Split:
    rgb, labels = load_cifar10_rgb(data_dir, split)
    return Split(cifar_gray_minmax(rgb)[:, None], labels)


# --- a folder of images ----------------------------------------------------------------------


KNOWN_FOLDERS = {"train400": "Train400, DnCNN's 400 training pictures (180x180 8-bit gray PNGs)"}  # what a recipe's folder holds


def load_folder(folder: Path, min_side: int = 1) -> list[np.ndarray]:
    """Every image of a folder (sorted by name) as float32 grayscale in [0, 1]; each must have
    sides of at least `min_side`, the training patch it is cropped to."""
    expected = f": expected {KNOWN_FOLDERS[folder.name]}" if folder.name in KNOWN_FOLDERS else ""
    if not folder.is_dir():
        raise DenoiseError(f"image folder {folder} does not exist{expected}.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DenoiseError(f"image folder {folder} holds no images{expected}.")
    images = [read_gray(p) for p in paths]
    small = [(path, image.shape) for path, image in zip(paths, images) if min(image.shape) < min_side]
    if small:
        (path, (height, width)), more = small[0], len(small) - 1
        others = f" (and {more} more image{'s' if more > 1 else ''})" if more else ""
        raise DenoiseError(f"{path} is {width}x{height}{others}, smaller than the {min_side} px patches it would be cropped to: "
                           "remove such images from the folder.")
    return images


def random_patches(images: list[np.ndarray], count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random crops (N, 1, size, size), each flipped/rotated by one of the 8 symmetries."""
    out = np.empty((count, 1, size, size), dtype=np.float32)
    picks = rng.integers(0, len(images), size=count)
    for k, pick in enumerate(picks):
        img = images[pick]
        y = rng.integers(0, img.shape[0] - size + 1)
        x = rng.integers(0, img.shape[1] - size + 1)
        patch = img[y : y + size, x : x + size]
        patch = np.rot90(patch, k=int(rng.integers(4)))
        out[k, 0] = patch[:, ::-1] if rng.integers(2) else patch
    return out


def enlarge(image: np.ndarray, factor: float) -> np.ndarray:
    """The image enlarged (Lanczos) and stored as 8 bits again: a picture as smooth at the pixel
    scale as a camera's own photo, which optics and demosaicing blur over several pixels, where
    the test sets and Train400 were scaled down and hold detail in every pixel."""
    from PIL import Image

    h, w = image.shape
    size = (round(w * factor), round(h * factor))
    large = Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.LANCZOS)
    return quantize(np.asarray(large)) / 255


def with_enlarged_copies(images: list[np.ndarray], share: float, factors: tuple[float, float], rng: np.random.Generator) -> list[np.ndarray]:
    """`images` and enlarged copies of them (each by a factor drawn from `factors`), the copies
    `share` of the whole: training pictures as smooth at the pixel scale as a camera's own
    photos, whose noise readings are the noise's alone (recipes.py: what it gained `photo`)."""
    count = int(round(len(images) * share / (1 - share)))
    return images + [enlarge(images[k % len(images)], rng.uniform(*factors)).astype(np.float32) for k in range(count)]
