"""The perturbation check of the Hessian: each entry ∂²f/∂x∂y against the central difference of backprop's
gradient as y alone is nudged, (∂f/∂x(p + h·e_y) − ∂f/∂x(p − h·e_y)) / 2h.

The gradient is to this check what f is to bpcli.check.gradcheck, and it is judged the same way, by the
same functions: the step scaled to y and the finer ones after it, the error of each quotient estimated
from the data, the tolerance, the confirmation a mismatch needs, and the verdicts ok, mismatch, unchecked.
The gradient's own rounding plays the part of f's: EPS·|upstream·local| summed over the backward pass's
edges that lead to x. Where every step of y crosses a relu/abs/max/min kink, ∂f/∂x jumps there and the
entry is "unchecked".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from bpcli.check.gradcheck import RTOL, _confirm, _first_step, _judge, _rounding
from bpcli.check.quotient import Nudge, Quotient, smaller_steps
from bpcli.core import engine
from bpcli.core.graph import Graph
from bpcli.errors import DomainError


@dataclass(frozen=True)
class Row:
    """One entry's check: ∂/∂`by` of ∂f/∂`of`, with `by` nudged from its value `at` by `step`. `g` is
    backprop's ∂f/∂`of` at the point, `g_plus`/`g_minus` at the nudged points (None: undefined there).
    verdict: "ok", "mismatch" or "unchecked", as in bpcli.check.gradcheck."""

    of: str
    by: str
    at: float
    step: float
    analytic: float
    numeric: float | None
    abs_error: float | None
    rel_error: float | None
    verdict: str
    kink: bool
    g: float
    g_plus: float | None
    g_minus: float | None
    tolerance: float | None


@dataclass(frozen=True)
class Report:
    """Every entry's check, row by row of the Hessian; `step` is the step the user asked for (None: scaled)."""

    step: float | None
    rows: list[Row]

    @property
    def ok(self) -> bool:
        """True when no entry is a mismatch."""
        return all(row.verdict != "mismatch" for row in self.rows)


def entry(out: str, x: str, y: str) -> str:
    """The entry's name: ∂²f/∂x∂y (∂f/∂x differentiated by y), ∂²f/∂x² on the diagonal."""
    return f"∂²{out}/∂{x}²" if x == y else f"∂²{out}/∂{x}∂{y}"


def check(graph: Graph, inputs: Mapping[str, float], hessian: Mapping[str, Mapping[str, float]],
          step: float | None = None) -> Report:
    """Check every entry of `hessian` (input → input → ∂²f/∂x∂y) against differences of backprop's gradient."""
    gradients = _Gradients(graph, inputs, list(hessian))
    rows = [_row(graph, inputs, gradients, x, y, entry, step)
            for x, line in hessian.items() for y, entry in line.items()]
    return Report(step, rows)


class _Gradients:
    """Backprop's gradient of the chosen inputs at the point with one input moved, each point computed once
    (the entries ∂²f/∂x∂y of every x share the points of y)."""

    def __init__(self, graph: Graph, inputs: Mapping[str, float], chosen: list[str]) -> None:
        self.graph, self.inputs, self.chosen = graph, inputs, chosen
        self.index = {graph.nodes[i].name: i for i in graph.inputs}
        self.values = engine.forward(graph, inputs)
        self.memo: dict[tuple[str, float], list[float] | None] = {}

    def at(self, by: str, d: float, of: str) -> float | None:
        """∂f/∂`of` with `by` moved by d; None where f or the gradient is undefined there."""
        key = (by, d)
        if key not in self.memo:
            self.memo[key] = self._grads({**self.inputs, by: self.inputs[by] + d})
        grads = self.memo[key]
        return None if grads is None else grads[self.index[of]]

    def _grads(self, point: Mapping[str, float]) -> list[float] | None:
        try:
            values = engine.forward(self.graph, point)
            return engine.backward(self.graph, values, self.chosen, edges=False).grads
        except DomainError:
            return None

    @functools.cache
    def noise(self, of: str) -> float:
        """The rounding ∂f/∂`of` carries at the point: each edge's product rounds, and reaches it unchanged."""
        edges = engine.backward(self.graph, self.values, [of]).edges
        return math.fsum(_rounding(e.upstream, e.local) for e in edges)


def _row(graph: Graph, inputs: Mapping[str, float], gradients: _Gradients, x: str, y: str, analytic: float,
         step: float | None) -> Row:
    """The check of ∂²f/∂x∂y, as gradcheck's central check of f's slope, with ∂f/∂x in the place of f."""
    at = inputs[y]
    g = gradients.at(y, 0.0, x)
    assert g is not None   # the gradient was taken at the point
    h, kink = _first_step(graph, inputs, y, "central", step)
    if kink:   # ∂f/∂x jumps between the sides: no difference of it is a slope
        return Row(x, y, at, h, analytic, None, None, None, "unchecked", True, g, None, None, None)
    nudge = Nudge(functools.partial(gradients.at, y, of=x), g, "central", True, gradients.noise(x))
    q = nudge.quotient(h)
    steps = smaller_steps("central", at, h) if step is None else []
    q = nudge.best_step(q, steps, RTOL) if steps else q
    if q is None or not math.isfinite(q.error):
        return Row(x, y, at, h, analytic, None, None, None, "unchecked", False, g, None, None, None)
    verdict, tol = _judge(q, analytic, RTOL)
    if verdict == "mismatch" and step is None:  # a step the user gives is judged alone
        finer = [p for p in nudge.descend(q, [s for s in steps if s < q.h]) if p is not None]
        judge = functools.partial(_judge, analytic=analytic, rtol=RTOL)
        q, verdict = _confirm(q, finer, judge, abs(at) if at else math.inf)
        tol = _judge(q, analytic, RTOL)[1]
    return _row_of(x, y, at, analytic, g, verdict, q, tol)


def _row_of(x: str, y: str, at: float, analytic: float, g: float, verdict: str, q: Quotient, tol: float) -> Row:
    abs_error = abs(analytic - q.numeric)
    rel_error = abs_error / max(abs(analytic), abs(q.numeric)) if abs_error else 0.0
    return Row(x, y, at, q.h, analytic, q.numeric, abs_error, rel_error, verdict, False, g, q.f_plus, q.f_minus,
               tol)

