"""Rows out, for many points (bpcli.stream) and for one (`bpcli grad --format csv|tsv|jsonl`).

A header of the inputs that vary, `value`, and d_<name> per gradient; then one line per point, in CSV,
TSV or JSON Lines. No NumPy here: one point must not pay for importing it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO


class Writer:
    """Rows out: the varying inputs, value, d_<name> per gradient; CSV, TSV or JSON Lines."""

    def __init__(self, out: TextIO, fmt: str, inputs: list[str], wrt: Sequence[str]) -> None:
        self.out, self.fmt, self.inputs = out, fmt, list(inputs)
        self.keys = self.inputs + ["value"] + [f"d_{n}" for n in wrt]
        self.buffer: list[str] = []
        if fmt != "jsonl":
            self.buffer.append(self.sep.join(self.keys))

    @property
    def sep(self) -> str:
        return "\t" if self.fmt == "tsv" else ","

    def row(self, inputs: list[float | None], value, gradient) -> None:
        cells = inputs + [value] + (list(gradient) if gradient is not None else [None] * (len(self.keys) - len(inputs) - 1))
        if self.fmt == "jsonl":
            self.buffer.append(json.dumps(dict(zip(self.keys, [None if c is None else float(c) for c in cells]))))
        else:
            self.buffer.append(self.sep.join("" if c is None else repr(float(c)) for c in cells))

    def flush(self) -> None:
        if self.buffer:
            self.out.write("\n".join(self.buffer) + "\n")
            self.out.flush()
            self.buffer.clear()
