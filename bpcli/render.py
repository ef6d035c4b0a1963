"""Rich renderables for people: the lecture's slides as tables. The only module that imports rich.

Every function returns renderables and computes nothing; user text goes in as `Text`, never as markup.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
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
        parts.append(_explain(explanations, result.graph))
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
    """The graph as a tree from the output down; a shared node is expanded once, at its first line, and marked
    at the others. A node that gets gradient along several edges (x in x*x + sin(x)) shows at each of its lines
    ∂f/∂x along that use (upstream·local = product, as the backward pass), and at the first also the total."""
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
            branch.add(label.append("  (shared: expanded once)", style="dim"))
            continue
        seen.add(a)
        child = branch.add(label)
        if depth + 1 >= MAX_DEPTH and graph.nodes[a].args:
            child.add(Text("… (deeper: --format dot draws all)", style="dim"))
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


class _Counting:
    """A binary stream that reports how many bytes were read."""

    def __init__(self, stream, advance) -> None:
        self.stream, self.advance = stream, advance

    def read1(self, size: int = -1) -> bytes:
        data = self.stream.read1(size)
        self.advance(len(data))
        return data


@contextlib.contextmanager
def progress(stream, total: int, console: Console | None = None):
    """A progress bar on stderr (bytes of the batch input read) around reading `stream`."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("rows", BarColumn(), DownloadColumn(), TimeRemainingColumn(), transient=True,
                  console=console or Console(stderr=True)) as bar:
        task = bar.add_task("batch", total=total)
        yield _Counting(stream, lambda n: bar.advance(task, n))


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
