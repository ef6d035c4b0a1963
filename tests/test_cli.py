"""The command line through Click's CliRunner: exit codes, stdout and stderr kept apart."""

from __future__ import annotations

import json
import math

import pytest

from bpcli import primitives
from bpcli.core import rules

SEED = ["grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]


def test_seed_json(run):
    r = run(*SEED, "--format", "json")
    assert r.code == 0 and r.err == ""
    doc = r.json()
    assert doc["value"] == 44 and doc["gradient"] == {"w": 4, "x": 8, "y": 12, "z": 11}
    assert doc["expression"] == "(w+x*y)*z" and doc["output"] == "f"
    assert doc["inputs"] == {"w": 5, "x": 3, "y": 2, "z": 4}
    gates = [(n["name"], n["op"], n["expr"], n["args"], n["value"], n["grad"]) for n in doc["nodes"][4:]]
    assert gates == [("v", "mul", "x*y", ["x", "y"], 6, 4), ("u", "add", "w+v", ["w", "v"], 11, 4),
                     ("f", "mul", "u*z", ["u", "z"], 44, 1)]
    assert doc["backward"][4] == {"from": "v", "to": "x", "local_expr": "y", "upstream": 4, "local": 2,
                                  "product": 8}
    assert "perturb" not in doc


def test_seed_table_shows_the_lecture(run):
    r = run(*SEED)
    assert r.code == 0 and r.err == ""
    for fragment in ("Forward pass", "x*y", "w+v", "u*z", "Backward pass", "∂f/∂x = ∂f/∂v · ∂v/∂x",
                     "y = 2", "Gradient of f"):
        assert fragment in r.out
    lines = {line.split()[0]: line.split() for line in r.out.splitlines() if line.strip()}
    assert lines["v"][1:] == ["x*y", "6"] and lines["u"][1:] == ["w+v", "11"] and lines["f"][1:] == ["u*z", "44"]
    assert "\x1b[" not in r.out  # no colour codes when stdout is not a terminal


def test_seed_perturb_agrees(run):
    r = run(*SEED, "--perturb")
    assert r.code == 0 and "ok: backprop agrees with the perturbation for 4 of 4 inputs" in r.out
    doc = run(*SEED, "--perturb", "--format", "json").json()
    check = doc["perturb"]
    assert check["ok"] and check["method"] == "central" and check["step"] is None
    row = check["rows"][0]
    assert set(row) >= {"name", "analytic", "numeric", "abs_error", "rel_error", "verdict", "kink", "step"}
    assert [r["verdict"] for r in check["rows"]] == ["ok"] * 4


def test_lecture_nudge(run):
    r = run(*SEED, "--perturb", "0.001", "--perturb-method", "forward")
    assert r.code == 0
    assert "44.004" in r.out and "f(x+h)" in r.out


def test_perturb_method_implies_perturb(run):
    doc = run(*SEED, "--perturb-method", "complex", "--format", "json").json()
    assert doc["perturb"]["method"] == "complex" and doc["perturb"]["ok"]


def test_mismatch_exits_1(run, monkeypatch):
    monkeypatch.setitem(primitives.OPS, "mul", primitives.OPS["mul"]._replace(partials=("b", "a + 1.0")))
    rules.forget()
    try:
        r = run(*SEED, "--perturb")
    finally:
        monkeypatch.undo()
        rules.forget()
    assert r.code == 1
    assert "mismatch" in r.out
    assert r.err.startswith("bpcli: error: the perturbation check disagrees with backprop for")


def test_kink_rows_are_flagged_not_failed(run):
    doc = run("grad", "max(x,y) + relu(z)", "-v", "x=1,y=1,z=0", "--perturb", "--format", "json").json()
    assert doc["perturb"]["ok"] and all(row["kink"] for row in doc["perturb"]["rows"])
    assert doc["gradient"] == {"x": 0.5, "y": 0.5, "z": 0}


def test_complex_refused_with_kinks(run):
    r = run("grad", "abs(x)", "-v", "x=1", "--perturb-method", "complex")
    assert r.code == 2 and "smooth expression" in r.err


def test_eval(run):
    r = run("eval", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4")
    assert r.code == 0 and "f = 44" in r.out and "Backward" not in r.out
    doc = run("eval", "(w+x*y)*z", "-v", "w=5", "-v", "x=3", "-v", "y=2,z=4", "--format", "json").json()
    assert doc["value"] == 44 and "gradient" not in doc and "grad" not in doc["nodes"][0]


def test_stdin_expression(run):
    r = run("grad", "-", "-v", "x=2", "--format", "json", input="x^3\n")
    assert r.code == 0 and r.json()["gradient"] == {"x": 12} and r.json()["expression"] == "x^3"


def test_wrt(run):
    doc = run(*SEED, "--wrt", "x,z", "--format", "json").json()
    assert doc["gradient"] == {"x": 8, "z": 11}
    r = run(*SEED, "--wrt", "q")
    assert r.code == 2 and "--wrt q" in r.err


def test_constant_expression_values(run):
    doc = run("grad", "sin(x)+y+z", "-v", "x=pi/4,y=-2,z=1e-3", "--format", "json").json()
    assert doc["inputs"] == {"x": math.pi / 4, "y": -2, "z": 1e-3}
    doc = run("grad", "x", "-v", "x=max(1,2)", "--format", "json").json()
    assert doc["inputs"] == {"x": 2}


def test_no_variables(run):
    doc = run("grad", "2*3", "--format", "json").json()
    assert doc["gradient"] == {} and doc["value"] == 6


def test_unused_value_warns_on_stderr(run):
    r = run("grad", "x", "-v", "x=1,q=2", "--format", "json")
    assert r.code == 0 and "warning: q is not a variable" in r.err and r.json()["value"] == 1


def test_expression_starting_with_minus(run):
    assert run("grad", "-v", "x=3", "--format", "json", "--", "-x^2").json()["value"] == -9
    assert run("grad", " -x^2", "-v", "x=3", "--format", "json").json()["value"] == -9


def test_json_is_strict(run):
    r = run("grad", "x*1e-300*1e-300", "-v", "x=1", "--format", "json")
    assert "NaN" not in r.out and "Infinity" not in r.out and r.json()["value"] == 0


@pytest.mark.parametrize("args,code,fragment", [
    (["grad", "(w+x", "-v", "w=1,x=1"], 2, "unclosed '('"),
    (["grad", "x*/y", "-v", "x=1,y=1"], 2, "unexpected '/'"),
    (["grad", "1.2.3"], 2, "malformed number"),
    (["grad", "x $ y", "-v", "x=1,y=1"], 2, "unexpected character"),
    (["grad", ""], 2, "empty expression"),
    (["grad", "2x", "-v", "x=1"], 2, "write 2*x"),
    (["grad", "foo(x)", "-v", "x=1"], 2, "unknown function 'foo'"),
    (["grad", "sine(x)", "-v", "x=1"], 2, "did you mean sin"),
    (["grad", "sin(x,x)", "-v", "x=1"], 2, "sin takes 1 argument, got 2"),
    (["grad", "sin", "-v", "x=1"], 2, "sin is a function"),
    (["grad", "x*y*z", "-v", "y=1"], 2, "no value for x, z"),
    (["grad", "x", "-v", "x"], 2, "malformed -v"),
    (["grad", "x", "-v", "x="], 2, "malformed -v"),
    (["grad", "x", "-v", "=3"], 2, "malformed -v"),
    (["grad", "x", "-v", "x=1,x=2"], 2, "gives x twice"),
    (["grad", "x", "-v", "x=1", "-v", "x=2"], 2, "gives x twice"),
    (["grad", "x", "-v", "x=y+1"], 2, "not variables"),
    (["grad", "x", "-v", "x=1+"], 2, "-v x=1+"),
    (["grad", "x", "-v", "2x=1"], 2, "not a variable name"),
    (["grad", "x*pi", "-v", "x=1,pi=3"], 2, "pi is a constant"),
    (["grad", "x*e", "-v", "x=1,e=3"], 2, "e is a constant"),
    (["grad", "x", "-v", "x=1", "--perturb", "abc"], 2, "--perturb takes a step"),
    (["grad", "x", "-v", "x=1", "--perturb", "0"], 2, "positive"),
    (["grad", "x", "-v", "x=1", "--format", "xml"], 2, "'xml' is not one of"),
    (["grad", "x", "--nope"], 2, "No such option"),
    (["grad"], 2, "give the expression either as EXPR or with -f FILE"),
    (["nope"], 2, "No such command"),
    (["grad", "log(x)", "-v", "x=-1"], 3, "f = log(x) is undefined at x = -1"),
    (["grad", "log(x)", "-v", "x=0"], 3, "log needs a positive argument"),
    (["grad", "x/y", "-v", "x=1,y=0"], 3, "division by zero"),
    (["grad", "sqrt(x)", "-v", "x=-1"], 3, "undefined"),
    (["grad", "sqrt(x)", "-v", "x=0"], 3, "infinite"),
    (["grad", "exp(x)", "-v", "x=1000"], 3, "overflows"),
    (["grad", "10^400"], 3, "overflows"),
    (["grad", "1e308*10"], 3, "overflows"),
    (["grad", "0^-1"], 3, "0 to a negative power"),
    (["grad", "x^y", "-v", "x=-2,y=2"], 3, "base must be positive"),
])
def test_errors_exit_code_and_one_message(run, args, code, fragment):
    r = run(*args)
    assert r.code == code, (r.out, r.err)
    assert r.out == ""
    assert r.err.startswith("bpcli: error: ")
    assert fragment in r.err.splitlines()[0]
    assert "Traceback" not in r.err


def test_syntax_error_has_a_caret(run):
    r = run("grad", "x*/y", "-v", "x=1,y=1")
    assert r.err.splitlines() == ["bpcli: error: unexpected '/': expected a number, a variable, a function "
                                  "call or '(' (column 3)", "  x*/y", "    ^"]


def test_help_lists_exit_codes(run):
    for args in ([], ["grad"], ["eval"]):
        r = run(*args, "--help")
        assert r.code == 0 and "Exit status" in r.out and "undefined" in r.out


def test_version(run):
    r = run("--version")
    assert r.code == 0 and "bpcli" in r.out


def test_stdin_that_is_not_utf8(run):
    from click.testing import CliRunner

    from bpcli.cli.commands import cli
    result = CliRunner().invoke(cli, ["grad", "-", "-v", "x=1"], input=b"x+\xff")
    assert result.exit_code == 2 and "not UTF-8" in result.stderr and result.exception.__class__ is SystemExit


@pytest.mark.parametrize("source", ["x+\x01", "\x00", "x+\udcff", "((((", "))))", ",", "x,y", "max(,)", "1e", "1e1e",
                                    "x^", "^x", "**", "x***y", "sin()", "()", "x" * 10_000 + "$", "θ²", "x—y"])
def test_garbage_gets_exit_2_and_one_message(run, source):
    r = run("grad", source, "-v", "x=1,y=1")
    assert r.code == 2 and r.out == "" and r.err.startswith("bpcli: error: ")
    for line in r.err.splitlines()[1:]:
        assert line.isprintable()


def test_plain_bpcli_prints_help(run):
    r = run()
    assert r.code == 0 and "Commands:" in r.out and "grad" in r.out


def test_perturb_that_swallowed_the_expression_says_so(run):
    r = run("grad", "-v", "x=3", "--perturb", "x^2")
    assert r.code == 2 and "--perturb took 'x^2' as its step" in r.err


def test_empty_wrt_is_an_error(run):
    r = run(*SEED, "--wrt", ",")
    assert r.code == 2 and "--wrt needs" in r.err


def test_crlf_on_stdin(run):
    assert run("grad", "-", "-v", "x=1", "--format", "json", input="x*2\r\n").json()["expression"] == "x*2"


def test_wrt_skips_edges_it_does_not_need(run):
    doc = run("grad", "x^y", "-v", "x=-2,y=2", "--wrt", "x", "--format", "json").json()
    assert doc["gradient"] == {"x": -4}
    assert run("grad", "x^y", "-v", "x=-2,y=2").code == 3


@pytest.mark.parametrize("columns", ["abc", "-5", "0", "99999999"])
def test_bad_columns_are_ignored(run, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    r = run(*SEED)
    assert r.code == 0 and "u*z" in r.out


def test_local_gradients_show_the_rule_folded(run):
    r = run("grad", "x^3", "-v", "x=2")
    assert "3*x^2 = 12" in r.out


@pytest.mark.parametrize("fmt,expected", [("csv", "value\n3.0\n"), ("tsv", "value\n3.0\n"),
                                          ("jsonl", '{"value": 3.0}\n')])
def test_eval_writes_a_row(run, fmt, expected):
    r = run("eval", "x+1", "-v", "x=2", "--format", fmt)
    assert r.code == 0 and r.out == expected


def test_step_writes_a_row_per_step(run):
    r = run("step", "x^2", "-v", "x=10", "--lr", "0.25", "--steps", "2", "--format", "csv")
    assert r.code == 0
    assert r.out == "step,f,loss,x,d_x\n0,100.0,100.0,10.0,20.0\n1,25.0,25.0,5.0,10.0\n2,6.25,6.25,2.5,5.0\n"
    r = run("step", "x^4", "-v", "x=10", "--lr", "1", "--steps", "9", "--format", "jsonl")
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert r.code == 3 and "diverged at step 4" in r.err and [s["step"] for s in lines] == [0, 1, 2, 3]


def test_the_backward_table_tells_the_uses_of_a_node_apart(run):
    out = run("grad", "x*x + sin(x)", "-v", "x=2").out
    assert "∂f/∂v · ∂v/∂x₁" in out and "∂f/∂v · ∂v/∂x₂" in out and "∂f/∂u · ∂u/∂x " in out


def test_a_long_table_says_under_it_how_many_rows_it_leaves_out(run):
    out = run("step", "x*x", "-v", "x=1", "--lr", "0.01", "--steps", "205").out
    lines = out.splitlines()
    assert "(⋮ 6 rows not shown: --format json has every row)" in lines and max(map(len, lines[:-1])) <= 80
