"""Every primitive in the table, against a central difference at its sample point, plus the kink conventions."""

from __future__ import annotations

import math

import pytest

from bpcli import primitives
from bpcli.core import templates

SMOOTH = [name for name in primitives.OPS]


def central(f, args, k, h=1e-6):
    up, down = list(args), list(args)
    up[k] += h
    down[k] -= h
    return (f(*up) - f(*down)) / (2 * h)


@pytest.mark.parametrize("name", SMOOTH)
def test_partials_match_central_difference(name):
    op = primitives.OPS[name]
    args = op.sample
    assert args and op.accepts(len(args)), f"{name} needs a sample point"
    rules = templates.rules(name, len(args))
    out = rules.forward(*args)
    for k in range(len(args)):
        numeric = central(rules.forward, args, k)
        analytic = rules.partials[k](*args, out)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, k)


@pytest.mark.parametrize("name", SMOOTH)
def test_forward_matches_python_math(name):
    expected = {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
        "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
        "tan": math.tan, "tanh": math.tanh, "sigmoid": lambda a: 1 / (1 + math.exp(-a)),
        "softplus": lambda a: math.log(1 + math.exp(a)),
        "relu": lambda a: max(a, 0.0), "abs": abs, "max": max, "min": min,
    }[name]
    args = primitives.OPS[name].sample
    assert templates.rules(name, len(args)).forward(*args) == pytest.approx(expected(*args), rel=1e-15)


@pytest.mark.parametrize("name", SMOOTH)
def test_every_op_has_a_display_and_readable_partials(name):
    op = primitives.OPS[name]
    n = len(op.sample)
    names = [f"a{i}" for i in range(n)]
    assert templates.expand(op.display, names)
    for k in range(n):
        shown = templates.readable(templates.expand(op.partial(k), names, out="v", k=k))
        assert shown and ".0" not in shown and "{" not in shown


def test_readable():
    assert templates.readable("1.0 - v * v") == "1-v*v"
    assert templates.readable("where(x > 0, 1.0, 0.0)") == "where(x > 0, 1, 0)"
    assert templates.readable("x1 * 2.05") == "x1*2.05"
    # with constant arguments the rule folds to what a person would write
    assert templates.readable("where(3.0 == 0, 0.0, 3.0 * pow(x, 3.0 - 1.0))") == "3*x^2"
    assert templates.readable("where((-2) == 0, 0.0, (-2) * pow(x, (-2) - 1.0))") == "(-2)*x^(-3)"
    assert templates.readable("where(y == 0, 0.0, y * pow(x, y - 1.0))") == "where(y == 0, 0, y*pow(x, y-1))"


def test_functions_are_the_table_entries_called_by_name():
    assert primitives.FUNCTIONS == ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "relu",
                                    "abs", "max", "min")


@pytest.mark.parametrize("name,x,expected", [
    ("relu", 0.0, 0.0), ("relu", 2.0, 1.0), ("relu", -2.0, 0.0),
    ("abs", 0.0, 0.0), ("abs", 2.0, 1.0), ("abs", -2.0, -1.0),
])
def test_kink_conventions_follow_pytorch(name, x, expected):
    rules = templates.rules(name, 1)
    assert rules.partials[0](x, rules.forward(x)) == expected


def test_max_min_ties_split_evenly():
    for name in ("max", "min"):
        rules = templates.rules(name, 3)
        out = rules.forward(1.0, 1.0, 1.0)
        assert [p(1.0, 1.0, 1.0, out) for p in rules.partials] == [pytest.approx(1 / 3)] * 3
        rules = templates.rules(name, 2)
        assert [p(2.0, 2.0, 2.0) for p in rules.partials] == [0.5, 0.5]


def test_sigmoid_is_stable_for_large_arguments():
    rules = templates.rules("sigmoid", 1)
    assert rules.forward(-800.0) == pytest.approx(0.0, abs=1e-300)
    assert rules.forward(800.0) == 1.0


def test_pow_conventions():
    rules = templates.rules("pow", 2)
    assert rules.forward(0.0, 0.0) == 1.0
    assert rules.partials[0](0.0, 0.0, 1.0) == 0.0        # d/dbase of 0^0: PyTorch's 0
    assert rules.forward(-3.0, 2.0) == 9.0
    assert rules.partials[0](-2.0, 3.0, -8.0) == 12.0


def test_the_table_knows_every_function_the_grammar_accepts():
    assert set(primitives.FUNCTIONS) <= set(primitives.OPS)
    assert set(primitives.BINARY.values()) | set(primitives.UNARY.values()) <= set(primitives.OPS)


def test_complex_backend_gives_complex_step_derivatives():
    for name in ("sin", "exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "tan", "cos"):
        x = primitives.OPS[name].sample[0]
        h = 1e-20
        numeric = templates.rules(name, 1, "complex").forward(complex(x, h)).imag / h
        real = templates.rules(name, 1)
        assert numeric == pytest.approx(real.partials[0](x, real.forward(x)), rel=1e-12)
