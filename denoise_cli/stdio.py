"""Pipes: `-` as the input reads the image from standard input, `-o -` writes it to standard
output, so `denoise` can sit in a shell pipeline (`curl ... | denoise - | convert - ...`).

Both go through files in a private temporary folder, so reading, format checks and atomic writing
are the same code as for any file: standard input is spooled there under the suffix of the format
its bytes show, and the output is written there, then copied to standard output once complete (a
failed image sends nothing). Messages call the two `<stdin>` and `<stdout>`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import BinaryIO

from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import suffix_of_content, unwritten_format
from denoise_cli.jobs import Job, JobPlan, names_folder, not_a_file, single_target

PIPE = "-"
STDIN, STDOUT = "<stdin>", "<stdout>"


def uses_pipes(inputs: list[str], output: str | None) -> bool:
    return PIPE in inputs or sends_to_stdout(inputs, output)


def sends_to_stdout(inputs: list[str], output: str | None) -> bool:
    """-o -, or standard input with no -o (a filter)."""
    return output == PIPE or (output is None and inputs == [PIPE])


def plan_piped_job(inputs: list[str], output: str | None, fmt: str | None, folder: Path, *,
                   stdin: BinaryIO | None = None, stdin_is_terminal: bool | None = None, stdout_is_terminal: bool | None = None) -> JobPlan:
    """The one job of a command line that reads standard input or writes standard output, its
    input spooled into `folder`, its output written in `folder` when it goes to standard output.
    What cannot work is refused in one sentence: several inputs, a terminal at either end. The
    terminal checks ask sys unless told (tests run without a terminal)."""
    to_stdout = sends_to_stdout(inputs, output)
    if len(inputs) != 1:
        which = "- (standard input)" if PIPE in inputs else "-o - (standard output)"
        raise DenoiseError(f"{which} takes one image: give only one input.")
    if to_stdout and (sys.stdout.isatty() if stdout_is_terminal is None else stdout_is_terminal):
        raise DenoiseError("standard output is a terminal: redirect it (> clean.png) or give -o FILE.")
    if inputs == [PIPE]:
        if sys.stdin.isatty() if stdin_is_terminal is None else stdin_is_terminal:
            raise DenoiseError("standard input is a terminal: pipe an image into it (denoise - < photo.jpg).")
        source, source_name = spool(stdin if stdin is not None else sys.stdin.buffer, folder), STDIN
    else:
        source, source_name = Path(inputs[0]).expanduser(), None
        if source.is_dir():
            raise DenoiseError(f"{inputs[0]}: a folder; -o - takes one image file.")
        if not source.is_file():
            raise DenoiseError(not_a_file(inputs[0]) if source.exists() else f"{inputs[0]}: no such file.")
    if to_stdout and fmt is None and (why := unwritten_format(source.suffix)):
        raise DenoiseError(f"{source_name or inputs[0]}: {why}: choose a --format for standard output (png, jpeg, tiff, ...).")
    if to_stdout:
        return JobPlan([Job(source, single_target(source, folder / f"out{source.suffix}", "", fmt), source_name, STDOUT)], [], [], make_folders=False)
    return JobPlan([Job(source, single_target(source, output, "", fmt), source_name)], [], [], make_folders=names_folder(output))


def spool(stream: BinaryIO, folder: Path) -> Path:
    """Copy a stream into `folder` as `stdin.EXT`, EXT the suffix of the format its bytes show."""
    raw = folder / "stdin"
    try:
        with open(raw, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
    except OSError as exc:  # a full disk, most likely
        raise DenoiseError(f"{STDIN}: cannot keep it in the temporary folder {folder.parent} ({exc.strerror or exc}); "
                           "point TMPDIR at a folder with room.") from None
    if raw.stat().st_size == 0:
        raise DenoiseError(f"{STDIN}: empty: pipe an image into it.")
    return raw.rename(raw.with_suffix(suffix_of_content(raw, STDIN)))


def deliver(path: Path, stream: BinaryIO | None = None) -> None:
    """Copy a finished output to standard output."""
    stream = stream if stream is not None else sys.stdout.buffer
    try:
        with open(path, "rb") as data:
            shutil.copyfileobj(data, stream, 1 << 20)
        stream.flush()
    except BrokenPipeError:
        raise DenoiseError(f"{STDOUT}: the reading end of the pipe closed before the image was sent.") from None
    except OSError as exc:  # e.g. redirected to a full disk
        raise DenoiseError(f"{STDOUT}: cannot write ({exc.strerror or exc}).") from None
