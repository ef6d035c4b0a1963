"""Files and the standard streams: input read whole with a size cap, files written whole or not at all,
standard output whose failures are errors with a status, and blocks of rows that Ctrl-C does not cut.

No Click here: the CLI calls `standard_streams` once per process and reports what this module raises.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
import sys
from typing import BinaryIO

from bpcli.errors import InputError, OutputError

# An expression, program or --vars file read whole. The largest inputs bpcli is measured on (10⁶ gates, or
# a third as many variables, in benchmarks/huge_expressions.py) are 3 to 8 MB; 64 MiB of text would be a
# graph of some 10⁷ gates, gigabytes in memory, so a longer input is not a program but a mistake
# (`< /dev/zero`, a binary file).
MAX_INPUT = 1 << 26
_CHUNK = 1 << 20


def read_capped(stream: BinaryIO, where: str, cap: int = MAX_INPUT) -> bytearray:
    """All of a buffered `stream`, read a chunk at a time, so that an endless stream costs at most `cap`
    bytes; InputError when it holds more than `cap` or cannot be read."""
    try:
        with blocking(stream):
            return _read_capped(stream, where, cap)
    except OSError as err:
        raise InputError(f"cannot read {where}: {err.strerror or err}") from None


def _read_capped(stream: BinaryIO, where: str, cap: int) -> bytearray:
    data = bytearray()  # grown in place: the peak is the input and one chunk, not the chunks and their join
    while True:
        wanted = min(_CHUNK, cap + 1 - len(data))
        chunk = stream.read(wanted)
        data += chunk
        if len(data) > cap:
            raise InputError(f"{where} is longer than {cap >> 20} MiB: not an expression or values")
        # A buffered read returns less only at the end; reading on would wait for a second Ctrl-D.
        if len(chunk) < wanted:
            return data


def read_path(path: str) -> bytearray:
    """A file read whole, with the cap of `read_capped`."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; open's own errors read "cannot read"
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    with handle:
        return read_capped(handle, path)


class Reading:
    """A binary stream read as it arrives (`read1`) whose read errors are InputError naming it."""

    def __init__(self, stream: BinaryIO, where: str) -> None:
        self.stream, self.where = stream, where

    def read1(self, size: int = -1) -> bytes:
        read = self.stream.read1 if hasattr(self.stream, "read1") else self.stream.read
        try:
            return read(size)
        except OSError as err:
            raise InputError(f"cannot read {self.where}: {err.strerror or err}") from None

    def fileno(self) -> int:
        return self.stream.fileno()


@contextlib.contextmanager
def blocking(stream):
    """A descriptor that another program left non-blocking, blocking for the block: otherwise a read
    before the data arrives returns nothing, which reads as the end of the input."""
    try:
        fd = stream.fileno()
        was = os.get_blocking(fd)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # no descriptor: a test's BytesIO
        yield
        return
    if not was:
        os.set_blocking(fd, True)
    try:
        yield
    finally:
        if not was:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, False)


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
    import tempfile   # here, not at the top: with shutil, bz2 and lzma it is a tenth of a plain run's start-up

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


@contextlib.contextmanager
def uninterrupted():
    """Hold Ctrl-C (SIGINT) back until the block is done: a block of rows is written whole or not at all.
    The signal is not lost; it arrives, as KeyboardInterrupt, when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class Output(io.BufferedWriter):
    """The bytes under standard output, whose write errors (a full disk, a closed descriptor, EIO) are
    OutputError, with the reason, rather than OSError. Bytes, so that any text layer on top reports them
    too (Click makes its own where the locale's encoding is not one it trusts). After the first error the
    rest goes to the null device: the output is lost already, and Python's flush at exit must not report
    it a second time."""

    def write(self, data) -> int:
        try:
            return super().write(data)
        except OSError as err:
            raise self._lost(err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as err:
            raise self._lost(err) from None

    def _lost(self, err: OSError) -> OutputError:
        if err.errno == errno.EPIPE:  # the reader went away (`| head`): end as other tools do, by SIGPIPE
            _die_by_sigpipe()
        _to_null(self.fileno())
        return OutputError(f"cannot write standard output: {err.strerror or err}")


def _die_by_sigpipe() -> None:
    """End the process by SIGPIPE (status 141 in a shell). SIGPIPE is ignored while bpcli runs, so that a
    reader of stderr that goes away cannot kill a run whose results are still being written to stdout."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


class Messages(io.BufferedWriter):
    """The bytes under standard error, where a message that cannot be written (`2> /dev/full`) is
    dropped: there is no other place to report it, and the exit status still says what happened."""

    def write(self, data) -> int:
        try:
            return super().write(data)
        except OSError:
            _to_null(self.fileno())
            return len(data)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            _to_null(self.fileno())


def _to_null(fd: int) -> None:
    """Point `fd` at the null device, so that what is still buffered for it goes nowhere, quietly."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def standard_streams() -> None:
    """Make stdin, stdout and stderr safe for a whole process.

    A closed descriptor (`<&-`, `>&-`) is opened on the null device the wrong way round, so that reading
    stdin or writing stdout fails with EBADF, as it would closed, and is reported as such; and so that a
    file bpcli opens cannot take its number and receive output meant for stdout. Stdout is then written
    through `Output`, stderr through `Messages`; a character the stream's encoding lacks (∂ with
    PYTHONIOENCODING=ascii) is written as its escape, `\\u2202`, rather than ending the run.
    """
    for fd, flags in ((0, os.O_WRONLY), (1, os.O_RDONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, flags)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for name, fd, layer in (("stdout", 1, Output), ("stderr", 2, Messages)):
        old = getattr(sys, name)
        if old is not None:
            old.flush()
        setattr(sys, name, io.TextIOWrapper(
            layer(io.FileIO(fd, "w", closefd=False)), encoding=getattr(old, "encoding", None) or "utf-8",
            errors="backslashreplace", line_buffering=getattr(old, "line_buffering", True)))
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - for the life of the process
