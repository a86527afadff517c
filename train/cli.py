"""`denoise-train`: train a recipe, list recipes. A thin layer over `loop.train`."""

from __future__ import annotations

import json
import re
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from denoise_cli.cli_default import group_with_default
from denoise_cli.entry import tolerate_unprintable_names
from denoise_cli.errors import DenoiseError

app = typer.Typer(
    cls=group_with_default("train"), no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as `denoise`: rich's boxed panels squeeze bench's 20 options into a third of 80 columns
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Train denoise-cli models and export them to ONNX. `denoise-train --recipe NAME` is short for `denoise-train train --recipe NAME`.",
)
err = Console(stderr=True)


@contextmanager
def user_errors():
    """A DenoiseError becomes one line on stderr and exit code 1, as in `denoise`."""
    try:
        yield
    except DenoiseError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)  # one line; "[bench]" is no markup
        raise typer.Exit(1) from None


def _log(line: str) -> None:
    """A progress line on stderr, whole: a row of JSON is not cut at 80 columns in a log file."""
    err.print(line, highlight=False, markup=False, soft_wrap=True)


DataDir = Annotated[Optional[Path], typer.Option("--data-dir", metavar="PATH", help="Folder with mnist/, cifar10/, train400/ ... (default: $DENOISE_DATA_DIR).")]


@app.command("recipes")
def list_recipes() -> None:
    """List the training recipes and their defaults."""
    from denoise_cli.catalog import print_table_or_blocks
    from denoise_cli.train.recipes import RECIPES

    table = Table("recipe", "data", "noise", "loss", "batch", "epochs", "summary")
    table.columns[0].no_wrap = True
    blocks = []
    for r in RECIPES.values():
        noise = ", ".join(f"{k}={v}" for k, v in r.noise.items())
        table.add_row(r.name, r.data, noise, r.loss, str(r.batch_size), str(r.epochs), r.summary)
        blocks.append((r.name, "", [r.summary, f"data {r.data}; noise {noise}", f"{r.loss} loss, batch {r.batch_size}, {r.epochs} epochs"]))
    print_table_or_blocks(table, blocks, "denoise-train --recipe NAME --data-dir DIR trains one")


def _positive(value: Optional[float]) -> Optional[float]:
    """A learning rate of 0 (or below) would run every epoch and learn nothing."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value} is not above 0.")
    return value


@app.command("train")
def train_command(
    recipe: Annotated[str, typer.Option("--recipe", "-r", metavar="NAME", help="Recipe name (see `denoise-train recipes`).")],
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="PATH", help="Output folder; the run goes to OUT/RECIPE/.")] = Path("runs"),
    epochs: Annotated[Optional[int], typer.Option(metavar="N", min=1, help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(metavar="N", min=1, help="Batch size (default: the recipe's).")] = None,
    lr: Annotated[Optional[float], typer.Option(metavar="FLOAT", callback=_positive, help="Adam learning rate (default: the recipe's).")] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", help="Random seed (default: the recipe's).")] = None,
    enlarged_share: Annotated[Optional[float], typer.Option(metavar="FLOAT", min=0, max=0.75, help="Image-folder recipes: this share of the training pictures are enlarged copies, 1.5-3x, as smooth as a camera's own photos (default: the recipe's).")] = None,
    threads: Annotated[Optional[int], typer.Option(metavar="N", min=1, help="Torch threads (default: torch's).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/RECIPE/checkpoint.pt.")] = False,
    progress: Annotated[bool, typer.Option(show_default=False, help="Show a progress bar (default: when on a terminal).")] = sys.stderr.isatty(),
) -> None:
    """Train a recipe; writes a checkpoint every epoch, then the ONNX model, figures and metrics."""
    from denoise_cli.train.loop import train
    from denoise_cli.train.recipes import get_recipe, override

    with user_errors():
        chosen = override(get_recipe(recipe), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, enlarged_share=enlarged_share)
        signal.signal(signal.SIGTERM, _raise_terminated)  # `kill` on a nohup run: said, as a Ctrl-C is
        try:
            result = train(chosen, data_dir, out / chosen.name, resume=resume, threads=threads, show_progress=progress)
        except (KeyboardInterrupt, _Terminated) as stop:
            word, code = ("terminated", 143) if isinstance(stop, _Terminated) else ("interrupted", 130)
            err.print(f"{word}{_where_to_resume(chosen, out / chosen.name)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
    typer.echo(str(result.onnx_path))


class _Terminated(Exception):
    """SIGTERM, raised where training is, so that it stops as a Ctrl-C does."""


def _raise_terminated(*_) -> None:
    raise _Terminated


def _where_to_resume(recipe, run_dir: Path) -> str:
    """What a stopped run leaves: the epoch the checkpoint holds, and the command that goes on from it."""
    from denoise_cli.train.loop import CHECKPOINT, read_checkpoint

    checkpoint = run_dir / CHECKPOINT
    try:
        epoch = read_checkpoint(checkpoint, recipe)["epoch"]
    except (DenoiseError, OSError):
        return " before the first epoch ended; nothing to resume from."
    return f"; {checkpoint} holds epoch {epoch}: the same command with --resume goes on from there."


@app.command("ship")
def ship_command(
    model: Annotated[Path, typer.Argument(metavar="MODEL", exists=True, dir_okay=False, help="An ONNX model exported by denoise-train.")],
    weights: Annotated[Optional[Path], typer.Option(metavar="PATH", help="The weights folder (default: the one denoise_cli loads from).")] = None,
    alias: Annotated[Optional[list[str]], typer.Option(metavar="TEXT", help="Also register the model under this name (repeatable).")] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the default model of `denoise`.")] = False,
) -> None:
    """Copy a model into weights/ and record its sha256 in weights/manifest.json."""
    from denoise_cli.registry import weights_dir
    from denoise_cli.train.ship import ship

    with user_errors():
        ship(model, weights or weights_dir(), alias or [], default)


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


@app.command("restate")
def restate_command(
    model: Annotated[Path, typer.Argument(metavar="MODEL", exists=True, dir_okay=False, help="An ONNX model exported by denoise-train (rewritten in place).")],
    recipe: Annotated[str, typer.Option(metavar="NAME", help="The recipe that trained it.")],
) -> None:
    """Give a trained model its recipe's camera strength, camera ramp and texture guard as the
    recipe now stands, weights untouched (`--resume` does it to a finished run's export); then
    score and ship it."""
    from denoise_cli.train.export import restate
    from denoise_cli.train.recipes import get_recipe

    with user_errors():
        restate(model, get_recipe(recipe))
    typer.echo(f"{model}: run settings of the recipe {recipe!r} as it stands; score and ship it again.")


@app.command("bench")
def bench_command(
    data_dir: DataDir = None,
    sets: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated test sets.")] = "set12,bsd68",
    scenarios: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated: gaussS, spNN, spjpegNN (spNN saved as a JPEG), cameraXL/L/M/H, clean.")] = "gauss15,gauss25,gauss50,sp10,sp20,sp30",
    variants: Annotated[str, typer.Option(metavar="TEXT", help="float and/or png8.")] = "float,png8",
    baselines: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated: noisy, median3, switching-median, nlm, bm3d.")] = "noisy,median3,switching-median,nlm,bm3d",
    models: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated model names or .onnx paths (default: the models for photos and scans).")] = "photo,gaussian,sp,sp-jpeg",
    limit: Annotated[Optional[int], typer.Option(metavar="N", min=1, help="Only the first N images of each set (BM3D is slow).")] = None,
    out: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Also write the table (.md) and the rows (.json) here, without extension.")] = None,
    per_image: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Also write each image's PSNR and SSIM to this CSV file: which pictures a method helps or hurts.")] = None,
    merge: Annotated[Optional[list[Path]], typer.Option(metavar="PATH", help="Instead of measuring, render the rows of these --out .json files as one table (repeatable).")] = None,
    sigma_given: Annotated[bool, typer.Option(help="Also run noise-level models with the protocol's sigma given (a second row).")] = True,
    strength: Annotated[Optional[float], typer.Option(metavar="FLOAT", min=0, max=4, show_default=False, help="Noise-level models: the factor on their level, as `denoise --strength` (default: automatic, as `denoise`).")] = None,
    sigma: Annotated[Optional[float], typer.Option(metavar="FLOAT", show_default=False, help="A fixed noise level (0-255) for every method that takes one, in place of the estimate or the protocol's: noise-level models (as `denoise --sigma`), nlm and bm3d. On real pairs: does a model fall short by its reading, or by itself?")] = None,
    enlarge: Annotated[float, typer.Option(metavar="FLOAT", min=1, max=8, help="Enlarge each test picture by this factor first (Lanczos), as smooth at the pixel scale as a camera's own photos.")] = 1.0,
    camera_photo: Annotated[bool, typer.Option(help="Noise-level models take each test picture for a camera's own unresized photo, as its EXIF would make `denoise` do (the model's camera strength).")] = False,
    ensemble: Annotated[bool, typer.Option("--ensemble", help="Our models average over the picture and its three flips, as `denoise --ensemble`.")] = False,
    pairs: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Score on real photos instead: a folder (and its sub-folders) of noisy shots NAME_real (or _noisy) beside their references NAME_mean (or _clean, _gt), as the PolyU and Nam et al. sets name them, or NOISY_NAME beside GT_NAME, as SIDD does, or noisy/NAME beside mean/NAME (or clean/, gt/, reference/).")] = None,
) -> None:
    """Score models and classical baselines by ../shared/bench/PROTOCOL.md; print a table."""
    from denoise_cli.atomic import check_folder_writable, write_atomically
    from denoise_cli.train.bench import benchmark, load_rows, per_image_csv, target_lines, to_markdown
    from denoise_cli.train.data import resolve_data_dir

    outputs = [path for path in (per_image, out) if path is not None]
    with user_errors():
        for path in outputs:  # a missing, read-only or full folder found before hours of measuring, not after them
            check_folder_writable(path, overwrite=True)
        rows = load_rows(merge) if merge else benchmark(
            resolve_data_dir(data_dir) if pairs is None else None, _split(sets), _split(scenarios), _split(variants), _split(baselines), _split(models), limit,
            log=_log, sigma_given=sigma_given, strength=strength, pairs=pairs, enlarge_by=enlarge, camera_photo=camera_photo, ensemble=ensemble,
            fixed_sigma=sigma,
        )
        table = to_markdown(rows)
        typer.echo(table)
        for line in target_lines(rows):  # the default model's targets, where these rows can tell
            _log(line)
        written = {per_image: per_image_csv(rows)} if per_image is not None else {}
        if out is not None:
            written |= {out.with_suffix(".md"): table, out.with_suffix(".json"): json.dumps([r.__dict__ for r in rows], indent=2) + "\n"}
        for path, text in written.items():
            write_atomically(path, lambda f, text=text: f.write(text.encode()), overwrite=True)


@app.command("sweep")
def sweep_command(
    data_dir: DataDir = None,
    sets: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated image sets (folders of PNGs under the data directory).")] = "set12,bsd68",
    scenarios: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated: gaussS, cameraXL/L/M/H, clean.")] = "gauss2,cameraL,cameraM,cameraH",
    model: Annotated[str, typer.Option(metavar="TEXT", help="A noise-level model's name or .onnx path.")] = "photo",
    strengths: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated strengths to run each picture at.")] = "0.25,0.4,0.55,0.7,0.85,1,1.2,1.5,2",
    every: Annotated[int, typer.Option(metavar="N", min=1, help="Only every N-th picture of each set (noise seeded by its index in the set).")] = 1,
    enlarge: Annotated[float, typer.Option(metavar="FLOAT", min=1, max=8, help="Enlarge each picture by this factor first, as `bench --enlarge`.")] = 1.0,
    out: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Write one JSON line per picture here (readings, PSNR at each strength).")] = None,
    read: Annotated[Optional[Path], typer.Option("--from", metavar="PATH", help="Instead of measuring, read an earlier --out file.")] = None,
    guard: Annotated[Optional[str], typer.Option(metavar="TEXT", help="A texture guard to evaluate on the sweep: start,cap,low,high,least(,even(,ramp)) (start, cap and ramp on 0-255; even: the uniformity from which it stays off; ramp: how far below start it is phased in); default: the model's own.")] = None,
) -> None:
    """Each picture at a range of fixed strengths, with its noise readings: which pictures the
    automatic strength damages, and what a texture guard gives on them (a table)."""
    from denoise_cli.api import Denoiser
    from denoise_cli.atomic import check_folder_writable, write_atomically
    from denoise_cli.train.data import resolve_data_dir
    from denoise_cli.train.sweep import guard_rows, load_sweep, rescale_guard, sweep, to_markdown

    with user_errors():
        if out is not None:  # before the measuring, not after it
            check_folder_writable(out, overwrite=True)
        pictures = load_sweep(read) if read is not None else None
        if guard is not None:
            try:
                values = [float(v) for v in _split(guard)]
            except ValueError:
                raise DenoiseError(f"--guard {guard!r}: expected numbers start,cap,low,high,least(,even(,ramp)).") from None
        else:
            own = Denoiser(model, device="cpu").description.texture_guard
            values = rescale_guard(own, 255)
        if len(values) not in (5, 6, 7):
            raise DenoiseError("--guard takes five to seven values: start,cap,low,high,least(,even(,ramp)) (the model has no guard of its own).")
        if pictures is None:
            lines: list[str] = []

            def log(line: str) -> None:
                lines.append(line)
                _log(line)

            pictures = sweep(resolve_data_dir(data_dir), _split(sets), _split(scenarios), model, [float(v) for v in _split(strengths)], every, enlarge, log)
            if out is not None:
                write_atomically(out, lambda f: f.write(("\n".join(lines) + "\n").encode()), overwrite=True)
        typer.echo(to_markdown(guard_rows(pictures, values)))


@app.command("score")
def score_command(
    model: Annotated[Path, typer.Argument(metavar="MODEL", exists=True, dir_okay=False, help="An ONNX model exported or described by denoise-train (rewritten in place).")],
    data_dir: DataDir = None,
    sets: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated test sets.")] = "set12,bsd68",
    rows: Annotated[Optional[list[Path]], typer.Option(metavar="PATH", help="Take the model's rows from `bench --out` .json files instead of measuring again (the figures are deterministic; repeatable).")] = None,
) -> None:
    """Measure a model on the benchmark sets (its own noise kind, blind) and write the scores
    into its ONNX metadata; `denoise-train ship` it afterwards."""
    from denoise_cli.atomic import check_folder_writable
    from denoise_cli.train.bench import ALL_SCENARIOS, VARIANTS, benchmark, load_rows, scores_for_metadata
    from denoise_cli.train.data import resolve_data_dir
    from denoise_cli.train.export import rewrite_description

    def blind_rows(name: str) -> list:
        return [r for r in measured if r.method in (name, f"{name} (blind)")]

    with user_errors():
        check_folder_writable(model, overwrite=True)  # the model is rewritten after the measuring: a read-only one is said first
        if rows:
            measured = load_rows(rows)
        else:
            measured = benchmark(resolve_data_dir(data_dir), _split(sets), list(ALL_SCENARIOS), list(VARIANTS), [], [str(model)], None, log=_log)

        def add_scores(description):
            mine = blind_rows(description.name)
            if not mine:
                raise DenoiseError(f"no benchmark rows for {description.name} in {', '.join(map(str, rows))}.")
            return description.with_scores(scores_for_metadata(mine, mine[0].method))

        rewrite_description(model, add_scores)


@app.command("speed")
def speed_command(
    models: Annotated[Optional[str], typer.Option(metavar="TEXT", help="Comma-separated models (default: every shipped model).")] = None,
    threads: Annotated[int, typer.Option(metavar="N", min=1, help="Threads for both runtimes.")] = 2,
    repeats: Annotated[int, typer.Option(metavar="N", min=1, help="Runs per measurement; the best is kept.")] = 2,
) -> None:
    """Megapixels per second on a 2048x2048 image, load time, tiling overhead, ONNX Runtime
    against PyTorch eager, for each model."""
    from denoise_cli.registry import shipped_models
    from denoise_cli.train.speed import measure, to_markdown

    names = _split(models) if models else [m.name for m in shipped_models()]
    rows = []
    for name in names:
        with user_errors():
            rows.append(measure(name, threads, repeats))
        _log(json.dumps(rows[-1].__dict__))
    typer.echo(to_markdown(rows))


@app.command("folder-speed")
def folder_speed_command(
    models: Annotated[Optional[str], typer.Option(metavar="TEXT", help="Comma-separated models (default: the default model and sp).")] = None,
    images: Annotated[int, typer.Option(metavar="N", min=2, help="Images in the folder.")] = 500,
    width: Annotated[int, typer.Option(metavar="N", min=8)] = 320,
    height: Annotated[int, typer.Option(metavar="N", min=8)] = 240,
    threads: Annotated[int, typer.Option(metavar="N", min=1, help="Inference threads.")] = 2,
) -> None:
    """A folder of small images through `denoise FOLDER`'s pipeline against pure inference on
    the same images: images per second and what the file work adds."""
    from denoise_cli.train.speed import folder_markdown, measure_folder

    rows = []
    for name in _split(models) if models else ["default", "sp"]:
        with user_errors():
            rows.append(measure_folder(name, images, width, height, threads))
        _log(json.dumps(rows[-1].__dict__))
    typer.echo(folder_markdown(rows))


@app.command("workers-speed")
def workers_speed_command(
    models: Annotated[Optional[str], typer.Option(metavar="TEXT", help="Comma-separated models (default: the default model).")] = None,
    images: Annotated[int, typer.Option(metavar="N", min=1, help="Pictures, square.")] = 8,
    side: Annotated[int, typer.Option(metavar="N", min=8, help="Their side in pixels.")] = 512,
    workers: Annotated[int, typer.Option(metavar="N", min=2, help="Threads sharing one Denoiser.")] = 2,
    threads: Annotated[int, typer.Option(metavar="N", min=1, help="The cores a call gets by default.")] = 2,
) -> None:
    """Worker threads sharing one Denoiser, as a web service's do: one call after another on
    every core, against the workers at once with threads=1 and with every core each."""
    from denoise_cli.train.speed import measure_workers, workers_markdown

    rows = []
    for name in _split(models) if models else ["default"]:
        with user_errors():
            rows.append(measure_workers(name, images, side, workers, threads))
        _log(json.dumps(rows[-1].__dict__))
    typer.echo(workers_markdown(rows))


@app.command("report")
def report_command(
    data_dir: DataDir = None,
    recipes: Annotated[Optional[str], typer.Option(metavar="TEXT", help="Comma-separated recipes (default: the five reference recipes).")] = None,
) -> None:
    """Re-measure the reproduction table of the reference recipes from the shipped models."""
    from denoise_cli.train.data import resolve_data_dir
    from denoise_cli.train.report import REFERENCE, measure_recipe, to_markdown

    with user_errors():
        root = resolve_data_dir(data_dir)
        rows = []
        for name in _split(recipes) if recipes else REFERENCE:
            rows.append(measure_recipe(name, root))
            _log(json.dumps(rows[-1]))
    typer.echo(to_markdown(rows))


@app.command("make-noisy")
def make_noisy_command(
    image: Annotated[Path, typer.Argument(metavar="IMAGE", help="A clean image (any mode the CLI reads).")],
    out: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="Where to write the noisy image.")],
    scenario: Annotated[str, typer.Option(metavar="TEXT", help="A benchmark scenario: gaussS, spNN, spjpegNN, cameraXL/L/M/H.")] = "cameraM",
    seed: Annotated[int, typer.Option(metavar="N", help="Seeds the noise (the benchmark uses the image's index).")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Add a benchmark scenario's noise to an image, each channel on its own, to try a model on
    a known degradation (a before/after crop for your own photos)."""
    import numpy as np

    from denoise_cli.imageio import read_image, write_image
    from denoise_cli.train.bench import scenario_noise

    with user_errors():
        clean = read_image(image)
        planes = [scenario_noise(clean.scale.to_unit(p), scenario, seed + k, "png8") for k, p in enumerate(clean.planes)]
        write_image(clean.with_planes(np.stack([clean.scale.from_unit(p) for p in planes])), out, overwrite=overwrite)
    typer.echo(out)


@app.command("make-pair")
def make_pair_command(
    shots: Annotated[list[Path], typer.Argument(metavar="SHOTS...", help="Shots of one still scene from a tripod, as the camera wrote them.")],
    out: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="The pair's folder and name: pairs/kitchen writes pairs/kitchen_real.EXT and pairs/kitchen_mean.png.")],
    shot: Annotated[int, typer.Option(metavar="N", min=1, help="Which shot is the noisy one (1: the first given); the others make the mean.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace the pair's files if they exist.")] = False,
) -> None:
    """A real noisy pair from a burst, as real-noise sets are made: one shot as taken (its EXIF
    kept), and the mean of the others as its reference, for `bench --pairs` and `before-after
    --noisy`. Shots that moved are refused."""
    from denoise_cli.train.pairs import make_pair

    with user_errors():
        pair = make_pair(shots, out, shot - 1, overwrite)
    typer.echo(f"{pair.shot}: shot {shot} of {len(shots)}, as taken")
    typer.echo(f"{pair.mean}: the mean of the other {pair.shots_averaged} (16-bit gray)")
    typer.echo(f"noise of the shot: {pair.noise:.2f} grey levels (std, in gray); the mean keeps {pair.mean_noise:.2f} of it")
    if pair.unchecked:
        typer.echo(f"warning: {pair.unchecked} of the shots could not be checked for movement: the scene holds too little detail to align "
                   "them by (a grey card or a bare wall, say), so their mean is taken as it is.", err=True)


@app.command("before-after")
def before_after_command(
    out: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="Where to write the figure (.svg).")],
    image: Annotated[Optional[Path], typer.Argument(metavar="IMAGE", help="A clean image (gray, or its first channel is used); with --noisy, that shot's reference, if there is one.")] = None,
    box: Annotated[str, typer.Option(metavar="TEXT", help="The crop shown: X,Y,WIDTH,HEIGHT in pixels.")] = "0,0,64,64",
    scenario: Annotated[str, typer.Option(metavar="TEXT", help="A benchmark scenario: gaussS, spNN, spjpegNN, cameraXL/L/M/H.")] = "cameraM",
    models: Annotated[str, typer.Option(metavar="TEXT", help="Comma-separated models, one panel each; MODEL@S runs it at strength S, MODEL@camera as on a camera's own unresized photo; bench's baselines (median3, nlm, bm3d, ...) too.")] = "photo",
    seed: Annotated[int, typer.Option(metavar="N", help="Seeds the noise (the benchmark uses the image's index).")] = 0,
    enlarge: Annotated[float, typer.Option(metavar="FLOAT", min=1, help="Enlarge the image by this factor first, as `bench --enlarge` (the box is in the enlarged image).")] = 1.0,
    zoom: Annotated[int, typer.Option(metavar="N", min=1, max=16, help="Screen pixels per image pixel.")] = 4,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    noisy: Annotated[Optional[Path], typer.Option(metavar="PATH", help="A real noisy shot, shown instead of simulated noise; with IMAGE, its reference (as `bench --pairs` takes them), without one, the figure has no scores. Read as 8-bit gray; --scenario and --seed do not apply.")] = None,
) -> None:
    """A before/after figure as SVG text: noisy, each model's output, clean, side by side with
    each crop's PSNR (a real noisy photo without a reference: noisy and outputs, unscored). The
    models see the whole image; only the figure is cropped."""
    from denoise_cli.train.figures import before_after_panels
    from denoise_cli.train.svg import write_panels

    with user_errors():
        try:
            x, y, width, height = (int(v) for v in box.split(","))
        except ValueError:
            raise DenoiseError(f"--box must be X,Y,WIDTH,HEIGHT in whole pixels (got {box!r}).") from None
        panels = before_after_panels(image, (x, y, width, height), scenario, _split(models), seed, enlarge, noisy)
        write_panels(panels, out, zoom, overwrite)
    typer.echo(out)


@app.command("describe")
def describe_command(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="An ONNX model trained elsewhere: (N, 1, H, W) in, the same out; a noise-level model takes (N, 1, 1, 1) too.")],
    out: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="Where to write the described model (.onnx).")],
    noise: Annotated[str, typer.Option(metavar="TEXT", help="The noise it removes: gaussian, salt-and-pepper, camera, ... (shown by denoise models).")],
    noise_param: Annotated[Optional[list[str]], typer.Option("--noise-param", metavar="KEY=VALUE", help="A level of that noise, on the 0-1 scale (std=0.1), or a range (std=0-0.2); repeat for more.")] = None,
    name: Annotated[Optional[str], typer.Option(metavar="TEXT", help="The model's name (default: the output file's stem).")] = None,
    summary: Annotated[Optional[str], typer.Option(metavar="TEXT", help="One line for denoise models.")] = None,
    predicts: Annotated[str, typer.Option(metavar="clean|noise", help="What it outputs: the clean picture, or the noise to subtract (DnCNN).")] = "clean",
    input_scale: Annotated[float, typer.Option(metavar="FLOAT", help="It takes pixel values x scale + offset, pixels on 0-1: 255 for a model of 0-255 values.")] = 1.0,
    input_offset: Annotated[float, typer.Option(metavar="FLOAT", help="See --input-scale: -1 with scale 2 for -1..1.")] = 0.0,
    tile: Annotated[int, typer.Option(metavar="N", min=1, help="The tile side denoise feeds a model that takes any size.")] = 512,
    overwrite: Annotated[bool, typer.Option(help="Replace the output if it exists.")] = False,
) -> None:
    """Describe a model trained elsewhere, so that denoise runs it: its size rules, receptive
    field, parameters and multiply-adds are measured from the graph, the rest is given here."""
    from denoise_cli.train.describe import describe_onnx

    with user_errors():
        if predicts not in ("clean", "noise"):
            raise DenoiseError(f"--predicts must be clean or noise (got {predicts!r}).")
        described = describe_onnx(model, out, name=name or out.stem, noise={"kind": noise, **_noise_params(noise_param or [])},
                                  predicts=predicts, input_scale=input_scale, input_offset=input_offset, tile=tile, summary=summary,
                                  overwrite=overwrite)
    shape = f"{described.patch_size} px patches only" if described.fixed_size else (
        f"any size (sides a multiple of {described.multiple_of}), receptive field {described.receptive_field} px, tiles of {described.tile_size} px")
    typer.echo(f"{out}: {described.name}, {shape}, {described.params:,} parameters, {described.macs_per_pixel:,} multiply-adds per pixel")


def _noise_params(pairs: list[str]) -> dict:
    """--noise-param std=0.1 or std=0-0.2 -> {"std": 0.1} or {"std": [0.0, 0.2]}."""
    params: dict = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            values = [float(v) for v in re.split(r"(?<=[0-9.])-", text)]  # LOW-HIGH; a minus sign or 1e-3 is no range
        except ValueError:
            raise DenoiseError(f"--noise-param takes KEY=VALUE or KEY=LOW-HIGH with numbers (got {pair!r}).") from None
        if not key or len(values) > 2:
            raise DenoiseError(f"--noise-param takes KEY=VALUE or KEY=LOW-HIGH with numbers (got {pair!r}).")
        params[key] = values[0] if len(values) == 1 else values
    return params


@app.command("make-scan")
def make_scan_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Output image (.tif or .png).")],
    width: Annotated[int, typer.Option(metavar="N", min=1)] = 16000,
    height: Annotated[int, typer.Option(metavar="N", min=1)] = 16000,
    bits: Annotated[int, typer.Option(metavar="N", help="8 or 16.")] = 8,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Write a large scan-like test image, for memory and speed measurements."""
    from denoise_cli.train.speed import make_scan

    with user_errors():
        make_scan(out, width, height, bits, overwrite=overwrite)


# what the training extra installs, as imported (scikit-image is `skimage`)
TRAINING_EXTRA = {"torch": "PyTorch", "onnx": "onnx", "matplotlib": "matplotlib", "skimage": "scikit-image"}


def main() -> None:
    tolerate_unprintable_names()
    try:
        app()
    except ModuleNotFoundError as exc:  # `pip install denoise-cli` alone installs the command, not what it trains with
        missing = (exc.name or "").split(".")[0]
        if missing not in TRAINING_EXTRA:
            raise
        advice = (f"{TRAINING_EXTRA[missing]} is not installed, and denoise-train needs the training extra: install the PyTorch build "
                  'you want (pip install torch), then pip install "denoise-cli[train]".')
        err.print(f"[red]error:[/red] {escape(advice)}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
