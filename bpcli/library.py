"""The Python API, in the command line's words: `bpcli.grad`, `bpcli.eval`, `bpcli.diff`, `bpcli.code`,
`bpcli.compile`. docs/api.md shows each; `import bpcli` loads this module only when one is first used.

Values are keyword arguments (`bpcli.grad("x*y", x=3, y=2)`) or a mapping given first, which also holds
a variable whose name is one of the options (`bpcli.grad("wrt*2", {"wrt": 1})`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bpcli import api
from bpcli.points.compiled import Compiled


def _values(values: Mapping[str, float] | None, variables: Mapping[str, float]) -> dict[str, float]:
    return {**(values or {}), **variables}


def grad(expr: str, values: Mapping[str, float] | None = None, /, *, wrt: Iterable[str] | None = None,
         perturb: bool | str = False, order: int = 1, **variables: float) -> api.Gradients:
    """Forward pass, backward pass and gradient at a point, as `bpcli grad`. `.value`, `.gradient` (name →
    ∂f/∂name), with order=2 `.hessian`; perturb=True (or "forward", "complex") runs the check, `.check`."""
    how = None
    if perturb:
        how = api.Perturb("central" if perturb is True else str(perturb))
    return api.grad(expr, _values(values, variables), wrt, how, order=order)


def eval(expr: str, values: Mapping[str, float] | None = None, /, **variables: float) -> api.Evaluation:
    """The forward pass at a point, as `bpcli eval`: `.value`, and `.values` of every node."""
    return api.evaluate(expr, _values(values, variables))


def diff(expr: str, values: Mapping[str, float] | None = None, /, *, wrt: Iterable[str] | None = None,
         order: int = 1, inline: int = api.INLINE, **variables: float) -> api.Derivatives:
    """Derivatives as formulas, as `bpcli diff`: `.formulas` (("x",) → text), `.program()`, and with
    values `.values` at the point."""
    return api.diff(expr, _values(values, variables) or None, wrt, order, inline)


def code(expr: str, lang: str = "python") -> str:
    """The forward and backward passes as straight-line code, as `bpcli code` (python, c or javascript)."""
    from bpcli.codegen import emit
    from bpcli.errors import InputError

    if lang not in emit.LANGUAGES:
        raise InputError(f"lang is one of {', '.join(emit.LANGUAGES)}, not {lang!r}")
    return emit.LANGUAGES[lang](api.compile_source(expr))


def compile(expr: str, output: str | None = None) -> Compiled:
    """The expression compiled once for many points: `.grad(columns)` over NumPy arrays or a DataFrame."""
    return Compiled(expr, output)
