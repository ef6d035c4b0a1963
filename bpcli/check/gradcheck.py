"""The perturbation check: nudge each input, watch f move, compare with what backprop said.

How a nudge becomes a slope (the central, forward and complex methods, a difference quotient's error, the
choice of step) is bpcli.check.quotient's; here is the verdict. A disagreement is a mismatch only if the quotient
converged and finer steps show f is smooth below its step, one of them refuting backprop on its own;
otherwise the row is "unchecked": f is too steep, too flat or too noisy at every scale the check can use.
A user's step is taken as given.

Where the nudge crosses a kink (a relu/abs argument changes sign, a max/min winner changes), the row
is flagged, the left and right one-sided slopes are shown, and backprop's subgradient passes when it
lies between them, each within its own error (bpcli.check.kinks).
"""

from __future__ import annotations

import cmath
import functools
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bpcli.core import engine
from bpcli.check import METHODS, kinks
from bpcli import primitives
from bpcli.errors import DomainError, InputError
from bpcli.core.graph import Graph
from bpcli.check.quotient import (
    EPS,
    Nudge,
    Quotient,
    complex_quotient,
    default_step,
    smaller_steps,
)

LOOSE = 0.01       # a quotient whose error (or floor) is over 1% of the slope checks nothing: unchecked
RTOL = 1e-6        # a rule wrong by more than this, relative to the derivative, is caught


@dataclass(frozen=True)
class Perturb:
    """What --perturb asked for: the method and a fixed step (None: scaled to each input). bpcli.api.Perturb
    is this class, defined here so that a grad without --perturb does not define it (start-up time)."""

    method: str = "central"
    step: float | None = None


@dataclass(frozen=True)
class Row:
    """One input's check. `left`/`right` are the one-sided slopes, shown when the step crosses a kink.

    verdict: "ok"; "mismatch"; or "unchecked" when f is undefined on both sides, the quotient is not
    finite, or its own error is as large as the slope (a step far too large or too small).
    """

    name: str
    x: float
    step: float
    analytic: float
    numeric: float | None
    abs_error: float | None
    rel_error: float | None
    verdict: str
    kink: bool
    f_x: float
    f_plus: float | None
    f_minus: float | None
    left: float | None
    right: float | None
    tolerance: float | None


@dataclass(frozen=True)
class Report:
    """All rows of one check; `step` is the step the user asked for (None: chosen per input)."""

    method: str
    step: float | None
    rows: list[Row]

    @property
    def ok(self) -> bool:
        """True when no row is a mismatch."""
        return all(row.verdict != "mismatch" for row in self.rows)


def check(graph: Graph, inputs: Mapping[str, float], grads: Mapping[str, float],
          method: str = "central", step: float | None = None, noise: float = 0.0) -> Report:
    """Check ∂f/∂name for every name in `grads` by perturbing that input alone.

    `noise` is the rounding error expected in f, EPS·Σ|vᵢ·∂f/∂vᵢ| over the gates (`rounding_noise`):
    f is known only that well, however small f itself is.
    """
    if method not in METHODS:
        raise InputError(f"unknown --perturb-method {method!r} (choose from {', '.join(METHODS)})")
    if step is not None and not (step > 0 and math.isfinite(step)):
        raise InputError(f"--perturb step must be a positive number, got {step}")
    if method == "complex" and graph.kinked:
        kinked = sorted({n.op for n in graph.nodes if n.op in primitives.KINKED})
        raise InputError(f"--perturb-method complex needs a smooth expression; this one uses {', '.join(kinked)} "
                         "(use central or forward)")
    f_x = engine.forward(graph, dict(inputs))[graph.output]  # defined: the gradients were taken here
    # `noise` counts every node's rounding, the inputs' own too; but the nudged points are exact (the
    # default steps are exactly representable) and the other inputs are held fixed, so only the gates'
    # rounding is noise here (tan(x) near pi/2: x·tan'(x) is 10^10 times tan(x)).
    if math.isfinite(noise):  # (an infinite one stays so: inf − inf would be nan, and max(0, nan) is 0)
        noise = max(0.0, noise - math.fsum(_rounding(inputs[n], g) for n, g in grads.items()))
    rows = [_row(graph, inputs, name, grads[name], f_x, method, step, noise) for name in grads]
    return Report(method, step, rows)


def rounding_noise(values: list[float], adjoints: list[float]) -> float:
    """How much rounding error f carries: each node's rounding (EPS·|v|) reaches f times its adjoint.

    Each term is scaled by EPS before summing: terms near the largest double would overflow fsum.
    """
    return math.fsum(_rounding(v, g) for v, g in zip(values, adjoints))


def _rounding(v: float, g: float) -> float:
    """EPS·|v·g|; where v·g alone overflows (x·∂f/∂x for exp(x) at 709), EPS scales v first."""
    product = abs(v * g)
    return EPS * product if product != math.inf else EPS * abs(v) * abs(g)


def _row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
         method: str, step: float | None, noise: float) -> Row:
    if method == "complex":
        return _complex_row(graph, inputs, name, analytic, f_x, step, noise)
    x = inputs[name]
    h, kink = _first_step(graph, inputs, name, method, step)
    nudge = Nudge(lambda d: _value(graph, {**inputs, name: x + d}), f_x, method,
                  method == "central" or graph.kinked, noise)
    q = nudge.quotient(h)
    kink = kink and q is not None and q.left is not None and q.right is not None
    steps = smaller_steps(method, x, h) if step is None and not kink else []
    q = nudge.best_step(q, steps, RTOL) if steps else q
    if q is None or not math.isfinite(q.error):
        return _unchecked_row(name, x, analytic, f_x, h)
    if kink:
        verdict, tol = kinks.between_the_sides(nudge, q, analytic, RTOL)
        return _row_of(name, x, analytic, f_x, verdict, q, tol, kink=True)
    verdict, tol = _judge(q, analytic, RTOL)
    if verdict == "mismatch" and step is None:  # a step the user gives is judged alone
        finer = [p for p in nudge.descend(q, [s for s in steps if s < q.h]) if p is not None]
        judge = functools.partial(_judge, analytic=analytic, rtol=RTOL)
        q, verdict = _confirm(q, finer, judge, abs(x) if x else math.inf)
        if verdict == "mismatch" and _complex_step_agrees(graph, inputs, name, analytic, f_x, noise):
            verdict = "unchecked"
        tol = _judge(q, analytic, RTOL)[1]
    return _row_of(name, x, analytic, f_x, verdict, q, tol)


def _first_step(graph: Graph, inputs: Mapping[str, float], name: str, method: str, step: float | None
                ) -> tuple[float, bool]:
    """The first step tried, and whether its nudge crosses a kink. A user's step is taken as given."""
    x = inputs[name]
    h = step if step is not None else default_step(method, x)
    kink = graph.kinked and kinks.crosses(graph, inputs, name, h)
    if step is not None:
        return h, kink
    if kink:  # a smooth point near a kink: a smaller step may stay on one piece
        smaller = kinks.step_off(graph, inputs, name, h)
        if smaller is not None:
            h, kink = smaller, False
    return (x + h) - x, kink  # exactly representable: x ± h are exact, the quotient divides by the true step


def _complex_step_agrees(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
                         noise: float) -> bool:
    """Whether the complex step, where the expression is smooth, finds backprop right. It samples no
    points, so where it agrees a real-difference mismatch comes from f's values on the double grid: x +
    sin(x) at 1e15, whose oscillation hides in f's rounding (0.125) at every step short enough to see it
    and averages away over longer ones. Two estimates of one slope that disagree are unreliable."""
    return not graph.kinked and _complex_row(graph, inputs, name, analytic, f_x, None, noise).verdict == "ok"


def _judge(q: Quotient, analytic: float, rtol: float, floor: float = 0.0) -> tuple[str, float]:
    """The verdict on backprop's `analytic` from one quotient, and the tolerance it used."""
    tol = q.error + floor + rtol * max(abs(analytic), abs(q.numeric))
    abs_error = abs(analytic - q.numeric)
    if abs_error > tol:
        return ("mismatch" if q.converged else "unchecked"), tol  # a bound that is a guess proves nothing
    # A check that could not catch a rule wrong by 1% says nothing: unchecked, not "ok". Where backprop
    # says 0 within its own rounding (the floor: 1 − tanh² where tanh rounds to 1), 0 is the best a double
    # can say, and "ok" is true.
    if abs_error > 0 and q.error + (floor if analytic else 0.0) > LOOSE * max(abs(analytic), abs(q.numeric)):
        return "unchecked", tol
    return "ok", tol


def _confirm(q: Quotient, finer: list[Quotient], judge: Callable[[Quotient], tuple[str, float]],
             scale: float = math.inf) -> tuple[Quotient, str]:
    """A converged quotient disagrees with backprop (`judge` says so): a mismatch only if f is smooth below
    q's step and a finer step confirms it. On a smooth f every finer quotient is converged (or
    rounding-bound) and agrees with q within their bounds; one that does not shows f is rough on the scale
    of q's step (sin(x) at x = 1e15, where h = 6e9 spans 10^9 periods; x + 1e-10·sin(1e10·x) at h = 6e-6).
    Then backprop is judged on a finer scale where a converged quotient agrees with it, and the row is
    unchecked where none does.

    Confirmation needs a finer quotient that refutes backprop by itself, with a step on x's own `scale`:
    one deep in rounding agrees with anything, and steps far longer than x see nothing of a slope confined
    near it (x^z at x = 1e-70, z = 4e-73: f is 1 to the last bit at every step ≫ x, while ∂f/∂x = z/x is
    0.0037). Without one the row is unchecked however small q's own bound is, for that bound is drawn
    from f at x ± h and x ± 2h alone, and an oscillation shorter than h aliases into a quotient that looks
    converged (cos(x) at x = 7e131 on its smallest step: 6e-119 within 0.6%, where the slope is 0.197)."""
    # (two quotients of a smooth f may also differ by their own last bits: complex ones have no other error)
    if all(p.converged and abs(p.numeric - q.numeric) <= p.error + q.error + 4 * EPS * max(abs(p.numeric),
           abs(q.numeric)) for p in finer):
        sharp = any(p.h <= scale * (1 + 1e-9) and judge(p)[0] == "mismatch" for p in finer)
        return q, ("mismatch" if sharp else "unchecked")
    agreeing = [p for p in finer if p.converged and judge(p)[0] == "ok"]
    return (min(agreeing, key=lambda p: p.relative), "ok") if agreeing else (q, "unchecked")


def _complex_row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
                 step: float | None, noise: float) -> Row:
    x = inputs[name]
    h = step if step is not None else default_step("complex", x)
    slope = functools.partial(_complex_slope, graph, inputs, name)
    q, finer = _complex_steps(slope, x, h, step is None)
    if q is None:
        return _unchecked_row(name, x, analytic, f_x, h)
    # Backprop's own rounding: real arithmetic cannot resolve a slope below f's rounding over the central
    # step (where tanh(20) rounds to 1, backprop's 1 − tanh² is 0; the true slope is 1.7e-17).
    floor = 8 * max(noise, EPS * abs(f_x), sys.float_info.min) / default_step("central", x)
    judge = functools.partial(_judge, analytic=analytic, rtol=1e-10, floor=floor)
    verdict, tol = judge(q)
    if verdict == "mismatch" and finer is not None:
        q, verdict = _confirm(q, finer, judge)
        tol = judge(q)[1]
    return _row_of(name, x, analytic, f_x, verdict, q, tol)


def _complex_steps(slope: Callable[[float], float], x: float, h: float, default: bool
                   ) -> tuple[Quotient | None, list[Quotient] | None]:
    """The complex quotient to judge by, and those on x's own scale that must confirm a mismatch (None:
    no confirmation is needed; an empty list: it is needed and there is none).

    1e-20 is not small against x = 1e-300, so for |x| < 1 the default step h·|x| is tried too. It judges
    where h has not converged, and a disagreement at h is a mismatch only if it confirms it: at h ≫ x,
    x^x's quotient is ln h + 1 = -45, converged to 0.5%, where its slope is -482. For |x| >= 1 no finer
    step is needed: a complex step samples no points an oscillation could fall between, and 1e-20 is far
    below x's ulp, so no singularity an expression can place is near enough to bend it. (x = 0 has no
    scale of its own; its step is taken as it is.)"""
    q = complex_quotient(slope, h)
    if not (default and 0 < abs(x) < 1):
        return q, None
    fine = [p for p in [complex_quotient(slope, h * abs(x))] if p is not None]
    if fine and (q is None or not q.converged):
        return fine[0], None
    return q, fine


def _complex_slope(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> float:
    """Im f(x + ih) / h; nan where that is no slope: f overflowed (a real inf, whose imaginary part would
    read as 0: sin(1/x) at x = 1e-77), or a gate's imaginary part fell below the smallest normal double
    and lost its digits (x*log(x) at x = 9e299: Im log(x + ih) = h/x = 1e-320)."""
    moved = {k: complex(v) for k, v in inputs.items()}
    moved[name] = complex(inputs[name], h)
    values = engine.forward(graph, moved, backend="complex")
    value, given = complex(values[graph.output]), set(graph.inputs)
    lost = any(0 < abs(complex(v).imag) < sys.float_info.min for i, v in enumerate(values) if i not in given)
    return value.imag / h if cmath.isfinite(value) and not lost else math.nan


def _unchecked_row(name: str, x: float, analytic: float, f_x: float, h: float) -> Row:
    """The row where no step gave a quotient; h is the step tried."""
    return Row(name, x, h, analytic, None, None, None, "unchecked", False, f_x, None, None, None, None, None)


def _row_of(name: str, x: float, analytic: float, f_x: float, verdict: str, q: Quotient, tol: float,
            kink: bool = False) -> Row:
    """The row for the quotient judged; the one-sided slopes are shown only where the step crosses a kink."""
    abs_error = abs(analytic - q.numeric)
    rel_error = abs_error / max(abs(analytic), abs(q.numeric)) if abs_error else 0.0
    left, right = (q.left, q.right) if kink else (None, None)
    return Row(name, x, q.h, analytic, q.numeric, abs_error, rel_error, verdict, kink, f_x, q.f_plus, q.f_minus,
               left, right, tol)


def _value(graph: Graph, inputs: Mapping[str, float]) -> float | None:
    try:
        return engine.forward(graph, inputs)[graph.output]
    except DomainError:
        return None
