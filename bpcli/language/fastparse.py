"""A fast path for the commonest input, one expression: operator precedence over a regular-expression scan.

The grammar (grammar/bpcli.lark, parsed by Lark in bpcli.language.parser) is the definition of the language; this
module is an accelerator for one part of it. `expression(text)` returns exactly the syntax tree Lark's
parser builds (same nodes, same spans) or None, and None whenever it meets anything it is not sure
of: a statement separator or `=`, a token it does not know, two operands in a row, an unbalanced
parenthesis, an empty call, a number too large. Lark then parses the text and, on an error, writes
the message, so every error message comes from one place. tests/test_fastparse.py checks both claims
on random token sequences against Lark: the same tree, or None where Lark fails.

The failures it does name are those where Lark fails at a place it knows: text that is a valid start of
an expression cut short gives OPERAND_MISSING (the text ends where an operand is due) or UNCLOSED (it ends
with a '(' open), and an operand right after a complete operand (`2 x`, `(a)(b)`) gives a Collision. So
bpcli.language.parser can write Lark's message for them without having Lark parse all of a huge input first.

Why: on a 10⁵-operation expression Lark's pure-Python LALR parser takes about 1.2 s, nine in ten of
the whole run; this scan takes about a tenth of that (benchmarks/huge_expressions.py).
Set BPCLI_PARSER=lark to skip it.

Precedence, loosest first: + - (left), * / (left), a sign in front of an operand, ^ (right). The
sign binds looser than a ^ on its right (-x^2 is -(x^2)); an exponent may carry its own sign. Like
the rest of bpcli it uses explicit stacks, never recursion: 10⁵ nested parentheses are fine.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bpcli.language import syntax

# The grammar's terminals, a group each kind: NUMBER, NAME, ^ or **, a sign or + -, * /, ( ) and ",". Blanks
# that Lark ignores come first; anything else (the last group) sends the text to Lark.
_TOKEN = re.compile(r"[ \t\f\r]*(?:((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|([^\W\d]\w*)"
                    r"|(\*\*|\^)|([-+])|([*/])|(\()|(\))|(,)|([^ \t\f\r]))")
_NUMBER, _NAME, _POW, _PLUS_MINUS, _STAR_SLASH, _LPAR, _RPAR, _COMMA, _OTHER = range(1, 10)
_BLANKS = re.compile(r"[ \t\f\r]*")

# pending entries are tuples, binding strength first: operators (their precedence: + - 1, * / 2,
# ^ 4), signs (3), and open parentheses (0, below every operator, so reductions stop there)
_SIGN, _OPEN = 3, 0
_INF = float("inf")
OPERAND_MISSING, UNCLOSED = "operand missing", "unclosed"   # a valid start of an expression, ended too soon
_TYPES = {_NUMBER: "NUMBER", _NAME: "NAME", _LPAR: "LPAR"}   # Lark's names for the tokens that start an operand


class Collision(NamedTuple):
    """An operand that starts where an operator or the end is due: its offset, its text, its Lark type."""

    pos: int
    token: str
    type: str


def expression(text: str) -> syntax.Program | str | Collision | None:
    """The program of one expression that Lark would build from `text`, OPERAND_MISSING, UNCLOSED or a
    Collision, or None (let Lark decide)."""
    if ";" in text or "=" in text or "\n" in text:
        return None
    items: list = []        # the expression in postfix order (bpcli.language.syntax)
    out: list = []          # the spans of finished operands
    pending: list = []      # (_OPEN, start, call) for "(", where call is None or (name, name_span, len(out))
    operand = True          # is an operand expected next?
    after_name = False      # was the last token a NAME (so "(" makes it a call)?
    end = 0
    add, push = items.append, out.append
    # Stop before trailing blanks: a search that fails there would be retried from each blank (quadratic).
    for m in _TOKEN.finditer(text, 0, len(text.rstrip(" \t\f\r"))):
        kind = m.lastindex
        assert kind is not None  # the last group takes any character the others do not
        start, end = span = m.span(kind)
        if operand:
            if kind == _NUMBER:
                token = text[start:end]
                value = float(token)
                if value == _INF:
                    return None
                add((syntax.NUM, token, span, value))
                push(span)
                operand = False
            elif kind == _NAME:
                add((syntax.VAR, text[start:end], span, None))
                push(span)
                operand, after_name = False, True
                continue
            elif kind == _PLUS_MINUS:
                pending.append((_SIGN, text[start:end], start))
            elif kind == _LPAR:
                pending.append((_OPEN, start, None))
            else:
                return None
        elif kind in (_PLUS_MINUS, _STAR_SLASH, _POW):
            prec = 1 if kind == _PLUS_MINUS else 2 if kind == _STAR_SLASH else 5  # ^ is right-associative
            while pending and pending[-1][0] >= prec:
                entry = pending.pop()
                if entry[0] == _SIGN:
                    _apply(entry, items, out)
                else:   # an operator, as _apply does it: the commonest reduction, written out
                    right = out.pop()
                    span = (out[-1][0], right[1])
                    add((syntax.BINARY, entry[1], span, entry[2]))
                    out[-1] = span
            pending.append((prec if prec < 5 else 4, text[start:end], start))
            operand = True
        elif kind == _RPAR:
            while pending and pending[-1][0] >= 1:
                entry = pending.pop()
                if entry[0] == _SIGN:
                    _apply(entry, items, out)
                else:
                    right = out.pop()
                    span = (out[-1][0], right[1])
                    add((syntax.BINARY, entry[1], span, entry[2]))
                    out[-1] = span
            if not pending:
                return None
            call = pending.pop()[2]
            if call is not None:
                name, name_span, base = call
                n = len(out) - base
                del out[base:]
                span = (name_span[0], end)
                add((syntax.CALL, name, span, (n, name_span)))
                push(span)
            # a group is its inner expression, with the inner expression's span (as in the grammar)
        elif kind == _LPAR and after_name:  # f( : the name was a function's
            out.pop()
            _, name, name_span, _ = items.pop()
            pending.append((_OPEN, start, (name, name_span, len(out))))
            operand = True
        elif kind in _TYPES:  # an operand right after one: Lark fails at this very token
            return Collision(start, text[start:end], _TYPES[kind])
        elif kind == _COMMA:
            while pending and pending[-1][0] >= 1:
                _apply(pending.pop(), items, out)
            if not pending or pending[-1][2] is None:
                return None
            operand = True
        else:
            return None
        after_name = False
    if _BLANKS.fullmatch(text, end) is None:
        return None
    if operand:
        return OPERAND_MISSING if items or pending else None
    while pending and pending[-1][0] >= 1:
        _apply(pending.pop(), items, out)
    if pending:
        return UNCLOSED
    if len(out) != 1:
        return None
    return syntax.Program((syntax.Statement(items, out[0]),), out[0])


def _apply(entry: tuple, items: list, out: list) -> None:
    """Apply a pending operator or sign to the operands on top of `out`."""
    kind, symbol, pos = entry
    if kind == _SIGN:
        span = (pos, out.pop()[1])
        items.append((syntax.UNARY, symbol, span, None))
    else:
        right = out.pop()
        span = (out.pop()[0], right[1])
        items.append((syntax.BINARY, symbol, span, pos))
    out.append(span)
