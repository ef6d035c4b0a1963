"""A seeded random probe of the perturbation check at tiny and huge |x|: no correct gradient is a mismatch.

Points are ±m·10^k with m in [1, 10) and k in [-300, 300]; where f or its gradient is undefined the point
is skipped. Two sets of expressions:
- SIMPLE, one function of x each (with every method): their rules are exact at every such point, so any
  mismatch is the check's fault;
- random compositions of the smooth functions and + - * / ^ (as tests/test_properties.py builds, in x
  alone; central and forward): there backprop itself can lose digits at extreme scales (x/x at x = 1e-250:
  1/x - x/x² with x² underflowing), so a mismatch fails the probe only where SymPy agrees with backprop
  (evaluated as tests/test_oracle.py does, by mpmath at rising precision).
The check's false mismatches it found are the regression tests in tests/test_gradcheck.py. A few
seconds; PROBE_CASES=20000 for a longer run.
"""

from __future__ import annotations

import os
import random

import sympy

import test_oracle as oracle
import test_properties as props

from bpcli.errors import BpcliError
from bpcli.api import Perturb, grad

SIMPLE = ["x^x", "x*log(x)", "sqrt(x)", "exp(-1/x)", "sin(1/x)", "log(x)", "tan(x)", "tanh(x)", "sigmoid(x)",
          "softplus(x)", "x^0.5", "1/x", "exp(x)", "sin(x)", "cos(x)", "x + sin(x)", "x^3", "x^-2",
          "log(x)^2", "x^2*log(x)", "exp(x) - 1", "x*sigmoid(x)", "sqrt(x)*log(x)", "x^1e-3"]
# Not x*sin(1/x): at |x| > 1e154 backprop's local -1/x² underflows and drops the term that cancels
# sin(1/x), so its gradient is 1/x where the slope is 1/(3x³); the check rightly calls that a mismatch.
FUNCTIONS = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus"]
CASES = int(os.environ.get("PROBE_CASES", "3000"))
X = props.SYMBOLS["x"]
SYMPY = {**props.SYMPY_FUNCTIONS, "x": X}


def _point(rng: random.Random) -> float:
    return rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 10.0) * 10.0 ** rng.randint(-300, 300)


def _composed(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.3:
        return rng.choice(["x", "x", "x", "2", "0.5"])
    if roll < 0.6:
        return f"{rng.choice(FUNCTIONS)}({_composed(rng, depth + 1)})"
    return f"({_composed(rng, depth + 1)}){rng.choice('+-*/^')}({_composed(rng, depth + 1)})"


def _row(text: str, x: float, method: str):
    """The check's row for x, or None where f, its gradient or the check is undefined there."""
    try:
        rows = grad(text, {"x": x}, perturb=Perturb(method)).check.rows
    except BpcliError:
        return None
    return rows[0] if rows else None


def _sympy_agrees(text: str, x: float, analytic: float) -> bool:
    """Whether backprop's slope is SymPy's to 1e-8 (50 digits at the double x)."""
    expr = sympy.sympify(text.replace("^", "**"), locals=SYMPY)
    try:
        exact = oracle.exact_value(sympy.diff(expr, X), {"x": x})   # mpmath at rising precision
    except oracle.Undefined:
        return False
    return exact is not None and abs(analytic - exact) <= 1e-8 * abs(exact)


def probe(seed: int, cases: int) -> tuple[list[tuple], dict[str, int]]:
    """Mismatches with correct gradients (text, x, method, the row), and how many rows had each verdict."""
    rng, false, verdicts = random.Random(seed), [], {"ok": 0, "unchecked": 0, "mismatch": 0}
    for _ in range(cases):
        simple = rng.random() < 0.5
        text = rng.choice(SIMPLE) if simple else _composed(rng)
        method = rng.choice(["central", "forward", "complex"] if simple else ["central", "forward"])
        x = _point(rng)
        row = _row(text, x, method) if "x" in text else None
        if row is None:
            continue
        verdicts[row.verdict] += 1
        if row.verdict == "mismatch" and (simple or _sympy_agrees(text, x, row.analytic)):
            false.append((text, x, method, row))
    return false, verdicts


def test_no_correct_gradient_is_a_mismatch_at_tiny_or_huge_x():
    false, verdicts = probe(seed=8, cases=CASES)
    assert false == []
    assert verdicts["ok"] > CASES // 2, verdicts  # the probe judges, it does not only skip


def test_the_probe_finds_a_wrong_rule(broken_rule):
    broken_rule("sin", "cos(a) * 1.001")
    false, _ = probe(seed=8, cases=300)
    assert any("sin" in text for text, *_ in false)
