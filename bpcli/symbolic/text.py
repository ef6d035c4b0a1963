"""Formulas written out: in bpcli's own language (which bpcli reads back) or in LaTeX.

A sum lists its terms by falling degree in the variables, then in the order their parts were made, its
constant last; a product its coefficient, the variables, then the other factors, and what divides after a
`/` (`2*x*sin(x)`, `-x/y^2`, `0.5/sqrt(x)`). A coefficient with a 5 in its denominator is written as a
decimal (`0.2*x`), another fraction as a quotient or a decimal, whichever is shorter (`x/3`, `0.5/x`).
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Mapping
from fractions import Fraction

from bpcli import primitives
from bpcli.symbolic.algebra import GATE, NUM, PROD, SUM, SYM, Expr, Q, nodes_under

_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)
_Term = tuple[str, float]   # a text and how tightly it binds (the levels above)
_CALL = 3.5   # LaTeX's `\sin x`: a factor as it is, a base of a power in parentheses
_RAW = {"add": ("+", _SUM), "sub": ("-", _SUM), "mul": ("*", _PRODUCT), "div": ("/", _PRODUCT)}


_LARGEST = Fraction(sys.float_info.max)   # a literal beyond it is not bpcli input


def _decimal(q: Q, halves: bool = False) -> str | None:
    """q as a short decimal (0.2, 0.05, 1e-300, 1e+20) when one is exact and its denominator has a factor 5
    (`halves`: or is a power of 2, 0.5), a whole number within double range as its digits, else None. So
    0.1*x^2 gives 0.2*x, but x^2/2 gives x."""
    if _magnitude(q) > _LARGEST:
        return None
    d = q.denominator
    fives = 0
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    while d % 2 == 0:
        d //= 2
    if d != 1 or not (fives or halves):
        return None
    text = repr(float(q))
    if Fraction(text) == q and (q.denominator != 1 or len(text) < len(str(q.numerator))):
        return text
    return str(q.numerator) if q.denominator == 1 else None


def _scientific(q: Q) -> tuple[str, int]:
    """|q| beyond double range as a mantissa (a decimal, rounded) and a power of ten."""
    power = len(str(abs(q.numerator))) - len(str(q.denominator))
    return repr(float(Fraction(_magnitude(q)) / Fraction(10) ** power)), power


def _magnitude(q: Q) -> Q:
    return -q if q < 0 else q


def _degree(x: Expr) -> Q:
    if x.kind == SYM and x.value is None:
        return 1
    if x.kind == PROD:
        return sum((e for b, e in zip(x.args, x.coefs) if b.kind == SYM and b.value is None), 0)
    return 0


def _factor_key(x: Expr) -> tuple[int, int]:
    return (0 if x.kind == SYM else 1, x.id)


class _Notation:
    """What differs between bpcli's text and LaTeX; the layout of sums and products is shared."""

    times = "*"
    plus, minus = " + ", " - "

    def number(self, q: Q) -> _Term:
        raise NotImplementedError

    def name(self, text: str) -> str:
        return text

    def power(self, base: str, exponent: str) -> str:
        raise NotImplementedError

    def exponent(self, e: Q) -> str:
        raise NotImplementedError

    def quotient(self, top: str, bottom: list[str]) -> _Term:
        raise NotImplementedError

    def call(self, name: str, args: list[_Term]) -> tuple[str, float]:
        raise NotImplementedError

    def paren(self, text: str) -> str:
        return f"({text})"

    def operand(self, term: _Term, at_least: int) -> str:
        return term[0] if term[1] >= at_least else self.paren(term[0])

    def negative(self, term: tuple[str, float]) -> tuple[str, float]:
        # -x*y and -x/y read the same however the sign binds; a sum needs its parentheses
        return f"-{self.operand(term, _PRODUCT)}", _UNARY


class _Bpcli(_Notation):
    def number(self, q: Q) -> _Term:
        text = _decimal(_magnitude(q), halves=True)
        if _magnitude(q) > _LARGEST:   # no literal holds it: a product that overflows as the exact value would
            mantissa, power = _scientific(q)
            body: _Term = (f"({mantissa}*10^{power})", _ATOM)
        elif text is None and (q.denominator > 10 ** 6 or abs(q.numerator) > 10 ** 16):
            body = (repr(float(_magnitude(q))), _ATOM)
        elif text is None:
            body = (f"{abs(q.numerator)}/{q.denominator}", _PRODUCT)
        else:
            body = (text, _ATOM)
        return self.negative(body) if q < 0 else body

    def power(self, base: str, exponent: str) -> str:
        return f"{base}^{exponent}"

    def exponent(self, e: Q) -> str:
        decimal = _decimal(e, halves=True)   # x^0.5, not x^(1/2)
        return decimal if decimal is not None else self.operand(self.number(e), _POWER)

    def quotient(self, top: str, bottom: list[str]) -> _Term:
        below = bottom[0] if len(bottom) == 1 else f"({'*'.join(bottom)})"
        return f"{top}/{below}", _PRODUCT

    def call(self, name: str, args: list[_Term]) -> tuple[str, float]:
        return f"{name}({', '.join(a[0] for a in args)})", _ATOM


_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
          "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
          "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega"}
_LATEX_FUNCTIONS = {"sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh", "log": r"\log",
                    "exp": r"\exp", "max": r"\max", "min": r"\min", "sigmoid": r"\sigma"}


class _Latex(_Notation):
    times = " "

    def number(self, q: Q) -> _Term:
        text = _decimal(_magnitude(q), halves=True)
        if _magnitude(q) > _LARGEST:
            text = "e".join(map(str, _scientific(q)))
        elif text is None and (q.denominator > 10 ** 6 or abs(q.numerator) > 10 ** 16):
            text = repr(float(_magnitude(q)))
        if text is not None and "e" in text:
            mantissa, power = text.split("e")
            text = rf"{mantissa} \cdot 10^{{{int(power)}}}"
        body = (text, _PRODUCT if r"\cdot" in text else _ATOM) if text is not None else \
            (rf"\frac{{{abs(q.numerator)}}}{{{q.denominator}}}", _ATOM)
        return self.negative(body) if q < 0 else body

    def name(self, text: str) -> str:
        if text in ("pi",):
            return r"\pi"
        match = re.fullmatch(r"(.*?[^\d_])_?(\d+)", text)
        if match:
            return f"{self.name(match.group(1))}_{{{match.group(2)}}}"
        if text in _GREEK:
            return "\\" + _GREEK[text]
        if "_" in text:
            head, tail = text.split("_", 1)
            return f"{self.name(head)}_{{{self.name(tail)}}}"
        if len(text) == 1 or text == "e":
            return text
        if all(c.isascii() for c in text):
            return rf"\mathrm{{{text}}}"
        return "".join(("\\" + _GREEK[c] + " ") if c in _GREEK else c for c in text).strip()

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def power(self, base: str, exponent: str) -> str:
        return f"{base}^{{{exponent}}}"

    def exponent(self, e: Q) -> str:
        decimal = _decimal(e, halves=True)
        return decimal if decimal is not None else self.number(e)[0]

    def quotient(self, top: str, bottom: list[str]) -> _Term:
        return rf"\frac{{{top}}}{{{' '.join(bottom)}}}", _ATOM

    def call(self, name: str, args: list[_Term]) -> tuple[str, float]:
        if name == "sqrt":
            return rf"\sqrt{{{args[0][0]}}}", _ATOM
        if name == "abs":
            return rf"\left|{args[0][0]}\right|", _ATOM
        if name == "exp":
            return rf"e^{{{args[0][0]}}}", _POWER
        function = _LATEX_FUNCTIONS.get(name, rf"\operatorname{{{name}}}")
        if len(args) == 1 and args[0][1] == _ATOM and name != "sigmoid" and not args[0][0].startswith("\\left"):
            return f"{function} {args[0][0]}", _CALL
        return rf"{function}\left({', '.join(a[0] for a in args)}\right)", _ATOM


BPCLI = _Bpcli()
LATEX = _Latex()


def written(x: Expr, notation: _Notation = BPCLI, names: Mapping[int, str] | None = None) -> str:
    """The expression as text; `names` writes the expressions with those ids as the given names."""
    return _terms(x, notation, names or {})[x.id][0]


def _terms(x: Expr, notation: _Notation, names: Mapping[int, str]) -> dict[int, _Term]:
    done: dict[int, _Term] = {}
    for n in nodes_under((x,)):
        if n.id in names:
            done[n.id] = (notation.name(names[n.id]), _ATOM)
        elif n.kind == NUM:
            done[n.id] = notation.number(n.num)
        elif n.kind == SYM:
            done[n.id] = (notation.name(n.name), _ATOM)
        elif n.kind == SUM:
            done[n.id] = _sum(n, done, notation)
        elif n.kind == PROD:
            done[n.id] = _product(n.num, list(zip(n.args, n.coefs)), done, notation)
        else:
            done[n.id] = _gate(n, [done[a.id] for a in n.args], notation)
    return done


def _sum(n: Expr, done, notation: _Notation) -> _Term:
    terms = sorted(zip(n.args, n.coefs), key=lambda tk: (-_degree(tk[0]), tk[0].id))
    pieces: list[tuple[bool, str]] = []
    for t, k in terms:
        if t.kind == PROD:   # its coefficient is 1: the sum holds it
            text = _product(_magnitude(k), list(zip(t.args, t.coefs)), done, notation)[0]
        elif _magnitude(k) == 1:
            text = notation.operand(done[t.id], _PRODUCT)
        else:
            text = _product(_magnitude(k), [(t, 1)], done, notation)[0]
        pieces.append((k < 0, text))
    if n.num != 0:
        pieces.append((n.num < 0, notation.number(_magnitude(n.num))[0]))
    start = next((i for i, (negative, _) in enumerate(pieces) if not negative), 0)   # 1 - f, not -f + 1
    pieces.insert(0, pieces.pop(start))
    negative, text = pieces[0]
    out = [("-" if negative else "") + text]
    for negative, text in pieces[1:]:
        out.append((notation.minus if negative else notation.plus) + text)
    return "".join(out), _SUM


def _product(coef: Q, factors: list[tuple[Expr, Q]], done, notation: _Notation) -> _Term:
    """coef × Π base^e: the coefficient first, then the variables, the other factors, and what divides. A
    fractional coefficient is written as a decimal or as a quotient, whichever is shorter (x/2, 0.5/x)."""
    if coef < 0:
        return notation.negative(_product(-coef, factors, done, notation))
    top: list[str] = []
    bottom: list[str] = []
    for base, e in sorted(factors, key=lambda be: (done[be[0].id][1] == _CALL, _factor_key(be[0]))):
        term = done[base.id]
        if _magnitude(e) == 1:
            text = notation.operand(term, _POWER)
        else:
            text = notation.power(notation.operand(term, _ATOM), notation.exponent(_magnitude(e)))
        (top if e > 0 else bottom).append(text)
    if coef == 1:
        if len(top) == 1 and not bottom:
            base, e = factors[0]
            return top[0], done[base.id][1] if e == 1 else _POWER
        return _layout(top, bottom, notation)
    decimal = _decimal(coef, halves=True)
    if decimal is None and (_magnitude(coef) > _LARGEST or coef.denominator > 10 ** 6 or coef.numerator > 10 ** 16):
        return _layout([notation.number(coef)[0], *top], bottom, notation)   # beyond a literal, or rounded
    spelled = []
    if decimal is not None:
        spelled.append(_layout([decimal if notation is BPCLI else notation.number(coef)[0], *top], bottom, notation))
    if coef.denominator != 1 and (decimal is None or _decimal(coef) is None):   # 0.2*x stays a decimal
        spelled.append(_layout(([str(coef.numerator)] if coef.numerator != 1 else []) + top,
                               [str(coef.denominator), *bottom], notation))
    return min(spelled, key=lambda term: len(term[0]))


def _layout(top: list[str], bottom: list[str], notation: _Notation) -> _Term:
    body = notation.times.join(top) if top else "1"
    if bottom:
        return notation.quotient(body, bottom)
    return body, _PRODUCT


def _gate(n: Expr, args: list[_Term], notation: _Notation) -> _Term:
    name = n.name
    if name in _RAW:
        symbol, level = _RAW[name]
        if notation is not BPCLI and name == "mul":
            symbol = r" \cdot "
        if notation is not BPCLI and name == "div":
            return notation.quotient(args[0][0], [args[1][0]])
        return f"{notation.operand(args[0], level)}{symbol}{notation.operand(args[1], level + 1)}", level
    if name == "neg":
        return notation.negative(args[0])
    if name == "pow":
        return notation.power(notation.operand(args[0], _ATOM), _exponent_operand(args[1], notation)), _POWER
    assert n.kind == GATE and name in primitives.OPS
    return notation.call(name, args)


def _exponent_operand(term: _Term, notation: _Notation) -> str:
    if notation is BPCLI:
        return notation.operand(term, _POWER)
    return term[0]


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _runs(key: tuple[str, ...]) -> list[tuple[str, int]]:
    """("x", "x", "y") → [("x", 2), ("y", 1)]: each name with how many times in a row it is differentiated for."""
    return [(name, len(list(group))) for name, group in itertools.groupby(key)]


def partial(out: str, key: tuple[str, ...]) -> str:
    """∂f/∂x, ∂²f/∂x∂y, ∂²f/∂x², ∂³f/∂x²∂y: the derivative that `key` names, in the order differentiated."""
    runs = _runs(key)
    order = str(len(key)).translate(_SUPERSCRIPT) if len(key) > 1 else ""
    below = "".join(f"∂{n}{str(k).translate(_SUPERSCRIPT) if k > 1 else ''}" for n, k in runs)
    return f"∂{order}{out}/{below}"


def latex_partial(out: str, key: tuple[str, ...]) -> str:
    r"""\frac{\partial^{2} f}{\partial x \partial y}"""
    runs = _runs(key)
    order = f"^{{{len(key)}}}" if len(key) > 1 else ""
    below = " ".join(rf"\partial {LATEX.name(n)}" + (f"^{{{k}}}" if k > 1 else "") for n, k in runs)
    return rf"\frac{{\partial{order} {LATEX.name(out)}}}{{{below}}}"
