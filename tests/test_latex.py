"""`bpcli diff --format latex` is LaTeX that compiles: every line of its output, each in a display of its
own, in one document compiled by pdflatex (texlive-latex-base, which .ci/run installs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bpcli import api
from bpcli.views import derivatives

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")]

CASES = [
    ("x^2*sin(x)", {}),
    ("x^2*y^3", {"order": 2}),
    ("x^2*y^3", {"order": 2, "values": {"x": 1, "y": 2}}),
    ("sigmoid(w*x+b)", {"inline": 0}),
    ("sigmoid(w*x+b)", {"order": 2, "values": {"w": 0.5, "x": 1e-7, "b": 2}}),
    ("relu(x) + abs(y) + max(x, y, 1) - min(x, y)", {}),
    ("where(step(x), x^2, -x) + sign(x)*softplus(x)", {}),
    ("x^y + sqrt(x)/log(y) + exp(-x^2/2) + tan(x)*tanh(y) + cos(x)", {}),
    ("θ^2*a10 + lr_1*x1", {}),
    ("x^(1/3) + 0.1*x^2 + 1e-300*x + pi*e*x", {}),
]


@pytest.mark.parametrize("expression, settings", CASES)
def test_latex_compiles(expression, settings, tmp_path):
    result = api.diff(expression, **settings)
    lines = derivatives.latex(result).splitlines()
    body = "\n".join(rf"\[ {line} \]" for line in lines)
    (tmp_path / "d.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                                    f"{body}\n\\end{{document}}\n", encoding="utf-8")
    done = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "d.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, "\n".join(lines) + "\n" + done.stdout[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 0


def test_the_issue_example():
    assert derivatives.latex(api.diff("x^2*sin(x)")) == r"\frac{\partial f}{\partial x} = x^{2} \cos x + 2 x \sin x"
