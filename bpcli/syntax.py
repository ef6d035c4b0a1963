"""Syntax-tree nodes, each with its source span (start and end offsets in the source text).

Named `syntax` so it does not shadow the standard library's `ast`. Nodes neither compare nor print
recursively (eq=False, a shallow repr): a tree may be 100 000 levels deep.
"""

from __future__ import annotations

from dataclasses import dataclass

Span = tuple[int, int]


@dataclass(eq=False, repr=False, slots=True)
class Num:
    """A number literal as typed (`text` keeps `1e-3` for display)."""

    text: str
    value: float
    span: Span


@dataclass(eq=False, repr=False, slots=True)
class Var:
    """A name: an input variable or a constant (pi, e); also a bare function name, which lowering rejects."""

    name: str
    span: Span


@dataclass(eq=False, repr=False, slots=True)
class Call:
    """A function call `name(args…)`; `name_span` covers just the name, for error carets."""

    name: str
    args: tuple
    span: Span
    name_span: Span


@dataclass(eq=False, repr=False, slots=True)
class Binary:
    """An infix operation; `op` is the symbol typed (`+ - * / ^ **`), `op_pos` its offset."""

    op: str
    left: object
    right: object
    span: Span
    op_pos: int


@dataclass(eq=False, repr=False, slots=True)
class Unary:
    """A sign in front of an operand (`-x`, `+x`)."""

    op: str
    operand: object
    span: Span


Expr = Num | Var | Call | Binary | Unary


@dataclass(eq=False, repr=False, slots=True)
class Assign:
    """A statement `name = value`; `name_span` covers the name."""

    name: str
    value: object
    span: Span
    name_span: Span


@dataclass(eq=False, repr=False, slots=True)
class Program:
    """Statements in order: Assign, or a bare expression. A lone expression is a program of one."""

    statements: tuple
    span: Span


def _short_repr(self) -> str:
    return f"<{type(self).__name__} at {self.span[0]}:{self.span[1]}>"


for _cls in (Num, Var, Call, Binary, Unary, Assign, Program):
    _cls.__repr__ = _short_repr
