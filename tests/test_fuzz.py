"""Fuzzing: no input makes bpcli crash, hang or print a non-number.

The command line (through CliRunner, and a few real processes) and the library are fed arbitrary text
and bytes, mutations of valid expressions and programs (as EXPR, on stdin, in -f files), hostile -v values
and --vars files, batch rows, and completion requests for bash, zsh and fish. Every run ends with exit
status 0, 1, 2 or 3 and no traceback; a status other than 0 comes with a message on stderr, status 2 with
nothing on stdout, and no number printed in JSON, JSON Lines, CSV or TSV is nan or inf. The library raises
only BpcliError. Batch files, headers and JSON keys of random bytes: every record gets its row (so exit 0
loses none) and no message carries a control character. Huge inputs (1 MB, 10^5-deep nesting) finish
quickly, and time grows linearly with the input: each family of inputs is timed at N and 10N.

FUZZ_EXAMPLES sets the examples per property (default 150); docs/development.md says how to run it longer.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

import alphabet
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli.points import arrays
from bpcli.points import bindings
from bpcli.codegen import emit
from bpcli.views import export
from bpcli.language import parser
from bpcli.points import readers
from bpcli.core import rules
from bpcli.cli.commands import cli
from bpcli.errors import BpcliError, DomainError
from bpcli.api import Perturb, Source, compile_source, evaluate, grad

pytestmark = pytest.mark.slow  # the quick tier fuzzes the parsers only (tests/test_fastparse.py)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
VALID = ["(w+x*y)*z", "max(x, y, 2) - relu(x)^2", "a = x*y; b = a + sin(a); b/2", "-x^-y^2",
         "sigmoid(x) * log(1 + exp(-y))", "# c\nv = x*y\nf = v*v\n", "tan(x)^z / sqrt(w)", "exp(x*100) - min(y, z)"]
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
NO_NUL = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00")
POINT = "w=0.5,x=1,y=2,z=3"
# Points where values overflow, underflow, or sit on a pole or a kink.
HOSTILE = ["0", "-0", "1", "-1", "1e-320", "1e-300", "1e300", "-1e308", "710", "-745", "pi/2", "1e16"]
PARSERS = st.sampled_from([{}, {"BPCLI_PARSER": "lark"}])
NUMBER_FORMATS = ("json", "jsonl", "csv", "tsv")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder for files the properties write (one per module: hypothesis reruns a test many times)."""
    return tmp_path_factory.mktemp("fuzz")


def invoke(args: list[str], stdin: bytes | None = None, env: dict | None = None):
    """Run the CLI in-process and check what every run must satisfy."""
    result = CliRunner().invoke(cli, args, input=stdin, env=env, prog_name="bpcli")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, result.stderr)
    if result.exit_code != 0:
        assert result.stderr.strip(), (args, result.exit_code)
    if result.exit_code == 2:  # bad input: nothing was computed, so nothing is written
        assert result.stdout == "", (args, result.stdout[:200])
    assert "Traceback" not in result.stderr
    fmt = next((a for a in args if a in NUMBER_FORMATS), None)
    if fmt and result.stdout:
        assert_finite_numbers(result.stdout, fmt)
    return result


def assert_finite_numbers(out: str, fmt: str) -> None:
    """No number in the output is nan or inf (an empty field or null, as --on-error null writes, is fine)."""
    def refuse(token: str):
        raise AssertionError(f"{token} in the output:\n{out[:500]}")

    if fmt in ("json", "jsonl"):
        for line in [out] if fmt == "json" else out.splitlines():
            json.loads(line, parse_constant=refuse)
        return
    sep = "," if fmt == "csv" else "\t"
    for line in out.splitlines()[1:]:
        for field in line.split(sep):
            assert field.strip().lower().lstrip("+-") not in ("nan", "inf", "infinity"), out[:500]


# A character of a token of the grammar (tests/alphabet.py), or one the command line must survive: NUL, DEL,
# and a line separator that str.splitlines takes for a line end.
INSERTED = st.one_of(alphabet.LANGUAGE.characters(), st.sampled_from(["\x00", "\x7f", "\u2028"]))


def mutate(data, text: str) -> str:
    """Delete, duplicate or insert a character, one to four times."""
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "duplicate", "insert"]))
        if kind == "delete" and text:
            text = text[:i] + text[i + 1:]
        elif kind == "duplicate" and text:
            text = text[:i] + text[i - 1:i] + text[i:]
        else:
            text = text[:i] + data.draw(INSERTED) + text[i:]
    return text


# ---- the command line ---------------------------------------------------------------------------

@FUZZ
@given(st.text(ALPHABET, max_size=80), PARSERS)
def test_arbitrary_text(text, env):
    invoke(["grad", "-", "-v", "x=1,y=2,z=3,w=4"], stdin=text.encode("utf-8"), env=env)


@FUZZ
@given(st.binary(max_size=80))
def test_arbitrary_bytes(data):
    invoke(["grad", "-", "-v", "x=1"], stdin=data)


@FUZZ
@given(st.data(), PARSERS)
def test_mutated_expressions(data, env):
    source = mutate(data, data.draw(st.sampled_from(VALID)))
    fmt = data.draw(st.sampled_from(["table", "json"]))
    extra = data.draw(st.sampled_from([[], ["--perturb"], ["--explain"], ["--wrt", "x"],
                                       ["--perturb-method", "forward"]]))
    invoke(["grad", "-", "-v", POINT, "--format", fmt, *extra], stdin=source.encode("utf-8"), env=env)


@FUZZ
@given(st.data())
def test_every_command_on_mutated_sources(data):
    source = mutate(data, data.draw(st.sampled_from(VALID)))
    command = data.draw(st.sampled_from([
        ["eval", "-v", POINT, "--format", "json"], ["graph", "-v", POINT, "--format", "dot"], ["graph"],
        ["code", "--lang", "c"], ["step", "-v", POINT, "--steps", "3", "--target", "1"],
        ["grad", "-v", POINT, "--format", "csv"]]))
    invoke([command[0], source, *command[1:]] if source[:1] not in ("-", "") else [command[0], "-", *command[1:]],
           stdin=source.encode("utf-8"))


@FUZZ
@given(st.data())
def test_program_files(folder, data):
    """-f FILE: mutated programs, sometimes with bytes that are not UTF-8, and --output names."""
    text = mutate(data, data.draw(st.sampled_from(VALID)))
    raw = text.encode("utf-8")
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    path = folder / "program.bp"
    path.write_bytes(raw)
    output = data.draw(st.sampled_from([[], ["--output", "a"], ["--output", "b"], ["--output", "zz"]]))
    invoke(["grad", "-f", str(path), "-v", POINT, "--format", "json", *output])


@FUZZ
@given(st.data())
def test_vars_files(folder, data):
    """--vars FILE: JSON objects with odd values, `name = value` lines, and bytes."""
    kind = data.draw(st.sampled_from(["json", "lines", "bytes"]))
    value = st.one_of(st.floats(), st.integers(), st.text(ALPHABET, max_size=8), st.none(), st.booleans(),
                      st.lists(st.integers(), max_size=2), st.sampled_from(HOSTILE))
    if kind == "json":
        keys = st.sampled_from(["x", "y", "z", "w", "pi", "θ", ""])
        raw = json.dumps(data.draw(st.dictionaries(keys, value))).encode()
    elif kind == "lines":
        lines = data.draw(st.lists(st.tuples(st.sampled_from(["x", "y", "z", "w", "2x", "#"]), value), max_size=5))
        raw = "\n".join(f"{name} = {v}" for name, v in lines).encode("utf-8")
    else:
        raw = data.draw(st.binary(max_size=60))
    path = folder / "point.vars"
    path.write_bytes(raw)
    invoke(["grad", "(w+x*y)*z", "--vars", str(path), "--format", "json"])


@FUZZ
@given(st.text(ALPHABET, max_size=40))
def test_hostile_values(value):
    invoke(["grad", "x*y", "-v", value, "-v", "y=1"])


@FUZZ
@given(st.data())
def test_hostile_points(data):
    """Mutated expressions at points where values overflow or underflow: numbers stay finite."""
    source = mutate(data, data.draw(st.sampled_from(VALID)))
    point = ",".join(f"{name}={data.draw(st.sampled_from(HOSTILE))}" for name in "wxyz")
    fmt = data.draw(st.sampled_from(NUMBER_FORMATS))
    extra = ["--perturb"] if fmt == "json" and data.draw(st.booleans()) else []
    invoke(["grad", "-", "-v", point, "--format", fmt, *extra], stdin=source.encode("utf-8"))


@FUZZ
@given(st.lists(st.text(ALPHABET, max_size=12), max_size=6), st.sampled_from(["csv", "jsonl", "tsv"]),
       st.sampled_from(["stop", "skip", "null"]))
def test_hostile_batch_rows(rows, fmt, policy):
    header = "" if fmt == "jsonl" else ("x\ty\n" if fmt == "tsv" else "x,y\n")
    invoke(["grad", "x*y", "--batch", "-", "--batch-format", fmt, "--on-error", policy],
           stdin=(header + "\n".join(rows)).encode("utf-8"))


@FUZZ
@given(st.binary(max_size=120), st.sampled_from(["csv", "jsonl", "tsv"]), st.sampled_from(["stop", "null"]))
def test_batch_bytes(data, fmt, policy):
    invoke(["grad", "log(x)*y", "--batch", "-", "--batch-format", fmt, "--on-error", policy], stdin=b"x,y\n" + data)


# ---- the surroundings: batch files, headers and keys from random bytes --------------------------

# What no message may carry to a terminal: controls, separators, bidi controls, lone surrogates (the
# one newline ending each line is the only one allowed).
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
# Pieces that make quoted fields, separators and line ends frequent, among plain random bytes.
BATCH_PIECES = st.one_of(st.sampled_from([b'"', b'""', b",", b"\t", b"\n", b"\r", b"\r\n", b"1", b"-2.5", b" ",
                                          b"x", b"y", b"{", b"}", b":", b"\x1b]0;t\x07", b"\xff", b"\x00"]),
                         st.binary(max_size=4))


def assert_safe_messages(result) -> None:
    assert UNSAFE.findall(result.stderr) == [], result.stderr[:300]


def records_in(data: bytes, fmt: str) -> int:
    """The rows bpcli must answer for: records that are not blank, after the header, as Python's csv module
    reads them (a quoted field may hold line ends), or lines that are not blank (JSON Lines)."""
    text = data.decode("utf-8-sig", "replace").replace("\r\n", "\n").replace("\r", "\n")
    pieces = [line + "\n" for line in text.split("\n")]
    if fmt == "jsonl":
        return sum(1 for piece in pieces if piece.strip())
    consumed: list[str] = []

    def lines():
        for piece in pieces:
            consumed.append(piece)
            yield piece

    count = 0
    for _ in csv.reader(lines(), delimiter="," if fmt == "csv" else "\t"):
        count += bool("".join(consumed).strip())
        consumed.clear()
    return max(count - (fmt != "jsonl"), 0)


@FUZZ
@given(st.lists(BATCH_PIECES, max_size=40), st.sampled_from(["csv", "tsv", "jsonl"]), st.booleans())
def test_batch_files_of_random_bytes_keep_every_record(pieces, fmt, header):
    """Every record of the input gets its row (computed, or empty with --on-error null), whatever the
    bytes; so exit 0 means no row was lost, and no message carries a control character."""
    data = ({"csv": b"x,y\n", "tsv": b"x\ty\n", "jsonl": b""}[fmt] if header else b"") + b"".join(pieces)
    result = invoke(["grad", "x*y", "--batch", "-", "--batch-format", fmt, "--on-error", "null", "--format",
                     "jsonl"], stdin=data)
    assert_safe_messages(result)
    if result.exit_code in (0, 3) and result.stdout:
        rows = result.stdout.splitlines()
        assert len(rows) == records_in(data, fmt), (data, rows, result.stderr[:300])
        assert result.exit_code == 3 or all("null" not in row for row in rows)


@FUZZ
@given(st.one_of(st.binary(max_size=60), st.text(ALPHABET, max_size=40).map(str.encode)),
       st.sampled_from(["csv header", "tsv header", "--vars key", "jsonl key"]))
def test_random_headers_and_keys_are_echoed_safely(folder, name, where):
    """A header line, or a key of a --vars object or a JSON Lines row, of random bytes or text: the
    messages that quote it carry no control character (keys were always quoted with repr())."""
    key = name.decode("utf-8", "replace")
    if where == "--vars key":
        (folder / "keys.json").write_text(json.dumps({key: 1, "x": 2}))
        result = invoke(["grad", "x", "--vars", str(folder / "keys.json"), "--format", "csv"])
    elif where == "jsonl key":
        result = invoke(["grad", "x", "--batch", "-", "--batch-format", "jsonl"],
                        stdin=json.dumps({key: 1, "x": 2}).encode() + b"\n" + json.dumps({key: "x"}).encode())
    else:
        sep = b"," if where == "csv header" else b"\t"
        result = invoke(["grad", "x*y", "--batch", "-", "--batch-format", where[:3]],
                        stdin=name + b"\n1" + sep + b"2\n")
    assert_safe_messages(result)


# ---- completion: Tab on garbage completes nothing and never complains ---------------------------

def candidates(out: str, shell: str) -> list[tuple[str, str]]:
    """(type, value) pairs from a completion response; fails on anything that is not one."""
    body = out[:-1] if out.endswith("\n") else out  # no candidates: one empty line
    lines = body.split("\n") if body else []
    if shell == "zsh_complete":  # type, value, help: three lines per candidate
        assert len(lines) % 3 == 0, out
        found = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 3)]
    else:
        found = [tuple(line.split("\t")[0].split(",", 1)) for line in lines]
    assert all(len(c) == 2 and c[0] in ("plain", "file", "dir") for c in found), out
    return found


@FUZZ
@given(st.text(NO_NUL, max_size=60))
def test_completion_never_complains(line):  # (an environment variable cannot hold NUL, so no shell sends it)
    result = invoke([], env={"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": "bpcli grad " + line})
    assert result.exit_code == 0 and result.stderr == ""
    candidates(result.stdout, "bash_complete")


@FUZZ
@given(st.text(NO_NUL, max_size=40), st.sampled_from(["zsh_complete", "fish_complete", "bash_complete"]), st.data())
def test_completion_of_garbage_expressions_offers_nothing(text, shell, data):
    """After an expression that does not compile, `-v <Tab>` offers nothing, in every shell."""
    try:
        compile_source(text)
        valid = True
    except BpcliError:
        valid = False
    words = ["bpcli", "grad", text, "-v"]
    current = data.draw(st.sampled_from(["", "x", "w=5,"]))
    line = " ".join(shlex.quote(w) for w in words) + " " + current
    env = {"_BPCLI_COMPLETE": shell}
    if shell == "bash_complete":
        env["COMP_LINE"] = line
    else:
        env["COMP_WORDS"] = line
        env["COMP_CWORD"] = str(len(words)) if shell == "zsh_complete" else current
    result = invoke([], env=env)
    assert result.exit_code == 0 and result.stderr == ""
    found = candidates(result.stdout, shell)
    if not valid:
        assert found == [], (text, result.stdout)


@FUZZ
@given(st.text(NO_NUL, max_size=60), st.text(NO_NUL, max_size=10), st.integers(-2, 12),
       st.sampled_from(["zsh_complete", "fish_complete"]))
def test_completion_words_never_complain(words, token, cword, shell):
    """zsh and fish send the words (COMP_WORDS) and the current word (its index, or fish's token)."""
    env = {"_BPCLI_COMPLETE": shell, "COMP_WORDS": "bpcli " + words,
           "COMP_CWORD": str(cword) if shell == "zsh_complete" else token}
    result = invoke([], env=env)
    assert result.exit_code == 0 and result.stderr == ""
    candidates(result.stdout, shell)


# ---- the library --------------------------------------------------------------------------------

def library_calls(source, values, method):
    for call in (lambda: compile_source(source), lambda: evaluate(source, values),
                 lambda: grad(source, values, perturb=Perturb(method))):
        try:
            result = call()
        except BpcliError:
            continue
        if hasattr(result, "value"):
            assert math.isfinite(result.value)
        for number in getattr(result, "gradient", {}).values():
            assert math.isfinite(number)


@FUZZ
@given(st.text(ALPHABET, max_size=60), st.sampled_from(["central", "forward", "complex"]), PARSERS)
def test_library_raises_only_bpcli_errors(text, method, env):
    with _env(env):
        library_calls(text, {"x": 1.0, "y": 2.0, "z": 3.0, "w": 4.0}, method)


@FUZZ
@given(st.data(), st.sampled_from(["central", "forward", "complex"]))
def test_library_on_mutated_sources_at_hostile_points(data, method):
    source = mutate(data, data.draw(st.sampled_from(VALID)))
    output = data.draw(st.sampled_from([None, "a", "b", "f"]))
    number = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1e-320, 1e300, -745.0, math.pi / 2]))
    values = {name: data.draw(number) for name in "wxyz"}
    library_calls(Source(source, output), values, method)


class _env:
    """Set environment variables for a block (hypothesis examples cannot use pytest's monkeypatch)."""

    def __init__(self, values: dict) -> None:
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- huge inputs --------------------------------------------------------------------------------

N = 100_000
MB = 1_000_000


HUGE = {  # name: (source, exit status, part of the message)
    "10^5 '('": ("(" * N, 2, "unclosed '('"),
    "10^5 '(' then x": ("(" * N + "x", 2, "unclosed '('"),
    "10^5 'sin(' then x": ("sin(" * N + "x", 2, "unclosed '('"),
    "10^5 deep, one ')' too many": ("(" * N + "x" + ")" * (N + 1), 2, "unmatched ')'"),
    "10^5 deep, an operand missing": ("(" * N + "x+" + ")" * N, 2, "unexpected ')'"),
    "10^5 deep": ("(" * N + "x" + ")" * N, 0, ""),
    "10^5 '+'": ("x" + "+" * N, 2, "unexpected"),
    "max( 5·10^4 times": ("max(" * (N // 2) + "x", 2, "unclosed '('"),
    "1e 5·10^4 times": ("1e" * (N // 2), 2, "missing operator"),
    "10^5 NUL": ("\x00" * N, 2, "unexpected character"),
    "1 MB name": ("é" * MB, 0, ""),
    "1 MB of trailing blanks": ("x" + " " * MB, 0, ""),  # quadratic in the fast parser before
    "1 MB of newlines": ("x" + "\n" * MB, 0, ""),
    "1 MB, 10^4 additions": (("x" + " " * 98 + "+") * (MB // 100) + "x", 0, ""),
    "1 MB number": ("1" * MB, 2, "too large"),
    "10^5 'x+'": ("x+" * N, 2, "unexpected end"),
}


@pytest.mark.parametrize("name", HUGE)
def test_huge_and_deep_inputs_finish(name):
    source, code, message = HUGE[name]
    value = "é" * MB + "=1" if source.startswith("é") else "x=1"
    result = invoke(["grad", "-", "-v", value, "--format", "json"], stdin=source.encode("utf-8"))
    assert result.exit_code == code and message in result.stderr, result.stderr[:300]


@pytest.mark.parametrize("kind", ["garbage", "not utf-8", "nul"])
def test_a_megabyte_file_is_an_error_not_a_crash(kind, folder):
    rng = random.Random(kind)
    data = {"garbage": bytes(rng.choice(b"()+-*/^,;=# .e019xy\t\n") for _ in range(MB)),
            "not utf-8": bytes(rng.randrange(256) for _ in range(MB)),
            "nul": b"\x00" * MB}[kind]
    path = folder / f"{kind}.bp"
    path.write_bytes(data)
    for args in (["grad", "-f", str(path), "-v", "x=1,y=1"], ["grad", "x", "--vars", str(path)],
                 ["grad", "x*y", "--batch", str(path), "--on-error", "skip"]):
        assert invoke(args).exit_code in (2, 3)


def test_huge_values():
    for value in ("x=" + "1" * MB + "x", "x=" + "(" * N, "x=1," * (MB // 4), "x" * MB, "x=1" + " " * MB + "+"):
        assert invoke(["grad", "x", "-v", value]).exit_code == 2
    assert invoke(["grad", "x", "-v", "x=max(" + "1," * N + "2)"]).exit_code == 0


@pytest.mark.parametrize("data,code", [
    (b"x\xff\xfe+(" * (MB // 5), 2), (b"(" * N + b"x", 2), (b"x" + b" " * MB, 0),
], ids=["1 MB not UTF-8", "10^5 '('", "1 MB of blanks"])
def test_a_real_process_on_stdin(data, code):
    """As a user's shell runs it: a real process (this checkout's code), bounded in time, no traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    p = subprocess.run([sys.executable, "-m", "bpcli", "grad", "-", "-v", "x=1", "--format", "json"], input=data,
                       capture_output=True, timeout=120, env=env, cwd=ROOT)
    assert p.returncode == code and b"Traceback" not in p.stderr, p.stderr[-500:]
    assert (p.stderr.startswith(b"bpcli: error:") and p.stdout == b"") if code else json.loads(p.stdout)["value"] == 1


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
    rules.forget()  # compiling the gate's rules is part of the work (a fresh process has no cache)
    evaluate(text, {"x": 1.0})


def _wide_max_json(text: str) -> None:
    rules.forget()
    names = text[4:-1].split(",")
    export.to_json(grad(text, {name: float(i % 3) for i, name in enumerate(names)}))


def _wide_max_code(text: str) -> None:
    graph = compile_source(text)
    for write in emit.LANGUAGES.values():
        write(graph)


def _wide_max_batch(text: str) -> None:
    rules.forget()
    names = text[4:-1].split(",")
    arrays.run(compile_source(text), {name: [float(i % 3)] * 300 for i, name in enumerate(names)}, names)


def _overflow_message(text: str) -> None:
    with pytest.raises(DomainError):
        grad(text, {"x": 800.0})


def _batch_header(text: str) -> None:
    readers._Rows("csv", text.split(",")).set_header(text)


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
    "a program with the error at the end":
        (_compile, lambda n: "".join(f"a{i} = x*{i}\n" for i in range(n // 10)) + "a0 +* 1", 5_000),
    "a -v number ending in a letter": (_bindings, lambda n: "x=" + "1" * n + "x", 1_000),
    "-v pairs": (_bindings, lambda n: ",".join(f"a{i}={i}" for i in range(n // 8)), 5_000),
    "max of n arguments": (_wide_max, lambda n: "max(" + "x," * n + "1)", 100),
    "max of n arguments, JSON": (_wide_max_json, _max_of, 300),
    "max of n arguments, code": (_wide_max_code, _max_of, 300),
    "max of n arguments, batch": (_wide_max_batch, _max_of, 100),
    "an overflow under n sums of 1 + exp":
        (_overflow_message, lambda n: "t = exp(x); " + "+".join(["sin(t+1)"] * (n // 9)), 6_000),
    "a batch header of n columns": (_batch_header, lambda n: ",".join(f"x{i}" for i in range(n // 6)), 6_000),
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


# family: (a valid input of size n, the same input broken at its end); both compiled, error message included
BROKEN_AT_THE_END = {
    "an unclosed parenthesis after n nested ones":
        (lambda n: "(" * n + "x" + ")" * n, lambda n: "(" * (n + 1) + "x" + ")" * n),
    "a sum missing its last operand": (lambda n: "x+" * n + "x", lambda n: "x+" * n),
    "a call missing its ')'": (lambda n: "max(" + "x," * n + "x)", lambda n: "max(" + "x," * n + "x"),
    "two operands in a row at the end": (lambda n: "x+" * n + "x*y", lambda n: "x+" * n + "x y"),
}


@pytest.mark.parametrize("family", sorted(BROKEN_AT_THE_END))
def test_an_error_costs_no_more_than_the_valid_input(family):
    """Reporting the error in a huge input takes at most twice the time compiling the valid one takes."""
    valid, broken = BROKEN_AT_THE_END[family]
    n = 100_000
    good, bad = _best_of_3(_compile, valid(n)), _best_of_3(_compile, broken(n))
    assert bad <= 2 * good, f"{family}: valid {good:.3f} s, broken {bad:.3f} s at n={n}"


# ---- found by fuzzing ---------------------------------------------------------------------------

def test_perturb_next_to_the_largest_double():
    """The rounding-noise sum overflowed (math.fsum raised OverflowError): a traceback."""
    result = invoke(["grad", "x*y", "-v", "x=1e300,y=1e8", "--perturb"])
    assert result.exit_code == 0 and "ok: backprop agrees" in result.stdout


def test_a_target_beyond_double_precision_diverges():
    """(f - T) ** 2 raised OverflowError for T = 1e300: a traceback instead of exit 3."""
    result = invoke(["step", "x", "-v", "x=0", "--target", "1e300"])
    assert result.exit_code == 3 and "diverged at step 0" in result.stderr


def test_a_csv_field_over_the_csv_modules_limit():
    """csv's own 128 KiB field limit raised _csv.Error (exit 1, no message); a field is now read up to the
    line limit, so a 200 000-digit number fails as a number, and a long header name is a name."""
    row = invoke(["grad", "x*y", "--batch", "-", "--on-error", "skip"], stdin=b"x,y\n" + b"1" * 200_000 + b",2\n3,4\n")
    assert row.exit_code == 3 and "is not a finite number" in row.stderr and "12.0" in row.stdout
    header = invoke(["grad", "x", "--batch", "-"], stdin=b"x," + b"y" * 200_000 + b"\n1,2\n")
    assert header.exit_code == 0 and header.stdout.splitlines()[-1] == "1.0,1.0,1.0"


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
    assert result.graph.local_formula(result.graph.output, 5) == "eq(x5, f)/ties(f, x0, x1, x2, …, x2999)"
    assert grad("max(x, y, 1)", {"x": 1, "y": 0}).graph.local_formula(3, 0) == "eq(x, f)/ties(f, x, y, 1)"
