"""A typer group with a default command, so that `denoise photo.png` means `denoise run
photo.png` while `denoise models` stays a sub-command (and likewise for `denoise-train`)."""

from __future__ import annotations

from typer.core import TyperGroup

ROOT_OPTIONS = {"--help", "-h", "--version", "--install-completion", "--show-completion"}


def group_with_default(command: str) -> type[TyperGroup]:
    class DefaultCommandGroup(TyperGroup):
        def parse_args(self, ctx, args: list[str]) -> list[str]:
            if args and args[0] not in self.commands and args[0] not in ROOT_OPTIONS:
                args = [command, *args]
            return super().parse_args(ctx, args)

    return DefaultCommandGroup
