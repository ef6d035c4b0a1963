"""Rows out, for many points (bpcli.points.readers), for one (`bpcli grad|eval --format csv|tsv|jsonl`) and for
the steps of `bpcli step`.

For points: a header of the inputs that vary, `value`, and d_<name> per gradient; then one line per
point, in CSV, TSV or JSON Lines. No NumPy here: one point must not pay for importing it.
"""

from __future__ import annotations

import json
from functools import cached_property
from collections.abc import Sequence
from typing import TextIO

from bpcli.files import uninterrupted


class Rows:
    """Rows out in CSV, TSV or JSON Lines: a header of keys (CSV/TSV only), then one line of cells per row.
    Numbers are written with every digit; a whole-number key such as `step` stays an int; None is empty."""

    def __init__(self, out: TextIO, fmt: str, keys: list[str]) -> None:
        self.out, self.fmt, self.keys = out, fmt, keys
        self.buffer: list[str] = []
        if fmt != "jsonl":
            self.buffer.append(self.sep.join(self.keys))

    @property
    def sep(self) -> str:
        return "\t" if self.fmt == "tsv" else ","

    def cells(self, cells: list) -> None:
        numbers = [c if c is None or isinstance(c, int) else float(c) for c in cells]
        if self.fmt == "jsonl":
            self.buffer.append(json.dumps(dict(zip(self.keys, numbers))))
        else:
            self.buffer.append(self.sep.join("" if c is None else repr(c) for c in numbers))

    def numbers(self, flat: list[float], count: int) -> None:
        """`count` rows of finite floats given one after the other in `flat`: the text `cells` gives each
        row, formatted by one %-operation in C (%r is repr, the digits `cells` writes; JSON writes a
        finite float as its repr too)."""
        if count:
            self.buffer.append((self.template * count)[:-1] % tuple(flat))

    @cached_property
    def template(self) -> str:
        """One row of %r fields and a line end, as `cells` would lay it out."""
        if self.fmt == "jsonl":
            return "{" + ", ".join(json.dumps(key).replace("%", "%%") + ": %r" for key in self.keys) + "}\n"
        return self.sep.join(["%r"] * len(self.keys)) + "\n"

    def flush(self) -> None:
        """Write the rows made so far, as one block that Ctrl-C cannot cut: every row written is whole."""
        if self.buffer:
            block = "\n".join(self.buffer) + "\n"
            self.buffer.clear()
            with uninterrupted():
                self.out.write(block)
                self.out.flush()


class Writer(Rows):
    """Points out: the varying inputs, value, d_<name> per gradient."""

    def __init__(self, out: TextIO, fmt: str, inputs: list[str], wrt: Sequence[str]) -> None:
        self.inputs = list(inputs)
        super().__init__(out, fmt, self.inputs + ["value"] + [f"d_{n}" for n in wrt])

    def row(self, inputs: list[float | None], value, gradient) -> None:
        gradient = list(gradient) if gradient is not None else [None] * (len(self.keys) - len(inputs) - 1)
        self.cells(inputs + [value] + gradient)
