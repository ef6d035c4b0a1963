"""The perturbation check: nudge each input, watch f move, compare with what backprop said.

Methods:
  central  (f(x+h) − f(x−h)) / 2h with h ≈ ∛ε·max(1, |x|): error O(h²) + rounding O(ε|f|/h).
  forward  (f(x+h) − f(x)) / h, the lecture's one-sided nudge (w 5 → 5.001 moves f 44 → 44.004),
           default h ≈ √ε·max(1, |x|).
  complex  Im f(x + ih) / h with h = 1e-20: no cancellation, accurate to rounding; needs a smooth
           expression, so it is refused where relu/abs/max/min appear.

The error of a difference quotient is estimated from the data (Richardson: the same quotient with
step 2h), never assumed. With the default step, bpcli tries h, h/10, h/100, … and keeps the step with
the smallest error bound, so points near a singularity (log(x) at x = 1e-5) are checked on one
smooth piece. A user's step is taken as given.

Where the nudge crosses a kink (a relu/abs argument changes sign, a max/min winner changes), the row
is flagged, the left and right one-sided slopes are shown, and backprop's subgradient passes when it
lies between them (PyTorch's gradcheck and JAX's check_grads report a false failure there).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bpcli import engine, ops
from bpcli.errors import DomainError, InputError
from bpcli.graph import Graph

EPS = 2.0 ** -52
METHODS = ("central", "forward", "complex")
COMPLEX_STEP = 1e-20
SHRINKS = 12       # the default step tries h, h/10, …, h/10^12
RTOL = 1e-6        # a rule wrong by more than this, relative to the derivative, is caught


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

    @property
    def error(self) -> float:
        """The bound on how far the quotient may be from the true slope."""
        return 2 * self.truncation + self.rounding


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
        return _complex_row(graph, inputs, name, analytic, f_x, h)
    kink = graph.kinked and _crosses_kink(graph, inputs, name, h)
    if kink and step is None:  # a smooth point near a kink: a smaller step may stay on one piece
        smaller = _step_off_the_kink(graph, inputs, name, h)
        if smaller is not None:
            h, kink = smaller, False
    nudge = _Nudge(lambda d: _value(graph, {**inputs, name: x + d}), f_x, method,
                   method == "central" or graph.kinked, noise)
    q = nudge.quotient(h)
    kink = kink and q is not None and q.left is not None and q.right is not None
    if step is None and not kink:
        q = nudge.best_step(h, q)
    if q is None or not math.isfinite(q.error):
        return _row_of(name, x, h, analytic, None, None, "unchecked", f_x, None, None, None, None)
    tol = q.error + RTOL * max(abs(analytic), abs(q.numeric))
    abs_error = abs(analytic - q.numeric)
    if kink:  # the subgradient must lie between the one-sided slopes
        ok = min(q.left, q.right) - tol <= analytic <= max(q.left, q.right) + tol
        verdict = "ok" if ok else "mismatch"
        return _row_of(name, x, q.h, analytic, q.numeric, tol, verdict, f_x, q.f_plus, q.f_minus, q.left, q.right)
    if abs_error > tol:
        verdict = "mismatch"
    elif abs_error > 0 and q.error >= 0.5 * max(abs(analytic), abs(q.numeric)):
        verdict = "unchecked"  # the quotient's own error is as large as the slope: it says nothing
    else:
        verdict = "ok"
    return _row_of(name, x, q.h, analytic, q.numeric, tol, verdict, f_x, q.f_plus, q.f_minus, None, None)


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
        return _Quotient(h, numeric, self.truncation(h, side, numeric), rounding, f_plus, f_minus, left, right)

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

    def best_step(self, h: float, first: _Quotient | None) -> _Quotient | None:
        """Try h, h/10, … and keep the quotient with the smallest error bound relative to its size."""
        best, q = first, first
        for _ in range(SHRINKS):
            if q is not None and (q.error <= RTOL * abs(q.numeric) or q.truncation <= q.rounding):
                break  # good enough, or smaller steps would only add rounding
            h /= 10
            q = self.quotient(h)
            if q is not None and (best is None or _relative(q) < _relative(best)):
                best = q
        return best


def _relative(q: _Quotient) -> float:
    return q.error / max(abs(q.numeric), 1e-300)


def _complex_row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
                 h: float) -> Row:
    x = inputs[name]
    moved = {k: complex(v) for k, v in inputs.items()}
    moved[name] = complex(x, h)
    numeric = engine.forward(graph, moved, backend="complex")[graph.output].imag / h
    if not math.isfinite(numeric):
        return _row_of(name, x, h, analytic, None, None, "unchecked", f_x, None, None, None, None)
    # No cancellation, so a relative 1e-10; plus what underflows in the imaginary part (h·f' below the
    # smallest normal double is lost).
    tol = 1e-10 * max(abs(analytic), abs(numeric)) + sys.float_info.min / h
    verdict = "ok" if abs(analytic - numeric) <= tol else "mismatch"
    return _row_of(name, x, h, analytic, numeric, tol, verdict, f_x, None, None, None, None)


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
            out.append(ops.rules(node.op, len(args)).kink(*args, values[i]))
    return tuple(out)
