"""The fast path for lone expressions (bpcli/fastparse.py) against Lark, the grammar's own parser.

Two claims, on hand-picked and on random token sequences (of the grammar's own terminals and the table's
function names: tests/alphabet.py): where Lark builds a tree, the fast path builds the same one (every item
and span) and does not decline a valid lone expression; where Lark fails, the fast path declines (returns
None), or says where Lark fails (the text cut short, an operand right after an operand), and then the
message parser.parse writes without Lark is exactly Lark's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import alphabet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli.language import fastparse
from bpcli.language import parser
from bpcli.language import syntax
from bpcli.errors import InputError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


def same_tree(a: syntax.Program, b: syntax.Program) -> bool:
    """Statement by statement: name, spans and every postfix item (flat lists: == does not recurse)."""
    fields = lambda st: (st.items, st.span, st.name, st.name_span)  # noqa: E731
    return a.span == b.span and [fields(st) for st in a.statements] == [fields(st) for st in b.statements]


def lark(text: str):
    try:
        return parser.parse_with_lark(text)
    except InputError:
        return None


def lark_error(text: str) -> tuple[str, int | None]:
    try:
        parser.parse_with_lark(text)
    except InputError as err:
        return err.message, err.pos
    raise AssertionError(f"Lark accepted {text!r}")


def agree(text: str) -> None:
    ours = fastparse.expression(parser._join_lines(text))
    theirs = lark(text)
    if theirs is None:
        assert ours in (None, fastparse.OPERAND_MISSING, fastparse.UNCLOSED) or isinstance(ours, fastparse.Collision), \
            f"the fast path accepted {text!r}, which Lark rejects"
        if ours is not None:  # cut short or a collision: the error is written without Lark, and must be Lark's
            with pytest.raises(InputError) as err:
                parser.parse(text)
            assert (err.value.message, err.value.pos) == lark_error(text), text
    elif ";" not in text and "=" not in parser._join_lines(text) and "\n" not in parser._join_lines(text):
        assert ours is not None, f"the fast path declined {text!r}, a lone expression Lark accepts"
        assert same_tree(ours, theirs), f"different trees for {text!r}"


HAND_PICKED = [
    "(w+x*y)*z", "x", "2", "-x^2", "x^-y^2", "-x*y", "x - -y", "x * + y", "2^x^y", "x**y**-z", "(x)", "((x))+y",
    "(x+1)^2", "-(2)", "-2", "- - x", "f(x)", "max(x, y, 2)", "max((x), -y)", "sin (x)", "x^-y*z", "1.5e3*x",
    ".5+1.", "θ*x_1", "  x  +  y  ", "x\t+\fy\r", "tanh(sigmoid(x)*2)^-1", "a/b/c", "a-b-c", "a^b^c", "-a^-b",
    "-(x)^2", "+x", "min(x)", "x # comment", "x +\n y",
    # declined: Lark's error messages stay the only ones
    "", "  ", "x y", "2x", "1.2.3", "()", "f()", "(x", "x)", "x,y", "(x,y)", "x+", "*x", "x^", "1e999",
    "f(x,)", "f(,x)", "x $ y", "x\u00a0+y", "٣", "x = 1", "x; y", "a=1\nb=a",
    # cut short: written without Lark, as Lark would
    "(", "-", "x -", "((x)", "f(x,", "max(x, (y", "x^", "(x # )", "x+ # (", "sin(", "  ( x ^ - ",
    "2 x", "(a)(b)", "1.2.3", "sin x", "x 1e999", "2 (x)", "x # c\n y", "max(x y)", "x .5", "1 .5", "e(x)",
]


@pytest.mark.parametrize("text", HAND_PICKED)
def test_the_fast_path_builds_what_lark_builds_or_declines(text):
    agree(text)


def test_the_alphabet_has_every_literal_of_the_grammar():
    missing = [text for text in alphabet.quoted(alphabet.GRAMMAR) if text not in alphabet.LANGUAGE.strings]
    assert not missing, f"the grammar's {missing} are not fuzzed"


def test_a_new_operator_in_the_grammar_joins_the_alphabet():
    grammar = alphabet.GRAMMAR.replace('SLASH: "/"', 'SLASH: "/" | "÷"')
    assert grammar != alphabet.GRAMMAR and "÷" in alphabet.quoted(grammar)
    assert "÷" in alphabet.read(grammar).strings and "÷" not in alphabet.LANGUAGE.strings


def test_the_alphabet_spells_out_finite_terminals_and_draws_from_the_others():
    assert set(alphabet.LANGUAGE.literals["POW"]) == {"^", "**"}
    assert {"NUMBER", "NAME"} <= set(alphabet.LANGUAGE.patterns)
    assert alphabet.finite_language(r"(?:ab|[cd])e") == ("abe", "ce", "de")
    assert alphabet.finite_language(r"[0-9]+") is None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(alphabet.LANGUAGE.tokens(), max_size=24))
def test_random_token_sequences(tokens):
    agree("".join(tokens))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_valid_expressions(data):
    # grown from valid pieces, so most are accepted and the trees are compared, not just both rejected
    parts = [data.draw(st.sampled_from(["x", "y", "2", "0.5", "pi"]))]
    for _ in range(data.draw(st.integers(0, 12))):
        a = data.draw(st.sampled_from(parts))
        b = data.draw(st.sampled_from(parts))
        shape = data.draw(st.sampled_from(["{a}+{b}", "{a}-{b}", "{a}*{b}", "{a}/{b}", "{a}^{b}", "{a}**{b}",
                                           "-{a}", "+{a}", "({a})", "sin({a})", "max({a}, {b})", "{a} ^ -{b}"]))
        parts.append(shape.format(a=a, b=b))
    agree(parts[-1])


def test_deep_nesting_needs_no_recursion():
    n = 100_000
    text = "(" * n + "x" + "*y+1)" * n
    tree = fastparse.expression(text)
    assert tree is not None and tree.span == (n, len(text) - 1)


def test_lark_can_be_forced(monkeypatch):
    calls = []
    monkeypatch.setattr(fastparse, "expression", lambda text: calls.append(text))
    parser.parse("x+y")
    assert calls == ["x+y"]
    monkeypatch.setenv("BPCLI_PARSER", "lark")
    calls.clear()
    assert isinstance(parser.parse("x+y"), syntax.Program) and calls == []


@pytest.mark.slow
def test_the_language_suite_passes_with_lark_alone():
    # The pure-Lark path stays whole: the language and lecture tests again, with the fast path off.
    here = Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(here / "test_language.py"), str(here / "test_lecture.py")],
                          env={**os.environ, "BPCLI_PARSER": "lark"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
