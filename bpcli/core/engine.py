"""The two passes: forward (values) and backward (gradients, edge by edge). Plain loops that know no op.

Every gate's rules come from the table in `ops`. A domain check that fails, or a value or derivative
that is not finite, raises DomainError naming the node, its definition and its arguments' values.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Collection, Iterator, Mapping
from typing import Any, NamedTuple

from bpcli.core import advice
from bpcli.core import rules as rule_forms
from bpcli.errors import DomainError, listed
from bpcli.core.graph import CONST, INPUT, Graph
from bpcli.numfmt import fmt


class Edge(NamedTuple):
    """One step of the backward pass: what flows from gate `node` to its argument `to` (position `arg`).

    product = upstream × local, where upstream is ∂f/∂node and local is ∂node/∂to. A NamedTuple, as
    graph.Node, because there is one per edge.
    """

    node: int
    arg: int
    to: int
    upstream: float
    local: float
    product: float


class Backward(NamedTuple):
    """The result of the backward pass: ∂f/∂node for every node, and every edge in the order computed.

    `needed[i]` says whether node i depends on an input being differentiated; grads[i] means
    something only there.
    """

    grads: list[float]
    edges: list[Edge]
    needed: tuple[bool, ...]
    # every edge's local gradient in the order computed, whether or not `edges` are recorded (a reference
    # each, most to a value or a constant the pass had): what `flows` needs to give the edges again
    # without computing each local a second time
    locals: list[float]


def forward(graph: Graph, inputs: Mapping[str, float | complex], backend: str = "float") -> list[Any]:
    """Values of every node, in forward order. `inputs` must hold every input variable.

    Floats on the "float" backend; the numbers of another backend (complex for the complex step) on it."""
    values: list[Any] = [0.0] * len(graph.nodes)
    scalar, isfinite, value_of = backend == "float", math.isfinite, values.__getitem__
    all_rules = graph.rules if scalar else ()
    for i, node in enumerate(graph.nodes):
        op = node.op
        if op == INPUT:
            values[i] = inputs[node.name]
        elif op == CONST:
            values[i] = node.const
        else:
            at = node.args
            n = len(at)
            args = [values[at[0]], values[at[1]]] if n == 2 else [values[at[0]]] if n == 1 else list(map(value_of, at))
            rules = all_rules[i] if scalar else None   # a gate's rules on floats are never None
            if rules is not None and not rules.checks:
                # the common case in one call; anything unusual goes the long way, which explains it
                try:
                    out = rules.forward_raw(*args)
                    if isfinite(out):
                        values[i] = out
                        continue
                except (OverflowError, ZeroDivisionError, ValueError):
                    pass
            values[i] = _gate_value(graph, i, args, backend)
    return values


def _gate_value(graph: Graph, i: int, args: list[Any], backend: str) -> Any:
    node = graph.nodes[i]
    rules = rule_forms.rules(node.op, len(args), backend)
    if backend != "float":
        return rules.forward(*args)  # the point was checked on real numbers already
    for check, reason in rules.checks:
        if not check(*args):
            raise DomainError(f"{_describe(graph, i)} is undefined{_at(graph, i, args)}: {reason}")
    out = rules.forward(*args)
    if not math.isfinite(out):
        what = "overflows double precision" if math.isinf(out) else "is undefined"
        raise DomainError(f"{_describe(graph, i)} {what}{_at(graph, i, args)}{advice.stable_form(graph, i)}")
    return out


def backward(graph: Graph, values: list[float], wrt: Collection[str] | None = None, edges: bool = True) -> Backward:
    """Seed ∂f/∂f = 1 and walk the gates in reverse, adding upstream × local into each argument's gradient.

    With `wrt`, only the edges that lead to those inputs are computed (so x^y at x = -2 has a gradient
    with respect to x even though the one with respect to y is undefined). With edges=False the
    Backward's edge list stays empty (a caller that shows only the gradient saves an object per edge;
    `flows` gives the same edges later from the locals recorded, for output written as it is made).
    """
    nodes = graph.nodes
    # -0.0 is the identity of IEEE addition (0.0 is not: 0.0 + -0.0 is 0.0), so each gradient is its first
    # contribution exactly, then sums, as in the batch path and generated code: ∂cos(x)/∂x at 0 is -0.0.
    grads = [-0.0] * len(nodes)
    grads[graph.output] = 1.0
    recorded: list[Edge] = []
    tape: list[float] = []
    depends = graph.depends if wrt is None else graph.depends_on(wrt)
    live = graph.live
    isfinite, value_of, all_rules = math.isfinite, values.__getitem__, graph.rules
    for i in range(len(nodes) - 1, -1, -1):
        rules = all_rules[i]
        if rules is None or not (depends[i] and live[i]):
            continue
        args = nodes[i].args
        checked = rules.checked
        vals = list(map(value_of, args))
        try:
            locals_ = rules.all_partials(*vals, values[i])
        except (OverflowError, ZeroDivisionError, ValueError):
            locals_ = None
        upstream = grads[i]
        n = len(args)
        if n == 2 and locals_ is not None and not checked and not edges:
            # the commonest gate, its two edges written out: the loop below, step for step
            a, b = args
            local_a, local_b = locals_
            if depends[a]:
                if not isfinite(local_a):
                    local_a = _local(graph, i, 0, vals, values[i], rules)
                grads[a] += upstream * local_a
                tape.append(local_a)
            if depends[b]:
                if not isfinite(local_b):
                    local_b = _local(graph, i, 1, vals, values[i], rules)
                grads[b] += upstream * local_b
                tape.append(local_b)
            continue
        if n == 1 and locals_ is not None and not checked and not edges:
            a = args[0]
            if depends[a]:
                local = locals_[0]
                if not isfinite(local):
                    local = _local(graph, i, 0, vals, values[i], rules)
                grads[a] += upstream * local
                tape.append(local)
            continue
        for k, a in enumerate(args):
            if depends[a]:
                local = locals_[k] if locals_ is not None and k not in checked else None
                if local is None or not isfinite(local):
                    local = _local(graph, i, k, vals, values[i], rules)  # checks, IEEE values, the message
                product = upstream * local
                grads[a] += product
                tape.append(local)
                if edges:
                    recorded.append(Edge(i, k, a, upstream, local, product))
    for i, g in enumerate(grads):
        if depends[i] and not isfinite(g):
            raise DomainError(f"the gradient ∂{graph.output_name}/∂{graph.nodes[i].name} overflows double precision")
    return Backward(grads, recorded, depends, tape)


class Flows(NamedTuple):
    """Consecutive edges of the backward pass as columns, edge j from gate node[j] to its argument to[j] (at
    position arg[j]): what a streamed document writes a column at a time, without an object per edge."""

    node: list[int]
    arg: list[int]
    to: list[int]
    upstream: list[float]
    local: list[float]
    product: list[float]


def flows(graph: Graph, values: list[float], done: Backward) -> Iterator[Edge]:
    """The edges of a finished backward pass, in the order computed, one at a time (see `flow_columns`)."""
    for columns in flow_columns(graph, values, done):
        yield from itertools.starmap(Edge, zip(*columns))


def flow_columns(graph: Graph, values: list[float], done: Backward, size: int = 4096) -> Iterator[Flows]:
    """The edges of a finished backward pass, in the order computed, some `size` at a time (a gate's edges
    in one piece): the pass's locals, and its upstreams, since ∂f/∂node was final when the pass reached node
    (only later gates, walked before it, add to it)."""
    grads, tape = done.grads, done.locals
    start = 0
    for gate, arg, to in _edge_columns(graph, done, size):
        upstream = list(map(grads.__getitem__, gate))
        local = tape[start:start + len(gate)]
        start += len(gate)
        yield Flows(gate, arg, to, upstream, local, list(map(operator.mul, upstream, local)))


def _edge_columns(graph: Graph, done: Backward, size: int) -> Iterator[tuple[list[int], list[int], list[int]]]:
    """Flows' columns gate, arg and to: the walk of the backward pass."""
    nodes, depends, live, all_rules = graph.nodes, done.needed, graph.live, graph.rules
    gates: list[int] = []
    positions: list[int] = []
    tos: list[int] = []
    for i in range(len(nodes) - 1, -1, -1):
        if all_rules[i] is None or not (depends[i] and live[i]):
            continue
        args = nodes[i].args
        n = len(args)
        if n == 2:   # the commonest gate, its two edges written out
            a, b = args
            if depends[a]:
                gates.append(i)
                positions.append(0)
                tos.append(a)
            if depends[b]:
                gates.append(i)
                positions.append(1)
                tos.append(b)
        elif n == 1:
            if depends[args[0]]:
                gates.append(i)
                positions.append(0)
                tos.append(args[0])
        else:
            for k, a in enumerate(args):
                if depends[a]:
                    gates.append(i)
                    positions.append(k)
                    tos.append(a)
        if len(gates) >= size:
            yield gates, positions, tos
            gates, positions, tos = [], [], []
    if gates:
        yield gates, positions, tos


def _local(graph: Graph, i: int, k: int, args: list[float], out: float, rules: rule_forms.Rules) -> float:
    for kk, check, reason in rules.grad_checks:
        if kk == k and not check(*args):
            raise DomainError(f"{_describe(graph, i)} has no derivative{_at(graph, i, args)}: {reason}")
    local = rules.partials[k](*args, out)
    if not math.isfinite(local):
        name, arg = graph.nodes[i].name, graph.nodes[graph.nodes[i].args[k]].name
        what = "infinite" if math.isinf(local) else "undefined"
        raise DomainError(f"{_describe(graph, i)} is not differentiable{_at(graph, i, args)}: "
                          f"∂{name}/∂{arg} is {what}")
    return local


def _describe(graph: Graph, i: int) -> str:
    return f"{graph.nodes[i].name} = {graph.definition(i)}"


def _at(graph: Graph, i: int, args: list[float]) -> str:
    """` at x = -1, y = 2` for the gate's non-constant arguments (each named once)."""
    seen: dict[str, float] = {}
    for a, value in zip(graph.nodes[i].args, args):
        if graph.nodes[a].op != CONST:
            seen.setdefault(graph.nodes[a].name, value)
    return " at " + listed([f"{n} = {fmt(v)}" for n, v in seen.items()]) if seen else ""
