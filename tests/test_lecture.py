"""The lecture's examples through the library: the node-level example, the add / multiply / max gates."""

from __future__ import annotations

import pytest

from bpcli.core import engine
from bpcli.errors import DomainError, InputError
from bpcli.api import Perturb, evaluate, grad

SEED = {"w": 5, "x": 3, "y": 2, "z": 4}


def test_seed_forward_and_backward():
    r = grad("(w+x*y)*z", SEED)
    assert r.value == 44
    assert r.gradient == {"w": 4, "x": 8, "y": 12, "z": 11}
    values = {r.graph.nodes[i].name: v for i, v in enumerate(r.values)}
    assert (values["v"], values["u"], values["f"]) == (6, 11, 44)


def test_seed_backward_pass_edge_by_edge_as_in_the_pseudo_code():
    r = grad("(w+x*y)*z", SEED)
    names = lambda i: r.graph.nodes[i].name  # noqa: E731
    edges = [(names(e.node), names(e.to), e.upstream, e.local, e.product) for e in r.backward.edges]
    assert edges == [
        ("f", "u", 1, 4, 4),     # dfdu = z
        ("f", "z", 1, 11, 11),   # dfdz = u
        ("u", "w", 4, 1, 4),     # dfdw = 1*dfdu
        ("u", "v", 4, 1, 4),     # dfdv = 1*dfdu
        ("v", "x", 4, 2, 8),     # dfdx = y*dfdv
        ("v", "y", 4, 3, 12),    # dfdy = x*dfdv
    ]
    assert [r.graph.local_formula(e.node, e.arg) for e in r.backward.edges] == ["z", "u", "1", "1", "y", "x"]


def test_multiply_gate_swaps_its_inputs():
    assert grad("x*y", {"x": 3, "y": -4}).gradient == {"x": -4, "y": 3}


def test_add_gate_copies_the_gradient():
    assert grad("x+y", {"x": 3, "y": -4}).gradient == {"x": 1, "y": 1}


@pytest.mark.parametrize("point,expected", [
    ({"x": 3, "y": 1}, {"x": 1, "y": 0}),       # case I: x > y, the gradient goes to x
    ({"x": 1, "y": 3}, {"x": 0, "y": 1}),       # case II
    ({"x": 2, "y": 2}, {"x": 0.5, "y": 0.5}),   # a tie splits evenly
])
def test_max_gate_routes_the_gradient(point, expected):
    assert grad("max(x,y)", point).gradient == expected


def test_max_of_the_same_variable_gives_it_everything():
    assert grad("max(x,x)", {"x": 2}).gradient == {"x": 1}


def test_lecture_mixed_circuit():
    # add, multiply and max together, as on the lecture's later slide: f = (x*y + max(z, w)) * 2
    r = grad("(x*y + max(z, w)) * 2", {"x": 3, "y": -4, "z": 2, "w": -1})
    assert r.value == -20
    assert r.gradient == {"x": -8, "y": 6, "z": 2, "w": 0}


def test_fan_out_accumulates():
    r = grad("x*x + sin(x)", {"x": 0.5})
    import math
    assert r.gradient["x"] == pytest.approx(2 * 0.5 + math.cos(0.5))


def test_relu_and_abs_at_zero():
    assert grad("relu(x) + abs(y)", {"x": 0, "y": 0}).gradient == {"x": 0, "y": 0}


def test_no_variables_gives_an_empty_gradient():
    r = grad("2*3+1", {})
    assert r.value == 7 and r.gradient == {}


def test_bare_variable_is_its_own_output():
    r = grad("x", {"x": 2})
    assert r.graph.output_name == "x" and r.gradient == {"x": 1}


def test_wrt_limits_the_gradient():
    assert grad("(w+x*y)*z", SEED, wrt=["y", "w"]).gradient == {"y": 12, "w": 4}
    with pytest.raises(InputError, match="not a variable"):
        grad("x", {"x": 1}, wrt=["q"])


def test_missing_values_are_all_named():
    with pytest.raises(InputError, match="no value for x, z"):
        grad("x*y*z", {"y": 1})


def test_unused_value_is_a_warning():
    r = evaluate("x", {"x": 1, "q": 2})
    assert any("q" in w for w in r.warnings)


def test_exponent_that_depends_on_an_input():
    import math
    r = grad("x^y", {"x": 2, "y": 3})
    assert r.gradient == {"x": pytest.approx(12), "y": pytest.approx(8 * math.log(2))}
    with pytest.raises(DomainError, match="base must be positive"):
        grad("x^y", {"x": -2, "y": 2})
    assert grad("x^y", {"x": 0, "y": 2}).gradient == {"x": 0, "y": 0}


@pytest.mark.parametrize("source,point,fragment", [
    ("log(x)", {"x": -1}, "f = log(x) is undefined at x = -1"),
    ("log(x)", {"x": 0}, "log needs a positive argument"),
    ("x/y", {"x": 1, "y": 0}, "division by zero"),
    ("sqrt(x)", {"x": -1}, "sqrt needs a non-negative argument"),
    ("sqrt(x)", {"x": 0}, "∂f/∂x is infinite"),
    ("exp(x)", {"x": 1000}, "overflows"),
    ("10^400", {}, "overflows"),
    ("1e308*10", {}, "overflows"),
    ("0^-1", {}, "0 to a negative power"),
    ("x^0.5", {"x": -4}, "whole-number exponent"),
    ("log(x)*2", {"x": -1}, "v = log(x)"),
])
def test_undefined_points_name_the_node(source, point, fragment):
    with pytest.raises(DomainError) as info:
        grad(source, point)
    assert fragment in info.value.message


def test_gradient_overflow_is_an_error():
    with pytest.raises(DomainError, match="overflows"):
        grad("exp(x)*exp(x)*1e300", {"x": 300})


def test_perturb_agrees_on_the_seed():
    r = grad("(w+x*y)*z", SEED, perturb=Perturb())
    assert r.check.ok and [row.verdict for row in r.check.rows] == ["ok"] * 4


def test_forward_perturbation_reproduces_the_lecture_nudge():
    r = grad("(w+x*y)*z", SEED, perturb=Perturb("forward", 0.001))
    w = r.check.rows[0]
    assert (w.name, w.x + w.step, w.f_x) == ("w", 5.001, 44)
    assert w.f_plus == pytest.approx(44.004)
    assert w.numeric == pytest.approx(4)


def test_engine_never_mentions_an_op():
    import inspect
    source = inspect.getsource(engine)
    for name in ("mul", "sin", "relu", "max"):
        assert f'"{name}"' not in source
