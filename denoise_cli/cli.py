"""`denoise`: the command line, a thin layer over `denoise_cli.api` and `denoise_cli.jobs`.

`denoise photo.png` is short for `denoise run photo.png`; `denoise models` lists the models.
Only typer is imported at start, so --help and --version answer fast; numpy, onnxruntime and the
models load when an image is processed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from enum import Enum
from typing import Annotated, Optional

import typer

from denoise_cli import formats
from denoise_cli._version import __version__
from denoise_cli.cli_default import group_with_default
from denoise_cli.entry import tolerate_unprintable_names

app = typer.Typer(
    cls=group_with_default("run"),
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich's help formatter alone costs 0.1 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Remove noise from images with small neural networks. `denoise photo.png` is short for `denoise run photo.png`.",
)

EXIT_INTERRUPTED = 130


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Depth(str, Enum):
    eight = "8"
    sixteen = "16"


def _output_format(value: Optional[str]) -> Optional[str]:
    """--format: a format's name, or its extension as file names spell it (`-f jpg`)."""
    if value is None:
        return None
    name = formats.user_name(value)
    if name is None:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(formats.PILLOW_NAMES)} (or an extension: jpg, tif, pgm, ...).")
    return name


def _complete_format(incomplete: str) -> list[str]:
    return [name for name in formats.PILLOW_NAMES if name.startswith(incomplete)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"denoise-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Remove noise from images with small neural networks."""


def complete_model(incomplete: str) -> list[str]:
    """Shell completion of --model: the shipped models' names and aliases (a path completes as the
    shell completes files)."""
    from denoise_cli import registry

    names = {name for entry in registry.shipped_models() for name in (entry.name, *entry.aliases)}
    return sorted(name for name in names if name.startswith(incomplete))


ModelOpt = Annotated[str, typer.Option("--model", "-m", metavar="NAME", envvar="DENOISE_MODEL", autocompletion=complete_model, help="Model name or alias (see `denoise models`), or a path to a .onnx file.")]
DeviceOpt = Annotated[Device, typer.Option(envvar="DENOISE_DEVICE", metavar="auto|cpu|cuda", help="Where to run: auto (CUDA if it works, else CPU), cpu or cuda.")]
ThreadsOpt = Annotated[Optional[int], typer.Option(min=1, metavar="N", envvar="DENOISE_THREADS", help="CPU threads for inference (default: all cores).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]


@app.command("run")
def run(
    ctx: typer.Context,
    inputs: Annotated[list[str], typer.Argument(metavar="INPUT", help="Image files, folders or glob patterns (** for any depth); - reads one image from standard input.", show_default=False)],
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH", help="Output file (one input) or folder; - is standard output. Default: NAME_denoised.EXT beside a file, FOLDER_denoised/ beside a folder, standard output for standard input.")] = None,
    model: ModelOpt = "default",
    device: DeviceOpt = Device.auto,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders (mirrored in the output folder; hidden ones are passed over, as hidden files are).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files (never done otherwise).")] = False,
    suffix: Annotated[str, typer.Option(metavar="TEXT", help="Added to output names when they go beside the input.")] = "_denoised",
    format: Annotated[Optional[str], typer.Option("--format", "-f", metavar="|".join(formats.PILLOW_NAMES), callback=_output_format, autocompletion=_complete_format,
                                                  help="Output format (default: the output's extension, or the input's).")] = None,
    quality: Annotated[Optional[int], typer.Option(min=1, max=100, metavar="N", help="JPEG, WebP, AVIF, HEIC and JPEG XL output quality (default 95); a JPEG from a JPEG keeps its chroma subsampling.")] = None,
    depth: Annotated[Optional[Depth], typer.Option(metavar="8|16", help="Bits per channel of the outputs (default: the input's). 16 keeps the model's finer steps, for editing afterwards, in PNG, TIFF, JPEG 2000 or PNM; 8 lets a 16-bit scan go into a JPEG.")] = None,
    sigma: Annotated[Optional[float], typer.Option(min=0, max=255, metavar="FLOAT", help="The noise's level (0-255 scale), for models with a noise-level input; taken at its word (to remove more, raise --strength). Default: estimated per image.")] = None,
    strength: Annotated[Optional[float], typer.Option(min=0, max=4, show_default=False, metavar="FLOAT", help="Factor on the noise level (estimated or --sigma): below 1 keeps more detail, above 1 removes more noise. Default 1, lower on a picture that reads as dense texture (the model's texture guard); on a camera's own unresized photo (by EXIF), up to the model's camera strength (2 for photo) as the noise read rises. 1.5 removes more from a full-size camera photo that lost its EXIF.")] = None,
    ensemble: Annotated[bool, typer.Option("--ensemble", help="Average the model over the image and its three flips: four times slower, a little better (photo on BSD68: 0.05-0.11 dB more under camera noise, clean pictures changed less).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Show which files would be written where, check the model and options, and stop: nothing is read or written.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no per-file lines, no notice of outputs that exist; errors and warnings only.")] = False,
    json_summary: JsonOpt = False,
    threads: ThreadsOpt = None,
    tile: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Expert: tile side for fully convolutional models.")] = None,
    overlap: Annotated[Optional[int], typer.Option(min=0, metavar="N", help="Expert: overlap between tiles, in pixels.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Expert: tiles per inference call.")] = None,
    max_pixels: Annotated[int, typer.Option(min=1, metavar="N", help="Refuse images larger than this many pixels (guards against decompression bombs).")] = 300_000_000,
) -> None:
    """Denoise image files, folders or globs."""
    from denoise_cli import batch

    stop = batch.StopFlag()
    signal.signal(signal.SIGINT, lambda *_: stop.request("interrupted"))
    signal.signal(signal.SIGTERM, lambda *_: stop.request("terminated"))
    if output is not None:  # a quoted ~ (a script, an alias) is home, as in the inputs
        output = os.path.expanduser(output)
    options = batch.BatchOptions(
        inputs=inputs, output=output, model=model, device=device.value, recursive=recursive, overwrite=overwrite,
        suffix=suffix, format=format, threads=threads, tile=tile, overlap=overlap,
        batch_size=batch_size, max_pixels=max_pixels, sigma=sigma, strength=strength, quality=quality, depth=int(depth.value) if depth else None, ensemble=ensemble,
        dry_run=dry_run, from_environment=_from_environment(ctx, model=model, device=device.value),
    )
    reporter = batch.Reporter(quiet=quiet, json_summary=json_summary)
    try:
        code = batch.run_batch(options, reporter, stop)
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once
        reporter.interrupted("interrupted")
        code = EXIT_INTERRUPTED
    raise typer.Exit(code)


def _from_environment(ctx: typer.Context, **values: str) -> list[str]:
    """NAME=VALUE of the options that the environment set (DENOISE_MODEL, ...), not the command
    line: an error they cause must say where they came from, or it names an option never typed."""
    envvars = {param.name: param.envvar for param in ctx.command.params}
    return [f"{envvars[name]}={value}" for name, value in values.items()
            if getattr(ctx.get_parameter_source(name), "name", None) == "ENVIRONMENT"]  # click's enum, or typer's own copy of it


@app.command("models")
def models(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="One model (name, alias or .onnx path) to describe in full.", show_default=False,
                                                  autocompletion=complete_model)] = None,
    json_summary: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (as in the README).")] = False,
) -> None:
    """List the shipped models: noise, tile, size, cost and measured scores; with a NAME, that
    model in full: how its noise level is chosen, how it was trained, every score."""
    from denoise_cli import catalog
    from denoise_cli.errors import DenoiseError

    if json_summary and markdown:
        raise typer.BadParameter("--json and --markdown are two ways to print the same list; give one.", param_hint="'--markdown'")
    try:
        code = catalog.print_models(json_summary, markdown, name)
    except DenoiseError as exc:  # an unknown name, an unusable file
        sys.stderr.write(f"error: {exc}\n")
        code = 1
    raise typer.Exit(code)


@app.command("info")
def info(json_summary: JsonOpt = False) -> None:
    """What this installation can do: versions, the device --device auto picks and why, the
    optional formats, the shipped models (for a question or a bug report)."""
    from denoise_cli import about

    raise typer.Exit(about.print_report(json_summary))


def main() -> None:
    tolerate_unprintable_names()
    # Pillow warns through Python's warnings on damaged EXIF it skips ("Corrupt EXIF data"), as
    # file:line lines that read like a crash; what matters reaches the user as our own warning
    # (imageio: EXIF that cannot be written back).
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    # likewise tifffile on damaged TIFF tags it skips, some of it as errors; a file it cannot read
    # reaches the user as our one sentence
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    logging.getLogger("PIL").setLevel(logging.CRITICAL)  # and Pillow, before it raises ("More samples per pixel than can be decoded")
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a batch (e.g. while loading)
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
