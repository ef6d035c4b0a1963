"""Difference quotients: one input's slope estimated at a step, with its errors estimated from the data,
and the search for a step where the estimate can be trusted. bpcli.check.gradcheck judges backprop by them.

Methods:
  central  (f(x+h) − f(x−h)) / 2h with h ≈ ∛ε·max(1, |x|): error O(h²) + rounding O(ε|f|/h).
  forward  (f(x+h) − f(x)) / h, the lecture's one-sided nudge (w 5 → 5.001 moves f 44 → 44.004),
           default h ≈ √ε·max(1, |x|).
  complex  Im f(x + ih) / h with h = 1e-20 (1e-20·|x| where that is not small against x): no
           cancellation, accurate to rounding; needs a smooth expression, so it is refused where
           relu/abs/max/min appear.

The error of a difference quotient is estimated from the data (Richardson: the same quotient with
step 2h), never assumed, and trusted only where the quotient has converged: the estimate and the rounding
that hides it are under 1% of it, or it is lost in rounding after a larger step had converged; and f's
own rounding is under 1% of f. With the default step, bpcli tries h, h/10, …, h/10^12 and, for a
smaller |x|, steps on the scale of x (each exactly representable), and keeps a converged step with the
smallest error bound, so points near a singularity (log(x) at x = 1e-300, tan(x) next to pi/2) are
checked on one smooth piece.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

EPS = 2.0 ** -52
COMPLEX_STEP = 1e-20
SHRINKS = 12       # the default step tries h, h/10, …, h/10^12
CONVERGED = 0.01   # a quotient whose estimated truncation is under 1% of it is in its asymptotic regime


@dataclass(frozen=True)
class Quotient:
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
    settled: bool = True  # the next larger step tried had converged (or there was none)

    @property
    def error(self) -> float:
        """The bound on how far the quotient may be from the true slope."""
        return 2 * self.truncation + self.rounding

    @property
    def converged(self) -> bool:
        """Whether the error bound can be trusted: Richardson's correction and the rounding it is measured
        through are a small part of the quotient (or it is lost in rounding, after a larger step had
        converged). Otherwise (a step across a pole, a one-sided step at the edge of sqrt's domain,
        a step longer than an oscillation) the quotient is not yet a slope and its bound is a guess."""
        if self.noisy:  # sin(1e15*x): the product rounds by 0.06, so f's values are noise, and so is T
            return False
        # T is measured through f's rounding: where T <= R it is lost in the noise (x^x at x = 1e-101,
        # h = 6e-17: the quotients at h and 2h round alike, T = 0), and R is what is known of it.
        if max(self.truncation, self.rounding) <= CONVERGED * abs(self.numeric):
            return True
        # The quotient is lost in rounding too (a slope near 0, or f flat): its T is small only if it shrank
        # into the noise from a larger step that had converged. Rounding grows as 1/h and swamps a T that
        # never shrank: x^x at x = 1e-101, whose quotient at h ≫ x is ln h + 1 (T stays ln 2 over ten
        # decades of h until R passes it), is not a slope at x.
        return self.settled and self.truncation <= self.rounding

    @property
    def relative(self) -> float:
        """The error bound relative to the quotient's size."""
        return self.error / max(abs(self.numeric), 1e-300)


def default_step(method: str, x: float) -> float:
    """The first step tried: ∛ε·max(1,|x|) for central, √ε·max(1,|x|) for forward, 1e-20 for complex."""
    if method == "complex":
        return COMPLEX_STEP
    return (EPS ** (1 / 3) if method == "central" else EPS ** 0.5) * max(1.0, abs(x))


def own_step(method: str, x: float) -> float:
    """The step on the scale of x itself: ∛ε·|x| (central) or √ε·|x| (forward) where |x| < 1, the default
    step where |x| >= 1. x = 0 has no scale of its own: inf, every step is on it."""
    return default_step(method, x) / max(1.0, abs(x)) * abs(x) if x else math.inf


def smaller_steps(method: str, x: float, h: float) -> list[float]:
    """The steps the search tries after h: h/10, …, h/10^12 and, where |x| is smaller still (log(x) at
    x = 1e-300), three on the scale of x itself; each exactly representable, none lost in x's rounding."""
    steps = [h / 10 ** k for k in range(1, SHRINKS + 1)]
    own = own_step(method, x)
    if own < steps[-1]:
        steps += [own, own / 10, own / 100]
    return [s for s in dict.fromkeys((x + s) - x for s in steps) if s > 0]


@dataclass(frozen=True)
class Nudge:
    """Difference quotients of one input: f(d) is the output with that input moved by d (None: undefined)."""

    f: Callable[[float], float | None]
    f_x: float
    method: str
    two_sided: bool
    noise: float

    def quotient(self, h: float, settled: bool = True) -> Quotient | None:
        """The quotient at step h with its error estimates; None where f is undefined on both sides.
        `settled`: whether the quotient at the next larger step tried had converged (or none was tried)."""
        f_plus, f_minus = self.f(h), (self.f(-h) if self.two_sided else None)
        right = None if f_plus is None else _slope(f_plus - self.f_x, h)
        left = None if f_minus is None else _slope(self.f_x - f_minus, h)
        if left is not None and right is not None and self.method == "central":
            numeric, side = _mean(left, right), 0
        elif right is not None:
            numeric, side = right, 1
        elif left is not None:
            numeric, side = left, -1
        else:
            return None
        size = max(abs(v) for v in (self.f_x, f_plus, f_minus) if v is not None)
        # f is known to about noise (rounding in every gate), to EPS·|f|, and near 0 no better than the
        # smallest normal double (below it, products underflow).
        rounding = 8 * max(self.noise, EPS * size, sys.float_info.min) / h
        if not (math.isfinite(numeric) and math.isfinite(rounding)):
            return None
        return Quotient(h, numeric, self.truncation(h, side, numeric), rounding, f_plus, f_minus, left, right,
                        self.noise > CONVERGED * size, settled)

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

    def one_sided(self, q: Quotient, side: int) -> Quotient:
        """q's left (side -1) or right (+1) slope as a quotient of its own, with its own truncation."""
        slope = q.right if side > 0 else q.left
        assert slope is not None, "a one-sided quotient of a side where f is undefined"
        return dataclasses.replace(q, numeric=slope, truncation=self.truncation(q.h, side, slope))

    def descend(self, q: Quotient | None, steps: list[float]) -> Iterator[Quotient | None]:
        """The quotients at `steps` (decreasing, after q's), each told whether the one before it converged."""
        for h in steps:
            q = self.quotient(h, q is None or q.converged)
            yield q

    def best_step(self, first: Quotient | None, steps: list[float], rtol: float) -> Quotient | None:
        """Try the steps in turn and keep the best quotient: a converged one before any other, then the
        smallest error bound relative to its size. A converged quotient whose error is under `rtol` of it
        ends the search."""
        best = first
        for q in ([] if _enough(first, rtol) else self.descend(first, steps)):
            if q is not None and (best is None or _rank(q) < _rank(best)):
                best = q
            if _enough(q, rtol):
                break
        return best


def _enough(q: Quotient | None, rtol: float) -> bool:
    """Converged, and good enough or so deep in rounding that smaller steps would only add more."""
    return q is not None and q.converged and (q.error <= rtol * abs(q.numeric) or q.truncation <= q.rounding)


def _slope(change: float, h: float) -> float:
    """change/h; nan where a change f does show is lost in the division, below the smallest normal double
    (sin(x)/x at x = -1.6e292: f moves by 1e-292 over h = 1e287, a slope of 1e-579 that reads as 0)."""
    slope = change / h
    return math.nan if change and abs(slope) < sys.float_info.min else slope


def _mean(left: float, right: float) -> float:
    """(left + right)/2, also where the sum overflows (1/x at x = 9e-155: both slopes near -1.2e308)."""
    mean = (left + right) / 2
    return mean if math.isfinite(mean) else left / 2 + right / 2


def _rank(q: Quotient) -> tuple[bool, float]:
    return not q.converged, q.relative


def complex_quotient(slope: Callable[[float], float], h: float) -> Quotient | None:
    """Im f(x + ih)/h, given as slope(h): no cancellation, so a relative 1e-10; its truncation h²·f‴/6
    estimated from the step 2h as for central differences; and what underflows in the imaginary part
    (h·f' below the smallest normal double is lost). None if not finite, or if h underflowed to 0
    (1e-20·|x| at x = 1e-320)."""
    if not h:
        return None
    numeric, far = slope(h), slope(2 * h)
    if not math.isfinite(numeric):
        return None
    truncation = abs(far - numeric) / 3 if math.isfinite(far) else math.inf
    return Quotient(h, numeric, truncation, sys.float_info.min / h, None, None, None, None)
