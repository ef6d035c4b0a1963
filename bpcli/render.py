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
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from bpcli.graph import CONST, INPUT
from bpcli.numfmt import digits_apart, fmt
from bpcli.pipeline import Evaluation, Gradients

MAX_ROWS = 200  # longer tables show their first and last rows; --format json has every row


def show(renderable: RenderableType) -> None:
    """Print to stdout with a Console made now, so NO_COLOR, pipes and test runners are honoured.

    A pipe or file gets plain text with no trailing blanks, as wide as the terminal the command was typed
    at ($COLUMNS, else the terminal on stderr or stdin), else 80 columns; so does a terminal when NO_COLOR
    is set (no colour, and no bold or dim either).
    """
    console = Console(highlight=False)
    if console.is_terminal and "NO_COLOR" not in os.environ:
        console.print(renderable)
        return
    width = console.width if console.is_terminal else _columns()
    plain = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    plain.print(renderable)
    sys.stdout.write("\n".join(line.rstrip() for line in plain.file.getvalue().split("\n")))


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
    """`bpcli grad`: forward pass, backward pass, the gradient, the chain rule and the check if asked."""
    parts = [_forward(result), _backward(result), _gradient(result)]
    if explanations is not None:
        parts.append(_explain(explanations, result.graph))
    if result.check is not None:
        parts += [Text("")] if explanations is not None else []  # the chain rule ends without a blank line
        parts.append(_check(result))
    return Group(*parts)


def descent(run) -> RenderableType:
    """`bpcli step`: one row per step (f, the loss when it is not f, the trained variables), then how it
    ended."""
    out = "f"
    loss = [] if run.target is None else ["loss"]
    title = f"loss = ½({out} − {fmt(run.target)})²" if loss else f"loss = {out}"
    table = _table(f"Gradient descent (lr = {fmt(run.lr)}, {title})", "step", out, *loss, "values",
                   right=("step", out, "loss"))
    rows = [(str(s.step), fmt(s.f), *([fmt(s.loss)] if loss else []),
             " ".join(f"{n}={fmt(v)}" for n, v in s.values.items())) for s in run.steps]
    ending = Text(run.diverged, style="bold red") if run.diverged else Text(
        f"new values after {len(run.steps) - 1} step(s), as -v:", style="bold")
    return Group(_rows(table, rows, 3 + len(loss)), ending)


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
        self.graph, self.grads, self.edges, self.count, self.totalled = graph, grads, edges, count, set()

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
        text = Text(f"  {d} along this use = {_operand(e.upstream)}·{_operand(e.local)} = {fmt(e.product)}",
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
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, title_style="bold", pad_edge=False,
                  collapse_padding=True)
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
    for i, node in enumerate(graph.nodes):  # a constant shows in the formulas that use it, not in a row
        if node.op != CONST or i == graph.output:
            gate = Text("input", style="dim") if node.op == INPUT else graph.definition(i)
            rows.append((node.name, gate, fmt(result.values[i])))
    return _rows(table, rows, 3)


def _backward(result: Gradients) -> RenderableType:
    """One row per edge, upstream × local = product; on a narrow terminal each row takes two lines."""
    graph, out = result.graph, result.graph.output_name
    reached: set[int] = set()
    edges = []
    for e in result.backward.edges:
        node, to = graph.nodes[e.node].name, graph.nodes[e.to].name
        sign = "+=" if e.to in reached else "="
        reached.add(e.to)
        edges.append((f"∂{out}/∂{to} {sign}", f"∂{out}/∂{node} · ∂{node}/∂{to}", fmt(e.upstream),
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
    rows = [(name, fmt(result.inputs[name]), fmt(g)) for name, g in result.gradient.items()]
    if not rows:
        rows = [(Text("(no variables: the gradient is empty)", style="dim"), "", "")]
    return _rows(table, rows, 3)


MAX_FACTORS = 32  # links; a longer chain shows its first and last 16 (a listed path has up to 64)
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _explain(explanations, graph) -> RenderableType:
    """One equation per input, ∂f/∂x = links = locals (= each path's product) = total, and notes under it."""
    lines = [Text("Chain rule, path by path (--explain)", style="bold"), Text("")]
    gates = _gates_if_taken_twice(explanations, graph)
    for ex in explanations:
        lines.append(_equation(ex, graph.output_name))
        lines += _notes(ex, graph, gates)
    return Group(*lines)


def _equation(ex, out: str) -> "_Equation":
    head = f"∂{out}/∂{ex.name}"
    if not any(t.factors for t in ex.terms):  # no gate between: ∂x/∂x = 1, or an unused input's 0
        return _Equation(head, (), fmt(ex.total))
    chains = [_chain(t) for t in ex.terms]
    sides = [[links for links, _ in chains], [numbers for _, numbers in chains]]
    if len(ex.terms) > 1:  # the sum over paths, each path's product one term
        sides.append([[_operand(t.product)] for t in ex.terms])
    return _Equation(head, tuple(sides), fmt(ex.total))


def _chain(term) -> tuple[list[str], list[str]]:
    """The links `∂f/∂u`, `∂u/∂v`, `∂v/∂x` of one path and their locals `4`, `1`, `2`.

    A one-link path starts from the seed ∂f/∂f = 1, so that it too reads as a product. A link into a node
    that its gate takes more than once carries the argument's position (`∂v/∂x₁`, `∂v/∂x₂` for v = x*x).
    Past MAX_FACTORS links the middle is elided.
    """
    chain, places = term.chain, term.places or (0,) * len(term.factors)
    links = [f"∂{a}/∂{b}{str(p).translate(SUBSCRIPT) if p else ''}" for a, b, p in zip(chain, chain[1:], places)]
    numbers = [_operand(v) for v in term.factors]
    if len(links) == 1:
        links, numbers = [f"∂{chain[0]}/∂{chain[0]}"] + links, ["1"] + numbers
    if len(links) > MAX_FACTORS:
        half = MAX_FACTORS // 2
        links = links[:half] + [f"…({len(links) - 2 * half} more)…"] + links[-half:]
        numbers = numbers[:half] + ["…"] + numbers[-half:]
    return links, numbers


def _operand(x: float) -> str:
    """A number as a factor or a term: `(-0.434)` in brackets where negative, so `·` and `+` stay apart from `-`."""
    text = fmt(x)
    return f"({text})" if text.startswith("-") else text


def _notes(ex, graph, gates: dict[str, int]) -> list[RenderableType]:
    """Dim lines under an equation: why its paths are grouped, and what the subscripts of `∂v/∂x₁` mean."""
    from bpcli.explain import MANY

    notes = []
    if ex.grouped:
        why = f"a path of {ex.links} links" if ex.paths == 1 else f"{ex.paths} paths" if ex.paths < MANY \
            else "at least 2^53 paths"
        notes.append(f"({why}: grouped by the gates that use {ex.name})")
    notes += _use_notes(ex, graph, gates)
    return [Padding(Text(note, style="dim"), (0, 0, 0, 2), expand=False) for note in notes]  # wrapped: under itself


def _use_notes(ex, graph, gates: dict[str, int]) -> list[str]:
    """`(x₁, x₂: x as the 1st and 2nd argument of v = x*x)`, one line per meaning of the subscripts, naming at
    most three gates (x*x + x*x + … may have 10⁴ of them)."""
    same: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for (gate, node), places in _places(ex).items():
        same.setdefault((node, tuple(places)), []).append(gate)
    notes = []
    for (node, places), users in same.items():
        marked = ", ".join(node + str(p).translate(SUBSCRIPT) for p in places)
        where = " and ".join([", ".join(map(_ordinal, places[:-1])), _ordinal(places[-1])])
        named = [f"{gate} = {graph.definition(gates[gate])}" for gate in users[:3]]
        named += [f"{len(users) - 3} more"] if len(users) > 3 else []
        of = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        notes.append(f"({marked}: {node} as the {where} argument of {of})")
    return notes


def _places(ex) -> dict[tuple[str, str], list[int]]:
    """(gate, node) → the argument positions through which the paths reach node, where a gate takes it twice."""
    found: dict[tuple[str, str], set[int]] = {}
    for t in ex.terms:
        for a, b, p in zip(t.chain, t.chain[1:], t.places):
            if p:
                found.setdefault((a, b), set()).add(p)
    return {key: sorted(places) for key, places in found.items()}


def _gates_if_taken_twice(explanations, graph) -> dict[str, int]:
    """Gate names → indices, for the notes; empty (and no pass over the graph) when no gate takes a node twice."""
    if not any(p for ex in explanations for t in ex.terms for p in t.places):
        return {}
    return {node.name: i for i, node in enumerate(graph.nodes) if node.is_gate}


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class _Equation:
    """`head = side = side = total`, laid out when Rich knows the width: on one line where it fits; else one
    side a line with `=` under `=`, terms packed with `+` leading a continued line, and a product too long
    for a line broken before a `·`, indented under it. Nothing is cut, so no number is split."""

    def __init__(self, head: str, sides: tuple, total: str) -> None:
        self.head, self.sides, self.total = head, sides, total   # sides: terms, each a list of factors

    def __rich_console__(self, console, options):
        lines = _layout(self.head, self.sides, self.total, options.max_width)
        yield from (Text(line) for line in lines[:-1])
        yield Text(lines[-1][:len(lines[-1]) - len(self.total)]).append(self.total, style="bold")


def _layout(head: str, sides: tuple, total: str, width: int) -> list[str]:
    flat = [" + ".join("·".join(term) for term in side) for side in sides]
    whole = " = ".join([head, *flat, total])
    # a line of over 3×width characters cannot fit (names have no zero-width characters): not measured
    if not sides or (len(whole) <= 3 * width and cell_len(whole) <= width):
        return [whole]
    indent = " " * (cell_len(head) + 1 if cell_len(head) + 1 <= width // 3 else 2)
    lines: list[str] = []
    for k, side in enumerate(sides):
        lines += _side(f"{head} = " if k == 0 else f"{indent}= ", side, indent, width)
    fits = cell_len(lines[-1]) + 3 + cell_len(total) <= width
    return lines[:-1] + [f"{lines[-1]} = {total}"] if fits else lines + [f"{indent}= {total}"]


def _side(line: str, terms: list[list[str]], indent: str, width: int) -> list[str]:
    """Terms packed after `line`; a term that does not fit starts a line `+ …`, and a product that does not
    fit a line of its own is broken, after which the next term starts a line too. Widths are kept as the
    line grows: a grouped input may have 10⁴ terms."""
    lines: list[str] = []
    used, broken = cell_len(line), False
    for j, factors in enumerate(terms):
        text = "·".join(factors)
        size = cell_len(text)
        if j and not broken and used + 3 + size <= width:
            line, used = f"{line} + {text}", used + 3 + size
            continue
        if j:
            lines.append(line)
            line, used = f"{indent}+ ", len(indent) + 2
        broken = used + size > width
        *full, line = _product(line, factors, len(indent) + 4, width) if broken else [line + text]
        lines += full
        used = cell_len(line) if broken else used + size
    return lines + [line]


def _product(line: str, factors: list[str], hang: int, width: int) -> list[str]:
    """Factors appended to `line`, a line that would pass `width` broken before a `·` and continued `hang`
    columns in (fewer where a long name would not fit after them)."""
    lines: list[str] = []
    used = cell_len(line)
    for k, factor in enumerate(factors):
        piece = factor if k == 0 else "·" + factor
        size = cell_len(piece)
        if k and used + size > width:
            lines.append(line)
            used = max(0, min(hang, width - size))
            line = " " * used
        line, used = line + piece, used + size
    return lines + [line]


def _summary(result: Evaluation) -> Text:
    return Text(f"{result.graph.output_name} = {fmt(result.value)}", style="bold")


# The check's columns, and the order in which a narrow terminal gives them up (the first goes first).
_SPARE = ("abs err", "h", "x", "f(x+h)")


def _check(result: Gradients) -> RenderableType:
    check, out = result.check, result.graph.output_name
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
        notes.append(Text(f"{out}(x) = {fmt(check.rows[0].f_x, apart)} at the point; numeric = ({out}(x+h) − {out}(x))/h"))
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
    return Group(Fitted(*layouts), *notes, _verdict(result))


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
