"""Names for intermediate gates, as the lecture writes them: output `f`, then v, u, t, s, … counting down.

Names the expression already uses (its variables) and the constants are skipped; past the single
letters, numbered names v1, v2, … follow.
"""

from __future__ import annotations

from collections.abc import Iterator

OUTPUT = "f"
_LETTERS = "vutsrqponmlkjihgdcba"  # counting down from v; e (a constant) and f (the output) are left out


def output_name(taken: set[str]) -> str:
    """`f`, or when the expression has a variable called f, the first of f1, f2, … that is free."""
    return next(n for n in _with_numbers(OUTPUT) if n not in taken)


def intermediate_names(taken: set[str]) -> Iterator[str]:
    """An endless stream of free names for intermediates, in the order the gates are computed."""
    for letter in _LETTERS:
        if letter not in taken:
            yield letter
    n = 1
    while True:
        name = f"v{n}"
        if name not in taken:
            yield name
        n += 1


def _with_numbers(base: str) -> Iterator[str]:
    yield base
    n = 1
    while True:
        yield f"{base}{n}"
        n += 1
