"""Rich renderables for people: the lecture's slides as tables. With render_explain (the chain rule written
out) and render_progress (the batch's progress bar), the only modules that import rich.

Every function returns renderables and computes nothing; user text goes in as `Text`, never as markup.
"""

from __future__ import annotations

import io
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bpcli.core.graph import CONST, INPUT
from bpcli.numfmt import digits_apart, fmt, operand
from bpcli.api import Evaluation, Gradients
from bpcli.views.explain_table import SUBSCRIPT

if TYPE_CHECKING:  # the check is imported only when asked for (start-up time)
    from bpcli.check.gradcheck import Report

MAX_ROWS = 200  # longer tables show their first and last rows; --format json has every row


def show(renderable: RenderableType) -> None:
    """Print to stdout with a Console made now, so NO_COLOR, pipes and test runners are honoured.

    A pipe or file gets plain text with no trailing blanks, as wide as the terminal the command was typed
    at ($COLUMNS, else the terminal on stderr or stdin), else 80 columns; so does a terminal when NO_COLOR
    is set (no colour, and no bold or dim either).
    """
    # emoji=False: no text here is an emoji code (user text goes in as Text), and replacing them would load
    # Rich's table of emoji names on every run, a tenth of the tables' start-up
    console = Console(highlight=False, emoji=False)
    if console.is_terminal and "NO_COLOR" not in os.environ:
        console.print(renderable)
        return
    width = console.width if console.is_terminal else _columns()
    buffer = io.StringIO()
    plain = Console(file=buffer, width=width, color_system=None, highlight=False, emoji=False)
    plain.print(renderable)
    sys.stdout.write("\n".join(line.rstrip() for line in buffer.getvalue().split("\n")))


def _columns() -> int:
    """$COLUMNS when it is a sensible width, else the width of a terminal on stderr or stdin, else 80."""
    text = os.environ.get("COLUMNS", "")
    if text.isdigit() and 20 <= int(text) <= 10_000:
        return int(text)
    for stream in (sys.stderr, sys.stdin):
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            continue
    return 80


def evaluation(result: Evaluation) -> RenderableType:
    """`bpcli eval`: the forward pass and the value."""
    return Group(_forward(result), _summary(result))


def gradients(result: Gradients, explanations=None) -> RenderableType:
    """`bpcli grad`: forward pass, backward pass, the gradient, the Hessian, the chain rule and the checks if
    asked."""
    parts = [_forward(result), _backward(result), _gradient(result)]
    if result.hessian is not None:
        from bpcli.views import hessian_table

        parts.append(hessian_table.hessian(result))
    if explanations is not None:
        from bpcli.views.explain_table import explain

        parts.append(explain(explanations, result.graph))
    if result.check is not None:
        parts += [Text("")] if explanations is not None else []  # the chain rule ends without a blank line
        parts.append(_check(result))
    if result.hessian_check is not None:
        from bpcli.views import hessian_table

        parts += [Text(""), hessian_table.check(result)]
    return Group(*parts)


def descent(run, ends) -> RenderableType:
    """`bpcli step`: one row per step (f, the loss when it is not f, the trained variables), then how it
    ended. `ends` (descent.Ends) holds the first and last steps, all a long table shows."""
    out = "f"
    loss = [] if run.target is None else ["loss"]
    title = f"loss = ½({out} − {fmt(run.target)})²" if loss else f"loss = {out}"
    table = _table(f"Gradient descent (lr = {fmt(run.lr)}, {title})", "step", out, *loss, "values",
                   right=("step", out, "loss"))
    rows = [(str(s.step), fmt(s.f), *([fmt(s.loss)] if loss else []),
             " ".join(f"{n}={fmt(v)}" for n, v in s.values.items())) for s in (*ends.head, *ends.tail)]
    ending = Text(run.diverged, style="bold red") if run.diverged else Text(
        f"new values after {ends.count - 1} step(s), as -v:", style="bold")
    if run.diverged and run.final:
        ending.append("\nthe last values where the loss was finite, as -v:", style="bold")
    if not rows:  # diverged before the first step: a table of no rows says nothing
        return ending
    return Group(_rows(table, rows, 3 + len(loss), ends.count), ending)


def tree(graph, result=None) -> RenderableType:
    """The graph as a tree from the output down; a shared node is expanded once, at its first line, and marked
    at the others. A node that gets gradient along several edges (x in x*x + sin(x)) shows at each of its lines
    ∂f/∂x along that use (upstream·local = product, as the backward pass), and at the first also the total.
    It indents 4 columns a level and stops where that leaves too little room (--format dot draws any depth)."""
    room = 32 if result is None else 48  # for the deepest label: a definition, then its value and gradient
    return _AtWidth(lambda width: _tree(graph, result, max(4, (width - room) // 4)))


def _tree(graph, result, max_depth: int) -> RenderableType:
    from rich.tree import Tree

    uses = _Uses.of(graph, result)
    root = Tree(_tree_label(graph, result, graph.output))
    seen = {graph.output}
    stack = _children(graph, graph.output, root, 0)
    while stack:   # each line is made as it is popped, so "first" is the first line on the screen
        parent, k, branch, depth = stack.pop()
        a = graph.nodes[parent].args[k]
        label = _tree_label(graph, result, a, uses.note(parent, k, a))
        if a in seen and graph.nodes[a].is_gate:
            branch.add(label.append("  (shared: see above)", style="dim"))
            continue
        seen.add(a)
        child = branch.add(label)
        if depth + 1 >= max_depth and graph.nodes[a].args:
            child.add(Text("… (deeper: see --format dot)", style="dim"))
        else:
            stack += _children(graph, a, child, depth + 1)
    return root


def _children(graph, i: int, branch, depth: int) -> list[tuple]:
    """Stack entries for node i's arguments, the first on top."""
    return [(i, k, branch, depth) for k in range(len(graph.nodes[i].args) - 1, -1, -1)]


class _Uses:
    """The edges into nodes that get gradient along more than one edge, by (gate, argument), and which of those
    nodes have shown their total already."""

    def __init__(self, graph, grads: list[float], edges: dict, count: list[int]) -> None:
        self.graph, self.grads, self.edges, self.count = graph, grads, edges, count
        self.totalled: set[int] = set()

    @classmethod
    def of(cls, graph, result) -> "_Uses":
        if result is None or result.backward is None:
            return cls(graph, [], {}, [])
        count = [0] * len(graph.nodes)   # a list, not a Counter: a graph may have 10⁶ nodes
        for e in result.backward.edges:
            count[e.to] += 1
        edges = {(e.node, e.arg): e for e in result.backward.edges if count[e.to] > 1}
        return cls(graph, result.backward.grads, edges, count)

    def note(self, parent: int, k: int, i: int) -> Text | None:
        """`∂f/∂x along this use = 1·1 = 1`, and `(total ∂f/∂x = 2.54 over 3 uses)` the first time; None for
        a node with a single use, whose ∂f/∂node says it all."""
        e = self.edges.get((parent, k))
        if e is None:
            return None
        d = f"∂{self.graph.output_name}/∂{self.graph.nodes[i].name}"
        text = Text(f"  {d} along this use = {operand(e.upstream)}·{operand(e.local)} = {fmt(e.product)}",
                    style="red")
        if i not in self.totalled:
            self.totalled.add(i)
            text.append(f"  (total {d} = {fmt(self.grads[i])} over {self.count[i]} uses)", style="bold red")
        return text


def _tree_label(graph, result, i: int, use: Text | None = None) -> Text:
    """A node's name (and definition), its value, and ∂f/∂node; for one of several uses, `use` instead."""
    node = graph.nodes[i]
    text = Text(f"{node.name} = {graph.definition(i)}" if node.is_gate else node.name, style="bold")
    if result is not None and node.op != CONST:
        text.append(f"  {fmt(result.values[i])}")
        if use is not None:
            text.append_text(use)
        elif result.backward is not None and result.backward.needed[i]:
            text.append(f"  ∂{graph.output_name}/∂{node.name} = {fmt(result.backward.grads[i])}", style="red")
    return text


class _AtWidth:
    """A renderable made when the width it is drawn at is known: `build(width)`."""

    def __init__(self, build) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options):
        yield self.build(options.max_width)


class Fitted:
    """The first of several layouts, widest first, whose natural width fits the width it is drawn at; the
    last one otherwise. So a table gives up columns or stacks its cells on purpose on a narrow terminal
    instead of letting Rich fold its rows and cut its numbers and headers with `…`."""

    def __init__(self, *layouts: RenderableType) -> None:
        self.layouts = layouts

    def __rich_console__(self, console: Console, options):
        from rich.measure import Measurement

        unbounded = options.update(max_width=10_000)
        for layout in self.layouts[:-1]:
            if Measurement.get(console, unbounded, layout).maximum <= options.max_width:
                yield layout
                return
        yield self.layouts[-1]


def _table(title: str, *columns: str, right: tuple[str, ...] = ()) -> Table:
    # Rich wraps a title at the table's width: a title wider than its table goes on past it instead
    table = Table(title=Text(title, style="bold", no_wrap=True, overflow="ignore"), title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left")
    return table


def _rows(table: Table, rows: list[tuple], width: int, count: int | None = None) -> Table:
    """Add rows, eliding the middle of a very long table. `count`: how many rows the whole table has, when
    `rows` holds only its first and last MAX_ROWS // 2."""
    count = len(rows) if count is None else count
    if count > MAX_ROWS:
        half = MAX_ROWS // 2
        skipped = count - 2 * half
        rows = rows[:half] + [(Text("⋮", style="dim"),) + ("",) * (width - 1)] + rows[-half:]
        # said under the table, not in a cell: a cell would widen its column for every row
        table.caption = Text(f"(⋮ {skipped} {'row' if skipped == 1 else 'rows'} not shown: --format json has "
                             "every row)", style="dim", no_wrap=True, overflow="ignore")
        table.caption_justify = "left"
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


def _forward(result: Evaluation) -> Table:
    graph = result.graph
    table = _table("Forward pass", "node", "gate", "value", right=("value",))
    rows = []
    for i, node in enumerate(graph.nodes):  # a constant shows in the formulas that use it, not in a row
        if node.op != CONST or i == graph.output:
            gate = Text("input", style="dim") if node.op == INPUT else graph.definition(i)
            rows.append((node.name, gate, fmt(result.values[i])))
    return _rows(table, rows, 3)


def _backward(result: Gradients) -> RenderableType:
    """One row per edge, upstream × local = product; on a narrow terminal each row takes two lines."""
    graph, out = result.graph, result.graph.output_name
    reached: set[int] = set()
    repeated: dict[int, set[int]] = {}   # gate → the arguments it takes more than once
    assert result.backward is not None   # grad always runs the backward pass
    edges = []
    for e in result.backward.edges:
        node, to = graph.nodes[e.node].name, graph.nodes[e.to].name
        sign = "+=" if e.to in reached else "="
        reached.add(e.to)
        if e.node not in repeated:  # per gate, once: counting per edge is n² for max of n arguments
            repeated[e.node] = {a for a, n in Counter(graph.nodes[e.node].args).items() if n > 1}
        place = str(e.arg + 1).translate(SUBSCRIPT) if e.to in repeated[e.node] else ""  # x*x: ∂v/∂x₁, ∂v/∂x₂
        edges.append((f"∂{out}/∂{to} {sign}", f"∂{out}/∂{node} · ∂{node}/∂{to}{place}", fmt(e.upstream),
                      graph.local_formula(e.node, e.arg), fmt(e.local), fmt(e.product)))
    layouts = []
    for joint, local_joint in ((" ", " "), ("\n  ", "\n")):
        table = _table(f"Backward pass (seed ∂{out}/∂{out} = 1)", "chain rule", "upstream", "× local", "= product",
                       right=("upstream", "= product"))
        rows = [(lhs + joint + chain, upstream, _local(formula, local, local_joint), product)
                for lhs, chain, upstream, formula, local, product in edges]
        layouts.append(_rows(table, rows, 4))
    return Fitted(*layouts)


def _local(formula: str, value: str, joint: str = " ") -> str:
    """`y = 2`, or just `1` where the local gradient is a constant of the gate."""
    return formula if formula == value else f"{formula}{joint}= {value}"


def _gradient(result: Gradients) -> Table:
    out = result.graph.output_name
    table = _table(f"Gradient of {out}", "input", "value", f"∂{out}/∂input",
                   right=("value", f"∂{out}/∂input"))
    rows: list[tuple[str | Text, str, str]] = [(name, fmt(result.inputs[name]), fmt(g))
                                               for name, g in result.gradient.items()]
    if not rows:
        rows = [(Text("(no variables: the gradient is empty)", style="dim"), "", "")]
    return _rows(table, rows, 3)


def _summary(result: Evaluation) -> Text:
    return Text(f"{result.graph.output_name} = {fmt(result.value)}", style="bold")


# The check's columns, and the order in which a narrow terminal gives them up (the first goes first).
_SPARE = ("abs err", "h", "x", "f(x+h)")


def _check(result: Gradients) -> RenderableType:
    check, out = result.check, result.graph.output_name
    assert check is not None   # shown only when the check ran
    forward = check.method == "forward"
    kinks = any(row.kink for row in check.rows)
    columns = ["input", "x", "h"] + ([f"{out}(x+h)"] if forward else []) + \
        ["backprop", "numeric", "abs err", "rel err", "verdict"] + (["kink: left / right slope"] if kinks else [])
    title = {"forward": "forward difference", "central": "central difference", "complex": "complex step"}
    # f(x+h) with the digits it takes to differ from f(x); f(x) is the same for every input: said once
    apart = max((digits_apart(r.f_plus, r.f_x) for r in check.rows if r.f_plus is not None), default=None)
    rows = [_check_row(row, apart if forward else None, kinks) for row in check.rows]
    notes = []
    if forward and check.rows:
        notes.append(Text(f"{out}(x) = {fmt(check.rows[0].f_x, apart)} at the point; "
                          f"numeric = ({out}(x+h) − {out}(x))/h"))
    layouts = []
    spare = [c for c in columns if c in _SPARE or c == f"{out}(x+h)"]
    spare.sort(key=lambda c: _SPARE.index(c if c in _SPARE else "f(x+h)"))
    for k in range(len(spare) + 1):
        keep = [i for i, c in enumerate(columns) if c not in spare[:k]]
        table = _table(f"Perturbation check ({title[check.method]})", *(columns[i] for i in keep),
                       right=tuple(c for c in columns if c not in ("input", "verdict")))
        note = [Text(f"(hidden at this width: {', '.join(sorted(spare[:k], key=columns.index))})", style="dim")
                ] if k else []
        layouts.append(Group(_rows(table, [tuple(row[i] for i in keep) for row in rows], len(keep)), *note))
    return Group(Fitted(*layouts), *notes, _verdict(check))


def _check_row(row, forward: int | None, kinks: bool) -> tuple:
    """A row of the check; `forward`, for the forward method, is the digits f(x+h) is shown with."""
    maybe = lambda v, spec="": "—" if v is None else (format(v, spec) if spec else fmt(v))  # noqa: E731
    verdict = Text(row.verdict, style={"ok": "green", "unchecked": "yellow"}.get(row.verdict, "bold red"))
    cells = [row.name, fmt(row.x), f"{row.step:.3g}"]
    if forward is not None:
        cells.append("—" if row.f_plus is None else fmt(row.f_plus, forward))
    return tuple(cells + [fmt(row.analytic), maybe(row.numeric), maybe(row.abs_error, ".1e"),
                          maybe(row.rel_error, ".1e"), verdict]
                 + ([f"{fmt(row.left)} / {fmt(row.right)}" if row.kink else ""] if kinks else []))


def _verdict(check: Report) -> Text:
    rows = check.rows
    bad = [r.name for r in rows if r.verdict == "mismatch"]
    if bad:
        return Text(f"mismatch: backprop disagrees with the perturbation for {', '.join(bad)}", style="bold red")
    unchecked = [r.name for r in rows if r.verdict == "unchecked"]
    why = (f"not checked: {', '.join(unchecked)} (no step gave a numeric slope to trust: f is undefined on a "
           "side, or too flat, too steep or too noisy at every step the check can use)")
    if len(unchecked) == len(rows):
        return Text(why, style="yellow")
    text = Text(f"ok: backprop agrees with the perturbation for {len(rows) - len(unchecked)} of {len(rows)} "
                "inputs", style="bold green")
    if unchecked:
        text.append("; " + why, style="yellow")
    return text
