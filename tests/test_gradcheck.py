"""The perturbation check: it agrees where backprop is right, and it can fail where backprop is wrong."""

from __future__ import annotations

import dataclasses
import functools
import math

import pytest

from bpcli.check import gradcheck
from bpcli import primitives
from bpcli.core import rules
from bpcli.errors import InputError
from bpcli.api import Perturb, grad
from bpcli.check.quotient import EPS, Nudge, Quotient


@pytest.fixture
def broken(monkeypatch):
    """Swap in a deliberately wrong derivative rule for one op."""
    def breaking(name: str, *partials: str) -> None:
        monkeypatch.setitem(primitives.OPS, name, primitives.OPS[name]._replace(partials=partials))
        rules.forget()
    yield breaking
    monkeypatch.undo()
    rules.forget()


@pytest.mark.parametrize("method", ["central", "forward", "complex"])
def test_the_check_catches_a_wrong_rule(broken, method):
    broken("sin", "-cos(a)")
    r = grad("sin(x)*y", {"x": 0.5, "y": 2}, perturb=Perturb(method))
    assert not r.check.ok
    assert [row.verdict for row in r.check.rows] == ["mismatch", "ok"]


def test_the_check_catches_a_slightly_wrong_rule(broken):
    broken("mul", "b * 1.0001", "a")
    r = grad("x*y", {"x": 3, "y": 2}, perturb=Perturb())
    assert [row.verdict for row in r.check.rows] == ["mismatch", "ok"]


@pytest.mark.parametrize("method", ["central", "forward", "complex"])
def test_smooth_expressions_pass(method):
    r = grad("tanh(x)*exp(y)/sqrt(z) + log(z)^2 + sigmoid(x*y) + x^y", {"x": 0.3, "y": 1.7, "z": 2.5},
             perturb=Perturb(method))
    assert r.check.ok, [(row.name, row.abs_error, row.tolerance) for row in r.check.rows]


def test_complex_step_is_accurate_to_rounding():
    r = grad("exp(sin(x))*x^3", {"x": 1.3}, perturb=Perturb("complex"))
    assert r.check.rows[0].rel_error < 1e-14


def test_complex_step_refuses_kinks():
    with pytest.raises(InputError, match="smooth expression.*relu"):
        grad("relu(x)", {"x": 1}, perturb=Perturb("complex"))


@pytest.mark.parametrize("source,point", [
    ("relu(x)", {"x": 0}), ("abs(x)", {"x": 0}), ("max(x, y)", {"x": 1, "y": 1}),
    ("min(x, y, 2)", {"x": 2, "y": 3}), ("abs(x - 1e-12)", {"x": 0}),
])
def test_kinks_are_flagged_and_not_mismatches(source, point):
    r = grad(source, point, perturb=Perturb())
    assert r.check.ok
    row = r.check.rows[0]
    assert row.kink and row.left is not None and row.right is not None
    assert min(row.left, row.right) - 1e-6 <= row.analytic <= max(row.left, row.right) + 1e-6


def test_a_wrong_subgradient_at_a_kink_is_still_caught(broken):
    broken("relu", "where(step(a), 1.0, 5.0)")
    r = grad("relu(x)", {"x": 0}, perturb=Perturb())
    assert r.check.rows[0].kink and not r.check.ok


def test_near_a_kink_a_smaller_step_stays_on_one_piece():
    row = grad("abs(x - 1e-8)", {"x": 0}, perturb=Perturb()).check.rows[0]
    assert not row.kink and row.verdict == "ok" and row.step < 1e-8


def test_away_from_kinks_no_flag():
    r = grad("relu(x) + max(x, y)", {"x": 1, "y": -1}, perturb=Perturb())
    assert r.check.ok and not any(row.kink for row in r.check.rows)


@pytest.mark.parametrize("source,x", [("sqrt(x)", 1e-12), ("log(x)", 1e-5), ("log(x)", 1e-7), ("1/x", 1e-5)])
def test_near_a_singularity_the_step_shrinks_onto_one_smooth_piece(source, x):
    row = grad(source, {"x": x}, perturb=Perturb()).check.rows[0]
    assert row.verdict == "ok" and row.step < x


def test_a_wrong_rule_on_a_small_derivative_is_caught(broken):
    broken("sin", "-cos(a)")
    r = grad("1e-7*sin(x)", {"x": 1}, perturb=Perturb())
    assert not r.check.ok


@pytest.mark.parametrize("source,x,step", [("x*1e308", 0, 1.0), ("x^2", 1, 1e-300), ("x*1e300", 1, 1e-300)])
def test_meaningless_quotients_are_unchecked_not_ok(source, x, step):
    row = grad(source, {"x": x}, perturb=Perturb("central", step)).check.rows[0]
    assert row.verdict == "unchecked"


def test_complex_step_survives_underflow_and_large_whole_powers():
    for source, x in [("x*sigmoid(x)", -710), ("x^101", -1), ("x^-150", -0.9)]:
        assert grad(source, {"x": x}, perturb=Perturb("complex")).check.ok, source


def test_fixed_step_is_used_as_given():
    r = grad("x^2", {"x": 3}, perturb=Perturb("central", 0.5))
    assert r.check.rows[0].step == 0.5 and r.check.ok


def test_the_rounding_estimate_survives_a_product_beyond_the_largest_double():
    """exp(x) at x = 709: f is 8.2e307 and x·∂f/∂x overflows a double, but its rounding ε·x·∂f/∂x does not
    (it was inf, and the check's inf − inf then dropped the estimate to 0)."""
    f = math.exp(709.0)
    noise = gradcheck.rounding_noise([709.0, f], [f, 1.0])
    assert noise == pytest.approx(EPS * 709.0 * f + EPS * f)


def test_a_fixed_complex_step_is_used_as_given_too():
    """The retry with h·|x| (h = 1e-20 is not small against x = 1e-300) is for the default step only."""
    r = grad("log(x)", {"x": 0.5}, perturb=Perturb("complex", 0.1))
    assert [row.step for row in r.check.rows] == [0.1]


def test_the_lecture_step_still_catches_a_one_percent_error(broken):
    broken("sin", "cos(a) * 1.01")
    r = grad("sin(x)*y", {"x": 0.5, "y": 2}, perturb=Perturb("forward", 0.001))
    assert [row.verdict for row in r.check.rows] == ["mismatch", "ok"]


def test_a_step_too_large_for_the_curvature_is_unchecked():
    small = grad("exp(5*x)", {"x": 1}, perturb=Perturb("forward", 1e-4)).check.rows[0]
    large = grad("exp(5*x)", {"x": 1}, perturb=Perturb("forward", 0.1)).check.rows[0]
    assert small.verdict == "ok" and large.verdict == "unchecked"
    assert large.tolerance > 100 * small.tolerance


# ---- verdicts on hard cases: large and tiny inputs, steep, flat and noisy functions ---------------

METHODS = ["central", "forward", "complex"]
JUDGED = [  # every method can judge these, and says ok
    ("sin(x)", 1e8), ("cos(x)", 1e8), ("x^3", 1e100),                                  # large inputs
    ("sin(x)", 1e-300), ("exp(x)", 1e-300), ("log(x)", 1e-300), ("sqrt(x)", 1e-300),   # tiny inputs
    ("x^0.5", 1e-300), ("1/x", 1e-100), ("log(x)", 1e-200),
    ("exp(50*x)", 1), ("exp(50*x)", 14), ("tan(x)", 1.5707963), ("tan(x)", 1.5707963267),  # steep
    ("tan(x)", 1.57079632679), ("1/x", 1e-8), ("sqrt(x)", 1e-10),
    ("tanh(x)", 50), ("tanh(x)", 20), ("tanh(50*x)", 1), ("sigmoid(x)", 40),           # flat: the slope rounds to 0
    ("sin(1e10*x)", 1), ("x + 1e-10*sin(1e10*x)", 1),                      # noisy: an oscillation below 1e-9
]
UNJUDGED = [  # real differences cannot judge these: unchecked, never a mismatch
    ("sin(x)", 1e15), ("sin(x)", 1e20),        # steps of a representable size span many periods
    ("x^2", 1e-200), ("exp(x)", -745),         # the change in f underflows
    ("x^3", 0),                                # the slope is 0 and the quotient h² (h at every scale)
    ("sin(1e15*x)", 1),                        # 1e15*x rounds by 0.06: f itself is noise
    ("x^2 + 1e16", 1), ("x + 1e20", 1),        # x's contribution is lost in f's rounding
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("source,x", JUDGED + UNJUDGED)
def test_hard_cases_are_never_a_false_mismatch(source, x, method):
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict in ("ok", "unchecked"), (row.step, row.numeric, row.analytic, row.tolerance)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("source,x", JUDGED)
def test_where_the_check_can_judge_it_says_ok_and_means_it(source, x, method):
    """ok, with a tolerance of at most 1% of the slope: the check's own error is small."""
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict == "ok"
    assert row.analytic == 0 or row.tolerance <= 1e-2 * abs(row.analytic), row.tolerance


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("source,x", UNJUDGED)
def test_where_it_cannot_judge_it_says_unchecked(source, x, method):
    assert grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0].verdict == "unchecked"


def test_the_complex_step_judges_what_real_differences_cannot():
    for source, x in [("sin(x)", 1e15), ("sin(x)", 1e20), ("x + 1e20", 1), ("sin(1e15*x)", 1)]:
        assert grad(source, {"x": x}, perturb=Perturb("complex")).check.rows[0].verdict == "ok", source
    for source, x in [("x^3", 0), ("exp(x)", -745)]:
        assert grad(source, {"x": x}, perturb=Perturb("complex")).check.rows[0].verdict == "unchecked", source


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("op,partials,source,x", [
    ("log", ("2.0 / a",), "log(x)", 1e-300), ("log", ("2.0 / a",), "log(x)", 1e-200),
    ("sqrt", ("0.6 / out",), "sqrt(x)", 1e-300), ("sin", ("cos(a) * 1.001",), "sin(x)", 1e8),
    ("exp", ("out * 1.001",), "exp(50*x)", 1), ("exp", ("out * 1.001",), "exp(50*x)", 14),
    ("tanh", ("1.01 - out * out",), "tanh(x)", 50), ("tan", ("1.001 + out * out * 1.001",), "tan(x)", 1.5707963),
    ("pow", ("b * 1.001 * a^(b - 1)", "out * log(a)"), "x^3", 1e100),
])
def test_a_wrong_rule_is_still_caught_on_hard_cases(broken, op, partials, source, x, method):
    broken(op, *partials)
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict == "mismatch", (row.step, row.numeric, row.analytic, row.tolerance)


def test_default_steps_are_exact_and_reach_the_scale_of_x():
    for x in (0.1, 3.3, 1e8 + 0.3, -7.7):
        row = grad("x^2", {"x": x}, perturb=Perturb()).check.rows[0]
        assert (x + row.step) - x == row.step
    assert grad("log(x)", {"x": 1e-300}, perturb=Perturb()).check.rows[0].step < 1e-300


def test_a_rough_function_is_judged_on_the_scale_where_it_is_smooth():
    """x + 1e-10·sin(1e10·x): at the first step (6e-6) the quotient is 1, smooth-looking and wrong; a step
    below the oscillation's period finds the true slope 1 + cos(1e10), which backprop has."""
    row = grad("x + 1e-10*sin(1e10*x)", {"x": 1}, perturb=Perturb()).check.rows[0]
    assert row.verdict == "ok" and row.step < 1e-10 and abs(row.numeric - 1.8731) < 1e-3


# ---- a truncation lost in rounding is not convergence ------------------------------------------------

# x^x at a tiny x: its slope ln x + 1 is right, but at every usable step h ≫ x the quotient is ln h + 1
# (-35 at h = 6e-16, where backprop's is -231): Richardson's T stays ln 2 as h shrinks, until rounding
# passes it and (at h = 6e-17) the quotients at h and 2h round alike, T = 0. Found by a random probe.
TINY_X_TO_THE_X = [1.53e-101, 8.50310226131251e-65, 9.267746250203286e-108, 5.566181978429868e-48,
                   1.4279997536807232e-161, 4.5376789596469526e-234, 7.300706144314936e-251,
                   3.504402346261593e-299, 2.55308634510161e-27]


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("x", TINY_X_TO_THE_X)
def test_x_to_the_x_at_a_tiny_x_is_unchecked_not_a_mismatch(x, method):
    row = grad("x^x", {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.analytic == pytest.approx(x ** x * (math.log(x) + 1))
    assert row.verdict == "unchecked", (row.step, row.numeric, row.tolerance)


def test_the_reported_x_to_the_x_exits_0(run):
    r = run("grad", "x^x", "-v", "x=1.53e-101", "--perturb")
    assert r.code == 0 and "unchecked" in r.out and "not checked: x" in r.out


def test_a_truncation_below_rounding_converges_only_after_a_converged_step():
    """The quotients of x^x at 1.53e-101, h = 6e-16 and 6e-17: T under R, or T = 0 by rounding."""
    hidden = Quotient(6e-16, -35.02, 0.642, 2.93, None, None, None, None)
    zero = Quotient(6e-17, -36.67, 0.0, 29.3, None, None, None, None)
    assert hidden.converged and zero.converged  # reached from a converged step: T shrank into the noise
    for q in (hidden, zero):
        assert not dataclasses.replace(q, settled=False).converged
    assert dataclasses.replace(zero, rounding=0.3, settled=False).converged  # R under 1%: T is known small


# ---- a mismatch needs a finer step to confirm it -------------------------------------------------------

# sin, cos, tan at a huge x: the default steps are a few ulps of x and span ~1e115 periods, so f on them is
# noise; now and then its quotient looks converged, and on the smallest step nothing finer can refute it.
HUGE_TRIG = [("cos(x)", 7.172297243028033e+131), ("tan(x)", -1.653377800029753e+299),
             ("sin(x)", 8.581908530683173e+20), ("sin(x)", 9.281374144536026e+298),
             ("cos(x)", 4.2794818369918614e+229)]


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("source,x", HUGE_TRIG)
def test_trig_at_a_huge_x_is_unchecked_not_a_mismatch(source, x, method):
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict == "unchecked", (row.step, row.numeric, row.analytic, row.tolerance)


def test_with_no_finer_step_a_disagreement_is_unchecked(monkeypatch):
    """x + 1e-10·sin(1e10·x) at 1: the first step's quotient is 1 ± 1e-5, converged and wrong (the slope
    is 1.873). A small bound does not make a disagreement unambiguous; only a finer step can."""
    monkeypatch.setattr(gradcheck, "smaller_steps", lambda method, x, h: [])
    row = grad("x + 1e-10*sin(1e10*x)", {"x": 1}, perturb=Perturb()).check.rows[0]
    assert row.verdict == "unchecked" and abs(row.numeric - 1) < 1e-5 and row.tolerance < 1e-4


def test_finer_steps_lost_in_rounding_confirm_nothing():
    """f = 1 + 3d known to 1e-3: at h = 1 the quotient 3 is sharp (±0.008) and refutes 4; at h = 1e-3 its
    bound is ±8, it agrees with 3 and with 4 alike. A finer step that can refute 4 by itself confirms."""
    nudge = Nudge(lambda d: 1 + 3 * d, 1.0, "central", True, 1e-3)
    q = nudge.quotient(1.0)
    assert q.converged and gradcheck._judge(q, 4.0, gradcheck.RTOL)[0] == "mismatch"
    judge = functools.partial(gradcheck._judge, analytic=4.0, rtol=gradcheck.RTOL)
    assert gradcheck._confirm(q, list(nudge.descend(q, [1e-3, 1e-4])), judge)[1] == "unchecked"
    assert gradcheck._confirm(q, list(nudge.descend(q, [0.5, 1e-3])), judge)[1] == "mismatch"
    assert gradcheck._confirm(q, list(nudge.descend(q, [0.5, 1e-3])), judge, scale=0.1)[1] == "unchecked"


# ---- kinks: each one-sided slope has an error of its own -----------------------------------------------

@pytest.mark.parametrize("source", ["relu(x) - x^2", "relu(x) - 50*x^2", "max(x, 0) - exp(x)"])
def test_a_curved_side_of_a_kink_is_not_a_mismatch(source):
    """relu(x) - x^2 at 0: backprop's 0 is the left slope, but the left secant over h is h (its truncation,
    unaccounted for, was 12 times the tolerance)."""
    row = grad(source, {"x": 0}, perturb=Perturb()).check.rows[0]
    assert row.kink and row.verdict == "ok", (row.left, row.right, row.tolerance)


def test_a_side_that_has_not_converged_proves_nothing():
    """x·ln(x² + 1e-60)/2 has slope ln(1e-30) = -69 at 0, but secants over h ≫ 1e-30 are ln h ≈ -12,
    changing by ln 2 when h doubles: never converged, so backprop's -69 is not refuted by them."""
    row = grad("relu(x) + x*log(x^2 + 1e-60)/2", {"x": 0}, perturb=Perturb()).check.rows[0]
    assert row.kink and row.analytic == pytest.approx(-69.0776) and row.verdict == "unchecked"


def test_a_wrong_subgradient_on_a_curved_kink_is_still_caught(broken):
    broken("relu", "where(step(a), 1.0, -10.0)")
    row = grad("relu(x) + 100*x - 3*x^2", {"x": 0}, perturb=Perturb()).check.rows[0]
    assert row.kink and row.verdict == "mismatch"


def test_a_central_quotient_near_the_largest_double_does_not_overflow():
    """1/x at 9.2e-155: both one-sided slopes are near -1.2e308, so their sum overflowed, the steps on
    x's scale were dropped, and a quotient across the pole (0) was all that was left to judge by."""
    row = grad("1/x", {"x": 9.212796707870211e-155}, perturb=Perturb()).check.rows[0]
    assert row.verdict == "ok" and row.step < 1e-155


# x^z at x = 1e-70, z = 4e-73: f = 1 + z·ln x is 1 to the last bit at every step, yet ∂f/∂x = z/x = 0.0037:
# the slope lives within ~x of x, and only steps on that scale could see it (none can: the change is
# 1e-78). Steps ≫ x, however sharp, confirm nothing. Found by a probe of random expressions; SymPy agrees
# with backprop.
SLOPE_BELOW_EVERY_STEP = [("-x**z", {"x": 1.0703994681611819e-70, "z": 3.9795427270649554e-73}),
                          ("x**y", {"x": 1.0710885301472975e-261, "y": 7.72097435444719e-101})]


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("source,point", SLOPE_BELOW_EVERY_STEP)
def test_a_slope_no_step_on_the_scale_of_x_can_see_is_unchecked(source, point, method):
    row = grad(source, point, perturb=Perturb(method)).check.rows[0]
    assert row.name == "x" and row.verdict == "unchecked", (row.step, row.numeric, row.analytic)


# ---- the complex step: its own false mismatches, found by the same probe -------------------------------

@pytest.mark.parametrize("source,x", [
    ("x^x", 9.443227214632947e-211), ("x*log(x)", 3.571373902148304e-55),  # h = 1e-20 ≫ x: ln h + 1 = -45
    ("x^x", 3.5e-299),                    # and h·|x| = 3.5e-319 is too small to carry the slope
    ("sin(1/x)", 1.8220362742835603e-77),  # 1/(x + ih) overflows sin; its real inf read as a slope of 0
    ("x*log(x)", 8.839381312993727e+299),  # Im log(x + ih) = h/x = 1e-320 lost its digits
    ("x^0.5", 2.00772215304021e+300), ("x^0.5", 3.436094526700147e-296),  # the polar form's angle, too
])
def test_the_complex_step_calls_no_correct_slope_a_mismatch(source, x):
    row = grad(source, {"x": x}, perturb=Perturb("complex")).check.rows[0]
    assert row.verdict in ("ok", "unchecked"), (row.step, row.numeric, row.analytic, row.tolerance)


def test_the_complex_step_judges_on_the_scale_of_a_tiny_x():
    for source, x in [("x^x", 9.443227214632947e-211), ("x*log(x)", 3.571373902148304e-55),
                      ("x^0.5", 2.00772215304021e+300)]:
        row = grad(source, {"x": x}, perturb=Perturb("complex")).check.rows[0]
        assert row.verdict == "ok" and row.tolerance < 1e-9 * abs(row.analytic), source


def test_the_complex_step_still_catches_a_wrong_power_rule_at_a_tiny_x(broken):
    broken("pow", "b * 1.001 * a^(b - 1)", "out * log(a)")
    row = grad("x^0.5", {"x": 3.436094526700147e-296}, perturb=Perturb("complex")).check.rows[0]
    assert row.verdict == "mismatch"


# ---- an oscillation hidden in f's rounding: the complex step has the last word -------------------------

HIDDEN_OSCILLATION = [("x + sin(x)", 1e15), ("x + sin(x)", 1e17), ("x - sin(x)", 1e20), ("x + cos(x)", 1e16),
                      ("x + tan(x)", 2.46e299)]


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("source,x", HIDDEN_OSCILLATION)
def test_an_oscillation_hidden_in_rounding_is_unchecked_not_a_mismatch(source, x, method):
    """Every step either averages sin away (numeric 1) or is short enough to see it and lost in f's
    rounding; backprop's 1 + cos(x) is right, and the complex step says so."""
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict == "unchecked", (row.step, row.numeric, row.analytic)
    assert grad(source, {"x": x}, perturb=Perturb("complex")).check.rows[0].verdict == "ok"


def test_a_wrong_rule_under_a_hidden_oscillation_is_still_caught(broken):
    broken("sin", "cos(a) * 1.01")
    assert grad("x + sin(x)", {"x": 1e15}, perturb=Perturb()).check.rows[0].verdict == "mismatch"


@pytest.mark.parametrize("source,x,method", [("sin(x)/(x-0.5)", -1.6142678389626865e+292, "central"),
                                             ("cos(x)/(x+x)", 9.600983249613017e+294, "forward")])
def test_a_slope_lost_in_the_division_by_h_is_not_a_zero_slope(source, x, method):
    """f ~ 1e-292 moves by all of itself over h ~ 1e287 (steps span many periods of sin); (f+ - f-)/2h
    is 1e-579, which reads as exactly 0 at every step, with T = 0 and R = 0: a flat f, it seemed."""
    row = grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict == "unchecked", (row.step, row.numeric, row.analytic)


def test_a_check_that_checked_nothing_does_not_say_ok(run):
    r = run("grad", "x^x", "-v", "x=1.53e-101", "--perturb")
    assert r.code == 0 and "not checked: x" in r.out and "ok:" not in r.out


@pytest.mark.parametrize("op,rule,source,x,method", [
    ("exp", "out * 1.01", "exp(x/100)", 0.004, "forward"),   # |x| < 1: confirmed on x's own scale
    ("sin", "cos(a) * 1.01", "sin(x)", 0.3, "forward"),
    ("sin", "cos(a) * 1.01", "sin(x)", 0.0017, "complex"),   # two complex quotients one ulp apart agree
])
def test_a_rule_wrong_by_1_percent_at_a_small_x_is_a_mismatch(broken_rule, op, rule, source, x, method):
    assert grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0].verdict == "ok"  # control
    broken_rule(op, rule)
    assert grad(source, {"x": x}, perturb=Perturb(method)).check.rows[0].verdict == "mismatch"


@pytest.mark.parametrize("method", METHODS)
def test_a_check_too_coarse_to_catch_1_percent_is_not_ok(broken_rule, method):
    # tanh(12): the slope is 1.5e-10 and f's rounding over any usable step is a good part of it
    broken_rule("tanh", "(1.0 - out * out) * 1.01")
    row = grad("tanh(x)", {"x": 12.0}, perturb=Perturb(method)).check.rows[0]
    assert row.verdict != "ok" or row.tolerance < 0.01 * abs(row.analytic), (row.verdict, row.tolerance)


def test_a_complex_step_that_underflows_to_zero_is_no_step():
    # 1e-20·|x| at x = 1e-320 is 0: Im f(x + 0i)/0 was a ZeroDivisionError (found by the fuzz suite)
    rows = grad("(w+x*y)*z", {"w": 0.0, "x": 0.0, "y": 0.0, "z": 1e-320}, perturb=Perturb("complex")).check.rows
    assert {r.name: r.verdict for r in rows}["z"] in ("ok", "unchecked")
