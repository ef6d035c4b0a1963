"""`bpcli diff`: derivatives as formulas. What a user sees in each format, that every printed formula and
program is bpcli input again (closure), the simplifier's rules, and the exit statuses."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from bpcli import api
from bpcli.symbolic import text
from bpcli.symbolic.algebra import Algebra


def test_the_issue_example_reads_as_a_derivative(run):
    r = run("diff", "x^2*sin(x)")
    assert r.code == 0, r.err
    assert "∂f/∂x = x^2*cos(x) + 2*x*sin(x)" in r.out
    # the backward pass as formulas over the forward names, edge by edge
    assert "∂f/∂x = ∂f/∂u · ∂u/∂x" in r.out and "∂f/∂x += ∂f/∂v · ∂v/∂x" in r.out
    assert "v*cos(x)" in r.out and "2*x*u" in r.out


def test_the_lecture_backward_pass_as_formulas(run):
    r = run("diff", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4")
    assert r.code == 0, r.err
    for line in ("∂f/∂w = z", "∂f/∂x = y*z", "∂f/∂y = x*z", "∂f/∂z = x*y + w"):
        assert line in r.out
    rows = {line.split()[0]: line.split()[1:] for line in r.out.splitlines() if line.startswith(" ∂f/∂")}
    assert rows["∂f/∂x"] == ["8", "8"] and rows["∂f/∂z"] == ["11", "11"]   # formula's value, bpcli grad


def test_plain_is_the_formula_alone_for_one_derivative(run):
    assert run("diff", "x^2*sin(x)", "--format", "plain").out == "x^2*cos(x) + 2*x*sin(x)\n"
    assert run("diff", "x*y", "--format", "plain").out == "∂f/∂x = y\n∂f/∂y = x\n"
    assert run("diff", "x*y", "--format", "plain", "--wrt", "y").out == "x\n"


def test_json_contract(run):
    doc = run("diff", "x^2*y^3", "--format", "json").json()
    assert list(doc) == ["expression", "output", "order", "derivatives", "program"]
    assert doc["derivatives"] == {"x": "2*x*y^3", "y": "3*x^2*y^2"}
    assert doc["order"] == 1 and doc["output"] == "f"
    doc = run("diff", "x^2*y^3", "--format", "json", "--order", "2", "-v", "x=1,y=2").json()
    assert doc["derivatives"] == {"x,x": "2*y^3", "x,y": "6*x*y^2", "y,y": "6*x^2*y"}
    assert doc["values"] == {"x,x": 16.0, "x,y": 24.0, "y,y": 12.0}
    assert doc["inputs"] == {"x": 1.0, "y": 2.0} and doc["gradient"] == {"x": 16.0, "y": 12.0}


def test_program_always_in_json_and_closed(run):
    doc = run("diff", "sigmoid(w*x+b)", "--format", "json").json()
    program = doc["program"]
    assert program.splitlines()[-3:] == ["d_w = x*d_u", "d_x = w*d_u", "d_b = d_u"]
    point = {"w": 0.5, "x": -1.5, "b": 0.25}
    gradient = api.grad("sigmoid(w*x+b)", point).gradient
    for name in ("w", "x", "b"):
        value = api.evaluate(api.Source(program, f"d_{name}"), point).value
        assert value == pytest.approx(gradient[name], rel=1e-15)


def test_latex(run):
    out = run("diff", "x^2*sin(x)", "--format", "latex").out
    assert out == "\\frac{\\partial f}{\\partial x} = x^{2} \\cos x + 2 x \\sin x\n"
    out = run("diff", "x^2*y^3", "--format", "latex", "--order", "2", "-v", "x=1,y=2").out
    assert "\\frac{\\partial^{2} f}{\\partial x \\partial y} = 6 x y^{2}" in out
    assert "\\begin{pmatrix} 16 & 24 \\\\ 24 & 12 \\end{pmatrix}" in out


@pytest.mark.parametrize("expression, point", [
    ("x^2*sin(x)", {"x": 1.3}),
    ("sigmoid(w*x+b)", {"w": 0.5, "x": -1.5, "b": 0.25}),
    ("log(x)/y + sqrt(x*y)", {"x": 2.0, "y": 3.0}),
    ("max(x, y)*tanh(x-y) + relu(x)*abs(y)", {"x": 0.7, "y": -0.4}),
    ("x^y", {"x": 1.7, "y": 2.3}),
    ("v = x*y; u = w+v; f = u*z", {"w": 5.0, "x": 3.0, "y": 2.0, "z": 4.0}),
])
@pytest.mark.parametrize("inline", [0, 120])
def test_every_printed_derivative_is_bpcli_input_with_the_same_value(expression, point, inline):
    result = api.diff(expression, point, order=1, inline=inline)
    gradient = api.grad(expression, point).gradient
    for key in result.formulas:
        value = api.evaluate(result.alone(key), point).value
        assert value == pytest.approx(gradient[key[0]], rel=1e-12, abs=1e-14), (key, result.alone(key))


@pytest.mark.parametrize("expression, point", [
    ("x^2*sin(x)*y", {"x": 1.3, "y": 0.5}),
    ("sigmoid(w*x+b)", {"w": 0.5, "x": -1.5, "b": 0.25}),
    ("exp(-x^2/2)/sqrt(2*pi)", {"x": 0.8}),
])
def test_second_derivatives_are_grad_of_the_printed_first(expression, point):
    first = api.diff(expression, order=1, inline=0)
    second = api.diff(expression, point, order=2)
    names = list(point)
    for i, x in enumerate(names):
        gradient = api.grad(first.alone((x,)), point).gradient
        for y in names[i:]:
            assert second.values is not None
            assert second.values[(x, y)] == pytest.approx(gradient.get(y, 0.0), rel=1e-9, abs=1e-12)


def test_closure_through_the_shell():
    """bpcli grad "$(bpcli diff … --wrt x --format plain)" differentiates the derivative again."""
    script = ('bpcli grad "$(bpcli diff "x^3*y" --wrt x --format plain)" -v x=2,y=5 --format csv && '
              'bpcli grad "$(bpcli diff "x^3*y" --wrt x --format plain --inline 0)" -v x=2,y=5 --format csv')
    out = subprocess.run(["bash", "-c", script.replace("bpcli ", f"{sys.executable} -m bpcli ")],
                         capture_output=True, text=True, check=True).stdout
    assert out == "value,d_x,d_y\n60.0,60.0,12.0\n" * 2


@pytest.mark.parametrize("expression, point, expected", [
    ("relu(x)", {"x": 0.0}, 0.0),
    ("abs(x)", {"x": 0.0}, 0.0),
    ("max(x, y)", {"x": 2.0, "y": 2.0}, 0.5),
    ("min(x, y, 1)", {"x": 1.0, "y": 1.0}, 1 / 3),
    ("max(x, x)", {"x": 1.0}, 1.0),
])
def test_kinks_follow_the_conventions_of_grad(expression, point, expected):
    result = api.diff(expression, point)
    assert result.values is not None and result.gradient is not None
    assert result.values[("x",)] == expected == result.gradient["x"]
    assert api.evaluate(result.alone(("x",)), point).value == expected


@pytest.mark.parametrize("build, written", [
    (lambda a, x, y: a.add(x, a.number(0)), "x"),
    (lambda a, x, y: a.mul(x, a.number(1)), "x"),
    (lambda a, x, y: a.mul(a.number(0), x), "0"),
    (lambda a, x, y: a.neg(a.neg(x)), "x"),
    (lambda a, x, y: a.add(x, x), "2*x"),
    (lambda a, x, y: a.mul(x, x), "x^2"),
    (lambda a, x, y: a.sub(a.mul(a.number(3), x), x), "2*x"),
    (lambda a, x, y: a.add(a.add(y, x), a.neg(y)), "x"),
    (lambda a, x, y: a.div(a.number(1), a.mul(a.number(2), x)), "0.5/x"),
    (lambda a, x, y: a.div(x, a.number(3)), "x/3"),
    (lambda a, x, y: a.div(x, a.number(2)), "x/2"),
    (lambda a, x, y: a.mul(a.number(-1), a.div(x, a.pow(y, a.number(2)))), "-x/y^2"),
    (lambda a, x, y: a.add(a.number(1), a.neg(x)), "1 - x"),
    (lambda a, x, y: a.gate("sin", [a.number(0)]), "0"),
    (lambda a, x, y: a.gate("sin", [a.number(2)]), "sin(2)"),
    (lambda a, x, y: a.mul(a.number(2), a.add(x, a.number(1))), "2*x + 2"),
    (lambda a, x, y: a.gate("where", [a.gate("eq", [a.number(2), a.number(0)]), a.number(0), x]), "x"),
    (lambda a, x, y: a.sub(a.mul(x, a.sub(a.number(1), y)), a.mul(x, y)), "x*(1 - 2*y)"),
    (lambda a, x, y: a.pow(x, a.number(0)), "1"),
    (lambda a, x, y: a.mul(a.pow(x, a.number(0.5)), a.pow(x, a.number(0.5))), "x"),
])
def test_simplification(build, written):
    a = Algebra()
    assert text.written(build(a, a.symbol("x"), a.symbol("y"))) == written


def test_a_cancelled_quotient_is_said():
    a = Algebra()
    x = a.symbol("x")
    assert text.written(a.mul(x, a.div(a.number(1), x))) == "1"
    assert [text.written(c) for c in a.conditions] == ["x"]
    result = api.diff("x*log(x)")
    assert result.formulas[("x",)] == "log(x) + 1" and result.conditions == ["x"]


def test_a_cancelled_quotient_goes_to_stderr_in_plain(run):
    r = run("diff", "x*log(x)", "--format", "plain")
    assert r.out == "log(x) + 1\n"
    assert "x ≠ 0" in r.err


def test_exact_constants():
    assert api.diff("0.1*x^2").formulas[("x",)] == "0.2*x"
    assert api.diff("x/3").formulas[("x",)] == "1/3"
    assert api.diff("x^1.5").formulas[("x",)] == "1.5*x^0.5"
    assert api.diff("x^(1/3)").formulas[("x",)] == "1/(3*x^(2/3))"
    assert api.diff("pi*x").formulas[("x",)] == "pi"


def test_long_formulas_are_a_program(run):
    r = run("diff", "sigmoid(w*x+b)", "--inline", "10")
    assert "Program" in r.out and "d_u = f*(1 - f)" in r.out and "∂f/∂w = x*d_u" in r.out
    plain = run("diff", "sigmoid(w*x+b)", "--inline", "10", "--format", "plain", "--wrt", "w").out
    assert plain.splitlines() == ["v = w*x", "u = v+b", "f = sigmoid(u)", "d_w = x*f*(1 - f)"]


def test_higher_orders_share_one_program():
    result = api.diff("x^3*y^2", order=3)
    assert list(result.formulas) == [("x", "x", "x"), ("x", "x", "y"), ("x", "y", "y"), ("y", "y", "y")]
    assert result.formulas == {("x", "x", "x"): "6*y^2", ("x", "x", "y"): "12*x*y", ("x", "y", "y"): "6*x^2",
                               ("y", "y", "y"): "0"}


def test_no_variables_warns_and_prints_nothing(run):
    r = run("diff", "2*pi")
    assert r.code == 0 and r.out == "" and "no variables" in r.err


@pytest.mark.parametrize("args, code, message", [
    (["x^"], 2, "unexpected end of expression"),
    (["x*y", "--wrt", "z"], 2, "--wrt z: not a variable"),
    (["x", "--order", "0"], 2, "--order"),
    (["sqrt(x)", "-v", "x=-1"], 3, "sqrt needs a non-negative argument"),
    (["x^1.5", "-v", "x=0", "--order", "2"], 3, "∂²f/∂x² = 0.75/x^0.5 is infinite at x = 0"),
])
def test_errors(run, args, code, message):
    r = run("diff", *args)
    assert r.code == code and message in r.err and r.out == ""
    assert len(r.err.splitlines()) <= 3


def test_grad_without_a_point_points_to_diff(run):
    r = run("grad", "x^2*sin(x)")
    assert r.code == 2 and "bpcli diff" in r.err


def test_a_deep_expression_is_a_linear_program():
    depth = 20_000
    source = "sin(" * depth + "x" + ")" * depth
    result = api.diff(source)
    assert not result.whole[("x",)]
    program = "\n".join(result.program())
    gates = sum(node.is_gate for node in api.compile_source(program).nodes)
    assert gates <= 5 * depth
    assert math.isfinite(api.diff(source, {"x": 0.5}).values[("x",)])  # type: ignore[index]


def test_json_is_strict(run):
    doc = json.loads(run("diff", "x/y", "--format", "json", "-v", "x=1,y=2").out)
    assert doc["values"] == {"x": 0.5, "y": -0.25}
