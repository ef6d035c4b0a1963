"""The derivative rules of bpcli.primitives, parsed once, and everything made from that one parsed form.

Each rule (a partial, a kink, an expression-defined forward) is bpcli source; `parsed` reads it with
bpcli's own parser into the graph a user's expression becomes. From that graph:

- `rules` builds plain Python functions over the numbers of a backend: floats (the interpreter), complex
  numbers (the complex step) or NumPy arrays (the many-points path). It translates the graph into a
  Python syntax tree (the `ast` module) and compiles that; no rule is ever text handed to Python.
- `spelled` writes a rule out, its arguments filled in and constant parts folded: for the tables' `local`
  column in bpcli's notation (`3*x^2`), for generated code in each target language (`3.0 * pow(x, 2.0)`).

Parts of a variadic gate's partial that do not depend on the argument it is for (max's tie count
`ties(out, args)`) are the same for every argument: `shared_parts` finds them, and the interpreter, the
batch path and generated code compute them once per gate (per argument they are n² work for n arguments).
"""

from __future__ import annotations

import ast
import builtins
import math
import types
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from bpcli import primitives
from bpcli.core.nodes import CONST, INPUT, Node

A, OUT, ALL = primitives.ARGUMENTS[0], primitives.OUT, primitives.ALL

# The operators, on every kind of number: how Python spells each, and how it computes one on floats.
_AST_OPS: dict[str, ast.operator | ast.unaryop] = {"add": ast.Add(), "sub": ast.Sub(), "mul": ast.Mult(),
                                                   "div": ast.Div(), "neg": ast.USub()}


# ---- parsing ------------------------------------------------------------------------------------

# The records here are NamedTuples rather than dataclasses: every run defines them, and a dataclass takes
# some ten times longer to define (start-up time).

class Rule(NamedTuple):
    """One rule, parsed: its nodes in forward order (leaves first), the last one its value."""

    source: str
    nodes: tuple[Node, ...]

    @property
    def root(self) -> int:
        return len(self.nodes) - 1


class Parsed(NamedTuple):
    """A primitive's rules, parsed: its partials (one for a variadic gate), kink and forward."""

    partials: tuple[Rule, ...]
    kink: Rule | None
    forward: Rule | None    # for a primitive defined by an expression of others


@lru_cache(maxsize=None)
def parse(source: str) -> Rule:
    """A rule's source, read by bpcli's parser and lowered as a user's expression is."""
    from bpcli.core.lowering import lower   # lowering builds graphs, whose gates look their rules up here
    from bpcli.language.parser import parse as parse_source

    graph = lower(parse_source(source), source)
    nodes = graph.nodes
    # The output last, as the walks below expect (lowering puts it last unless it is a leaf).
    return Rule(source, nodes if graph.output == len(nodes) - 1 else nodes + (nodes[graph.output],))


def parsed(name: str) -> Parsed:
    """The parsed rules of primitive `name`."""
    return _parsed(primitives.OPS[name])


@lru_cache(maxsize=None)
def _parsed(op: primitives.Op) -> Parsed:
    # keyed by the table's entry itself, so a changed entry is parsed anew
    return Parsed(tuple(parse(p) for p in op.partials), parse(op.kink) if op.kink else None,
                  parse(op.forward) if op.forward else None)


def forget() -> None:
    """Drop every parsed and compiled rule, for a table of primitives that changed (the tests swap rules)."""
    _parsed.cache_clear()
    _rules.cache_clear()


def shared_parts(rule: Rule) -> tuple[int, ...]:
    """The largest parts of a variadic gate's partial that do not involve its argument `a`, in forward order."""
    nodes = rule.nodes
    involves = [node.op == INPUT and node.name == A for node in nodes]
    for i, node in enumerate(nodes):
        if node.is_gate:
            involves[i] = any(involves[a] for a in node.args)
    return tuple(dict.fromkeys(a for i, node in enumerate(nodes) if node.is_gate and involves[i]
                               for a in node.args if nodes[a].is_gate and not involves[a]))


# ---- compiling to Python functions --------------------------------------------------------------

def fold(rule: Rule, leaves: Mapping[str, Any], constant: Callable[[Node], Any], gate: Callable[[str, list], Any],
         shared: Mapping[int, Any] | None = None) -> Any:
    """The rule's value in some algebra (Python syntax trees, bpcli.symbolic's expressions): each leaf name
    bound by `leaves` (`args` to a list, spread into the call it is an argument of), each node of `shared`
    given already made, constants and gates made by `constant(node)` and `gate(name, arguments)`."""
    made: list[Any] = []
    for i, node in enumerate(rule.nodes):
        if shared and i in shared:
            made.append(shared[i])
        elif node.op == INPUT:
            made.append(leaves[node.name])
        elif node.op == CONST:
            made.append(constant(node))
        else:
            args: list[Any] = []
            for a in node.args:
                args += made[a] if isinstance(made[a], list) else [made[a]]
            made.append(gate(node.op, args))
    return made[rule.root]


def _expression(rule: Rule, leaves: Mapping[str, ast.expr | list[ast.expr]],
                shared: Mapping[int, ast.expr] | None = None) -> ast.expr:
    """The rule as one Python expression: each leaf name bound to an expression, each node of `shared` to a
    name. Gates of primitives with a `forward` expression are expanded into it."""
    return fold(rule, leaves, lambda node: ast.Constant(node.const), _gate_expression, shared)


def _gate_expression(name: str, args: list[ast.expr]) -> ast.expr:
    op = primitives.OPS[name]
    if name in _AST_OPS:
        symbol = _AST_OPS[name]
        if isinstance(symbol, ast.unaryop):
            return ast.UnaryOp(symbol, args[0])
        return ast.BinOp(args[0], symbol, args[1])
    own = parsed(name).forward
    if own is not None:
        return _expression(own, bound(op, args))
    return ast.Call(ast.Name(name, ast.Load()), args, [])


def bound(op: primitives.Op, args: Sequence[Any], out: Any = None, argument: Any = None) -> dict[str, Any]:
    """A gate's rule leaves bound: its arguments (a, b, … or, for a variadic gate, `args` and `argument`, the
    one a partial is for, as `a`), and its output when given."""
    leaves: dict[str, Any] = {ALL: list(args)} if op.arity is None else dict(zip(primitives.ARGUMENTS, args))
    if argument is not None:
        leaves[A] = argument
    if out is not None:
        leaves[OUT] = out
    return leaves


def _name(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _item(sequence: str, index: ast.expr | int) -> ast.Subscript:
    return ast.Subscript(_name(sequence), index if isinstance(index, ast.expr) else ast.Constant(index), ast.Load())


def _function(params: Sequence[str], body: ast.expr, namespace: dict[str, Any], star: str | None = None):
    """Compile `lambda params, *star: body`, its names looked up in `namespace`."""
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params],
                              vararg=ast.arg(star) if star else None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                              defaults=[])
    tree = ast.fix_missing_locations(ast.Expression(ast.Lambda(arguments, body)))
    code = compile(tree, "<bpcli rule>", "eval")
    lambda_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    return types.FunctionType(lambda_code, namespace)


class Rules(NamedTuple):
    """A gate's rules compiled for one arity and one backend: plain callables over numbers."""

    forward: Callable[..., Any]                    # (*args)
    partials: tuple[Callable[..., Any], ...]       # each (*args, out)
    checks: tuple[tuple[Callable[..., Any], str], ...]             # each (*args)
    grad_checks: tuple[tuple[int, Callable[..., Any], str], ...]   # each (*args)
    kink: Callable[..., Any] | None                # (*args, out)
    all_partials: Callable[..., tuple[Any, ...]]   # (*args, out) → every partial at once; may raise
    forward_raw: Callable[..., Any]                # (*args), as forward but may raise
    checked: frozenset[int] = frozenset()              # the argument positions that have grad_checks
    # The partials share a per-gate part (shared_parts): all_partials computes it once and each of
    # `partials` again, so a caller that wants several of them calls all_partials.
    shares: bool = False


_NAMESPACES: dict[str, dict[str, Any]] = {}


def namespace(backend: str) -> dict[str, Any]:
    """What compiled rules call on a backend: its column of the table of helpers."""
    if backend not in _NAMESPACES:
        from bpcli.core import helpers   # here: parsing alone (a Tab's variables) needs no table of helpers

        if backend == "numpy":
            raise LookupError("the numpy backend is made by bpcli.points.arrays, the one path that imports NumPy")
        _NAMESPACES[backend] = {"__builtins__": builtins, **helpers.namespace(backend)}
    return _NAMESPACES[backend]


def add_backend(name: str, functions: Mapping[str, Any]) -> None:
    """Make the helpers of another kind of number available to `rules` (bpcli.points.arrays adds NumPy's)."""
    _NAMESPACES[name] = {"__builtins__": builtins, **functions}
    _rules.cache_clear()


def _ieee(fn: Callable[..., Any]) -> Callable[..., Any]:
    """IEEE semantics for Python numbers: exceptions from math become inf/nan, which the engine checks."""
    def call(*a):
        try:
            return fn(*a)
        except (OverflowError, ZeroDivisionError):
            return math.inf
        except ValueError:
            return math.nan
    return call


def rules(name: str, arity: int, backend: str = "float") -> Rules:
    """The compiled rules of gate `name` with `arity` arguments, for a backend ("float", "complex", "numpy")."""
    return _rules(primitives.OPS[name], arity, backend)


@lru_cache(maxsize=None)
def _rules(op: primitives.Op, arity: int, backend: str) -> Rules:
    # keyed by the table's entry itself, so a changed entry is compiled anew
    name = op.name
    space = namespace(backend)
    ieee = _ieee if backend in ("float", "complex") else (lambda fn: fn)
    forms = parsed(name)
    checks = tuple((c.holds, c.reason) for c in op.checks)
    grad_checks = tuple((k, c.holds, c.reason) for k, c in op.grad_checks)
    if op.arity is None:
        return _variadic_rules(name, forms, arity, space, ieee, checks, grad_checks)
    params = [f"a{i}" for i in range(arity)]
    leaves: dict[str, Any] = {p: _name(v) for p, v in zip(primitives.ARGUMENTS, params)}
    leaves[OUT] = _name("out")
    with_out = params + ["out"]
    forward = _function(params, _gate_expression(name, [_name(p) for p in params]), space)
    partials = [_expression(forms.partials[k], leaves) for k in range(arity)]
    return Rules(
        forward=ieee(forward),
        partials=tuple(ieee(_function(with_out, p, space)) for p in partials),
        checks=checks,
        grad_checks=grad_checks,
        kink=_function(with_out, _expression(forms.kink, leaves), space) if forms.kink else None,
        # One call for the whole gate, for the backward pass's common case; it raises where math does (the
        # engine then falls back on `partials`, which give IEEE inf/nan, one by one).
        all_partials=_function(with_out, ast.Tuple(partials, ast.Load()), space),
        forward_raw=forward,
        checked=frozenset(k for k, _ in op.grad_checks),
    )


def _variadic_rules(name: str, forms: Parsed, n: int, space: dict[str, Any], ieee, checks, grad_checks) -> Rules:
    """The rules of a variadic gate with n arguments, read from one tuple `v` (the output last, in the
    partials). Each rule is compiled once for every n, not once per argument: n partials each naming all
    n arguments would be n² to compile and to run."""
    every = ast.Starred(ast.Subscript(_name("v"), ast.Slice(None, ast.Constant(n), None), ast.Load()), ast.Load())
    out = _item("v", n)

    def for_argument(rule: Rule, index: ast.expr, shared: Mapping[int, ast.expr] | None = None) -> ast.expr:
        return _expression(rule, {A: _item("v", index), OUT: out, ALL: [every]}, shared)

    partial = forms.partials[0]
    per_k = _function(["j"], ast.Lambda(_star("v"), for_argument(partial, _name("j"))), space)
    parts = shared_parts(partial)
    names = {i: _name(f"_s{k}") for k, i in enumerate(parts)}
    each = _generator(for_argument(partial, _name("j"), names), n)
    holding = ast.Call(ast.Lambda(_plain([f"_s{k}" for k in range(len(parts))]), each),
                       [_expression(part(partial, i), {A: _item("v", 0), OUT: out, ALL: [every]}) for i in parts],
                       [])
    forward = _function([], _gate_expression(name, [every]), space, star="v")
    kink = (_function([], _generator(for_argument(forms.kink, _name("j")), n), space, star="v")
            if forms.kink else None)
    return Rules(
        forward=ieee(forward),
        partials=tuple(ieee(per_k(j)) for j in range(n)),
        checks=checks,
        grad_checks=grad_checks,
        kink=kink,
        forward_raw=forward,
        checked=frozenset(k for k, _, _ in grad_checks),
        all_partials=_function([], holding, space, star="v"),
        shares=bool(parts),
    )


def part(rule: Rule, i: int) -> Rule:
    """The subexpression of `rule` whose value is node i, as a rule of its own."""
    return Rule(rule.source, rule.nodes[:i + 1])


def _star(name: str) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=ast.arg(name), kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


def _plain(params: Sequence[str]) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], vararg=None, kwonlyargs=[],
                         kw_defaults=[], kwarg=None, defaults=[])


def _generator(element: ast.expr, n: int) -> ast.expr:
    """tuple(element for j in range(n))"""
    loop = ast.comprehension(ast.Name("j", ast.Store()), ast.Call(_name("range"), [ast.Constant(n)], []), [], 0)
    return ast.Call(_name("tuple"), [ast.GeneratorExp(element, [loop])], [])


# ---- writing a rule out -------------------------------------------------------------------------

class Operand(NamedTuple):
    """What a rule's leaf stands for when written out: a text, and the value when it is a constant.
    `literal`: the text is the number itself (2, 0.5), so arithmetic on it may be folded; pi is not."""

    text: str
    value: float | None = None
    literal: bool = False


class Notation(NamedTuple):
    """How a rule is written out: bpcli's own (the tables) or a target language's (generated code)."""

    number: Callable[[float], str]                # a non-negative number
    call: Callable[[str, int], tuple[str, str]]   # helper, number of arguments → (function, leading arguments)
    operator_space: str = ""                      # around binary operators


def _bpcli_number(value: float) -> str:
    return f"{value:.12g}"


BPCLI = Notation(_bpcli_number, lambda helper, n: (helper, ""), "")

# Precedence, loosest first: the grammar's layers (grammar/bpcli.lark), which Python, C and JavaScript share
# for these operators.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)
_SYMBOLS = {"add": ("+", _SUM), "sub": ("-", _SUM), "mul": ("*", _PRODUCT), "div": ("/", _PRODUCT)}


class _Term(NamedTuple):
    text: str
    precedence: int
    value: float | None = None     # known: a constant, or a part that folded to one
    literal: bool = False

    def operand(self, at_least: int) -> str:
        """The text as an operand that must bind at least as tightly as `at_least`."""
        return self.text if self.precedence >= at_least else f"({self.text})"


def spelled(rule: Rule, leaves: Mapping[str, Operand | Sequence[Operand]], notation: Notation = BPCLI,
            shared: Mapping[int, str] | None = None, grouped: bool = False) -> str:
    """The rule written out with its leaves filled in and folded where constant: `3*x^2` for pow's
    partial at x^3. `shared` gives the names that hold parts computed once per gate. `grouped`: in
    parentheses unless one name, number or call, to be multiplied as a whole."""
    def leaf(name: str) -> Any:
        given = leaves[name]
        return _leaf(given, notation) if isinstance(given, Operand) else [_leaf(o, notation) for o in given]

    top = _spell(rule, leaf, notation, shared)
    if top.value is not None and top.literal and top.value < 0:
        return "-" + notation.number(-top.value)
    return top.operand(_ATOM) if grouped else top.text


def _spell(rule: Rule, leaf: Callable[[str], Any], notation: Notation,
           shared: Mapping[int, str] | None = None) -> _Term:
    """The rule's value as a term. A leaf is looked up only where a gate that is written out uses it, so a
    variadic gate's `args` held in a shared part costs nothing per edge."""
    terms: list[Any] = []
    for i, node in enumerate(rule.nodes):
        if shared and i in shared:
            terms.append(_Term(shared[i], _ATOM))
        elif node.op == INPUT:
            terms.append(None)   # looked up on use
        elif node.op == CONST:
            assert node.const is not None   # a constant node carries its value
            terms.append(_number(node.const, notation, literal=True))
        else:
            args: list[_Term] = []
            for a in node.args:
                if terms[a] is None:
                    terms[a] = leaf(rule.nodes[a].name)
                args += terms[a] if isinstance(terms[a], list) else [terms[a]]
            terms.append(_gate_term(node.op, args, notation))
    top = terms[rule.root]
    return leaf(rule.nodes[rule.root].name) if top is None else top


def spelled_gate(name: str, operands: Sequence[Operand], notation: Notation = BPCLI) -> str:
    """A gate over its operands, as the user would write it: `x*y`, `sin(v)`, `max(a, b, c)`."""
    return _gate_term(name, [_leaf(o, notation) for o in operands], notation, fold=False).text


class Template:
    """A spelling with holes: written once with placeholder operands, then filled per gate with names.

    Spelling depends on an operand's text only by copying it (a name is an atom, and only constants
    fold), so a template made for one gate holds for every gate with the same op, constants and rule.
    """

    def __init__(self, spell: Callable[[list[Operand]], str], operands: Sequence[Operand | None]) -> None:
        holes = [Operand(f"\x00{j}\x00") if o is None else o for j, o in enumerate(operands)]
        parts = spell(holes).replace("{", "{{").replace("}", "}}").split("\x00")
        # fill(*texts): the spelling with texts[j] in hole j (texts of the other operands are ignored)
        self.fill = "".join(f"{{{p}}}" if j % 2 else p for j, p in enumerate(parts)).format


def _leaf(operand: Operand, notation: Notation) -> _Term:
    return _Term(operand.text, _ATOM, operand.value, operand.literal and operand.value is not None)


def _number(value: float, notation: Notation, literal: bool) -> _Term:
    text = notation.number(abs(value)) if not math.isnan(value) else notation.number(value)
    if value < 0 or (value == 0 and math.copysign(1.0, value) < 0):
        text = f"(-{text})"
    return _Term(text, _ATOM, value, literal)


def _gate_term(name: str, args: list[_Term], notation: Notation, fold: bool = True) -> _Term:
    op = primitives.OPS[name]
    values = [a.value for a in args]
    if fold and all(v is not None for v in values):
        value = _value(name, values)
        if all(a.literal for a in args) and value is not None and math.isfinite(value):
            return _number(value, notation, literal=True)
    if fold and name == "where" and values[0] is not None:
        return args[1] if values[0] != 0 else args[2]
    if fold and name == "pow" and values[1] == 1.0 and args[1].literal:
        return args[0]
    known = _value(name, values) if all(v is not None for v in values) else None
    if op.forward and notation is not BPCLI:   # code has no function of that name: its formula, inline
        forward = _parsed(op).forward
        assert forward is not None   # parsed from op.forward
        return _spell(forward, bound(op, args).__getitem__, notation)
    if name in _SYMBOLS:
        symbol, level = _SYMBOLS[name]
        space = notation.operator_space
        text = f"{args[0].operand(level)}{space}{symbol}{space}{args[1].operand(level + 1)}"
        return _Term(text, level, known)
    if name == "neg":
        return _Term(f"-{args[0].operand(_POWER)}", _UNARY, known)
    if name == "pow" and notation is BPCLI:
        return _Term(f"{args[0].operand(_ATOM)}^{args[1].operand(_POWER)}", _POWER, known)
    function, leading = notation.call(name, len(args))
    texts = [a.text for a in args]
    return _Term(f"{function}({leading}{', '.join(texts)})", _ATOM, known)


def _value(name: str, values: list) -> float | None:
    """A gate's value on floats, computed as the interpreter does; None where it is undefined."""
    try:
        return rules(name, len(values)).forward_raw(*values)
    except (ArithmeticError, ValueError):
        return None
