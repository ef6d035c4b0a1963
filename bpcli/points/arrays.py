"""Many points per call: the forward and backward passes over NumPy arrays, block by block.

The only module that imports NumPy, and only bpcli's batch path imports it. The same two loops as the
engine run over arrays, with every rule taken from `ops` compiled for NumPy (one source of truth).
Rows where anything is undefined (a domain check fails, or a value or gradient is not finite) are
re-run one by one through the scalar engine, which says exactly which node failed and why.

Speed (benchmarks/batch_speed.py), measured lever by lever: the points go through in blocks of 32k, so
every temporary is a 256 KiB array in cache that malloc recycles, where whole 8 MB arrays are fresh
pages each time (page faults were most of the time at 10^6 points); the graph is compiled once into
lists of steps, as a stream calls run() per chunk; checks scan a block once and build a row mask only
when one fails; all results share one allocation. Writing products in place (out=) measured no faster
once blocked, so the backward pass stays the engine's plain sum of products (× 1 skipped).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from bpcli.points.np_exact import np

from bpcli.core import engine
from bpcli.core import helpers, rules
from bpcli.errors import BpcliError
from bpcli.core.graph import CONST, Graph

BLOCK = 1 << 15   # points per block (measured at 10^6 points: 8k 10-30% slower, 16k-32k best, 64k 5-15% slower)
CELLS = 1 << 21   # at most this many values (nodes × points) per block, 16 MiB: wide graphs take smaller blocks
MIN_BLOCK = 1 << 8


rules.add_backend("numpy", helpers.numpy_namespace(np))


@dataclass(frozen=True)
class Chunk:
    """Results for a block of points: the value and each chosen gradient, and per row an error or None."""

    value: np.ndarray
    gradient: dict[str, np.ndarray]
    errors: Errors

    @property
    def all_fine(self) -> bool:
        """Whether every row was computed."""
        return not self.errors.messages


class Errors(Sequence):
    """Per row, the message of a row that could not be computed, else None; only failures are stored
    (a list of 10^6 Nones costs more than a fast block)."""

    def __init__(self, n: int, messages: dict[int, str]) -> None:
        self.n, self.messages = n, messages

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(self.n))]
        if not -self.n <= row < self.n:
            raise IndexError(row)
        return self.messages.get(row % self.n)


def run(graph: Graph, columns: Mapping[str, np.ndarray], wrt: Sequence[str]) -> Chunk:
    """Value and gradients at every row of `columns` (each input an array, or a scalar shared by all)."""
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=1)
    passes = program(graph, wrt)
    columns = {name: _input(columns[name]) for name in passes.inputs.values()}
    # The value, then each gradient: one allocation, as fresh memory costs page faults (fewer when larger).
    results = np.empty((1 + len(passes.wrt), n))
    bad_rows = []
    with np.errstate(all="ignore"):
        for start in range(0, n, passes.block):
            stop = min(start + passes.block, n)
            part = {name: col[start:stop] if col.ndim else col for name, col in columns.items()}
            bad = passes.compute(part, results[:, start:stop])
            if bad is not None:
                bad_rows.extend((start + np.flatnonzero(bad)).tolist())
    value, gradient = results[0], {name: results[k] for k, name in enumerate(passes.wrt, 1)}
    messages = {}
    for row in bad_rows:
        message = _scalar_fallback(graph, columns, wrt, row, value, gradient)
        if message is not None:
            messages[row] = message
    return Chunk(value, gradient, Errors(n, messages))


def _input(data):
    """An input column as float64, or a scalar as a NumPy float (so 1/0 is inf, not ZeroDivisionError)."""
    return np.float64(data) if np.ndim(data) == 0 else np.asarray(data, dtype=float)


@dataclass(frozen=True)
class _Gate:
    """One gate of the forward pass: its domain checks, then its value, from its arguments' values."""

    node: int
    args: tuple[int, ...]
    rule: Callable
    checks: tuple[Callable, ...]


@dataclass(frozen=True)
class _Edges:
    """A gate's edges in the backward pass: ∂f/∂node × ∂node/∂(argument k), added into ∂f/∂argument, for
    each k of `ks` (the arguments that depend on a chosen input)."""

    node: int
    args: tuple[int, ...]
    ks: tuple[int, ...]
    partials: tuple[Callable, ...]   # per argument position (*args, out) → its local partial
    every: Callable | None           # (*args, out) → all of them, when they share a per-gate part
    checks: tuple[Callable, ...]     # the gradient checks of the ks


_PROGRAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def program(graph: Graph, wrt: Sequence[str]) -> Program:
    """The graph's two passes for the inputs `wrt`, compiled once (a stream calls run() per chunk)."""
    per_graph = _PROGRAMS.setdefault(graph, {})
    key = tuple(wrt)
    if key not in per_graph:
        per_graph[key] = Program(graph, key)
    return per_graph[key]


class Program:
    """A graph's forward and backward passes as lists of steps, ready to run on block after block."""

    def __init__(self, graph: Graph, wrt: tuple[str, ...]) -> None:
        nodes = graph.nodes
        self.size, self.output, self.wrt = len(nodes), graph.output, wrt
        self.inputs = {i: nodes[i].name for i in graph.inputs}
        self.leaves = [np.float64(n.const) if n.op == CONST else None for n in nodes]
        self.gates = [_gate(i, node) for i, node in enumerate(nodes) if node.is_gate]
        self.edges = _edges(graph, wrt)
        index = {name: i for i, name in self.inputs.items()}
        self.grad_of = {name: index[name] for name in wrt}
        self.block = max(MIN_BLOCK, min(BLOCK, CELLS // max(1, len(nodes))))

    def forward(self, columns: Mapping[str, np.ndarray]) -> tuple[list, list]:
        """Every node's value on a block, and the results of domain checks that failed somewhere."""
        values = list(self.leaves)
        for i, name in self.inputs.items():
            values[i] = columns[name]
        failed: list = []
        for gate in self.gates:
            args = [values[a] for a in gate.args]
            if gate.checks:
                _check(gate.checks, args, failed)
            value = values[gate.node] = gate.rule(*args)
            # An intermediate inf or nan can vanish downstream (min(exp(x), 1) at x = 1000 is 1), but the
            # scalar engine stops there, so these rows go to it. One pass (a sum) in the common case; a sum
            # that overflows from finite values only costs the mask.
            if not np.isfinite(np.sum(value)):
                failed.append(np.isfinite(value))
        return values, failed

    def backward(self, values: list) -> tuple[list, list]:
        """∂f/∂node on a block (None where no edge reached), and the gradient checks that failed."""
        grads: list = [None] * self.size
        grads[self.output] = 1.0
        failed: list = []
        for gate in self.edges:
            upstream = grads[gate.node]
            if upstream is None:
                continue
            args = [values[a] for a in gate.args]
            if gate.checks:
                _check(gate.checks, args, failed)
            out = values[gate.node]
            every = gate.every(*args, out) if gate.every else None
            for k in gate.ks:
                product = _times(upstream, every[k] if every is not None else gate.partials[k](*args, out))
                to = gate.args[k]
                grads[to] = product if grads[to] is None else grads[to] + product
        return grads, failed

    def compute(self, columns: Mapping[str, np.ndarray], out: np.ndarray) -> np.ndarray | None:
        """Both passes on one block, the value and gradients written into the rows of `out`; a mask of
        the points to re-run through the scalar engine, or None when every one is fine."""
        values, failed = self.forward(columns)
        grads, more = self.backward(values)
        out[0] = values[self.output]
        for k, i in enumerate(self.grad_of.values(), 1):
            out[k] = 0.0 if grads[i] is None else grads[i]
        problems = [np.logical_not(ok) for ok in failed + more]
        finite = np.isfinite(out)
        if not finite.all():
            problems.append(~finite.all(axis=0))
        bad = None
        for problem in problems:
            bad = np.zeros(out.shape[1], dtype=bool) if bad is None else bad
            bad |= problem
        return bad


def _check(checks, args: list, failed: list) -> None:
    """Run domain checks on a block; keep the result of each that fails somewhere (a scan, not a mask)."""
    for check in checks:
        ok = check(*args)
        if ok is not True and (ok is False or not ok.all()):
            failed.append(ok)


def _gate(i: int, node) -> _Gate:
    compiled = rules.rules(node.op, len(node.args), "numpy")
    return _Gate(i, node.args, compiled.forward, tuple(check for check, _ in compiled.checks))


def _edges(graph: Graph, wrt: Sequence[str]) -> list[_Edges]:
    """The edges engine.backward walks, gate by gate in its order (so sums of fan-out add up in the same order).

    Partials come one per edge, except where a gate's share a part (max/min's tie count): then all at once,
    the part computed once, as the interpreter does; per edge it would be n² work for n arguments.
    """
    depends, live = graph.depends_on(wrt), graph.live
    edges = []
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not (node.is_gate and depends[i] and live[i]):
            continue
        compiled = rules.rules(node.op, len(node.args), "numpy")
        # an edge into a constant part carries no gradient: no partial computed
        ks = tuple(k for k, a in enumerate(node.args) if depends[a])
        checks = tuple(check for k, check, _ in compiled.grad_checks if k in ks)
        every = compiled.all_partials if compiled.shares else None
        edges.append(_Edges(i, node.args, ks, compiled.partials, every, checks))
    return edges


def _times(upstream, local):
    # × 1 is no multiplication: the seed and the partials of +, - and unary + are mostly 1.
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
    """`x=0:10:0.1`: the points start + i·step for i = 0 … count−1 (no drift), end included when on the grid,
    and never a point past end (one that passes it by rounding, 0.30000000000000004 for 0:0.3:0.1, is end)."""

    name: str
    start: float
    step: float
    count: int
    end: float = math.inf

    def points(self, index: np.ndarray) -> np.ndarray:
        """The grid's values at positions `index`."""
        with np.errstate(over="ignore"):
            points = self.start + index * self.step
        if not np.isfinite(points).all():  # index·step overflowed: halve, then double (both exact)
            points = np.where(np.isfinite(points), points, (self.start / 2 + index * (self.step / 2)) * 2)
        return np.minimum(points, self.end) if self.step > 0 else np.maximum(points, self.end)


def grid_chunks(grids: Sequence[Grid], size: int) -> Iterator[dict[str, np.ndarray]]:
    """The product of the grids (the last varies fastest), `size` points at a time."""
    shape = tuple(g.count for g in grids)
    total = math.prod(shape)
    for start in range(0, total, size):
        flat = np.arange(start, min(start + size, total), dtype=np.int64)
        positions = np.unravel_index(flat, shape)
        yield {g.name: g.points(p) for g, p in zip(grids, positions)}
