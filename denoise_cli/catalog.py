"""`denoise models`: the shipped models with what each one's description says."""

from __future__ import annotations

import json
import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text

from denoise_cli import registry
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.session import open_session, read_description


def describe(entry: registry.ModelEntry) -> ModelDescription:
    """A model's description as ONNX Runtime reads it; DenoiseError when the file is unusable."""
    session = open_session(registry.read_verified(entry), device="cpu", threads=1, name=entry.path.name)
    return read_description(session, entry.path.name)


THUMBNAIL_DATA = ("mnist", "cifar10-gray")  # the reference recipes' data: digits and 32x32 thumbnails


def _listing_rank(entry: registry.ModelEntry, d: ModelDescription | None) -> int:
    """0 the default, 1 the other models, 2 those trained on digits or thumbnails (the reference
    recipes, not meant for photos): a reader meets the model they will use first."""
    if registry.DEFAULT in entry.aliases:
        return 0
    return 2 if d is not None and d.recipe.get("data") in THUMBNAIL_DATA else 1


def describe_shipped() -> list[tuple[registry.ModelEntry, ModelDescription | None, str | None]]:
    """Each shipped model with its description, or the reason it cannot be used; the default
    first and the reference recipes last, by name within each."""
    rows = []
    for entry in registry.shipped_models():
        try:
            rows.append((entry, describe(entry), None))
        except DenoiseError as exc:
            rows.append((entry, None, str(exc)))
    return sorted(rows, key=lambda row: (_listing_rank(*row[:2]), row[0].name))


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


SETTING_FAMILIES = ("gauss", "sp", "spjpeg", "camera", "clean")
CAMERA_LEVELS = ("XL", "L", "M", "H")  # faintest first, as the benchmark names them


def _setting_order(setting: str) -> tuple:
    """gauss2 before gauss15, cameraXL before cameraL, clean last: by family, then by level."""
    family = setting.rstrip("0123456789").rstrip("XLMH") if setting.startswith("camera") else setting.rstrip("0123456789")
    level = setting[len(family):]
    rank = int(level) if level.isdigit() else CAMERA_LEVELS.index(level) if level in CAMERA_LEVELS else 0
    return (SETTING_FAMILIES.index(family) if family in SETTING_FAMILIES else len(SETTING_FAMILIES), family, rank)


def _benchmark_scores(scores: dict) -> tuple[dict[str, dict[str, dict[str, dict]]], dict]:
    """Scores keyed set/setting/variant (the benchmark's) as {set: {setting: {variant: value}}},
    settings in their natural order; and the others (a training split's) as they are."""
    grouped: dict[str, dict[str, dict[str, dict]]] = {}
    others = {}
    for key, value in scores.items():
        parts = key.split("/")
        if len(parts) == 3 and isinstance(value, dict) and "denoised" in value:
            grouped.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = value
        else:
            others[key] = value
    ordered = {name: dict(sorted(settings.items(), key=lambda item: _setting_order(item[0]))) for name, settings in sorted(grouped.items())}
    return ordered, others


OVERVIEW_SET = "bsd68"  # the overview's one test set, where measured: the standard benchmark


def compact_scores(scores: dict) -> list[str]:
    """'bsd68: gauss2 42.63, gauss15 30.62, ...' (PSNR dB; of the saved 8-bit noisy file where
    both that and the unclipped noise were measured) for one test set, BSD68 where measured (the
    overview's rows stay short; `denoise models NAME` has every set), then the others."""
    grouped, others = _benchmark_scores(scores)
    if OVERVIEW_SET in grouped:
        grouped = {OVERVIEW_SET: grouped[OVERVIEW_SET]}
    lines = []
    for name, settings in grouped.items():
        picked = ((setting, variants.get("png8") or next(iter(variants.values()))) for setting, variants in settings.items())
        lines.append(f"{name}: " + ", ".join(f"{setting} {value['denoised']['psnr']:.2f}" for setting, value in picked))
    for value in others.values():
        if isinstance(value, dict) and "denoised" in value:
            noisy = value.get("noisy", {})
            lines.append(f"{value.get('dataset', 'test')}: {value['denoised']['psnr']:.2f}" + (f" (noisy {noisy['psnr']:.2f})" if "psnr" in noisy else ""))
    return lines


def _size(entry: registry.ModelEntry) -> str:
    size = entry.path.stat().st_size if entry.path.exists() else 0
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _tile(d: ModelDescription) -> str:
    return f"{d.patch_size} px fixed" if d.fixed_size else f"{d.tile_size or d.patch_size} px (any size)"


def markdown(rows) -> str:
    """The README's models table: the overview's short scores (`denoise models NAME` has all)."""
    lines = ["| model | removes | tile | params | MACs/pixel | size | measured (PSNR dB) | description |", "|---|---|---|---|---|---|---|---|"]
    for entry, d, problem in rows:
        name = f"`{entry.name}`" + (f" ({', '.join(f'`{a}`' for a in entry.aliases)})" if entry.aliases else "")
        if d is None:
            lines.append(f"| {name} | | | | | {_size(entry)} | | {problem} |")
            continue
        scores = "<br>".join(compact_scores(d.scores))
        lines.append(f"| {name} | {d.noise_label} | {_tile(d)} | {d.params:,} | {d.macs_per_pixel:,} | {_size(entry)} | {scores} | {d.summary} |")
    return "\n".join(lines) + "\n"


def print_models(as_json: bool, as_markdown: bool = False, name: str | None = None) -> int:
    """The shipped models (or the one named, in detail): a table, Markdown or JSON; 1 when one
    of them cannot be used."""
    if name is not None:
        entry = registry.resolve(name)
        rows = [(entry, describe(entry), None)]
    else:
        rows = describe_shipped()
    if as_markdown:
        print(markdown(rows), end="")
    elif as_json:
        out = []
        for entry, d, problem in rows:
            item = {"name": entry.name, "aliases": list(entry.aliases), "file": str(entry.path), "bytes": entry.path.stat().st_size if entry.path.exists() else None}
            item.update({"description": json.loads(d.to_json())} if d else {"error": problem})
            out.append(item)
        print(json.dumps(out[0] if name is not None else out, indent=2))
    elif name is not None:
        print_details(*rows[0][:2])
    else:
        print_overview(rows)
    return 0 if all(p is None for *_, p in rows) else 1


OVERVIEW_NOTE = ("PSNR dB, on noisy images saved as 8-bit where measured so. `denoise models NAME`: one model "
                    "in full (SSIM, every test set and setting, how its noise level is chosen and how it was trained)")
WIDE_OVERVIEW = 120  # terminal columns from which a listing is a table; narrower, a block per item


def print_overview(rows) -> None:
    """The shipped models: a table on a wide terminal, a block per model on a narrower one."""
    if not rows:
        Console(stderr=True).print("no models are installed (weights/manifest.json is empty).")
        return
    blocks = []
    for entry, d, problem in rows:
        if d is None:
            blocks.append((_names(entry, " "), "", [f"{_size(entry)}: {problem}"]))
            continue
        lines = [d.summary, f"{d.macs_per_pixel:,} multiply-adds per pixel, {_size(entry)}"]
        blocks.append((_names(entry, " "), f": {d.noise_label}", lines + [f"PSNR dB, {line}" for line in compact_scores(d.scores)]))
    print_table_or_blocks(_overview_table(rows), blocks, OVERVIEW_NOTE)


def print_table_or_blocks(table: Table, blocks: list[tuple[str, str, list[str]]], footer: str = "") -> None:
    """`table` on a terminal of WIDE_OVERVIEW columns or more; on a narrower one (80 columns, or a
    pipe) the same facts as blocks (a name in bold and the rest of its heading, then its lines),
    since many columns there break words in the middle. Blocks are wrapped here at word
    boundaries (lines two spaces in, four where wrapped), so that no line is padded with spaces;
    a blank line between them."""
    console = Console()
    if console.width >= WIDE_OVERVIEW:
        console.print(table)
        return
    width = max(console.width, 40)

    def show(text: str, first: str = "  ", rest: str = "    ", style: str = "", bold: int = 0) -> None:
        wrapped = Text(textwrap.fill(text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False), style=style)
        wrapped.stylize("bold", 0, bold)
        console.print(wrapped, soft_wrap=True)

    for index, (name, heading, lines) in enumerate(blocks):
        if index:
            console.print()
        show(name + heading, first="", bold=len(name))
        for line in lines:
            show(line)
    if footer:
        console.print()
        show(footer, first="", rest="", style="dim")


def _names(entry: registry.ModelEntry, between: str) -> str:
    return entry.name + (f"{between}({', '.join(entry.aliases)})" if entry.aliases else "")


def _overview_table(rows) -> Table:
    table = Table(title="denoise-cli models", caption=f"measured: {OVERVIEW_NOTE}", show_lines=True)
    for column, ratio in (("model", None), ("removes", 2), ("MACs/px", None), ("size", None), ("measured", 4), ("description", 3)):
        table.add_column(column, overflow="fold", ratio=ratio, no_wrap=ratio is None)
    for entry, d, problem in rows:
        if d is None:
            table.add_row(Text(_names(entry, "\n")), "", "", _size(entry), "", Text(problem, style="red"))
            continue
        table.add_row(Text(_names(entry, "\n")), Text(d.noise_label), f"{d.macs_per_pixel:,}", _size(entry),
                      Text("\n".join(compact_scores(d.scores))), Text(d.summary))
    return table


def _grey(levels: list[float]) -> str:
    return " / ".join(f"{v * 255:.2f}" for v in levels)


def _phased_in(start: float, end: float) -> str:
    return f", phased in from a reading of {_grey([start])} to {_grey([end])} grey levels"


def _level_handling(d: ModelDescription) -> str:
    """How the noise level fed to the model is chosen, from its description."""
    parts = [f"estimated from each image ({' and '.join(d.level_readings)} resolution readings)" if len(d.level_readings) > 1
             else "estimated from each image"]
    if d.level_floor:
        parts.append(f"raised to at least {_grey(d.level_floor)} grey levels")
    if d.texture_guard:
        ramp = _phased_in(d.texture_guard[0] - d.texture_guard[6], d.texture_guard[0]) if len(d.texture_guard) > 6 and d.texture_guard[6] else ""
        parts.append(f"on readings that look like dense texture, capped at {_grey(d.texture_guard[1:2])} grey levels (strength at least {d.texture_guard[4]:g}{ramp}: the texture guard)")
    if d.camera_strength:
        ramp = _phased_in(*d.camera_ramp) if d.camera_ramp else ""
        parts.append(f"strength up to {d.camera_strength:g} on a camera's own unresized photo{ramp}")
    return "; ".join(parts) + "; --sigma and --strength override it"


def print_details(entry: registry.ModelEntry, d: ModelDescription) -> None:
    """One model: what it removes, its cost, how its level is chosen, how it was trained, and
    every measured score."""
    console = Console()
    names = entry.name + (f" ({', '.join(entry.aliases)})" if entry.aliases else "")
    console.print(f"[bold]{names}[/bold]: {d.summary}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("file", f"{entry.path} ({_size(entry)}{', checksum verified' if entry.sha256 else ''})")
    facts.add_row("removes", d.noise_label)
    facts.add_row("network", f"{d.params:,} parameters, {d.macs_per_pixel:,} multiply-adds per pixel, tiles of {_tile(d)}")
    if d.noise_level_input:
        facts.add_row("noise level", _level_handling(d))
    if d.solid_extremes:
        side = d.solid_extremes
        facts.add_row("black, white", f"re-predicted where they may be impulses; kept in {side}x{side} squares mostly of one of them, and on a "
                      "clean rendered-text page, where they draw strokes, but for lone outliers; a bilevel page is despeckled instead "
                      "(denoise_cli/extremes.py)")
    recipe = d.recipe
    if "described_from" in recipe:  # trained elsewhere: train/describe.py
        facts.add_row("trained", f"elsewhere; described from {recipe['described_from']} (sha256 {recipe.get('sha256', '?')[:12]}...) "
                      "by denoise-train describe")
    elif recipe:
        epochs = f"{recipe.get('epochs')} epochs" + (f" + {recipe['folded_epochs']} folded" if recipe.get("folded_epochs") else "")
        data = recipe.get("data")
        if recipe.get("enlarged_share"):  # what makes a model fit for a camera's unresized photos: say it
            low, high = recipe["enlarged_factors"]  # exported with the share since both exist
            data = f"{data} ({recipe['enlarged_share']:.0%} of it enlarged copies, {low:g}-{high:g}x)"
        facts.add_row("trained", f"recipe {recipe.get('name', d.name)}: {recipe.get('network')} on {data}, {epochs}, "
                      f"{recipe.get('loss')} loss, batch {recipe.get('batch_size')} (denoise-train --recipe {recipe.get('name', d.name)})")
    console.print(facts)
    grouped, others = _benchmark_scores(d.scores)
    if grouped:
        console.print(_scores_table(grouped))
    for line in score_lines(others):
        console.print(f"measured: {line}")


VARIANT_NAMES = {"png8": ("8-bit", "the noisy image saved as an 8-bit file"), "float": ("float", "unclipped noise")}  # column label, meaning


def _scores_table(grouped: dict[str, dict[str, dict[str, dict]]]) -> Table:
    """One row per setting, one column per test set and noise variant (PSNR / SSIM), so that a
    setting reads across the sets and 8-bit files against unclipped noise, in 80 columns."""
    columns = sorted({(name, variant) for name, settings in grouped.items() for variants in settings.values() for variant in variants},
                     key=lambda column: (column[0], column[1] != "png8", column[1]))
    present = [f"{label}: {meaning}" for v, (label, meaning) in VARIANT_NAMES.items() if any(variant == v for _, variant in columns)]
    table = Table(title="measured by denoise-train bench: PSNR dB / SSIM", caption="; ".join(present) or None)
    table.add_column("setting")
    for name, variant in columns:
        table.add_column(f"{name} {VARIANT_NAMES.get(variant, (variant,))[0]}", justify="right")
    settings = sorted({setting for by_setting in grouped.values() for setting in by_setting}, key=_setting_order)
    for setting in settings:
        cells = []
        for name, variant in columns:
            value = grouped[name].get(setting, {}).get(variant)
            cells.append(f"{value['denoised']['psnr']:.2f} / {value['denoised']['ssim']:.3f}" if value else "")
        table.add_row(setting, *cells)
    return table
