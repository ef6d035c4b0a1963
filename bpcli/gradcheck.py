"""The perturbation check: nudge each input, watch f move, compare with what backprop said.

Methods:
  central  (f(x+h) − f(x−h)) / 2h with h ≈ ∛ε·max(1, |x|): error O(h²) + rounding O(ε|f|/h).
  forward  (f(x+h) − f(x)) / h, the lecture's one-sided nudge (w 5 → 5.001 moves f 44 → 44.004),
           default h ≈ √ε·max(1, |x|).
  complex  Im f(x + ih) / h with h = 1e-20 (1e-20·|x| where that is not small against x): no
           cancellation, accurate to rounding; needs a smooth expression, so it is refused where
           relu/abs/max/min appear.

The error of a difference quotient is estimated from the data (Richardson: the same quotient with
step 2h), never assumed, and trusted only where the quotient has converged (the estimate is under 1% of
it, or below rounding, and f's own rounding is under 1% of f). With the default step, bpcli tries h,
h/10, …, h/10^12 and, for a smaller |x|, steps on the scale of x (each exactly representable), and
keeps a converged step with the smallest error bound, so points near a singularity (log(x) at
x = 1e-300, tan(x) next to pi/2) are checked on one smooth piece. A disagreement is a mismatch only if
the quotient converged and finer steps show f is smooth below its step; otherwise the row is
"unchecked": f is too steep, too flat or too noisy at every scale the check can use. A user's step is
taken as given.

Where the nudge crosses a kink (a relu/abs argument changes sign, a max/min winner changes), the row
is flagged, the left and right one-sided slopes are shown, and backprop's subgradient passes when it
lies between them (PyTorch's gradcheck and JAX's check_grads report a false failure there).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bpcli import engine, ops, templates
from bpcli.errors import DomainError, InputError
from bpcli.graph import Graph

EPS = 2.0 ** -52
METHODS = ("central", "forward", "complex")
COMPLEX_STEP = 1e-20
SHRINKS = 12       # the default step tries h, h/10, …, h/10^12
RTOL = 1e-6        # a rule wrong by more than this, relative to the derivative, is caught
CONVERGED = 0.01   # a quotient whose estimated truncation is under 1% of it is in its asymptotic regime


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


@dataclass(frozen=True)
class _Quotient:
    """A difference quotient at one step, with estimates of its truncation and rounding errors."""

    h: float
    numeric: float
    truncation: float
    rounding: float
    f_plus: float | None
    f_minus: float | None
    left: float | None
    right: float | None
    noisy: bool = False   # f's rounding is over 1% of its values: f itself is barely known

    @property
    def error(self) -> float:
        """The bound on how far the quotient may be from the true slope."""
        return 2 * self.truncation + self.rounding

    @property
    def converged(self) -> bool:
        """Whether the error bound can be trusted: Richardson's correction is a small part of the quotient
        (or below rounding). Otherwise (a step across a pole, a one-sided step at the edge of sqrt's domain,
        a step longer than an oscillation) the quotient is not yet a slope and its bound is a guess."""
        if self.noisy:  # sin(1e15*x): the product rounds by 0.06, so f's values are noise, and so is T
            return False
        return self.truncation <= CONVERGED * abs(self.numeric) or self.truncation <= self.rounding


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
        kinked = sorted({n.op for n in graph.nodes if n.op in ops.KINKED})
        raise InputError(f"--perturb-method complex needs a smooth expression; this one uses {', '.join(kinked)} "
                         "(use central or forward)")
    f_x = _value(graph, dict(inputs))
    # `noise` counts every node's rounding, the inputs' own too; but the nudged points are exact (the
    # default steps are exactly representable) and the other inputs are held fixed, so only the gates'
    # rounding is noise here (tan(x) near pi/2: x·tan'(x) is 10^10 times tan(x)).
    noise = max(0.0, noise - math.fsum(EPS * abs(inputs[n] * g) for n, g in grads.items()))
    rows = [_row(graph, inputs, name, grads[name], f_x, method, step, noise) for name in grads]
    return Report(method, step, rows)


def rounding_noise(values: list[float], adjoints: list[float]) -> float:
    """How much rounding error f carries: each node's rounding (EPS·|v|) reaches f times its adjoint.

    Each term is scaled by EPS before summing: terms near the largest double would overflow fsum.
    """
    return math.fsum(EPS * abs(v * g) for v, g in zip(values, adjoints))


def default_step(method: str, x: float) -> float:
    """The first step tried: ∛ε·max(1,|x|) for central, √ε·max(1,|x|) for forward, 1e-20 for complex."""
    if method == "complex":
        return COMPLEX_STEP
    return (EPS ** (1 / 3) if method == "central" else EPS ** 0.5) * max(1.0, abs(x))


def _row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
         method: str, step: float | None, noise: float) -> Row:
    x = inputs[name]
    h = step if step is not None else default_step(method, x)
    if method == "complex":
        return _complex_row(graph, inputs, name, analytic, f_x, h, noise)
    kink = graph.kinked and _crosses_kink(graph, inputs, name, h)
    if kink and step is None:  # a smooth point near a kink: a smaller step may stay on one piece
        smaller = _step_off_the_kink(graph, inputs, name, h)
        if smaller is not None:
            h, kink = smaller, False
    if step is None:
        h = (x + h) - x  # exactly representable: x ± h are exact, and the quotient divides by the true step
    nudge = _Nudge(lambda d: _value(graph, {**inputs, name: x + d}), f_x, method,
                   method == "central" or graph.kinked, noise)
    q = nudge.quotient(h)
    kink = kink and q is not None and q.left is not None and q.right is not None
    steps = _smaller_steps(method, x, h) if step is None and not kink else []
    q = nudge.best_step(q, steps) if steps else q
    if q is None or not math.isfinite(q.error):
        return _row_of(name, x, h, analytic, None, None, "unchecked", f_x, None, None, None, None)
    if kink:  # the subgradient must lie between the one-sided slopes
        tol = q.error + RTOL * max(abs(analytic), abs(q.numeric))
        ok = min(q.left, q.right) - tol <= analytic <= max(q.left, q.right) + tol
        verdict = "ok" if ok else "mismatch"
        return _row_of(name, x, q.h, analytic, q.numeric, tol, verdict, f_x, q.f_plus, q.f_minus, q.left, q.right)
    verdict, tol = _judge(q, analytic, RTOL)
    if verdict == "mismatch" and steps:
        q, verdict = _at_finer_steps(nudge, q, analytic, [s for s in steps if s < q.h])
        tol = _judge(q, analytic, RTOL)[1]
    return _row_of(name, x, q.h, analytic, q.numeric, tol, verdict, f_x, q.f_plus, q.f_minus, None, None)


def _judge(q: _Quotient, analytic: float, rtol: float, floor: float = 0.0) -> tuple[str, float]:
    """The verdict on backprop's `analytic` from one quotient, and the tolerance it used."""
    tol = q.error + floor + rtol * max(abs(analytic), abs(q.numeric))
    abs_error = abs(analytic - q.numeric)
    if abs_error > tol:
        return ("mismatch" if q.converged else "unchecked"), tol  # a bound that is a guess proves nothing
    if abs_error > 0 and q.error >= 0.5 * max(abs(analytic), abs(q.numeric)):
        return "unchecked", tol  # the quotient's own error is as large as the slope: it says nothing
    return "ok", tol


def _smaller_steps(method: str, x: float, h: float) -> list[float]:
    """The steps the search tries after h: h/10, …, h/10^12 and, where |x| is smaller still (log(x) at
    x = 1e-300), three on the scale of x itself; each exactly representable, none lost in x's rounding."""
    steps = [h / 10 ** k for k in range(1, SHRINKS + 1)]
    own = default_step(method, x) / max(1.0, abs(x)) * abs(x)
    if 0 < own < steps[-1]:
        steps += [own, own / 10, own / 100]
    return [s for s in dict.fromkeys((x + s) - x for s in steps) if s > 0]


def _at_finer_steps(nudge: _Nudge, q: _Quotient, analytic: float, steps: list[float]) -> tuple[_Quotient, str]:
    """A converged quotient disagrees with backprop: a mismatch if f is smooth below q's step. On a smooth
    f every finer quotient is converged (or rounding-bound) and agrees with q within their bounds; one that
    does not shows f is rough on the scale of q's step (sin(x) at x = 1e15, where h = 6e9 spans 10^9
    periods; x + 1e-10·sin(1e10·x) at h = 6e-6). Then backprop is judged on a finer scale where a converged
    quotient agrees with it, and the row is unchecked where none does."""
    finer = [p for p in map(nudge.quotient, steps) if p is not None]
    if all(p.converged and abs(p.numeric - q.numeric) <= p.error + q.error for p in finer):
        return q, "mismatch"
    agreeing = [p for p in finer if p.converged and _judge(p, analytic, RTOL)[0] == "ok"]
    return (min(agreeing, key=_relative), "ok") if agreeing else (q, "unchecked")


def _step_off_the_kink(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> float | None:
    """The first of h/10, h/100, … whose nudge no longer crosses a kink, or None: x sits on the kink
    (within 1e-10 relative, where a nudge would be lost in rounding anyway)."""
    smallest = 1e-10 * max(1.0, abs(inputs[name]))
    while h / 10 >= smallest:
        h /= 10
        if not _crosses_kink(graph, inputs, name, h):
            return h
    return None


@dataclass(frozen=True)
class _Nudge:
    """Difference quotients of one input: f(d) is the output with that input moved by d (None: undefined)."""

    f: Callable[[float], float | None]
    f_x: float
    method: str
    two_sided: bool
    noise: float

    def quotient(self, h: float) -> _Quotient | None:
        """The quotient at step h with its error estimates; None where f is undefined on both sides."""
        f_plus, f_minus = self.f(h), (self.f(-h) if self.two_sided else None)
        right = None if f_plus is None else (f_plus - self.f_x) / h
        left = None if f_minus is None else (self.f_x - f_minus) / h
        if left is None and right is None:
            return None
        central = self.method == "central" and left is not None and right is not None
        numeric = (left + right) / 2 if central else (right if right is not None else left)
        side = 0 if central else (1 if right is not None else -1)
        size = max(abs(v) for v in (self.f_x, f_plus, f_minus) if v is not None)
        # f is known to about noise (rounding in every gate), to EPS·|f|, and near 0 no better than the
        # smallest normal double (below it, products underflow).
        rounding = 8 * max(self.noise, EPS * size, sys.float_info.min) / h
        if not (math.isfinite(numeric) and math.isfinite(rounding)):
            return None
        return _Quotient(h, numeric, self.truncation(h, side, numeric), rounding, f_plus, f_minus, left, right,
                         self.noise > CONVERGED * size)

    def truncation(self, h: float, side: int, numeric: float) -> float:
        """Richardson: the quotient at 2h differs from the one at h by 3T (central, error ∝ h²) or T (one-sided).

        Where 2h leaves the domain the error is unknown: infinity, so a smaller step is preferred.
        """
        if side == 0:
            far_plus, far_minus = self.f(2 * h), self.f(-2 * h)
            if far_plus is None or far_minus is None:
                return math.inf
            return abs((far_plus - far_minus) / (4 * h) - numeric) / 3
        far = self.f(2 * side * h)
        return math.inf if far is None else abs(side * (far - self.f_x) / (2 * h) - numeric)

    def best_step(self, first: _Quotient | None, steps: list[float]) -> _Quotient | None:
        """Try the steps in turn and keep the best quotient: a converged one before any other, then the
        smallest error bound relative to its size."""
        best, q = first, first
        for h in steps:
            if q is not None and q.converged and (q.error <= RTOL * abs(q.numeric) or q.truncation <= q.rounding):
                break  # good enough, or smaller steps would only add rounding
            q = self.quotient(h)
            if q is not None and (best is None or _rank(q) < _rank(best)):
                best = q
        return best


def _rank(q: _Quotient) -> tuple[bool, float]:
    return not q.converged, _relative(q)


def _relative(q: _Quotient) -> float:
    return q.error / max(abs(q.numeric), 1e-300)


def _complex_row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
                 h: float, noise: float) -> Row:
    x = inputs[name]
    q = _complex_quotient(graph, inputs, name, h)
    if q is not None and not q.converged and 0 < abs(x) < 1:  # h not small against x (log(x) at 1e-300)
        q = _complex_quotient(graph, inputs, name, h * abs(x)) or q
    if q is None:
        return _row_of(name, x, h, analytic, None, None, "unchecked", f_x, None, None, None, None)
    # Backprop's own rounding: real arithmetic cannot resolve a slope below f's rounding over the central
    # step (where tanh(20) rounds to 1, backprop's 1 − tanh² is 0; the true slope is 1.7e-17).
    floor = 8 * max(noise, EPS * abs(f_x), sys.float_info.min) / default_step("central", x)
    verdict, tol = _judge(q, analytic, 1e-10, floor)
    return _row_of(name, x, q.h, analytic, q.numeric, tol, verdict, f_x, None, None, None, None)


def _complex_quotient(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> _Quotient | None:
    """Im f(x + ih)/h: no cancellation, so a relative 1e-10; its truncation h²·f‴/6 estimated from the step
    2h as for central differences; and what underflows in the imaginary part (h·f' below the smallest
    normal double is lost). None if not finite."""
    numeric, far = (_complex_slope(graph, inputs, name, d) for d in (h, 2 * h))
    if not math.isfinite(numeric):
        return None
    truncation = abs(far - numeric) / 3 if math.isfinite(far) else math.inf
    return _Quotient(h, numeric, truncation, sys.float_info.min / h, None, None, None, None)


def _complex_slope(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> float:
    moved = {k: complex(v) for k, v in inputs.items()}
    moved[name] = complex(inputs[name], h)
    return engine.forward(graph, moved, backend="complex")[graph.output].imag / h


def _row_of(name, x, h, analytic, numeric, tol, verdict, f_x, f_plus, f_minus, left, right) -> Row:
    abs_error = None if numeric is None else abs(analytic - numeric)
    rel_error = None
    if abs_error is not None:
        rel_error = abs_error / max(abs(analytic), abs(numeric)) if abs_error else 0.0
    return Row(name, x, h, analytic, numeric, abs_error, rel_error, verdict, left is not None, f_x,
               f_plus, f_minus, left, right, tol)


def _value(graph: Graph, inputs: Mapping[str, float]) -> float | None:
    try:
        return engine.forward(graph, inputs)[graph.output]
    except DomainError:
        return None


def _crosses_kink(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> bool:
    """Whether some relu/abs/max/min gate takes a different branch at x−h, x or x+h."""
    x = inputs[name]
    seen = {_branches(graph, {**inputs, name: x + d}) for d in (-h, 0.0, h)}
    seen.discard(None)
    return len(seen) > 1


def _branches(graph: Graph, inputs: Mapping[str, float]) -> tuple | None:
    try:
        values = engine.forward(graph, inputs)
    except DomainError:
        return None
    out = []
    for i, node in enumerate(graph.nodes):
        if node.op in ops.KINKED:
            args = [values[a] for a in node.args]
            out.append(templates.rules(node.op, len(args)).kink(*args, values[i]))
    return tuple(out)
