"""`--explain` for people: the chain rule for each input as an equation, ∂f/∂x = links = locals = total,
laid out for the width it is drawn at (continued lines rather than cut ones). Part of the views, with
render.py."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from bpcli.numfmt import fmt, operand


MAX_FACTORS = 32  # links; a longer chain shows its first and last 16 (a listed path has up to 64)
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def explain(explanations, graph) -> RenderableType:
    """One equation per input, ∂f/∂x = links = locals (= each path's product) = total, and notes under it."""
    lines: list[RenderableType] = [Text("Chain rule, path by path (--explain)", style="bold"), Text("")]
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
        sides.append([[operand(t.product)] for t in ex.terms])
    return _Equation(head, tuple(sides), fmt(ex.total))


def _chain(term) -> tuple[list[str], list[str]]:
    """The links `∂f/∂u`, `∂u/∂v`, `∂v/∂x` of one path and their locals `4`, `1`, `2`.

    A one-link path starts from the seed ∂f/∂f = 1, so that it too reads as a product. A link into a node
    that its gate takes more than once carries the argument's position (`∂v/∂x₁`, `∂v/∂x₂` for v = x*x).
    Past MAX_FACTORS links the middle is elided.
    """
    chain, places = term.chain, term.places or (0,) * len(term.factors)
    links = [f"∂{a}/∂{b}{str(p).translate(SUBSCRIPT) if p else ''}" for a, b, p in zip(chain, chain[1:], places)]
    numbers = [operand(v) for v in term.factors]
    if len(links) == 1:
        links, numbers = [f"∂{chain[0]}/∂{chain[0]}"] + links, ["1"] + numbers
    if len(links) > MAX_FACTORS:
        half = MAX_FACTORS // 2
        links = links[:half] + [f"…({len(links) - 2 * half} more)…"] + links[-half:]
        numbers = numbers[:half] + ["…"] + numbers[-half:]
    return links, numbers


def _notes(ex, graph, gates: dict[str, int]) -> list[RenderableType]:
    """Dim lines under an equation: why its paths are grouped, and what the subscripts of `∂v/∂x₁` mean."""
    from bpcli.core.explain import MANY

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
    for (gate, node), positions in _places(ex).items():
        same.setdefault((node, tuple(positions)), []).append(gate)
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
