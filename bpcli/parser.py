"""Text to syntax tree: the grammar in grammar/bpcli.lark, one LALR Lark parser, friendly errors.

The only module that imports lark, and only when it is needed: a lone expression is first offered to
`fastparse`, which builds the same tree much faster or declines. The tree is built by an in-parser
transformer while the LALR parser reduces, so no parse tree is made and nothing recurses: 100 000
nested parentheses parse.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from bpcli import fastparse, ops, syntax
from bpcli.errors import InputError

_GRAMMAR = "bpcli.lark"


def grammar_path() -> Path:
    """The grammar file: inside the installed package (bpcli/grammar/) or, in a checkout, ../grammar/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammar" / _GRAMMAR, here.parent / "grammar" / _GRAMMAR):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"bpcli's grammar file {_GRAMMAR} is missing from {here}")


def _span(item) -> syntax.Span:
    # Duck-typed, and tokens read through .value: accelerator plugins for Lark's LALR parser (lark-cython,
    # lark-rust; issue 7) hand the transformer tokens that are neither lark.Token nor str.
    span = getattr(item, "span", None)
    return span if span is not None else (item.start_pos, item.end_pos)


class _Builder:
    """Called by the LALR parser on every reduction; builds `syntax` nodes with spans."""

    def number(self, children):
        (tok,) = children
        value = float(tok.value)
        if value == float("inf"):
            raise InputError(f"the number {tok.value} is too large for double precision", None, tok.start_pos)
        return syntax.Num(tok.value, value, _span(tok))

    def variable(self, children):
        (tok,) = children
        return syntax.Var(tok.value, _span(tok))

    def call(self, children):
        name, _lpar, args, rpar = children
        return syntax.Call(name.value, tuple(args), (name.start_pos, rpar.end_pos), _span(name))

    def args(self, children):
        return children[::2]  # drop the commas

    def start(self, children):
        return syntax.Program(tuple(children), (_span(children[0])[0], _span(children[-1])[1]))

    def assign(self, children):
        name, _eq, value = children
        return syntax.Assign(name.value, value, (name.start_pos, _span(value)[1]), _span(name))

    def group(self, children):
        return children[1]

    def binary(self, children):
        left, op, right = children
        return syntax.Binary(op.value, left, right, (_span(left)[0], _span(right)[1]), op.start_pos)

    def unary(self, children):
        op, operand = children
        return syntax.Unary(op.value, operand, (op.start_pos, _span(operand)[1]))


@lru_cache(maxsize=1)
def _lark():
    # The analysed LALR tables are cached (about 30 ms saved per run). Lark's cache=True would put a pickle
    # at a predictable name in the shared temporary folder, which another user could plant; ours lives in
    # the user's own cache folder. Lark checks the grammar, options and versions before using it.
    from lark import Lark, Transformer

    class Builder(_Builder, Transformer):
        pass

    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                transformer=Builder(), cache=_cache_file() or False)


def _cache_file() -> str | None:
    """~/.cache/bpcli/grammar.lark-cache (or under $XDG_CACHE_HOME), made private; None if it cannot be."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "bpcli")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid() or not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    return os.path.join(folder, "grammar.lark-cache")


def parse(source: str) -> syntax.Program:
    """Parse a program (or a lone expression); InputError (exit 2) with line and column on a syntax error."""
    if not _COMMENTS.sub("", source).strip():
        raise InputError("empty expression: nothing to differentiate")
    text = _join_lines(source)
    if os.environ.get("BPCLI_PARSER") != "lark":
        tree = fastparse.expression(text)
        if tree is not None:
            return tree
    return parse_with_lark(source, text)


def parse_with_lark(source: str, text: str | None = None) -> syntax.Program:
    """Parse with Lark alone (`text`: the source after _join_lines); the reference the fast path is tested against."""
    from lark.exceptions import UnexpectedInput

    try:
        return _lark().parse(_join_lines(source) if text is None else text)
    except InputError as err:
        err.source = source
        raise
    except UnexpectedInput as err:
        raise _friendly(source, err) from None


_COMMENTS = re.compile(r"#[^\n]*")


_CONTINUES = set("+-*/^=,(")


def _join_lines(source: str) -> str:
    """Where a newline is only a blank, make it a space (one character for one: positions stay put).

    Comments become blanks. A source with no `=` and no `;` is one expression, so every newline is a
    blank; in a program, a newline inside parentheses or after an operator continues the statement.
    """
    if "\n" not in source and "#" not in source:
        return source
    chars = list(_COMMENTS.sub(lambda m: " " * len(m.group()), source))
    program = "=" in chars or ";" in chars
    depth, last = 0, ""
    for i, ch in enumerate(chars):
        if ch == "\n" and (not program or depth > 0 or last in _CONTINUES):
            chars[i] = " "
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        if not ch.isspace():
            last = ch
    return "".join(chars)


# ---- turning Lark's exceptions into one clear line ------------------------------------------------

_OPERAND_END = re.compile(r"(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[^\W\d]\w*|\))\s*$")
_OPERAND_START = {"NUMBER", "NAME", "LPAR"}
_DESCRIBE = {"$END": "end of expression", "RPAR": "')'", "LPAR": "'('", "COMMA": "','"}


def _friendly(source: str, err) -> InputError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(err, UnexpectedCharacters):
        char = source[err.pos_in_stream]
        return InputError(f"unexpected character {char!r}", source, err.pos_in_stream)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    if tok.type == "$END":
        unclosed = _unclosed_paren(source)
        if unclosed is not None:
            return InputError("unclosed '(': a ')' is missing", source, unclosed)
        return InputError(f"unexpected end of expression: {_expected(err)}", source, len(source.rstrip()))
    pos = tok.start_pos
    if tok.type == "RPAR" and _unclosed_paren(source[:pos + 1]) is None and _depth(source[:pos + 1]) < 0:
        return InputError("unmatched ')'", source, pos)
    # Only the tail before the token matters; searching the whole prefix would be quadratic.
    tail_start = max(0, pos - 256)
    before = _OPERAND_END.search(source, tail_start, pos)
    if tok.type in _OPERAND_START and before:
        prev = before.group(1)
        if tok.type == "NUMBER" and tok.startswith(".") and prev[0].isdigit() and not before.group(0)[-1].isspace():
            return InputError(f"malformed number {prev + tok}", source, before.start(1))
        if prev in ops.FUNCTIONS:
            return InputError(f"{prev} is a function: write {prev}({tok}…)", source, pos)
        hint = "use *" if prev == ")" or tok.type == "LPAR" else f"write {prev}*{tok}"
        return InputError(f"missing operator before {str(tok)!r}: implicit multiplication is not "
                          f"supported, {hint}", source, pos)
    return InputError(f"unexpected {_DESCRIBE.get(tok.type, repr(str(tok)))}: {_expected(err)}", source, pos)


def _expected(err) -> str:
    if err.expected & _OPERAND_START:
        return "expected a number, a variable, a function call or '('"
    return "expected an operator, ')' or ','" if "COMMA" in err.expected else "expected an operator or ')'"


def _depth(text: str) -> int:
    return text.count("(") - text.count(")")


def _unclosed_paren(text: str) -> int | None:
    """The offset of the first '(' that is never closed, or None."""
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack[0] if stack else None
