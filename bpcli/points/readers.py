"""Batch input and output: rows in (CSV, TSV, JSON Lines, or a grid), rows out, streamed chunk by chunk.

Input is read with `read1`, which returns what a pipe has ready, so output starts before the input ends
and memory stays bounded. Rows keep their order. Row numbers count data rows from 1 (a CSV header is
not a row). Imports NumPy (through `batch`): only the batch path imports this module.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from bpcli.points.np_exact import np

from bpcli.points import arrays
from bpcli.points import bindings
from bpcli.points.grids import Grid, grid_chunks
from bpcli.points import records
from bpcli.errors import DomainError, InputError, listed
from bpcli.core.graph import Graph
from bpcli.points.writers import Writer as _Writer

csv.field_size_limit(records.MAX_LINE)  # a cell may be as long as a line may (the csv module stops at 128 KiB)
GRID_CHUNK = 1 << 16
MAX_POINTS = 10 ** 12      # a grid larger than this is surely a typo (and would not fit in int64 products)


@dataclass
class Outcome:
    """What a batch run did: rows written and rows that failed (row number, message)."""

    rows: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def parse_grid(text: str) -> Grid:
    """`x=0:10:0.1` → Grid(x, 0, 0.1, 101, 10); the end is included when it lies on the grid."""
    name, eq, spec = text.partition("=")
    parts = spec.split(":")
    given = [bindings.plain_number(p) for p in parts] if eq and len(parts) == 3 else []
    numbers = [v for v in given if v is not None]
    if len(numbers) != 3 or not bindings.is_name(name.strip()):
        raise InputError(f"--grid {text!r}: expected NAME=START:END:STEP, e.g. x=0:10:0.1")
    start, end, step = numbers
    if not all(math.isfinite(v) for v in (start, end, step)) or step == 0 or (end - start) * step < 0:
        raise InputError(f"--grid {text!r}: the step must be non-zero and go from START towards END")
    span = (end - start) / step
    if not math.isfinite(span):  # END − START overflows: the same quotient, in two parts
        span = end / step - start / step
    if not span < MAX_POINTS:
        raise InputError(f"--grid {text!r}: more than {MAX_POINTS:.0e} points is too many")
    # END counts when it is on the grid up to rounding: of START and END (half an ulp each, magnified by
    # the division when STEP is small) and of the arithmetic (a few ulps of the quotient).
    slack = (math.ulp(start) + math.ulp(end)) / abs(step) + 4 * math.ulp(span)
    return Grid(name.strip(), start, step, int(math.floor(span + slack)) + 1, end)


def check_grids(grids: Sequence[Grid]) -> None:
    """One grid per name, and a product of a sane size."""
    names = [g.name for g in grids]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"--grid {twice[0]} is given twice")
    total = math.prod(g.count for g in grids)
    if total > MAX_POINTS:
        raise InputError(f"the grids have {total:.3g} points together: too many (at most {MAX_POINTS:.0e})")


def run_grid(graph: Graph, grids: Sequence[Grid], constants: dict[str, float], wrt: Sequence[str],
             out: TextIO, fmt: str, on_error: str, progress=None) -> Outcome:
    """Every point of the product of the grids; `progress(n, total)` is told of each chunk done."""
    writer = _Writer(out, fmt, [g.name for g in grids], wrt)
    outcome = Outcome()
    total = math.prod(g.count for g in grids)
    for chunk in grid_chunks(grids, GRID_CHUNK):
        size = len(next(iter(chunk.values())))
        _process(graph, chunk, constants, wrt, [None] * size, writer, outcome, on_error)
        if progress is not None:
            progress(size, total)
    return outcome


def run_rows(graph: Graph, source: BinaryIO, in_fmt: str, constants: dict[str, float], wrt: Sequence[str],
             out: TextIO, fmt: str, on_error: str, overridden=None) -> Outcome:
    """Every row of a CSV/TSV/JSON Lines stream; `overridden(name)` is told of each column (or key) that a
    constant takes the place of, when first seen."""
    needed = [n for n in graph.input_names if n not in constants]
    reader = _Rows(in_fmt, needed, [n for n in graph.input_names if n in constants], overridden)
    writer = None
    outcome = Outcome()
    for block in records.blocks(source, None if in_fmt == "jsonl" else reader.delimiter):
        columns, problems = reader.parse(block)
        if writer is None:
            if reader.columns is None:
                continue
            writer = _Writer(out, fmt, reader.columns, wrt)
        if problems:  # one entry per row read
            _process(graph, columns, constants, wrt, problems, writer, outcome, on_error)
    if writer is not None:
        writer.flush()  # a header with no rows still prints its header
    return outcome


def _process(graph, columns, constants, wrt, problems: list[str | None], writer, outcome: Outcome,
             on_error: str) -> None:
    """Compute a chunk and write it; `problems` holds a message for rows that could not be read."""
    every = problems.count(None) == len(problems)   # every row read: its columns as they are, not copied
    good = range(len(problems)) if every else [i for i, p in enumerate(problems) if p is None]
    read = columns if every else {k: v[good] for k, v in columns.items()}
    result = arrays.run(graph, {**constants, **read}, wrt) if good else None
    if result is not None and every and result.all_fine and _rows_at_once(columns, writer, result, wrt):
        outcome.rows += len(good)
        writer.flush()
        return
    errors = list(problems)
    if result is not None:
        for j, i in enumerate(good):
            errors[i] = result.errors[j]
    position = {i: j for j, i in enumerate(good)}
    for i, error in enumerate(errors):
        outcome.rows += 1
        if error is not None:
            outcome.failed.append((outcome.rows, error))
            if on_error == "stop":
                writer.flush()
                raise DomainError(f"row {outcome.rows}: {error}")
            if on_error == "null":
                writer.row([_cell(columns, k, i) for k in writer.inputs], None, None)
            continue
        j = position[i]
        assert result is not None  # the row was read, so it was computed
        writer.row([_cell(columns, k, i) for k in writer.inputs], result.value[j],
                   [result.gradient[n][j] for n in wrt])
    writer.flush()


def _rows_at_once(columns, writer, result: arrays.Chunk, wrt) -> bool:
    """Write a chunk whose every row was read and computed as one block of text; False (nothing written)
    when a number is not finite, which the row-by-row path writes as it always has."""
    table = np.empty((len(result.value), len(writer.keys)))
    for k, column in enumerate([*(columns[name] for name in writer.inputs), result.value,
                                *(result.gradient[name] for name in wrt)]):
        table[:, k] = column
    if not np.isfinite(table).all():
        return False
    writer.numbers(table.ravel().tolist(), len(table))
    return True


def _cell(columns, name: str, i: int) -> float | None:
    value = columns[name][i]
    return None if math.isnan(value) else float(value)


# Bytes that send a block to the careful path: quotes, and blanks, since NumPy reads a field of blanks
# as -1 (a field float() refuses); in CSV a tab is a blank too, so it may not stand in for a comma.
_CAREFUL = {"csv": (b'"', b" ", b"\t", b"\x0b", b"\x0c"), "tsv": (b'"', b" ", b",", b"\x0b", b"\x0c")}
_NOT_SEPARATORS = {sep: bytes(range(256)).translate(None, sep + b"\n") for sep in (b",", b"\t")}


class _Rows:
    """Parses lines into float columns; a malformed row becomes a NaN row with a message."""

    def __init__(self, fmt: str, needed: list[str], constants: Sequence[str] = (), overridden=None) -> None:
        self.fmt, self.needed = fmt, needed
        self.constants, self.overridden = list(constants), overridden   # inputs given a value, and whom to tell
        self.columns: list[str] | None = None if fmt != "jsonl" else list(needed)
        self.header: list[str] | None = None
        self.keep: list[int] = []   # where each of `columns` is in the header
        self.first = True

    def parse(self, block: bytes) -> tuple[dict[str, np.ndarray], list[str | None]]:
        """Float columns for a block of lines, and per row read a message or None."""
        first, self.first = self.first, False
        fast = self.plain(block) if self.header is not None and self.fmt != "jsonl" else None
        return fast if fast is not None else self.parse_lines(*records.decode(block, first, None if self.fmt == "jsonl"
                                                                               else self.delimiter))

    def plain(self, block: bytes):
        """ASCII CSV/TSV of plain numbers (the usual case), checked and converted by NumPy in C without
        splitting lines in Python; None when any line needs care."""
        if self.header is None or self.columns is None:
            return None
        if not block.isascii() or any(c in block for c in _CAREFUL[self.fmt]):
            return None
        if b"\r" in block:  # a block of CRLF lines ends with the \r of the \r\n it was cut at
            block = block.removesuffix(b"\r").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        sep, width, rows = self.delimiter.encode(), len(self.header), block.count(b"\n") + 1
        if block.translate(None, _NOT_SEPARATORS[sep]) + b"\n" != (sep * (width - 1) + b"\n") * rows:
            return None  # a blank line, or a line with too few or too many fields
        # Commas only: NumPy lets a blank separator (a tab) match no blanks or several, so an empty field
        # would vanish; with "," an empty field or anything float() would not read stops the parse.
        block = block.replace(b"\n", b",") if sep == b"," else block.replace(b"\n", b",").replace(sep, b",")
        try:
            numbers = np.fromstring(block, sep=",")
        except ValueError:
            return None
        if numbers.size != rows * width or not np.isfinite(numbers).all():
            return None
        table = numbers.reshape(rows, width)
        return {name: table[:, k] for name, k in zip(self.columns, self.keep)}, [None] * rows

    def parse_lines(self, lines: list[str], unclosed: bool = False) -> tuple[dict[str, np.ndarray], list[str | None]]:
        """Float columns for a block's lines (records: a CSV field may hold line ends), and per row a message
        or None; `unclosed`: the last one ends inside a quoted field that was never closed."""
        unclosed = unclosed and bool(lines[-1].strip())
        lines = [line for line in lines if line.strip()]
        if self.fmt != "jsonl" and self.header is None and lines:
            self.set_header(lines.pop(0))
        fast = self.fast(lines)
        if fast is not None:
            return fast
        rows, problems = [], []
        for line in lines:
            row, problem = self.row(line)
            rows.append(row)
            problems.append(problem)
        if unclosed and problems:
            rows[-1], problems[-1] = [math.nan] * len(self.columns or []), 'a quoted field has no closing quote (")'

        names = self.columns or []
        table = np.array(rows, dtype=float).reshape(len(rows), len(names))
        return {name: table[:, k] for k, name in enumerate(names)}, problems

    def fast(self, lines: list[str]):
        """Plain numeric CSV/TSV (the usual case) in one NumPy conversion; None if any line needs care."""
        if self.fmt == "jsonl" or self.header is None or self.columns is None or any('"' in line for line in lines):
            return None
        width, sep = len(self.header), self.delimiter
        if any(line.count(sep) != width - 1 for line in lines):
            return None
        text = sep.join(lines)
        if not text.isascii() or "_" in text:  # float() reads 1_000 and Arabic-Indic digits: see _number
            return None
        try:
            table = np.array(text.split(sep), dtype=float).reshape(len(lines), width)
        except ValueError:
            return None
        if not np.isfinite(table).all():
            return None
        return {name: table[:, k] for name, k in zip(self.columns, self.keep)}, [None] * len(lines)

    def set_header(self, line: str) -> None:
        try:
            self.header = [h.strip() for h in next(csv.reader([line], delimiter=self.delimiter))]
        except csv.Error as err:  # e.g. a field over csv's limit of 128 KiB
            raise InputError(f"the batch header cannot be read: {err}") from None
        present, needed = set(self.header), set(self.needed)   # sets: 10⁴ columns, not 10⁸ comparisons
        missing = [n for n in self.needed if n not in present]
        if missing and ("\ufffd" in line or "\x00" in line):  # binary, as /dev/urandom: no use listing it
            raise InputError(f"the batch input's first line is not UTF-8 text, so not a header of names: is it "
                             f"{self.fmt.upper()} with a header?")
        if missing:
            raise InputError(f"the batch header has no column for {listed(missing)} (it has: "
                             f"{listed(self.header)}); give it a column or a value with -v")
        self.told([n for n in self.constants if n in present])
        twice = sorted(h for h, n in Counter(h for h in self.header if h in needed).items() if n > 1)
        if twice:
            raise InputError(f"the batch header names {twice[0]} twice")
        # Where each needed column is, found once: header.index per column and block is n² for n columns
        # (a max of 2 000 inputs spent 3 s of its 8 s there at 2 000 rows).
        self.keep = [k for k, h in enumerate(self.header) if h in needed]
        self.columns = [self.header[k] for k in self.keep]

    def told(self, names: list[str]) -> None:
        """Tell of columns a constant overrides, each once: a value given with -v wins over the data's."""
        for name in names:
            self.constants.remove(name)
            if self.overridden is not None:
                self.overridden(name)

    @property
    def delimiter(self) -> str:
        return "\t" if self.fmt == "tsv" else ","

    def row(self, line: str) -> tuple[list[float], str | None]:
        try:
            return self.jsonl_row(line) if self.fmt == "jsonl" else self.csv_row(line), None
        except (ValueError, csv.Error) as err:  # csv.Error: a field over csv's limit of 128 KiB
            return [math.nan] * len(self.columns or []), str(err)

    def csv_row(self, line: str) -> list[float]:
        header, columns = self.header, self.columns
        assert header is not None and columns is not None, "rows are read after the header"
        fields = next(csv.reader([line], delimiter=self.delimiter))
        if len(fields) != len(header):
            raise ValueError(f"{len(fields)} fields where the header has {len(header)}")
        cells = dict(zip(header, fields))
        return [_number(cells[name], name) for name in columns]

    def jsonl_row(self, line: str) -> list[float]:
        # The rule --vars reads a JSON object by (bindings.json_object, json_value): one place for both.
        columns = self.columns
        assert columns is not None, "JSON Lines rows name the inputs themselves"
        try:
            obj = dict(bindings.json_object(line))
            if self.constants:
                self.told([n for n in self.constants if n in obj])
            missing = [n for n in columns if n not in obj]
            if missing:
                raise ValueError(f"no value for {listed(missing)}")
            return [bindings.json_value(name, obj[name]) for name in columns]
        except InputError as err:
            raise ValueError(err.message.replace("not valid JSON", "not a JSON object")
                             .replace("expected a JSON object of name → value", "not a JSON object")) from None


def _number(value, name: str) -> float:
    # A number as the grammar and -v read it: float() would also take 1_000 and non-ASCII digits (٣).
    if isinstance(value, bool) or isinstance(value, str) and (not value.isascii() or "_" in value):
        raise ValueError(f"{name}: {str(value)[:40]!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: {str(value)[:40]!r} is not a number (or too large)") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return number
