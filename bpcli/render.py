"""Rich renderables for people: the lecture's slides as tables. The only module that imports rich.

Every function returns renderables and computes nothing; user text goes in as `Text`, never as markup.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bpcli.graph import CONST, INPUT
from bpcli.numfmt import fmt
from bpcli.pipeline import Evaluation, Gradients

MAX_ROWS = 200  # longer tables show their first and last rows; --format json has every row


def show(renderable: RenderableType) -> None:
    """Print to stdout with a Console made now, so NO_COLOR, pipes and test runners are honoured.

    A pipe or file gets plain text with no trailing blanks, at a width that does not squeeze the tables;
    so does a terminal when NO_COLOR is set (no colour, and no bold or dim either).
    """
    console = Console(highlight=False)
    if console.is_terminal and "NO_COLOR" not in os.environ:
        console.print(renderable)
        return
    width = console.width if console.is_terminal else _columns() or 160
    plain = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    plain.print(renderable)
    sys.stdout.write("\n".join(line.rstrip() for line in plain.file.getvalue().split("\n")))


def _columns() -> int | None:
    """$COLUMNS when it is a sensible width, else None."""
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isdigit() and 20 <= int(text) <= 10_000 else None


def evaluation(result: Evaluation) -> RenderableType:
    """`bpcli eval`: the forward pass and the value."""
    return Group(_forward(result), _summary(result))


def gradients(result: Gradients, explanations=None) -> RenderableType:
    """`bpcli grad`: forward pass, backward pass, the gradient, the chain rule and the check if asked."""
    parts = [_forward(result), _backward(result), _gradient(result)]
    if explanations is not None:
        parts.append(_explain(explanations, result.graph.output_name))
    if result.check is not None:
        parts += [Text("")] if explanations is not None else []  # the chain rule ends without a blank line
        parts.append(_check(result))
    return Group(*parts)


def descent(run) -> RenderableType:
    """`bpcli step`: one row per step (f, the loss, the trained variables), then how it ended."""
    loss = "f" if run.target is None else f"½(f − {fmt(run.target)})²"
    table = _table(f"Gradient descent (lr = {fmt(run.lr)}, loss = {loss})", "step", "f", "loss", "values",
                   right=("step", "f", "loss"))
    rows = [(str(s.step), fmt(s.f), fmt(s.loss), " ".join(f"{n}={fmt(v)}" for n, v in s.values.items()))
            for s in run.steps]
    ending = Text(run.diverged, style="bold red") if run.diverged else Text(
        f"new values after {len(run.steps) - 1} step(s), as -v:", style="bold")
    return Group(_rows(table, rows, 4), ending)


MAX_DEPTH = 24  # the tree view stops here (it indents 4 columns a level); --format dot draws any depth


def tree(graph, result=None) -> RenderableType:
    """The graph as a tree from the output down; a shared node is expanded once and later marked ↑."""
    from rich.tree import Tree

    root = Tree(_tree_label(graph, result, graph.output))
    seen = {graph.output}
    stack = [(graph.output, root, 0)]
    while stack:
        i, branch, depth = stack.pop()
        children = graph.nodes[i].args
        if depth >= MAX_DEPTH and children:
            branch.add(Text("… (deeper: --format dot draws all)", style="dim"))
            continue
        expand = []
        for a in children:
            label = _tree_label(graph, result, a)
            if a in seen and graph.nodes[a].is_gate:
                label.append("  (shared: expanded once)", style="dim")
                branch.add(label)
                continue
            seen.add(a)
            expand.append((a, branch.add(label), depth + 1))
        stack.extend(reversed(expand))
    return root


def _tree_label(graph, result, i: int) -> Text:
    node = graph.nodes[i]
    text = Text(f"{node.name} = {graph.definition(i)}" if node.is_gate else node.name, style="bold")
    if result is not None and node.op != CONST:
        text.append(f"  {fmt(result.values[i])}")
        if result.backward is not None and result.backward.needed[i]:
            text.append(f"  ∂{graph.output_name}/∂{node.name} = {fmt(result.backward.grads[i])}", style="red")
    return text


class Meter:
    """Progress on stderr for long work: nothing during the first `delay` seconds, then a bar when the
    total is known (bytes of a file, points of a grid) or a running count when it is not (a pipe).

    The bar never touches stdout (Rich's Progress redirects stdout by default, which would send the
    results of `bpcli … > out.csv` to the screen), and it is cleared when the work ends.
    """

    def __init__(self, unit: str, total: int | None, console: Console | None = None, delay: float = 1.0) -> None:
        self.unit, self.total, self.delay = unit, total, delay
        self.console = console or Console(stderr=True)
        self.done = 0
        self.started = time.monotonic()
        self.bar = None

    def advance(self, n: int, total: int | None = None) -> None:
        """Count `n` more bytes or points (of `total`, when the caller knows it only now); show the bar
        once the work has taken longer than the delay."""
        self.done += n
        self.total = total or self.total
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self.bar = self._start()
        self.bar.update(self.task, completed=self.done)

    def _start(self):
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        count = TextColumn("{task.fields[count]}")
        what = "rows" if self.unit == "bytes" else "grid"
        columns = ([what, BarColumn(), TaskProgressColumn(), count, TimeRemainingColumn()] if self.total
                   else [what, count, TimeElapsedColumn()])
        bar = Progress(*columns, console=self.console, transient=True, redirect_stdout=False,
                       redirect_stderr=False)
        self.task = bar.add_task("batch", total=self.total or None, count=_Count(self))
        bar.start()
        return bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class _Count:
    """The progress line's count, in the meter's unit: `3.2 MB of 12.0 MB`, `45,000 of 100,000 points`."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def __str__(self) -> str:
        m = self.meter
        if m.unit != "bytes":
            return f"{m.done:,} of {m.total:,} {m.unit}" if m.total else f"{m.done:,} {m.unit}"
        return f"{_bytes(m.done)} of {_bytes(m.total)}" if m.total else f"{_bytes(m.done)} read"


def _bytes(n: float) -> str:
    units = ("bytes", "kB", "MB", "GB")
    k = 0
    while n >= 1000 and k < len(units) - 1:
        n, k = n / 1000, k + 1
    return f"{n:.0f} bytes" if k == 0 else f"{n:.1f} {units[k]}"


class _Counting:
    """A binary stream that reports how many bytes were read."""

    def __init__(self, stream, advance) -> None:
        self.stream, self.advance = stream, advance

    def read1(self, size: int = -1) -> bytes:
        data = self.stream.read1(size)
        self.advance(len(data))
        return data


@contextlib.contextmanager
def progress(stream, total: int | None, console: Console | None = None, delay: float = 1.0):
    """`stream` wrapped so that reading it drives a Meter of bytes (total None: a pipe, size unknown)."""
    meter = Meter("bytes", total, console, delay)
    try:
        yield _Counting(stream, meter.advance)
    finally:
        meter.close()


def _table(title: str, *columns: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, title_style="bold", pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left")
    return table


def _rows(table: Table, rows: list[tuple], width: int) -> Table:
    """Add rows, eliding the middle of a very long table."""
    if len(rows) > MAX_ROWS:
        half = MAX_ROWS // 2
        skipped = len(rows) - 2 * half
        rows = rows[:half] + [(Text(f"… {skipped} more rows (--format json shows all)", style="dim"),)
                              + ("",) * (width - 1)] + rows[-half:]
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


def _forward(result: Evaluation) -> Table:
    graph = result.graph
    table = _table("Forward pass", "node", "gate", "value", right=("value",))
    rows = []
    for i, node in enumerate(graph.nodes):
        gate = {INPUT: Text("input", style="dim"), CONST: Text("constant", style="dim")}.get(node.op)
        rows.append((node.name, gate or graph.definition(i), fmt(result.values[i])))
    return _rows(table, rows, 3)


def _backward(result: Gradients) -> Table:
    graph, out = result.graph, result.graph.output_name
    table = _table(f"Backward pass (seed ∂{out}/∂{out} = 1)",
                   "chain rule", "upstream", "× local", "= product", right=("upstream", "= product"))
    reached: set[int] = set()
    rows = []
    for e in result.backward.edges:
        node, to = graph.nodes[e.node].name, graph.nodes[e.to].name
        sign = "+=" if e.to in reached else "="
        reached.add(e.to)
        rows.append((f"∂{out}/∂{to} {sign} ∂{out}/∂{node} · ∂{node}/∂{to}", fmt(e.upstream),
                     _local(graph.local_formula(e.node, e.arg), e.local), fmt(e.product)))
    return _rows(table, rows, 4)


def _local(formula: str, value: float) -> str:
    """`y = 2`, or just `1` where the local gradient is a constant of the gate."""
    return formula if formula == fmt(value) else f"{formula} = {fmt(value)}"


def _gradient(result: Gradients) -> Table:
    out = result.graph.output_name
    table = _table(f"Gradient of {out}", "input", "value", f"∂{out}/∂input",
                   right=("value", f"∂{out}/∂input"))
    rows = [(name, fmt(result.inputs[name]), fmt(g)) for name, g in result.gradient.items()]
    if not rows:
        rows = [(Text("(no variables: the gradient is empty)", style="dim"), "", "")]
    return _rows(table, rows, 3)


MAX_FACTORS = 8  # a longer chain shows its first and last links


def _explain(explanations, out: str) -> RenderableType:
    from bpcli.explain import MANY

    lines = [Text("Chain rule, path by path (--explain)", style="bold"), Text("")]
    for ex in explanations:
        terms = [_chain(t.chain, t.factors) for t in ex.terms]
        line = Text(f"∂{out}/∂{ex.name} = ")
        if terms and not (len(ex.terms) == 1 and len(ex.terms[0].factors) <= 1):  # ∂f/∂z = 11 says it all
            line.append(" + ".join(sym for sym, _ in terms) + " = " + " + ".join(num for _, num in terms) + " = ")
        line.append(fmt(ex.total), style="bold")
        lines.append(line)
        if ex.grouped:
            why = f"a path of {ex.links} links" if ex.paths == 1 else f"{ex.paths} paths" if ex.paths < MANY \
                else "at least 2^53 paths"
            lines.append(Text(f"  ({why}: grouped by the gates that use {ex.name})", style="dim"))
    return Group(*lines)


def _chain(chain: list[str], factors: list[float]) -> tuple[str, str]:
    """`∂f/∂u·∂u/∂v·∂v/∂x` and `4·1·2` for one path, eliding the middle of a long one."""
    links = [f"∂{a}/∂{b}" for a, b in zip(chain, chain[1:])] or ["1"]
    numbers = [fmt(v) for v in factors] or ["1"]
    if len(links) > MAX_FACTORS:
        cut = len(links) - MAX_FACTORS
        half = MAX_FACTORS // 2
        links = links[:half] + [f"…({cut} more)…"] + links[-half:]
        numbers = numbers[:half] + ["…"] + numbers[-half:]
    return "·".join(links), "·".join(numbers)


def _summary(result: Evaluation) -> Text:
    return Text(f"{result.graph.output_name} = {fmt(result.value)}", style="bold")


def _check(result: Gradients) -> RenderableType:
    check, out = result.check, result.graph.output_name
    forward = check.method == "forward"
    kinks = any(row.kink for row in check.rows)
    columns = ["input", "x", "h"] + ([f"{out}(x)", f"{out}(x+h)"] if forward else []) + \
        ["backprop", "numeric", "abs err", "rel err", "verdict"] + (["kink: left / right slope"] if kinks else [])
    table = _table(f"Perturbation check ({check.method} difference)" if check.method != "complex"
                   else "Perturbation check (complex step)", *columns,
                   right=tuple(c for c in columns if c not in ("input", "verdict")))
    rows = [_check_row(row, forward, kinks) for row in check.rows]
    return Group(_rows(table, rows, len(columns)), _verdict(result))


def _check_row(row, forward: bool, kinks: bool) -> tuple:
    maybe = lambda v, spec="": "—" if v is None else (format(v, spec) if spec else fmt(v))  # noqa: E731
    verdict = Text(row.verdict, style={"ok": "green", "unchecked": "yellow"}.get(row.verdict, "bold red"))
    cells = [row.name, fmt(row.x), f"{row.step:.3g}"]
    if forward:
        cells += [fmt(row.f_x), maybe(row.f_plus)]
    return tuple(cells + [fmt(row.analytic), maybe(row.numeric, ".10g"), maybe(row.abs_error, ".1e"),
                          maybe(row.rel_error, ".1e"), verdict]
                 + ([f"{row.left:.6g} / {row.right:.6g}" if row.kink else ""] if kinks else []))


def _verdict(result: Gradients) -> Text:
    rows = result.check.rows
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
