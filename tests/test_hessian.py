"""`bpcli grad --order 2`: the Hessian from the symbolic second derivatives, its table and JSON, the errors
it adds, and its perturbation check, which can fail (a planted wrong Hessian is a mismatch, exit 1)."""

from __future__ import annotations

import math
import random

import pytest
import sympy

from bpcli import api
from bpcli.api import Perturb, grad
from bpcli.errors import DomainError, InputError
from conftest import ROOT, in_terminal

LECTURE = ("(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4")


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# ---- the numbers ------------------------------------------------------------------------------------

def test_x2_y3():
    h = grad("x^2*y^3", {"x": 2, "y": 3}, order=2).hessian
    assert h == {"x": {"x": 54.0, "y": 108.0}, "y": {"x": 108.0, "y": 72.0}}


def test_the_lectures_expression():
    h = grad("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4}, order=2).hessian
    assert h == {"w": {"w": 0, "x": 0, "y": 0, "z": 1}, "x": {"w": 0, "x": 0, "y": 4, "z": 2},
                 "y": {"w": 0, "x": 4, "y": 0, "z": 3}, "z": {"w": 1, "x": 2, "y": 3, "z": 0}}


def test_a_sigmoid_neuron():
    w, x, b = 0.5, 2.0, 0.3
    s = _sigmoid(w * x + b)
    d1, d2 = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    expected = {"w": {"w": x * x * d2, "x": d1 + w * x * d2, "b": x * d2},
                "x": {"w": d1 + w * x * d2, "x": w * w * d2, "b": w * d2},
                "b": {"w": x * d2, "x": w * d2, "b": d2}}
    h = grad("sigmoid(w*x+b)", {"w": w, "x": x, "b": b}, order=2).hessian
    for p in expected:
        for q in expected:
            assert h[p][q] == pytest.approx(expected[p][q], rel=1e-12, abs=1e-15)


def test_symmetric_and_in_the_order_of_wrt():
    r = grad("exp(x*y)*sin(z) + x^3*z", {"x": 0.4, "y": 1.3, "z": 0.7}, wrt=["z", "x"], order=2)
    assert list(r.hessian) == ["z", "x"] and [list(row) for row in r.hessian.values()] == [["z", "x"]] * 2
    assert r.hessian["z"]["x"] == r.hessian["x"]["z"]


def test_order_1_has_no_hessian():
    r = grad("x*y", {"x": 1, "y": 2})
    assert r.hessian is None and r.hessian_check is None


@pytest.mark.parametrize("order", [0, 3, -1])
def test_other_orders_are_refused(order):
    with pytest.raises(InputError, match=rf"grad's --order is 1 .* or 2 .*not {order}: `bpcli diff --order {order}`"):
        grad("x*y", {"x": 1, "y": 2}, order=order)


def test_an_infinite_second_derivative_where_the_gradient_is_defined():
    assert grad("x^1.5", {"x": 0}).gradient == {"x": 0.0}
    message = r"^the second derivative ∂²f/∂x² is infinite or overflows double precision at x = 0$"
    with pytest.raises(DomainError, match=message):
        grad("x^1.5", {"x": 0}, order=2)


# ---- against SymPy ----------------------------------------------------------------------------------

X, Y, Z = sympy.symbols("x y z", real=True)
LEAVES = [("x", X), ("y", Y), ("z", Z), ("2", sympy.Integer(2)), ("0.5", sympy.Rational(1, 2))]
UNARY = [("sin", sympy.sin), ("cos", sympy.cos), ("exp", sympy.exp), ("tanh", sympy.tanh),
         ("sigmoid", lambda a: 1 / (1 + sympy.exp(-a))), ("softplus", lambda a: sympy.log(1 + sympy.exp(a)))]


def _random_expression(rng: random.Random, depth: int) -> tuple[str, sympy.Expr]:
    """A smooth expression over x, y, z as bpcli text and as SymPy (division and log kept off 0)."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(LEAVES)
    kind = rng.choice(["+", "-", "*", "/", "^", "f", "f"])
    a, sa = _random_expression(rng, depth - 1)
    if kind == "f":
        name, build = rng.choice(UNARY)
        return f"{name}({a})", build(sa)
    b, sb = _random_expression(rng, depth - 1)
    if kind == "/":
        return f"({a})/(1.5 + ({b})^2)", sa / (sympy.Rational(3, 2) + sb ** 2)
    if kind == "^":
        k = rng.choice([2, 3])
        return f"({a})^{k}", sa ** k
    return f"({a}){kind}({b})", {"+": sa + sb, "-": sa - sb, "*": sa * sb}[kind]


def _case(seed: int) -> tuple[str, sympy.Expr, dict[str, float]]:
    rng = random.Random(seed)
    text, sym = _random_expression(rng, 4)
    while len(sym.free_symbols) < 2 or len(text) < 30:   # enough to have mixed partials worth comparing
        text, sym = _random_expression(rng, 4)
    return text, sym, {n: rng.uniform(-1.5, 1.5) for n in "xyz"}


@pytest.mark.parametrize("seed", range(10))
def test_random_expressions_agree_with_sympy(seed):
    text, sym, point = _case(seed)
    names = [n for n in api.compile_source(text).input_names]
    symbols = [{"x": X, "y": Y, "z": Z}[n] for n in names]
    expected = sympy.hessian(sym, symbols).subs({X: point["x"], Y: point["y"], Z: point["z"]})
    h = grad(text, {n: point[n] for n in names}, order=2).hessian
    for i, p in enumerate(names):
        for j, q in enumerate(names):
            assert h[p][q] == pytest.approx(float(expected[i, j]), rel=1e-9, abs=1e-12), (text, p, q)


# ---- the perturbation check -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(10))
def test_random_expressions_have_no_false_mismatch(seed):
    text, _, point = _case(seed)
    names = api.compile_source(text).input_names
    check = grad(text, {n: point[n] for n in names}, perturb=Perturb(), order=2).hessian_check
    assert check.ok, [(r.of, r.by, r.analytic, r.numeric, r.tolerance) for r in check.rows if r.verdict != "ok"]
    assert sum(r.verdict == "ok" for r in check.rows) >= len(check.rows) - 1   # a check that checks

@pytest.mark.parametrize("expression,point", [
    ("x^2*y^3", {"x": 2, "y": 3}),
    ("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4}),
    ("sigmoid(w*x+b)", {"w": 0.5, "x": 2, "b": 0.3}),
    ("exp(x*y)*sin(z) + log(x)*z^2", {"x": 0.4, "y": 1.3, "z": 0.7}),
    ("tanh(x)/sqrt(y) + x^y", {"x": 1.7, "y": 2.5}),
])
def test_smooth_entries_are_ok(expression, point):
    check = grad(expression, point, perturb=Perturb(), order=2).hessian_check
    assert check.ok and [r.verdict for r in check.rows] == ["ok"] * len(point) ** 2, \
        [(r.of, r.by, r.analytic, r.numeric, r.tolerance) for r in check.rows]


def test_rows_are_the_whole_matrix_row_by_row():
    check = grad("x^2*y^3", {"x": 2, "y": 3}, perturb=Perturb(), order=2).hessian_check
    assert [(r.of, r.by, r.analytic) for r in check.rows] == [("x", "x", 54), ("x", "y", 108), ("y", "x", 108),
                                                              ("y", "y", 72)]


def test_a_kink_under_every_step_is_unchecked():
    check = grad("relu(x)*y^2", {"x": 0, "y": 2}, perturb=Perturb(), order=2).hessian_check
    verdicts = {(r.of, r.by): (r.verdict, r.kink) for r in check.rows}
    assert verdicts[("x", "x")] == ("unchecked", True) and verdicts[("y", "x")] == ("unchecked", True)
    assert verdicts[("y", "y")] == ("ok", False) and check.ok


def _planted(monkeypatch, entry=("x", "y"), factor=1.001):
    """A Hessian wrong in one entry (both places) by `factor`."""
    real = api._hessian

    def wrong(graph, point, chosen):
        h = real(graph, point, chosen)
        x, y = entry
        h[x][y] *= factor
        h[y][x] = h[x][y]
        return h
    monkeypatch.setattr(api, "_hessian", wrong)


def test_a_planted_wrong_hessian_is_a_mismatch(monkeypatch):
    _planted(monkeypatch)
    check = grad("x^2*y^3", {"x": 2, "y": 3}, perturb=Perturb(), order=2).hessian_check
    assert not check.ok
    assert [r.verdict for r in check.rows] == ["ok", "mismatch", "mismatch", "ok"]


def test_a_slightly_wrong_hessian_is_caught(monkeypatch):
    _planted(monkeypatch, ("x", "x"), 1.0001)
    check = grad("sigmoid(w*x+b)", {"w": 0.5, "x": 2, "b": 0.3}, perturb=Perturb(), order=2).hessian_check
    assert [(r.of, r.by) for r in check.rows if r.verdict == "mismatch"] == [("x", "x")]


# ---- the command line -------------------------------------------------------------------------------

def test_table_shows_the_hessian_after_the_gradient(run):
    r = run("grad", *LECTURE, "--order", "2")
    assert r.code == 0
    out = r.out
    assert out.index("Gradient of f") < out.index("Hessian of f")
    assert " x  0  0  4  2" in out and " z  1  2  3  0" in out


def test_json_has_the_hessian(run):
    doc = run("grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2", "--format", "json").json()
    assert doc["hessian"] == {"x": {"x": 54.0, "y": 108.0}, "y": {"x": 108.0, "y": 72.0}}
    assert list(doc).index("hessian") == list(doc).index("gradient") + 1
    assert "perturb" not in doc
    assert "hessian" not in run("grad", "x^2*y^3", "-v", "x=2,y=3", "--format", "json").json()


def test_json_perturb_has_hessian_rows(run):
    r = run("grad", *LECTURE, "--order", "2", "--perturb", "--format", "json")
    assert r.code == 0
    perturb = r.json()["perturb"]
    assert perturb["ok"] and len(perturb["hessian"]) == 16
    row = perturb["hessian"][6]
    assert set(row) == {"of", "by", "at", "step", "analytic", "numeric", "abs_error", "rel_error", "verdict", "kink",
                        "g", "g_plus", "g_minus", "tolerance"}
    assert (row["of"], row["by"], row["at"], row["analytic"], row["verdict"]) == ("x", "y", 2.0, 4.0, "ok")


def test_perturb_shows_both_checks(run):
    r = run("grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2", "--perturb")
    assert r.code == 0 and r.err == ""
    assert "Perturbation check (central difference)" in r.out and "Perturbation check of the Hessian" in r.out
    assert "ok: the Hessian agrees with the perturbation of the gradient for 4 of 4 entries" in r.out


def test_a_planted_wrong_hessian_exits_1(run, monkeypatch):
    _planted(monkeypatch)
    r = run("grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2", "--perturb")
    assert r.code == 1
    said = " ".join(r.out.split())   # the verdict line wraps at 80 columns
    assert "mismatch: the Hessian disagrees with the perturbation of the gradient for ∂²f/∂x∂y, ∂²f/∂y∂x" in said
    assert r.err == "bpcli: error: the perturbation check disagrees with backprop for ∂²f/∂x∂y, ∂²f/∂y∂x\n"
    doc = run("grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2", "--perturb", "--format", "json")
    assert doc.code == 1 and doc.json()["perturb"]["ok"] is False


@pytest.mark.parametrize("args,fragment", [
    (("--order", "3"), "grad's --order is 1 (the gradient) or 2 (the Hessian too), not 3: "
                       "`bpcli diff --order 3` gives the formulas of any order"),
    (("--order", "0", "--grid", "x=0:1:0.5"), "grad's --order is 1"),
    (("--order", "2", "--grid", "x=0:1:0.5"), "--order 2 is for one point; not with --batch or --grid"),
    (("--order", "2", "--batch", "-"), "--order 2 is for one point; not with --batch or --grid"),
    (("--order", "2", "--format", "csv"), "--format csv writes one row of numbers; --order 2 needs table or json"),
    (("--order", "2", "--format", "jsonl"), "--format jsonl writes one row of numbers; --order 2 needs table or json"),
])
def test_refused_with_exit_2(run, args, fragment):
    r = run("grad", "x*y", "-v", "x=1,y=2", *args, input="x,y\n1,2\n")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("bpcli: error: " + fragment) and r.err.count("\n") == 1


def test_not_a_number_is_a_usage_error(run):
    r = run("grad", "x*y", "-v", "x=1,y=2", "--order", "two")
    assert r.code == 2 and "--order" in r.err


def test_an_undefined_entry_exits_3(run):
    r = run("grad", "x^1.5", "-v", "x=0", "--order", "2")
    assert r.code == 3 and r.out == ""
    assert r.err == "bpcli: error: the second derivative ∂²f/∂x² is infinite or overflows double precision at x = 0\n"


def test_help_shows_order(run):
    out = run("grad", "--help").out
    assert "--order N" in out and "--order 2 --perturb" in out


@pytest.mark.parametrize("cols", [80, 60])
def test_reads_well_in_a_terminal(cols):
    """The matrix, or one entry a line, and the check, with nothing folded or cut with …"""
    command = (f"{_python()} -m bpcli grad -f examples/lecture_network.bp --vars examples/lecture_network.vars "
               "--order 2 --wrt a10,a11,a12,b10,b11 --perturb")
    screen = in_terminal(command, cols, ROOT, env={"PYTHONPATH": str(ROOT)})
    assert screen.code == 0
    assert all(len(line) <= cols for line in screen.lines)
    assert "…" not in screen.text
    start = screen.lines.index("Hessian of E")
    assert ("a10" in screen.lines[start + 2]) if cols == 80 else screen.lines[start + 2].split() == ["entry", "value"]
    assert "Perturbation check of the Hessian" in screen.lines


def _python() -> str:
    import shlex
    import sys

    return shlex.quote(sys.executable)
