"""Console entry point: `denoise --version` answers before typer is even imported."""

from __future__ import annotations

import io
import sys


def tolerate_unprintable_names() -> None:
    """Messages name files, and a name need not fit the terminal's encoding: bytes that are no
    UTF-8 (a name from an old Latin-1 disk) or a Japanese name on a console or log file in a
    Western code page. Such a character is printed as an escape (\\udcff, \\u65e5) rather than
    ending the run in a UnicodeEncodeError after the work."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":  # UTF-8 mode already passes raw bytes through
            stream.reconfigure(errors="backslashreplace")


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from denoise_cli._version import __version__

        print(f"denoise-cli {__version__}")
        return
    from denoise_cli.cli import main as cli_main

    cli_main()
