"""Straight-line source for the forward and backward passes, in the lecture's "Back propagation: Pseudo Code".

    def grad_f(w, x, y, z):
        # forward pass
        v = x * y
        ...
        # backward pass
        dfdf = 1.0
        dfdu = z * dfdf
        ...

One assignment per live gate, from the gate's forward template in `ops.OPS`; one line per edge of the
backward pass, in the order `engine.backward` visits them: the edge's local partial (the gate's partial
template, filled in with its arguments' names) times the upstream gradient, `=` for the first
contribution to a gradient and `+=` for the next ones (fan-out). No derivative rule is written here.

The language only changes the spelling: names that would clash with a keyword or a helper get a `_`
appended, template helpers are renamed (C's `abs` is `fabs`), and each target starts with a prelude that
defines the helpers the templates call, with the IEEE semantics of `backends.SCALAR` (`where` evaluates both
branches, so `log(0)` and `pow(0, -1)` must give -inf and inf rather than fail).
"""

from __future__ import annotations

import json
import keyword
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bpcli import ops, templates
from bpcli.graph import CONST, INPUT, Graph

HELPERS = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "abs", "pow", "floor",
           "where", "vmax", "vmin", "count")


@dataclass(frozen=True)
class Step:
    """One line of straight-line code: `target = code`, or `target += code` when not `first`."""

    target: str
    code: str
    first: bool = True


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


@dataclass(frozen=True)
class Dialect:
    """How one target language spells identifiers and the templates' helper calls."""

    name: str
    reserved: frozenset[str]
    legal: Callable[[str], str]        # a user's name → an identifier in this language (clashes aside)
    calls: dict[str, str]              # template helper → the function the prelude defines
    counted: frozenset[str] = frozenset()   # variadic helpers that take the number of arguments first


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


def _ascii(name: str) -> str:
    """An ASCII identifier for a name: each other character becomes uXXXX (θ → u03b8)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else f"u{ord(ch):04x}" for ch in name)


def _unicode(name: str) -> str:
    # Python and JavaScript take Unicode identifiers; Python folds them with NFKC, so only stable ones stay.
    return name if name.isidentifier() and unicodedata.normalize("NFKC", name) == name else _ascii(name)


def _c_name(name: str) -> str:
    name = _ascii(name)
    return "v" + name if re.match(r"_[A-Z_]|bp_|M_", name) else name  # reserved to the implementation / us


# ---- planning: the language-independent walk over the graph -------------------------------------

def plan(graph: Graph, dialect: Dialect) -> Plan:
    """The forward and backward steps of `graph`, spelled for `dialect`."""
    namer = _Namer(dialect.reserved)
    names = _value_names(graph, dialect, namer)
    out = graph.nodes[graph.output]
    stem = "f" if out.op == CONST else names[graph.output]
    grads = [f"d{stem}d{n}" if n is not None else None for n in names]
    grads = [namer.claim(g) if d and g else None for g, d in zip(grads, graph.depends)]
    backward = _backward(graph, names, grads, dialect)
    assigned = {step.target for step in backward}
    return Plan(
        name=f"grad_{stem}",
        inputs=[(graph.nodes[i].name, names[i]) for i in graph.inputs],
        forward=_forward(graph, names, dialect),
        backward=backward,
        value=names[graph.output],
        gradients=[grads[i] if grads[i] in assigned else "0.0" for i in graph.inputs],
        constants=frozenset(n.name for n, live in zip(graph.nodes, graph.live) if live and n.name in ops.CONSTANTS),
    )


def _value_names(graph: Graph, dialect: Dialect, namer: _Namer) -> list[str | None]:
    """Per node, how the code refers to its value: an identifier, a literal or pi/e; None when dead."""
    names: list[str | None] = []
    for node, live in zip(graph.nodes, graph.live):
        if node.op == CONST:
            names.append(node.name if node.name in ops.CONSTANTS else _literal(node.const))
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
            steps.append(Step(names[i], _fill(ops.OPS[node.op].forward, args, names[i], 0, dialect)))
    return steps


def _backward(graph: Graph, names: list, grads: list, dialect: Dialect) -> list[Step]:
    """One step per edge, in engine.backward's order: grads[a] (+)= local × upstream."""
    steps: list[Step] = []
    if graph.depends[graph.output]:
        steps.append(Step(grads[graph.output], "1.0"))
    seen = {grads[graph.output]}
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not (node.is_gate and graph.depends[i] and graph.live[i]):
            continue
        args = [names[a] for a in node.args]
        for k, a in enumerate(node.args):
            if graph.depends[a]:
                local = _fill(ops.OPS[node.op].partial(k), args, names[i], k, dialect)
                steps.append(Step(grads[a], f"{_group(local)} * {grads[i]}", grads[a] not in seen))
                seen.add(grads[a])
    return steps


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


def _fill(template: str, args: list[str], out: str, k: int, dialect: Dialect) -> str:
    """A template from ops, its helper calls respelled for the dialect, filled in with names."""
    def call(m: re.Match) -> str:
        helper = m.group(1)
        if helper not in dialect.calls:
            raise ValueError(f"ops uses {helper}(), which the {dialect.name} prelude does not define")
        counted = f"{len(args)}, " if helper in dialect.counted else ""
        return f"{dialect.calls[helper]}({counted}"
    code = _CALL.sub(call, template)
    if dialect.name != "python" and re.search(r"\*\*|\b(and|or|not)\b", code):
        raise ValueError(f"ops template {template!r} uses Python-only syntax; teach codegen to translate it")
    return templates.expand(code, args, out=out, k=k)


# ---- Python ---------------------------------------------------------------------------------------

PYTHON = Dialect("python", frozenset(keyword.kwlist) | set(HELPERS) | {"math", "pi", "e"}, _unicode,
                 {h: h for h in HELPERS})

_PYTHON_PRELUDE = '''\
import math

exp, sqrt, sin, cos, tan, tanh = math.exp, math.sqrt, math.sin, math.cos, math.tan, math.tanh
pi, e = math.pi, math.e
vmax, vmin = max, min


def log(a):
    # log(0) = -inf and log(a < 0) = nan instead of an exception: where() evaluates both branches.
    return math.log(a) if a > 0 else -math.inf if a == 0 else math.nan


def pow(a, b):
    # a float always: 0 ** -1 is inf, a negative base to a fractional power is nan (not complex).
    try:
        r = float(a) ** b
    except (ZeroDivisionError, OverflowError):
        return math.inf
    return math.nan if isinstance(r, complex) else r


def floor(a):
    return float(math.floor(a))


def where(c, a, b):
    return a if c else b


def count(out, *args):
    # how many arguments tie for max/min: the tied ones share the upstream gradient evenly
    return sum(a == out for a in args)


def sigmoid(a):
    # two branches so that neither overflows
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def softplus(a):
    # log(1 + exp(a)) without overflow for large a or cancellation for very negative a
    if a > 0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))
'''


def _gradient_pairs(p: Plan) -> str:
    """`"w": dfdw, "x": dfdx` — the user's names as keys (JSON strings are valid Python and JS literals)."""
    return ", ".join(f"{json.dumps(name, ensure_ascii=False)}: {g}" for (name, _), g in zip(p.inputs, p.gradients))


def python(graph: Graph) -> str:
    """A self-contained Python module defining grad_f(inputs…) -> (f, {input: ∂f/∂input})."""
    p = plan(graph, PYTHON)
    lines = [f"def {p.name}({', '.join(ident for _, ident in p.inputs)}):", "    # forward pass"]
    lines += [f"    {s.target} = {s.code}" for s in p.forward]
    lines.append("    # backward pass")
    lines += [f"    {s.target} {'=' if s.first else '+='} {s.code}" for s in p.backward]
    lines.append(f"    return {p.value}, {{{_gradient_pairs(p)}}}")
    return _PYTHON_PRELUDE + "\n\n" + "\n".join(lines) + "\n"


# ---- C --------------------------------------------------------------------------------------------

_C_KEYWORDS = """auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
while _Bool _Complex _Imaginary"""
# Macros <math.h> and <stdarg.h> may define, and the ones GCC predefines outside strict ISO mode.
_C_MACROS = """INFINITY NAN HUGE_VAL HUGE_VALF HUGE_VALL FP_INFINITE FP_NAN FP_NORMAL FP_SUBNORMAL FP_ZERO
FP_FAST_FMA FP_FAST_FMAF FP_FAST_FMAL FP_ILOGB0 FP_ILOGBNAN MATH_ERRNO MATH_ERREXCEPT math_errhandling MAXFLOAT
HUGE DOMAIN SING OVERFLOW UNDERFLOW TLOSS PLOSS X_TLOSS NULL errno va_list va_start va_arg va_end va_copy
linux unix i386 sun"""
_C_CALLS = {**{h: h for h in HELPERS}, "abs": "fabs", "sigmoid": "bp_sigmoid", "softplus": "bp_softplus",
            "where": "bp_where",
            "vmax": "bp_vmax", "vmin": "bp_vmin", "count": "bp_count"}

C = Dialect("c", frozenset(_C_KEYWORDS.split() + _C_MACROS.split()) | set(_C_CALLS.values()) | {"grad", "pi", "e"},
            _c_name, _C_CALLS, frozenset({"vmax", "vmin", "count"}))

_C_PRELUDE = """\
#include <math.h>
#include <stdarg.h>

/* Both branches are evaluated, as in the interpreter: log(0) and pow(0, -1) give -inf and inf. */
static inline double bp_where(int c, double a, double b) { return c ? a : b; }

static inline double bp_sigmoid(double a)
{
    if (a >= 0) return 1.0 / (1.0 + exp(-a));
    double z = exp(a);
    return z / (1.0 + z);
}

/* log(1 + exp(a)) without overflow for large a or cancellation for very negative a. */
static inline double bp_softplus(double a)
{
    return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

/* max and min of n doubles; the first of tied arguments wins, as in Python. */
static inline double bp_vmax(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double m = va_arg(ap, double);
    for (int i = 1; i < n; i++) { double a = va_arg(ap, double); if (a > m) m = a; }
    va_end(ap);
    return m;
}

static inline double bp_vmin(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double m = va_arg(ap, double);
    for (int i = 1; i < n; i++) { double a = va_arg(ap, double); if (a < m) m = a; }
    va_end(ap);
    return m;
}

/* How many of the n arguments tie with out: they share the upstream gradient evenly. */
static inline double bp_count(int n, double out, ...)
{
    va_list ap;
    double ties = 0.0;
    va_start(ap, out);
    for (int i = 0; i < n; i++) ties += va_arg(ap, double) == out;
    va_end(ap);
    return ties;
}
"""


def c(graph: Graph) -> str:
    """A self-contained C99 translation unit defining `double grad_f(double inputs…, double grad[])`.

    It returns f and fills grad[] in input order; a comment says which index is which input. Link with -lm.
    """
    p = plan(graph, C)
    params = [f"double {ident}" for _, ident in p.inputs] + ["double grad[]"]
    stem = p.name.removeprefix("grad_")
    index = ", ".join(f"grad[{i}] = d{stem}/d{name}" for i, (name, _) in enumerate(p.inputs)) or "no inputs"
    lines = [f"/* {index} */", f"double {p.name}({', '.join(params)})", "{", "    /* forward pass */"]
    lines += [f"    double {s.target} = {s.code};" for s in p.forward]
    lines.append("    /* backward pass */")
    lines += [f"    {'double ' if s.first else ''}{s.target} {'=' if s.first else '+='} {s.code};" for s in p.backward]
    lines += [f"    grad[{i}] = {g};" for i, g in enumerate(p.gradients)]
    lines += [f"    return {p.value};", "}"]
    return _C_PRELUDE + _c_constants(p.constants) + "\n" + "\n".join(lines) + "\n"


def _c_constants(used: frozenset[str]) -> str:
    # Only the ones used, so -Wall stays quiet; repr round-trips the double exactly.
    return "".join(f"\nstatic const double {n} = {ops.CONSTANTS[n]!r};" for n in sorted(used)) + ("\n" if used else "")


# ---- JavaScript ---------------------------------------------------------------------------------

_JS_KEYWORDS = """break case catch class const continue debugger default delete do else enum export extends false
finally for function if import in instanceof new null return super switch this throw true try typeof var void while
with yield let static implements interface package private protected public await async of arguments eval undefined
NaN Infinity globalThis Math Object Number"""

JAVASCRIPT = Dialect("javascript", frozenset(_JS_KEYWORDS.split()) | set(HELPERS) | {"pi", "e"}, _unicode,
                     {h: h for h in HELPERS})

_JS_PRELUDE = """\
"use strict";

const exp = Math.exp, sqrt = Math.sqrt, sin = Math.sin, cos = Math.cos, tan = Math.tan, tanh = Math.tanh;
const log = Math.log, pow = Math.pow, floor = Math.floor, abs = Math.abs;
const pi = Math.PI, e = Math.E;

// Both branches are evaluated, as in the interpreter (log(0) is -Infinity, not an error).
function where(c, a, b) { return c ? a : b; }

// Python's max/min: the first of tied arguments wins (Math.max prefers +0 to -0 and spreads NaN).
function vmax(...args) { let m = args[0]; for (const a of args) if (a > m) m = a; return m; }
function vmin(...args) { let m = args[0]; for (const a of args) if (a < m) m = a; return m; }

// How many arguments tie with out: they share the upstream gradient evenly.
function count(out, ...args) { return args.filter((a) => a === out).length; }

function sigmoid(a) {
  if (a >= 0) return 1.0 / (1.0 + Math.exp(-a));
  const z = Math.exp(a);
  return z / (1.0 + z);
}

// log(1 + exp(a)) without overflow for large a or cancellation for very negative a.
function softplus(a) { return a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a)); }
"""


def javascript(graph: Graph) -> str:
    """A self-contained JavaScript script defining grad_f(inputs…) -> [f, {input: ∂f/∂input}]."""
    p = plan(graph, JAVASCRIPT)
    lines = [f"function {p.name}({', '.join(ident for _, ident in p.inputs)}) {{", "  // forward pass"]
    lines += [f"  const {s.target} = {s.code};" for s in p.forward]
    lines.append("  // backward pass")
    lines += [f"  {'let ' if s.first else ''}{s.target} {'=' if s.first else '+='} {s.code};" for s in p.backward]
    lines += [f"  return [{p.value}, {{{_gradient_pairs(p)}}}];", "}"]
    return _JS_PRELUDE + "\n" + "\n".join(lines) + "\n"


LANGUAGES: dict[str, Callable[[Graph], str]] = {"python": python, "c": c, "javascript": javascript}
