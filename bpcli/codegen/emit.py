"""Straight-line source for the forward and backward passes, in the lecture's "Back propagation: Pseudo Code".

    def grad_f(w, x, y, z):
        # forward pass
        v = x * y
        ...
        # backward pass
        dfdf = 1.0
        dfdu = z * dfdf
        ...

One assignment per live gate; one line per edge of the backward pass, in the order `engine.backward`
visits them: the edge's local partial (the gate's parsed rule from bpcli.core.rules, written out over its
arguments' names with constant parts folded) times the upstream gradient, `=` for the first
contribution to a gradient and `+=` for the next ones (fan-out). A part of a variadic gate's partial that
is the same for every argument (max/min's tie count, see rules.shared_parts) gets one line of its own
before the gate's edges, which refer to it. No derivative rule is written here.

The language only changes the spelling, which its `languages.Dialect` gives: names that would clash with
a keyword or a helper get a `_` appended, helpers take the language's names (C's `abs` is `fabs`), and
each target starts with a prelude that defines the helpers the code calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from bpcli import codegen, primitives
from bpcli.codegen import languages
from bpcli.codegen.languages import Dialect
from bpcli.core import rules
from bpcli.core.graph import CONST, INPUT, Graph
from bpcli.core.rules import Notation, Operand


@dataclass(frozen=True)
class Step:
    """One line of straight-line code: `target = code`, or `target += code` when not `first`.

    `edge` is False for a part of a gate's partials that its edges share (max/min's tie count), assigned once.
    """

    target: str
    code: str
    first: bool = True
    edge: bool = True


@dataclass(frozen=True)
class Plan:
    """Everything a language prints, already spelled in that language (identifiers and expressions)."""

    name: str                          # grad_f
    inputs: list[tuple[str, str]]      # (name as the user wrote it, identifier), in graph order
    forward: list[Step]
    backward: list[Step]
    value: str                         # the output's value
    gradients: list[str]               # per input: its gradient variable, or "0.0" when no edge reaches it
    constants: frozenset[str]          # named constants (pi, e) the code uses
    helpers: frozenset[str] = frozenset()   # the helpers the code calls, which its prelude defines

    def prelude(self, dialect: Dialect) -> str:
        """What the code starts with: the helpers it calls and the constants it uses, defined."""
        return dialect.prelude(self.helpers, self.constants)


class _Namer:
    """Hands out distinct identifiers: a clash with a reserved or earlier name appends `_` until free."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.taken = set(reserved)

    def claim(self, base: str) -> str:
        name = base
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name


# ---- planning: the language-independent walk over the graph -------------------------------------

def plan(graph: Graph, dialect: Dialect) -> Plan:
    """The forward and backward steps of `graph`, spelled for `dialect`."""
    namer = _Namer(dialect.reserved)
    used: set[str] = set()
    notation = dialect.notation(used)
    names = _value_names(graph, dialect, namer)
    out = graph.nodes[graph.output]
    stem = "f" if out.op == CONST else _text(names, graph.output)
    grads: list[str | None] = [f"d{stem}d{n.text}" if n is not None else None for n in names]
    grads = [namer.claim(g) if d and g else None for g, d in zip(grads, graph.depends)]
    backward = _backward(graph, names, grads, notation, namer)
    assigned = {step.target for step in backward}
    return Plan(
        name=f"grad_{stem}",
        inputs=[(graph.nodes[i].name, _text(names, i)) for i in graph.inputs],
        forward=_forward(graph, names, notation),
        backward=backward,
        value=_text(names, graph.output),
        gradients=[g if (g := grads[i]) in assigned else "0.0" for i in graph.inputs],
        constants=frozenset(n.name for n, live in zip(graph.nodes, graph.live)
                            if live and n.name in primitives.CONSTANTS),
        helpers=frozenset(used),
    )


def _value_names(graph: Graph, dialect: Dialect, namer: _Namer) -> list[Operand | None]:
    """Per node, how the code refers to its value: an identifier, a literal or pi/e; None when dead."""
    names: list[Operand | None] = []
    for node, live in zip(graph.nodes, graph.live):
        if node.op == CONST:
            assert node.const is not None   # a constant node carries its value
            named = node.name in primitives.CONSTANTS
            names.append(Operand(node.name if named else _literal(node.const), node.const, not named))
        elif node.op == INPUT or live:
            names.append(Operand(namer.claim(dialect.legal(node.name))))
        else:
            names.append(None)
    return names


def _text(names: list[Operand | None], i: int) -> str:
    """How the code refers to node i, an input or the output: both are always named."""
    name = names[i]
    assert name is not None
    return name.text


def _literal(value: float) -> str:
    # repr round-trips a double exactly and reads the same in Python, C and JavaScript (2.0, 1e-05).
    return f"({value!r})" if value < 0 else repr(value)


def _forward(graph: Graph, names: list, notation: Notation) -> list[Step]:
    steps = []
    for i, node in enumerate(graph.nodes):
        if node.is_gate and graph.live[i]:
            steps.append(Step(names[i].text, rules.spelled_gate(node.op, [names[a] for a in node.args], notation)))
    return steps


def _backward(graph: Graph, names: list, grads: list, notation: Notation, namer: _Namer) -> list[Step]:
    """One step per edge, in engine.backward's order: grads[a] (+)= local × upstream.

    A part of a variadic gate's partial that is the same for every argument (rules.shared_parts: max/min's
    tie count) gets one step before the gate's first edge, `ties_f = ties(f, x, y, z)`, which each edge
    names; spelled out in each of n edges it would be n² code.
    """
    steps: list[Step] = []
    if graph.depends[graph.output]:
        steps.append(Step(grads[graph.output], "1.0"))
    seen = {grads[graph.output]}
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not (node.is_gate and graph.depends[i] and graph.live[i]):
            continue
        op = primitives.OPS[node.op]
        operands = [names[a] for a in node.args]
        kept: dict[int, str] = {}  # this gate's shared parts → the variables holding them
        for k, a in enumerate(node.args):
            if graph.depends[a]:
                rule = rules.parsed(node.op).partials[0 if op.arity is None else k]
                leaves = rules.bound(op, operands, names[i], operands[k] if op.arity is None else None)
                if op.arity is None:
                    for part in rules.shared_parts(rule):
                        if part not in kept:
                            kept[part] = namer.claim(f"{rule.nodes[part].op}_{names[i].text}")
                            steps.append(Step(kept[part], rules.spelled(rules.part(rule, part),
                                                                        leaves, notation), edge=False))
                local = rules.spelled(rule, leaves, notation, kept, grouped=True)
                steps.append(Step(grads[a], f"{local} * {grads[i]}", grads[a] not in seen))
                seen.add(grads[a])
    return steps


# ---- printing a plan in each language ------------------------------------------------------------

def _gradient_pairs(p: Plan) -> str:
    """`"w": dfdw, "x": dfdx` — the user's names as keys (JSON strings are valid Python and JS literals)."""
    return ", ".join(f"{json.dumps(name, ensure_ascii=False)}: {g}" for (name, _), g in zip(p.inputs, p.gradients))


def python(graph: Graph) -> str:
    """A self-contained Python module defining grad_f(inputs…) -> (f, {input: ∂f/∂input})."""
    p = plan(graph, languages.PYTHON)
    lines = [f"def {p.name}({', '.join(ident for _, ident in p.inputs)}):", "    # forward pass"]
    lines += [f"    {s.target} = {s.code}" for s in p.forward]
    lines.append("    # backward pass")
    lines += [f"    {s.target} {'=' if s.first else '+='} {s.code}" for s in p.backward]
    lines.append(f"    return {p.value}, {{{_gradient_pairs(p)}}}")
    return p.prelude(languages.PYTHON) + "\n\n" + "\n".join(lines) + "\n"


def c(graph: Graph) -> str:
    """A self-contained C99 translation unit defining `double grad_f(double inputs…, double grad[])`.

    It returns f and fills grad[] in input order; a comment says which index is which input. Link with -lm.
    """
    p = plan(graph, languages.C)
    params = [f"double {ident}" for _, ident in p.inputs] + ["double grad[]"]
    stem = p.name.removeprefix("grad_")
    index = ", ".join(f"grad[{i}] = d{stem}/d{name}" for i, (name, _) in enumerate(p.inputs)) or "no inputs"
    lines = [f"/* {index} */", f"double {p.name}({', '.join(params)})", "{", "    /* forward pass */"]
    lines += [f"    double {s.target} = {s.code};" for s in p.forward]
    lines.append("    /* backward pass */")
    lines += [f"    {'double ' if s.first else ''}{s.target} {'=' if s.first else '+='} {s.code};" for s in p.backward]
    lines += [f"    grad[{i}] = {g};" for i, g in enumerate(p.gradients)]
    lines += [f"    return {p.value};", "}"]
    return p.prelude(languages.C) + "\n" + "\n".join(lines) + "\n"


def javascript(graph: Graph) -> str:
    """A self-contained JavaScript script defining grad_f(inputs…) -> [f, {input: ∂f/∂input}]."""
    p = plan(graph, languages.JAVASCRIPT)
    lines = [f"function {p.name}({', '.join(ident for _, ident in p.inputs)}) {{", "  // forward pass"]
    lines += [f"  const {s.target} = {s.code};" for s in p.forward]
    lines.append("  // backward pass")
    lines += [f"  {_js_declare(s)}{s.target} {'=' if s.first else '+='} {s.code};" for s in p.backward]
    lines += [f"  return [{p.value}, {{{_gradient_pairs(p)}}}];", "}"]
    return p.prelude(languages.JAVASCRIPT) + "\n" + "\n".join(lines) + "\n"


def _js_declare(s: Step) -> str:
    # a gradient may take `+=` later; a part its edges share is assigned once
    return "const " if not s.edge else "let " if s.first else ""


# Keyed by bpcli.codegen.LANGUAGES, which names the languages for the command line without importing this module.
LANGUAGES: dict[str, Callable[[Graph], str]] = dict(zip(codegen.LANGUAGES, (python, c, javascript), strict=True))
