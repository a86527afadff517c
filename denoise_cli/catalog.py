"""`denoise models`: the shipped models with what each one's description says."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from denoise_cli import registry
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.session import open_session, read_description


def describe_shipped() -> list[tuple[registry.ModelEntry, ModelDescription | None, str | None]]:
    """Each shipped model with its description, or the reason it cannot be used."""
    rows = []
    for entry in registry.shipped_models():
        try:
            session = open_session(registry.read_verified(entry), device="cpu", threads=1, name=entry.path.name)
            rows.append((entry, read_description(session, entry.path.name), None))
        except DenoiseError as exc:
            rows.append((entry, None, str(exc)))
    return rows


def score_lines(scores: dict) -> list[str]:
    """'bsd68/gauss25/float: 29.1 dB, SSIM 0.82 (noisy 20.2 dB)' for each measured setting."""
    lines = []
    for key, value in scores.items():
        if not isinstance(value, dict) or "denoised" not in value:
            continue
        label = value.get("dataset", key)
        out, noisy = value["denoised"], value.get("noisy", {})
        text = f"{label}: {out['psnr']:.2f} dB, SSIM {out['ssim']:.3f}"
        if "psnr" in noisy:
            text += f" (noisy {noisy['psnr']:.2f} dB)"
        lines.append(text)
    return lines


def _size(entry: registry.ModelEntry) -> str:
    size = entry.path.stat().st_size if entry.path.exists() else 0
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _tile(d: ModelDescription) -> str:
    return f"{d.patch_size} px fixed" if d.fixed_size else f"{d.tile_size or d.patch_size} px (any size)"


def markdown(rows) -> str:
    lines = ["| model | removes | tile | params | MACs/pixel | size | measured (PSNR dB, SSIM) | description |", "|---|---|---|---|---|---|---|---|"]
    for entry, d, problem in rows:
        name = f"`{entry.name}`" + (f" ({', '.join(f'`{a}`' for a in entry.aliases)})" if entry.aliases else "")
        if d is None:
            lines.append(f"| {name} | | | | | {_size(entry)} | | {problem} |")
            continue
        scores = "<br>".join(score_lines(d.scores))
        lines.append(f"| {name} | {d.noise_label} | {_tile(d)} | {d.params:,} | {d.macs_per_pixel:,} | {_size(entry)} | {scores} | {d.summary} |")
    return "\n".join(lines) + "\n"


def print_models(as_json: bool, as_markdown: bool = False) -> int:
    rows = describe_shipped()
    if as_markdown:
        print(markdown(rows), end="")
        return 0 if all(p is None for *_, p in rows) else 1
    if as_json:
        out = []
        for entry, d, problem in rows:
            item = {"name": entry.name, "aliases": list(entry.aliases), "file": str(entry.path), "bytes": entry.path.stat().st_size if entry.path.exists() else None}
            item.update({"description": json.loads(d.to_json())} if d else {"error": problem})
            out.append(item)
        print(json.dumps(out, indent=2))
        return 0 if all(p is None for *_, p in rows) else 1
    table = Table(title="denoise-cli models", show_lines=True)
    for column in ("model", "removes", "tile", "params", "MACs/px", "size", "measured", "description"):
        table.add_column(column, overflow="fold")
    for entry, d, problem in rows:
        name = entry.name + (f"\n({', '.join(entry.aliases)})" if entry.aliases else "")
        if d is None:
            table.add_row(name, "", "", "", "", _size(entry), "", f"[red]{problem}[/red]")
            continue
        table.add_row(name, d.noise_label, _tile(d), f"{d.params:,}", f"{d.macs_per_pixel:,}", _size(entry), "\n".join(score_lines(d.scores)), d.summary)
    Console().print(table)
    if not rows:
        Console(stderr=True).print("no models are installed (weights/manifest.json is empty).")
    return 0 if all(p is None for *_, p in rows) else 1
