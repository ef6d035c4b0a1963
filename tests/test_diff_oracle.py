"""bpcli diff against SymPy, and against bpcli itself: the formulas and programs `api.diff` prints.

The random expressions are those of tests/test_properties.py, built as bpcli text and a SymPy twin side by
side. For order 1 and 2, every derivative `api.diff` finds, as its whole formula and as its program
(inline=0), is compared with SymPy's `diff` at random points away from kinks and poles. Closure: what diff
prints is bpcli input, and running it (api.evaluate) gives the values diff reports; a second derivative is
`bpcli grad` run on the printed first derivative. At kinks the formulas give what `bpcli grad` gives
(relu'(0) = 0, abs'(0) = 0, ties split evenly). Simplification keeps every value where the expression is
defined, and a very deep expression differentiates with no recursion into a program of linear size.

`bpcli diff` is not a command yet, so the CLI is met once, through `bpcli grad` run (CliRunner) on a first
derivative that api.diff printed.

THE TOLERANCE. A derivative diff writes is a different expression from the one backprop evaluates
(expanded, its like terms collected), so its rounding differs, by up to about ε times the largest number
met on the way times the amplification of a few more gates. Where the original's numbers stay below
HUGE (props.magnitude of its gradient run), RTOL relative plus ATOL·M² absolute (M that magnitude, at
least 1) holds that with room, while a wrong rule or simplification is off by O(1). Points near a kink or
pole (props' KINK_GAP and POLE_GAP, where SymPy's and bpcli's conventions differ or rounding is
amplified) are skipped, as are points where either side is not a finite number.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import test_oracle as oracle
import test_properties as props
from bpcli import api
from bpcli.errors import DomainError, InputError

RTOL = 1e-7
ATOL = 1e-9
HUGE = 1e4
SAMPLES = 3          # random points per expression
BIG = 1 << 20        # inline: every formula written out whole
ORDERS = (1, 2)

CASES = settings(max_examples=80, deadline=None,
                 suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def programs(draw) -> props.Expr:
    """test_oracle's programs (named statements, then the output), keeping the kinks and poles of each."""
    leaves = [props.VARIABLE_LEAVES, props.LEAVES]
    statements = []
    for name in oracle.NAMES[:draw(st.integers(1, 3))]:
        expr = draw(st.recursive(st.one_of(*leaves), props._extend, max_leaves=6))
        statements.append(f"{name} = {expr.text}")
        named = st.just(props.Expr(name, props.ATOM, expr.sym, expr.kinks, expr.poles))
        leaves += [named, named]
    output = draw(st.recursive(st.one_of(*leaves), props._extend, max_leaves=6).filter(lambda e: e.sym.free_symbols))
    text = draw(st.sampled_from(oracle.SEPARATORS)).join([*statements, output.text])
    return props.Expr(text, props.ATOM, output.sym, output.kinks, output.poles)


EXPRESSIONS = st.one_of(props.EXPRESSIONS, programs())


def close(got: float, want: float, scale: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return abs(got - want) <= rtol * abs(want) + atol * max(1.0, scale) ** 2


def sympy_derivative(sym: sympy.Expr, key: tuple[str, ...]) -> sympy.Expr:
    return sympy.diff(sym, *(props.SYMBOLS[n] for n in key))


def run(text: str, point: dict[str, float]) -> float | None:
    """bpcli's value of program or formula `text` at the point (None where it is not bpcli input, exits 3
    or is not finite)."""
    try:
        value = api.evaluate(text, point).value
    except (InputError, DomainError):
        return None
    return value if math.isfinite(value) else None


def run_scaled(text: str, point: dict[str, float]) -> tuple[float | None, float]:
    """run(text, point), and the largest magnitude of the numbers it met (0 where it fails)."""
    try:
        found = api.evaluate(text, point)
    except (InputError, DomainError):
        return None, 0.0
    scale = max(map(abs, found.values), default=0.0)
    return (found.value if math.isfinite(found.value) else None), scale


def points(seed: int, n: int = SAMPLES) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [{name: rng.uniform(-3.0, 3.0) for name in props.VARIABLES} for _ in range(n)]


def smooth_point(expr: props.Expr, point: dict[str, float]) -> float | None:
    """The magnitude of the numbers backprop meets at the point, or None where the point is skipped."""
    try:
        result = api.grad(expr.text, point)
    except DomainError:
        return None
    scale = props.magnitude(result)
    if not math.isfinite(scale) or scale > HUGE:
        return None
    if props._near_rough_spot(expr, props._subs(point), props.KINK_GAP, props.POLE_GAP):
        return None
    return scale


def disagreements(expr: props.Expr, order: int, seed: int) -> list[str]:
    """Where diff's whole formulas, its programs, or its values disagree with SymPy at a few points."""
    whole = api.diff(expr.text, order=order, inline=BIG)
    split = api.diff(expr.text, order=order, inline=0)
    found = []
    for point in points(seed):
        scale = smooth_point(expr, point)
        if scale is None:
            continue
        subs = props._subs(point)
        values = api.diff(expr.text, point, order=order).values
        assert values is not None
        for key in whole.formulas:
            want = props._number(sympy_derivative(expr.sym, key), subs)
            if want is None:
                continue
            got = {"formula": run(whole.formulas[key], point) if whole.whole[key] else values[key],
                   "program": run(split.alone(key), point), "value": values[key]}
            found += [f"∂{''.join(key)} {how} at {point}: bpcli {g!r}, sympy {want!r}"
                      for how, g in got.items() if g is None or not close(g, want, scale)]
    return found


@pytest.mark.slow
@CASES
@given(EXPRESSIONS, st.integers(0, 2 ** 32))
def test_derivatives_agree_with_sympy(expr, seed):
    assume(expr.sym is not sympy.nan)
    for order in ORDERS:
        found = disagreements(expr, order, seed)
        assert found == [], (expr.text, found)


# ---- closure: what diff prints is bpcli input, and means what diff says ---------------------------

# Points where kinks, ties and zero bases are common (whole numbers), and others; no subnormal coordinates,
# where a formula and the program it came from round to different sides of overflow.
COORDINATE = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 0.5]),
                       st.floats(-3.0, 3.0).filter(lambda v: v == 0 or abs(v) > 1e-3))
POINTS = st.fixed_dictionaries({name: COORDINATE for name in props.VARIABLES})
INLINES = st.sampled_from([0, 30, api.INLINE, BIG])


def printed(derivatives: api.Derivatives) -> dict[str, str]:
    """Every text diff prints as bpcli input: each derivative alone, the whole program, the conditions."""
    texts = {f"alone {''.join(key)}": derivatives.alone(key) for key in derivatives.formulas}
    texts["program"] = "\n".join(derivatives.program())
    texts.update((f"condition {i}", condition) for i, condition in enumerate(derivatives.conditions))
    return texts


def closure_failures(text: str, order: int, inline: int, point: dict[str, float]) -> list[str]:
    """Where what diff prints does not parse, or does not compute the values diff reports at the point."""
    try:
        found = api.diff(text, point, order=order, inline=inline)
    except DomainError:
        return []
    assert found.values is not None
    failures = []
    for what, printed_text in printed(found).items():
        try:
            api.compile_source(printed_text)
        except InputError as err:
            failures.append(f"{what} does not parse: {printed_text!r}: {err}")
    for key, want in found.values.items():
        got, scale = run_scaled(found.alone(key), point)
        if scale > HUGE:
            continue
        if (got is None) != (not math.isfinite(want)) or got is not None and not close(got, want, scale, 1e-12, 1e-12):
            failures.append(f"{''.join(key)} at {point}: printed {got!r}, diff's value {want!r}")
    return failures


def second_failures(text: str, point: dict[str, float], inline: int) -> list[str]:
    """Where ∂²f/∂x∂y from diff is not `bpcli grad` run on the printed ∂f/∂x, at the point."""
    try:
        first = api.diff(text, order=1, inline=inline)
        second = api.diff(text, point, order=2)
    except DomainError:
        return []
    assert second.values is not None
    failures = []
    for (x, y), want in second.values.items():
        try:
            result = api.grad(first.alone((x,)), point)
        except DomainError:
            continue   # grad refuses where a rule's check fails; diff's values are then inf or nan
        scale = props.magnitude(result)
        got = result.gradient.get(y, 0.0)
        if scale <= HUGE and math.isfinite(want) and not close(got, want, scale, 1e-9, 1e-12):
            failures.append(f"∂{x}{y} at {point}: grad of ∂{x} {got!r}, diff {want!r}")
    return failures


@pytest.mark.slow
@settings(CASES, max_examples=150)
@given(EXPRESSIONS, POINTS, INLINES)
def test_what_diff_prints_is_bpcli_input_that_computes_its_values(expr, point, inline):
    for order in ORDERS:
        found = closure_failures(expr.text, order, inline, point)
        assert found == [], (expr.text, found)


@pytest.mark.slow
@settings(CASES, max_examples=100)
@given(EXPRESSIONS, POINTS, st.sampled_from([0, BIG]))
def test_second_derivatives_are_grad_of_the_printed_first(expr, point, inline):
    found = second_failures(expr.text, point, inline)
    assert found == [], (expr.text, found)


# Found by the properties above: diff printed text that exits 3 where bpcli grad does not, or crashed.
PRINTED = [
    ("y^x", {"x": 1.0, "y": 0.0}),             # where(eq(y, 0), 0, f*log(y)): log(0) in the unused branch
    ("x^y", {"x": 0.0, "y": 1.0}),             # the second derivative had 0^-1 in an unused branch
    ("(-y)^-x", {"x": -1.0, "y": 0.0}),
    ("1e300*x*1e300 + x", {"x": 1.5}),          # 1e600 has no float: OverflowError while writing it
]


@pytest.mark.parametrize("text,point", PRINTED, ids=[text for text, _ in PRINTED])
@pytest.mark.parametrize("inline", [0, BIG])
def test_printed_regressions(text, point, inline):
    for order in ORDERS:
        assert closure_failures(text, order, inline, point) == []
    assert second_failures(text, point, inline) == []


def test_large_numbers_are_written_as_literals_bpcli_reads():
    # they were 717897987691852588770249/1, and x^(12157665459056928800/1)/1
    assert api.diff("3^50*x").formulas[("x",)] == "717897987691852588770249"
    assert api.diff("x^3^40").formulas[("x",)] == "12157665459056928801*x^12157665459056928800"
    assert api.diff("1e20*x^2").formulas[("x",)] == "2e+20*x"
    assert api.diff("x*1e300*1e300").formulas[("x",)] == "(1.0*10^600)"   # overflows, as the value does
    assert api.diff("x*1e300*1e300").latex(("x",)) == r"1.0 \cdot 10^{600}"


def test_pow_partials_have_no_undefined_branch():
    assert api.diff("x^y").formulas == {("x",): "y*x^(y + eq(y, 0) - 1)", ("y",): "log(x + eq(x, 0))*x^y"}
    assert api.diff("e^x", order=2).formulas == {("x", "x"): "e^x"}
    assert api.diff("x^pi", order=2).formulas == {("x", "x"): "pi*(pi - 1)*x^(pi - 2)"}


@pytest.mark.parametrize("k", [0, 1])
def test_total_pow_forms_equal_the_tables_rules_where_those_are_defined(k):
    # The table's rules as the interpreter computes them (a lazy where) against the printed forms.
    from bpcli.core import rules
    from bpcli.symbolic import algebra

    table = rules.rules("pow", 2).partials[k]
    grid = [0.0, 1.0, -1.0, 2.0, 0.5, -3.0, 1e-300, 3.5]
    for a in grid:
        for b in grid:
            try:
                out = a ** b
                want = table(a, b, out)
            except (ZeroDivisionError, ValueError, OverflowError):
                continue
            if isinstance(out, complex) or isinstance(want, complex) or not math.isfinite(want):
                continue
            text = algebra.TOTAL_FORMS["pow", k].replace("out", "(a^b)")
            assert run(text, {"a": a, "b": b}) == want, (a, b)


def test_the_cli_runs_grad_on_a_printed_derivative(run):
    # `bpcli diff` is not a command yet: the first derivative comes from api.diff, grad from the CLI.
    first = api.diff("x^y*sin(x*y)", wrt=["x"]).formulas[("x",)]
    out = run("grad", first, "-v", "x=0.7,y=1.3", "--format", "json")
    assert out.code == 0, out.err
    second = api.diff("x^y*sin(x*y)", {"x": 0.7, "y": 1.3}, order=2).values
    assert second is not None
    for y in ("x", "y"):
        assert out.json()["gradient"][y] == pytest.approx(second[("x", y)], rel=1e-12)


# ---- kinks: the formulas give what bpcli grad gives ------------------------------------------------

KINKS = [
    ("relu(x)", {"x": 0.0}, {"x": 0.0}),
    ("abs(x)", {"x": 0.0}, {"x": 0.0}),
    ("max(x, y)", {"x": 1.0, "y": 1.0}, {"x": 0.5, "y": 0.5}),
    ("min(x, y)", {"x": 1.0, "y": 1.0}, {"x": 0.5, "y": 0.5}),
    ("max(x, x)", {"x": 1.0}, {"x": 1.0}),
    ("max(x, y, z)", {"x": 2.0, "y": 2.0, "z": 2.0}, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}),
    ("max(x, x, y)", {"x": 1.0, "y": 1.0}, {"x": 2 / 3, "y": 1 / 3}),
    ("max(x, min(x, y))", {"x": 0.0, "y": 0.0}, {"x": 0.75, "y": 0.25}),
    ("relu(x)*x + abs(x*y)", {"x": 0.0, "y": 2.0}, {"x": 0.0, "y": 0.0}),
    ("abs(sin(x))", {"x": 0.0}, {"x": 0.0}),
    ("step(x)*x + sign(y)*y", {"x": 0.0, "y": 0.0}, {"x": 0.0, "y": 0.0}),
    ("max(x, y)^2", {"x": 1.0, "y": 1.0}, {"x": 1.0, "y": 1.0}),
    ("min(relu(x), abs(y))", {"x": 0.0, "y": 0.0}, {"x": 0.0, "y": 0.0}),
]


@pytest.mark.parametrize("text,point,gradient", KINKS, ids=[text for text, *_ in KINKS])
@pytest.mark.parametrize("inline", [0, BIG])
def test_formulas_at_kinks_are_what_grad_gives(text, point, gradient, inline):
    assert api.grad(text, point).gradient == pytest.approx(gradient, rel=1e-15)
    found = api.diff(text, point, inline=inline)
    assert found.values == {(x,): pytest.approx(g, rel=1e-15) for x, g in gradient.items()}
    for (x,), formula in found.formulas.items():
        assert run(found.alone((x,)), point) == pytest.approx(gradient[x], rel=1e-15), formula


KINK_POINTS = st.fixed_dictionaries({name: st.sampled_from([0.0, 1.0, -1.0, 2.0]) for name in props.VARIABLES})


@pytest.mark.slow
@settings(CASES, max_examples=150)
@given(EXPRESSIONS, KINK_POINTS, INLINES)
def test_formulas_are_what_grad_gives_at_whole_points(expr, point, inline):
    # Whole coordinates put relu and abs at 0 and max and min at ties often.
    try:
        result = api.grad(expr.text, point)
        found = api.diff(expr.text, point, inline=inline)
    except DomainError:
        assume(False)
    scale = props.magnitude(result)
    assume(scale <= HUGE)
    for (x,), formula in found.formulas.items():
        got = run(found.alone((x,)), point)
        want = result.gradient[x]
        assert got is not None and close(got, want, scale, 1e-12, 1e-12), (expr.text, point, x, formula, got, want)


# ---- simplification keeps values ------------------------------------------------------------------

def canonical(text: str) -> str | None:
    """The expression rebuilt in canonical form (as diff's algebra simplifies it), or None for a leaf."""
    from bpcli.symbolic import reverse

    graph = api.compile_source(text)
    if not graph.nodes[graph.output].is_gate:
        return None
    derivation = reverse.derive(graph)
    (whole,) = reverse.expand(derivation, [derivation.step(derivation.output).expr], BIG)
    assert whole is not None
    from bpcli.symbolic import text as notation

    return notation.written(whole)


def changed_value(text: str, point: dict[str, float]) -> str | None:
    """How the canonical form's value differs from the expression's at the point; None where it does not,
    or where the expression is undefined or its numbers huge."""
    rebuilt = canonical(text)
    if rebuilt is None:
        return None
    got, scale = run_scaled(rebuilt, point)
    want, original_scale = run_scaled(text, point)
    scale = max(scale, original_scale)
    if want is None or scale > HUGE or got is not None and close(got, want, scale, 1e-12, 1e-12):
        return None
    return f"{text} is {want!r} at {point}, its canonical form {rebuilt} is {got!r}"


@pytest.mark.slow
@settings(CASES, max_examples=120)
@given(EXPRESSIONS, POINTS)
def test_simplification_never_changes_a_value_where_the_expression_is_defined(expr, point):
    assert changed_value(expr.text, point) is None


# ---- each check can fail ----------------------------------------------------------------------------

def test_the_sympy_comparison_catches_a_wrong_rule(broken_rule):
    x, y = props._variable("x"), props._variable("y")
    expr = props._binary("*", props._call("sin", [x]), y)
    assert disagreements(expr, 1, seed=1) == disagreements(expr, 2, seed=1) == []   # control
    broken_rule("sin", "-cos(a)")
    assert len(disagreements(expr, 1, seed=1)) == 3 * SAMPLES   # ∂x: formula, program and value
    assert disagreements(expr, 2, seed=1)


def test_the_closure_check_catches_text_bpcli_cannot_read(monkeypatch):
    from bpcli.symbolic import text

    assert closure_failures("x^3*y", 1, BIG, {"x": 2.0, "y": 1.0}) == []   # control
    monkeypatch.setattr(text._Bpcli, "power", lambda self, base, exponent: f"{base}^^{exponent}")
    assert "does not parse" in closure_failures("x^3*y", 1, BIG, {"x": 2.0, "y": 1.0})[0]


def test_the_simplification_check_catches_a_wrong_simplification(monkeypatch):
    from bpcli.symbolic import algebra

    assert changed_value("cos(x - x) + x", {"x": 0.5}) is None   # control
    monkeypatch.setitem(algebra._EXACT_AT, ("cos", 0), 0)
    found = changed_value("cos(x - x) + x", {"x": 0.5})
    assert found == "cos(x - x) + x is 1.5 at {'x': 0.5}, its canonical form x is 0.5"


# ---- size: deep expressions, no recursion, a program linear in the expression ---------------------

def gates(text: str) -> tuple[int, int]:
    """How many gates the program has, and how many edges (arguments) they take in all."""
    found = [node for node in api.compile_source(text).nodes if node.is_gate]
    return len(found), sum(len(node.args) for node in found)


DEEP = 1000
DEEP_CASES = {
    "sin": "sin(" * DEEP + "x" + ")" * DEEP,
    "product": "*".join(f"sin(x + {i}*y)" for i in range(DEEP)),
    "chain": "x" + "*x" * DEEP,
    "nested": "(" * DEEP + "x" + "*y + x)" * DEEP,
    "squares": "(" * DEEP + "x" + ")^2" * DEEP,
    "wide": "max(" + ", ".join(f"sin({i}*x + y)" for i in range(DEEP)) + ")",   # n² if each partial lists all
}


@pytest.mark.slow
@pytest.mark.parametrize("name", DEEP_CASES)
def test_a_deep_expression_differentiates_into_a_program_of_linear_size(name):
    text = DEEP_CASES[name]
    size = gates(text)
    # A second pass walks each step of the first through its products: a product of k factors has k
    # partials of k - 1 factors each, and steps stay small (reverse.SMALL), so the bound is a larger constant.
    for order, bound in ((1, 5), (2, 40)):
        found = api.diff(text, {"x": 0.5, "y": 0.25}, order=order, inline=0)
        program = "\n".join(found.program())
        made = gates(program)
        assert made[0] <= bound * size[0] and made[1] <= bound * size[1], (order, made, size)
        for key, value in (found.values or {}).items():
            got = run(found.alone(key), {"x": 0.5, "y": 0.25})
            assert got is None or value == pytest.approx(got, rel=1e-9, abs=1e-300), key
