"""Fuzzing (a start on issue 8): no input makes bpcli crash.

Arbitrary text, mutations of valid expressions, hostile -v values, batch rows and completion requests:
the exit status is 0, 1, 2 or 3, there is never a traceback, and a non-zero status comes with a
message on stderr. FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py runs a longer session.
"""

from __future__ import annotations

import math
import os
import random
import time
import traceback

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli import bindings, export, ops, parser
from bpcli.cli import cli
from bpcli.errors import BpcliError
from bpcli.pipeline import compile_source, evaluate, grad

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
VALID = ["(w+x*y)*z", "max(x, y, 2) - relu(x)^2", "a = x*y; b = a + sin(a); b/2", "-x^-y^2",
         "sigmoid(x) * log(1 + exp(-y))", "# c\nv = x*y\nf = v*v\n"]
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
N = 100_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder for files the tests write (one per module: hypothesis reruns a test many times)."""
    return tmp_path_factory.mktemp("fuzz")


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


# ---- time grows linearly ------------------------------------------------------------------------

def _compile(text: str) -> None:
    try:
        compile_source(text)
    except BpcliError as err:
        err.lines()  # the message with its caret is part of the work


def _lark(text: str) -> None:
    try:
        parser.parse_with_lark(text)
    except BpcliError as err:
        err.lines()


def _bindings(text: str) -> None:
    try:
        bindings.parse_bindings([text])
    except BpcliError as err:
        err.lines()


def _max_of(n: int) -> str:
    return "max(" + ",".join(f"x{i}" for i in range(n)) + ")"


def _wide_max(text: str) -> None:
    ops.rules.cache_clear()  # compiling the gate's rules is part of the work (a fresh process has no cache)
    evaluate(text, {"x": 1.0})


def _wide_max_json(text: str) -> None:
    ops.rules.cache_clear()
    names = text[4:-1].split(",")
    export.to_json(grad(text, {name: float(i % 3) for i, name in enumerate(names)}))


def _complete(text: str) -> None:
    CliRunner().invoke(cli, [], env={"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": f"bpcli grad '{text}' -v "})


_GARBAGE = "".join(random.Random(8).choice("()+-*/^,;=#. e019xyθ\t\n\x00") for _ in range(200_000))

# family: (what runs, input of size n, N); the size 10N is timed against N
LINEAR = {
    "garbage": (_compile, lambda n: _GARBAGE[:n], 20_000),
    "trailing blanks": (_compile, lambda n: "x" + " " * n, 1_000),
    "an open parenthesis, unclosed": (_compile, lambda n: "(" * n, 2_000),
    "sums with the error at the end": (_compile, lambda n: "x+" * n, 2_000),
    "sums with the error at the end, Lark": (_lark, lambda n: "x+" * n, 2_000),
    "a program with the error at the end": (_compile, lambda n: "".join(f"a{i} = x*{i}\n" for i in range(n // 10)) + "a0 +* 1", 5_000),
    "a -v number ending in a letter": (_bindings, lambda n: "x=" + "1" * n + "x", 1_000),
    "-v pairs": (_bindings, lambda n: ",".join(f"a{i}={i}" for i in range(n // 8)), 5_000),
    "max of n arguments": (_wide_max, lambda n: "max(" + "x," * n + "1)", 100),
    "max of n arguments, JSON": (_wide_max_json, _max_of, 300),
    "completion after a long expression": (_complete, lambda n: "x*y+" * (n // 4) + "z", 2_000),
}


def _best_of_3(run, text: str) -> float:
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("family", sorted(LINEAR))
def test_time_grows_linearly(family):
    """t(10N) / t(N) stays under 30 (linear gives about 10, quadratic 100); times under 1 ms count as 1 ms."""
    run, make, n = LINEAR[family]
    small, large = _best_of_3(run, make(n)), _best_of_3(run, make(10 * n))
    assert large <= 30 * max(small, 1e-3), f"{family}: {small:.4f} s at N={n}, {large:.4f} s at 10N"


# ---- found by fuzzing ---------------------------------------------------------------------------

def test_perturb_next_to_the_largest_double():
    """The rounding-noise sum overflowed (math.fsum raised OverflowError): a traceback."""
    result = invoke(["grad", "x*y", "-v", "x=1e300,y=1e8", "--perturb"])
    assert result.exit_code == 0 and "ok: backprop agrees" in result.stdout


def test_a_target_beyond_double_precision_diverges():
    """(f - T) ** 2 raised OverflowError for T = 1e300: a traceback instead of exit 3."""
    result = invoke(["step", "x", "-v", "x=0", "--target", "1e300"])
    assert result.exit_code == 3 and "diverged at step 0" in result.stderr


def test_a_csv_field_over_the_csv_limit():
    """csv's 128 KiB field limit raised _csv.Error (exit 1, no message) in a row and in the header."""
    row = invoke(["grad", "x*y", "--batch", "-", "--on-error", "skip"], stdin=b"x,y\n" + b"1" * 200_000 + b",2\n3,4\n")
    assert row.exit_code == 3 and "row 1: field larger than field limit" in row.stderr and "12.0" in row.stdout
    header = invoke(["grad", "x", "--batch", "-"], stdin=b"x," + b"y" * 200_000 + b"\n1,2\n")
    assert header.exit_code == 2 and "the batch header cannot be read" in header.stderr


def test_deeply_nested_json(folder):
    """json.loads recursed into 10^5 nested arrays: RecursionError from --vars and from a JSON Lines row."""
    path = folder / "deep.json"
    path.write_text('{"x": ' + "[" * N + "]" * N + "}")
    assert "nested too deeply" in invoke(["grad", "x", "--vars", str(path)]).stderr
    row = invoke(["grad", "x", "--batch", "-", "--batch-format", "jsonl"], stdin=b"[" * N)
    assert row.exit_code == 3 and "row 1: not a JSON object (nested too deeply)" in row.stderr


def test_fish_sends_a_blank_token():
    """Click's fish completion took the first word of an empty split: IndexError."""
    result = invoke([], env={"_BPCLI_COMPLETE": "fish_complete", "COMP_WORDS": "bpcli grad x", "COMP_CWORD": " "})
    assert result.exit_code == 0 and result.stderr == ""


def test_the_library_refuses_values_that_are_not_finite_numbers():
    """grad("relu(x)", {"x": nan}) gave 0 with slope 0; a string gave ValueError, 10**400 OverflowError."""
    for value in (math.nan, math.inf, -math.inf, "abc", None, 10 ** 400):
        with pytest.raises(BpcliError, match="the value of x is not a finite number"):
            grad("relu(x)", {"x": value})
    assert grad("x*2", {"x": "1.5"}).value == 3.0


def test_max_of_many_arguments_is_linear():
    """max with 3 000 arguments compiled 3 000 partials of 3 000 names each: 55 s and 8 GB. Each edge's
    formula also named every argument (JSON quadratic in the arguments): now the first three and the last."""
    text = _max_of(3_000)
    result = grad(text, {f"x{i}": float(i % 7) for i in range(3_000)})
    assert math.isclose(sum(result.gradient.values()), 1.0) and result.gradient["x6"] == 1 / 428
    assert result.graph.local_formula(result.graph.output, 5) == "(x5 == f)/count(f, x0, x1, x2, …, x2999)"
    assert grad("max(x, y, 1)", {"x": 1, "y": 0}).graph.local_formula(3, 0) == "(x == f)/count(f, x, y, 1)"
