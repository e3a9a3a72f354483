"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash or Ctrl-C mid-write leaves the old file (or none), never a half-written one.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)


_WRITE_FAILURES = {  # errno -> what to tell the user; any other OSError stays a bug's traceback
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


# What to do about any other file-system error on a path the user named, by errno: the CLI's net
# under every command (checks before the work catch the common cases with a better message).
_OS_ERROR_FIXES = {
    errno.EACCES: "check its permissions, or give a path you can read and write",
    errno.EPERM: "check its permissions, or give a path you can read and write",
    errno.EROFS: "give a path on a writable file system",
    errno.EISDIR: "a folder is in the way: move it, or give another path",
    errno.ENOTDIR: "a file is in the way of a folder in that path: move it, or give another path",
    errno.EEXIST: "a file is in the way of a folder in that path: move it, or give another path",
    errno.ENOENT: "check the path: a folder in it does not exist or cannot hold files",
    errno.ENAMETOOLONG: "give a shorter name (set `name` or pass --out)",
    errno.ENOSPC: "free some disk space, or give a path on another disk",
}


def missing_folders(path: str | os.PathLike) -> list[Path]:
    """The folders of `path` (itself included) that do not exist yet, deepest first: what a mkdir(parents=True)
    is about to make, for `remove_empty_folders` to undo when the work that needed them fails."""
    path = Path(path)
    return [p for p in (path, *path.parents) if not os.path.lexists(p)]


def remove_empty_folders(folders: list[Path]) -> None:
    """rmdir each folder, deepest first, skipping those not made, stopping at the first that holds something."""
    for folder in folders:
        if not os.path.isdir(folder):  # never made (its name too long, say); Path.is_dir raises for that
            continue
        try:
            folder.rmdir()
        except OSError:
            return


def os_error_line(exc: OSError) -> str:
    """One line for a file-system error on a path: the path, what the system said, and the fix."""
    fix = _OS_ERROR_FIXES.get(exc.errno, "check the path")
    return f"{exc.filename}: {exc.strerror or exc}; {fix}."


class WriteFailure(UserError):
    """A write failed for a reason the user can fix (`reason`: 'the disk is full', ...)."""

    def __init__(self, path, reason: str, resumable: bool = False):
        again = "run it again with --resume: training continues from its last checkpoint" if resumable else \
            "run the command again"
        super().__init__(f"{path}: could not be written: {reason}. Nothing was half-written; free space or fix the "
                         f"folder and {again}.")
        self.path, self.reason = path, reason


def write_failure(path, exc: OSError) -> WriteFailure | None:
    """A one-line WriteFailure for a write that failed for a reason the user can fix; None for others."""
    why = _WRITE_FAILURES.get(exc.errno)
    return WriteFailure(path, why) if why else None


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path` atomically.

    A full disk (or a read-only or forbidden folder) is a UserError naming `path`.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        failure = write_failure(path, exc) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        if isinstance(exc, OSError) and exc.filename is not None and Path(exc.filename).parent == path.parent \
                and Path(exc.filename).name.startswith(f".{path.name}."):
            exc.filename, exc.filename2 = str(path), None  # the user named `path`; its temporary sibling means nothing to them
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


LINK_LOOP = "a symbolic link that cannot be followed (a loop of links)"


def entry_kind(path: str | os.PathLike) -> str | None:
    """What is at `path`, in words: 'a file', 'a directory', 'a named pipe (FIFO)', ...; None if nothing.

    For messages that must say what is there instead of a bare "missing" or "not a file", and so
    that nothing opens a FIFO (which blocks) or a device where a regular file belongs.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else None
    except PermissionError:
        return "in a folder that cannot be searched (permission denied)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link to itself, or a cycle of links
            return LINK_LOOP
        if exc.errno == errno.ENAMETOOLONG:
            return "a path too long for the system"
        return None  # ENOTDIR: a file stands where a folder on the way belongs; nothing is at `path`
    except ValueError:  # a NUL byte in the name
        return None
    for test, words in (
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def check_output_file(path: str | os.PathLike, flag: str = "--out", example: str = "out.png") -> Path:
    """Refuse, before any work, an output file path that cannot be written as a file.

    It must not be a directory or other non-file, no folder above it may be a file, and the
    nearest existing folder above it must let us create files (probed with a nameless temporary
    file). Raises UserError naming the flag, the path and what is in the way.
    """
    from .errors import UserError

    if os.fspath(path).endswith(("/", os.sep)):  # Path() drops the slash: a new folder's name would become the file's
        raise UserError(f"{flag} {os.fspath(path)} names a folder; give a file name inside it, such as "
                        f"{Path(path) / example}.")
    path = Path(path)
    kind = entry_kind(path)
    if kind == "a directory":
        raise UserError(f"{flag} {path} is a directory; give a file name inside it, such as {path / example}.")
    if kind not in (None, "a file"):
        raise UserError(f"{flag} {path} is {kind}, not a file; give another file name.")
    for parent in path.parents:
        above = entry_kind(parent)
        if above is None:
            continue
        if above != "a directory":
            raise UserError(f"{flag} {path}: {parent} is {above}, not a folder; give a path under a folder.")
        try:
            tempfile.TemporaryFile(dir=parent).close()
        except OSError as exc:
            raise UserError(f"{flag} {path}: cannot create files in {parent} ({exc.strerror}); "
                            "give a path in a folder you can write.") from None
        break
    return path
