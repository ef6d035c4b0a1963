"""The batch's progress bar, on stderr only, for people who watch long work. Part of the views, with
render.py."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # imported where used: the bar is made only once work takes longer than the delay
    from rich.progress import Progress, TaskID


class Meter:
    """Progress on stderr for long work: nothing during the first `delay` seconds, then a bar when the
    total is known (bytes of a file, points of a grid) or a running count when it is not (a pipe).

    The bar never touches stdout (Rich's Progress redirects stdout by default, which would send the
    results of `bpcli … > out.csv` to the screen), and it is cleared when the work ends.
    """

    def __init__(self, unit: str, total: int | None, console: Console | None = None, delay: float = 1.0) -> None:
        self.unit, self.total, self.delay = unit, total, delay
        self.console = console or Console(stderr=True)
        self.done = 0
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID   # set with the bar

    def advance(self, n: int, total: int | None = None) -> None:
        """Count `n` more bytes or points (of `total`, when the caller knows it only now); show the bar
        once the work has taken longer than the delay."""
        self.done += n
        self.total = total or self.total
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self.bar = self._start()
        self.bar.update(self.task, completed=self.done)

    def _start(self) -> Progress:
        from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, \
            TimeElapsedColumn, TimeRemainingColumn

        count = TextColumn("{task.fields[count]}")
        what = "rows" if self.unit == "bytes" else "grid"
        columns: list[str | ProgressColumn] = (
            [what, BarColumn(), TaskProgressColumn(), count, TimeRemainingColumn()] if self.total
            else [what, count, TimeElapsedColumn()])
        bar = Progress(*columns, console=self.console, transient=True, redirect_stdout=False,
                       redirect_stderr=False)
        self.task = bar.add_task("batch", total=self.total or None, count=_Count(self))
        bar.start()
        return bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class _Count:
    """The progress line's count, in the meter's unit: `3.2 MB of 12.0 MB`, `45,000 of 100,000 points`."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def __str__(self) -> str:
        m = self.meter
        if m.unit != "bytes":
            return f"{m.done:,} of {m.total:,} {m.unit}" if m.total else f"{m.done:,} {m.unit}"
        return f"{_bytes(m.done)} of {_bytes(m.total)}" if m.total else f"{_bytes(m.done)} read"


def _bytes(n: float) -> str:
    units = ("bytes", "kB", "MB", "GB")
    k = 0
    while n >= 1000 and k < len(units) - 1:
        n, k = n / 1000, k + 1
    return f"{n:.0f} bytes" if k == 0 else f"{n:.1f} {units[k]}"


class _Counting:
    """A binary stream that reports how many bytes were read."""

    def __init__(self, stream, advance) -> None:
        self.stream, self.advance = stream, advance

    def read1(self, size: int = -1) -> bytes:
        data = self.stream.read1(size)
        self.advance(len(data))
        return data


@contextlib.contextmanager
def progress(stream, total: int | None, console: Console | None = None, delay: float = 1.0):
    """`stream` wrapped so that reading it drives a Meter of bytes (total None: a pipe, size unknown)."""
    meter = Meter("bytes", total, console, delay)
    try:
        yield _Counting(stream, meter.advance)
    finally:
        meter.close()
