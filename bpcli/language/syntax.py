"""What the parsers hand to lowering: statements, each an expression in postfix order, with source spans.

An expression is a flat list of items, operands before their operation (`x*y+1` is x, y, *, 1, +),
which is the order an LR parser finishes them in and the order lowering makes gates in. A flat list
is walked by a plain loop, holds no nesting (an expression may be 10⁵ parentheses deep), and costs a
tuple per item, not an object.

Every item is a 4-tuple (kind, text, span, extra); span is (start, end) offsets into the source:

    (NUM, "1e-3", span, 0.001)          a number literal as typed, and its value
    (VAR, "x", span, None)              a name: an input variable, a constant (pi, e) or a bare function name
    (CALL, "max", span, (n, name_span)) a call of n arguments, the n operands before it
    (BINARY, "*", span, op_pos)         an infix operation as typed (+ - * / ^ **), on the two operands before it
    (UNARY, "-", span, None)            a sign in front of the operand before it

A group `(…)` is no item: its span is the inner expression's, as in the grammar.
"""

from __future__ import annotations

Span = tuple[int, int]
NUM, VAR, CALL, BINARY, UNARY = range(5)

# Plain classes with __slots__, not dataclasses: every run defines them, and a dataclass costs start-up
# time to define (lowering empties a statement's items as it consumes them, so they are not tuples).


class Statement:
    """`name = expression` (name and name_span set) or a bare expression; `items` in postfix order."""

    __slots__ = ("items", "span", "name", "name_span")

    def __init__(self, items: list, span: Span, name: str | None = None, name_span: Span | None = None) -> None:
        self.items, self.span, self.name, self.name_span = items, span, name, name_span


class Program:
    """Statements in order. A lone expression is a program of one."""

    __slots__ = ("statements", "span")

    def __init__(self, statements: tuple[Statement, ...], span: Span) -> None:
        self.statements, self.span = statements, span
