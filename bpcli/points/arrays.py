"""Many points per call: the forward and backward passes over NumPy arrays, block by block.

The only module that imports NumPy, and only bpcli's batch path imports it. The same two loops as the
engine run over arrays, with every rule taken from `ops` compiled for NumPy (one source of truth).
Rows where anything is undefined (a domain check fails, or a value or gradient is not finite) are
re-run one by one through the scalar engine, which says exactly which node failed and why.

Speed (benchmarks/batch_speed.py): the points go through in blocks of 32k, so every temporary is a
256 KiB array in cache; the graph is compiled once into lists of steps, as a stream calls run() per chunk.
Gates that are one ufunc (+, *, exp, tanh…) write into a scratch array kept for the whole call, and
gradients are summed into it in place, the chosen inputs' straight into the results: fresh memory costs
a page fault per 4 KiB. Checks scan a block once and build a row mask only when one fails; a gate whose
inf or nan is sure to reach the output (through +, -, *) is left to the one check of the results.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bpcli.points.np_exact import np

from bpcli import primitives
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


def run(graph: Graph, columns: Mapping[str, np.ndarray], wrt: Sequence[str], out: np.ndarray | None = None) -> Chunk:
    """Value and gradients at every row of `columns` (each input an array, or a scalar shared by all);
    `out`, if given, an array of 1 + len(wrt) rows of as many points that receives them (memory written
    before costs no page faults, so a caller running many calls may keep one)."""
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=1)
    passes = program(graph, wrt)
    columns = {name: _input(columns[name]) for name in passes.inputs.values()}
    # The value, then each gradient: one allocation, as fresh memory costs page faults (fewer when larger).
    results = np.empty((1 + len(passes.wrt), n)) if out is None else out
    scratch = np.empty((passes.width, min(n, passes.block)))
    bad_rows = []
    with np.errstate(all="ignore"):
        for start in range(0, n, passes.block):
            stop = min(start + passes.block, n)
            part = {name: col[start:stop] if col.ndim else col for name, col in columns.items()}
            bad = passes.compute(part, results[:, start:stop], scratch)
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
    watched: bool   # whether its value is checked for inf and nan here (else the output's check sees them)
    ufunc: np.ufunc | None   # the rule, when it is one ufunc: then it writes into a buffer (out=)


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
        seen = _seen_at_output(graph)
        self.gates = [_gate(i, node, not seen[i]) for i, node in enumerate(nodes) if node.is_gate]
        self.edges = _edges(graph, wrt)
        index = {name: i for i, name in self.inputs.items()}
        self.grad_of = {name: index[name] for name in wrt}
        self.block = max(MIN_BLOCK, min(BLOCK, CELLS // max(1, len(nodes))))
        # Rows of a scratch array, reused block after block: a value per gate that writes in place, a
        # gradient per node that receives one, one product. The output's value and the chosen inputs'
        # gradients go straight into the results, and so does a gate's value that is an input's gradient.
        rows = [g.node for g in self.gates if g.ufunc is not None and g.node != self.output]
        rows += [-1 - a for a in sorted({e.args[k] for e in self.edges for k in e.ks})]
        self.rows = {node: r for r, node in enumerate(rows)}
        self.output_in_place = any(g.node == self.output and g.ufunc is not None for g in self.gates)
        self.width = len(rows) + 1
        self.shared: dict[int, int] | None = None   # gate → row of the results: found on the first block

    def space(self, scratch: np.ndarray, out: np.ndarray) -> tuple[dict, dict, list]:
        """Where one block's values and gradients go (views of `scratch`, width × block, and of the results
        `out`), and the views of the results' rows that they write into, then a scratch row for a product."""
        m, rows, shared = out.shape[1], self.rows, self.shared or {}
        results: list = [out[k] for k in range(len(out))]
        values = {node: scratch[r, :m] for node, r in rows.items() if node >= 0}
        values.update((j, results[k]) for j, k in shared.items())
        grads = {-1 - node: scratch[r, :m] for node, r in rows.items() if node < 0}
        # An input whose gradient is a gate's value sums into scratch, so the gate's value stays whole.
        grads.update((i, results[k]) for k, i in enumerate(self.grad_of.values(), 1) if k not in shared.values())
        if self.output_in_place:
            values[self.output] = results[0]
        return values, grads, results + [scratch[-1, :m]]

    def share(self, into_values: dict, grads: list) -> None:
        """After a first block: the gates whose value array is an input's whole gradient (f = u*z gives
        ∂f/∂z = u), to be computed into the results from then on. The passes' steps are fixed, so the
        next blocks alias alike; were one not to, the copy into the results still makes it right."""
        gate_of = {id(array): j for j, array in into_values.items() if j != self.output}
        self.shared = {}
        for k, i in enumerate(self.grad_of.values(), 1):
            j = gate_of.get(id(grads[i]))
            if j is not None and j not in self.shared:
                self.shared[j] = k

    def forward(self, columns: Mapping[str, np.ndarray],
                into: Mapping[int, np.ndarray] | None = None) -> tuple[list, list]:
        """Every node's value on a block, and the results of domain checks that failed somewhere; `into`:
        the arrays that gates computed by one ufunc write their values into (else each is a new array)."""
        values = list(self.leaves)
        for i, name in self.inputs.items():
            values[i] = columns[name]
        failed: list = []
        for gate in self.gates:
            args = [values[a] for a in gate.args]
            if gate.checks:
                _check(gate.checks, args, failed)
            if gate.ufunc is not None and into is not None and gate.node in into:
                value = values[gate.node] = gate.ufunc(*args, out=into[gate.node])
            else:
                value = values[gate.node] = gate.rule(*args)
            # An intermediate inf or nan can vanish downstream (min(exp(x), 1) at x = 1000 is 1), but the
            # scalar engine stops there, so these rows go to it. One pass (a sum) in the common case; a sum
            # that overflows from finite values only costs the mask.
            if gate.watched and not np.isfinite(np.sum(value)):
                failed.append(np.isfinite(value))
        return values, failed

    def backward(self, values: list, into: Mapping[int, np.ndarray] | None = None,
                 spare: np.ndarray | None = None) -> tuple[list, list]:
        """∂f/∂node on a block (None where no edge reached), and the gradient checks that failed; `into`:
        each node's array for its gradient, written in place with `spare` for a product (else new arrays)."""
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
                local = every[k] if every is not None else gate.partials[k](*args, out)
                to = gate.args[k]
                if into is None:
                    product = _times(upstream, local)
                    grads[to] = product if grads[to] is None else grads[to] + product
                elif grads[to] is None:
                    grads[to] = _times(upstream, local, into[to])
                else:
                    grads[to] = np.add(grads[to], _times(upstream, local, spare), out=into[to])
        return grads, failed

    def compute(self, columns: Mapping[str, np.ndarray], out: np.ndarray, scratch: np.ndarray) -> np.ndarray | None:
        """Both passes on one block, the value and gradients written into the rows of `out`, temporaries
        into `scratch` (width × block); a mask of the points to re-run through the scalar engine, or None
        when every one is fine."""
        into_values, into_grads, results = self.space(scratch, out)
        values, failed = self.forward(columns, into_values)
        grads, more = self.backward(values, into_grads, results[-1])
        if self.shared is None:
            self.share(into_values, grads)
        if values[self.output] is not results[0]:
            out[0] = values[self.output]
        for k, i in enumerate(self.grad_of.values(), 1):
            if grads[i] is not results[k]:   # a copy unless it was computed in place
                out[k] = 0.0 if grads[i] is None else grads[i]
        problems = [np.logical_not(ok) for ok in failed + more]
        if not np.isfinite(np.add.reduce(out, axis=1)).all():  # a pass per row; a mask only if one fails
            problems.append(~np.isfinite(out).all(axis=0))
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


def _gate(i: int, node, watched: bool) -> _Gate:
    compiled = rules.rules(node.op, len(node.args), "numpy")
    return _Gate(i, node.args, compiled.forward, tuple(check for check, _ in compiled.checks), watched,
                 _ufunc(node.op, len(node.args)))


# The gates whose rule is one of Python's operators: on arrays, exactly these ufuncs.
_OPERATORS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "neg": np.negative}


def _ufunc(op: str, arity: int) -> np.ufunc | None:
    """The ufunc that a gate's compiled rule calls and nothing else (+, *, exp, tanh…), or None."""
    if op in _OPERATORS:
        return _OPERATORS[op]
    helper = rules.namespace("numpy").get(op)
    if primitives.OPS[op].forward is None and isinstance(helper, np.ufunc) and helper.nin == arity:
        return helper
    return None


# Gates whose value is inf or nan at a point wherever an argument is (inf - inf and 0 * inf are nan).
_SPREADS = frozenset({"add", "sub", "mul", "neg"})


def _seen_at_output(graph: Graph) -> list[bool]:
    """Per node: is an inf or nan in its value sure to reach the output's value at the same point? Then
    the check of the results finds that point, and the node needs no check of its own."""
    nodes = graph.nodes
    seen = [False] * len(nodes)
    used = [False] * len(nodes)
    seen[graph.output] = True
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        spreads = node.op in _SPREADS and seen[i]
        for a in node.args:
            seen[a] = (seen[a] or not used[a]) and spreads if a != graph.output else True
            used[a] = True
    return seen


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


def _times(upstream, local, into: np.ndarray | None = None):
    # × 1 is no multiplication: the seed and the partials of +, - and unary + are mostly 1.
    if isinstance(local, float) and local == 1.0:
        return upstream
    if isinstance(upstream, float) and upstream == 1.0:
        return local
    return upstream * local if into is None else np.multiply(upstream, local, out=into)


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
