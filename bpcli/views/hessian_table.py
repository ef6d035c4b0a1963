"""`bpcli grad --order 2` for people: the Hessian as a matrix (or, where that is too wide, one entry per
line), and its perturbation check. Part of the views, with tables.py, whose table helpers it uses."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from bpcli.check.hessian import Report, entry
from bpcli.errors import listed
from bpcli.numfmt import fmt
from bpcli.views.tables import Fitted, _rows, _table


def hessian(result) -> RenderableType:
    """The matrix ∂²f/∂row∂column; on a terminal too narrow for it, its upper triangle one entry a line."""
    out, h = result.graph.output_name, result.hessian
    names = list(h)
    title = f"Hessian of {out}"
    if not names:
        return _rows(_table(title, "input"), [(Text("(no variables: the Hessian is empty)", style="dim"),)], 1)
    matrix = _table(title, "", *names, right=tuple(names))
    _rows(matrix, [(x, *(fmt(h[x][y]) for y in names)) for x in names], len(names) + 1)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i:]]
    lines = _table(title, "entry", "value", right=("value",))
    _rows(lines, [(entry(out, x, y), fmt(h[x][y])) for x, y in pairs], 2)
    symmetric = [Text(f"(symmetric: ∂²{out}/∂y∂x = ∂²{out}/∂x∂y)", style="dim")] if len(names) > 1 else []
    return Fitted(matrix, Group(lines, *symmetric, *([Text("")] if symmetric else [])))


# The columns, and the order in which a narrow terminal gives them up (the first goes first).
_SPARE = ("abs err", "h", "y", "rel err")


def check(result) -> RenderableType:
    """Each entry beside the central difference of backprop's gradient, as the gradient's check is shown."""
    report: Report = result.hessian_check
    out = result.graph.output_name
    columns = ["entry", "y", "h", "hessian", "numeric", "abs err", "rel err", "verdict"]
    rows = [_row(out, row) for row in report.rows]
    layouts = []
    for k in range(len(_SPARE) + 1):
        keep = [i for i, c in enumerate(columns) if c not in _SPARE[:k]]
        table = _table("Perturbation check of the Hessian", *(columns[i] for i in keep),
                       right=tuple(c for c in columns if c not in ("entry", "verdict")))
        note = [Text(f"(hidden at this width: {', '.join(sorted(_SPARE[:k], key=columns.index))})", style="dim")
                ] if k else []
        layouts.append(Group(_rows(table, [tuple(row[i] for i in keep) for row in rows], len(keep)), *note))
    how = Text(f"numeric for ∂²{out}/∂x∂y = (∂{out}/∂x at y+h − ∂{out}/∂x at y−h)/2h")
    return Group(Fitted(*layouts), how, _verdict(report, out))


def _row(out: str, row) -> tuple:
    maybe = lambda v, spec="": "—" if v is None else (format(v, spec) if spec else fmt(v))  # noqa: E731
    verdict = Text(row.verdict, style={"ok": "green", "unchecked": "yellow"}.get(row.verdict, "bold red"))
    return (entry(out, row.of, row.by), fmt(row.at), f"{row.step:.3g}", fmt(row.analytic),
            maybe(row.numeric), maybe(row.abs_error, ".1e"), maybe(row.rel_error, ".1e"), verdict)


def _verdict(report: Report, out: str) -> Text:
    rows = report.rows
    bad = [entry(out, r.of, r.by) for r in rows if r.verdict == "mismatch"]
    if bad:
        return Text(f"mismatch: the Hessian disagrees with the perturbation of the gradient for {listed(bad)}",
                    style="bold red")
    unchecked = [entry(out, r.of, r.by) for r in rows if r.verdict == "unchecked"]
    why = (f"not checked: {listed(unchecked)} (no step gave a numeric slope of the gradient to trust: it is "
           "undefined or jumps at a kink on a side, or too flat, too steep or too noisy at every step)")
    if len(unchecked) == len(rows):
        return Text(why, style="yellow")
    text = Text(f"ok: the Hessian agrees with the perturbation of the gradient for {len(rows) - len(unchecked)} "
                f"of {len(rows)} entries", style="bold green")
    if unchecked:
        text.append("; " + why, style="yellow")
    return text
