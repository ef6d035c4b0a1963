"""Every primitive in the table, against a central difference at its sample point, plus the kink conventions."""

from __future__ import annotations

import math

import pytest

from bpcli import primitives
from bpcli.core import rules

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
    compiled = rules.rules(name, len(args))
    out = compiled.forward(*args)
    for k in range(len(args)):
        numeric = central(compiled.forward, args, k)
        analytic = compiled.partials[k](*args, out)
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
        "step": lambda a: float(a > 0), "sign": lambda a: math.copysign(1.0, a) if a else 0.0,
        "eq": lambda a, b: float(a == b), "where": lambda c, a, b: a if c else b,
        "ties": lambda out, *args: float(sum(a == out for a in args)),
    }[name]
    args = primitives.OPS[name].sample
    assert rules.rules(name, len(args)).forward(*args) == pytest.approx(expected(*args), rel=1e-15)


@pytest.mark.parametrize("name", SMOOTH)
def test_every_op_has_a_display_and_readable_partials(name):
    op = primitives.OPS[name]
    operands = [rules.Operand(f"a{i}") for i in range(len(op.sample))]
    assert rules.spelled_gate(name, operands)
    for k in range(len(operands)):
        leaves = {**dict(zip("abc", operands)), "out": rules.Operand("v")}
        if op.arity is None:  # a variadic gate's one rule is for the argument `a`, among all its `args`
            leaves.update(a=operands[k], args=operands)
        shown = rules.spelled(rules.parsed(name).partials[0 if op.arity is None else k], leaves)
        assert shown and ".0" not in shown and "{" not in shown


def spelled(source: str, **values: float) -> str:
    """A rule written out in the tables' notation, its names given values where `values` has them."""
    leaves = {name: rules.Operand(name) for name in ("a", "b", "c", "v", "x", "y", "x1")}
    leaves.update({name: rules.Operand(f"({v:g})" if v < 0 else f"{v:g}", v, True) for name, v in values.items()})
    return rules.spelled(rules.parse(source), leaves)


def test_rules_are_written_as_a_person_reads_them():
    assert spelled("1.0 - v*v") == "1-v*v"
    assert spelled("where(step(x), 1.0, 0.0)") == "where(step(x), 1, 0)"
    assert spelled("x1 * 2.05") == "x1*2.05"
    # with constant arguments the rule folds to what a person would write
    pow_rule = primitives.OPS["pow"].partials[0]
    assert spelled(pow_rule.replace("a", "x"), b=3.0) == "3*x^2"
    assert spelled(pow_rule.replace("a", "x"), b=-2.0) == "(-2)*x^(-3)"
    assert spelled(pow_rule.replace("a", "x").replace("b", "y")) == "where(eq(y, 0), 0, y*x^(y-1))"
    assert spelled("-out/b".replace("out", "v")) == "-v/b"
    assert spelled("a^b^c") == "a^b^c" and spelled("(a^b)^c") == "(a^b)^c" and spelled("a-(b-c)") == "a-(b-c)"
    assert spelled("-1") == "-1" and spelled("x^1") == "x"


def test_functions_are_the_table_entries_called_by_name():
    assert primitives.FUNCTIONS == ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "relu",
                                    "abs", "max", "min", "step", "sign", "eq", "where", "ties")


@pytest.mark.parametrize("name,x,expected", [
    ("relu", 0.0, 0.0), ("relu", 2.0, 1.0), ("relu", -2.0, 0.0),
    ("abs", 0.0, 0.0), ("abs", 2.0, 1.0), ("abs", -2.0, -1.0),
])
def test_kink_conventions_follow_pytorch(name, x, expected):
    compiled = rules.rules(name, 1)
    assert compiled.partials[0](x, compiled.forward(x)) == expected


def test_max_min_ties_split_evenly():
    for name in ("max", "min"):
        compiled = rules.rules(name, 3)
        out = compiled.forward(1.0, 1.0, 1.0)
        assert [p(1.0, 1.0, 1.0, out) for p in compiled.partials] == [pytest.approx(1 / 3)] * 3
        compiled = rules.rules(name, 2)
        assert [p(2.0, 2.0, 2.0) for p in compiled.partials] == [0.5, 0.5]


def test_sigmoid_is_stable_for_large_arguments():
    compiled = rules.rules("sigmoid", 1)
    assert compiled.forward(-800.0) == pytest.approx(0.0, abs=1e-300)
    assert compiled.forward(800.0) == 1.0


def test_pow_conventions():
    compiled = rules.rules("pow", 2)
    assert compiled.forward(0.0, 0.0) == 1.0
    assert compiled.partials[0](0.0, 0.0, 1.0) == 0.0        # d/dbase of 0^0: PyTorch's 0
    assert compiled.forward(-3.0, 2.0) == 9.0
    assert compiled.partials[0](-2.0, 3.0, -8.0) == 12.0


def test_the_table_knows_every_function_the_grammar_accepts():
    assert set(primitives.FUNCTIONS) <= set(primitives.OPS)
    assert set(primitives.BINARY.values()) | set(primitives.UNARY.values()) <= set(primitives.OPS)


def test_complex_backend_gives_complex_step_derivatives():
    for name in ("sin", "exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "tan", "cos"):
        x = primitives.OPS[name].sample[0]
        h = 1e-20
        numeric = rules.rules(name, 1, "complex").forward(complex(x, h)).imag / h
        real = rules.rules(name, 1)
        assert numeric == pytest.approx(real.partials[0](x, real.forward(x)), rel=1e-12)
