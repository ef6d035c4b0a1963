"""Names for intermediate gates, as the lecture writes them: output `f`, then v, u, t, s, … counting down.

A generated name must not look like one of the user's: the names in use are skipped, and so is every
letter stem of a user's name (with `a10`, `h1` and `x1` in use, no `a`, `h` or `x`). Past the free
letters come numbered names on the first free letter: v1, v2, … (or u1, … when `v` is a stem).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

OUTPUT = "f"
_LETTERS = "vutsrqponmlkjihgdcba"  # counting down from v; e (a constant) and f (the output) are left out
_DIGITS = re.compile(r"\d+$")


def output_name(taken: set[str]) -> str:
    """`f`, or when the expression has a variable called f, the first of f1, f2, … that is free."""
    return next(n for n in _with_numbers(OUTPUT) if n not in taken)


def stem(name: str) -> str:
    """A name without its trailing digits: a10 → a, h1 → h, lr → lr."""
    if name.isascii():   # the common case without a regular expression (a program may have 10⁵ names)
        return name.rstrip("0123456789") or name
    return _DIGITS.sub("", name) or name


def intermediate_names(taken: set[str]) -> Iterator[str]:
    """An endless stream of free names for intermediates, in the order the gates are computed."""
    avoid = taken | {stem(name) for name in taken}
    free = [letter for letter in _LETTERS if letter not in avoid]
    yield from free
    base = free[0] if free else "gate"
    n = 1
    while True:
        name = f"{base}{n}"
        if name not in taken:
            yield name
        n += 1


def intermediates(taken: set[str], count: int) -> list[str]:
    """The first `count` names of intermediate_names(taken), made at once (a graph may have 10⁶ gates)."""
    avoid = taken | {stem(name) for name in taken}
    found = [letter for letter in _LETTERS if letter not in avoid][:count]
    numbered = f"{found[0] if found else 'gate'}{{}}".format
    n = 1
    while len(found) < count:
        more = count - len(found)
        found += [name for name in map(numbered, range(n, n + more)) if name not in taken]
        n += more
    return found


def _with_numbers(base: str) -> Iterator[str]:
    yield base
    n = 1
    while True:
        yield f"{base}{n}"
        n += 1
