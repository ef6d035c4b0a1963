"""bpcli in a notebook: results show as the lecture's tables (HTML), a graph as inline SVG (or the text tree
without dot), and examples/lecture.ipynb runs end to end in a real kernel (nbclient)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bpcli

ROOT = Path(__file__).resolve().parent.parent


def test_results_show_as_the_commands_tables():
    r = bpcli.grad("(w+x*y)*z", w=5, x=3, y=2, z=4)
    html = r._repr_html_()
    assert html.startswith("<pre") and "Forward pass" in html and "Backward pass" in html and "∂f/∂x" in html
    assert "Gradient of f" in str(r) and "<" not in str(r)
    assert "Derivatives of f" in bpcli.diff("x^2*sin(x)")._repr_html_()
    assert "Forward pass" in bpcli.eval("sin(x)", x=1)._repr_html_()
    assert r.value == 44.0 and r.gradient["x"] == 8.0   # still the API's result


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_graph_is_inline_svg():
    svg = bpcli.graph("(w+x*y)*z", w=5, x=3, y=2, z=4)._repr_svg_()
    assert svg is not None and "<svg" in svg and "∂f/∂x" in svg.replace("&#8706;", "∂")


def test_without_dot_a_graph_is_the_text_tree(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    view = bpcli.graph("(w+x*y)*z")
    assert view._repr_svg_() is None
    assert "f = u*z" in view._repr_html_() and str(view).startswith("f = u*z")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_the_example_notebook_runs_and_shows_tables_and_svg():
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed: pip install '.[notebook]'")
    nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed")
    notebook = nbformat.read(ROOT / "examples" / "lecture.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    data = [out.get("data", {}) for out in outputs]
    assert "Backward pass" in data[0]["text/html"] and "ok: backprop agrees" in data[0]["text/html"]
    assert "<svg" in data[1]["image/svg+xml"]
    assert "x^2*cos(x) + 2*x*sin(x)" in data[2]["text/html"]
