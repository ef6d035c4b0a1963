"""`bpcli grad --batch/--grid`: the command-line side of many points (files, stdin, progress bar).

Part of the CLI layer (bpcli.cli, the only package that imports click).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import stat
import sys

import click

from bpcli import files
from bpcli.cli.actions import say, waiting_for, warn
from bpcli.errors import DomainError, InputError
from bpcli.points import ROW_FORMATS


def run_batch(source, values: dict, wrt, fmt: str, batch_file, batch_format, grid, on_error: str) -> None:
    from bpcli import api

    if batch_file and grid:
        raise InputError("give --batch or --grid, not both")
    if batch_file == "-" and source.origin == "<stdin>":
        raise InputError("the expression and --batch cannot both come from standard input")
    if fmt not in ROW_FORMATS and _given("fmt"):  # the default table means: the input's own format
        rows = f"{', '.join(ROW_FORMATS[:-1])} or {ROW_FORMATS[-1]}"
        raise InputError(f"--format {fmt} is for one point; with --batch or --grid use {rows}")
    handle = None
    if batch_file and batch_file != "-":
        try:
            handle = open(batch_file, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise InputError(f"cannot read {batch_file}: {err.strerror}") from None
    stream: files.Reading | _Replay | None
    if batch_file == "-":
        waiting_for("the batch's rows")
        stream = files.Reading(sys.stdin.buffer, "standard input")
    elif handle is not None:
        stream = files.Reading(handle, batch_file)
    else:
        stream = None
    try:
        with files.blocking(stream):  # a pipe left non-blocking would read as ended
            size = _size(stream) if stream is not None else None
            in_fmt = batch_format or _format_of(batch_file) if batch_file else "csv"
            if in_fmt is None:
                in_fmt, stream = _sniff(stream)
            out_fmt = fmt if fmt in ROW_FORMATS else (in_fmt if batch_file else "csv")
            with _progress(stream, size) as (rows, points):
                spec = api.Batch(rows, in_fmt, grid, out_fmt, on_error, points, warn)
                _, failed = api.batch(source, values, wrt, spec, sys.stdout)  # warnings: told to `warn`
    finally:
        if handle is not None:
            handle.close()
    for line in failed:
        say(f"bpcli: error: {line}")
    if failed:
        raise DomainError(f"{len(failed)} row(s) could not be computed")


def _given(param: str) -> bool:
    """Whether the option was given (on the command line or in the environment), not left at its default."""
    source = click.get_current_context().get_parameter_source(param)
    return source not in (None, click.core.ParameterSource.DEFAULT)


@contextlib.contextmanager
def _progress(stream, size: int | None):
    """(the stream to read, a callback for grid points): progress on stderr once the work takes a while,
    only where a person watches stderr while stdout goes elsewhere (a file, a pipe). When stdout is the
    terminal too, the rows are the progress."""
    if not sys.stderr.isatty() or sys.stdout.isatty():
        yield stream, None
        return
    from bpcli.views import progress_bar

    delay = _delay()
    if stream is not None:
        with progress_bar.progress(stream, size, delay=delay) as counted:
            yield counted, None
        return
    meter = progress_bar.Meter("points", None, delay=delay)
    try:
        yield None, meter.advance
    finally:
        meter.close()


def _delay() -> float:
    """Seconds of work before the bar appears: $BPCLI_PROGRESS_AFTER, or 1."""
    try:
        return max(0.0, float(os.environ.get("BPCLI_PROGRESS_AFTER", "1")))
    except ValueError:
        return 1.0


def _size(stream) -> int | None:
    """The size of a regular file; None for a pipe, a FIFO or a terminal, whose size is not known."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None


def _format_of(path: str) -> str | None:
    """The format a file name's ending names: .csv, .tsv, .jsonl…; None for stdin and other names."""
    if "." not in path:
        return None
    ending = path.rsplit(".", 1)[-1].lower()
    return {"csv": "csv", "tsv": "tsv", "tab": "tsv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}.get(ending)


def _sniff(stream) -> tuple[str, _Replay]:
    """jsonl when the input's first byte that is not blank is {, else csv; and the stream, none of it lost.
    Reads only what has arrived until such a byte shows, so a pipe still streams."""
    head = b""
    while not head.removeprefix(codecs.BOM_UTF8).strip():
        chunk = stream.read1(1 << 16) if hasattr(stream, "read1") else stream.read(1 << 16)
        if not chunk:
            break
        head += chunk
    first = head.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    return ("jsonl" if first == b"{" else "csv"), _Replay(head, stream)


class _Replay:
    """A binary stream that first gives back the bytes already read from it."""

    def __init__(self, head: bytes, stream) -> None:
        self.head, self.stream = head, stream

    def read1(self, size: int = -1) -> bytes:
        head, self.head = self.head, b""
        if head:
            return head
        return self.stream.read1(size) if hasattr(self.stream, "read1") else self.stream.read(size)
