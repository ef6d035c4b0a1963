"""Many points per call: the forward and backward passes over NumPy arrays, chunk by chunk.

The only module that imports NumPy, and only bpcli's batch path imports it. The same two loops as the
engine run over arrays, with every rule taken from `ops` compiled for NumPy (one source of truth).
Rows where anything is undefined (a domain check fails, or a value or gradient is not finite) are
re-run one by one through the scalar engine, which says exactly which node failed and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
import math
from functools import reduce

import numpy as np

from bpcli import engine, ops
from bpcli.errors import BpcliError
from bpcli.graph import CONST, INPUT, Graph


def _sigmoid(a):
    z = np.exp(-np.abs(a))  # never overflows
    return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


NUMPY: dict[str, object] = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "sigmoid": _sigmoid, "softplus": lambda a: np.logaddexp(0.0, a), "abs": np.abs, "pow": np.power, "floor": np.floor,
    "where": np.where, "vmax": lambda *a: reduce(np.maximum, a), "vmin": lambda *a: reduce(np.minimum, a),
    "count": ops.count,
}
ops.add_backend("numpy", NUMPY)


@dataclass(frozen=True)
class Chunk:
    """Results for a block of points: the value and each chosen gradient, and per row an error or None."""

    value: np.ndarray
    gradient: dict[str, np.ndarray]
    errors: list[str | None]


def run(graph: Graph, columns: Mapping[str, np.ndarray], wrt: Sequence[str]) -> Chunk:
    """Value and gradients at every row of `columns` (each input an array, or a scalar shared by all)."""
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=1)
    with np.errstate(all="ignore"):
        values, bad = _forward(graph, columns, n)
        grads, bad = _backward(graph, values, wrt, bad)
    index = {graph.nodes[i].name: i for i in graph.inputs}
    value = _column(values[graph.output], n)
    gradient = {name: _column(grads[index[name]], n) for name in wrt}
    for column in (value, *gradient.values()):
        if not np.isfinite(column).all():
            bad |= ~np.isfinite(column)
    errors: list[str | None] = [None] * n
    if bad.any():
        value = value.copy()
        gradient = {name: g.copy() for name, g in gradient.items()}
    for row in np.flatnonzero(bad):
        errors[row] = _scalar_fallback(graph, columns, wrt, int(row), value, gradient)
    return Chunk(value, gradient, errors)


def _column(data, n: int) -> np.ndarray:
    """n float64 values: the array itself when it already is one (no copy), else broadcast."""
    array = np.asarray(data, dtype=float)
    return array if array.shape == (n,) else np.broadcast_to(array, (n,))


def _forward(graph: Graph, columns: Mapping[str, np.ndarray], n: int) -> tuple[list, np.ndarray]:
    values: list = [None] * len(graph.nodes)
    bad = np.zeros(n, dtype=bool)
    for i, node in enumerate(graph.nodes):
        if node.op == INPUT:
            values[i] = np.asarray(columns[node.name], dtype=float)
        elif node.op == CONST:
            values[i] = node.const
        else:
            args = [values[a] for a in node.args]
            rules = ops.rules(node.op, len(args), "numpy")
            for check, _ in rules.checks:
                bad |= ~np.asarray(check(*args), dtype=bool)
            values[i] = rules.forward(*args)
    return values, bad


def _backward(graph: Graph, values: list, wrt: Sequence[str], bad: np.ndarray) -> tuple[list, np.ndarray]:
    # A local gradient that is not finite needs no check of its own: inf·0 and nan propagate into the
    # gradients, which run() checks. Multiplying by the seed 1 and adding to a first contribution of 0
    # are skipped: they are most of the work on small gates.
    grads: list = [None] * len(graph.nodes)
    grads[graph.output] = 1.0
    depends, live = graph.depends_on(wrt), graph.live
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not (node.is_gate and depends[i] and live[i]) or grads[i] is None:
            continue
        args = [values[a] for a in node.args]
        rules = ops.rules(node.op, len(args), "numpy")
        for k, a in enumerate(node.args):
            if depends[a]:
                for kk, check, _ in rules.grad_checks:
                    if kk == k:
                        bad |= ~np.asarray(check(*args), dtype=bool)
                product = _times(grads[i], rules.partials[k](*args, values[i]))
                grads[a] = product if grads[a] is None else grads[a] + product
    return [0.0 if g is None else g for g in grads], bad


def _times(upstream, local):
    if isinstance(local, float) and local == 1.0:
        return upstream
    if isinstance(upstream, float) and upstream == 1.0:
        return local
    return upstream * local


def _scalar_fallback(graph: Graph, columns, wrt, row: int, value: np.ndarray, gradient: dict) -> str | None:
    """Re-run one row through the scalar engine: its error message, or (if it succeeds) its exact numbers."""
    point = {name: float(col[row]) if np.ndim(col) else float(col) for name, col in columns.items()}
    try:
        values = engine.forward(graph, point)
        backward = engine.backward(graph, values, wrt)
    except BpcliError as err:
        return err.message
    index = {graph.nodes[i].name: i for i in graph.inputs}
    value[row] = values[graph.output]
    for name in wrt:
        gradient[name][row] = backward.grads[index[name]]
    return None


# ---- grids ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """`x=0:10:0.1`: the points start + i·step for i = 0 … count−1 (no drift), end included."""

    name: str
    start: float
    step: float
    count: int

    def points(self, index: np.ndarray) -> np.ndarray:
        """The grid's values at positions `index`."""
        return self.start + index * self.step


def grid_chunks(grids: Sequence[Grid], size: int) -> Iterator[dict[str, np.ndarray]]:
    """The product of the grids (the last varies fastest), `size` points at a time."""
    shape = tuple(g.count for g in grids)
    total = math.prod(shape)
    for start in range(0, total, size):
        flat = np.arange(start, min(start + size, total), dtype=np.int64)
        positions = np.unravel_index(flat, shape)
        yield {g.name: g.points(p) for g, p in zip(grids, positions)}
