"""Run a planned batch of files for the CLI: skip what exists, go on after a failure, report.

Progress and messages go to stderr (rich, only on a terminal); per-file lines and the --json
summary go to stdout.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from denoise_cli.api import Denoiser, FileResult
from denoise_cli.errors import DenoiseError
from denoise_cli.jobs import Job, plan_jobs


@dataclass(frozen=True)
class BatchOptions:
    inputs: list[str]
    output: Path | None
    model: str
    device: str
    recursive: bool
    overwrite: bool
    suffix: str
    format: str | None
    threads: int | None
    tile: int | None
    overlap: int | None
    batch_size: int | None
    max_pixels: int
    sigma: float | None = None


class Reporter:
    """Everything the user sees about a batch, in one place."""

    def __init__(self, quiet: bool, json_summary: bool):
        self.quiet, self.json_summary = quiet, json_summary
        self.err = Console(stderr=True, highlight=False)
        self.records: list[dict] = []
        self.model: str | None = None
        self.device: str | None = None
        self.progress: Progress | None = None
        self._files_task = self._tiles_task = None

    # --- progress ---------------------------------------------------------------------------
    def start(self, total_files: int) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.err, transient=True,
        )
        self.progress.start()
        if total_files > 1:
            self._files_task = self.progress.add_task("files", total=total_files)

    def image_progress(self, name: str):
        if self.progress is None:
            return None
        if self._tiles_task is not None:
            self.progress.remove_task(self._tiles_task)
        self._tiles_task = self.progress.add_task(f"  {name}", total=None)

        def update(done: int, total: int) -> None:
            self.progress.update(self._tiles_task, completed=done, total=total)

        return update

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # --- outcomes ---------------------------------------------------------------------------
    def _record(self, job: Job | None, status: str, **extra) -> None:
        entry = {"source": str(job.source) if job else None, "target": str(job.target) if job else None, "status": status, **extra}
        self.records.append(entry)
        if self.progress is not None and self._files_task is not None and job is not None:
            self.progress.advance(self._files_task)

    def done(self, job: Job, result: FileResult) -> None:
        extra = {"sigma": result.sigmas} if result.sigmas is not None else {}
        self._record(job, "ok", seconds=round(result.seconds, 3), width=result.width, height=result.height, **extra)
        for warning in result.warnings:
            self.warn(warning)
        if not self.quiet and not self.json_summary:
            level = f", sigma {'/'.join(f'{v:.1f}' for v in result.sigmas)}" if result.sigmas else ""
            self._print(f"{job.source} -> {job.target} ({result.width}x{result.height}{level}, {result.seconds:.2f} s)")

    def skipped(self, job: Job, reason: str) -> None:
        self._record(job, "skipped", reason=reason)
        if not self.quiet:
            self.warn(f"{job.target}: {reason}; skipped.")

    def failed(self, job: Job | None, message: str) -> None:
        self._record(job, "failed", error=message)
        self.error(message)

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/red] {message}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}", soft_wrap=True)

    def _print(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, soft_wrap=True, highlight=False)
        else:
            print(line, flush=True)

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "skipped": 0, "failed": 0}
        for r in self.records:
            out[r["status"]] += 1
        return out

    def finish(self, interrupted: str | None = None) -> None:
        self.stop()
        counts = self.counts()
        if interrupted or counts["failed"] or len(self.records) > 1:
            line = f"{counts['ok']} denoised, {counts['skipped']} skipped, {counts['failed']} failed"
            self.err.print(f"{interrupted}: {line}" if interrupted else line, soft_wrap=True)
            for r in self.records:
                if r["status"] == "failed" and len(self.records) > 1:
                    self.err.print(f"  failed: {r['error']}", soft_wrap=True)
        if self.json_summary:
            summary = {"model": self.model, "device": self.device, "counts": counts, "files": self.records}
            if interrupted:
                summary["interrupted"] = interrupted
            print(json.dumps(summary, indent=2), flush=True)

    def interrupted(self, how: str) -> None:
        self.finish(interrupted=how)


def run_batch(options: BatchOptions, reporter: Reporter) -> int:
    """Process every job; returns the exit code (0 all done or skipped, 1 anything failed)."""
    try:
        plan = plan_jobs(options.inputs, options.output, recursive=options.recursive, suffix=options.suffix, fmt=options.format)
    except DenoiseError as exc:
        reporter.failed(None, str(exc))
        reporter.finish()
        return 1
    for problem in plan.problems:
        reporter.failed(None, problem)
    for path in plan.skipped:
        reporter.warn(f"{path}: its name ends with {options.suffix!r}, so it looks like an earlier output; skipped.")
    if not plan.jobs:
        if not plan.problems:
            reporter.failed(None, "no images to denoise in the given inputs.")
        reporter.finish()
        return 1
    try:
        denoiser = Denoiser(
            options.model, options.device, threads=options.threads, tile=options.tile, overlap=options.overlap,
            batch_size=options.batch_size, max_pixels=options.max_pixels, sigma=options.sigma,
        )
    except DenoiseError as exc:
        reporter.failed(None, str(exc))
        reporter.finish()
        return 1
    reporter.model, reporter.device = denoiser.description.name, denoiser.device
    reporter.start(len(plan.jobs))
    for job in plan.jobs:
        _run_job(denoiser, job, options, reporter, make_folders=not plan.single_file)
    reporter.finish()
    return 1 if reporter.counts()["failed"] else 0


def _run_job(denoiser: Denoiser, job: Job, options: BatchOptions, reporter: Reporter, make_folders: bool) -> None:
    if not options.overwrite and job.target.exists():
        reporter.skipped(job, "exists already (pass --overwrite to replace it)")
        return
    try:
        if make_folders:
            job.target.parent.mkdir(parents=True, exist_ok=True)
        result = denoiser.denoise_file(
            job.source, job.target, overwrite=options.overwrite, format=options.format,
            progress=reporter.image_progress(job.source.name),
        )
    except DenoiseError as exc:
        reporter.failed(job, str(exc))
    except OSError as exc:
        reporter.failed(job, f"{job.target}: {exc.strerror or exc}.")
    else:
        reporter.done(job, result)
