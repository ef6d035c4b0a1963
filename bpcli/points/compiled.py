"""An expression compiled once for many points: value and gradient over NumPy arrays or a pandas DataFrame's
columns, with the batch engine and without CSV. What `bpcli.compile` returns.

A Compiled pickles as its text (and output name), so the workers of Dask or Spark rebuild it from that:
`ddf.map_partitions(bpcli.compile("(w+x*y)*z"))` computes every partition with the same engine as
`bpcli grad … --batch`, bit for bit.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from bpcli.core.graph import Graph
from bpcli.core.lowering import lower
from bpcli.errors import DomainError, InputError, listed
from bpcli.language.parser import parse


class Compiled:
    """`bpcli.compile(expr)`: call `.grad(columns)` (or the object itself, on a DataFrame) for value and
    gradient at every row, as `bpcli grad --batch` computes them."""

    def __init__(self, source: str, output: str | None = None) -> None:
        self.source = source
        self.output = output
        self.graph: Graph = lower(parse(source), source, output)

    def __reduce__(self):
        return (Compiled, (self.source, self.output))   # rebuilt from the text where it is unpickled

    def __repr__(self) -> str:
        return f"bpcli.compile({self.source!r})"

    @property
    def variables(self) -> list[str]:
        """The expression's variables, in the order they first appear."""
        return self.graph.input_names

    def grad(self, data: Mapping[str, Any] | None = None, /, *, wrt: Iterable[str] | None = None,
             errors: str = "raise", **columns: Any) -> Any:
        """Value and gradient at every row. Columns come from `data` (a mapping of arrays, or a pandas
        DataFrame) and keyword arguments; a number is the same at every row. Returns a dict of arrays
        `value`, `d_<name>` (the CLI's columns), or a DataFrame with the same index when given one.

        errors: "raise" (a row where the expression or its gradient is undefined raises DomainError, naming
        the row and the node) or "nan" (such rows are NaN)."""
        from bpcli.points import arrays
        from bpcli.points.np_exact import np

        if errors not in ("raise", "nan"):
            raise InputError(f"errors is 'raise' or 'nan', not {errors!r}")
        given: dict[str, Any] = {}
        if data is not None:
            given.update({str(name): data[name] for name in data.keys()} if hasattr(data, "keys") else data)
        given.update(columns)
        names = self.variables
        missing = [n for n in names if n not in given]
        if missing:
            raise InputError(f"no values for {listed(missing)}")
        chosen = names if wrt is None else list(dict.fromkeys(wrt))
        unknown = [n for n in chosen if n not in names]
        if unknown:
            raise InputError(f"wrt {listed(unknown)}: not a variable of the expression")
        inputs = {n: np.asarray(given[n], dtype=np.float64) for n in names}
        chunk = arrays.run(self.graph, inputs, chosen)
        stored = getattr(chunk.errors, "messages", None)   # arrays.Errors keeps only the failures
        failed = sorted(stored.items()) if stored is not None else \
            [(row, message) for row, message in enumerate(chunk.errors) if message is not None]
        if failed and errors == "raise":
            row, message = failed[0]
            raise DomainError(f"row {row}: {message}")
        result = {"value": chunk.value, **{f"d_{n}": chunk.gradient[n] for n in chosen}}
        if failed:
            rows = [row for row, _ in failed]
            for column in result.values():
                column[rows] = np.nan
        if _is_frame(data):
            pandas = importlib.import_module("pandas")   # given a DataFrame, pandas is there (untyped)
            return pandas.DataFrame(result, index=data.index)   # type: ignore[union-attr]
        return result

    def __call__(self, frames: Any) -> Any:
        """The function for dask.dataframe.map_partitions (a DataFrame in, one out) or Spark's mapInPandas
        (an iterator of DataFrames in, one out)."""
        if _is_frame(frames):
            return self.grad(frames)
        return (self.grad(frame) for frame in frames)


def _is_frame(data: Any) -> bool:
    return data is not None and hasattr(data, "columns") and hasattr(data, "index")
