"""100 000 levels deep and 100 000 terms wide, at every stage: parse, lower, both passes, check, render, JSON.

No stage may use the Python call stack for user-sized data; these inputs would exceed the recursion limit.
"""

from __future__ import annotations

import io
import math
import sys

import pytest

from bpcli.api import Perturb, grad

N = 100_000


@pytest.fixture(scope="module")
def nested_tanh():
    return "tanh(" * N + "x" + ")" * N


def reference_nested_tanh(x: float) -> tuple[float, float]:
    value, slope = x, 1.0
    for _ in range(N):
        value = math.tanh(value)
        slope *= 1 - value * value
    return value, slope


def test_recursion_limit_is_the_default():
    assert sys.getrecursionlimit() <= 10_000  # the deep tests below mean something only then


@pytest.mark.slow
def test_nested_tanh_through_the_cli(run, nested_tanh):
    r = run("grad", "-", "-v", "x=0.5", "--format", "json", input=nested_tanh)
    assert r.code == 0, r.err
    doc = r.json()
    value, slope = reference_nested_tanh(0.5)
    assert doc["value"] == pytest.approx(value, rel=1e-12)
    assert doc["gradient"]["x"] == pytest.approx(slope, rel=1e-9)
    assert len(doc["nodes"]) == N + 1


def test_nested_parentheses_through_the_cli(run):
    r = run("grad", "-", "-v", "x=0.5", "--format", "json", input="(" * N + "x*x" + ")" * N)
    assert r.code == 0, r.err
    assert r.json()["gradient"] == {"x": 1.0}


@pytest.mark.slow
def test_wide_sum_through_the_cli(run):
    source = "+".join(f"x*{k}" for k in range(1, N + 1))
    r = run("grad", "-", "-v", "x=2", "--format", "json", input=source)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["gradient"] == {"x": N * (N + 1) / 2}
    assert doc["value"] == N * (N + 1)


@pytest.mark.slow
def test_deep_right_nested_powers_and_table(run):
    # Right-associative power nests to the right: x^1^1^…^1, and the table renderer elides the middle.
    source = "x" + "^1" * N
    r = run("grad", "-", "-v", "x=3", input=source)
    assert r.code == 0, r.err
    assert "rows not shown: --format json has every row)" in r.out


@pytest.mark.slow
def test_deep_perturb(nested_tanh):
    r = grad(nested_tanh, {"x": 0.5}, perturb=Perturb())
    assert r.check.ok


def test_deep_error_message_names_the_node(run):
    r = run("grad", "-", "-v", "x=-1", input="log(" * 1000 + "x" + ")" * 1000)
    assert r.code == 3 and "log(x) is undefined at x = -1" in r.err


def test_deep_syntax_error_has_a_short_caret_line(run):
    r = run("grad", "-", input="(" * N + "x")
    assert r.code == 2
    lines = r.err.splitlines()
    assert len(lines) == 3 and len(lines[1]) < 100


@pytest.mark.slow
def test_render_deep_graph_without_recursion(nested_tanh):
    from rich.console import Console

    from bpcli.views import tables
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(tables.gradients(grad(nested_tanh, {"x": 0.5})))
    assert "Gradient" in console.file.getvalue()


@pytest.mark.slow
def test_many_variables(run, tmp_path):
    """10^5 distinct variables: every per-variable step must be linear (a set built once, not per name)."""
    n = 100_000
    values = tmp_path / "v.txt"
    values.write_text("\n".join(f"x{i} = {i % 5}" for i in range(n)))
    r = run("grad", "-", "--vars", str(values), "--format", "json", input="+".join(f"x{i}*x{i}" for i in range(n)))
    assert r.code == 0
    gradient = r.json()["gradient"]
    assert len(gradient) == n and gradient["x7"] == 2 * (7 % 5)
