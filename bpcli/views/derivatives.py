"""`bpcli diff`: derivatives as formulas, for people (the lecture's tables), for pipes (one line each), for
programs (JSON) and for slides (LaTeX)."""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bpcli.api import Derivatives
from bpcli.numfmt import fmt
from bpcli.symbolic import text as notation
from bpcli.symbolic.algebra import Expr, names_in
from bpcli.symbolic.text import latex_partial, partial
from bpcli.views.tables import Fitted, _rows, _table

_SHOWN = 40   # a named part of the backward pass up to this long is written into the rows that use it
_CELL = 30    # LaTeX's Hessian of formulas is written as a matrix when each is at most this long


def _title(result: Derivatives) -> str:
    out = result.output
    if result.order == 1:
        return f"Derivatives of {out}"
    if result.order == 2:
        return f"Second derivatives of {out}"
    return f"Derivatives of {out} of order {result.order}"


def table(result: Derivatives) -> RenderableType:
    """The forward gates, the backward pass edge by edge as formulas, the program when one is needed, then
    each derivative (and with a point, its value beside bpcli grad's)."""
    if not result.formulas:   # no variables: nothing to show (a warning says so)
        return Group()
    gates = any(node.is_gate for node in result.graph.nodes)
    parts: list[RenderableType] = [_forward(result)] if gates else []
    named: set[str] = set()
    if result.derivation.edges:
        backward, named = _backward(result)
        parts.append(backward)
    if named or not all(result.whole.values()):
        parts.append(_program(result, named))
    parts.append(_formulas(result))
    if result.values is not None:
        parts.append(_values(result))
    if result.conditions:
        parts.append(Text(_conditions(result)))
    return Group(*parts)


def _forward(result: Derivatives) -> RenderableType:
    graph = result.graph
    point = result.inputs
    columns = ("node", "gate") + (("value",) if point is not None else ())
    table_ = _table("Forward pass", *columns, right=("value",))
    rows: list[tuple[str, ...]] = []
    values = None
    if point is not None:
        from bpcli.core import engine

        values = engine.forward(graph, point)
        rows += [(name, "input", fmt(value)) for name, value in point.items()]
    for i, node in enumerate(graph.nodes):
        if node.is_gate and graph.live[i]:
            rows.append((node.name, graph.definition(i)) + ((fmt(values[i]),) if values is not None else ()))
    return _rows(table_, rows, len(columns))


class _Shown:
    """The backward pass's formulas as the table shows them: a named part (d_v) written in where it is
    short; `named` collects the names left, which the program under the table then defines."""

    def __init__(self, result: Derivatives) -> None:
        self.derivation = result.derivation
        self.adjoints = {s.name: s.expr for s in self.derivation.steps if s.role == "adjoint"}
        self.short: dict[str, Expr | None] = {}
        self.named: set[str] = set()

    def __call__(self, x: Expr) -> str:
        used = [n for n in names_in(x) if n in self.adjoints]
        for n in used:
            if n not in self.short:
                self.short[n] = self.adjoints[n] if len(notation.written(self.adjoints[n])) <= _SHOWN else None
        if any(self.short[n] is not None for n in used):
            (found,) = self.derivation.algebra.substitute([x], lambda sym: self.short.get(sym.name))
            x = found if found is not None else x
        self.named.update(n for n in used if self.short[n] is None)
        return notation.written(x)


def _backward(result: Derivatives) -> tuple[RenderableType, set[str]]:
    """One row per edge: chain rule, upstream × local = product, as formulas. Where the columns do not fit,
    each edge takes two lines (the products wrap, nothing is cut)."""
    out = result.output
    shown = _Shown(result)
    rows = []
    for e in result.derivation.edges:
        lhs = f"∂{out}/∂{e.argument} {'=' if e.first else '+='}"
        chain = f"∂{out}/∂{e.node} · ∂{e.node}/∂{e.argument}"
        rows.append((lhs, chain, shown(e.upstream), shown(e.local), shown(e.product)))
    title = f"Backward pass (seed ∂{out}/∂{out} = 1)"
    layouts: list[RenderableType] = []
    for joint in (" ", "\n  "):
        table_ = _table(title, "chain rule", "upstream", "× local", "= product")
        layouts.append(_rows(table_, [(lhs + joint + chain, *rest) for lhs, chain, *rest in rows], 4))
    lines = Table.grid(padding=(0, 0, 0, 1))
    lines.add_column(overflow="fold")
    for lhs, chain, up, local, product in _ends(rows):
        lines.add_row(Text(f"{lhs} {chain}\n    = {_factor(up)} × {_factor(local)}\n    = {product}") if lhs else
                      Text("⋮", style="dim"))
    layouts.append(Group(Text(title, style="bold"), Text(""), lines))
    return Fitted(*layouts), shown.named


def _factor(formula: str) -> str:
    """A formula as a factor of ×: in parentheses unless one name, number or call."""
    return formula if re.fullmatch(r"[\w.]+(\(.*\))?", formula) and formula.count("(") <= 1 else f"({formula})"


def _ends(rows: list[tuple]) -> list[tuple]:
    """The first and last MAX_ROWS // 2 rows, with an empty row for the ones between, as tables show them."""
    from bpcli.views.tables import MAX_ROWS

    if len(rows) <= MAX_ROWS:
        return rows
    half = MAX_ROWS // 2
    return rows[:half] + [("",) * 5] + rows[-half:]


def _program(result: Derivatives, named: set[str]) -> RenderableType:
    long = [k for k in result.formulas if not result.whole[k]]
    if long:
        lines = result.program(long)[:-len(long)]   # the derivatives' own lines follow, under their title
        head = f"Program (formulas longer than {result.inline} characters, as named steps)"
    else:
        lines = [f"{s.name} = {notation.written(s.expr)}" for s in result.derivation.needed(named)]
        head = "Program (the named steps of the backward pass)"
    return Group(Text(head, style="bold"), Text(""), *(Text(" " + line) for line in lines), Text(""))


def _formulas(result: Derivatives) -> RenderableType:
    """∂f/∂x = formula, one a line; a long formula wraps under itself, not under the ∂."""
    grid = Table.grid(padding=(0, 1), pad_edge=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for key, formula in result.formulas.items():
        grid.add_row(Text(f"{partial(result.output, key)} ="), Text(formula))
    return Group(Text(_title(result), style="bold"), Text(""), grid)


def _values(result: Derivatives) -> RenderableType:
    assert result.values is not None and result.inputs is not None   # given a point
    at = ", ".join(f"{n} = {fmt(v)}" for n, v in result.inputs.items())
    grad = result.order == 1 and result.gradient is not None
    columns = ("derivative", "formula's value") + (("bpcli grad",) if grad else ())
    table_ = _table(f"At {at}", *columns, right=columns[1:])
    rows = []
    for key, value in result.values.items():
        row: tuple = (partial(result.output, key), fmt(value))
        if grad:
            assert result.gradient is not None
            row += (fmt(result.gradient[key[0]]),)
        rows.append(row)
    return Group(Text(""), _rows(table_, rows, len(columns)))


def _conditions(result: Derivatives) -> str:
    bases = ", ".join(f"{c} ≠ 0" for c in result.conditions)
    return f"\nSimplifying cancelled a quotient of equal parts: the formulas hold where {bases}."


def conditions_note(result: Derivatives) -> str | None:
    """For the formats without room for it (plain, LaTeX): the note on cancelled parts, for stderr."""
    if not result.conditions:
        return None
    return f"the formulas hold where {', '.join(f'{c} ≠ 0' for c in result.conditions)} (simplifying cancelled them)"


def plain(result: Derivatives) -> str:
    """One derivative: bpcli input alone (its formula, or the program that computes it). More: the program's
    steps when one is needed, then `∂f/∂x = …` a line each."""
    keys = list(result.formulas)
    if len(keys) == 1:
        return result.alone(keys[0])
    lines = []
    if not all(result.whole.values()):
        lines += result.program([k for k in keys if not result.whole[k]])[:-sum(not w for w in result.whole.values())]
    lines += [f"{partial(result.output, k)} = {result.formulas[k]}" for k in keys]
    return "\n".join(lines)


def latex(result: Derivatives) -> str:
    """Each derivative as a LaTeX equation (over the program's steps, listed first, when it is not whole);
    for order 2 also the Hessian matrix; with a point, the values there."""
    out = result.output
    keys = list(result.formulas)
    lines = []
    long = [k for k in keys if not result.whole[k]]
    if long:
        lines += result.program(long, latex=True)[:-len(long)]
    lines += [rf"{latex_partial(out, k)} = {result.latex(k)}" for k in keys]
    if result.order == 2 and len(result.wrt) > 1 and all(result.whole[k] and len(result.formulas[k]) <= _CELL
                                                         for k in keys):
        lines.append(_matrix(result, lambda k: result.latex(k), rf"\nabla^{{2}} {notation.LATEX.name(out)}"))
    if result.values is not None:
        assert result.inputs is not None
        at = ", ".join(f"{notation.LATEX.name(n)} = {_latex_number(v)}" for n, v in result.inputs.items())
        values = result.values
        lines += [rf"\left.{latex_partial(out, k)}\right|_{{{at}}} = {_latex_number(values[k])}" for k in keys]
        if result.order == 2 and len(result.wrt) > 1:
            lines.append(_matrix(result, lambda k: _latex_number(values[k]),
                                 rf"\left.\nabla^{{2}} {notation.LATEX.name(out)}\right|_{{{at}}}"))
    return "\n".join(lines)


def _matrix(result: Derivatives, entry, name: str) -> str:
    wrt = result.wrt

    def cell(a: str, b: str) -> str:
        i, j = sorted((wrt.index(a), wrt.index(b)))
        return entry((wrt[i], wrt[j]))

    rows = [" & ".join(cell(a, b) for b in wrt) for a in wrt]
    body = r" \\ ".join(rows)
    return rf"{name} = \begin{{pmatrix}} {body} \end{{pmatrix}}"


def _latex_number(value: float) -> str:
    text = fmt(value)
    if "e" in text:
        mantissa, power = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(power)}}}"
    return text


def to_dict(result: Derivatives) -> dict:
    """The JSON document (docs/json.md): formulas keyed by the names differentiated for, joined by `,`."""
    doc: dict = {
        "expression": result.graph.source,
        "output": result.output,
        "order": result.order,
        "derivatives": {",".join(k): f for k, f in result.formulas.items()},
        "program": "\n".join(result.program()),
    }
    if result.conditions:
        doc["conditions"] = [f"{c} != 0" for c in result.conditions]
    if result.values is not None:
        doc["inputs"] = result.inputs
        doc["values"] = {",".join(k): v for k, v in result.values.items()}
        if result.gradient is not None:
            doc["gradient"] = result.gradient
    return doc
