"""Run a planned batch of files for the CLI: skip what exists, go on after a failure, report.

Progress and messages go to stderr (rich, only on a terminal); per-file lines and the --json
summary go to stdout, unless stdout carries the image (stdio.py).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from denoise_cli import stdio
from denoise_cli.api import Denoiser, FileResult, LoadedFile, NoiseSetting
from denoise_cli.atomic import folder_refusal
from denoise_cli.errors import DenoiseError, OutputExistsError
from denoise_cli.imageio import DEFAULT_QUALITY, QUALITY_FORMATS, check_depth_held, format_name, output_format, raw_advice
from denoise_cli.jobs import Job, JobPlan, plan_jobs
from denoise_cli.pixels import ImageData
from denoise_cli.session import cpu_cores


@dataclass(frozen=True)
class BatchOptions:
    inputs: list[str]
    output: str | None  # as given: a trailing slash says "a folder" (jobs.names_folder)
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
    strength: float | None = None  # None: automatic (the API's rule)
    quality: int | None = None  # JPEG, WebP, AVIF, HEIC and JPEG XL output (None: DEFAULT_QUALITY, and no word on other formats)
    depth: int | None = None  # 8 or 16 bits per channel for the outputs (None: each source's own)
    ensemble: bool = False  # average over flips (api.flip_ensemble)
    dry_run: bool = False  # plan, check the model, report; read and write nothing
    from_environment: list[str] = field(default_factory=list)  # "DENOISE_MODEL=x": options the environment set


EXIT_CODES = {"interrupted": 130, "terminated": 143}


class Stopped(Exception):
    """Raised at a safe point after SIGINT or SIGTERM."""

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


class StopFlag:
    """Set by the signal handlers, checked by the pipeline between images and tile batches, so a
    stop never lands half-way through writing a file or recording its outcome."""

    def __init__(self) -> None:
        self.how: str | None = None

    def request(self, how: str) -> None:
        if self.how is not None:
            raise KeyboardInterrupt  # a second signal: stop at once
        self.how = how

    def check(self) -> None:
        if self.how is not None:
            raise Stopped(self.how)


class EtaColumn(ProgressColumn):
    """"eta 1:05" once a task's pace is known; nothing before (rich's own column shows -:--:--)."""

    def render(self, task: Task) -> Text:
        left = task.time_remaining
        if left is None or task.total is None or task.finished:
            return Text("")
        minutes, seconds = divmod(int(left + 0.5), 60)
        return Text(f"eta {minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"eta {minutes}:{seconds:02d}", style="cyan")


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(message: str) -> str:
    """A message with the control characters a file name may hold (a newline, a terminal's escape
    sequence) written as escapes, \\n and \\x1b, as ls quotes them: one file, one line, and
    nothing sent to the terminal but text. The JSON summary keeps names as they are."""
    return CONTROL_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), message)


class Reporter:
    """Everything the user sees about a batch, in one place."""

    def __init__(self, quiet: bool, json_summary: bool):
        self.quiet, self.json_summary = quiet, json_summary
        self.err = Console(stderr=True, highlight=False)
        self.records: list[dict] = []
        self.model: str | None = None
        self.device: str | None = None
        self.ensemble = False
        self.lines_to_stderr = False  # when standard output carries the image
        self.dry_run = False
        self.progress: Progress | None = None
        self._files_task = self._tiles_task = None
        self._warned: dict[str, int] = {}  # a file warning's words after its path -> further files it was said of
        self._position: dict[int, int] = {}  # id(job) -> its place among the jobs
        self._positions: list[int] = []  # each record's job's place (-1: no job)

    def order(self, jobs: list[Job]) -> None:
        """The jobs in the order given: the summary lists files so, not in the order they finished
        (a file that fails to load is settled before the one ahead of it is written)."""
        self._position = {id(job): k for k, job in enumerate(jobs)}

    # --- progress ---------------------------------------------------------------------------
    def start(self, total_files: int) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), EtaColumn(),
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
        self._tiles_task = self.progress.add_task(f"  {escape(name)}", total=None)

        def update(done: int, total: int) -> None:
            self.progress.update(self._tiles_task, completed=done, total=total)

        return update

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # --- outcomes ---------------------------------------------------------------------------
    def _record(self, job: Job | None, status: str, **extra) -> None:
        entry = {"source": job.shown_source if job else None, "target": job.shown_target if job else None, "status": status, **extra}
        self.records.append(entry)
        self._positions.append(self._position.get(id(job), -1) if job else -1)
        if self.progress is not None and self._files_task is not None and job is not None:
            self.progress.advance(self._files_task)

    def done(self, job: Job, result: FileResult) -> None:
        setting = result.setting
        extra = {"sigma": setting.sigmas, "strength": setting.strength} if setting else {}
        if setting and setting.camera:
            extra["camera"] = setting.camera
        if setting and setting.texture:
            extra["texture"] = True
        if result.pages > 1:
            extra["pages"] = result.pages
        if result.warnings:
            extra["warnings"] = [job.shown(warning) for warning in result.warnings]
        self._record(job, "ok", seconds=round(result.seconds, 3), width=result.width, height=result.height, **extra)
        for warning in result.warnings:
            self._warn_once(job, warning)
        if not self.quiet and not self.json_summary:
            level = f", sigma {'/'.join(f'{v:.1f}' for v in setting.sigmas)}" if setting else ""
            if setting and setting.camera:
                level += f" at strength {setting.strength:g} for an unresized {setting.camera} photo"
            elif setting and setting.texture:
                level += f" at strength {setting.strength:g}: reads as dense texture (--strength 1 for the full level)"
            pages = f", {result.pages} pages" if result.pages > 1 else ""
            self._print(f"{job.shown_source} -> {job.shown_target} ({result.width}x{result.height}{pages}{level}, {result.seconds:.2f} s)")

    def _warn_once(self, job: Job, warning: str) -> None:
        """A file's warning in full the first time its words (after the file's path) come; for
        further files a count, said at the end: a folder of 500 photos into BMP is one warning."""
        words = next((warning[len(f"{path}: "):] for path in (job.source, job.target) if warning.startswith(f"{path}: ")), None)
        if words in self._warned:
            self._warned[words] += 1
            return
        if words is not None:
            self._warned[words] = 0
        self.warn(job.shown(warning))

    def planned(self, job: Job) -> None:
        """A dry run's job: what would be written."""
        self._record(job, "planned")
        if not self.quiet and not self.json_summary:
            self._print(f"{job.shown_source} -> {job.shown_target}")

    def skipped(self, job: Job, reason: str) -> None:
        self._record(job, "skipped", reason=reason)
        if not self.quiet:
            self.warn(f"{job.shown_target}: {reason}; skipped.")

    def failed(self, job: Job | None, message: str) -> None:
        message = job.shown(message) if job else message
        self._record(job, "failed", error=message)
        self.error(message)

    def error(self, message: str) -> None:
        self.err.print(f"[red]error:[/red] {escape(one_line(message))}", soft_wrap=True)  # "photo [1].jpg" is no markup

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(one_line(message))}", soft_wrap=True)

    def _print(self, line: str) -> None:
        line = one_line(line)
        if self.progress is not None:
            self.progress.console.print(line, soft_wrap=True, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr if self.lines_to_stderr else sys.stdout, flush=True)

    def counts(self) -> dict[str, int]:
        out = {"planned": 0, "ok": 0, "skipped": 0, "failed": 0} if self.dry_run else {"ok": 0, "skipped": 0, "failed": 0}
        for r in self.records:
            out[r["status"]] += 1
        return out

    def finish(self, interrupted: str | None = None) -> None:
        self.stop()
        for words, more in self._warned.items():
            if more:
                self.warn(f"{more} more file{'s' if more > 1 else ''} likewise: {words}")
        counts = self.counts()
        self.records = [record for _, record in sorted(zip(self._positions, self.records), key=lambda pair: pair[0])]
        # --quiet: a batch that went through says nothing (a cron job's mail stays empty)
        if interrupted or counts["failed"] or self.dry_run or (len(self.records) > 1 and not self.quiet):
            line = f"{counts['ok']} denoised, {counts['skipped']} skipped, {counts['failed']} failed"
            if self.dry_run:
                line = f"dry run, nothing read or written: {counts['planned']} to denoise, {counts['skipped']} to skip, {counts['failed']} failed"
            self.err.print(f"{interrupted}: {line}" if interrupted else line, soft_wrap=True)
            for r in self.records:
                if r["status"] == "failed" and len(self.records) > 1:
                    self.err.print(f"  failed: {one_line(r['error'])}", soft_wrap=True, markup=False)
        if self.json_summary:
            summary = {"model": self.model, "device": self.device, "ensemble": self.ensemble, "counts": counts, "files": self.records}
            if self.dry_run:
                summary["dry_run"] = True
            if interrupted:
                summary["interrupted"] = interrupted
            print(json.dumps(summary, indent=2), flush=True)

    def interrupted(self, how: str) -> None:
        self.finish(interrupted=how)


def run_batch(options: BatchOptions, reporter: Reporter, stop: StopFlag | None = None) -> int:
    """Process every job; returns the exit code: 0 all done or skipped, 1 anything failed,
    130/143 stopped by SIGINT/SIGTERM (after a summary of what was done)."""
    stop = stop or StopFlag()
    try:
        return _run_batch(options, reporter, stop)
    except Stopped as exc:
        reporter.interrupted(exc.how)
        return EXIT_CODES[exc.how]


def _refuse(reporter: Reporter, message: str) -> int:
    """A command line that cannot start: one error line, the summary, exit code 1."""
    reporter.failed(None, message)
    reporter.finish()
    return 1


def _run_batch(options: BatchOptions, reporter: Reporter, stop: StopFlag) -> int:
    reporter.dry_run = options.dry_run
    if options.output is not None and not options.output.strip():  # Path("") would be the current folder
        return _refuse(reporter, "-o is empty (an unset shell variable?): give a file or folder.")
    if stdio.sends_to_stdout(options.inputs, options.output):
        reporter.lines_to_stderr = True  # standard output is the image's
        if reporter.json_summary:
            reporter.json_summary = False
            return _refuse(reporter, "--json prints on standard output, which carries the image here: give -o FILE to have both.")
    if stdio.uses_pipes(options.inputs, options.output):
        with tempfile.TemporaryDirectory(prefix="denoise-") as folder:  # the pipes' files (stdio.py)
            try:
                plan = stdio.plan_piped_job(options.inputs, options.output, options.format, Path(folder))
            except DenoiseError as exc:
                return _refuse(reporter, str(exc))
            return _run_plan(plan, options, reporter, stop)
    try:
        plan = plan_jobs(options.inputs, options.output, recursive=options.recursive, suffix=options.suffix, fmt=options.format)
    except DenoiseError as exc:
        return _refuse(reporter, str(exc))
    except OSError as exc:  # a path the system refuses to look at: a name too long, say
        return _refuse(reporter, f"{exc.filename}: {exc.strerror or exc}.")
    return _run_plan(plan, options, reporter, stop)


def _run_plan(plan: JobPlan, options: BatchOptions, reporter: Reporter, stop: StopFlag) -> int:
    for problem in plan.problems:
        reporter.failed(None, problem)
    for path in plan.skipped:
        reporter.warn(f"{path}: its name ends with {options.suffix!r}, so it looks like an earlier output; skipped.")
    if plan.broken_links:
        many = plan.broken_links > 1
        reporter.warn(f"{plan.broken_links} link{'s' if many else ''} to pictures passed over: the file{'s' if many else ''} "
                      f"{'they name are' if many else 'it names is'} missing (on a drive not plugged in?).")
    if plan.unwritten:
        count = sum(plan.unwritten.values())
        kinds = ", ".join(suffix[1:].upper() for suffix in sorted(plan.unwritten))
        reporter.warn(f"{count} picture{'s' if count > 1 else ''} in formats denoise reads but does not write ({kinds}) passed over: "
                      f"add -f png (or another format it writes) to denoise {'it' if count == 1 else 'them'} too.")
    if plan.raw_files:
        reporter.warn(f"{plan.raw_files} camera raw file{'s' if plan.raw_files > 1 else ''} passed over, which denoise does not develop: "
                      f"{raw_advice(plan.raw_files)}.")
    if not plan.jobs:
        if not plan.problems:
            reporter.failed(None, "no images to denoise in the given inputs.")
        reporter.finish()
        return 1
    threads = options.threads
    if threads and threads > cpu_cores():
        threads = cpu_cores()
        reporter.warn(f"--threads {options.threads}: {threads} cores are here, so {threads} threads are used (more threads than cores slow inference down).")
    try:
        denoiser = Denoiser(
            options.model, options.device, threads=threads, tile=options.tile, overlap=options.overlap,
            batch_size=options.batch_size, max_pixels=options.max_pixels, sigma=options.sigma, strength=options.strength,
            ensemble=options.ensemble,
        )
    except DenoiseError as exc:
        told = [setting for setting in options.from_environment if setting.split("=", 1)[1] in str(exc)]  # the ones it names
        where = f" {' and '.join(told)} {'is' if len(told) == 1 else 'are'} set in the environment." if told else ""
        return _refuse(reporter, f"{exc}{where}")
    stop.check()
    reporter.model, reporter.device, reporter.ensemble = denoiser.description.name, denoiser.device, denoiser.ensemble
    reporter.order(plan.jobs)
    if options.quality is not None:
        _warn_quality_unused(plan, options, reporter)
    if options.dry_run:
        _dry_run(plan, options, reporter)
        return 1 if reporter.counts()["failed"] else 0
    reporter.start(len(plan.jobs))
    Pipeline(denoiser, options, reporter, stop, make_folders=plan.make_folders).run(plan.jobs)
    reporter.finish()
    return 1 if reporter.counts()["failed"] else 0


def _warn_quality_unused(plan: JobPlan, options: BatchOptions, reporter: Reporter) -> None:
    """--quality given for outputs that have none (PNG, TIFF, ...): said once, not left to look
    as if it had compressed them."""
    unused = set()
    for job in plan.jobs:
        with contextlib.suppress(DenoiseError):  # an unknown extension is that job's own error, later
            fmt = output_format(job.target, options.format)
            if fmt not in QUALITY_FORMATS:
                unused.add(format_name(fmt).upper())
    if unused:
        reporter.warn(f"--quality {options.quality} applies to JPEG, WebP, AVIF, HEIC and JPEG XL outputs; {' and '.join(sorted(unused))} "
                      f"{'is' if len(unused) == 1 else 'are'} written losslessly, so it changes nothing there.")


def _dry_run(plan: JobPlan, options: BatchOptions, reporter: Reporter) -> None:
    """Report each job as a run would start it (its output's format, folder and existence
    checked), without reading an image or making a folder."""
    for job in plan.jobs:
        try:
            check_depth_held(job.target, output_format(job.target, options.format), options.depth)
        except DenoiseError as exc:
            reporter.failed(job, str(exc))
            continue
        if not plan.make_folders and not job.target.parent.is_dir():
            reporter.failed(job, f"{job.target}: the output folder {job.target.parent} does not exist.")
        elif job.target.parent.is_dir() and (why := folder_refusal(job.target.parent)):  # a run would try a file there
            reporter.failed(job, f"{job.target}: cannot write in the folder {job.target.parent} ({why}).")
        elif job.target.exists() and not options.overwrite:
            reporter.skipped(job, job.why_skipped())
        else:
            reporter.planned(job)
    reporter.finish()


class Pipeline:
    """Reads the next image and writes the previous one on I/O threads while the model works
    on the current one (ONNX Runtime, Pillow's codecs and file I/O release the GIL). Images over
    `OVERLAP_MAX_PIXELS` are done one at a time, so only one large scan is ever in memory."""

    OVERLAP_MAX_PIXELS = 16_000_000

    def __init__(self, denoiser: Denoiser, options: BatchOptions, reporter: Reporter, stop: StopFlag, make_folders: bool):
        self.denoiser, self.options, self.reporter, self.stop, self.make_folders = denoiser, options, reporter, stop, make_folders
        self.writes: deque[tuple[Job, Future]] = deque()
        self.made: set[Path] = set()  # the output folders this run created

    def _load(self, job: Job) -> LoadedFile:
        if self.make_folders:
            folder = job.target.parent
            self.made.update(itertools.takewhile(lambda p: not p.exists(), (folder, *folder.parents)))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DenoiseError(f"{folder}: cannot create the folder ({exc.strerror or exc}).") from None
        return self.denoiser.load_file(job.source, job.target, overwrite=self.options.overwrite, format=self.options.format,
                                       quality=self.options.quality or DEFAULT_QUALITY, depth=self.options.depth)

    def _settle(self, job: Job, outcome: Callable[[], FileResult]) -> FileResult | None:
        """Run or collect one step, turning its error into the job's report line."""
        try:
            return outcome()
        except OutputExistsError:
            self.reporter.skipped(job, job.why_skipped())
        except DenoiseError as exc:
            self.reporter.failed(job, str(exc))
        except OSError as exc:
            self.reporter.failed(job, f"{job.target}: {exc.strerror or exc}.")
        except MemoryError:  # the batch goes on: the next image may be smaller
            self.reporter.failed(job, f"{job.source}: not enough memory to denoise it (--max-pixels refuses such images up front).")
        except Stopped:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug (ours or a codec's) on one file: that file fails, the batch goes on
            self.reporter.failed(job, f"{job.source}: unexpected {type(exc).__name__} ({exc}); this is a bug, please report it with the file.")
        return None

    def _progress(self, job: Job) -> Callable[[int, int], None]:
        """The tile-progress callback: updates the bar, and is where a stop request is honoured."""
        update = self.reporter.image_progress(job.source_name or job.source.name)

        def progress(done: int, total: int) -> None:
            self.stop.check()
            if update is not None:
                update(done, total)

        return progress

    def _save(self, job: Job, loaded: LoadedFile, denoised: ImageData, setting: NoiseSetting | None, model_seconds: float) -> FileResult:
        result = self.denoiser.save_file(loaded, denoised, setting, model_seconds)
        if job.target_name == stdio.STDOUT:
            stdio.deliver(job.target)
        return result

    def _drain(self, keep: int) -> None:
        while len(self.writes) > keep:
            job, future = self.writes.popleft()
            result = self._settle(job, future.result)
            if result is not None:
                self.reporter.done(job, result)

    def run(self, jobs: list[Job]) -> None:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="denoise-io") as io:
            try:
                ahead = io.submit(self._load, jobs[0])
                for k, job in enumerate(jobs):
                    self.stop.check()
                    loaded = self._settle(job, ahead.result)
                    small = loaded is not None and loaded.pixels <= self.OVERLAP_MAX_PIXELS
                    if k + 1 < len(jobs):
                        if not small:
                            self._drain(keep=0)  # a large image (or none): nothing else in memory
                        ahead = io.submit(self._load, jobs[k + 1]) if small else _done(lambda j=jobs[k + 1]: self._load(j))
                    if loaded is None:
                        continue
                    progress = self._progress(job)
                    started = time.perf_counter()
                    denoised = self._settle(job, lambda: self.denoiser.denoise_image(loaded.image, progress))
                    if denoised is None:
                        continue
                    self.writes.append((job, io.submit(self._save, job, loaded, *denoised, time.perf_counter() - started)))
                    self._drain(keep=1 if small else 0)
            finally:
                self._drain(keep=0)  # finished writes are reported even after Ctrl-C
                self._remove_empty_folders()

    def _remove_empty_folders(self) -> None:
        """The output folders this run created and left empty (every file in them failed, or
        the run was stopped first), deepest first: a failed batch leaves nothing behind."""
        for folder in sorted(self.made, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty, or gone: left as it is
                folder.rmdir()


class _done:
    """A deferred call with the Future interface's `result`, for work not sent to a thread."""

    def __init__(self, call: Callable[[], LoadedFile]):
        self.call = call

    def result(self) -> LoadedFile:
        return self.call()
