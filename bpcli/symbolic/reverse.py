"""The backward pass run over formulas instead of numbers: the derivative as a program of named steps.

A program is a list of steps `name = expression` over earlier names. The user's graph is one: each gate a
step exactly as written (`v = x*y`). `reverse` walks the steps from an output back, as bpcli.core.engine
does with numbers: each step's adjoint (∂output/∂step) is multiplied by the local partial of each of its
arguments and added into theirs. An adjoint that is large, or that several products would repeat, becomes a
step of its own (`d_v = …`), so the program stays linear in the size of what it differentiates
(Baur–Strassen), however much the expression shares; a small one is written into the products that use it.

Differentiating again is the same walk over the derivative's program (`derive` with order > 1): a step that
is not a single gate is walked through, node by node, with the partials of sums, products and gates.
`inline` writes each derivative out whole, in canonical form, when it stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from bpcli.core.graph import CONST, INPUT, Graph
from bpcli.symbolic.algebra import GATE, SYM, Algebra, Expr, names_in, nodes_under

SMALL = 12   # an adjoint up to this size, used by one product, is written into it rather than named


@dataclass(frozen=True)
class Step:
    """One statement of a program: `name = expr`. role: "forward" (the user's gates), "adjoint" (a named
    part of the backward pass), "shared" (a part of a gate's partials common to all its arguments) or
    "derivative" (a result)."""

    name: str
    expr: Expr
    role: str


@dataclass(frozen=True)
class Edge:
    """One edge of the first backward pass over the user's graph, as formulas over the graph's names:
    ∂out/∂argument += upstream × local."""

    node: str          # the gate (v)
    argument: str      # the argument's name (x)
    upstream: Expr     # ∂out/∂node
    local: Expr        # ∂node/∂argument
    product: Expr
    first: bool        # the first contribution to ∂out/∂argument (the table writes = rather than +=)


@dataclass
class Derivation:
    """Every derivative of one output up to some order, as one program whose steps all share."""

    algebra: Algebra
    output: str
    inputs: list[str]                       # the variables, in order
    wrt: list[str]                          # the ones differentiated for, in order
    order: int
    steps: list[Step]
    derivatives: dict[tuple[str, ...], str]  # ("x", "y") → the step that holds ∂²out/∂x∂y
    edges: list[Edge] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return self._index[name]

    @cached_property
    def _index(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    def needed(self, names: Iterable[str]) -> list[Step]:
        """The steps that the named ones need, themselves included, in program order."""
        index = self._index
        wanted = set()
        stack = [n for n in names if n in index]
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(name)
            stack.extend(n for n in names_in(index[name].expr) if n in index and n not in wanted)
        return [s for s in self.steps if s.name in wanted]


class _Names:
    """Fresh names for the steps a derivation adds: the preferred one unless it is taken."""

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = set(taken)

    def fresh(self, preferred: str) -> str:
        name, n = preferred, 0
        while name in self.taken:
            n += 1
            name = f"{preferred}_{n}"
        self.taken.add(name)
        return name


def forward_steps(graph: Graph, algebra: Algebra) -> list[Step]:
    """The user's graph as a program: each live gate a step, exactly as written."""
    refs: list[Expr] = []
    steps = []
    for i, node in enumerate(graph.nodes):
        if node.op == INPUT:
            refs.append(algebra.symbol(node.name))
        elif node.op == CONST:
            assert node.const is not None   # a constant node carries its value
            refs.append(algebra.constant(node.name, node.const))
        else:
            refs.append(algebra.symbol(node.name))
            if graph.live[i]:
                steps.append(Step(node.name, algebra.raw(node.op, [refs[a] for a in node.args]), "forward"))
    return steps


def reverse(algebra: Algebra, steps: Sequence[Step], output: str, wrt: Sequence[str], names: _Names,
            prefix: str, edges: list[Edge] | None = None) -> tuple[list[Step], dict[str, Expr]]:
    """The backward pass from step `output` over `steps`: the adjoint steps it names (each `prefix` + the
    step's name), and ∂output/∂x for each x of `wrt`. With `edges`, each edge of a step that is a single
    gate over names is recorded (for the table of the first pass)."""
    at = next(i for i, s in enumerate(steps) if s.name == output)
    depends = set(wrt)
    walks: dict[str, list[Expr]] = {}
    for s in steps[:at + 1]:
        walk = walks[s.name] = _walk(s.expr)
        if any(n.kind == SYM and n.name in depends for n in walk):
            depends.add(s.name)
    pending: dict[str, list[Expr]] = {output: [algebra.one]}
    added: list[Step] = []
    first = set()
    for s in reversed(steps[:at + 1]):
        parts = pending.pop(s.name, None)
        if parts is None or s.name not in depends:
            continue
        up = algebra.total(parts)
        if up is algebra.zero:
            continue
        x = s.expr
        if x.kind == SYM:   # another name for a name
            pending.setdefault(x.name, []).append(up)
            continue
        walk = walks[s.name]
        inside: dict[int, bool] = {}
        for n in walk:
            inside[n.id] = (n.name in depends if n.kind == SYM else
                            not n.atomic and any(inside[a.id] for a in n.args))
        uses = sum(1 for a in x.args if inside[a.id])
        if not up.atomic and (up.size > SMALL or uses > 1):
            name = names.fresh(prefix + s.name)
            added.append(Step(name, up, "adjoint"))
            up = algebra.symbol(name)
        shared = _named_parts(algebra, x, s.name, names, added) if x.kind == GATE and uses > 1 else {}
        inner: dict[int, list[Expr]] = {x.id: [up]}
        for n in reversed(walk):
            if n.atomic or n.id not in inner:
                continue
            adjoint = algebra.total(inner.pop(n.id))
            for k, arg in enumerate(n.args):
                if not inside[arg.id]:
                    continue
                local = algebra.partial(n, k, algebra.symbol(s.name) if n is x else n, shared if n is x else None)
                product = algebra.mul(adjoint, local)
                if arg.kind == SYM:
                    pending.setdefault(arg.name, []).append(product)
                    if edges is not None and n is x:
                        edges.append(Edge(s.name, arg.name, adjoint, local, product, arg.name not in first))
                        first.add(arg.name)
                else:
                    inner.setdefault(arg.id, []).append(product)
    return added, {w: algebra.total(pending.get(w, ())) for w in wrt}


def _walk(x: Expr) -> list[Expr]:
    """nodes_under((x,)), quickly for the common step: one gate over names and numbers."""
    if all(a.atomic for a in x.args):
        return [*{a.id: a for a in sorted(x.args, key=lambda a: a.id)}.values(), x]
    return nodes_under((x,))


def _named_parts(algebra: Algebra, x: Expr, step: str, names: _Names, added: list[Step]) -> dict[int, Expr]:
    """The parts of gate x's partials shared by all its arguments (max's `ties(out, args)`, as long as x),
    each a step of its own when large, so that the partials of a gate of n arguments are not n² long."""
    shared = algebra.shared_parts(x, algebra.symbol(step))
    for i, part in shared.items():
        if not part.atomic and part.size > SMALL:
            name = names.fresh(f"{part.name}_{step}" if part.kind == GATE else f"p_{step}")
            added.append(Step(name, part, "shared"))
            shared[i] = algebra.symbol(name)
    return shared


def derive(graph: Graph, wrt: Sequence[str] | None = None, order: int = 1) -> Derivation:
    """Every derivative of the graph's output up to `order` for the inputs `wrt` (default: all), as one
    program. Mixed partials are made once, in the order of `wrt` (∂²f/∂x∂y, not also ∂²f/∂y∂x)."""
    algebra = Algebra()
    inputs = graph.input_names
    wrt = list(inputs if wrt is None else wrt)
    output = graph.output_name
    names = _Names([n.name for n in graph.nodes])
    steps = forward_steps(graph, algebra)
    derivatives: dict[tuple[str, ...], str] = {}
    edges: list[Edge] = []
    if graph.nodes[graph.output].is_gate:
        added, finals = reverse(algebra, steps, output, wrt, names, "d_", edges)
    else:   # a bare variable or constant
        finals = {w: algebra.one if w == output else algebra.zero for w in wrt}
        added = []
    steps += added
    for w in wrt:
        name = names.fresh(f"d_{w}")
        steps.append(Step(name, finals[w], "derivative"))
        derivatives[(w,)] = name
    current = dict(derivatives)
    for _ in range(order - 1):
        following: dict[tuple[str, ...], str] = {}
        for key, holder in current.items():
            targets = wrt[wrt.index(key[-1]):]
            added, finals = reverse(algebra, steps, holder, targets, names, holder + "_")
            steps += added
            for w in targets:
                name = names.fresh(f"{holder}_{w}")
                steps.append(Step(name, finals[w], "derivative"))
                following[key + (w,)] = name
        derivatives.update(following)
        current = following
    return Derivation(algebra, output, inputs, wrt, order, steps, derivatives, edges)


def expand(derivation: Derivation, roots: Sequence[Expr], limit: int) -> list[Expr | None]:
    """The expressions written out over the inputs alone (every step's name replaced by what it stands
    for), each in canonical form, or None past `limit` nodes. The steps they need are expanded once each,
    in program order, and nothing larger than the limit is built."""
    algebra = derivation.algebra
    full: dict[str, Expr | None] = {}
    for s in derivation.needed(n for r in roots for n in names_in(r)):
        used = [n for n in names_in(s.expr) if n in full]
        if any(full[n] is None for n in used):
            full[s.name] = None
            continue
        (full[s.name],) = algebra.substitute([s.expr], lambda sym: full.get(sym.name), limit)
    unknown = set(full)
    return [None if any(full[n] is None for n in names_in(r) if n in unknown)
            else algebra.substitute([r], lambda sym: full.get(sym.name), limit)[0] for r in roots]
