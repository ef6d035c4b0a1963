"""Formulas written out: in bpcli's own language (which bpcli reads back) or in LaTeX.

A sum lists its terms by falling degree in the variables, then in the order their parts were made, its
constant last; a product its coefficient, the variables, then the other factors, and what divides after a
`/` (`2*x*sin(x)`, `-x/y^2`, `1/(2*sqrt(x))`). A coefficient whose denominator is a power of ten is written
as a decimal (`0.2*x`), another fraction as a quotient (`x/3`, `x^(1/3)`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from fractions import Fraction

from bpcli import primitives
from bpcli.symbolic.algebra import GATE, NUM, PROD, SUM, SYM, Expr, nodes_under

_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)
_Term = tuple[str, float]   # a text and how tightly it binds (the levels above)
_CALL = 3.5   # LaTeX's `\sin x`: a factor as it is, a base of a power in parentheses
_RAW = {"add": ("+", _SUM), "sub": ("-", _SUM), "mul": ("*", _PRODUCT), "div": ("/", _PRODUCT)}


_LARGEST = Fraction(sys.float_info.max)   # a literal beyond it is not bpcli input


def _decimal(q: Fraction) -> str | None:
    """q as a short decimal (0.2, 1e-300, 1e+20) when one is exact, a whole number within double range as
    its digits, else None."""
    if abs(q) > _LARGEST:
        return None
    d = q.denominator
    while d % 10 == 0:
        d //= 10
    if d != 1:
        return None
    text = repr(float(q))
    if Fraction(text) == q and (q.denominator != 1 or len(text) < len(str(q.numerator))):
        return text
    return str(q.numerator) if q.denominator == 1 else None


def _scientific(q: Fraction) -> tuple[str, int]:
    """|q| beyond double range as a mantissa (a decimal, rounded) and a power of ten."""
    power = len(str(abs(q.numerator))) - len(str(q.denominator))
    return repr(float(abs(q) / Fraction(10) ** power)), power


def _degree(x: Expr) -> Fraction:
    if x.kind == SYM and x.value is None:
        return Fraction(1)
    if x.kind == PROD:
        return sum((e for b, e in zip(x.args, x.coefs) if b.kind == SYM and b.value is None), Fraction(0))
    return Fraction(0)


def _factor_key(x: Expr) -> tuple[int, int]:
    return (0 if x.kind == SYM else 1, x.id)


class _Notation:
    """What differs between bpcli's text and LaTeX; the layout of sums and products is shared."""

    times = "*"
    plus, minus = " + ", " - "

    def number(self, q: Fraction) -> _Term:
        raise NotImplementedError

    def name(self, text: str) -> str:
        return text

    def power(self, base: str, exponent: str) -> str:
        raise NotImplementedError

    def exponent(self, e: Fraction) -> str:
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
    def number(self, q: Fraction) -> _Term:
        text = _decimal(abs(q))
        if abs(q) > _LARGEST:   # no literal holds it: a product that overflows as the exact value would
            mantissa, power = _scientific(q)
            body: _Term = (f"({mantissa}*10^{power})", _ATOM)
        elif text is None and (q.denominator > 10 ** 6 or abs(q.numerator) > 10 ** 16):
            body = (repr(float(abs(q))), _ATOM)
        elif text is None:
            body = (f"{abs(q.numerator)}/{q.denominator}", _PRODUCT)
        else:
            body = (text, _ATOM)
        return self.negative(body) if q < 0 else body

    def power(self, base: str, exponent: str) -> str:
        return f"{base}^{exponent}"

    def exponent(self, e: Fraction) -> str:
        return self.operand(self.number(e), _POWER)

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

    def number(self, q: Fraction) -> _Term:
        text = _decimal(abs(q))
        if abs(q) > _LARGEST:
            text = "e".join(map(str, _scientific(q)))
        elif text is None and (q.denominator > 10 ** 6 or abs(q.numerator) > 10 ** 16):
            text = repr(float(abs(q)))
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

    def exponent(self, e: Fraction) -> str:
        return self.number(e)[0]

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
            text = _product(abs(k), list(zip(t.args, t.coefs)), done, notation)[0]
        elif abs(k) == 1:
            text = notation.operand(done[t.id], _PRODUCT)
        else:
            text = _product(abs(k), [(t, Fraction(1))], done, notation)[0]
        pieces.append((k < 0, text))
    if n.num != 0:
        pieces.append((n.num < 0, notation.number(abs(n.num))[0]))
    start = next((i for i, (negative, _) in enumerate(pieces) if not negative), 0)   # 1 - f, not -f + 1
    pieces.insert(0, pieces.pop(start))
    negative, text = pieces[0]
    out = [("-" if negative else "") + text]
    for negative, text in pieces[1:]:
        out.append((notation.minus if negative else notation.plus) + text)
    return "".join(out), _SUM


def _product(coef: Fraction, factors: list[tuple[Expr, Fraction]], done, notation: _Notation) -> _Term:
    if coef < 0:
        return notation.negative(_product(-coef, factors, done, notation))
    top: list[str] = []
    bottom: list[str] = []
    decimal = _decimal(coef)
    if coef != 1:
        if decimal is not None:
            top.append(decimal if notation is BPCLI else notation.number(coef)[0])
        elif abs(coef) > _LARGEST or coef.denominator > 10 ** 6 or coef.numerator > 10 ** 16:
            top.append(notation.number(coef)[0])
        else:
            if coef.numerator != 1:
                top.append(str(coef.numerator))
            bottom.append(str(coef.denominator))
    level = _PRODUCT
    for base, e in sorted(factors, key=lambda be: (done[be[0].id][1] == _CALL, _factor_key(be[0]))):
        term = done[base.id]
        if abs(e) == 1:
            text = notation.operand(term, _POWER)
            if len(factors) == 1 and not top and not bottom and e > 0:
                level = term[1]
        else:
            text = notation.power(notation.operand(term, _ATOM), notation.exponent(abs(e)))
            if len(factors) == 1 and not top and not bottom and e > 0:
                level = _POWER
        (top if e > 0 else bottom).append(text)
    body = notation.times.join(top) if top else "1"
    if bottom:
        return notation.quotient(body, bottom)
    return body, level if len(top) == 1 else _PRODUCT


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
