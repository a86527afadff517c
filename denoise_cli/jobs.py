"""Turn the command line's inputs (files, folders, globs) into (source, target) pairs.

Where outputs go when -o is not given:
- one file: `photo.png` -> `photo_denoised.png` beside it;
- a folder: `scans/` -> a sibling folder `scans_denoised/` (same file names, sub-folders mirrored
  with --recursive), never inside the input folder, so a second run does not pick it up;
- several files or globs: each beside its input with the suffix; inputs whose name already ends
  with the suffix are skipped as earlier outputs. `**` in a glob matches any depth of folders.
With -o: a file path for one input file, else a folder (created if missing). `-o` naming the
input folder itself puts each output over its input: skipped as the input itself, unless
--overwrite (in place), or beside it under another --format's extension. A URL is no input: its
message says how to pipe it in.
A folder's hidden files (.DS_Store, macOS's ._photo.jpg) and, with --recursive, its hidden
sub-folders are passed over.
"""

from __future__ import annotations

import glob
import os
import re
import urllib.parse
from collections.abc import Iterator
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import FORMAT_BY_SUFFIX, IMAGE_SUFFIXES, RAW_SUFFIXES, READ_ONLY_SUFFIXES, SUFFIX_BY_FORMAT, output_format


DEFAULT_SUFFIX = "_denoised"
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # a scheme of two letters or more: C:// is a Windows drive


def default_output(source: Path, suffix: str = DEFAULT_SUFFIX) -> Path:
    """photo.png -> photo_denoised.png, next to the input."""
    return source.with_name(f"{source.stem}{suffix}{source.suffix}")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    source_name: str | None = None  # what messages call the source, if not its path ("<stdin>")
    target_name: str | None = None  # likewise the target ("<stdout>": copied there once written)

    def shown(self, message: str) -> str:
        """A message with the paths of a piped source or target replaced by their names."""
        for path, name in ((self.source, self.source_name), (self.target, self.target_name)):
            if name is not None:
                message = message.replace(str(path), name)
        return message

    def why_skipped(self) -> str:
        """Why an existing target is left alone: in place (-o the input's own folder or name), it is
        the input itself, which wants different words from an earlier output."""
        try:
            in_place = self.source.samefile(self.target)
        except OSError:
            in_place = False
        return ("is the input itself (pass --overwrite to denoise it in place)" if in_place
                else "exists already (pass --overwrite to replace it)")

    @property
    def shown_source(self) -> str:
        return self.source_name or str(self.source)

    @property
    def shown_target(self) -> str:
        return self.target_name or str(self.target)


@dataclass
class JobPlan:
    jobs: list[Job]
    problems: list[str]  # inputs that matched nothing: one sentence each
    skipped: list[Path]  # inputs that look like earlier outputs
    make_folders: bool = True  # False for one file sent to a named file: its folder must exist
    raw_files: int = 0  # camera raw files in the folders and globs, passed over (imageio.RAW_SUFFIXES)
    broken_links: int = 0  # links named as pictures in the folders and globs whose file is missing, passed over
    unwritten: dict[str, int] = field(default_factory=dict)  # pictures in formats read but not written, by suffix, passed over without -f


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _is_read_only(path: Path) -> bool:
    return path.suffix.lower() in READ_ONLY_SUFFIXES and not path.name.startswith(".")


def _is_raw(path: Path) -> bool:
    return path.suffix.lower() in RAW_SUFFIXES and not path.name.startswith(".")


def _folder_files(folder: Path, recursive: bool, exclude: Path | None, problems: list[str]) -> list[Path]:
    """The folder's files, and its links whose file is missing (_broken); none from `exclude`
    (resolved: an output folder inside the input, which the walk gives as relative paths when
    the user wrote the folder so). A sub-folder that cannot be listed is one of `problems`; the
    folder itself, an OSError."""
    walk = _walk(folder, problems) if recursive else folder.iterdir()
    if exclude is not None:
        base = folder.resolve()
        walk = (p for p in walk if not (base / p.relative_to(folder)).is_relative_to(exclude))
    return sorted(p for p in walk if p.is_file() or _broken(p))


def _broken(path: Path) -> bool:
    """A link whose file is missing: on a drive not plugged in, say."""
    return path.is_symlink() and not path.exists()


def _caseless_matches(folder: str, name: str, is_pattern: bool) -> list[str]:
    """The paths in `folder` whose name matches `name` (a glob pattern, or a plain name) with
    the case of its letters ignored."""
    letters = name if is_pattern else [glob.escape(c) for c in name]
    caseless = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in letters)
    return sorted(glob.glob(os.path.join(folder if is_pattern else glob.escape(folder), caseless), recursive=is_pattern))


def _pattern_case_hint(pattern: str) -> str:
    """Words for a pattern that matched no image but would with the case of its file-name part
    ignored (cameras name files IMG_0001.JPG; "*.jpg" misses them); else none."""
    folder, name = os.path.split(os.path.expanduser(pattern))
    if "[" in name:  # a character class of the user's own
        return ""
    found = [m for m in _caseless_matches(folder, name, True) if Path(m).is_file() and _is_image(Path(m))]
    if not found:
        return ""
    return f" (patterns are case-sensitive; {len(found)} match{'es' if len(found) == 1 else ''} with the case ignored, e.g. {Path(found[0]).name})"


def _url_advice(url: str) -> str:
    """A URL is no file: say how to pipe it in, as the README does (curl ... | denoise -)."""
    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    return (f"{url}: a URL; denoise reads files and standard input, so download it first or pipe it in: "
            f"curl -sL '{url}' | denoise - -o clean{suffix if suffix in IMAGE_SUFFIXES else '.png'}")


def _name_case_hint(text: str) -> str:
    """Words for a name that names nothing, where one differing only in case exists ("Shots"
    for "shots"); else none."""
    typed = text.rstrip("/" + os.sep)
    folder, name = os.path.split(os.path.expanduser(typed))
    found = _caseless_matches(folder, name, False) if name else []
    return f" (names are case-sensitive; did you mean {os.path.join(os.path.split(typed)[0], Path(found[0]).name)}?)" if found else ""


def _walk(folder: Path, problems: list[str]) -> Iterator[Path]:
    """Everything under `folder` but hidden folders (.git, .thumbnails, .Trash-1000: not the
    user's pictures, as hidden files are not); symbolic links to folders are not followed."""
    def unlisted(exc: OSError) -> None:
        if exc.filename is None or Path(exc.filename) == folder:  # the folder itself: the caller's, as without --recursive
            raise exc
        problems.append(_unlisted(exc, folder))

    for root, folders, files in os.walk(folder, onerror=unlisted):
        folders[:] = [name for name in folders if not name.startswith(".")]
        yield from (Path(root, name) for name in [*folders, *files])


def _unlisted(exc: OSError, folder: Path) -> str:
    return f"{exc.filename or folder}: cannot list the folder ({exc.strerror or exc})."


def not_a_file(text: str) -> str:
    """A path that exists but is no file: a named pipe, a device, bash's <(...)."""
    return f"{text}: not a regular file (a pipe or a device); send its bytes to standard input instead: denoise - < {text}"


def with_format(target: Path, fmt: str | None) -> Path:
    """The target under the extension of the format `fmt` asks for (-o clean.jpg -f png writes
    clean.png: a file's name must not say JPEG over PNG bytes); an extension that names that
    format already is the user's and stays (clean.jpeg, scan.tiff)."""
    if not fmt:
        return target
    chosen = output_format(target, fmt)
    return target if FORMAT_BY_SUFFIX.get(target.suffix.lower()) == chosen else target.with_suffix(SUFFIX_BY_FORMAT[chosen])


def _sibling(folder: Path, suffix: str) -> Path:
    """scans/ -> scans_denoised, as the user wrote it; `.` or `..` are resolved to get a name."""
    if folder.name in ("", ".", ".."):
        folder = folder.resolve()
    return folder.parent / f"{folder.name}{suffix}"


def _one_job_per_output(jobs: list[Job], problems: list[str]) -> tuple[list[Job], list[str]]:
    """Each output written by one job: the first to claim it, unless another denoises that very
    file in place (a folder into itself with --overwrite -f png, holding a.jpg and a.png: a.png's
    own result goes there, and a.jpg's must not replace it). The same file named twice is done
    once, silently; the other jobs that claim an output fail, saying how to keep both."""
    owner: dict[Path, Job] = {}  # resolved target -> the job that writes it
    displaced: list[tuple[Job, Path]] = []  # (a job not done, its output)
    for job in jobs:
        key = job.target.resolve()
        first = owner.setdefault(key, job)
        if first is job or first.source.resolve() == job.source.resolve():
            continue
        if job.source.resolve() == key:  # denoised in place: it keeps its own file
            owner[key], job = job, first
        displaced.append((job, key))
    order = {id(job): k for k, job in enumerate(jobs)}
    for job, key in sorted(displaced, key=lambda pair: order[id(pair[0])]):  # said in the order given
        winner = owner[key]
        if winner.source.name == job.source.name:
            advice = "files of one name from two folders: give each folder its own -o"
        elif _is_read_only(winner.source) or _is_read_only(job.source):  # -f is what takes those in
            advice = "pictures that differ only by extension: give each its own -o"
        else:
            advice = "pictures that differ only by extension: leave out -f, or give each its own -o"
        whose = (f"{winner.source} itself, which is denoised in place" if winner.source.resolve() == job.target.resolve()
                 else f"already that of {winner.source}")
        problems.append(f"{job.source}: not denoised: its output {job.target} is {whose} ({advice}).")
    kept = {id(job) for job in owner.values()}
    return [job for job in jobs if id(job) in kept], problems


def names_folder(output: str | os.PathLike) -> bool:
    """-o names a folder for one input file: an existing folder, or a path ending with a slash
    (which Path() would drop, so it is read from the text the user gave)."""
    text = os.fspath(output)
    return Path(text).is_dir() or text.endswith(("/", os.sep))


def single_target(source: Path, output: str | os.PathLike | None, suffix: str, fmt: str | None) -> Path:
    """Where one input file goes: beside it with the suffix, into the folder -o names
    (names_folder), or to the file -o names."""
    if output is None:
        target = default_output(source, suffix)
    elif names_folder(output):
        target = Path(output) / source.name
    else:
        target = Path(output)
    return with_format(target, fmt)


def plan_jobs(inputs: list[str], output: str | os.PathLike | None, *, recursive: bool = False, suffix: str = DEFAULT_SUFFIX, fmt: str | None = None) -> JobPlan:
    """Expand inputs and choose every output path (see the module docstring for the rules)."""
    problems: list[str] = []
    files: list[Path] = []  # explicit files and glob matches
    folders: list[Path] = []
    raw_files = broken_links = 0
    unwritten: Counter[str] = Counter()  # READ_ONLY_SUFFIXES found, without a --format to write them in

    def wanted(found: list[Path]) -> list[Path]:
        """The pictures to denoise among files found: those in formats denoise writes, and those
        it only reads when -f says what to write (else counted in `unwritten`)."""
        if fmt is None:
            unwritten.update(p.suffix.lower() for p in found if _is_read_only(p))
        return [p for p in found if not _broken(p) and (_is_image(p) or (fmt is not None and _is_read_only(p)))]
    if "/" in suffix or os.sep in suffix:
        raise DenoiseError(f"--suffix {suffix!r} holds a path separator; it is added to file names, so it cannot (use -o for another folder).")
    for text in inputs:
        if not text.strip():
            problems.append("an input is empty (an unset shell variable?); skipped.")
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            files.append(path)
        elif URL.match(text):  # before globs: a query's "?" is no wildcard
            problems.append(_url_advice(text))
        elif glob.has_magic(text):
            # "**" means any depth, as in bash's globstar and zsh, with or without --recursive
            found = [Path(m) for m in sorted(glob.glob(os.path.expanduser(text), recursive=True)) if Path(m).is_file() or _broken(Path(m))]
            matches = wanted(found)
            raw_files += sum(map(_is_raw, found))
            broken_links += sum(1 for m in found if _is_image(m) and _broken(m))
            files.extend(matches) if matches else problems.append(f"{text}: no image matches this pattern{_pattern_case_hint(text)}.")
        elif path.exists():  # a named pipe, a device, <(...) in bash: bytes to read once, no file to write beside
            problems.append(not_a_file(text))
        elif _broken(path):
            problems.append(f"{text}: a link to {os.readlink(path)}, which is missing (on a drive not plugged in?).")
        else:
            problems.append(f"{text}: no such file or folder{_name_case_hint(text)}.")

    if len(inputs) == 1 and not files and not folders:  # its one problem says it all; -o is not the matter
        return JobPlan([], problems, [], raw_files=raw_files, broken_links=broken_links, unwritten=dict(unwritten))
    if len(inputs) == 1 and len(files) == 1 and not folders:
        target = single_target(files[0], output, suffix, fmt)
        return JobPlan([Job(files[0], target)], problems, [], make_folders=output is not None and names_folder(output))

    output = Path(output) if output is not None else None
    if output is not None and output.exists() and not output.is_dir():
        raise DenoiseError(f"-o {output}: with several inputs or a folder, -o must be a folder, and this is a file.")
    if output is not None and not output.exists() and output.suffix.lower() in IMAGE_SUFFIXES:
        raise DenoiseError(f"-o {output}: with several inputs or a folder, -o names a folder to create, and this looks like an image file's name.")
    jobs: list[Job] = []
    skipped: list[Path] = []
    for folder in folders:
        out_root = output if output is not None else _sibling(folder, suffix)
        # an output folder inside the input is not walked; the input folder itself is (in place)
        exclude = out_root.resolve() if output is not None and out_root.resolve() != folder.resolve() else None
        try:
            found = _folder_files(folder, recursive, exclude, problems)
        except OSError as exc:  # an unreadable folder, or one removed while we look
            problems.append(_unlisted(exc, folder))
            continue
        raw_files += sum(map(_is_raw, found))
        broken_links += sum(1 for p in found if _is_image(p) and _broken(p))
        for source in wanted(found):
            jobs.append(Job(source, with_format(out_root / source.relative_to(folder), fmt)))
    for source in files:
        if output is None:
            if source.stem.endswith(suffix):
                skipped.append(source)
                continue
            target = default_output(source, suffix)
        else:
            target = output / source.name
        jobs.append(Job(source, with_format(target, fmt)))

    unique, problems = _one_job_per_output(jobs, problems)
    return JobPlan(unique, problems, skipped, raw_files=raw_files, broken_links=broken_links, unwritten=dict(unwritten))
