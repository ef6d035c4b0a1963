"""bpcli graph: the tree in the terminal, Graphviz DOT rendered by the real dot, Mermaid."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest

from bpcli import numfmt

SEED = ["(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def fmt(x: float) -> str:
    """A number as the tables show it."""
    return numfmt.fmt(x, numfmt.TABLE_DIGITS)


def test_tree_structure_only(run):
    r = run("graph", "(w+x*y)*z")
    assert r.code == 0
    assert [line.split("── ")[-1] for line in r.out.strip().splitlines()] == \
        ["f = u*z", "u = w+v", "w", "v = x*y", "x", "y", "z"]


def test_tree_with_values_and_gradients(run):
    r = run("graph", *SEED)
    assert "v = x*y  6  ∂f/∂v = 4" in r.out and "x  3  ∂f/∂x = 8" in r.out


def test_tree_marks_shared_nodes(run, monkeypatch):
    lines = tree_lines(run, monkeypatch, "a = x*y; a*a + sin(a)", "-v", "x=1,y=2")
    uses = [line for line in lines if line.startswith("a = x*y")]
    assert len(uses) == 3 and [line.endswith("(shared: see above)") for line in uses] == [False, True, True]


def tree_lines(run, monkeypatch, *args) -> list[str]:
    """The tree's lines at 80 columns, guides removed and lines that Rich wrapped joined back to their node."""
    monkeypatch.setenv("COLUMNS", "80")
    lines: list[str] = []
    for line in run("graph", *args).out.rstrip("\n").splitlines():
        node = re.match(r"^[│ ]*(├── |└── )?", line)
        text = line[node.end():].strip()
        if node.group(1) is None and lines:   # a guide and no branch: the line above, continued
            lines[-1] += " " + text
        else:
            lines.append(text)
    return [re.sub(" +", " ", line) for line in lines]


def test_tree_shows_each_use_of_a_variable_and_the_total_once(run, monkeypatch):
    lines = tree_lines(run, monkeypatch, "x*x+sin(x)", "-v", "x=1")
    xs = [line for line in lines if line.startswith("x ")]
    total = f"(total ∂f/∂x = {fmt(2 + math.cos(1))} over 3 uses)"
    assert xs == [f"x 1 ∂f/∂x along this use = 1·1 = 1 {total}", "x 1 ∂f/∂x along this use = 1·1 = 1",
                  f"x 1 ∂f/∂x along this use = 1·{fmt(math.cos(1))} = {fmt(math.cos(1))}"]


def test_the_total_is_on_the_first_line_on_the_screen(run, monkeypatch):
    lines = tree_lines(run, monkeypatch, "x*x + x", "-v", "x=2")   # x under f is made before v's x's
    xs = [line for line in lines if line.startswith("x ")]
    assert xs[0].endswith("(total ∂f/∂x = 5 over 3 uses)") and xs[-1] == "x 2 ∂f/∂x along this use = 1·1 = 1"


def test_tree_shows_each_use_of_a_shared_step_with_negatives_in_brackets(run, monkeypatch):
    lines = tree_lines(run, monkeypatch, "a = x*y; a*a + sin(a)", "-v", "x=1,y=-2")
    uses = [line for line in lines if line.startswith("a = x*y")]
    total = f"(total ∂f/∂a = {fmt(-4 + math.cos(-2))} over 3 uses)"
    assert uses == [f"a = x*y -2 ∂f/∂a along this use = 1·(-2) = -2 {total}",
                    "a = x*y -2 ∂f/∂a along this use = 1·(-2) = -2 (shared: see above)",
                    f"a = x*y -2 ∂f/∂a along this use = 1·({fmt(math.cos(-2))}) = {fmt(math.cos(-2))} "
                    "(shared: see above)"]


def test_deep_tree_stops_at_a_depth(run):
    r = run("graph", "-", input="sin(" * 1000 + "x" + ")" * 1000)
    assert r.code == 0 and "(deeper: see --format dot)" in r.out


def test_dot_has_every_value_gradient_and_flow(run):
    text = run("graph", *SEED, "--format", "dot").out
    for fragment in ("v = x*y<BR/>6", "∂f/∂v = 4", "u = w+v<BR/>11", "f = u*z<BR/>44", "∂f/∂x = 8"):
        assert fragment in text
    assert len(re.findall(r"->", text)) == 6 and 'label="8"' in text


def test_dot_draws_a_shared_node_once(run):
    text = run("graph", "a = x*y; a*a + sin(a)", "--format", "dot").out
    (a,) = re.findall(r"(n\d+) \[shape=box, label=<a = x\*y", text)
    assert len(re.findall(rf"{a} -> ", text)) == 3


@needs_dot
def test_dot_output_renders_with_the_real_dot(run, tmp_path):
    text = run("graph", *SEED, "--format", "dot").out
    svg = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True).stdout
    for fragment in ("v = x*y", "u = w+v", "f = u*z", "∂f/∂x = 8", "44"):
        assert fragment in svg
    assert svg.count("<g id=\"node") == 7


@needs_dot
@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_render_writes_the_picture(run, tmp_path, suffix):
    out = tmp_path / f"seed.{suffix}"
    r = run("graph", *SEED, "--render", str(out))
    assert r.code == 0 and r.out == "" and out.stat().st_size > 1000


def test_render_without_dot_says_how_to_install_it(run, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    r = run("graph", *SEED, "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and "apt-get install graphviz" in r.err


def test_render_needs_a_known_suffix(run, tmp_path):
    r = run("graph", *SEED, "--render", str(tmp_path / "g.txt"))
    assert r.code == 2 and ".svg, .png or .pdf" in r.err


def test_mermaid(run):
    text = run("graph", *SEED, "--format", "mermaid").out
    lines = text.strip().splitlines()
    assert lines[0] == "flowchart LR"
    assert '  n4["v = x*y<br/>6<br/>∂f/∂v = 4"]' in lines and "  n1 -->|8| n4" in lines


def test_graph_errors(run):
    assert run("graph", "x*/y").code == 2
    assert run("graph", "log(x)", "-v", "x=-1").code == 3
