"""Files bpcli writes: whole or not at all, and never onto the file a command reads its program from."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from bpcli.errors import InputError


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one existing file (through links, `./`, another spelling of the folder)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_whole(path: str, data: str | bytes) -> None:
    """Write `data` to `path` whole or not at all: into a new file in the same folder, flushed to the disk,
    then renamed over `path` (one atomic step, so a reader or a concurrent writer sees the old file or the
    new one, never a mix); on any failure the new file is removed and `path` is as it was. A link is
    followed, so the file it points to is replaced. A device or FIFO (`/dev/null`, a pipe) is written
    directly, since renaming over it would replace the device. InputError when it cannot be written."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror}") from None
    try:
        if mode is not None and not stat.S_ISREG(mode):
            with open(target, "wb") as handle:
                handle.write(data)
            return
        _replace(target, data, stat.S_IMODE(mode) if mode is not None else None)
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}") from None


def _replace(target: str, data: bytes, mode: int | None) -> None:
    folder, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            # mkstemp makes the file private (0600); the result gets the old file's mode, or a new file's.
            os.chmod(handle.fileno(), mode if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:  # Ctrl-C too: the half-made file must not stay behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder or ".")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable; where a folder cannot be opened (Windows), the rename still stands."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
