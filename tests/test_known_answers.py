"""Known answers: every primitive's value and derivative at a few points, written out by hand.

Each number is the double nearest the exact answer, with the formula that gives it (mpmath printed the
digits); bpcli must match to 1e-15 relative (libm may be an ulp off), or exactly where the answer is a
whole number or 0. Then the conventions at kinks (PyTorch's) through the library, the CLI and the batch
path, what --perturb says next to a kink, and the numerics: no overflow or cancellation where
a careful implementation has none, and exit 3 naming the node (or, in batch, the row and the node) where
a value or a derivative really is undefined or beyond double range.
"""

from __future__ import annotations

import json
import math

import pytest

from bpcli import primitives
from bpcli.errors import DomainError
from bpcli.api import compile_source, grad

LN2 = 0.6931471805599453
E = 2.718281828459045
PI = 3.141592653589793

# (expression, point, value, gradient)
KNOWN = [
    ("x+y", {"x": 1.5, "y": -2.0}, -0.5, {"x": 1.0, "y": 1.0}),
    ("x-y", {"x": 1.5, "y": -2.0}, 3.5, {"x": 1.0, "y": -1.0}),
    ("x*y", {"x": 3.0, "y": 2.0}, 6.0, {"x": 2.0, "y": 3.0}),
    ("x/y", {"x": 1.0, "y": 4.0}, 0.25, {"x": 0.25, "y": -0.0625}),           # 1/y, -x/y²
    ("-x", {"x": 1.5}, -1.5, {"x": -1.0}),
    ("+x", {"x": 1.5}, 1.5, {"x": 1.0}),
    ("x^y", {"x": 2.0, "y": 3.0}, 8.0, {"x": 12.0, "y": 5.545177444479562}),   # y·x^(y-1), x^y·ln x = 8 ln 2
    ("x**y", {"x": 4.0, "y": 0.5}, 2.0, {"x": 0.25, "y": 2.772588722239781}),  # 0.5/√4, 2 ln 4
    ("x^3", {"x": -2.0}, -8.0, {"x": 12.0}),                                   # a negative base, whole exponent
    ("x^-2", {"x": -2.0}, 0.25, {"x": 0.25}),                                  # -2·x^-3
    ("x^0", {"x": 0.0}, 1.0, {"x": 0.0}),                                      # 0^0 = 1; slope 0 (PyTorch)
    ("0^x", {"x": 2.0}, 0.0, {"x": 0.0}),                                      # 0^y for y > 0: flat in y
    ("x^y", {"x": 0.0, "y": 2.0}, 0.0, {"x": 0.0, "y": 0.0}),
    ("exp(x)", {"x": 0.0}, 1.0, {"x": 1.0}),
    ("exp(x)", {"x": 1.0}, E, {"x": E}),
    ("log(x)", {"x": 1.0}, 0.0, {"x": 1.0}),
    ("log(x)", {"x": 2.0}, LN2, {"x": 0.5}),
    ("sqrt(x)", {"x": 4.0}, 2.0, {"x": 0.25}),                                 # 1/(2√x)
    ("sqrt(x)", {"x": 2.0}, 1.4142135623730951, {"x": 0.3535533905932738}),
    ("sin(x)", {"x": 0.0}, 0.0, {"x": 1.0}),
    ("sin(x)", {"x": 0.5}, 0.479425538604203, {"x": 0.8775825618903728}),     # cos 0.5
    ("cos(x)", {"x": 0.0}, 1.0, {"x": 0.0}),
    ("cos(x)", {"x": 2.0}, -0.4161468365471424, {"x": -0.9092974268256817}),  # -sin 2
    ("tan(x)", {"x": 0.0}, 0.0, {"x": 1.0}),
    ("tan(x)", {"x": 0.5}, 0.5463024898437905, {"x": 1.2984464104095248}),    # 1 + tan² 0.5
    ("tanh(x)", {"x": 0.0}, 0.0, {"x": 1.0}),
    ("tanh(x)", {"x": 0.5}, 0.46211715726000974, {"x": 0.7864477329659274}),  # 1 - tanh² 0.5
    ("tanh(x)", {"x": -3.0}, -0.9950547536867305, {"x": 0.00986603716544019}),
    ("tanh(x)", {"x": 20.0}, 1.0, {"x": 1.6993417021166355e-17}),             # sech² 20 (1 - 1² would be 0)
    ("sigmoid(x)", {"x": 0.0}, 0.5, {"x": 0.25}),                             # σ(1 - σ) = σ(x)σ(-x)
    ("sigmoid(x)", {"x": 2.0}, 0.8807970779778824, {"x": 0.10499358540350652}),
    ("sigmoid(x)", {"x": 40.0}, 1.0, {"x": 4.248354255291589e-18}),           # σ(-40) (1·(1 - 1) would be 0)
    ("sigmoid(x)", {"x": -800.0}, 0.0, {"x": 0.0}),                           # e^-800 underflows: no error
    ("sigmoid(x)", {"x": 800.0}, 1.0, {"x": 0.0}),
    ("softplus(x)", {"x": 0.0}, LN2, {"x": 0.5}),                             # log(1 + e^x), σ(x)
    ("softplus(x)", {"x": 2.0}, 2.1269280110429727, {"x": 0.8807970779778824}),
    ("softplus(x)", {"x": 800.0}, 800.0, {"x": 1.0}),                         # log(1+exp(800)) overflows
    ("softplus(x)", {"x": -40.0}, 4.248354255291589e-18, {"x": 4.248354255291589e-18}),  # log(1+e^-40) is 0
    ("softplus(x)", {"x": -800.0}, 0.0, {"x": 0.0}),
    ("relu(x)", {"x": 2.0}, 2.0, {"x": 1.0}),
    ("relu(x)", {"x": -2.0}, 0.0, {"x": 0.0}),
    ("abs(x)", {"x": -2.0}, 2.0, {"x": -1.0}),
    ("abs(x)", {"x": 3.0}, 3.0, {"x": 1.0}),
    ("max(x, y, z)", {"x": 1.0, "y": 2.0, "z": 0.5}, 2.0, {"x": 0.0, "y": 1.0, "z": 0.0}),
    ("min(x, y)", {"x": 1.0, "y": 2.0}, 1.0, {"x": 1.0, "y": 0.0}),
    ("pi*x + e^x", {"x": 1.0}, PI + E, {"x": PI + E}),                        # the doubles nearest π and e
    # The functions derivative rules are written with: flat or jumping, so their slopes are 0.
    ("step(x)", {"x": 2.0}, 1.0, {"x": 0.0}),
    ("step(x)", {"x": -2.0}, 0.0, {"x": 0.0}),
    ("sign(x)", {"x": -2.0}, -1.0, {"x": 0.0}),
    ("sign(x)", {"x": 3.0}, 1.0, {"x": 0.0}),
    ("eq(x, y)", {"x": 1.5, "y": 1.5}, 1.0, {"x": 0.0, "y": 0.0}),
    ("eq(x, y)", {"x": 1.5, "y": 2.0}, 0.0, {"x": 0.0, "y": 0.0}),
    ("where(c, x, y)", {"c": 1.0, "x": 2.0, "y": 3.0}, 2.0, {"c": 0.0, "x": 1.0, "y": 0.0}),
    ("where(c, x, y)", {"c": 0.0, "x": 2.0, "y": 3.0}, 3.0, {"c": 0.0, "x": 0.0, "y": 1.0}),
    ("where(c, x, y)", {"c": -0.5, "x": 2.0, "y": 3.0}, 2.0, {"c": 0.0, "x": 1.0, "y": 0.0}),  # any c ≠ 0
    ("ties(x, y, z)", {"x": 2.0, "y": 2.0, "z": 2.0}, 2.0, {"x": 0.0, "y": 0.0, "z": 0.0}),
    ("ties(x, y, z)", {"x": 2.0, "y": 1.0, "z": 3.0}, 0.0, {"x": 0.0, "y": 0.0, "z": 0.0}),
]

# At kinks: PyTorch's subgradients. relu'(0) = abs'(0) = 0; a max/min tie splits the gradient evenly
# among the tied arguments, and an argument that appears twice collects both shares.
KINKS = [
    ("relu(x)", {"x": 0.0}, 0.0, {"x": 0.0}),
    ("abs(x)", {"x": 0.0}, 0.0, {"x": 0.0}),
    ("step(x)", {"x": 0.0}, 0.0, {"x": 0.0}),                                  # step(0) = 0
    ("sign(x)", {"x": 0.0}, 0.0, {"x": 0.0}),
    ("max(x, y)", {"x": 1.0, "y": 1.0}, 1.0, {"x": 0.5, "y": 0.5}),
    ("min(x, y, z)", {"x": 1.0, "y": 1.0, "z": 1.0}, 1.0, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}),
    ("max(x, y, 2)", {"x": 2.0, "y": 2.0}, 2.0, {"x": 1 / 3, "y": 1 / 3}),     # the constant takes a third
    ("min(x, y, 5)", {"x": 1.0, "y": 1.0}, 1.0, {"x": 0.5, "y": 0.5}),        # 5 is not tied
    ("max(x, x)", {"x": 1.0}, 1.0, {"x": 1.0}),
]


def _ids(rows):
    return [f"{text}@{','.join(map(repr, point.values()))}" for text, point, *_ in rows]


def _same(got: float, want: float) -> bool:
    # Relative 1e-15, or an absolute 4 ulps of 1: tanh' and σ' come from the output (1 - t², σ(1 - σ)), as
    # in the lecture and PyTorch, which loses relative accuracy where the slope is small.
    if want == 0 or want == int(want):
        return got == want
    return math.isclose(got, want, rel_tol=1e-15, abs_tol=4 * 2.0 ** -52)


@pytest.mark.parametrize("text,point,value,gradient", KNOWN + KINKS, ids=_ids(KNOWN + KINKS))
def test_known_value_and_gradient(text, point, value, gradient):
    r = grad(text, point)
    assert _same(r.value, value), r.value
    assert r.gradient.keys() == gradient.keys()
    for name, want in gradient.items():
        assert _same(r.gradient[name], want), (name, r.gradient[name])


def test_every_primitive_has_known_answers():
    used = {node.op for text, *_ in KNOWN for node in compile_source(text).nodes}
    assert set(primitives.OPS) <= used, set(primitives.OPS) - used


def test_the_constants_are_the_nearest_doubles():
    assert grad("pi + 0*x", {"x": 0.0}).value == 3.141592653589793 == math.pi
    assert grad("e + 0*x", {"x": 0.0}).value == 2.718281828459045 == math.e
    assert grad("sin(pi) + 0*x", {"x": 0.0}).value == 1.2246467991473532e-16   # sin of that double, not 0


# ---- kinks through the CLI and the batch path ------------------------------------------------------

def test_a_tie_splits_the_gradient_through_the_cli(run):
    r = run("grad", "max(x,y)", "-v", "x=1,y=1", "--format", "json")
    assert r.code == 0
    doc = r.json()
    assert doc["value"] == 1.0 and doc["gradient"] == {"x": 0.5, "y": 0.5}
    assert [(e["to"], e["local"]) for e in doc["backward"]] == [("x", 0.5), ("y", 0.5)]


@pytest.mark.parametrize("text,point,value,gradient", KINKS, ids=_ids(KINKS))
def test_the_batch_path_keeps_the_kink_conventions(run, text, point, value, gradient):
    header = ",".join(point)
    row = ",".join(map(str, point.values()))
    r = run("grad", text, "--batch", "-", "--format", "jsonl", input=f"{header}\n{row}\n")
    assert r.code == 0, r.err
    row = json.loads(r.out)
    assert row["value"] == value
    assert {name: row[f"d_{name}"] for name in gradient} == pytest.approx(gradient, rel=1e-15)


# ---- --perturb next to a kink: the kink is flagged with both one-sided slopes, never a mismatch -----

@pytest.mark.parametrize("text,x,slope,side,one_sided", [
    ("relu(x)", 1e-12, 1.0, "right", 1.0),    # any step worth taking crosses 0: the left "slope" is a secant
    ("abs(x)", -1e-13, -1.0, "left", -1.0),
    ("relu(x)", 0.0, 0.0, "right", 1.0),
    ("abs(x)", 0.0, 0.0, "left", -1.0),
])
def test_perturb_flags_a_kink_next_to_the_point(run, text, x, slope, side, one_sided):
    r = run("grad", text, "-v", f"x={x}", "--perturb", "--format", "json")
    assert r.code == 0, r.err
    (row,) = r.json()["perturb"]["rows"]
    assert (row["analytic"], row["verdict"], row["kink"]) == (slope, "ok", True)
    assert min(row["left"], row["right"]) <= slope <= max(row["left"], row["right"])
    assert row[side] == pytest.approx(one_sided, rel=1e-6)


def test_perturb_flags_a_tie(run):
    r = run("grad", "max(x,y)", "-v", "x=1,y=1", "--perturb", "--format", "json")
    assert r.code == 0
    rows = r.json()["perturb"]["rows"]
    assert [(row["verdict"], row["kink"], row["analytic"]) for row in rows] == [("ok", True, 0.5)] * 2
    assert [(row["left"], round(row["right"], 9)) for row in rows] == [(0.0, 1.0)] * 2


def test_perturb_away_from_a_kink_is_an_ordinary_check(run):
    (row,) = run("grad", "relu(x)", "-v", "x=0.5", "--perturb", "--format", "json").json()["perturb"]["rows"]
    assert (row["verdict"], row["kink"], row["left"], row["right"]) == ("ok", False, None, None)


# ---- numerics: no overflow where a careful implementation has none; exit 3 naming the node otherwise -

def test_large_arguments_do_not_overflow(run):
    r = run("grad", "sigmoid(x) + sigmoid(-x) + softplus(x) - x + softplus(-x)", "-v", "x=800", "--format", "json")
    assert r.code == 0 and r.json()["value"] == 1.0 and r.json()["gradient"] == {"x": 0.0}


def test_log_one_plus_exp_overflows_where_softplus_does_not(run):
    r = run("grad", "log(1+exp(x))", "-v", "x=800")
    assert r.code == 3 and r.out == ""
    assert r.err == ("bpcli: error: v = exp(x) overflows double precision at x = 800; "
                     "log(1+exp(a)) is softplus(a), which does not overflow\n")
    assert run("grad", "softplus(x)", "-v", "x=800", "--format", "json").json()["value"] == 800.0


@pytest.mark.parametrize("text,hint", [
    ("1/(1+exp(-x))", "; 1/(1+exp(-a)) is sigmoid(a), which does not overflow"),
    ("log(exp(-x)+1)*2", "; log(1+exp(a)) is softplus(a)"),
    ("exp(-x)", None), ("log(2+exp(-x))", None), ("2/(1+exp(-x))", None),
])
def test_an_overflow_in_the_written_out_form_names_the_stable_function(run, text, hint):
    r = run("grad", text, "-v", "x=-800")
    assert r.code == 3 and "overflows double precision at" in r.err
    assert hint in r.err if hint else "which does not overflow" not in r.err
    rows = run("grad", text, "--batch", "-", input="x\n-800\n")
    assert rows.code == 3 and (hint in rows.err if hint else "which does not overflow" not in rows.err)


def test_tanh_slope_comes_from_the_output_as_in_the_lecture():
    # 1 - tanh², as the lecture and PyTorch compute it: tanh(20) rounds to 1, so the slope 1.7e-17 is 0
    # (documented in docs/language.md's function table).
    assert grad("tanh(x)", {"x": 20.0}).gradient["x"] == 0.0
    assert grad("tanh(x)", {"x": 0.5}).gradient["x"] == 1 - math.tanh(0.5) ** 2


def test_a_negative_base_needs_a_whole_exponent():
    assert grad("x^y", {"x": -2.0, "y": 3.0}, wrt=["x"]).gradient == {"x": 12.0}  # ∂/∂x exists
    with pytest.raises(DomainError, match=r"^f = x\^y has no derivative at x = -2, y = 3: "):
        grad("x^y", {"x": -2.0, "y": 3.0})                                     # ∂/∂y would need log(-2)
    with pytest.raises(DomainError, match=r"^f = x\^y is undefined at x = -8, y = 0.333333333333: a negative base"):
        grad("x^y", {"x": -8.0, "y": 1 / 3})


def test_zero_to_the_zero(run):
    assert run("eval", "0^0", "--format", "json").json()["value"] == 1.0      # a constant exponent: 1
    r = grad("x^y", {"x": 0.0, "y": 0.0}, wrt=["x"])                           # a variable one: 1, slope 0 in x
    assert (r.value, r.gradient) == (1.0, {"x": 0.0})
    # but in y, 0^y jumps at 0 (1 there, 0 to the right): no derivative, exit 3 naming the node
    r = run("grad", "x^y", "-v", "x=0,y=0")
    assert r.code == 3 and r.err.startswith("bpcli: error: f = x^y has no derivative at x = 0, y = 0")


@pytest.mark.parametrize("text,point,message", [
    ("exp(x)", "x=710", "f = exp(x) overflows double precision at x = 710"),
    ("x/y", "x=1,y=0", "f = x/y is undefined at x = 1, y = 0: division by zero"),
    ("log(x)", "x=0", "f = log(x) is undefined at x = 0: log needs a positive argument"),
    ("sqrt(x)", "x=0", "f = sqrt(x) is not differentiable at x = 0: ∂f/∂x is infinite"),
    ("exp(x)*exp(x)", "x=400", "f = v*u overflows double precision at v = 5.22146968976e173, u = 5.22146968976e173"),
    ("1e300*sqrt(x)", "x=1e-300", "the gradient ∂f/∂x overflows double precision"),   # f is 1e150
])
def test_no_nan_or_infinity_is_printed(run, text, point, message):
    r = run("grad", text, "-v", point, "--format", "json")
    assert (r.code, r.out, r.err) == (3, "", f"bpcli: error: {message}\n")


def test_in_batch_the_row_and_the_node_are_named(run):
    r = run("grad", "exp(x)*sqrt(x)", "--batch", "-", "--on-error", "null", input="x\n1\n710\n0\n")
    assert r.code == 3
    assert r.out.splitlines()[1:] == ["1.0,2.718281828459045,4.077422742688568", "710.0,,", "0.0,,"]
    assert "nan" not in r.out.lower() and "inf" not in r.out.lower()
    assert r.err.splitlines()[:2] == [
        "bpcli: error: row 2: v = exp(x) overflows double precision at x = 710",
        "bpcli: error: row 3: u = sqrt(x) is not differentiable at x = 0: ∂u/∂x is infinite"]
