"""The Python API, in the command line's words: `bpcli.grad`, `bpcli.eval`, `bpcli.diff`, `bpcli.graph`,
`bpcli.code`, `bpcli.compile`. In a notebook a result shows as the command's tables, a graph as SVG.
docs/api.md shows each; `import bpcli` loads this module only when one is first used.

Values are keyword arguments (`bpcli.grad("x*y", x=3, y=2)`) or a mapping given first, which also holds
a variable whose name is one of the options (`bpcli.grad("wrt*2", {"wrt": 1})`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from bpcli import api
from bpcli.core.graph import Graph
from bpcli.points.compiled import Compiled


class _Shown:
    """What a result shows in a notebook (the lecture's tables, as HTML) and in print() (the same as text)."""

    def _tables(self) -> Any:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        from bpcli.views import notebook

        return notebook.html(self._tables())

    def __str__(self) -> str:
        from bpcli.views import notebook

        return notebook.text(self._tables())


class Gradients(_Shown, api.Gradients):
    """bpcli.grad's result: api.Gradients, shown as `bpcli grad`'s tables."""

    def _tables(self) -> Any:
        from bpcli.views import tables

        return tables.gradients(self)


class Evaluation(_Shown, api.Evaluation):
    """bpcli.eval's result: api.Evaluation, shown as `bpcli eval`'s tables."""

    def _tables(self) -> Any:
        from bpcli.views import tables

        return tables.evaluation(self)


class Derivatives(_Shown, api.Derivatives):
    """bpcli.diff's result: api.Derivatives, shown as `bpcli diff`'s tables."""

    def _tables(self) -> Any:
        from bpcli.views import derivatives

        return derivatives.table(self)


def _as(kind: type, result: Any) -> Any:
    """`result` as the subclass `kind` of its class: the same fields (api's results list theirs in `_fields`;
    Derivatives is a dataclass)."""
    names = getattr(result, "_fields", None) or [f.name for f in dataclasses.fields(result)]
    return kind(*(getattr(result, name) for name in names))


class GraphView:
    """bpcli.graph's result: the computational graph, with values and gradients when given a point. A
    notebook draws it as SVG with Graphviz's dot (the text tree where dot is missing)."""

    def __init__(self, graph: Graph, result: api.Gradients | None) -> None:
        self.graph = graph
        self.result = result

    def dot(self) -> str:
        """Graphviz DOT source, as `bpcli graph --format dot`."""
        from bpcli.views import export

        return export.dot(self.graph, self.result)

    def mermaid(self) -> str:
        """A Mermaid flowchart, as `bpcli graph --format mermaid`."""
        from bpcli.views import export

        return export.mermaid(self.graph, self.result)

    def tree(self) -> str:
        """The text tree, as `bpcli graph`."""
        from bpcli.views import notebook, tables

        return notebook.text(tables.tree(self.graph, self.result))

    def _repr_svg_(self) -> str | None:
        from bpcli.views import notebook

        return notebook.svg(self.graph, self.result)

    def _repr_html_(self) -> str:
        from bpcli.views import notebook, tables

        return notebook.html(tables.tree(self.graph, self.result))

    def __str__(self) -> str:
        return self.tree()


def _values(values: Mapping[str, float] | None, variables: Mapping[str, float]) -> dict[str, float]:
    return {**(values or {}), **variables}


def grad(expr: str, values: Mapping[str, float] | None = None, /, *, wrt: Iterable[str] | None = None,
         perturb: bool | str = False, order: int = 1, **variables: float) -> Gradients:
    """Forward pass, backward pass and gradient at a point, as `bpcli grad`. `.value`, `.gradient` (name →
    ∂f/∂name), with order=2 `.hessian`; perturb=True (or "forward", "complex") runs the check, `.check`."""
    how = None
    if perturb:
        how = api.Perturb("central" if perturb is True else str(perturb))
    return _as(Gradients, api.grad(expr, _values(values, variables), wrt, how, order=order))


def eval(expr: str, values: Mapping[str, float] | None = None, /, **variables: float) -> Evaluation:
    """The forward pass at a point, as `bpcli eval`: `.value`, and `.values` of every node."""
    return _as(Evaluation, api.evaluate(expr, _values(values, variables)))


def diff(expr: str, values: Mapping[str, float] | None = None, /, *, wrt: Iterable[str] | None = None,
         order: int = 1, inline: int = api.INLINE, **variables: float) -> Derivatives:
    """Derivatives as formulas, as `bpcli diff`: `.formulas` (("x",) → text), `.program()`, and with
    values `.values` at the point."""
    return _as(Derivatives, api.diff(expr, _values(values, variables) or None, wrt, order, inline))


def graph(expr: str, values: Mapping[str, float] | None = None, /, **variables: float) -> GraphView:
    """The computational graph, as `bpcli graph`; with values, each node's value and gradient too."""
    point = _values(values, variables)
    result = api.grad(expr, point) if point else None
    return GraphView(result.graph if result else api.compile_source(expr), result)


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
