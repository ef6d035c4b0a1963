"""THE table of primitives: every gate's forward rule and local derivatives, side by side.

Each rule is written once, as a small expression template over the gate's arguments `{0}`, `{1}`, …,
its output `{out}`, and, for gates that take any number of arguments (max, min), the argument a partial is
for `{k}` and all arguments `{args}`. A template evaluates the same on Python floats (the SCALAR namespace
below), on complex numbers (COMPLEX, for the complex-step check) and on NumPy arrays (a namespace built
where NumPy is used), so the interpreter, generated code and the batch path share one source of truth.

Templates may call only the names every namespace defines: exp log sqrt sin cos tan tanh sigmoid softplus
abs pow floor where vmax vmin count ties. Conditions combine comparisons with | and & (each in parentheses),
which work on bools and on arrays alike; Python's `and`/`or` would not. `where(c, a, b)` evaluates both branches, so a branch must not raise:
`pow` and `log` are IEEE-style here (inf/nan, not exceptions) and domain checks run before the rules.

Adding a function is one entry in OPS plus a sample point; the grammar and the tests pick it up.
"""

from __future__ import annotations

import cmath
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

pi = math.pi
e = math.e
CONSTANTS = {"pi": pi, "e": e}


@dataclass(frozen=True)
class Check:
    """A condition (template) that must hold at the point, and the reason shown when it does not."""

    cond: str
    reason: str


@dataclass(frozen=True)
class Op:
    """One primitive gate.

    forward/partials are evaluated; display is what a person reads (over node names), and the tables show
    each partial as `readable()` makes it, so a derivative rule is written only once.
    arity None means two or more arguments; then `partials` holds one template using `{k}`.
    call: the user writes it as a function call (sin(x)); False for the operators.
    grad_checks apply only when the partial for that argument position is needed (it depends on an input).
    kink is a template whose value (a "branch") changes exactly where the gate is not differentiable.
    """

    name: str
    arity: int | None
    display: str
    forward: str
    partials: tuple[str, ...]
    call: bool = True
    checks: tuple[Check, ...] = ()
    grad_checks: tuple[tuple[int, Check], ...] = ()
    kink: str | None = None
    sample: tuple[float, ...] = ()

    def accepts(self, n: int) -> bool:
        """Whether the gate takes n arguments."""
        return n >= 2 if self.arity is None else n == self.arity

    def partial(self, k: int) -> str:
        """The template of the local partial with respect to argument k."""
        return self.partials[0 if self.arity is None else k]



_SIGN = "where({0} > 0, 1.0, where({0} < 0, -1.0, 0.0))"

OPS: dict[str, Op] = {op.name: op for op in [
    Op("add", 2, "{0}+{1}", "{0} + {1}", ("1.0", "1.0"), call=False, sample=(1.5, -2.0)),
    Op("sub", 2, "{0}-{1}", "{0} - {1}", ("1.0", "-1.0"), call=False, sample=(1.5, -2.0)),
    Op("mul", 2, "{0}*{1}", "{0} * {1}", ("{1}", "{0}"), call=False, sample=(1.5, -2.0)),
    Op("div", 2, "{0}/{1}", "{0} / {1}", ("1.0 / {1}", "-{out} / {1}"), call=False,
       checks=(Check("{1} != 0", "division by zero"),), sample=(1.5, -2.0)),
    Op("pow", 2, "{0}^{1}", "pow({0}, {1})",
       # PyTorch's conventions: d/dbase is 0 when the exponent is 0 (so 0^0 has slope 0),
       # d/dexponent is 0 when the base is 0 (reached only with a positive exponent, see grad_checks).
       ("where({1} == 0, 0.0, {1} * pow({0}, {1} - 1.0))", "where({0} == 0, 0.0, {out} * log({0}))"),
       call=False,
       checks=(Check("({0} != 0) | ({1} >= 0)", "0 to a negative power"),
               Check("({0} >= 0) | ({1} == floor({1}))", "a negative base needs a whole-number exponent")),
       grad_checks=((1, Check("({0} > 0) | (({0} == 0) & ({1} > 0))",
                              "the exponent depends on an input, so the base must be positive")),),
       sample=(1.7, 2.3)),
    Op("neg", 1, "-{0}", "-{0}", ("-1.0",), call=False, sample=(1.5,)),
    Op("exp", 1, "exp({0})", "exp({0})", ("{out}",), sample=(0.7,)),
    Op("log", 1, "log({0})", "log({0})", ("1.0 / {0}",),
       checks=(Check("{0} > 0", "log needs a positive argument"),), sample=(1.7,)),
    Op("sqrt", 1, "sqrt({0})", "sqrt({0})", ("0.5 / {out}",),
       checks=(Check("{0} >= 0", "sqrt needs a non-negative argument"),), sample=(1.7,)),
    Op("sin", 1, "sin({0})", "sin({0})", ("cos({0})",), sample=(0.7,)),
    Op("cos", 1, "cos({0})", "cos({0})", ("-sin({0})",), sample=(0.7,)),
    Op("tan", 1, "tan({0})", "tan({0})", ("1.0 + {out} * {out}",), sample=(0.7,)),
    # tanh' and σ' come from the output, as in the lecture and in PyTorch: 1 - tanh² and σ(1 - σ). Where the
    # output rounds to ±1 (|a| > 19 for tanh, a > 37 for σ) they give 0 for slopes below 1e-16: an
    # absolute error of about one ulp of 1, the price of the lecture's rule.
    Op("tanh", 1, "tanh({0})", "tanh({0})", ("1.0 - {out} * {out}",), sample=(0.7,)),
    Op("sigmoid", 1, "sigmoid({0})", "sigmoid({0})", ("{out} * (1.0 - {out})",),
       sample=(0.7,)),
    # log(1 + e^a) written out overflows for a > 709.78 and cancels to 0 for a < -37; softplus does neither.
    Op("softplus", 1, "softplus({0})", "softplus({0})", ("sigmoid({0})",), sample=(0.7,)),
    Op("relu", 1, "relu({0})", "where({0} > 0, {0}, 0.0)", ("where({0} > 0, 1.0, 0.0)",),
       kink=_SIGN, sample=(0.7,)),
    Op("abs", 1, "abs({0})", "abs({0})", (_SIGN,), kink=_SIGN, sample=(-0.7,)),
    # Ties split the upstream gradient evenly among the tied arguments (PyTorch, JAX).
    Op("max", None, "max({args})", "vmax({args})", ("({k} == {out}) / count({out}, {args})",), kink="ties({out}, {args})", sample=(0.5, -1.0, 2.0)),
    Op("min", None, "min({args})", "vmin({args})", ("({k} == {out}) / count({out}, {args})",), kink="ties({out}, {args})", sample=(0.5, -1.0, 2.0)),
]}

# What the user types.
BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "**": "pow"}
UNARY = {"-": "neg"}
FUNCTIONS = tuple(name for name, op in OPS.items() if op.call)
KINKED = frozenset(name for name, op in OPS.items() if op.kink)


# ---- namespaces the templates evaluate in -------------------------------------------------------

def _log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -math.inf if a == 0 else math.nan


def _pow(a: float, b: float) -> float:
    try:
        r = a ** b
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
    return math.nan if isinstance(r, complex) else r


def _sigmoid(a: float) -> float:
    # Two branches so that neither overflows: sigmoid(-800) is 0-ish, not an error.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _softplus(a: float) -> float:
    # log(1 + e^a) as max(a, 0) + log1p(e^-|a|): no overflow (softplus(800) is 800) and no cancellation
    # (softplus(-40) is e^-40, not 0).
    if a > 0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))


def count(out, *args):
    """How many arguments equal the output (the number of tied winners); works on floats and arrays."""
    return sum(a == out for a in args)


SCALAR: dict[str, object] = {
    "exp": math.exp, "log": _log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "tanh": math.tanh, "sigmoid": _sigmoid, "softplus": _softplus, "abs": abs, "pow": _pow, "floor": math.floor,
    "where": lambda c, a, b: a if c else b, "vmax": max, "vmin": min, "count": count,
    "ties": lambda out, *args: tuple(a == out for a in args),
}

def _cpow(a: complex, b: complex) -> complex:
    # A whole real exponent multiplies by repeated squaring: the general complex power goes through the
    # polar form, whose angle (about pi for a negative base) swamps the 1e-20 the complex step carries.
    if b.imag == 0 and b.real == int(b.real) and abs(b.real) <= 1 << 20:
        n, result, base = abs(int(b.real)), complex(1.0), a
        while n:
            if n & 1:
                result *= base
            base *= base
            n >>= 1
        return result if b.real >= 0 else 1 / result
    return a ** b


def _csigmoid(z: complex) -> complex:
    if z.real >= 0:
        return 1.0 / (1.0 + cmath.exp(-z))
    t = cmath.exp(z)
    return t / (1.0 + t)


def _csoftplus(z: complex) -> complex:
    if z.real > 0:
        return z + _clog1p(cmath.exp(-z))
    return _clog1p(cmath.exp(z))


def _clog1p(w: complex) -> complex:
    # log(1 + w) with log1p for the real part, so softplus(-40 + ih) keeps its real part e^-40 (log would give 0).
    return complex(0.5 * math.log1p(2 * w.real + w.real * w.real + w.imag * w.imag), math.atan2(w.imag, 1 + w.real))


COMPLEX: dict[str, object] = {
    "exp": cmath.exp, "log": cmath.log, "sqrt": cmath.sqrt, "sin": cmath.sin, "cos": cmath.cos,
    "tan": cmath.tan, "tanh": cmath.tanh, "sigmoid": _csigmoid, "softplus": _csoftplus,
    "pow": _cpow,
}


_LIT = r"(?:\(-[0-9.]+(?:e[+-]?[0-9]+)?\)|[0-9.]+(?:e[+-]?[0-9]+)?)"   # 2, 0.5, 1e-3, (-2)
_ARITH = re.compile(rf"(^|\(|, )({_LIT})([-+*/])({_LIT})(?=\)|,|$)")
_COMPARE = re.compile(rf"({_LIT}) (==|!=|>=|<=|>|<) ({_LIT})")
_POW = re.compile(r"pow\(([\w.]+|\(-[0-9.]+\)), ([\w.]+|\(-[0-9.]+\))\)")


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
    return _POW.sub(r"\1^\2", code)


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

def expand(template: str, args: list[str], out: str = "out", k: int = 0) -> str:
    """Fill a template with argument names (or code), the output, and for variadic gates {k} and {args}."""
    return template.format(*args, out=out, k=args[k] if args else "", args=", ".join(args))


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


BACKENDS: dict[str, dict[str, object]] = {"scalar": SCALAR, "complex": {**SCALAR, **COMPLEX}}
_RAISING = {"scalar", "complex"}  # Python's math raises where IEEE gives inf/nan: those rules get _ieee


def add_backend(name: str, namespace: dict[str, object]) -> None:
    """Make another namespace available to `rules` (bpcli.batch adds NumPy's, on the path that uses it).
    Its functions must follow IEEE (inf/nan, not exceptions), as NumPy's do."""
    BACKENDS[name] = namespace


@lru_cache(maxsize=None)
def rules(name: str, arity: int, backend: str = "scalar") -> Rules:
    """The compiled rules of gate `name` with `arity` arguments, for a backend of BACKENDS."""
    op = OPS[name]
    namespace = BACKENDS[backend]
    ieee = _ieee if backend in _RAISING else (lambda fn: fn)
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


# count({out}, {args}) is the same for every argument k: computed once per gate, not once per argument
_SHARED = re.compile(r"\w+\(\{out\}, \{args\}\)")


def _variadic_rules(op: Op, n: int, namespace: dict[str, object], ieee) -> Rules:
    """The rules of max/min with n arguments, read from one tuple `a` (the output last, in the partials).

    Their templates mention every argument ({args}): filled in with n names for each of n partials they
    were n² text to compile (max of 3 000 arguments took 55 s and 8 GB) and n² work per backward pass.
    """
    def fill(template: str, k: str = "a[0]") -> str:
        return template.format(k=k, out=f"a[{n}]", args=f"*a[:{n}]")

    def compiled(template: str, k: str = "a[0]") -> Callable[..., object]:
        return _lambda(fill(template, k), ["*a"], namespace)

    partial = op.partials[0]
    per_k = _lambda(f"lambda *a: {fill(partial, 'a[j]')}", ["j"], namespace)
    shared = list(dict.fromkeys(_SHARED.findall(partial)))
    names = [f"_s{i}" for i in range(len(shared))]
    for call, name in zip(shared, names):
        partial = partial.replace(call, name)
    every = f"(lambda {', '.join(names)}: tuple({fill(partial, 'a[j]')} for j in range({n})))"
    return Rules(
        forward=ieee(compiled(op.forward)),
        partials=tuple(ieee(per_k(j)) for j in range(n)),
        checks=tuple((compiled(c.cond), c.reason) for c in op.checks),
        grad_checks=tuple((k, compiled(c.cond, f"a[{k}]"), c.reason) for k, c in op.grad_checks),
        kink=compiled(op.kink) if op.kink else None,
        forward_raw=compiled(op.forward),
        checked=frozenset(k for k, _ in op.grad_checks),
        all_partials=_lambda(every + f"({', '.join(fill(call) for call in shared)})", ["*a"], namespace),
    )
