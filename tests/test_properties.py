"""Properties over random expressions: backprop agrees with the perturbation check and with SymPy.

The strategy builds each random expression twice, side by side: as bpcli TEXT (printed with as few
parentheses as the grammar's precedence allows, so the parser's precedence and associativity are
under test too) and as a SymPy expression built directly from the same tree. SymPy never parses
bpcli's text, so it is an independent oracle for the parser, the lowering, the table and both passes.
tests/test_oracle.py reuses this generator against SymPy at 50 digits with a per-case error bound (far
tighter than the tolerance here) and adds programs; this file stays as the quick check, and for --perturb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import sympy
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from bpcli import primitives
from bpcli.errors import DomainError
from bpcli.api import Perturb, grad

VARIABLES = ("x", "y", "z")
SYMBOLS = {name: sympy.Symbol(name, real=True) for name in VARIABLES}

# Precedence levels of the grammar, loosest first (grammar/*.lark): an operand printed at a lower
# level than its slot needs gets parentheses.
SUM, PRODUCT, UNARY, POWER, ATOM = range(5)

# Literals in every spelling the NUMBER token accepts; SymPy reads the same text as an exact rational.
LITERALS = ("0.5", "1", "2", "3", "1.5", ".25", "2.", "1e-1", "2.5E+0", "0")

# Where an expression is not smooth, comparisons need a margin. Two kinds of places, both recorded by
# the strategy as SymPy expressions that are 0 there:
# - kinks: relu/abs arguments and max/min gaps, where the derivative jumps. Against SymPy only the
#   exact kink is ambiguous (bpcli's subgradient convention vs SymPy's Heaviside(0) and sign(0)), so a
#   small gap suffices.
# - poles and domain edges: denominators, log/sqrt arguments, tan's cos, bases of powers other than
#   whole non-negative ones (0^0 = 1 but 0^(1e-16) = 0). Near them rounding is amplified: tan(-pi) is
#   1.2e-16 in doubles, so sqrt(tan(-pi)) is 1.1e-8 where SymPy has 0, and an argument rounded by
#   ~EPS·|a| moves 1/a relatively by EPS·|a|/gap, so a gap of 1e-4 keeps that below 1e-10.
# The perturbation check judges a lone kink itself (the subgradient must lie between the one-sided
# slopes), but not tied kinks composed with each other: max(x, min(x, y)) at x = y = 0 is x
# everywhere, yet splitting each tie evenly gives ∂/∂x = 0.75, outside [1, 1]. That is the PyTorch/JAX
# convention at work, not a wrong rule, so the check test stays 1e-3 away from every such place.
KINK_GAP = 1e-6
POLE_GAP = 1e-4
GAP_FOR_CHECK = 1e-3


@dataclass(frozen=True)
class Expr:
    """One random expression: its text, the precedence level of that text, its SymPy twin, and where
    it is not smooth (`kinks`, `poles`: SymPy expressions that are 0 there; see KINK_GAP, POLE_GAP).
    """

    text: str
    level: int
    sym: sympy.Expr
    kinks: tuple[sympy.Expr, ...] = ()
    poles: tuple[sympy.Expr, ...] = ()

    def at(self, level: int) -> str:
        """The text, parenthesised if it binds more loosely than a slot of `level` requires."""
        return self.text if self.level >= level else f"({self.text})"


def _variable(name: str) -> Expr:
    return Expr(name, ATOM, SYMBOLS[name])


def _literal(text: str) -> Expr:
    return Expr(text, ATOM, sympy.Rational(text))


CONSTANT_LEAVES = [Expr("pi", ATOM, sympy.pi), Expr("e", ATOM, sympy.E)]


def _combine(text: str, level: int, sym: sympy.Expr, args: list[Expr],
             kinks: tuple = (), poles: tuple = ()) -> Expr:
    """A new node over `args`, inheriting their kinks and poles and adding its own."""
    return Expr(text, level, sym, sum((a.kinks for a in args), kinks), sum((a.poles for a in args), poles))


def _binary(op: str, left: Expr, right: Expr) -> Expr:
    a, b = left.sym, right.sym
    if op in "+-":  # left-associative: the right operand must bind tighter
        text = f"{left.at(SUM)}{op}{right.at(PRODUCT)}"
        return _combine(text, SUM, a + b if op == "+" else a - b, [left, right])
    if op == "*":
        return _combine(f"{left.at(PRODUCT)}*{right.at(UNARY)}", PRODUCT, a * b, [left, right])
    if op == "/":
        return _combine(f"{left.at(PRODUCT)}/{right.at(UNARY)}", PRODUCT, a / b, [left, right], poles=(b,))
    # ^ and ** are right-associative; the base is an atom, the exponent may carry its own sign.
    text = f"{left.at(ATOM)}{op}{right.at(UNARY)}"
    smooth = b.is_Integer and b >= 0
    return _combine(text, POWER, _sympy(_pow, a, b), [left, right], poles=() if smooth else (a,))


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
    return _combine(f"{op}{operand.at(UNARY)}", UNARY, sym, [operand])


def _sigmoid(a: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-a))


def _eq(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return sympy.Piecewise((1, sympy.Eq(a, b)), (0, True))


SYMPY_FUNCTIONS = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos,
    "tan": sympy.tan, "tanh": sympy.tanh, "sigmoid": _sigmoid, "softplus": lambda a: sympy.log(1 + sympy.exp(a)),
    "relu": lambda a: sympy.Max(a, 0),
    "abs": sympy.Abs,
    # as Piecewise (not Heaviside and sign), which SymPy differentiates whatever the argument
    "step": lambda a: sympy.Piecewise((1, a > 0), (0, True)),
    "sign": lambda a: sympy.Piecewise((1, a > 0), (-1, a < 0), (0, True)),
}
# The functions of more than one argument; each is flat or jumps where a difference of its arguments is 0.
SYMPY_CALLS = {
    "eq": _eq,
    "where": lambda c, a, b: sympy.Piecewise((a, sympy.Ne(c, 0)), (b, True)),
    "ties": lambda out, *args: sum((_eq(a, out) for a in args), sympy.Integer(0)),
}
KINKED_FUNCTIONS = {"relu", "abs", "step", "sign"}
# The functions random expressions are built from. Not the flat, jumping ones derivative rules are written
# with (step, sign, eq, where, ties): their slopes are 0 and their SymPy twins are Piecewise, which SymPy
# differentiates and evaluates orders of magnitude more slowly; tests/test_known_answers.py, test_ops.py
# and test_agreement.py check them.
GENERATED = sorted(set(SYMPY_FUNCTIONS) - {"step", "sign"})
assert set(SYMPY_FUNCTIONS) | set(SYMPY_CALLS) | {"max", "min"} == set(primitives.FUNCTIONS), \
    "a new function needs a SymPy twin here"
POLES = {"log": lambda a: a, "sqrt": lambda a: a, "tan": sympy.cos}


def _call(name: str, args: list[Expr]) -> Expr:
    text = f"{name}({', '.join(a.text for a in args)})"
    syms = [a.sym for a in args]
    if name in ("max", "min"):
        gaps = tuple(p - q for i, p in enumerate(syms) for q in syms[i + 1:])
        return _combine(text, ATOM, _sympy(sympy.Max if name == "max" else sympy.Min, *syms), args, kinks=gaps)
    if name in SYMPY_CALLS:
        gaps = (syms[0],) if name == "where" else tuple(p - syms[0] for p in syms[1:])
        return _combine(text, ATOM, _sympy(SYMPY_CALLS[name], *syms), args, kinks=gaps)
    a = syms[0]
    return _combine(text, ATOM, _sympy(SYMPY_FUNCTIONS[name], a), args,
                    kinks=(a,) if name in KINKED_FUNCTIONS else (),
                    poles=(POLES[name](a),) if name in POLES else ())


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(_binary, st.sampled_from(["+", "-", "*", "/", "^", "**"]), children, children),
        st.builds(_sign, st.sampled_from(["-", "-", "+"]), children),
        st.builds(lambda name, a: _call(name, [a]), st.sampled_from(GENERATED), children),
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
# Expressions of constants alone have no gradient to compare (constant parts of the rest still are).
EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=10).filter(lambda e: e.sym.free_symbols)
COORDINATE = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)
POINTS = st.fixed_dictionaries({name: COORDINATE for name in VARIABLES})

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


# ---- the oracle ---------------------------------------------------------------------------------

def _subs(point: dict[str, float]) -> dict[sympy.Symbol, sympy.Float]:
    # Float(v, 30) is the double's own binary value to 30 digits (0.1 as 0.1000000000000000055511…),
    # so SymPy evaluates at the very point bpcli was given.
    return {SYMBOLS[name]: sympy.Float(v, 30) for name, v in point.items()}


def _number(expr: sympy.Expr, subs: dict) -> float | None:
    """The expression's value to 30 digits as a float, or None when it is not a finite real number."""
    try:
        v = expr.evalf(30, subs=subs)
    except (ZeroDivisionError, ValueError):
        # mpmath on a 0/0 SymPy left unsimplified (pi*x**pi/x at x = 0); Max of a non-real value.
        return None
    if not (v.is_Number and v.is_extended_real is True and v.is_finite is True):
        return None
    return float(v)


def _near_rough_spot(expr: Expr, subs: dict, kink_gap: float, pole_gap: float) -> bool:
    """Whether the point is within the gap of a kink or pole of `expr` (or the distance is not real)."""
    for spots, within in ((expr.kinks, kink_gap), (expr.poles, pole_gap)):
        for spot in spots:
            gap = _number(spot, subs)
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


def magnitude(result) -> float:
    """The largest number bpcli handled: every node's value and gradient, every edge's local and product."""
    edges = [abs(x) for edge in result.backward.edges for x in (edge.local, edge.product)]
    return max([*map(abs, result.values), *map(abs, result.backward.grads), *edges])


# Beyond this, sums in either pass can absorb whole terms (x + x/x at x = 1e-167 has edges of ±6e166,
# and 1 + 6e166 - 6e166 is 0 in doubles, in any reverse-mode AD): such points test rounding, not rules.
HUGE = 1e6

# Tolerance: bpcli evaluates at most a few dozen gates in double precision, each correct to an ulp or
# so (EPS ~ 2.2e-16 relative). The budget adds up three sources of error:
# - propagation: a relative error far above RTOL = 1e-9 would need an amplification of 10^7 that these
#   small expressions do not have, while a wrong rule is off by O(1);
# - rounding of large intermediates: a value as large as M (see `magnitude`) is known only to EPS·M, so
#   sums keep only that absolute accuracy, and a rule evaluated there (cos(v) with v ~ M, its slope ~ M
#   through the chain) turns it into up to EPS·M·M in a gradient: cos(exp(x)^exp(x)) at x = 2.09 has
#   v = 2.3e7 and a gradient off by 9 in 8.7e7. We allow 64·EPS·M·max(1, M); with M <= HUGE that is at
#   most 0.014, and 1.4e-12 for the typical M ~ 10, far below an O(1) mistake;
# - results SymPy finds exactly 0 where doubles leave rounding residue (sin(pi) is 1.2e-16 in doubles):
#   the absolute floor ATOL.
EPS = 2.0 ** -52
RTOL = 1e-9
ATOL = 1e-9


def close(got: float, want: float, scale: float = 1.0) -> bool:
    """Whether bpcli's number matches SymPy's within the budget above (`scale` is M)."""
    return abs(got - want) <= RTOL * abs(want) + ATOL + 64 * EPS * scale * max(1.0, scale)


def disagreements(expr: Expr, point: dict[str, float]) -> list[str] | None:
    """How bpcli and SymPy differ on value and gradient ([] if they agree); None if the case is skipped."""
    try:
        result = grad(expr.text, point)
    except DomainError:
        return None
    scale = magnitude(result)
    if scale > HUGE or _near_rough_spot(expr, _subs(point), KINK_GAP, POLE_GAP):
        return None
    oracle = sympy_oracle(expr, point, list(result.gradient))
    if oracle is None:
        return None
    value, gradient = oracle
    found = [] if close(result.value, value, scale) else [f"f: bpcli {result.value!r}, sympy {value!r}"]
    found += [f"∂f/∂{n}: bpcli {result.gradient[n]!r}, sympy {g!r}"
              for n, g in gradient.items() if not close(result.gradient[n], g, scale)]
    return found


# ---- properties ---------------------------------------------------------------------------------

def agrees_with_the_perturbation_check(expr: Expr, point: dict[str, float]) -> None:
    """The property: away from kinks, poles and rounding traps, the check finds no mismatch."""
    try:
        result = grad(expr.text, point, perturb=Perturb())
    except DomainError:
        assume(False)
    assume(magnitude(result) <= HUGE)
    assume(not _near_rough_spot(expr, _subs(point), GAP_FOR_CHECK, GAP_FOR_CHECK))
    mismatches = [row for row in result.check.rows if row.verdict == "mismatch"]
    assert not mismatches, (expr.text, point, mismatches)


def agrees_with_sympy(expr: Expr, point: dict[str, float]) -> None:
    """The property: away from kinks, poles and rounding traps, bpcli's value and gradient are SymPy's."""
    found = disagreements(expr, point)
    assume(found is not None)
    assert found == [], (expr.text, point, found)


@pytest.mark.slow
@FAST
@given(EXPRESSIONS, POINTS)
def test_backprop_agrees_with_the_perturbation_check(expr, point):
    agrees_with_the_perturbation_check(expr, point)


@pytest.mark.slow
@FAST
@given(EXPRESSIONS, POINTS)
def test_value_and_gradient_agree_with_sympy(expr, point):
    agrees_with_sympy(expr, point)


# ---- the properties can fail --------------------------------------------------------------------

def test_sympy_comparison_catches_a_wrong_derivative_rule(broken_rule):
    expr = Expr("sin(x)", ATOM, sympy.sin(SYMBOLS["x"]))
    assert disagreements(expr, {"x": 0.5}) == []  # control: the real rule passes
    broken_rule("sin", "-cos(a)")
    assert grad("sin(x)", {"x": 0.5}).gradient["x"] == pytest.approx(-math.cos(0.5))
    assert disagreements(expr, {"x": 0.5}) == [f"∂f/∂x: bpcli {-math.cos(0.5)!r}, sympy {math.cos(0.5)!r}"]


# Generation only (no shrinking) and a fixed seed: a quick, deterministic hunt for the planted bug, over
# the same random expressions and points but each put under a product, so every case uses the bad rule.
HUNT = settings(max_examples=300, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
                report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
PRODUCTS = st.builds(_binary, st.just("*"), EXPRESSIONS, EXPRESSIONS)


@pytest.mark.parametrize("prop", [agrees_with_the_perturbation_check, agrees_with_sympy])
def test_the_properties_find_a_wrong_rule(broken_rule, prop):
    # The filters above skip many points; this proves they leave enough for a wrong rule to be found.
    broken_rule("mul", "b + 1.0", "a + 1.0")  # each partial of a*b off by one
    with pytest.raises(AssertionError):
        HUNT(given(PRODUCTS, POINTS)(prop))()


# ---- found by these properties: the check once called a correct gradient a mismatch -------------

X, Y, Z = _variable("x"), _variable("y"), _variable("z")
# Each: the text, the point, and the same expression built by the strategy's helpers (for SymPy).
# exp(x*y)-1 at x = 1e-12: the nudge moves exp(x*y) ~ 1 by 6e-18, below its ulp, so f(y±h) = f(y) and
# the quotient is 0 while ∂f/∂y = 1e-12; a rounding estimate from |f| ~ 1e-12 called that a mismatch.
SLOPE_BELOW_ROUNDING = ("exp(x*y)-1", {"x": 1e-12, "y": 1.0},
                        _binary("-", _call("exp", [_binary("*", X, Y)]), _literal("1")))
# max(y, cos((pi^x)^(x*x))) at x = 2, y = 0: 0.6 from the kink in value, but the default step crossed
# it, and the secant slopes [-49944, -15427] of the curve do not hold the true slope -103794.89.
STEP_ACROSS_A_KINK = ("max(y, cos((pi^x)^(x*x)))", {"x": 2.0, "y": 0.0},
                      _call("max", [Y, _call("cos", [_binary("^", _binary("^", CONSTANT_LEAVES[0], X),
                                                             _binary("*", X, X))])]))
# x*z at x = 0, z = 5e-324: ∂f/∂x = 5e-324 exactly, but h·5e-324 underflows to 0, so the quotient was 0
# with a tolerance of 0.
NUDGE_UNDERFLOWS = ("x*z", {"x": 0.0, "z": 5e-324}, _binary("*", X, Z))


@pytest.mark.parametrize("text,point,expr", [SLOPE_BELOW_ROUNDING, STEP_ACROSS_A_KINK, NUDGE_UNDERFLOWS],
                         ids=["rounding", "kink", "underflow"])
def test_the_check_does_not_fault_a_correct_gradient(text, point, expr):
    assert expr.text == text
    assert disagreements(expr, point) == []  # SymPy agrees with backprop
    assert grad(text, point, perturb=Perturb()).check.ok
