"""The perturbation check: nudge each input, watch f move, compare with what backprop said.

Methods:
  central  (f(x+h) − f(x−h)) / 2h with h ≈ ∛ε·max(1, |x|): error O(h²) + rounding O(ε|f|/h).
  forward  (f(x+h) − f(x)) / h, the lecture's one-sided nudge (w 5 → 5.001 moves f 44 → 44.004),
           default h ≈ √ε·max(1, |x|).
  complex  Im f(x + ih) / h with h = 1e-20: no cancellation, accurate to rounding; needs a smooth
           expression, so it is refused where relu/abs/max/min appear.

Where the nudge crosses a kink (a relu/abs argument changes sign, a max/min winner changes), the row
is flagged, the left and right one-sided slopes are shown, and backprop's subgradient passes when it
lies between them (PyTorch's gradcheck and JAX's check_grads report a false failure there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from bpcli import engine, ops
from bpcli.errors import DomainError, InputError
from bpcli.graph import Graph

EPS = 2.0 ** -52
METHODS = ("central", "forward", "complex")
COMPLEX_STEP = 1e-20


@dataclass(frozen=True)
class Row:
    """One input's check. `left`/`right` are the one-sided slopes, shown when the step crosses a kink."""

    name: str
    x: float
    step: float
    analytic: float
    numeric: float | None
    abs_error: float | None
    rel_error: float | None
    verdict: str            # "ok", "mismatch", or "unchecked" (f undefined on both sides of x)
    kink: bool
    f_x: float
    f_plus: float | None
    f_minus: float | None
    left: float | None
    right: float | None
    tolerance: float | None


@dataclass(frozen=True)
class Report:
    """All rows of one check; `step` is the step the user asked for (None: scaled to each input)."""

    method: str
    step: float | None
    rows: list[Row]

    @property
    def ok(self) -> bool:
        """True when no row is a mismatch."""
        return all(row.verdict != "mismatch" for row in self.rows)


def check(graph: Graph, inputs: Mapping[str, float], grads: Mapping[str, float],
          method: str = "central", step: float | None = None) -> Report:
    """Check ∂f/∂name for every name in `grads` by perturbing that input alone."""
    if method not in METHODS:
        raise InputError(f"unknown --perturb-method {method!r} (choose from {', '.join(METHODS)})")
    if step is not None and not (step > 0 and math.isfinite(step)):
        raise InputError(f"--perturb step must be a positive number, got {step}")
    if method == "complex" and graph.kinked():
        kinked = sorted({n.op for n in graph.nodes if n.op in ops.KINKED})
        raise InputError(f"--perturb-method complex needs a smooth expression; this one uses {', '.join(kinked)} "
                         "(use central or forward)")
    f_x = _value(graph, dict(inputs))
    rows = [_row(graph, inputs, name, grads[name], f_x, method, step) for name in grads]
    return Report(method, step, rows)


def default_step(method: str, x: float) -> float:
    """The step scaled to the input: ∛ε·max(1,|x|) for central, √ε·max(1,|x|) for forward, 1e-20 for complex."""
    if method == "complex":
        return COMPLEX_STEP
    return (EPS ** (1 / 3) if method == "central" else EPS ** 0.5) * max(1.0, abs(x))


def _row(graph: Graph, inputs: Mapping[str, float], name: str, analytic: float, f_x: float,
         method: str, step: float | None) -> Row:
    x = inputs[name]
    h = step if step is not None else default_step(method, x)
    if method == "complex":
        moved = {k: complex(v) for k, v in inputs.items()}
        moved[name] = complex(x, h)
        numeric = engine.forward(graph, moved, backend="complex")[graph.output].imag / h
        tol = 1e-10 * max(1.0, abs(analytic), abs(numeric))
        return _finish(name, x, h, analytic, numeric, tol, f_x, None, None, None, None)
    f = lambda d: _value(graph, {**inputs, name: x + d})  # noqa: E731 - f at x+d, None where undefined
    f_plus = f(h)
    f_minus = f(-h) if method == "central" or graph.kinked() else None
    right = None if f_plus is None else (f_plus - f_x) / h
    left = None if f_minus is None else (f_x - f_minus) / h
    if left is None and right is None:
        return Row(name, x, h, analytic, None, None, None, "unchecked", False, f_x, f_plus, f_minus,
                   None, None, None)
    two_sided = method == "central" and left is not None and right is not None
    numeric = (left + right) / 2 if two_sided else (right if right is not None else left)
    side = 0 if two_sided else (1 if right is not None else -1)
    tol = _tolerance(f, h, x, side, numeric, analytic, f_x, f_plus, f_minus)
    if not (graph.kinked() and _crosses_kink(graph, inputs, name, h)):
        left = right = None  # slopes are shown, and judged, only where the step crosses a kink
    return _finish(name, x, h, analytic, numeric, tol, f_x, f_plus, f_minus, left, right)


def _finish(name, x, h, analytic, numeric, tol, f_x, f_plus, f_minus, left, right) -> Row:
    abs_error = abs(analytic - numeric)
    rel_error = abs_error / max(abs(analytic), abs(numeric)) if abs_error else 0.0
    if left is not None and right is not None:  # a kink: the subgradient must lie between the slopes
        ok = min(left, right) - tol <= analytic <= max(left, right) + tol
    else:
        ok = abs_error <= tol
    return Row(name, x, h, analytic, numeric, abs_error, rel_error, "ok" if ok else "mismatch",
               left is not None and right is not None, f_x, f_plus, f_minus, left, right, tol)


def _tolerance(f, h: float, x: float, side: int, numeric: float, analytic: float,
               f_x: float, f_plus: float | None, f_minus: float | None) -> float:
    """How far a correct derivative may be from the difference quotient: truncation plus rounding.

    Truncation is estimated from the data (Richardson): the same quotient with step 2h differs from the
    one with step h by 3x the truncation error for central differences (error ∝ h²) and by 1x for
    one-sided ones (error ∝ h). Rounding is a few ε·|f| / h. A floor of 1e-6 relative remains, so a
    rule that is wrong by 0.01% is still caught at the default steps.
    """
    size = max(abs(v) for v in (f_x, f_plus, f_minus) if v is not None)
    rounding = 8 * EPS * max(size, 1e-300) / h
    if side == 0:
        far_plus, far_minus = f(2 * h), f(-2 * h)
        wide = None if far_plus is None or far_minus is None else (far_plus - far_minus) / (4 * h)
        truncation = None if wide is None else abs(wide - numeric) / 3
    else:
        far = f(2 * side * h)
        wide = None if far is None else side * (far - f_x) / (2 * h)
        truncation = None if wide is None else abs(wide - numeric)
    if truncation is None:  # 2h leaves the domain: fall back to a bound from the step alone
        h_rel = h / max(1.0, abs(x))
        truncation = (h_rel ** 2 if side == 0 else h_rel) * max(1.0, abs(numeric))
    return 2 * truncation + rounding + 1e-6 * max(1.0, abs(analytic), abs(numeric))


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
