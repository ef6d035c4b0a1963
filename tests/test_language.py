"""The expression language: numbers, names, precedence, associativity, constants, functions."""

from __future__ import annotations

import math

import pytest

from bpcli.errors import InputError
from bpcli.api import compile_source, evaluate


def value(source: str, **values: float) -> float:
    return evaluate(source, values).value


@pytest.mark.parametrize("source,expected", [
    ("3", 3), ("3.5", 3.5), (".5", 0.5), ("1e-3", 1e-3), ("2.5E+3", 2500), ("3.", 3),
    ("-2^2", -4), ("2^3^2", 512), ("2**3**2", 512), ("2^-2", 0.25), ("(-2)^2", 4),
    ("2^-1^2", 0.5),                     # 2^(-(1^2))
    ("1-2-3", -4), ("8/4/2", 1), ("2+3*4", 14), ("(2+3)*4", 20), ("-(2+3)", -5),
    ("--2", 2), ("+2", 2), ("-+-2", 2), ("2*-3", -6),
    ("  1 + 2  ", 3), ("\t1\n+\n2\n", 3),
    ("pi", math.pi), ("e", math.e), ("sin(pi/2)", 1), ("log(e)", 1),
    ("max(1, 5, 3)", 5), ("min(4, 2)", 2), ("relu(-3)", 0), ("abs(-3)", 3), ("sigmoid(0)", 0.5),
])
def test_constant_expressions(source, expected):
    assert value(source) == pytest.approx(expected)


@pytest.mark.parametrize("source,point,expected", [
    ("-x^2", {"x": 3}, -9), ("x^-2", {"x": 2}, 0.25), ("x^-y^2", {"x": 2, "y": 1}, 0.5),
    ("x^2", {"x": -3}, 9), ("x^3", {"x": -2}, -8), ("θ*2", {"θ": 1.5}, 3), ("_a1 + b_2", {"_a1": 1, "b_2": 2}, 3),
])
def test_variables(source, point, expected):
    assert value(source, **point) == pytest.approx(expected)


def test_lecture_names_for_intermediates():
    graph = compile_source("(w+x*y)*z")
    gates = [(n.name, graph.definition(i)) for i, n in enumerate(graph.nodes) if n.is_gate]
    assert gates == [("v", "x*y"), ("u", "w+v"), ("f", "u*z")]
    assert graph.input_names == ["w", "x", "y", "z"]


def test_names_skip_those_the_expression_uses():
    graph = compile_source("v*u + t*s")
    gates = [n.name for n in graph.nodes if n.is_gate]
    assert gates == ["r", "q", "f"]


def test_a_variable_called_f_moves_the_output_name():
    graph = compile_source("f*2")
    assert graph.output_name == "f1"


def test_past_the_single_letters_names_are_numbered():
    source = "+".join(f"x{i}" for i in range(30))
    gates = [n.name for n in compile_source(source).nodes if n.is_gate]
    assert gates[:3] == ["v", "u", "t"]
    assert "v1" in gates and gates[-1] == "f"
    assert len(set(gates)) == len(gates)


def test_shared_variables_and_constants_are_one_node():
    graph = compile_source("x*x + 2*x + 2")
    names = [n.name for n in graph.nodes]
    assert names.count("x") == 1 and names.count("2") == 1


def test_negative_literal_is_one_constant():
    graph = compile_source("x^-2")
    assert [graph.definition(i) for i, n in enumerate(graph.nodes) if n.is_gate] == ["x^(-2)"]


@pytest.mark.parametrize("source,message", [
    ("(w+x", "unclosed '('"), ("x*/y", "unexpected '/'"), ("1.2.3", "malformed number"),
    ("2x", "write 2*x"), ("x)", "unmatched ')'"), ("", "empty expression"), ("   ", "empty expression"),
    ("x $ y", "unexpected character '$'"), ("x+", "unexpected end"), ("foo(x)", "unknown function 'foo'"),
    ("sine(x)", "did you mean sin"), ("sin(x, y)", "sin takes 1 argument, got 2"),
    ("max(x)", "max takes at least 2 arguments, got 1"), ("sin + x", "sin is a function"),
    ("sin x", "sin is a function"), ("max(x,)", "unexpected ')'"), ("pi(2)", "unknown function 'pi'"),
    ("1e999", "too large"), ("(a)(b)", "missing operator"),
])
def test_bad_expressions_are_input_errors(source, message):
    with pytest.raises(InputError) as info:
        compile_source(source)
    assert message in info.value.message


def test_syntax_errors_carry_the_column():
    with pytest.raises(InputError) as info:
        compile_source("x*/y")
    assert info.value.line_col == (1, 3)
    lines = info.value.lines()
    assert lines[1] == "  x*/y" and lines[2] == "    ^"


def test_caret_window_on_a_long_line():
    source = "x+" * 5000 + "$" + "+x" * 5000
    with pytest.raises(InputError) as info:
        compile_source(source)
    _, text, caret = info.value.lines()
    assert len(text) < 100 and text[caret.index("^")] == "$"


@pytest.mark.parametrize("taken", [set(), {"v", "u"}, {"v1", "x", "a10"}, {f"x{i}" for i in range(100)},
                                   set("vutsrqponmlkjihgdcba"), set("vutsrqponmlkjihgdcba") | {"v1", "v3"},
                                   {"x٣", "v٣"}, {"gate1"} | set("vutsrqponmlkjihgdcba")])
def test_intermediate_names_made_at_once_are_the_streams_first(taken):
    import itertools

    from bpcli.language import names

    for count in (0, 1, 5, 19, 20, 21, 50, 300):
        stream = names.intermediate_names(set(taken))
        assert names.intermediates(set(taken), count) == list(itertools.islice(stream, count))


def test_a_stem_drops_trailing_digits_of_any_script():
    from bpcli.language.names import stem

    assert [stem(n) for n in ("a10", "h1", "lr", "x٣", "x٣1", "12")] == ["a", "h", "lr", "x", "x", "12"]
