"""What is done with a rule template of `primitives.OPS`: filled in, read, and compiled.

`expand` fills a template with argument names or code (the tables, codegen); `split_shared` finds the parts
of a variadic gate's partial that are the same for every argument, to compute once per gate; `readable`
turns a filled-in rule into what a person reads; `rules` compiles a gate's templates, for one arity, into
plain callables over the numbers of a namespace of bpcli.core.backends (the interpreter, the complex-step
check, the batch path).
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

from bpcli import primitives
from bpcli.core.backends import BACKENDS, RAISING


def expand(template: str, args: list[str], out: str = "out", k: int = 0, shared: Sequence[str] = ()) -> str:
    """Fill a template with argument names (or code), the output, and for variadic gates {k} and {args};
    `shared` fills the fields `split_shared` left, with where each per-gate part is kept."""
    # Only what the template names: each of a variadic gate's n partials given all n names would be n² work.
    positional, whole = _named(template)
    return template.format(*args[:positional], out=out, k=args[k] if args else "",
                           args=", ".join(args) if whole else "", **_fields(shared))


@lru_cache(maxsize=1 << 10)  # a few templates (per dialect and arity), filled in again and again
def _named(template: str) -> tuple[int, bool]:
    """How many positional arguments a template names ({0}, {1}, …), and whether it names {args}."""
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return max((int(f) + 1 for f in fields if f.isdigit()), default=0), "args" in fields


# count({out}, {args}) is the same for every argument k: computed once per gate, not once per argument
# (per argument it is n² work for n arguments, and n² text in generated code)
_SHARED = re.compile(r"\w+\(\{out\}, \{args\}\)")


def split_shared(template: str) -> tuple[str, tuple[str, ...]]:
    """A partial template's per-gate parts, the calls over `({out}, {args})` (max/min's tie count), and the
    template with each replaced by a field `{shared0}`, `{shared1}`, … for `expand`'s `shared` to fill."""
    calls = tuple(dict.fromkeys(_SHARED.findall(template)))
    for i, call in enumerate(calls):
        template = template.replace(call, f"{{shared{i}}}")
    return template, calls


def _fields(shared: Sequence[str]) -> dict[str, str]:
    return {f"shared{i}": name for i, name in enumerate(shared)}


# ---- reading a filled-in rule -------------------------------------------------------------------

_LIT = r"(?:\(-[0-9.]+(?:e[+-]?[0-9]+)?\)|[0-9.]+(?:e[+-]?[0-9]+)?)"   # 2, 0.5, 1e-3, (-2)
_ARITH = re.compile(rf"(^|\(|, )({_LIT})([-+*/])({_LIT})(?=\)|,|$)")
_COMPARE = re.compile(rf"({_LIT}) (==|!=|>=|<=|>|<) ({_LIT})")
_POW = re.compile(r"pow\(([\w.]+|\(-[0-9.]+\)), ([\w.]+|\(-[0-9.]+\))\)")
_FIRST_POWER = re.compile(r"([\w.]+|\(-[0-9.]+\))\^1(?![\w.])")


@lru_cache(maxsize=1 << 16)  # the same few strings ("1.0", "-1.0", …) recur on every edge of a big graph
def readable(code: str) -> str:
    """A filled-in rule as a person reads it; the tables show the very rule that computed the number.

    `1.0 - v * v` → `1-v*v`; with constant arguments the rule is folded: pow's
    `where(3 == 0, 0, 3*pow(x, 3-1))` → `3*x^2`.
    """
    if " " not in code and "(" not in code and ".0" not in code:
        return code  # a bare name or number (mul's partials are the other argument): nothing to do
    code = re.sub(r"(?<![\w.])([0-9]+)\.0\b", r"\1", code)
    for op in ("*", "/", "+", "-"):
        code = code.replace(f" {op} ", op)
    code = _ARITH.sub(lambda m: m.group(1) + _literal(eval(f"{_num(m.group(2))}{m.group(3)}{_num(m.group(4))}")),
                      code)  # noqa: S307 - two numbers and an operator, matched above
    code = _fold_where(code)
    return _FIRST_POWER.sub(r"\1", _POW.sub(r"\1^\2", code))  # 2*d, not 2*d^1


def _num(text: str) -> float:
    return float(text.strip("()"))


def _literal(value: float) -> str:
    text = f"{value:.12g}"
    return f"({text})" if value < 0 else text


def _fold_where(code: str) -> str:
    """Replace where(c, a, b) by a or b wherever c compares two numbers."""
    start = code.find("where(")
    while start != -1:
        args, end = _call_args(code, start + len("where("))
        test = _COMPARE.fullmatch(args[0]) if len(args) == 3 else None
        if test:
            left, op, right = _num(test.group(1)), test.group(2), _num(test.group(3))
            taken = args[1] if eval(f"{left} {op} {right}") else args[2]  # noqa: S307 - numbers only
            code = code[:start] + taken + code[end:]
            start = code.find("where(")
        else:
            start = code.find("where(", start + 1)
    return code


def _call_args(code: str, i: int) -> tuple[list[str], int]:
    """The top-level arguments of a call whose '(' ends just before i, and the index after its ')'."""
    args, depth, begin = [], 0, i
    while depth >= 0:
        ch = code[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and ch == "," or depth < 0:
            args.append(code[begin:i].strip())
            begin = i + 1
        i += 1
    return args, i


# ---- compiling templates ------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """A gate's templates compiled for one arity and one namespace: plain callables over numbers."""

    forward: Callable[..., float]                  # (*args)
    partials: tuple[Callable[..., float], ...]     # each (*args, out)
    checks: tuple[tuple[Callable[..., bool], str], ...]             # each (*args)
    grad_checks: tuple[tuple[int, Callable[..., bool], str], ...]   # each (*args)
    kink: Callable[..., object] | None             # (*args, out)
    all_partials: Callable[..., tuple] | None = None   # (*args, out) → every partial at once; may raise
    forward_raw: Callable[..., float] | None = None     # (*args), as forward but may raise
    checked: frozenset[int] = frozenset()               # the argument positions that have grad_checks
    # The partials share a per-gate part (split_shared): all_partials computes it once and each of
    # `partials` again, so a caller that wants several of them calls all_partials.
    shares: bool = False


def _lambda(body: str, params: list[str], namespace: dict[str, object]) -> Callable[..., object]:
    return eval(f"lambda {', '.join(params)}: {body}", dict(namespace))  # noqa: S307 - our own table's text


def _ieee(fn: Callable[..., object]) -> Callable[..., object]:
    """IEEE semantics for Python numbers: exceptions from math become inf/nan, which the engine checks."""
    def call(*a):
        try:
            return fn(*a)
        except (OverflowError, ZeroDivisionError):
            return math.inf
        except ValueError:
            return math.nan
    return call


@lru_cache(maxsize=None)
def rules(name: str, arity: int, backend: str = "scalar") -> Rules:
    """The compiled rules of gate `name` with `arity` arguments, for a backend of BACKENDS."""
    op = primitives.OPS[name]
    namespace = BACKENDS[backend]
    ieee = _ieee if backend in RAISING else (lambda fn: fn)
    if op.arity is None:
        return _variadic_rules(op, arity, namespace, ieee)
    args = [f"a{i}" for i in range(arity)]
    with_out = args + ["out"]

    def compiled(template: str, params: list[str], k: int = 0) -> Callable[..., object]:
        return _lambda(expand(template, args, out="out", k=k), params, namespace)

    return Rules(
        forward=ieee(compiled(op.forward, args)),
        partials=tuple(ieee(compiled(op.partial(k), with_out, k)) for k in range(arity)),
        checks=tuple((compiled(c.cond, args), c.reason) for c in op.checks),
        grad_checks=tuple((k, compiled(c.cond, args), c.reason) for k, c in op.grad_checks),
        kink=compiled(op.kink, with_out) if op.kink else None,
        # One call for the whole gate, for the backward pass's common case; it raises where math does (the
        # engine then falls back on `partials`, which give IEEE inf/nan, one by one).
        forward_raw=compiled(op.forward, args),
        checked=frozenset(k for k, _ in op.grad_checks),
        all_partials=_lambda("(" + "".join(expand(op.partial(k), args, out="out", k=k) + ", " for k in range(arity))
                             + ")", with_out, namespace),
    )


def _variadic_rules(op: primitives.Op, n: int, namespace: dict[str, object], ieee) -> Rules:
    """The rules of max/min with n arguments, read from one tuple `a` (the output last, in the partials).

    Their templates mention every argument ({args}): filled in with n names for each of n partials they
    were n² text to compile (max of 3 000 arguments took 55 s and 8 GB) and n² work per backward pass.
    """
    def fill(template: str, k: str = "a[0]", shared: Sequence[str] = ()) -> str:
        return template.format(k=k, out=f"a[{n}]", args=f"*a[:{n}]", **_fields(shared))

    def compiled(template: str, k: str = "a[0]") -> Callable[..., object]:
        return _lambda(fill(template, k), ["*a"], namespace)

    per_k = _lambda(f"lambda *a: {fill(op.partials[0], 'a[j]')}", ["j"], namespace)
    partial, shared = split_shared(op.partials[0])
    names = [f"_s{i}" for i in range(len(shared))]
    every = f"(lambda {', '.join(names)}: tuple({fill(partial, 'a[j]', names)} for j in range({n})))"
    return Rules(
        forward=ieee(compiled(op.forward)),
        partials=tuple(ieee(per_k(j)) for j in range(n)),
        checks=tuple((compiled(c.cond), c.reason) for c in op.checks),
        grad_checks=tuple((k, compiled(c.cond, f"a[{k}]"), c.reason) for k, c in op.grad_checks),
        kink=compiled(op.kink) if op.kink else None,
        forward_raw=compiled(op.forward),
        checked=frozenset(k for k, _ in op.grad_checks),
        all_partials=_lambda(every + f"({', '.join(fill(call) for call in shared)})", ["*a"], namespace),
        shares=bool(shared),
    )
