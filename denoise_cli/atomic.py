"""Writing a file whole or not at all: a temporary file in the target folder, flushed and
synced, then linked or renamed into place. `denoise`'s outputs go through here, and so do the
files `denoise-train` writes where a user asked (a shipped model and its manifest, a test image,
a figure, a bench table); a training run's own checkpoint and export do the same in loop.py and
export.py, where torch and onnx write the temporary file."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import struct
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from denoise_cli.errors import DenoiseError, OutputExistsError


def write_atomically(path: Path, write: Callable[[BinaryIO], None], overwrite: bool = False) -> None:
    """Call `write` on a temporary file in `path`'s folder, fsync, then link or rename it into
    place: a reader never sees a half-written file, and without `overwrite` an existing file is
    never replaced; with it, the replaced file's permissions are kept and a symbolic link is
    written through. File-system errors become one-sentence DenoiseErrors. Opened for reading
    too: a multi-page TIFF writer reads back what it wrote."""
    if not overwrite and path.exists():
        raise OutputExistsError(f"{path}: exists already; pass --overwrite to replace it.")
    path = _written_path(path, overwrite)
    check_replaceable(path)
    tmp = _temporary_beside(path)
    try:
        with _as_denoise_errors(path):
            with open(tmp, "x+b") as f:
                write(f)
                f.flush()
                if overwrite:
                    _keep_permissions(tmp, path)
                os.fsync(f.fileno())
            _move_into_place(tmp, path, overwrite)  # closed first: Windows renames no open file
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def check_folder_writable(path: Path, overwrite: bool = False) -> None:
    """Create and remove an empty temporary file where `write_atomically` would write `path`, and
    look for free space there: a read-only file system, a folder the user may not write in, or a
    full disk is then refused before minutes of work on the picture, not after them. Raises what
    `write_atomically` would."""
    path = _written_path(path, overwrite)
    tmp = _temporary_beside(path)
    try:
        with _as_denoise_errors(path):
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            if _free_bytes(path.parent) == 0:  # an empty file takes no space; any picture does
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def folder_refusal(folder: Path) -> str | None:
    """Why nothing can be written in `folder`, found without writing anything (a dry run's
    check; os.access answers for a read-only file system too), or None."""
    if not os.access(folder, os.W_OK):
        return "read-only, or not yours to write in"
    return "no space left on its device" if _free_bytes(folder) == 0 else None


def _free_bytes(folder: Path) -> int | None:
    """The space this user may write in `folder` (root may use the blocks a file system keeps
    back for it, which others may not); None where the file system gives no sizes at all, as
    some FUSE mounts do, which is no sign of a full disk."""
    if hasattr(os, "statvfs"):
        found = os.statvfs(folder)
        free = (found.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else found.f_bavail) * found.f_frsize
        return free if found.f_blocks else None
    usage = shutil.disk_usage(folder)
    return usage.free if usage.total else None


def _written_path(path: Path, overwrite: bool) -> Path:
    """With `overwrite`, the file a symbolic link names gets the picture, as open() would write
    it; the link stays."""
    return path.resolve() if overwrite and path.is_symlink() else path


def _temporary_beside(path: Path) -> Path:
    """A fresh hidden name in `path`'s folder, after the target, shortened: a name near the
    255-byte limit must not fail for ours."""
    return path.parent / f".{os.fsdecode(os.fsencode(path.name)[:64])}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


@contextlib.contextmanager
def _as_denoise_errors(path: Path) -> Iterator[None]:
    """File-system and encoder errors on writing `path` as the one sentence a user reads."""
    try:
        yield
    except FileNotFoundError:
        raise DenoiseError(f"{path}: the output folder does not exist.") from None
    except PermissionError:
        raise DenoiseError(f"{path}: permission denied.") from None
    except FileExistsError:
        raise OutputExistsError(f"{path}: exists already (another process wrote it meanwhile); pass --overwrite to replace it.") from None
    except OSError as exc:
        raise DenoiseError(f"{path}: cannot write ({exc.strerror or exc}).") from None
    except (ValueError, TypeError, RuntimeError, struct.error) as exc:  # an encoder refusing what it was given
        raise DenoiseError(f"{path}: the encoder refused it ({exc}).") from None


def check_replaceable(path: Path) -> None:
    """Refuse a target that exists and is no regular file: renaming over a named pipe or a device
    (/dev/null, as root) would replace the node itself with our file."""
    if path.exists() and not path.is_file() and not path.is_dir():  # a folder fails on its own, as it should
        raise DenoiseError(f"{path}: not a regular file (a pipe or a device), which denoise does not replace; "
                           "-o - writes to standard output.")


def _keep_permissions(tmp: Path, path: Path) -> None:
    """Give the replacement the mode (and, where allowed, the group) of the file it replaces: a
    private photo (0600) must not come back readable by everyone."""
    try:
        old = os.stat(path)
    except OSError:  # nothing there to replace
        return
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
    if hasattr(os, "chown"):  # not on Windows
        with contextlib.suppress(OSError):  # only the owner's own groups are allowed, or root's
            os.chown(tmp, -1, old.st_gid)


# what link() says where a file system has no hard links: FAT and exFAT on Linux (EPERM) and
# macOS (ENOTSUP), FUSE and tape file systems (ENOSYS), Windows' "Incorrect function" on exFAT and
# FAT32 USB drives (WinError 1, which Python gives errno EINVAL), another device (EXDEV)
NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EXDEV)


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic create-if-absent
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        if path.exists():  # no hard links on this file system: best effort
            raise FileExistsError(path) from None
        os.replace(tmp, path)
