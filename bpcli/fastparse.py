"""A fast path for the commonest input, one expression: operator precedence over a regular-expression scan.

The grammar (grammar/bpcli.lark, parsed by Lark in bpcli.parser) is the definition of the language; this
module is an accelerator for one part of it. `expression(text)` returns exactly the syntax tree Lark's
parser builds (same nodes, same spans) or None, and None whenever it meets anything it is not sure
of: a statement separator or `=`, a token it does not know, two operands in a row, an unbalanced
parenthesis, an empty call, a number too large. Lark then parses the text and, on an error, writes
the message, so every error message comes from one place. tests/test_fastparse.py checks both claims
on random token sequences against Lark: the same tree, or None where Lark fails.

Why: on a 10⁵-operation expression Lark's pure-Python LALR parser takes about 1.2 s, nine in ten of
the whole run; this scan takes about a tenth of that (benchmarks/huge_expressions.py, issue 7).
Set BPCLI_PARSER=lark to skip it.

Precedence, loosest first: + - (left), * / (left), a sign in front of an operand, ^ (right). The
sign binds looser than a ^ on its right (-x^2 is -(x^2)); an exponent may carry its own sign. Like
the rest of bpcli it uses explicit stacks, never recursion: 10⁵ nested parentheses are fine.
"""

from __future__ import annotations

import re

from bpcli import syntax

# The grammar's terminals: NUMBER, NAME, the operators and the blanks Lark ignores. Anything else
# (the last alternative) sends the text to Lark.
_TOKEN = re.compile(r"[ \t\f\r]*(?:((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|([^\W\d]\w*)|(\*\*|[-+*/^(),])|([^ \t\f\r]))")
_NUMBER, _NAME, _SYMBOL, _OTHER = 1, 2, 3, 4
_BLANKS = re.compile(r"[ \t\f\r]*")

_BINARY = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4, "**": 4}   # precedence; ^ is right-associative
_SIGN = 3
_GROUP, _CALL = "(", "call"
_INF = float("inf")


def expression(text: str) -> syntax.Program | None:
    """The program of one expression that Lark would build from `text`, or None (let Lark decide)."""
    if ";" in text or "=" in text or "\n" in text:
        return None
    items: list = []        # the expression in postfix order (bpcli.syntax)
    out: list = []          # the spans of finished operands
    pending: list = []      # operators, signs and open parentheses: tuples, the kind first
    operand = True          # is an operand expected next?
    name = None             # a NAME not yet known to be a variable or a function
    end = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastindex
        start, end = span = m.span(kind)
        if name is not None:
            if kind == _SYMBOL and m.group(kind) == "(":
                pending.append((_CALL, name[0], name[1], len(out)))
                name = None
                continue
            items.append((syntax.VAR, name[0], name[1], None))
            out.append(name[1])
            name, operand = None, False
        if kind == _OTHER:
            return None
        if operand:
            if kind == _NUMBER:
                token = m.group(kind)
                value = float(token)
                if value == _INF:
                    return None
                items.append((syntax.NUM, token, span, value))
                out.append(span)
                operand = False
            elif kind == _NAME:
                name = (m.group(kind), span)
            else:
                symbol = m.group(kind)
                if symbol in "+-":
                    pending.append((_SIGN, symbol, start))
                elif symbol == "(":
                    pending.append((_GROUP, start))
                else:
                    return None
            continue
        if kind != _SYMBOL:
            return None
        symbol = m.group(kind)
        if symbol in _BINARY:
            prec = _BINARY[symbol]
            _reduce(items, out, pending, prec if prec < 4 else 5)   # right-associative ^ pops nothing of its own
            pending.append((prec, symbol, start))
            operand = True
        elif symbol == ")":
            _reduce(items, out, pending, 0)
            if not pending:
                return None
            top = pending.pop()
            if top[0] == _CALL:
                n = len(out) - top[3]
                del out[top[3]:]
                span = (top[2][0], end)
                items.append((syntax.CALL, top[1], span, (n, top[2])))
                out.append(span)
            # a group is its inner expression, with the inner expression's span (as in the grammar)
        elif symbol == ",":
            _reduce(items, out, pending, 0)
            if not pending or pending[-1][0] != _CALL:
                return None
            operand = True
        else:
            return None
    if name is not None:
        items.append((syntax.VAR, name[0], name[1], None))
        out.append(name[1])
        operand = False
    if operand or _BLANKS.fullmatch(text, end) is None:
        return None
    _reduce(items, out, pending, 0)
    if pending or len(out) != 1:
        return None
    return syntax.Program((syntax.Statement(items, out[0]),), out[0])


def _reduce(items: list, out: list, pending: list, prec: int) -> None:
    """Apply the pending operators and signs that bind at least as tightly as `prec`."""
    while pending and isinstance(pending[-1][0], int) and pending[-1][0] >= prec:
        kind, symbol, pos = pending.pop()
        if kind == _SIGN:
            span = (pos, out.pop()[1])
            items.append((syntax.UNARY, symbol, span, None))
        else:
            right = out.pop()
            span = (out.pop()[0], right[1])
            items.append((syntax.BINARY, symbol, span, pos))
        out.append(span)
