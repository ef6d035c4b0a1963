"""THE table of primitives: every gate's forward rule and local derivatives, side by side.

Each rule is written once, as a small expression template over the gate's arguments `{0}`, `{1}`, …,
its output `{out}`, and, for gates that take any number of arguments (max, min), the argument a partial is
for `{k}` and all arguments `{args}`. A template evaluates the same on Python floats, on complex numbers (for
the complex-step check) and on NumPy arrays (the namespaces of bpcli.core.backends), so the interpreter,
generated code and the batch path share one source of truth; bpcli.core.templates fills them in and compiles them.

A call over `({out}, {args})`, such as max/min's tie count `count({out}, {args})`, is the same for every
argument k, so the interpreter, generated code and the batch path compute it once per gate
(templates.split_shared): written per argument it would be n² work and text for n arguments.

Templates may call only the names every namespace defines: exp log sqrt sin cos tan tanh sigmoid softplus
abs pow floor where vmax vmin count ties. Conditions combine comparisons with | and & (each in parentheses),
which work on bools and on arrays alike; Python's `and`/`or` would not. `where(c, a, b)` evaluates both branches, so a branch must not raise:
`pow` and `log` are IEEE-style here (inf/nan, not exceptions) and domain checks run before the rules.

Adding a function is one entry in OPS plus a sample point; the grammar and the tests pick it up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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

