"""The fuzzers' alphabet, read from the grammar itself (grammar/bpcli.lark through Lark) and the table of
primitives, so that a new operator, keyword or function is fuzzed as soon as it exists.

Each terminal of the compiled grammar is either a finite set of strings (`"+"`, or `"^" | "**"`, which Lark
compiles to one regular expression) and then every one of them is in the alphabet, or an open regular
expression (NUMBER, NAME, separators, comments, ignored blanks), which hypothesis draws strings from. The
names of the functions and constants in bpcli.primitives join them, as do a few recurring variables and
text the grammar has no terminal for.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# The standard library's parser of regular expressions reads which strings one matches: private, but the
# same modules from Python 3.11 on.
from re import _constants as sre
from re import _parser as sre_parse

from hypothesis import strategies as st
from lark import Lark

from bpcli import primitives
from bpcli.language import parser

NAMES = ("x", "y", "θ")  # variables that recur, so that an expression meets the same operand twice
# What no terminal matches: a character outside the language, a blank Lark does not ignore, a digit that
# is not ASCII, and a NUMBER that is too large for a double.
OUTSIDE = ("$", "\u00a0", "٣", "1e999")


@dataclass(frozen=True)
class Alphabet:
    """The terminals of a grammar: those of finitely many strings, spelled out; the others, as patterns."""

    literals: dict[str, tuple[str, ...]]   # terminal name -> every string it matches
    patterns: dict[str, re.Pattern[str]]   # terminal name -> its regular expression

    @property
    def strings(self) -> tuple[str, ...]:
        """Every literal of the grammar, every function and constant of the table, NAMES and OUTSIDE."""
        found = [s for strings in self.literals.values() for s in strings]
        found += [*primitives.FUNCTIONS, *primitives.CONSTANTS, *NAMES, *OUTSIDE]
        return tuple(dict.fromkeys(found))

    def tokens(self) -> st.SearchStrategy[str]:
        """One token: half the time a string of `strings`, else one drawn from a pattern terminal."""
        drawn = [st.from_regex(pattern, fullmatch=True) for pattern in self.patterns.values()]
        return st.one_of(st.sampled_from(self.strings), st.one_of(drawn))

    def characters(self) -> st.SearchStrategy[str]:
        """One character of a token."""
        return self.tokens().filter(bool).flatmap(st.sampled_from)


def finite_language(regex: str) -> tuple[str, ...] | None:
    """Every string the regular expression matches, when it is a choice among fixed strings; else None."""
    return _strings(sre_parse.parse(regex))


def _strings(items) -> tuple[str, ...] | None:
    found = ("",)
    for op, arg in items:
        if op is sre.LITERAL:
            options: tuple[str, ...] | None = (chr(arg),)
        elif op is sre.SUBPATTERN:
            options = _strings(arg[-1])
        elif op is sre.BRANCH:
            branches = [_strings(branch) for branch in arg[1]]
            options = None if None in branches else tuple(s for b in branches if b is not None for s in b)
        elif op is sre.IN and all(kind is sre.LITERAL for kind, _ in arg):
            options = tuple(chr(code) for _, code in arg)
        else:
            return None
        if options is None:
            return None
        found = tuple(a + b for a in found for b in options)
    return found


def read(grammar: str) -> Alphabet:
    """The alphabet of a grammar given as Lark text."""
    literals, patterns = {}, {}
    for terminal in Lark(grammar, parser="lalr", lexer="basic").terminals:
        regex = terminal.pattern.to_regexp()
        strings = finite_language(regex)
        if strings is None:
            patterns[terminal.name] = re.compile(regex)
        else:
            literals[terminal.name] = strings
    return Alphabet(literals, patterns)


def quoted(grammar: str) -> list[str]:
    """Every "double-quoted" literal written in a grammar, comments aside: what the alphabet must hold."""
    code = re.sub(r"//[^\n]*", "", grammar)
    return [ast.literal_eval(f'"{text}"') for text in re.findall(r'"((?:[^"\\]|\\.)*)"', code)]


GRAMMAR = parser.grammar_path().read_text(encoding="utf-8")
LANGUAGE = read(GRAMMAR)
