"""Console entry point: `denoise --version` answers before typer is even imported."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from denoise_cli._version import __version__

        print(f"denoise-cli {__version__}")
        return
    from denoise_cli.cli import main as cli_main

    cli_main()
