"""The graph: a flat list of primitive gates (a Wengert list), in forward order.

Leaves (inputs and constants) come first in the order they first appear, then the gates in the order
they are computed, named v, u, t, … with the output last, named f: the lecture's `v = x*y`,
`u = w+v`, `f = u*z`. `bpcli.core.lowering` builds it from a syntax tree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from bpcli import primitives
from bpcli.language import syntax
from bpcli.core import templates

INPUT = "input"
CONST = "const"


class Node(NamedTuple):
    """One node: a leaf (op 'input' or 'const') or a gate (a key of primitives.OPS) over earlier nodes.

    A NamedTuple, not a frozen dataclass: a graph may have 10⁶ nodes, and a tuple is made about
    four times faster (frozen dataclasses set each field through object.__setattr__).
    """

    name: str
    op: str
    args: tuple[int, ...]
    span: syntax.Span
    const: float | None = None

    @property
    def is_gate(self) -> bool:
        """True for a primitive gate, False for an input or a constant."""
        return self.op not in (INPUT, CONST)


# Node((name, op, args, span, const)) without a Python-level __new__: lowering makes one per node of a
# graph of up to 10⁶, and this is about three times faster.
make_node = functools.partial(tuple.__new__, Node)


@dataclass(frozen=True, eq=False)
class Graph:
    """The gates of one expression. Immutable: values and gradients live outside it, in lists by index."""

    source: str
    nodes: tuple[Node, ...]
    output: int
    assigned: Mapping[str, int] = field(default_factory=dict)  # name the program assigns → its offset
    unused: tuple[str, ...] = ()             # warnings for statements the output does not use
    pruned: bool = False                     # True: every node is live (lowering keeps only those)

    @cached_property
    def depends(self) -> tuple[bool, ...]:
        """Per node: does its value depend on an input? Edges into constant parts carry no gradient."""
        return self.depends_on(self.input_names)

    def depends_on(self, names) -> tuple[bool, ...]:
        """Per node: does its value depend on one of the inputs `names`?"""
        wanted = set(names)
        flags: list[bool] = []
        flag = flags.__getitem__
        for node in self.nodes:
            flags.append(node.name in wanted if node.op == INPUT else any(map(flag, node.args)))
        return tuple(flags)

    @cached_property
    def inputs(self) -> tuple[int, ...]:
        """Indices of the input variables, in the order they first appear."""
        return tuple(i for i, node in enumerate(self.nodes) if node.op == INPUT)

    @property
    def input_names(self) -> list[str]:
        """The variables' names, in the order they first appear."""
        return [self.nodes[i].name for i in self.inputs]

    @property
    def output_name(self) -> str:
        """The name of the output node (f, unless the expression is a bare variable or constant)."""
        return self.nodes[self.output].name

    @cached_property
    def live(self) -> tuple[bool, ...]:
        """Per node: does the output depend on it? Only live gates take part in the backward pass."""
        if self.pruned:
            return (True,) * len(self.nodes)
        flags = [False] * len(self.nodes)
        flags[self.output] = True
        for i in range(len(self.nodes) - 1, -1, -1):
            if flags[i]:
                for a in self.nodes[i].args:
                    flags[a] = True
        return tuple(flags)

    def definition(self, i: int) -> str:
        """A gate's definition over its arguments' names (`x*y`, `sin(v)`); a leaf's own name."""
        node = self.nodes[i]
        if not node.is_gate:
            return node.name
        operands = self.operands
        return templates.expand(primitives.OPS[node.op].display, [operands[a] for a in node.args], out=node.name)

    def local_formula(self, i: int, k: int) -> str:
        """The local gradient ∂node/∂(argument k) as a formula over names (`y` for ∂v/∂x when v = x*y)."""
        node = self.nodes[i]
        rule = primitives.OPS[node.op].partial(k)
        operands = self.operands
        args = node.args
        if len(args) > 8:  # max/min: each of n edges would repeat all n names (n² text for one gate)
            shown = f"{', '.join(operands[a] for a in args[:3])}, …, {operands[args[-1]]}"
            return templates.readable(rule.format(k=operands[args[k]], out=node.name, args=shown))
        return templates.readable(templates.expand(rule, [operands[a] for a in args], out=node.name, k=k))

    @cached_property
    def operands(self) -> list[str]:
        """Each node's name as it reads inside another gate's definition: negative constants in parentheses."""
        return [f"({n.name})" if n.name.startswith("-") else n.name for n in self.nodes]

    @cached_property
    def rules(self) -> tuple[templates.Rules | None, ...]:
        """Per node: its gate's compiled rules on Python floats (None for a leaf), looked up once for both passes."""
        found: dict = {}
        out = []
        for node in self.nodes:
            if node.op in (INPUT, CONST):
                out.append(None)
                continue
            key = (node.op, len(node.args))
            if key not in found:
                found[key] = templates.rules(*key)
            out.append(found[key])
        return tuple(out)

    @cached_property
    def kinked(self) -> bool:
        """Whether any gate has a kink (relu, abs, max, min); computed once, the check asks per input."""
        return any(node.op in primitives.KINKED for node in self.nodes)
