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
from typing import TYPE_CHECKING

from bpcli.language import fastparse
from bpcli import primitives
from bpcli.language import syntax
from bpcli.errors import InputError, cut

if TYPE_CHECKING:  # pathlib is imported where used: only Lark's path reads the grammar file (start-up time)
    from pathlib import Path

_GRAMMAR = "bpcli.lark"


def grammar_path() -> Path:
    """The grammar file: inside the installed package (bpcli/grammar/) or, in a checkout, ../grammar/."""
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent   # the bpcli package
    for candidate in (here / "grammar" / _GRAMMAR, here.parent / "grammar" / _GRAMMAR):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"bpcli's grammar file {_GRAMMAR} is missing from {here}")


class _Builder:
    """Called by the LALR parser on every reduction, which is postfix order: appends the `syntax` items to
    self.items and returns what a parent needs of a subexpression, (start, end, index of its first item).
    Tokens are read through .value, .start_pos and .end_pos only."""

    def __init__(self) -> None:
        self.items: list = []

    def _add(self, kind: int, text: str, span: syntax.Span, extra, first: int | None = None) -> tuple:
        self.items.append((kind, text, span, extra))
        return span[0], span[1], len(self.items) - 1 if first is None else first

    def number(self, children):
        (tok,) = children
        value = float(tok.value)
        if value == float("inf"):
            raise InputError(f"the number {cut(tok.value)} is too large for double precision", None, tok.start_pos)
        return self._add(syntax.NUM, tok.value, (tok.start_pos, tok.end_pos), value)

    def variable(self, children):
        (tok,) = children
        return self._add(syntax.VAR, tok.value, (tok.start_pos, tok.end_pos), None)

    def call(self, children):
        name, _lpar, args, rpar = children
        return self._add(syntax.CALL, name.value, (name.start_pos, rpar.end_pos),
                         (len(args), (name.start_pos, name.end_pos)), args[0][2])

    def args(self, children):
        return children[::2]  # drop the commas

    def group(self, children):
        return children[1]

    def binary(self, children):
        left, op, right = children
        return self._add(syntax.BINARY, op.value, (left[0], right[1]), op.start_pos, left[2])

    def unary(self, children):
        op, operand = children
        return self._add(syntax.UNARY, op.value, (op.start_pos, operand[1]), None, operand[2])

    def assign(self, children):
        name, _eq, value = children
        return syntax.Statement([], (name.start_pos, value[1]), name.value, (name.start_pos, name.end_pos)), value[2]

    def start(self, children):
        # statement k's items run from its first item to the next statement's first
        firsts = [child[-1] for child in children]
        statements = []
        for child, a, b in zip(children, firsts, firsts[1:] + [len(self.items)]):
            st = child[0] if len(child) == 2 else syntax.Statement([], (child[0], child[1]))
            st.items = self.items[a:b]
            statements.append(st)
        return syntax.Program(tuple(statements), (statements[0].span[0], statements[-1].span[1]))


@lru_cache(maxsize=1)
def _lark():
    # The analysed LALR tables are cached (about 30 ms saved per run). Lark's cache=True would put a pickle
    # at a predictable name in the shared temporary folder, which another user could plant; ours lives in
    # the user's own cache folder. Lark checks the grammar, options and versions before using it.
    from lark import Lark, Transformer

    class Builder(_Builder, Transformer):
        pass

    builder = Builder()
    return builder, Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                         transformer=builder, cache=_cache_file() or False)


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
        if tree in (fastparse.OPERAND_MISSING, fastparse.UNCLOSED):
            err = _ends_too_soon(source, _EXPECT_OPERAND) if tree == fastparse.OPERAND_MISSING else _unclosed(source)
            if err is not None:
                raise err
        elif isinstance(tree, fastparse.Collision):
            err = _collision(source, tree.pos, tree.token, tree.type)
            if err is not None:
                raise err
        elif isinstance(tree, syntax.Program):
            return tree
    return parse_with_lark(source, text)


def parse_with_lark(source: str, text: str | None = None) -> syntax.Program:
    """Parse with Lark alone (`text`: the source after _join_lines); the reference the fast path is tested against."""
    from lark.exceptions import UnexpectedInput

    builder, lark = _lark()
    builder.items = []
    try:
        return lark.parse(_join_lines(source) if text is None else text)
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

# compiled by re on first use (and cached): only an error message needs it
_OPERAND_END = r"(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[^\W\d]\w*|\))\s*$"
_OPERAND_START = {"NUMBER", "NAME", "LPAR"}
_DESCRIBE = {"$END": "end of expression", "RPAR": "')'", "LPAR": "'('", "COMMA": "','"}


def _friendly(source: str, err) -> InputError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        assert pos is not None, "Lark's lexer says where it stopped"
        return InputError(f"unexpected character {source[pos]!r}", source, pos)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    if tok.type == "$END":
        return _ends_too_soon(source, _expected(err))
    pos = tok.start_pos
    if tok.type == "RPAR" and _unclosed_paren(source[:pos + 1]) is None and _depth(source[:pos + 1]) < 0:
        return InputError("unmatched ')'", source, pos)
    collision = _collision(source, pos, str(tok), tok.type)
    if collision is not None:
        return collision
    return InputError(f"unexpected {_DESCRIBE.get(tok.type, repr(str(tok)))}: {_expected(err)}", source, pos)


def _collision(source: str, pos: int, tok: str, kind: str) -> InputError | None:
    """The error for an operand token (`kind`: NUMBER, NAME or LPAR) right after an operand, or None."""
    # Only the tail before the token matters; searching the whole prefix would be quadratic.
    before = re.compile(_OPERAND_END).search(source, max(0, pos - 256), pos)
    if kind not in _OPERAND_START or not before:
        return None
    prev = before.group(1)
    if kind == "NUMBER" and tok.startswith(".") and prev[0].isdigit() and not before.group(0)[-1].isspace():
        return InputError(f"malformed number {prev + tok}", source, before.start(1))
    if prev in primitives.FUNCTIONS:
        return InputError(f"{prev} is a function: write {prev}({tok}…)", source, pos)
    hint = "use *" if prev == ")" or kind == "LPAR" else f"write {prev}*{tok}"
    return InputError(f"missing operator before {tok!r}: implicit multiplication is not supported, {hint}",
                      source, pos)


_EXPECT_OPERAND = "expected a number, a variable, a function call or '('"


def _unclosed(source: str) -> InputError | None:
    """The error for a source that ends with a '(' open, or None."""
    unclosed = _unclosed_paren(source)
    return None if unclosed is None else InputError("unclosed '(': a ')' is missing", source, unclosed)


def _ends_too_soon(source: str, expected: str) -> InputError:
    """The error for a source that ends too soon: an unclosed '(', else the end where `expected` was due."""
    return _unclosed(source) or InputError(f"unexpected end of expression: {expected}", source,
                                           len(source.rstrip()))


def _expected(err) -> str:
    if err.expected & _OPERAND_START:
        return _EXPECT_OPERAND
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
