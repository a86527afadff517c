"""The training loop: data, noise on the fly, Adam, a checkpoint every epoch (resumable), and at
the end the ONNX export, the figures and a metrics JSON next to the model.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from denoise_cli.atomic import check_folder_writable, write_atomically
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.estimate import estimate_noise_levels_batch
from denoise_cli.noise import apply_noise, draw_levels
from denoise_cli.train import degrade  # noqa: F401  (registers the 'camera' noise kind)
from denoise_cli.train import data as datasets
from denoise_cli.train.export import export_onnx, measure_receptive_field
from denoise_cli.train.figures import plot_losses, plot_samples
from denoise_cli.train.networks import build_network, count_macs, count_parameters, fold_batch_norm, level_channels
from denoise_cli.train.recipes import Recipe
from denoise_cli.train.scoring import mean_scores

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Data:
    """Clean splits (N, 1, H, W) in [0, 1] and the fixed noisy versions of validation and test.

    Array datasets (MNIST, CIFAR) train on `train`; image folders train on random patches of
    `train_images`. `*_levels` are the per-image noise levels for networks with a level input.
    """

    train: datasets.Split | None
    train_images: list[np.ndarray] | None
    val: datasets.Split
    test: datasets.Split
    train_noisy: np.ndarray | None  # only for the "fixed" noise schedule
    val_noisy: np.ndarray
    test_noisy: np.ndarray
    val_levels: np.ndarray | None = None
    test_levels: np.ndarray | None = None


@dataclass(frozen=True)
class RunResult:
    onnx_path: Path
    metrics_path: Path
    metrics: dict


def make_noisy(recipe: Recipe, clean: np.ndarray, rng: np.random.Generator, with_levels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Noisy images, and per-image levels when the network takes a noise level (Gaussian std)."""
    if not with_levels:
        return apply_noise(clean, recipe.noise, rng), None
    if recipe.level_input == "estimated":  # what the model will be given at inference
        noisy = apply_noise(clean, recipe.noise, rng)
        return noisy, estimate_noise_levels_batch(noisy, recipe.level_readings)
    levels = draw_levels(recipe.noise["std"], rng, len(clean))
    return apply_noise(clean, {**recipe.noise, "std": levels}, rng), levels


def clean_patch_readings(recipe: Recipe, data: Data, count: int = 1600) -> list[float]:
    """The median readings of `count` clean training patches (seeded): the level floor of a
    recipe with `level_floor` (description.py says why), measured on its own training data."""
    rng = np.random.default_rng([recipe.seed, 4])
    if data.train_images is not None:
        clean = datasets.random_patches(data.train_images, count, recipe.patch_size, rng)
    else:
        clean = data.train.images[rng.permutation(len(data.train.images))[:count]]
    readings = estimate_noise_levels_batch(clean, recipe.level_readings)[:, :, 0, 0]
    return [round(float(v), 6) for v in np.median(readings, axis=0)]


def load_data(recipe: Recipe, data_dir: Path, with_levels: bool = False) -> Data:
    train_images = None
    if recipe.enlarged_share and not recipe.data.startswith("folder:"):
        raise DenoiseError(f"recipe {recipe.name} trains on {recipe.data}, not on a folder of pictures: enlarged copies (--enlarged-share) apply to image-folder recipes only.")
    if recipe.data == "mnist":
        train, test = datasets.load_mnist(data_dir, "train"), datasets.load_mnist(data_dir, "test")
    elif recipe.data == "cifar10-gray":
        train, test = datasets.load_cifar10_gray(data_dir, "train"), datasets.load_cifar10_gray(data_dir, "test")
    elif recipe.data.startswith("folder:"):
        images = datasets.load_folder(data_dir / recipe.data.split(":", 1)[1], min_side=recipe.patch_size)
        holdout = recipe.holdout_images
        if len(images) <= holdout:
            raise DenoiseError(f"recipe {recipe.name}: the image folder needs more than {holdout} images.")
        train, train_images = None, images[:-holdout]
        if recipe.enlarged_share:
            train_images = datasets.with_enlarged_copies(train_images, recipe.enlarged_share, recipe.enlarged_factors, np.random.default_rng([recipe.seed, 5]))
        test = _stack_crops(images[-holdout:])
    else:
        raise DenoiseError(f"recipe {recipe.name}: unknown data {recipe.data!r}.")
    val = test
    if recipe.validation.startswith("split:") and train is not None:
        fraction = float(recipe.validation.split(":", 1)[1])
        order = np.random.default_rng(recipe.seed).permutation(len(train.images))
        n_val = int(round(len(order) * fraction))
        train, val = train.take(np.sort(order[n_val:])), train.take(np.sort(order[:n_val]))
    train_noisy = None
    if recipe.noise_schedule == "fixed" and train is not None:
        train_noisy, _ = make_noisy(recipe, train.images, np.random.default_rng([recipe.seed, 1]), False)
    val_noisy, val_levels = make_noisy(recipe, val.images, np.random.default_rng([recipe.seed, 2]), with_levels)
    if val is test:
        test_noisy, test_levels = val_noisy, val_levels
    else:
        test_noisy, test_levels = make_noisy(recipe, test.images, np.random.default_rng([recipe.seed, 3]), with_levels)
    return Data(train, train_images, val, test, train_noisy, val_noisy, test_noisy, val_levels, test_levels)


def _stack_crops(images: list[np.ndarray]) -> datasets.Split:
    """Held-out images, cropped to a common size (the smallest), as one validation split."""
    h = min(i.shape[0] for i in images) // 2 * 2
    w = min(i.shape[1] for i in images) // 2 * 2
    return datasets.Split(np.stack([i[:h, :w] for i in images])[:, None])


class Denoising(nn.Module):
    """Wraps a network with the recipe's input scaling and residual convention, so that loss,
    evaluation and figures all see [0, 1] images: forward(noisy) -> clean estimate."""

    def __init__(self, net: nn.Module, recipe: Recipe):
        super().__init__()
        self.net, self.scale, self.offset, self.residual = net, recipe.input_scale, recipe.input_offset, recipe.predicts == "noise"

    def forward(self, noisy: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        x = noisy * self.scale + self.offset
        out = self.net(x) if levels is None else self.net(x, levels)
        if self.residual:
            out = x - out
        return (out - self.offset) / self.scale


LOSS_NAMES = {"mse": "mean squared error", "bce": "binary cross-entropy"}


def loss_fn(recipe: Recipe, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if recipe.loss == "bce":
        return nn.functional.binary_cross_entropy(estimate.clamp(1e-7, 1 - 1e-7), target)
    # MSE in the network's own value space, as the write-ups compute it
    return nn.functional.mse_loss(estimate * recipe.input_scale, target * recipe.input_scale)


def evaluate(model: Denoising, noisy: np.ndarray, levels: np.ndarray | None = None, batch_size: int = 250) -> np.ndarray:
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(noisy), batch_size):
            chunk = slice(start, start + batch_size)
            lv = None if levels is None else torch.from_numpy(levels[chunk])
            outs.append(model(torch.from_numpy(noisy[chunk]), lv).numpy())
    return np.concatenate(outs)


def _save_checkpoint(path: Path, state: dict) -> None:
    """Written whole or not at all, from memory: torch.save straight into a file on a full disk
    raises a RuntimeError that hides the OSError, and leaves the partial file behind."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomically(path, lambda f: f.write(buffer.getbuffer()), overwrite=True)


def _run_held(checkpoint: Path, recipe: Recipe) -> str:
    """What a checkpoint holds, in words: "epoch 57 of an earlier run of photo", or "an earlier
    run" where it cannot say (damaged, or another recipe's)."""
    try:
        return f"epoch {read_checkpoint(checkpoint, recipe)['epoch']} of an earlier run of {recipe.name}"
    except DenoiseError:
        return "an earlier run"


def read_checkpoint(path: Path, recipe: Recipe) -> dict:
    """The checkpoint's contents, or one sentence on why they cannot be resumed: a file damaged
    (a full disk, a copy cut short) or not written by this loop would otherwise end the run in a
    pickle traceback."""
    try:
        state = torch.load(path, weights_only=False)
        keys = {"recipe", "model", "optimizer", "epoch", "history"}
        if not isinstance(state, dict) or not keys <= state.keys():
            raise ValueError("not a denoise-train checkpoint")
        name = state["recipe"]["name"]
    except Exception:  # torch.load raises whatever unpickling or unzipping hit, none of it telling
        raise DenoiseError(f"{path} is not a checkpoint denoise-train can read (damaged, cut short, or "
                           "another program's); remove it to start again, or train without --resume.") from None
    if name != recipe.name:
        raise DenoiseError(f"{path} belongs to recipe {name}, not {recipe.name}.")
    return state


def train(
    recipe: Recipe,
    data_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    threads: int | None = None,
    show_progress: bool = True,
    log=print,
) -> RunResult:
    """Train `recipe`, export `<out_dir>/<recipe>.onnx` with figures and metrics; returns paths."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(recipe.seed)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DenoiseError(f"{out}: cannot create the run's folder ({exc.strerror or exc}).") from None
    check_folder_writable(out / CHECKPOINT, overwrite=True)  # a read-only or full disk: refused before an epoch, not after it
    checkpoint = out / CHECKPOINT
    if not resume and checkpoint.exists():  # the command from shell history, --resume forgotten: hours of training
        raise DenoiseError(f"{checkpoint} holds {_run_held(checkpoint, recipe)}: --resume goes on from it; "
                           "remove it, or give another --out, to train from the first epoch.")
    net = build_network(recipe.network, recipe.network_args, recipe.init)
    with_levels = level_channels(net) > 0
    if with_levels and level_channels(net) != len(recipe.level_readings):
        raise DenoiseError(f"recipe {recipe.name}: the network takes {level_channels(net)} noise levels, level_readings names {len(recipe.level_readings)}.")
    if recipe.loss not in LOSS_NAMES:
        raise DenoiseError(f"recipe {recipe.name}: unknown loss {recipe.loss!r} (known: {', '.join(LOSS_NAMES)}).")
    data = load_data(recipe, datasets.resolve_data_dir(data_dir), with_levels)
    model = Denoising(net, recipe)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    history: list[dict] = []
    start_epoch, folded = 1, False
    if resume and not checkpoint.exists():
        log(f"no checkpoint at {checkpoint} yet: training {recipe.name} from the first epoch")
    elif resume:
        state = read_checkpoint(checkpoint, recipe)
        folded = state.get("folded", False)
        if folded:  # the checkpoint holds the folded network and its optimizer
            model, optimizer = _folded(model, recipe)
        try:
            model.net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError):  # torch's own message lists every tensor
            raise DenoiseError(f"{checkpoint} holds a different network from recipe {recipe.name}'s as given now; "
                               "resume with the options it was trained with, or train without --resume.") from None
        history, start_epoch = state["history"], state["epoch"] + 1
        log(f"resuming {recipe.name} after epoch {state['epoch']}")

    for epoch in range(start_epoch, recipe.epochs + recipe.folded_epochs + 1):
        if epoch > recipe.epochs and not folded:
            _recalibrate(model, recipe, data, with_levels, log)
            model, optimizer = _folded(model, recipe)
            folded = True
        started = time.time()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, epoch)
        train_loss = _train_epoch(model, optimizer, recipe, data, epoch, show_progress, with_levels)
        record = {"epoch": epoch, "train_loss": train_loss, **_validate(model, recipe, data), "seconds": round(time.time() - started, 1)}
        history.append(record)
        log(json.dumps(record))
        _save_checkpoint(checkpoint, {"recipe": recipe.to_dict(), "model": model.net.state_dict(), "optimizer": optimizer.state_dict(),
                                      "epoch": epoch, "history": history, "folded": folded})
    if not folded:
        _recalibrate(model, recipe, data, with_levels, log)
    return _finish(model, recipe, data, history, out, log)


def _recalibrate(model: Denoising, recipe: Recipe, data: Data, with_levels: bool, log) -> None:
    if recipe.batch_norm_recalibration:
        recalibrate_batch_norm(model, recipe, data, with_levels)
        log(f"batch-norm statistics recomputed over {recipe.batch_norm_recalibration} batches")


def _folded(model: Denoising, recipe: Recipe) -> tuple[Denoising, torch.optim.Adam]:
    """The model with its batch norms folded into the convolutions, and a fresh Adam for it.

    Why train on after folding: a blind model's batches mix clean, faint and strong noise, and
    batch norm trains the network on each batch's own statistics, while the exported model runs
    on fixed ones. Training the folded network trains the function that ships (the `photo`
    recipe has what 10 such epochs gained).
    """
    folded = Denoising(fold_batch_norm(model.net), recipe)
    return folded, torch.optim.Adam(folded.parameters(), lr=recipe.folded_lr)


def recalibrate_batch_norm(model: Denoising, recipe: Recipe, data: Data, with_levels: bool) -> None:
    """Batch-norm statistics averaged over `recipe.batch_norm_recalibration` fresh training
    batches with the final weights, replacing the running averages that training keeps: those
    follow the last few dozen batches, and for a blind model their mix of noise levels. While
    the learning rate is high that costs a lot (on 20 BSD68 images, `gaussian` at epoch 54 of
    170: 30.62 / 28.08 / 24.53 dB at sigma 15 / 25 / 50, recomputed 31.18 / 28.69 / 25.23); at
    the end of its cosine schedule nothing measurable (31.53 / 29.06 / 26.01 either way). It
    makes the exported statistics independent of where training stopped. The batches
    are seeded apart from every training epoch (epoch 0): a resumed run recomputes the same."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all the batches
    model.train()
    with torch.no_grad():
        for clean, noisy, levels in itertools.islice(_batches(recipe, data, 0, with_levels), recipe.batch_norm_recalibration):
            model(torch.from_numpy(noisy), None if levels is None else torch.from_numpy(levels))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """Constant (the write-ups), or cosine from lr down to lr/100 over the epochs; the folded
    epochs after them run a cosine of their own from folded_lr."""
    if epoch > recipe.epochs:
        return _cosine(recipe.folded_lr, epoch - recipe.epochs, recipe.folded_epochs)
    if recipe.lr_schedule == "cosine":
        return _cosine(recipe.lr, epoch, recipe.epochs)
    return recipe.lr


def _cosine(lr: float, epoch: int, epochs: int) -> float:
    progress = (epoch - 1) / max(1, epochs - 1)
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def _batches(recipe: Recipe, data: Data, epoch: int, with_levels: bool):
    """(clean, noisy, levels) numpy batches of one epoch, reproducible from (seed, epoch)."""
    rng = np.random.default_rng([recipe.seed, 100, epoch])
    if data.train_images is not None:
        for _ in range(recipe.steps_per_epoch):
            clean = datasets.random_patches(data.train_images, recipe.batch_size, recipe.patch_size, rng)
            yield (clean, *make_noisy(recipe, clean, rng, with_levels))
        return
    order = rng.permutation(len(data.train.images))
    for b, start in enumerate(range(0, len(order), recipe.batch_size)):
        index = order[start : start + recipe.batch_size]
        clean = data.train.images[index]
        if data.train_noisy is not None:
            yield clean, data.train_noisy[index], None
        else:
            yield (clean, *make_noisy(recipe, clean, np.random.default_rng([recipe.seed, epoch, b]), with_levels))


def _train_epoch(model: Denoising, optimizer, recipe: Recipe, data: Data, epoch: int, show_progress: bool, with_levels: bool) -> float:
    model.train()
    steps = recipe.steps_per_epoch if data.train_images is not None else math.ceil(len(data.train.images) / recipe.batch_size)
    total, count = 0.0, 0
    with _progress(show_progress, f"epoch {epoch}/{recipe.epochs + recipe.folded_epochs}", steps) as advance:
        for clean, noisy, levels in _batches(recipe, data, epoch, with_levels):
            estimate = model(torch.from_numpy(noisy), None if levels is None else torch.from_numpy(levels))
            loss = loss_fn(recipe, estimate, torch.from_numpy(clean))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(clean)
            count += len(clean)
            advance(f"loss {total / count:.5f}")
    return round(total / count, 6)


def _validate(model: Denoising, recipe: Recipe, data: Data) -> dict:
    estimate = torch.from_numpy(evaluate(model, data.val_noisy, data.val_levels))
    figures = {"val_loss": round(loss_fn(recipe, estimate, torch.from_numpy(data.val.images)).item(), 6)}
    if recipe.reported.get("metric", "").endswith("against the NOISY image"):
        figures["val_loss_noisy_target"] = round(loss_fn(recipe, estimate, torch.from_numpy(data.val_noisy)).item(), 6)
    return figures


class _progress:
    """A rich progress bar with the running loss, or nothing when not on a terminal."""

    def __init__(self, enabled: bool, label: str, total: int):
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self):
        if not self.enabled:
            return lambda text: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"), TimeRemainingColumn(), transient=True)
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total, loss="")
        return lambda text: self.bar.update(task, advance=1, loss=text)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)


def _grid_indices(split: datasets.Split, count: int = 10) -> np.ndarray:
    """One test image per class when labels exist, else the first `count`."""
    if split.labels is None:
        return np.arange(min(count, len(split.images)))
    picks = [np.flatnonzero(split.labels == c)[:1] for c in range(count)]
    picks = np.concatenate(picks)
    return picks if len(picks) else np.arange(min(count, len(split.images)))


def _finish(model: Denoising, recipe: Recipe, data: Data, history: list[dict], out: Path, log) -> RunResult:
    model.eval()
    denoised = evaluate(model, data.test_noisy, data.test_levels)
    scores = {
        "dataset": f"{recipe.data} test split",
        "noisy": mean_scores(data.test.images, data.test_noisy),
        "denoised": mean_scores(data.test.images, denoised),
    }
    floor = clean_patch_readings(recipe, data) if recipe.level_floor else []
    description = describe(model.net, recipe, scores, floor)
    onnx_path = export_onnx(model.net, description, out / f"{recipe.name}.onnx", seed=recipe.seed)

    loss_name = LOSS_NAMES[recipe.loss]
    plot_losses(history, out / "loss_curves.png", f"{recipe.name}: {loss_name} per epoch", loss_name)
    index = _grid_indices(data.test)
    rows = [("original", data.test.images[index, 0]), ("noisy", data.test_noisy[index, 0]), ("denoised", denoised[index, 0])]
    for k, spec in enumerate(recipe.grid_noise):
        noisy = apply_noise(data.test.images[index], spec, np.random.default_rng([recipe.seed, 50 + k]))
        label = f"std {spec.get('std')}"
        levels = None if data.test_levels is None else np.full((len(noisy), len(recipe.level_readings), 1, 1), spec.get("std", 0.0), np.float32)
        rows += [(f"noisy {label}", noisy[:, 0]), (f"denoised {label}", evaluate(model, noisy, levels)[:, 0])]
    plot_samples(rows, out / "samples.png", f"{recipe.name}: test samples")

    metrics = {
        "recipe": recipe.to_dict(),
        "history": history,
        "final": history[-1] if history else {},
        "reported_by_write_up": recipe.reported,
        "test_scores": scores,
        "params": description.params,
        "macs_per_pixel": description.macs_per_pixel,
        "train_seconds": round(sum(h["seconds"] for h in history), 1),
    }
    metrics_path = out / "metrics.json"
    text = json.dumps(metrics, indent=2) + "\n"
    write_atomically(metrics_path, lambda f: f.write(text.encode()), overwrite=True)
    log(f"wrote {onnx_path}, {metrics_path}, loss_curves.png, samples.png")
    return RunResult(onnx_path, metrics_path, metrics)


def describe(net: nn.Module, recipe: Recipe, scores: dict, level_floor: list[float] | None = None) -> ModelDescription:
    fixed = bool(getattr(net, "fixed_size", True))
    multiple = int(getattr(net, "multiple_of", 1))
    side = recipe.patch_size
    example = (torch.zeros(1, 1, side, side),)
    if level_channels(net):
        example += (torch.zeros(1, level_channels(net), 1, 1),)
    net.eval()
    return ModelDescription(
        name=recipe.name,
        summary=recipe.summary,
        noise=recipe.noise,
        patch_size=side,
        fixed_size=fixed,
        tile_size=0 if fixed else recipe.tile_size,
        params=count_parameters(net),
        macs_per_pixel=int(round(count_macs(net, example) / side**2)),
        multiple_of=multiple,
        receptive_field=0 if fixed else measure_receptive_field(net, multiple),
        input_scale=recipe.input_scale,
        input_offset=recipe.input_offset,
        predicts=recipe.predicts,
        noise_level_input=level_channels(net) > 0,
        level_readings=list(recipe.level_readings),
        level_floor=level_floor or [],
        camera_strength=recipe.camera_strength,
        camera_ramp=list(recipe.camera_ramp),
        texture_guard=list(recipe.texture_guard),
        solid_extremes=getattr(net, "solid_extremes", 0),
        recipe=recipe.to_dict(),
        scores={"test": scores},
    )
