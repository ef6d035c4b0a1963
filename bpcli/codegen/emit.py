"""Straight-line source for the forward and backward passes, in the lecture's "Back propagation: Pseudo Code".

    def grad_f(w, x, y, z):
        # forward pass
        v = x * y
        ...
        # backward pass
        dfdf = 1.0
        dfdu = z * dfdf
        ...

One assignment per live gate, from the gate's forward template in `primitives.OPS`; one line per edge of the
backward pass, in the order `engine.backward` visits them: the edge's local partial (the gate's partial
template, filled in with its arguments' names) times the upstream gradient, `=` for the first
contribution to a gradient and `+=` for the next ones (fan-out). A part of a gate's partials that is
the same for every argument (max/min's tie count, see templates.split_shared) gets one line of its own
before the gate's edges, which refer to it. No derivative rule is written here.

The language only changes the spelling, which its `languages.Dialect` gives: names that would clash with
a keyword or a helper get a `_` appended, template helpers are renamed (C's `abs` is `fabs`), and each
target starts with the dialect's prelude, which defines the helpers the templates call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from bpcli import codegen
from bpcli.codegen import languages
from bpcli import primitives
from bpcli.core import templates
from bpcli.codegen.languages import Dialect
from bpcli.core.graph import CONST, INPUT, Graph


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
    names = _value_names(graph, dialect, namer)
    out = graph.nodes[graph.output]
    stem = "f" if out.op == CONST else names[graph.output]
    grads = [f"d{stem}d{n}" if n is not None else None for n in names]
    grads = [namer.claim(g) if d and g else None for g, d in zip(grads, graph.depends)]
    backward = _backward(graph, names, grads, dialect, namer)
    assigned = {step.target for step in backward}
    return Plan(
        name=f"grad_{stem}",
        inputs=[(graph.nodes[i].name, names[i]) for i in graph.inputs],
        forward=_forward(graph, names, dialect),
        backward=backward,
        value=names[graph.output],
        gradients=[grads[i] if grads[i] in assigned else "0.0" for i in graph.inputs],
        constants=frozenset(n.name for n, live in zip(graph.nodes, graph.live) if live and n.name in primitives.CONSTANTS),
    )


def _value_names(graph: Graph, dialect: Dialect, namer: _Namer) -> list[str | None]:
    """Per node, how the code refers to its value: an identifier, a literal or pi/e; None when dead."""
    names: list[str | None] = []
    for node, live in zip(graph.nodes, graph.live):
        if node.op == CONST:
            names.append(node.name if node.name in primitives.CONSTANTS else _literal(node.const))
        elif node.op == INPUT or live:
            names.append(namer.claim(dialect.legal(node.name)))
        else:
            names.append(None)
    return names


def _literal(value: float) -> str:
    # repr round-trips a double exactly and reads the same in Python, C and JavaScript (2.0, 1e-05).
    return f"({value!r})" if value < 0 else repr(value)


def _forward(graph: Graph, names: list[str | None], dialect: Dialect) -> list[Step]:
    steps = []
    for i, node in enumerate(graph.nodes):
        if node.is_gate and graph.live[i]:
            args = [names[a] for a in node.args]
            steps.append(Step(names[i], _fill(primitives.OPS[node.op].forward, args, names[i], 0, dialect)))
    return steps


def _backward(graph: Graph, names: list, grads: list, dialect: Dialect, namer: _Namer) -> list[Step]:
    """One step per edge, in engine.backward's order: grads[a] (+)= local × upstream.

    A part of the partials that is the same for every argument (templates.split_shared: max/min's tie
    count) gets one step before the gate's first edge, `count_f = count(f, x, y, z)`, which each edge names;
    spelled out in each of n edges it would be n² code.
    """
    steps: list[Step] = []
    if graph.depends[graph.output]:
        steps.append(Step(grads[graph.output], "1.0"))
    seen = {grads[graph.output]}
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not (node.is_gate and graph.depends[i] and graph.live[i]):
            continue
        args = [names[a] for a in node.args]
        kept: dict[str, str] = {}  # this gate's shared parts → the variables holding them
        for k, a in enumerate(node.args):
            if graph.depends[a]:
                local, shared = _partial(primitives.OPS[node.op], k, args, names[i], dialect, namer, kept)
                steps += shared
                steps.append(Step(grads[a], f"{_group(local)} * {grads[i]}", grads[a] not in seen))
                seen.add(grads[a])
    return steps


def _partial(op: primitives.Op, k: int, args: list[str], out: str, dialect: Dialect, namer: _Namer,
             kept: dict[str, str]) -> tuple[str, list[Step]]:
    """The code of the gate's partial for argument k, and a step for each shared part not yet `kept`
    (named after its helper and the gate: `count_f`)."""
    template, calls = templates.split_shared(op.partial(k))
    steps = []
    for call in calls:
        if call not in kept:
            kept[call] = namer.claim(f"{call[:call.index('(')]}_{out}")
            steps.append(Step(kept[call], _fill(call, args, out, k, dialect), edge=False))
    return _fill(template, args, out, k, dialect, [kept[call] for call in calls]), steps


def _group(code: str) -> str:
    """Parenthesise a local partial unless it is one name, number or call, so × applies to all of it."""
    if re.fullmatch(r"-?[\w.]+|\(-[\w.]+\)", code) or re.match(r"\w+\(", code) and _closes_at_end(code):
        return code
    return f"({code})"


def _closes_at_end(code: str) -> bool:
    """Whether the first '(' is closed by the last character (so `cos(x)` is one call, `f(a) - g(b)` not)."""
    depth = 0
    for i, ch in enumerate(code):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch == ")":
            return i == len(code) - 1
    return False


_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")


def _fill(template: str, args: list[str], out: str, k: int, dialect: Dialect, shared: list[str] | None = None) -> str:
    """A template from ops, its helper calls respelled for the dialect, filled in with names (and the
    variables holding its shared parts, see templates.split_shared)."""
    def call(m: re.Match) -> str:
        helper = m.group(1)
        if helper not in dialect.calls:
            raise ValueError(f"ops uses {helper}(), which the {dialect.name} prelude does not define")
        counted = f"{len(args)}, " if helper in dialect.counted else ""
        return f"{dialect.calls[helper]}({counted}"
    code = _CALL.sub(call, template)
    if dialect.name != "python" and re.search(r"\*\*|\b(and|or|not)\b", code):
        raise ValueError(f"ops template {template!r} uses Python-only syntax; teach codegen to translate it")
    return templates.expand(code, args, out=out, k=k, shared=shared or ())



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
    return languages.PYTHON.prelude + "\n\n" + "\n".join(lines) + "\n"


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
    return languages.C.prelude + _c_constants(p.constants) + "\n" + "\n".join(lines) + "\n"


def _c_constants(used: frozenset[str]) -> str:
    # Only the ones used, so -Wall stays quiet; repr round-trips the double exactly.
    return "".join(f"\nstatic const double {n} = {primitives.CONSTANTS[n]!r};" for n in sorted(used)) + ("\n" if used else "")


def javascript(graph: Graph) -> str:
    """A self-contained JavaScript script defining grad_f(inputs…) -> [f, {input: ∂f/∂input}]."""
    p = plan(graph, languages.JAVASCRIPT)
    lines = [f"function {p.name}({', '.join(ident for _, ident in p.inputs)}) {{", "  // forward pass"]
    lines += [f"  const {s.target} = {s.code};" for s in p.forward]
    lines.append("  // backward pass")
    lines += [f"  {_js_declare(s)}{s.target} {'=' if s.first else '+='} {s.code};" for s in p.backward]
    lines += [f"  return [{p.value}, {{{_gradient_pairs(p)}}}];", "}"]
    return languages.JAVASCRIPT.prelude + "\n" + "\n".join(lines) + "\n"


def _js_declare(s: Step) -> str:
    # a gradient may take `+=` later; a part its edges share is assigned once
    return "const " if not s.edge else "let " if s.first else ""


# Keyed by bpcli.codegen.LANGUAGES, which names the languages for the command line without importing this module.
LANGUAGES: dict[str, Callable[[Graph], str]] = dict(zip(codegen.LANGUAGES, (python, c, javascript), strict=True))
