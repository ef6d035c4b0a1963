"""Results as a Jupyter notebook shows them: the lecture's tables as HTML (Rich's own export, styles
inline), a graph as SVG drawn by Graphviz's dot, or as the text tree where dot is missing."""

from __future__ import annotations

import io
import shutil
import subprocess

from rich.console import Console, RenderableType

from bpcli.views import export

WIDTH = 100   # characters: a notebook cell is wider than a terminal


def html(renderable: RenderableType) -> str:
    """A renderable as one HTML <pre> block, its colours inline."""
    console = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      force_jupyter=False)
    console.print(renderable)
    return console.export_html(inline_styles=True, code_format='<pre style="font-family: monospace; '
                               'line-height: 1.2">{code}</pre>')


def text(renderable: RenderableType) -> str:
    """A renderable as plain text (what a notebook shows without HTML, and print() shows)."""
    console = Console(width=WIDTH, file=io.StringIO(), color_system=None, force_jupyter=False)
    with console.capture() as captured:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def svg(graph, result=None) -> str | None:
    """The graph drawn by dot as SVG text; None where dot is not installed, fails, or the graph is too large
    to draw in reasonable time (the notebook then shows the text tree)."""
    exe = shutil.which("dot")
    if exe is None or len(graph.nodes) > export.MAX_RENDER_NODES:
        return None
    try:
        done = subprocess.run([exe, "-Tsvg"], input=export.dot(graph, result).encode("utf-8"), capture_output=True,
                              timeout=export.DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8") if done.returncode == 0 and done.stdout else None
