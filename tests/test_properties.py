"""Properties over random expressions: backprop agrees with the perturbation check and with SymPy.

The strategy builds each random expression twice, side by side: as bpcli TEXT (printed with as few
parentheses as the grammar's precedence allows, so the parser's precedence and associativity are
under test too) and as a SymPy expression built directly from the same tree. SymPy never parses
bpcli's text, so it is an independent oracle for the parser, the lowering, the table and both passes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bpcli import ops
from bpcli.errors import DomainError
from bpcli.pipeline import Perturb, grad

VARIABLES = ("x", "y", "z")
SYMBOLS = {name: sympy.Symbol(name, real=True) for name in VARIABLES}

# Precedence levels of the grammar, loosest first (grammar/*.lark): an operand printed at a lower
# level than its slot needs gets parentheses.
SUM, PRODUCT, UNARY, POWER, ATOM = range(5)

# Literals in every spelling the NUMBER token accepts; SymPy reads the same text as an exact rational.
LITERALS = ("0.5", "1", "2", "3", "1.5", ".25", "2.", "1e-1", "2.5E+0", "0")

# Beyond these the comparison says more about double precision than about derivatives.
HUGE = 1e8
# A relu/abs argument or a max/min gap this close to 0 is a kink: the derivative jumps there.
# Against SymPy only the exact kink is ambiguous (bpcli's subgradient convention vs SymPy's Heaviside(0)
# and sign(0)), so a small gap suffices. The perturbation check judges a lone kink itself (the
# subgradient must lie between the one-sided slopes), but not tied kinks composed with each other:
# max(x, min(x, y)) at x = y = 0 is x everywhere, yet splitting each tie evenly gives ∂/∂x = 0.75,
# outside [1, 1]. That is the PyTorch/JAX convention at work, not a wrong rule, so the check test
# stays ~1e-3 away from every kink.
KINK_GAP = 1e-6
KINK_GAP_FOR_CHECK = 1e-3


@dataclass(frozen=True)
class Expr:
    """One random expression: its text, the precedence level of that text, its SymPy twin, and its kinks.

    `kinks` are SymPy expressions that are zero exactly where the expression may not be differentiable
    (relu/abs arguments, pairwise differences of max/min arguments).
    """

    text: str
    level: int
    sym: sympy.Expr
    kinks: tuple[sympy.Expr, ...] = ()

    def at(self, level: int) -> str:
        """The text, parenthesised if it binds more loosely than a slot of `level` requires."""
        return self.text if self.level >= level else f"({self.text})"


def _variable(name: str) -> Expr:
    return Expr(name, ATOM, SYMBOLS[name])


def _literal(text: str) -> Expr:
    return Expr(text, ATOM, sympy.Rational(text))


CONSTANT_LEAVES = [Expr("pi", ATOM, sympy.pi), Expr("e", ATOM, sympy.E)]


def _binary(op: str, left: Expr, right: Expr) -> Expr:
    kinks = left.kinks + right.kinks
    a, b = left.sym, right.sym
    if op in "+-":  # left-associative: the right operand must bind tighter
        return Expr(f"{left.at(SUM)}{op}{right.at(PRODUCT)}", SUM, a + b if op == "+" else a - b, kinks)
    if op in "*/":
        return Expr(f"{left.at(PRODUCT)}{op}{right.at(UNARY)}", PRODUCT, a * b if op == "*" else a / b, kinks)
    # ^ and ** are right-associative; the base is an atom, the exponent may carry its own sign.
    return Expr(f"{left.at(ATOM)}{op}{right.at(UNARY)}", POWER, _sympy(_pow, a, b), kinks)


def _pow(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    # SymPy raises exact numbers to exact powers exactly: 3^3^3^3 would never finish (bpcli overflows).
    if a.is_number and b.is_number and abs(complex(b)) > 64:
        raise ValueError("exponent too large for exact arithmetic")
    return sympy.Pow(a, b)


def _sympy(build, *args: sympy.Expr) -> sympy.Expr:
    """build(*args), or nan (a case every test skips) where SymPy refuses: Max of a non-real constant."""
    if any(a is sympy.nan for a in args):
        return sympy.nan
    try:
        return build(*args)
    except (ValueError, TypeError):
        return sympy.nan


def _sign(op: str, operand: Expr) -> Expr:
    sym = -operand.sym if op == "-" else operand.sym
    return Expr(f"{op}{operand.at(UNARY)}", UNARY, sym, operand.kinks)


def _sigmoid(a: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-a))


SYMPY_FUNCTIONS = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos,
    "tan": sympy.tan, "tanh": sympy.tanh, "sigmoid": _sigmoid, "relu": lambda a: sympy.Max(a, 0),
    "abs": sympy.Abs,
}
assert set(SYMPY_FUNCTIONS) | {"max", "min"} == set(ops.FUNCTIONS), "a new function needs a SymPy twin here"


def _call(name: str, args: list[Expr]) -> Expr:
    text = f"{name}({', '.join(a.text for a in args)})"
    kinks = tuple(k for a in args for k in a.kinks)
    syms = [a.sym for a in args]
    if name in ("max", "min"):
        gaps = tuple(p - q for i, p in enumerate(syms) for q in syms[i + 1:])
        return Expr(text, ATOM, _sympy(sympy.Max if name == "max" else sympy.Min, *syms), kinks + gaps)
    sym = _sympy(SYMPY_FUNCTIONS[name], syms[0])
    return Expr(text, ATOM, sym, kinks + ((syms[0],) if name in ("relu", "abs") else ()))


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(_binary, st.sampled_from(["+", "-", "*", "/", "^", "**"]), children, children),
        st.builds(_sign, st.sampled_from(["-", "-", "+"]), children),
        st.builds(lambda name, a: _call(name, [a]), st.sampled_from(sorted(SYMPY_FUNCTIONS)), children),
        st.builds(_call, st.sampled_from(["max", "min"]), st.lists(children, min_size=2, max_size=3)),
    )


VARIABLE_LEAVES = st.sampled_from(VARIABLES).map(_variable)
LEAVES = st.one_of(  # variables twice as likely, so few expressions are constant
    VARIABLE_LEAVES,
    VARIABLE_LEAVES,
    st.sampled_from(LITERALS).map(_literal),
    st.sampled_from(CONSTANT_LEAVES),
)
# Small trees keep SymPy's diff/evalf (the slow part) cheap; 10 leaves already nest several functions deep.
EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=10)
COORDINATE = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)
POINTS = st.fixed_dictionaries({name: COORDINATE for name in VARIABLES})

FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


# ---- the oracle ---------------------------------------------------------------------------------

def _subs(point: dict[str, float]) -> dict[sympy.Symbol, sympy.Float]:
    # Float(v, 30) holds the double exactly: SymPy evaluates at the very point bpcli was given.
    return {SYMBOLS[name]: sympy.Float(v, 30) for name, v in point.items()}


def _number(expr: sympy.Expr, subs: dict) -> float | None:
    """The expression's value to 30 digits as a float, or None when it is not a finite real number."""
    v = expr.evalf(30, subs=subs)
    if not (v.is_Number and v.is_extended_real is True and v.is_finite is True):
        return None
    return float(v)


def _near_kink(expr: Expr, subs: dict, within: float = KINK_GAP) -> bool:
    """Whether some relu/abs argument or max/min gap is within `within` of 0 (or not real) at the point."""
    for kink in expr.kinks:
        gap = _number(kink, subs)
        if gap is None or abs(gap) < within:
            return True
    return False


def sympy_oracle(expr: Expr, point: dict[str, float], names: list[str]) -> tuple[float, dict[str, float]] | None:
    """SymPy's value and ∂/∂name at the point, or None where SymPy's answer is not finite and real."""
    subs = _subs(point)
    value = _number(expr.sym, subs)
    gradient = {name: _number(sympy.diff(expr.sym, SYMBOLS[name]), subs) for name in names}
    if value is None or None in gradient.values():
        return None
    return value, gradient


# Tolerance: bpcli evaluates at most a dozen gates in double precision, each correct to an ulp or so
# (~1e-16 relative), so a relative error far above 1e-9 needs an amplification of 10^7 that these
# small, moderate-valued expressions do not have; a wrong rule is off by O(1). The absolute floor
# covers results SymPy finds exactly 0 where doubles leave rounding residue (sin(pi) is 1.2e-16).
RTOL = 1e-9
ATOL = 1e-9


def close(got: float, want: float) -> bool:
    """Whether bpcli's number matches SymPy's within RTOL (scaled by the magnitude) plus ATOL."""
    return abs(got - want) <= RTOL * abs(want) + ATOL


def disagreements(expr: Expr, point: dict[str, float]) -> list[str] | None:
    """How bpcli and SymPy differ on value and gradient ([] if they agree); None if the case is skipped."""
    try:
        result = grad(expr.text, point)
    except DomainError:
        return None
    if _near_kink(expr, _subs(point)):
        return None
    oracle = sympy_oracle(expr, point, list(result.gradient))
    if oracle is None:
        return None
    value, gradient = oracle
    if max([abs(value), *map(abs, gradient.values())]) > HUGE:
        return None
    found = [] if close(result.value, value) else [f"f: bpcli {result.value!r}, sympy {value!r}"]
    found += [f"∂f/∂{n}: bpcli {result.gradient[n]!r}, sympy {g!r}"
              for n, g in gradient.items() if not close(result.gradient[n], g)]
    return found


# ---- properties ---------------------------------------------------------------------------------

# A difference quotient says something only where f is smooth on the scale of the step h: skip rows
# where x ± h leaves f's domain (the check falls back to one side), where the step crosses a kink
# (the point is >= 1e-3 from every kink, so f must vary on a scale finer than h, as near a pole), or
# where the left and right slopes differ by more than 1e-3 of the slope (h is not small next to the
# distance to a pole or domain edge, e.g. log(z) at z = 1e-5 with h = 6e-6), which puts the central
# difference's O((h/d)²) error above the check's tolerance. The filter reads only f's values, never
# backprop's answer, so a wrong rule is still caught.
SMOOTH_ON_STEP = 1e-3


def smooth_on_step(row) -> bool:
    """Whether the finite difference in `row` is a fair judge of the derivative."""
    if row.kink or row.f_plus is None or row.f_minus is None:
        return False
    left, right = (row.f_x - row.f_minus) / row.step, (row.f_plus - row.f_x) / row.step
    return abs(right - left) <= SMOOTH_ON_STEP * max(1.0, abs(left), abs(right))


@FAST
@given(EXPRESSIONS, POINTS)
def test_backprop_agrees_with_the_perturbation_check(expr, point):
    try:
        result = grad(expr.text, point, perturb=Perturb())
    except DomainError:
        assume(False)
    assume(not _near_kink(expr, _subs(point), KINK_GAP_FOR_CHECK))
    rows = [row for row in result.check.rows if smooth_on_step(row)]
    assume(rows)
    mismatches = [row for row in rows if row.verdict == "mismatch"]
    assert not mismatches, (expr.text, point, mismatches)


@FAST
@given(EXPRESSIONS, POINTS)
def test_value_and_gradient_agree_with_sympy(expr, point):
    found = disagreements(expr, point)
    assume(found is not None)
    assert found == [], (expr.text, point, found)


# ---- the oracle can fail ------------------------------------------------------------------------

def test_sympy_comparison_catches_a_wrong_derivative_rule(monkeypatch):
    x = SYMBOLS["x"]
    expr = Expr("sin(x)", ATOM, sympy.sin(x))
    point = {"x": 0.5}
    assert disagreements(expr, point) == []  # control: the real rule passes
    try:
        monkeypatch.setitem(ops.OPS, "sin", dataclasses.replace(ops.OPS["sin"], partials=("-cos({0})",)))
        ops.rules.cache_clear()
        found = disagreements(expr, point)
        assert grad("sin(x)", point).gradient["x"] == pytest.approx(-math.cos(0.5))
    finally:
        monkeypatch.undo()
        ops.rules.cache_clear()
    assert found and found[0].startswith("∂f/∂x")
