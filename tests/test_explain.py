"""--explain: the chain rule path by path, grouped where paths explode."""

from __future__ import annotations

import math

import pytest

from bpcli.explain import MAX_PATHS
from bpcli.pipeline import explain, grad


def by_name(source, point):
    return {ex.name: ex for ex in explain(grad(source, point))}


def test_lecture_paths():
    ex = by_name("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4})
    x = ex["x"]
    assert x.paths == 1 and not x.grouped
    (term,) = x.terms
    assert term.chain == ["f", "u", "v", "x"] and term.factors == [4, 1, 2] and term.product == 8
    assert ex["z"].terms[0].chain == ["f", "z"]


def test_fan_out_sums_the_paths():
    x = by_name("x*x + sin(x)", {"x": 0.5})["x"]
    assert x.paths == 3 and sum(t.product for t in x.terms) == pytest.approx(x.total)
    assert x.total == pytest.approx(1 + math.cos(0.5))


def test_exploding_paths_are_grouped_by_the_consumers():
    program = "a = x*x; b = a*a; c = b*b; d = c*c; g = d*d; g"  # 2^5 = 32 paths
    x = by_name(program, {"x": 1.01})["x"]
    assert x.paths == 32 > MAX_PATHS and x.grouped
    assert [t.chain for t in x.terms] == [["g", "a", "x"], ["g", "a", "x"]]
    assert sum(t.product for t in x.terms) == pytest.approx(x.total)


def test_every_path_product_sums_to_the_gradient():
    source = "max(x, y) * tanh(x*y) + x^3 / (1 + y*y)"
    r = grad(source, {"x": 0.7, "y": -1.3})
    for ex in explain(r):
        assert sum(t.product for t in ex.terms) == pytest.approx(r.gradient[ex.name], rel=1e-12)


def test_deep_chain_is_linear(run):
    r = run("grad", "-", "-v", "x=0.5", "--explain", input="sin(" * 20000 + "x" + ")" * 20000)
    assert r.code == 0 and "more)…" in r.out


def test_cli_explain(run):
    r = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--explain")
    assert "∂f/∂x = ∂f/∂u·∂u/∂v·∂v/∂x = 4·1·2 = 8" in r.out
    assert "∂f/∂z = 11" in r.out
    doc = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--explain", "--format", "json").json()
    assert doc["explain"]["x"]["terms"] == [{"chain": ["f", "u", "v", "x"], "factors": [4, 1, 2], "product": 8}]
