"""THE table of primitives: every gate bpcli knows, with its derivative rules written in bpcli's own language.

A gate's local partials are bpcli expressions over its arguments, named a, b, c in order, and its
output, `out`: mul's are `b` and `a`, sigmoid's `out*(1-out)`. A gate that takes any number of arguments
(max, min, ties) has one partial, for the argument named `a`, and may pass all of them on as `args`
(`eq(a, out)/ties(out, args)`). bpcli.core.rules parses each rule once into the same graph a user's
expression becomes, and everything that computes or shows a derivative comes from that parsed form: the
interpreter, the complex step, the NumPy passes, generated code, the tables' `local` column. So every
derivative bpcli can state is itself a bpcli expression, and the functions the rules need (step, sign,
eq, where, ties) are primitives a user can write too.

A gate is computed by the helper of its name (bpcli.core.helpers: its float, complex, NumPy, Python, C
and JavaScript versions), by an operator, or by `forward`, a bpcli expression over its arguments. So a new
primitive is one entry here, plus a row of helpers only when no expression of existing ones computes it.

Domain checks are predicates that must hold at the point; they use only comparisons, `&` and `|`, so the
same function works on floats and on NumPy arrays. `kink` is an expression whose value (a "branch")
changes exactly where the gate is not differentiable: the perturbation check steps around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

CONSTANTS = {"pi": math.pi, "e": math.e}
ARGUMENTS = ("a", "b", "c")   # how rules name a gate's arguments, in order
OUT = "out"                   # how rules name the gate's output
ALL = "args"                  # a variadic gate's arguments, all of them, as the last arguments of a call


class Check(NamedTuple):
    """A predicate over the gate's arguments that must hold at the point, and the reason shown when not.
    A NamedTuple: defining a dataclass costs start-up time, and every run imports this table."""

    holds: Callable[..., Any]
    reason: str


class Op(NamedTuple):
    """One primitive gate (a NamedTuple, as Check: every run defines it; `_replace` makes a changed copy).

    arity None means any number from two on; then `partials` holds the one rule, for the argument `a`.
    symbol: how the user writes an operator (`+`); None for a function, written as a call (`sin(x)`).
    grad_checks apply only when the partial for that argument position is needed (it depends on an input).
    commutes: its two arguments may be swapped (a+b is b+a), for matching formulas such as STABLE_FORMS.
    sample: a point where the gate is smooth, for the tests.
    """

    name: str
    arity: int | None
    partials: tuple[str, ...]
    symbol: str | None = None
    forward: str | None = None
    checks: tuple[Check, ...] = ()
    grad_checks: tuple[tuple[int, Check], ...] = ()
    kink: str | None = None
    commutes: bool = False
    sample: tuple[float, ...] = ()

    @property
    def call(self) -> bool:
        """Whether the user writes it as a function call (sin(x)) rather than an operator."""
        return self.symbol is None

    def accepts(self, n: int) -> bool:
        """Whether the gate takes n arguments."""
        return n >= 2 if self.arity is None else n == self.arity

    def partial(self, k: int) -> str:
        """The rule of the local partial with respect to argument k."""
        return self.partials[0 if self.arity is None else k]


OPS: dict[str, Op] = {op.name: op for op in [
    Op("add", 2, ("1", "1"), symbol="+", commutes=True, sample=(1.5, -2.0)),
    Op("sub", 2, ("1", "-1"), symbol="-", sample=(1.5, -2.0)),
    Op("mul", 2, ("b", "a"), symbol="*", commutes=True, sample=(1.5, -2.0)),
    Op("div", 2, ("1/b", "-out/b"), symbol="/",
       checks=(Check(lambda a, b: b != 0, "division by zero"),), sample=(1.5, -2.0)),
    # PyTorch's conventions: d/dbase is 0 when the exponent is 0 (so 0^0 has slope 0), d/dexponent is 0
    # when the base is 0 (reached only with a positive exponent, see grad_checks).
    Op("pow", 2, ("where(eq(b, 0), 0, b*a^(b-1))", "where(eq(a, 0), 0, out*log(a))"), symbol="^",
       checks=(Check(lambda a, b: (a != 0) | (b >= 0), "0 to a negative power"),
               Check(lambda a, b: (a >= 0) | (b % 1 == 0), "a negative base needs a whole-number exponent")),
       grad_checks=((1, Check(lambda a, b: (a > 0) | ((a == 0) & (b > 0)),
                              "the exponent depends on an input, so the base must be positive")),),
       sample=(1.7, 2.3)),
    Op("neg", 1, ("-1",), symbol="-", sample=(1.5,)),
    Op("exp", 1, ("out",), sample=(0.7,)),
    Op("log", 1, ("1/a",), checks=(Check(lambda a: a > 0, "log needs a positive argument"),), sample=(1.7,)),
    Op("sqrt", 1, ("0.5/out",), checks=(Check(lambda a: a >= 0, "sqrt needs a non-negative argument"),),
       sample=(1.7,)),
    Op("sin", 1, ("cos(a)",), sample=(0.7,)),
    Op("cos", 1, ("-sin(a)",), sample=(0.7,)),
    Op("tan", 1, ("1 + out*out",), sample=(0.7,)),
    # tanh' and σ' come from the output, as in the lecture and in PyTorch: 1 - tanh² and σ(1 - σ). Where the
    # output rounds to ±1 (|a| > 19 for tanh, a > 37 for σ) they give 0 for slopes below 1e-16: an
    # absolute error of about one ulp of 1, the price of the lecture's rule.
    Op("tanh", 1, ("1 - out*out",), sample=(0.7,)),
    Op("sigmoid", 1, ("out*(1 - out)",), sample=(0.7,)),
    # log(1 + e^a) written out overflows for a > 709.78 and cancels to 0 for a < -37; softplus does neither.
    Op("softplus", 1, ("sigmoid(a)",), sample=(0.7,)),
    Op("relu", 1, ("step(a)",), kink="sign(a)", sample=(0.7,)),
    Op("abs", 1, ("sign(a)",), kink="sign(a)", sample=(-0.7,)),
    # Ties split the upstream gradient evenly among the tied arguments (PyTorch, JAX).
    Op("max", None, ("eq(a, out)/ties(out, args)",), kink="eq(a, out)", sample=(0.5, -1.0, 2.0)),
    Op("min", None, ("eq(a, out)/ties(out, args)",), kink="eq(a, out)", sample=(0.5, -1.0, 2.0)),
    # The functions the rules above are written with. Each is flat or jumps, so its slopes are 0 (where it
    # jumps too, as PyTorch has it), and its kink is wherever its value changes.
    Op("step", 1, ("0",), kink="out", sample=(0.7,)),
    Op("sign", 1, ("0",), kink="out", sample=(-0.7,)),
    Op("eq", 2, ("0", "0"), kink="out", sample=(1.5, -2.0)),
    Op("where", 3, ("0", "where(a, 1, 0)", "where(a, 0, 1)"), kink="eq(a, 0)", sample=(1.0, 1.5, -2.0)),
    Op("ties", None, ("0",), kink="out", sample=(0.5, 0.5, 2.0)),
]}

# Formulas that overflow where a primitive does not: an overflow inside one names the primitive.
STABLE_FORMS = (("log(1+exp(a))", "softplus(a)"), ("1/(1+exp(-a))", "sigmoid(a)"))

# What the user types.
BINARY = {op.symbol: name for name, op in OPS.items() if op.symbol and op.arity == 2}
BINARY["**"] = "pow"
UNARY = {op.symbol: name for name, op in OPS.items() if op.symbol and op.arity == 1}
FUNCTIONS = tuple(name for name, op in OPS.items() if op.call)
KINKED = frozenset(name for name, op in OPS.items() if op.kink)
