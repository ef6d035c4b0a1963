"""How numbers look to a person: the shortest form with a given number of significant digits (44, 44.004,
1e-06). Tables show 6 by default (`--digits`), as a slide would; messages show 12; JSON and CSV keep
every digit and do not come here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

TABLE_DIGITS = 6
_digits: ContextVar[int] = ContextVar("digits", default=12)


def fmt(x: float, digits: int | None = None) -> str:
    """Format a number for tables and messages; -0 prints as 0 and whole numbers without a point."""
    if x == 0:
        return "0"
    text = f"{x:.{digits or _digits.get()}g}"
    return text.replace("e+", "e")


def digits_apart(x: float, near: float) -> int:
    """How many digits it takes to tell x from `near` (f(x+h) beside f(x)), at least the usual."""
    digits = _digits.get()
    while digits < 17 and fmt(x, digits) == fmt(near, digits):
        digits += 1
    return digits


def operand(x: float) -> str:
    """A number as a factor or a term: `(-0.434)` in brackets where negative, so `·` and `+` stay apart from `-`."""
    text = fmt(x)
    return f"({text})" if text.startswith("-") else text


@contextlib.contextmanager
def significant(digits: int) -> Iterator[None]:
    """Within the block, fmt shows `digits` significant digits."""
    token = _digits.set(digits)
    try:
        yield
    finally:
        _digits.reset(token)
