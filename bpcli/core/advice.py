"""Advice on an overflow: whether the gate that overflowed sits in a formula that a primitive computes
without overflowing (`log(1+exp(a))` is `softplus(a)`). The formulas are bpcli expressions in the table of
primitives (STABLE_FORMS), matched against the graph around the gate; nothing here names an op.
"""

from __future__ import annotations

from bpcli import primitives
from bpcli.core import rules
from bpcli.core.graph import Graph
from bpcli.core.nodes import CONST, INPUT


def stable_form(graph: Graph, i: int) -> str:
    """`; log(1+exp(a)) is softplus(a), which does not overflow` when gate i, which overflowed, is a gate
    of such a written-out formula in the graph; else "". One pass over the later nodes (users come after
    what they use), on the error path only."""
    for written, stable in primitives.STABLE_FORMS:
        pattern = rules.parse(written)
        if any(_Match(graph, pattern, i).at(pattern.root, j) for j in range(i + 1, len(graph.nodes))):
            return f"; {written} is {stable}, which does not overflow"
    return ""


class _Match:
    """Whether a formula's nodes match the graph's below a node. The formula's variable matches anything,
    a gate of the overflowing gate's kind must be that very gate (what lies below it does not matter), and
    arguments of gates that commute may come in either order. The formulas are a few nodes deep."""

    def __init__(self, graph: Graph, pattern: rules.Rule, failed: int) -> None:
        self.graph, self.pattern, self.failed = graph, pattern, failed

    def at(self, p: int, u: int) -> bool:
        want, have = self.pattern.nodes[p], self.graph.nodes[u]
        if want.op == INPUT:
            return True
        if want.op == CONST:
            return have.op == CONST and have.const == want.const
        if want.op == self.graph.nodes[self.failed].op:
            return u == self.failed
        if want.op != have.op or len(want.args) != len(have.args):
            return False
        orders = [have.args]
        if primitives.OPS[want.op].commutes:
            orders.append(have.args[::-1])
        return any(all(self.at(p_arg, u_arg) for p_arg, u_arg in zip(want.args, order)) for order in orders)
