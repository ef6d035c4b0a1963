"""Formulas as one shared graph of expressions, simplified as they are built.

An `Algebra` makes every expression through constructors that simplify: constants folded exactly (as
fractions: the 0.1 a user types is 1/10), `x*1`, `x+0`, `0*x` and `--x` gone, like terms collected (a sum
is a constant plus coefficients × terms, a product a coefficient × bases to exponents: `x + x` is `2*x`,
`x*x` is `x^2`), a number that multiplies a sum distributed over it. Equal expressions are one object
(hash-consing), so a formula that names a part many times holds it once, and every walk over one is a
loop over ids: an expression's arguments are always made before it, so have smaller ids.

Simplification never changes a value where the expression is defined, with one exception that is said:
`x/x` and `x^2/x` cancel (to 1 and x), and the base is then recorded in `conditions` (the result holds
where it is not 0). Transcendental functions of constants stay as written (`sin(2)`, `sqrt(2)`), except
at the points where their value is exact (`exp(0)`, `sqrt(4)`).

Besides these canonical forms, `raw` makes a gate exactly as the user's graph has it (`x*x` with its two
edges), for the forward pass that the tables show; `gate` makes the canonical form of any primitive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

from bpcli import primitives
from bpcli.core import rules as rule_forms

NUM, SYM, SUM, PROD, GATE = "num", "sym", "sum", "prod", "gate"
Q = Fraction | int   # an exact number: whole ones are ints
SIZE_CAP = 1 << 40   # sizes saturate here: a shared graph's tree can be exponentially large


class Expr:
    """One expression. Made only by an Algebra, which makes each distinct expression once.

    kind NUM: `num` is its value (a Q). SYM: `name` (an input, a program's step, or pi/e with
    `value`). SUM: `num` + Σ coefs[i]·args[i]. PROD: `num` · Π args[i]^coefs[i]. GATE: primitive `name`
    over `args`; `raw` when it is a user's gate kept as written (operators too).
    `size` is the number of nodes of the expression written out as a tree (saturating at SIZE_CAP).
    """

    __slots__ = ("id", "kind", "name", "args", "coefs", "num", "value", "raw", "size")

    def __init__(self, id_: int, kind: str, name: str = "", args: tuple[Expr, ...] = (),
                 coefs: tuple[Q, ...] = (), num: Q = 0, value: float | None = None,
                 raw: bool = False) -> None:
        self.id = id_
        self.kind = kind
        self.name = name
        self.args = args
        self.coefs = coefs
        self.num = num
        self.value = value
        self.raw = raw
        self.size: int = 1 if not args else min(SIZE_CAP, 1 + sum([a.size for a in args])
                                                 + len(args) * (kind is SUM or kind is PROD))

    @property
    def atomic(self) -> bool:
        """A number or a name: what costs nothing to repeat."""
        return self.kind in (NUM, SYM)

    def __repr__(self) -> str:   # for debugging only; text.written is the notation
        return f"Expr#{self.id}({self.kind} {self.name or self.num})"


def exact(value: float) -> Q:
    """The number a float literal stands for, as the user typed it: 0.1 is 1/10, not the nearest double."""
    q = Fraction(repr(float(value)))
    return q.numerator if q.denominator == 1 else q


# Values of functions at constants that are exact, so folded (sin(2) stays sin(2)).
_EXACT_AT: dict[tuple[str, Q | int], Q | int] = {
    ("exp", 0): 1, ("log", 1): 0, ("sin", 0): 0, ("cos", 0): 1, ("tan", 0): 0, ("tanh", 0): 0,
             ("sigmoid", 0): Fraction(1, 2), ("relu", 0): 0, ("abs", 0): 0}


def _magnitude(q: Q) -> Q:
    """|q|, typed as exact (abs() of a union of int and Fraction is not, to the type checker)."""
    return -q if q < 0 else q


def _rational_sqrt(q: Q) -> Q | None:
    if q < 0:
        return None
    p, d = math.isqrt(q.numerator), math.isqrt(q.denominator)
    return Fraction(p, d) if p * p == q.numerator and d * d == q.denominator else None


def _exact_gate(name: str, values: list[Q]) -> Q | None:
    """The exact value of a gate at constant arguments, where it is rational; None where it is not (or is
    undefined)."""
    if len(values) == 1 and (name, values[0]) in _EXACT_AT:
        return _EXACT_AT[name, values[0]]
    v = values
    if name == "abs":
        return _magnitude(v[0])
    if name == "relu":
        return max(v[0], 0)
    if name == "step":
        return int(v[0] > 0)
    if name == "sign":
        return (v[0] > 0) - (v[0] < 0)
    if name == "eq":
        return int(v[0] == v[1])
    if name == "max":
        return max(v)
    if name == "min":
        return min(v)
    if name == "ties":
        return sum(1 for x in v[1:] if x == v[0])
    if name == "sqrt":
        return _rational_sqrt(v[0])
    return None


_FACTORED = 8   # sums of up to this many terms are tried for a common factor


class Algebra:
    """Makes expressions, each distinct one once, simplified as described in the module's docstring."""

    def __init__(self) -> None:
        self._made: dict[tuple, Expr] = {}
        self.conditions: list[Expr] = []   # each time a base cancelled against itself: it must not be 0
        self.zero = self.number(0)
        self.one = self.number(1)

    # ---- the leaves ----------------------------------------------------------------------------

    def _make(self, key: tuple, kind: str, name: str = "", args: tuple[Expr, ...] = (), coefs: tuple[Q, ...] = (),
              num: Q = 0, value: float | None = None, raw: bool = False) -> Expr:
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = Expr(len(self._made), kind, name, args, coefs, num, value, raw)
        return found

    def number(self, value: Q) -> Expr:
        if isinstance(value, Q) and value.denominator == 1:
            value = value.numerator    # whole numbers as ints: most coefficients are, and ints are faster
        return self._make((NUM, value), NUM, num=value)

    def symbol(self, name: str, value: float | None = None) -> Expr:
        """A name: an input, a program's step, or a named constant (pi, e) with its value."""
        return self._make((SYM, name), SYM, name, value=value)

    def constant(self, name: str, value: float) -> Expr:
        """A constant of a user's graph: a named one (pi, e) stays a name, a literal is its exact value."""
        return self.symbol(name, value) if name in primitives.CONSTANTS else self.number(exact(value))

    # ---- sums ----------------------------------------------------------------------------------

    def add(self, a: Expr, b: Expr) -> Expr:
        if a is self.zero:
            return b
        if b is self.zero:
            return a
        return self.total((a, b))

    def total(self, parts: Iterable[Expr]) -> Expr:
        """The sum of many expressions, made once (adding them one by one would copy the sum each time)."""
        constant: Q = 0
        terms: dict[int, list] = {}
        for x in parts:
            if x.kind == NUM:
                constant += x.num
                continue
            for term, k in (zip(x.args, x.coefs) if x.kind == SUM else (self._unit(x),)):
                held = terms.get(term.id)
                if held is None:
                    terms[term.id] = [term, k]
                else:
                    held[1] += k
            if x.kind == SUM:
                constant += x.num
        kept = [(t, k) for t, k in terms.values() if k != 0]
        if constant == 0 and 2 <= len(kept) <= _FACTORED:
            factored = self._factored(kept)
            if factored is not None:
                return factored
        return self._sum(constant, kept)

    def _factored(self, terms: list[tuple[Expr, Q]]) -> Expr | None:
        """A·B + A·C as A·(B + C) when that collects terms inside (x*(1-s) - x*s is x*(1 - 2*s)); else None."""
        def factors(t: Expr) -> dict[int, tuple[Expr, Q]]:
            pairs = zip(t.args, t.coefs) if t.kind == PROD else ((t, 1),)
            return {b.id: (b, e) for b, e in pairs if e > 0}

        common = factors(terms[0][0])
        for t, _ in terms[1:]:
            theirs = factors(t)
            common = {i: (b, min(e, theirs[i][1])) for i, (b, e) in common.items() if i in theirs}
            if not common:
                return None
        inner = []
        before = 0
        for t, k in terms:
            pairs = zip(t.args, t.coefs) if t.kind == PROD else ((t, 1),)
            rest = self._product(k, [(b, e - common[b.id][1] if b.id in common else e) for b, e in pairs
                                     if b.id not in common or e != common[b.id][1]])
            before += len(rest.args) + (rest.num != 0) if rest.kind == SUM else 1
            inner.append(rest)
        together = self.total(inner)
        after = len(together.args) + (together.num != 0) if together.kind == SUM else 1
        if after >= before:
            return None
        return self.product([together, *(self.pow(b, self.number(e)) for b, e in common.values())])

    def _unit(self, x: Expr) -> tuple[Expr, Q]:
        """x as coefficient × term, the term's own coefficient 1 (3*x*y → (x*y, 3))."""
        if x.kind == PROD and x.num != 1:
            return self._product(1, list(zip(x.args, x.coefs))), x.num
        return x, 1

    def _sum(self, constant: Q, terms: list[tuple[Expr, Q]]) -> Expr:
        if not terms:
            return self.number(constant)
        if constant == 0 and len(terms) == 1:
            term, k = terms[0]
            return term if k == 1 else self.product((self.number(k), term))
        terms.sort(key=lambda tk: tk[0].id)
        args = tuple(t for t, _ in terms)
        coefs = tuple(k for _, k in terms)
        return self._make((SUM, constant, tuple([t.id for t in args]), coefs), SUM, "", args, coefs,
                          num=constant)

    def neg(self, a: Expr) -> Expr:
        return self.mul(self.number(-1), a)

    def sub(self, a: Expr, b: Expr) -> Expr:
        return self.add(a, self.neg(b))

    # ---- products ------------------------------------------------------------------------------

    def mul(self, a: Expr, b: Expr) -> Expr:
        if a is self.one:
            return b
        if b is self.one:
            return a
        return self.product((a, b))

    def product(self, parts: Iterable[Expr]) -> Expr:
        """The product of many expressions, made once."""
        coef: Q = 1
        factors: dict[int, list] = {}
        parts = list(parts)
        if any(p is self.zero for p in parts):
            return self.zero
        numbers = [p for p in parts if p.kind == NUM]
        others = [p for p in parts if p.kind != NUM]
        for p in numbers:
            coef *= p.num
        if len(others) == 1 and others[0].kind == SUM:   # a number times a sum: distributed
            s = others[0]
            return self._sum(s.num * coef, [(t, k * coef) for t, k in zip(s.args, s.coefs)]) if coef != 1 else s
        for x in others:
            if x.kind == PROD:
                coef *= x.num
                pairs: Iterable[tuple[Expr, Q]] = zip(x.args, x.coefs)
            else:
                pairs = ((x, 1),)
            for base, e in pairs:
                held = factors.get(base.id)
                if held is None:
                    factors[base.id] = [base, e]
                    continue
                if (held[1] < 0) != (e < 0):
                    self.conditions.append(base)
                held[1] += e
        return self._product(coef, _indicators([(b, e) for b, e in factors.values() if e != 0]))

    def _product(self, coef: Q, factors: list[tuple[Expr, Q]]) -> Expr:
        if coef == 0:
            return self.zero
        if not factors:
            return self.number(coef)
        if coef == 1 and len(factors) == 1 and factors[0][1] == 1:
            return factors[0][0]
        factors.sort(key=lambda be: be[0].id)
        args = tuple(b for b, _ in factors)
        coefs = tuple(e for _, e in factors)
        return self._make((PROD, coef, tuple([b.id for b in args]), coefs), PROD, "", args, coefs,
                          num=coef)

    def div(self, a: Expr, b: Expr) -> Expr:
        return self.mul(a, self.pow(b, self.number(-1)))

    def pow(self, a: Expr, e: Expr) -> Expr:
        if e.kind != NUM:
            if a is self.one:
                return a
            return self._gate("pow", (a, e))
        n = e.num
        if n == 0:
            return self.one     # x^0 is 1 everywhere, 0^0 too (as Python, IEEE and PyTorch have it)
        if n == 1:
            return a
        if a.kind == NUM:
            folded = self._power(a.num, n)
            return self._gate("pow", (a, e)) if folded is None else self.number(folded)
        if a.kind == PROD and n.denominator == 1:    # (3*x^2*y)^2 = 9*x^4*y^2; integer powers only
            coef = self._power(a.num, n)
            if coef is not None:
                return self._product(coef, [(b, k * n) for b, k in zip(a.args, a.coefs)])
        return self._product(1, [(a, n)])

    @staticmethod
    def _power(base: Q, n: Q) -> Q | None:
        """base^n exactly, if it is rational and not huge; None otherwise (or where it is undefined)."""
        if n.denominator != 1 or (base == 0 and n < 0) or _magnitude(n) > 1024:
            if n.denominator == 2 and base >= 0:
                root = _rational_sqrt(base)
                return None if root is None else Algebra._power(root, n.numerator)
            return None
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if base not in (0, 1, -1) and _magnitude(n) * bits > 256:
            return None
        result = Fraction(base) ** int(n)
        return result.numerator if result.denominator == 1 else result

    # ---- other gates ---------------------------------------------------------------------------

    def gate(self, name: str, args: Sequence[Expr]) -> Expr:
        """The canonical form of primitive `name` over `args`."""
        if name in _OPERATORS:
            return _OPERATORS[name](self, *args)
        values = [a.num for a in args if a.kind == NUM]
        if len(values) == len(args):
            folded = _exact_gate(name, values)
            if folded is not None:
                return self.number(folded)
        if name == "where":
            c, x, y = args
            if c.kind == NUM:
                return x if c.num != 0 else y
            if x is y:
                return x
        if name == "eq" and args[0] is args[1]:
            return self.one
        if name == "eq" and any(a.kind == NUM for a in args) and any(map(_irrational, args)):
            return self.zero
        if name == "log" and args[0].kind == SYM and args[0].name == "e" and args[0].value:
            return self.one
        return self._gate(name, tuple(args))

    def _gate(self, name: str, args: tuple[Expr, ...]) -> Expr:
        return self._make((GATE, name, tuple([a.id for a in args])), GATE, name, args)

    def raw(self, name: str, args: Sequence[Expr]) -> Expr:
        """A user's gate exactly as written (`x*x`, `x+0`): the forward pass as the graph has it."""
        return self._make(("raw", name, tuple([a.id for a in args])), GATE, name, tuple(args),
                          raw=True)

    # ---- rules ---------------------------------------------------------------------------------

    def rule(self, rule: rule_forms.Rule, leaves: Mapping[str, Expr | Sequence[Expr]],
             shared: Mapping[int, Expr] | None = None) -> Expr:
        """A primitive's rule (a partial) with its leaves (a, b, c, out, args) bound to expressions, and the
        parts of it at the node indices of `shared` given already made (as names, say)."""
        top = rule_forms.fold(rule, leaves, self._constant_node, self.gate, shared)
        return self.product(top) if isinstance(top, list) else top

    def _constant_node(self, node) -> Expr:
        assert node.const is not None   # a constant node carries its value
        return self.constant(node.name, node.const)

    def partial(self, x: Expr, k: int, out: Expr, shared: Mapping[int, Expr] | None = None) -> Expr:
        """∂x/∂(its argument k), for one edge of the backward pass: a sum's coefficient, a product's
        coef·e·base^(e-1)·(the other factors), a gate's rule with `out` standing for x's value (a step's
        name, for formulas over the forward pass) and `shared` as for `rule`."""
        if x.kind == SUM:
            return self.number(x.coefs[k])
        if x.kind == PROD:
            base, e = x.args[k], x.coefs[k]
            rest = [(b, c) for j, (b, c) in enumerate(zip(x.args, x.coefs)) if j != k]
            return self._product(x.num * e, rest + ([(base, e - 1)] if e != 1 else []))
        op = primitives.OPS[x.name]
        return self.rule(total_rule(x.name, k), rule_forms.bound(op, list(x.args), out,
                                                                 x.args[k] if op.arity is None else None), shared)

    def shared_parts(self, x: Expr, out: Expr) -> dict[int, Expr]:
        """The parts of variadic gate x's partial that are the same for every argument (max's tie count
        `ties(out, args)`), by node index in the rule; none for another gate."""
        op = primitives.OPS[x.name]
        if op.arity is not None:
            return {}
        rule = total_rule(x.name, 0)
        leaves = rule_forms.bound(op, list(x.args), out, x.args[0])   # the parts do not read `a`
        return {i: self.rule(rule_forms.part(rule, i), leaves) for i in rule_forms.shared_parts(rule)}

    # ---- rewriting -----------------------------------------------------------------------------

    def substitute(self, roots: Sequence[Expr], replace: Callable[[Expr], Expr | None],
                   limit: int = SIZE_CAP) -> list[Expr | None]:
        """`roots` rebuilt in canonical form with each name x replaced by replace(x) (None: kept). A result
        larger than `limit` (its size) is None, as is anything built on one."""
        done: dict[int, Expr | None] = {}
        for x in nodes_under(roots):
            if x.kind == SYM:
                done[x.id] = replace(x) or x
            elif x.kind == NUM:
                done[x.id] = x
            else:
                found = [done[a.id] for a in x.args]
                args = [a for a in found if a is not None]
                if len(args) < len(found):
                    done[x.id] = None
                    continue
                made: Expr
                if x.kind == SUM:
                    made = self.total([self.number(x.num), *(self.mul(self.number(k), a)
                                                              for a, k in zip(args, x.coefs))])
                elif x.kind == PROD:
                    made = self.product([self.number(x.num), *(self.pow(a, self.number(k))
                                                                for a, k in zip(args, x.coefs))])
                else:
                    made = self.gate(x.name, args)
                done[x.id] = made if made.size <= limit else None
        return [done[r.id] for r in roots]


# The table's pow rules choose 0 with `where` where their other branch is undefined (0^-1 at a = b = 0,
# log(0)). The interpreter computes that branch as IEEE does and drops it, but a formula is bpcli input,
# whose `where` computes both branches and exits 3 if either is undefined. These forms equal the table's
# wherever the table's are defined, and need no branch: at b = 0, b·a^(b-1+1) is 0; at a = 0, out·log(1) is 0.
TOTAL_FORMS = {("pow", 0): "b*a^(b - 1 + eq(b, 0))", ("pow", 1): "out*log(a + eq(a, 0))"}


def total_rule(name: str, k: int) -> rule_forms.Rule:
    """The rule of primitive `name`'s partial for argument k, in a form defined wherever the table's is."""
    if (name, k) in TOTAL_FORMS:
        return rule_forms.parse(TOTAL_FORMS[name, k])
    return rule_forms.parsed(name).partials[0 if primitives.OPS[name].arity is None else k]


def _irrational(x: Expr) -> bool:
    """Whether x is q + k·c^n for pi or e as c, rationals q and k ≠ 0, a whole n ≠ 0: never a rational
    (pi and e are transcendental)."""
    if x.kind == SUM and len(x.args) == 1:
        x = x.args[0]
    if x.kind == PROD and len(x.args) == 1 and x.coefs[0].denominator == 1:
        x = x.args[0]
    return x.kind == SYM and x.value is not None


def _indicators(factors: list[tuple[Expr, Q]]) -> list[tuple[Expr, Q]]:
    """where(c, 0, 1) (which is 0 or 1) times where(c, 0, z) is where(c, 0, z); to any positive power it is
    itself. The chain rule through `where` makes these (the second derivative of x^y)."""
    if not any(b.kind == GATE and b.name == "where" for b, _ in factors):
        return factors
    selectors = {}
    for b, e in factors:
        if b.kind == GATE and b.name == "where" and e > 0:
            c, x, y = b.args
            if x.kind == NUM and y.kind != NUM:
                selectors[(c.id, 0)] = x.num
            elif y.kind == NUM and x.kind != NUM:
                selectors[(c.id, 1)] = y.num
    kept = []
    for b, e in factors:
        if b.kind == GATE and b.name == "where" and e > 0 and b.args[1].kind == NUM and b.args[2].kind == NUM:
            c, x, y = b.args
            if (x.num, y.num) == (0, 1) and selectors.get((c.id, 0)) == 0 or \
                    (x.num, y.num) == (1, 0) and selectors.get((c.id, 1)) == 0:
                continue      # where(c, 0, 1)·where(c, 0, z) = where(c, 0, z)
            if {x.num, y.num} == {0, 1}:
                e = 1
        kept.append((b, e))
    return kept


_OPERATORS: dict[str, Callable[..., Expr]] = {"add": Algebra.add, "sub": Algebra.sub, "mul": Algebra.mul,
                                              "div": Algebra.div, "neg": Algebra.neg, "pow": Algebra.pow}


def nodes_under(roots: Iterable[Expr]) -> list[Expr]:
    """Every expression the roots are made of, each once, arguments before what uses them (by id)."""
    seen: dict[int, Expr] = {}
    stack = list(roots)
    while stack:
        x = stack.pop()
        if x.id not in seen:
            seen[x.id] = x
            stack.extend(x.args)
    return [seen[i] for i in sorted(seen)]


def names_in(x: Expr) -> list[str]:
    """The names (SYM leaves, not pi or e) an expression uses, in order of id."""
    return [n.name for n in nodes_under((x,)) if n.kind == SYM and n.value is None]
