"""Syntax tree to a flat list of primitive gates (a Wengert list), in forward order.

Leaves (inputs and constants) come first in the order they first appear, then the gates in the order
they are computed, named v, u, t, … with the output last, named f: the lecture's `v = x*y`,
`u = w+v`, `f = u*z`. Lowering walks the tree with an explicit stack, never recursion.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property

from bpcli import names, ops, syntax
from bpcli.errors import InputError

INPUT = "input"
CONST = "const"


@dataclass(frozen=True, slots=True)
class Node:
    """One node: a leaf (op 'input' or 'const') or a gate (a key of ops.OPS) over earlier nodes."""

    name: str
    op: str
    args: tuple[int, ...]
    span: syntax.Span
    const: float | None = None

    @property
    def is_gate(self) -> bool:
        """True for a primitive gate, False for an input or a constant."""
        return self.op not in (INPUT, CONST)


@dataclass(frozen=True, eq=False)
class Graph:
    """The gates of one expression. Immutable: values and gradients live outside it, in lists by index."""

    source: str
    nodes: tuple[Node, ...]
    output: int

    @cached_property
    def depends(self) -> tuple[bool, ...]:
        """Per node: does its value depend on an input? Edges into constant parts carry no gradient."""
        return self.depends_on(self.input_names)

    def depends_on(self, names) -> tuple[bool, ...]:
        """Per node: does its value depend on one of the inputs `names`?"""
        wanted = set(names)
        flags: list[bool] = []
        for node in self.nodes:
            flags.append(node.name in wanted if node.op == INPUT else any(flags[a] for a in node.args))
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
        return ops.expand(ops.OPS[node.op].display, [operands[a] for a in node.args], out=node.name)

    def local_formula(self, i: int, k: int) -> str:
        """The local gradient ∂node/∂(argument k) as a formula over names (`y` for ∂v/∂x when v = x*y)."""
        node = self.nodes[i]
        rule = ops.OPS[node.op].partial(k)
        operands = self.operands
        return ops.readable(ops.expand(rule, [operands[a] for a in node.args], out=node.name, k=k))

    @cached_property
    def operands(self) -> list[str]:
        """Each node's name as it reads inside another gate's definition: negative constants in parentheses."""
        return [f"({n.name})" if n.name.startswith("-") else n.name for n in self.nodes]

    def kinked(self) -> bool:
        """Whether any gate has a kink (relu, abs, max, min)."""
        return any(node.op in ops.KINKED for node in self.nodes)


def lower(tree: syntax.Expr, source: str) -> Graph:
    """Lower a syntax tree to a Graph; InputError for unknown functions, wrong arity, bare function names."""
    return _Lowering(source).run(tree)


class _Lowering:
    """One lowering: leaves keyed by name or literal (shared), gates in computation order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.leaves: list[Node] = []
        self.leaf_index: dict[tuple[str, str], int] = {}
        self.gates: list[tuple[str, tuple[int, ...], syntax.Span]] = []

    # References: a leaf is ~i (negative), a gate is its position in self.gates.
    def leaf(self, op: str, name: str, span: syntax.Span, value: float | None = None) -> int:
        key = (op, name)
        if key not in self.leaf_index:
            self.leaf_index[key] = len(self.leaves)
            self.leaves.append(Node(name, op, (), span, value))
        return ~self.leaf_index[key]

    def gate(self, op: str, args: tuple[int, ...], span: syntax.Span) -> int:
        self.gates.append((op, args, span))
        return len(self.gates) - 1

    def run(self, tree: syntax.Expr) -> Graph:
        stack: list[tuple[object, bool]] = [(tree, False)]
        results: list[int] = []
        while stack:
            node, ready = stack.pop()
            if ready:
                self.finish(node, results)
            else:
                self.visit(node, stack, results)
        return self.build(results.pop())

    def visit(self, node, stack: list, results: list[int]) -> None:
        """First sight of a node: leaves are done at once; operations push themselves, then their operands."""
        if isinstance(node, syntax.Num):
            results.append(self.leaf(CONST, node.text, node.span, node.value))
        elif isinstance(node, syntax.Var):
            results.append(self.variable(node))
        elif isinstance(node, syntax.Unary) and node.op == "+":
            stack.append((node.operand, False))  # a unary plus is no gate
        elif isinstance(node, syntax.Unary) and isinstance(node.operand, syntax.Num):
            num = node.operand  # fold -2 into one constant, so x^-2 shows as x^-2, not a gate
            results.append(self.leaf(CONST, "-" + num.text, node.span, -num.value))
        else:
            if isinstance(node, syntax.Call):
                self.check_call(node)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_operands(node)))

    def finish(self, node, results: list[int]) -> None:
        """All operands are lowered (on top of `results`): add the gate."""
        if isinstance(node, syntax.Unary):
            op, n = ops.UNARY[node.op], 1
        elif isinstance(node, syntax.Binary):
            op, n = ops.BINARY[node.op], 2
        else:
            op, n = node.name, len(node.args)
        args = tuple(results[len(results) - n:])
        del results[len(results) - n:]
        results.append(self.gate(op, args, node.span))

    def variable(self, node: syntax.Var) -> int:
        if node.name in ops.CONSTANTS:
            return self.leaf(CONST, node.name, node.span, ops.CONSTANTS[node.name])
        if node.name in ops.FUNCTIONS:
            raise InputError(f"{node.name} is a function: call it as {node.name}(…)", self.source, node.span[0])
        return self.leaf(INPUT, node.name, node.span)

    def check_call(self, node: syntax.Call) -> None:
        if node.name not in ops.FUNCTIONS:
            raise InputError(_unknown_function(node.name), self.source, node.name_span[0])
        op = ops.OPS[node.name]
        if not op.accepts(len(node.args)):
            want = "at least 2 arguments" if op.arity is None else _plural(op.arity, "argument")
            raise InputError(f"{node.name} takes {want}, got {len(node.args)}", self.source, node.name_span[0])

    def build(self, root: int) -> Graph:
        taken = {leaf.name for leaf in self.leaves if leaf.op == INPUT}
        fresh = names.intermediate_names(taken)
        offset = len(self.leaves)
        nodes = list(self.leaves)
        for j, (op, args, span) in enumerate(self.gates):
            name = names.output_name(taken) if j == len(self.gates) - 1 else next(fresh)
            nodes.append(Node(name, op, tuple(~a if a < 0 else a + offset for a in args), span))
        return Graph(self.source, tuple(nodes), ~root if root < 0 else root + offset)


def _operands(node) -> tuple:
    if isinstance(node, syntax.Binary):
        return node.left, node.right
    return (node.operand,) if isinstance(node, syntax.Unary) else node.args


def _unknown_function(name: str) -> str:
    close = difflib.get_close_matches(name, ops.FUNCTIONS, n=1, cutoff=0.6)
    if close:
        return f"unknown function {name!r}: did you mean {close[0]}?"
    return (f"unknown function {name!r} (known: {', '.join(ops.FUNCTIONS)}); "
            f"for a product write {name}*(…)")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
