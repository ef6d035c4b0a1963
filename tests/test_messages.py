"""What a person at a terminal reads: each command's --help, and the messages for the usual mistakes."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bpcli.cli.commands import cli

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("grad", "diff", "eval", "step", "graph", "code", "completion")


def exit_statuses(text: str) -> list[int]:
    """The codes listed under 'Exit status:' in a --help text."""
    epilog = text.split("Exit status:\n", 1)[1]
    return [int(m.group(1)) for m in re.finditer(r"^ +(\d+) ", epilog, re.M)]


@pytest.mark.parametrize("command,codes", [
    ([], [0, 1, 2, 3, 74, 130, 141]),
    (["grad"], [0, 1, 2, 3, 74, 130, 141]),
    (["diff"], [0, 2, 3, 74, 130, 141]),      # 3: with -v
    (["eval"], [0, 2, 3, 74, 130, 141]),      # no --perturb, so no 1
    (["step"], [0, 2, 3, 74, 130, 141]),      # 3: diverged
    (["graph"], [0, 2, 3, 74, 130, 141]),     # 3: with -v
    (["code"], [0, 2, 74, 130, 141]),         # nothing is evaluated
    (["completion"], [0, 2, 74, 130, 141]),
])
def test_help_lists_the_exit_statuses_of_its_command(run, command, codes):
    r = run(*command, "--help")
    assert r.code == 0 and r.err == ""
    assert exit_statuses(r.out) == codes
    assert max(map(len, r.out.split("Exit status:\n", 1)[1].splitlines())) <= 80


def test_ctrl_c_exits_130_with_one_line(run, monkeypatch):
    from bpcli import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(api, "evaluate", interrupted)
    r = run("eval", "x", "-v", "x=1")
    assert r.code == 130 and r.out == "" and r.err.strip() == "bpcli: interrupted"


def test_completion_write_into_a_file_that_is_no_folder_is_bad_input(run, tmp_path):
    (tmp_path / "file").write_text("")
    r = run("completion", "--write", str(tmp_path / "file" / "completions"))
    assert r.code == 2 and r.out == "" and r.err.startswith("bpcli: error: cannot write ")


@pytest.mark.parametrize("command", ["grad", "diff", "eval", "step", "graph", "code"])
def test_output_option_says_what_it_does_for_every_command(run, command):
    r = run(command, "--help")
    text = " ".join(r.out.split())
    assert "--output NAME Use the program's assigned NAME as the output instead of its last statement." in text
    assert "Differentiate" not in text


@pytest.mark.parametrize("width", [80, 60])
def test_command_list_is_whole_phrases_with_grad_first(width):
    result = CliRunner().invoke(cli, ["--help"], terminal_width=width)
    listing = result.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in listing.splitlines() if not line.startswith("    ")]
    assert names == list(COMMANDS)
    assert "..." not in listing
    for line in listing.splitlines():
        assert len(line) <= width


@pytest.mark.parametrize("expression,says", [
    ("tahn(x)", "unknown function 'tahn': did you mean tanh?"),       # a swap, not tan
    ("ln(x)", "unknown function 'ln': write log(…)"),
    ("Ln(x)", "unknown function 'Ln': write log(…)"),
    ("log10(x)", "unknown function 'log10': write log(…)/log(10)"),
    ("pow(x, 2)", "unknown function 'pow': write a^b"),
    ("ReLU(x)", "unknown function 'ReLU': did you mean relu? bpcli's functions are lower case"),
    ("Sigmoid(x)", "unknown function 'Sigmoid': did you mean sigmoid? bpcli's functions are lower case"),
    ("tanH(x)", "unknown function 'tanH': did you mean tanh?"),
])
def test_unknown_function_suggests_what_was_meant(run, expression, says):
    r = run("grad", expression, "-v", "x=1")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"bpcli: error: {says}") and "for a product" not in r.err


@pytest.mark.parametrize("command", ["grad", "diff", "eval", "step", "graph", "code"])
def test_expression_that_starts_with_a_minus_says_how_to_write_it(run, command):
    values = [] if command == "code" else ["-v", "x=3"]
    r = run(command, "-x^2", *values)
    assert r.code == 2 and r.out == ""
    assert r.err == (f"bpcli: error: No such option '-x'; an expression that starts with \"-\" goes last, after "
                     f"\"--\": bpcli {' '.join([command, *values])} -- '-x^2', or starts with a space: ' -x^2'\n")
    advice = shlex.split(r.err.split(": bpcli ", 1)[1].split(", or starts", 1)[0])
    assert run(*advice).code == 0 and run(command, " -x^2", *values).code == 0


@pytest.mark.parametrize("args,joined", [
    (["grad", "x*y", "-v", "x=1", "y=2"], "-v x=1,y=2"),
    (["eval", "x*y*z", "-v", "x=1", "y=2", "z=3"], "-v x=1,y=2,z=3"),
    (["grad", "-v", "x=1", "y=2", "x*y"], "-v x=1,y=2"),      # y=2 became EXPR, x*y the extra one
    (["step", "x*y", "--var=x=1", "y=2"], "-v x=1,y=2"),
])
def test_values_after_v_separated_by_spaces_hint_at_the_comma(run, args, joined):
    r = run(*args)
    assert r.code == 2 and r.out == "" and len(r.err.splitlines()) == 1
    assert r.err.startswith("bpcli: error: Got unexpected extra argument")
    assert r.err.rstrip("\n").endswith(f"; -v takes one argument: join the values with commas, {joined}")


@pytest.mark.parametrize("args,says", [
    (["grad", "z", "-v", "Z=4"], "no value for z: give it with -v z=… (Z was given; names are case-sensitive)"),
    (["step", "x*z", "-v", "X=1,Z=4"], "no value for x, z: give them with -v x=…,z=… (X, Z were given; "
                                         "names are case-sensitive)"),
    (["grad", "z", "--grid", "Z=0:1:1"], "no value for z: give it a --grid or -v (Z was given; "
                                          "names are case-sensitive)"),
])
def test_a_missing_value_given_in_another_case_says_so(run, args, says):
    r = run(*args)
    assert r.code == 2 and r.out == "" and r.err == f"bpcli: error: {says}\n"


@pytest.mark.parametrize("more", [[], ["--grid", "y=0:1:1"]])
def test_an_unused_value_named_like_a_variable_says_so(run, more):
    r = run("grad", "y*z", "-v", "y=1,z=1,Z=4", *more)
    assert r.code == 0
    case = ("bpcli: warning: Z is not a variable of the expression, z is (names are case-sensitive); "
            "its value is ignored\n")
    grid = "bpcli: warning: -v y: the --grid for y takes precedence\n"
    assert r.err == case + (grid if more else "")


@pytest.mark.parametrize("points", [["--grid", "x=0:1:0.5"], ["--batch", "-"]])
def test_format_table_given_with_many_points_is_an_error(run, points):
    r = run("grad", "x", *points, "--format", "table", input="x\n1\n")
    assert r.code == 2 and r.out == ""
    assert r.err == "bpcli: error: --format table is for one point; with --batch or --grid use csv, tsv or jsonl\n"
    r = run("grad", "x", *points, input="x\n1\n")  # the default table: rows in the input's format
    assert r.code == 0 and r.out.startswith("x,value,d_x\n")


@pytest.mark.parametrize("text", ['{"x":1}\n{"x":2}\n', '\n  {"x": 1}\r\n{"x": 2}\r\n', '\ufeff{"x":1}\n{"x":2}\n'])
def test_json_lines_on_standard_input_are_recognised(run, text):
    r = run("grad", "x*x", "--batch", "-", input=text)
    assert r.code == 0 and r.err == ""
    assert [json.loads(line) for line in r.out.splitlines()] == [{"x": 1, "value": 1, "d_x": 2},
                                                                 {"x": 2, "value": 4, "d_x": 4}]


def test_json_lines_in_a_file_of_another_name_are_recognised(run, tmp_path):
    (tmp_path / "points.txt").write_text('{"x": 3}\n')
    r = run("grad", "x*x", "--batch", str(tmp_path / "points.txt"), "--format", "csv")
    assert r.code == 0 and r.err == "" and r.out == "x,value,d_x\n3.0,9.0,6.0\n"



@pytest.fixture
def terminal():
    """terminal(*args): bpcli in a real pseudo-terminal of 80 columns (stdin, stdout and stderr all on it)."""
    pexpect = pytest.importorskip("pexpect")

    def spawn(*args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
        return pexpect.spawn(sys.executable, ["-m", "bpcli", *args], env=env, cwd=str(ROOT), encoding="utf-8",
                             timeout=60, dimensions=(24, 80))
    spawn.EOF = pexpect.EOF
    return spawn


def test_reading_the_expression_at_a_terminal_says_so_first(run, terminal):
    child = terminal("grad", "-", "-v", "x=2", "--format", "json")
    child.expect_exact("bpcli: reading the expression from standard input (end with Ctrl-D)\r\n")
    child.send("x^2\n")
    child.sendeof()
    child.expect_exact('"gradient": {"x": 4.0}')
    child.expect(terminal.EOF)
    child.close()
    assert child.exitstatus == 0
    assert run("grad", "-", "-v", "x=2", input="x^2").err == ""  # not from a pipe


def test_ctrl_c_while_reading_at_a_terminal_exits_130(terminal):
    child = terminal("grad", "-", "-v", "x=2")
    child.expect_exact("(end with Ctrl-D)")
    child.sendintr()
    child.expect(terminal.EOF)
    child.close()
    assert "bpcli: interrupted" in child.before and "Traceback" not in child.before
    assert child.exitstatus == 130


def test_completion_usage_names_the_shell_its_help_speaks_of(run):
    r = run("completion", "--help")
    assert r.out.splitlines()[0].endswith("completion [OPTIONS] [SHELL]")
    assert "script for SHELL" in r.out
