"""A graph's nodes: leaves (inputs and constants) and gates over earlier nodes, by index.

The user's expressions and the derivative rules of bpcli.primitives become lists of these alike.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from bpcli.language import syntax

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

__all__ = ["CONST", "INPUT", "Node", "make_node"]
