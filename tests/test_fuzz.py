"""Fuzzing (a start on issue 8): no input makes bpcli crash.

Arbitrary text, mutations of valid expressions, hostile -v values, batch rows and completion requests:
the exit status is 0, 1, 2 or 3, there is never a traceback, and a non-zero status comes with a
message on stderr. FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py runs a longer session.
"""

from __future__ import annotations

import os
import traceback

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli.cli import cli

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
VALID = ["(w+x*y)*z", "max(x, y, 2) - relu(x)^2", "a = x*y; b = a + sin(a); b/2", "-x^-y^2",
         "sigmoid(x) * log(1 + exp(-y))", "# c\nv = x*y\nf = v*v\n"]
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))


def invoke(args: list[str], stdin: bytes | None = None, env: dict | None = None):
    result = CliRunner().invoke(cli, args, input=stdin, env=env, prog_name="bpcli")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, result.stderr)
    if result.exit_code != 0:
        assert result.stderr.strip(), (args, result.exit_code)
    assert "Traceback" not in result.stderr
    return result


def mutate(data, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "duplicate", "insert"]))
        if kind == "delete" and text:
            text = text[:i] + text[i + 1:]
        elif kind == "duplicate" and text:
            text = text[:i] + text[i - 1:i] + text[i:]
        else:
            text = text[:i] + data.draw(st.sampled_from(list("()+-*/^,;=# .e0123456789xyzθ\n\t\x00"))) + text[i:]
    return text


@FUZZ
@given(st.text(ALPHABET, max_size=80))
def test_arbitrary_text(text):
    invoke(["grad", "-", "-v", "x=1,y=2,z=3,w=4"], stdin=text.encode("utf-8"))


@FUZZ
@given(st.binary(max_size=80))
def test_arbitrary_bytes(data):
    invoke(["grad", "-", "-v", "x=1"], stdin=data)


@FUZZ
@given(st.data())
def test_mutated_expressions(data):
    source = mutate(data, data.draw(st.sampled_from(VALID)))
    fmt = data.draw(st.sampled_from(["table", "json"]))
    extra = data.draw(st.sampled_from([[], ["--perturb"], ["--explain"], ["--wrt", "x"]]))
    invoke(["grad", "-", "-v", "w=0.5,x=1,y=2,z=3", "--format", fmt, *extra], stdin=source.encode("utf-8"))


@FUZZ
@given(st.text(ALPHABET, max_size=40))
def test_hostile_values(value):
    invoke(["grad", "x*y", "-v", value, "-v", "y=1"])


@FUZZ
@given(st.lists(st.text(ALPHABET, max_size=12), max_size=6), st.sampled_from(["csv", "jsonl", "tsv"]),
       st.sampled_from(["stop", "skip", "null"]))
def test_hostile_batch_rows(rows, fmt, policy):
    header = "" if fmt == "jsonl" else ("x\ty\n" if fmt == "tsv" else "x,y\n")
    invoke(["grad", "x*y", "--batch", "-", "--batch-format", fmt, "--on-error", policy],
           stdin=(header + "\n".join(rows)).encode("utf-8"))


@FUZZ
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60))
def test_completion_never_complains(line):  # (an environment variable cannot hold NUL, so no shell sends it)
    result = invoke([], env={"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": "bpcli grad " + line})
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize("source", ["(" * 100_000 + "x", "x" + "+" * 100_000, "max(" * 50_000 + "x", "1e" * 50_000,
                                    "\x00" * 100_000, "é" * 1_000_000])
def test_huge_garbage_is_an_error_not_a_crash(source):
    assert invoke(["grad", "-"], stdin=source.encode("utf-8")).exit_code == 2
