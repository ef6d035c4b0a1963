"""What each command's --format names: one table per command, format → the function that writes it. The
tables' keys are the --format choices, in the order --help lists them (the first is the default), so a
new format is one entry in the table of each command that has it.

Writers of one point (grad, eval) take (result, fmt, explanations); of a descent (step), (run, fmt); of a
graph, (graph, result), where result is None without -v. Rows (CSV, TSV, JSON Lines) stream as they are
computed and are flushed at least every PACE.
"""

from __future__ import annotations

import sys
import time

from bpcli.cli.actions import echo, shown, warn
from bpcli.points import ROW_FORMATS


def write_point(result, fmt: str, explanations=None) -> None:
    """One point as a batch row: `value` and d_<name> (bpcli eval: `value` alone). As in a batch, inputs
    given with -v are constants and are not repeated (only inputs that vary from row to row are); CSV/TSV
    add a header line. A row has no place for `explanations` (grad refuses --explain with a row format)."""
    from bpcli.points.writers import Writer

    gradient = getattr(result, "gradient", {})
    writer = Writer(sys.stdout, fmt, [], list(gradient))
    writer.row([], result.value, gradient.values())
    writer.flush()


def _point_json(result, fmt: str, explanations=None) -> None:
    import gc

    from bpcli.views.export import json_pieces

    # The pieces are made of many short-lived lists and tuples and no cycles; the collector's passes over a
    # 10⁶-node graph meanwhile would cost a tenth of the writing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        write_pieces(json_pieces(result, explanations))
    finally:
        if was_enabled:
            gc.enable()


def _gradient_table(result, fmt: str, explanations=None) -> None:
    from bpcli.views import tables

    with shown():
        tables.show(tables.gradients(result, explanations))


def _evaluation_table(result, fmt: str, explanations=None) -> None:
    from bpcli.views import tables

    with shown():
        tables.show(tables.evaluation(result))


GRAD = {"table": _gradient_table, "json": _point_json, **dict.fromkeys(ROW_FORMATS, write_point)}
EVAL = {"table": _evaluation_table, "json": _point_json, **dict.fromkeys(ROW_FORMATS, write_point)}


def _derivatives_table(result, fmt: str, explanations=None) -> None:
    from bpcli.views import derivatives

    with shown():
        from bpcli.views import tables

        tables.show(derivatives.table(result))


def _derivatives_text(result, fmt: str, explanations=None) -> None:
    """plain and latex: text for another program (a shell, a slide), so what cancelled goes to stderr."""
    from bpcli.views import derivatives

    echo(derivatives.plain(result) if fmt == "plain" else derivatives.latex(result))
    note = derivatives.conditions_note(result)
    if note:
        warn(note)


def _derivatives_json(result, fmt: str, explanations=None) -> None:
    from bpcli.views import derivatives, export

    echo(export.document(derivatives.to_dict(result)))


DIFF = {"table": _derivatives_table, "plain": _derivatives_text, "json": _derivatives_json,
        "latex": _derivatives_text}


PACE = 0.1   # seconds: streamed output reaches its reader at least this often, with few writes


class _Pace:
    """Says when streamed output is due for a flush: once PACE has passed since the last one."""

    def __init__(self) -> None:
        self.due = time.monotonic() + PACE

    def now(self) -> bool:
        if time.monotonic() < self.due:
            return False
        self.due = time.monotonic() + PACE
        return True


def write_steps(run, fmt: str) -> None:
    """Gradient descent as rows, one per step as it is computed: step, f, loss, each trained variable,
    d_<name> of the loss."""
    from bpcli.points.writers import Rows

    rows = Rows(sys.stdout, fmt, ["step", "f", "loss", *run.wrt, *(f"d_{name}" for name in run.wrt)])
    pace = _Pace()
    for state in run:
        rows.cells([state.step, state.f, state.loss, *state.values.values(), *state.gradient.values()])
        if len(rows.buffer) >= 4096 or pace.now():
            rows.flush()
    rows.flush()


def write_pieces(pieces) -> None:
    """Text made piece by piece (a streamed JSON document), written as it comes and flushed every PACE."""
    pace = _Pace()
    for piece in pieces:
        sys.stdout.write(piece)
        if pace.now():
            sys.stdout.flush()
    sys.stdout.write("\n")
    sys.stdout.flush()


def _descent_json(run, fmt: str) -> None:
    from bpcli.views.export import descent_json

    write_pieces(descent_json(run))


def _descent_table(run, fmt: str) -> None:
    """The first and last steps as a table, then the new values as a -v argument, always the last line."""
    from bpcli.points import descent
    from bpcli.views import tables

    ends = descent.ends(run, tables.MAX_ROWS // 2)
    with shown():
        tables.show(tables.descent(run, ends))
    if run.final:
        echo(",".join(f"{name}={value!r}" for name, value in run.final.items()))


STEP = {"table": _descent_table, "json": _descent_json, **dict.fromkeys(ROW_FORMATS, write_steps)}


def _tree(graph, result) -> None:
    from bpcli.views import tables

    with shown():
        tables.show(tables.tree(graph, result))


def _dot(graph, result) -> None:
    from bpcli.views import export

    with shown():
        text = export.dot(graph, result)
    echo(text)


def _mermaid(graph, result) -> None:
    from bpcli.views import export

    with shown():
        text = export.mermaid(graph, result)
    echo(text)


def render(graph, result, path: str) -> None:
    """The graph drawn into `path` by Graphviz's dot (--render), whatever --format says."""
    from bpcli.views import export

    with shown():
        text = export.dot(graph, result)
    export.render_with_dot(text, path, len(graph.nodes))


GRAPH = {"tree": _tree, "dot": _dot, "mermaid": _mermaid}

