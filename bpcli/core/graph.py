"""The graph: a flat list of primitive gates (a Wengert list), in forward order.

Leaves (inputs and constants) come first in the order they first appear, then the gates in the order
they are computed, named v, u, t, … with the output last, named f: the lecture's `v = x*y`,
`u = w+v`, `f = u*z`. `bpcli.core.lowering` builds it from a syntax tree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import functools
import itertools
import operator
from functools import cached_property
from operator import itemgetter
from typing import Any

from bpcli import primitives
from bpcli.core import rules as rule_forms
from bpcli.core.frozen import Frozen
from bpcli.core.nodes import CONST, INPUT, Node, make_node

__all__ = ["CONST", "INPUT", "Graph", "Node", "make_node"]

_HEAD = itemgetter(0, 1, 2)   # a node's name, op and args
_CONST_VALUE = itemgetter(4)


class Graph(Frozen):
    """The gates of one expression. Immutable: values and gradients live outside it, in lists by index.

    assigned: name the program assigns → its offset; unused: warnings for statements the output does not
    use; pruned: True when every node is live (lowering keeps only those). Equal only to itself."""

    _fields = ("source", "nodes", "output", "assigned", "unused", "pruned")
    source: str
    nodes: tuple[Node, ...]
    output: int
    assigned: Mapping[str, int]
    unused: tuple[str, ...]
    pruned: bool

    def __init__(self, source: str, nodes: tuple[Node, ...], output: int, assigned: Mapping[str, int] | None = None,
                 unused: tuple[str, ...] = (), pruned: bool = False) -> None:
        self._set(source, nodes, output, {} if assigned is None else assigned, unused, pruned)

    @cached_property
    def depends(self) -> tuple[bool, ...]:
        """Per node: does its value depend on an input? Edges into constant parts carry no gradient."""
        return self.depends_on(self.input_names)

    def depends_on(self, names) -> tuple[bool, ...]:
        """Per node: does its value depend on one of the inputs `names`?"""
        wanted = set(names)
        flags: list[bool] = []
        flag = flags.__getitem__
        for name, op, args in map(_HEAD, self.nodes):
            n = len(args)
            if n == 2:   # the commonest gates, taken apart by unpacking
                a, b = args
                flags.append(flags[a] or flags[b])
            elif n == 1:
                flags.append(flags[args[0]])
            else:
                flags.append(name in wanted if op == INPUT else any(map(flag, args)))
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
        return self.definitions(i, i + 1)[0]

    def definitions(self, lo: int, hi: int) -> list[str]:
        """`definition(i)` for each node i from lo up to hi, at once. Names are holes in a template per op and
        number of arguments; a gate of one or two arguments, none a negative constant (which reads in
        parentheses, `_text`), is taken apart by unpacking, any other node goes the long way."""
        nodes, negatives = self.nodes, self._negatives
        binary: dict[str, Callable[..., str]] = {}   # op → its template's fill
        unary: dict[str, Callable[..., str]] = {}
        out = []
        for i, (name, op, args) in enumerate(map(_HEAD, nodes[lo:hi]), lo):
            n = len(args)
            if n == 2 and not (negatives and not negatives.isdisjoint(args)):
                fill = binary.get(op) or binary.setdefault(op, self._definition_fill(op, 2))
                a, b = args
                out.append(fill(nodes[a][0], nodes[b][0]))
            elif n == 1 and args[0] not in negatives:
                fill = unary.get(op) or unary.setdefault(op, self._definition_fill(op, 1))
                out.append(fill(nodes[args[0]][0]))
            elif not args:
                out.append(name)
            else:
                out.append(self._definition_one(i))
        return out

    def _definition_fill(self, op: str, arity: int) -> Callable[..., str]:
        fill = self._spellings.get((op, arity))
        if fill is None:
            fill = self._spellings[op, arity] = rule_forms.Template(
                functools.partial(rule_forms.spelled_gate, op), [None] * arity).fill
        return fill

    def _definition_one(self, i: int) -> str:
        name, op, args = _HEAD(self.nodes[i])
        if not args:   # a leaf (every gate has arguments)
            return name
        return self._definition_fill(op, len(args))(*[_text(self.nodes[a][0]) for a in args])

    def local_formula(self, i: int, k: int) -> str:
        """The local gradient ∂node/∂(argument k) as a formula over names (`y` for ∂v/∂x when v = x*y)."""
        if primitives.OPS[self.nodes[i].op].arity is None:
            return self._variadic_local(i, k)
        name, fills, texts = self._local_parts(i)
        return fills[k](name, *texts)

    def local_formulas(self, i: int) -> list[str]:
        """`local_formula(i, k)` for every argument k of gate i, at once."""
        if primitives.OPS[self.nodes[i].op].arity is None:
            return [self._variadic_local(i, k) for k in range(len(self.nodes[i].args))]
        name, fills, texts = self._local_parts(i)
        return [fill(name, *texts) for fill in fills]

    def edge_formulas(self, gates: list[int], positions: list[int]) -> list[str]:
        """`local_formula(gates[j], positions[j])` for each j. A gate's edges come one after another (as the
        backward pass makes them), so its formulas are made once: a gate of one or two arguments fills the
        template of its op, argument position and constant arguments (which rules fold, so they are no
        holes) with its own and its arguments' names; any other gate goes the long way."""
        nodes, constants = self.nodes, self._constants
        variadic = {name for name, op in primitives.OPS.items() if op.arity is None}
        spellings: dict[Any, list] = {}   # op, or (op, per argument its index if a constant, else -1) → the fills
        out = []
        last, name, first, second, fills, formulas = -1, "", "", "", None, []
        for i, k in zip(gates, positions):
            if i != last:
                last = i
                name, op, args = _HEAD(nodes[i])
                n = len(args)
                if n == 2 and op not in variadic:
                    a, b = args
                    first, second = nodes[a][0], nodes[b][0]
                    key: Any = op if a not in constants and b not in constants else \
                        (op, a if a in constants else -1, b if b in constants else -1)
                elif n == 1:
                    first, second = nodes[args[0]][0], ""
                    key = op if args[0] not in constants else (op, args[0])
                else:
                    fills, formulas = None, self.local_formulas(i)
                    out.append(formulas[k])
                    continue
                fills = spellings.get(key)
                if fills is None:
                    fills = spellings[key] = self._local_parts(i)[1]
            out.append(formulas[k] if fills is None else fills[k](name, first, second))
        return out

    @cached_property
    def _constants(self) -> frozenset[int]:
        """The constants' indices (a constant is part of the templates of a gate's local formulas)."""
        nodes = self.nodes
        return frozenset(itertools.compress(range(len(nodes)), map(operator.is_not, map(_CONST_VALUE, nodes),
                                                                   itertools.repeat(None))))

    @cached_property
    def _negatives(self) -> frozenset[int]:
        """The negative constants' indices: each reads in parentheses inside another gate's definition."""
        return frozenset(i for i in self._constants if self.nodes[i].name[0] == "-")

    def _variadic_local(self, i: int, k: int) -> str:
        """∂gate/∂(argument k) of a gate of any number of arguments (max, min), spelled with its argument list
        cut to the first three, …, the last: no template, since one would hold all n arguments, and each of
        the gate's n edges would fill it (n² work)."""
        node = self.nodes[i]
        args, operands = node.args, self.operands
        shown = [operands[a] for a in args] if len(args) <= 8 else \
            [*(operands[a] for a in args[:3]), rule_forms.Operand("…"), operands[args[-1]]]
        op = primitives.OPS[node.op]
        leaves = rule_forms.bound(op, shown, rule_forms.Operand(node.name), operands[args[k]])
        return rule_forms.spelled(rule_forms.parsed(node.op).partials[0], leaves)

    def _local_parts(self, i: int) -> tuple[str, list, list[str]]:
        """Gate i's name, per argument k the fill(name, *texts) of ∂gate/∂(argument k), and the arguments'
        texts. Names are holes in the templates; constants are part of them, since rules fold them."""
        nodes = self.nodes
        node = nodes[i]
        args = [nodes[a] for a in node.args]
        key = (node.op, *[None if n.const is None else n.name for n in args])   # a constant's name is its value
        fills = self._spellings.get(key)
        if fills is None:
            op, fixed = primitives.OPS[node.op], [None if n.const is None else _operand(n) for n in args]
            fills = self._spellings[key] = [rule_forms.Template(functools.partial(_spelled_local, op, k),
                                                                [None, *fixed]).fill for k in range(len(fixed))]
        return node.name, fills, [n.name if n.const is None else _text(n.name) for n in args]

    @cached_property
    def _spellings(self) -> dict[tuple, Any]:
        """Templates (rule_forms.Template) of definitions, by (op, number of arguments), and of a gate's
        local formulas, by (op, per argument its name if a constant, else None)."""
        return {}

    @cached_property
    def operands(self) -> list[rule_forms.Operand]:
        """Each node as it reads inside another gate's definition or rule: its name (negative constants in
        parentheses), and a constant's value."""
        return list(map(_operand, self.nodes))

    @cached_property
    def rules(self) -> tuple[rule_forms.Rules | None, ...]:
        """Per node: its gate's compiled rules on Python floats (None for a leaf), looked up once for both passes."""
        found: dict[Any, rule_forms.Rules] = {}   # by op, or by (op, number of arguments) for max and min
        out: list[rule_forms.Rules | None] = []
        for _, op, args in map(_HEAD, self.nodes):
            rules = found.get(op)
            if rules is None:
                if op == INPUT or op == CONST:
                    out.append(None)
                    continue
                key = (op, len(args))
                if key not in found:
                    found[key] = rule_forms.rules(*key)
                rules = found[key]
                if primitives.OPS[op].arity is not None:
                    found[op] = rules
            out.append(rules)
        return tuple(out)

    @cached_property
    def kinked(self) -> bool:
        """Whether any gate has a kink (relu, abs, max, min); computed once, the check asks per input."""
        return any(node.op in primitives.KINKED for node in self.nodes)


def _spelled_local(op: primitives.Op, k: int, holes: list[rule_forms.Operand]) -> str:
    """∂gate/∂(argument k) of gate `op` (of a fixed number of arguments) over `holes`: the output, then the
    arguments."""
    out, args = holes[0], holes[1:]
    return rule_forms.spelled(rule_forms.parsed(op.name).partials[k], rule_forms.bound(op, args, out))


def _operand(n: Node) -> rule_forms.Operand:
    """A node as it reads inside another gate's definition or rule (Graph.operands, made when needed:
    a definition or a formula a node needs only its arguments')."""
    return rule_forms.Operand(_text(n.name), n.const, n.op == CONST and n.name not in primitives.CONSTANTS)


def _text(name: str) -> str:
    """A node's name as an operand: a negative constant in parentheses."""
    return f"({name})" if name[0] == "-" else name
