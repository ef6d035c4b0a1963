"""The quick reader (bpcli.cli.quick) against Click's: on every command line it takes, the same stdout, stderr
and exit status; the command lines it must leave to Click, left; and a quick run imports no Click."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bpcli.cli import quick
from bpcli.cli.commands import cli

LECTURE = ["(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]

TAKEN = [
    ["grad", *LECTURE],
    *(["grad", *LECTURE, "--format", fmt] for fmt in ("json", "csv", "tsv", "jsonl", "table")),
    ["grad", *LECTURE, "--format=json"],
    ["eval", *LECTURE],
    *(["eval", *LECTURE, "--format", fmt] for fmt in ("json", "csv", "tsv", "jsonl")),
    ["grad", "--format", "json", "-v", "x=3", "x^2"],
    ["grad", "x*y", "-vx=3", "--var", "y=2"],
    ["grad", "x*y", "--var=x=3,y=2"],
    ["grad", "x*y", "-v=x=3,y=2"],
    ["grad", "x*y", "-v", "x=3", "-v", "y=2", "-v", "x=4"],
    ["grad", "sin(x)^2 + cos(x)^2", "-v", "x=pi/3"],
    ["grad", " -x^2", "-v", "x=3"],
    ["grad", *LECTURE, "--wrt", "x,y"],
    ["grad", *LECTURE, "--wrt", "x", "--wrt=z", "--format", "json"],
    ["grad", *LECTURE, "--wrt", ","],
    ["grad", *LECTURE, "--wrt", "q"],
    ["grad", *LECTURE, "--perturb"],
    ["grad", "--perturb", "-v", "w=5,x=3,y=2,z=4", "(w+x*y)*z"],
    ["grad", *LECTURE, "--perturb", "--format", "json"],
    ["grad", *LECTURE, "--perturb", "1e-4"],
    ["grad", *LECTURE, "--perturb=0.001"],
    ["grad", *LECTURE, "--perturb", "auto"],
    ["grad", *LECTURE, "--perturb", "0"],
    ["grad", *LECTURE, "--perturb", "abc"],
    ["grad", *LECTURE, "--perturb-method", "forward"],
    ["grad", *LECTURE, "--perturb-method", "complex", "--perturb", "1e-20"],
    ["grad", *LECTURE, "--perturb", "--format", "csv"],
    ["grad", *LECTURE, "--perturb=", "--format", "csv"],
    ["grad", *LECTURE, "--explain"],
    ["grad", *LECTURE, "--explain", "--format", "json"],
    ["grad", *LECTURE, "--explain", "--format", "tsv"],
    ["grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2"],
    ["grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "2", "--perturb", "--format", "json"],
    ["grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "3"],
    ["grad", "x^2*y^3", "-v", "x=2,y=3", "--order", "02", "--format", "csv"],
    ["grad", "x/3", "-v", "x=2", "--digits", "3"],
    ["grad", "x/3", "-v", "x=2", "--digits=17", "-q"],
    ["eval", "x/3", "-v", "x=2", "--digits", "1"],
    ["grad", "x", "-v", "x=1,y=2"],
    ["grad", "x", "-v", "x=1,y=2", "-q"],
    ["grad", "x", "-v", "x=1,y=2", "--quiet", "--format", "json"],
    ["grad", "max(x,y)", "-v", "x=1,y=1", "--format", "json"],
    ["grad", "relu(x)+abs(y)", "-v", "x=0,y=0"],
    ["grad", "log(x)", "-v", "x=-1"],
    ["grad", "exp(x)", "-v", "x=1000", "--format", "json"],
    ["grad", "1/x", "-v", "x=0"],
    ["eval", "sqrt(x)", "-v", "x=-1"],
    ["grad", "(x+", "-v", "x=1"],
    ["grad", "x +* y", "-v", "x=1,y=2"],
    ["grad", "foo(x)", "-v", "x=1"],
    ["grad", "x*y", "-v", "x=1"],
    ["grad", "x*y"],
    ["grad", "x*y", "-v", "x=1,y"],
    ["grad", "x*y", "-v", "x=1,y=nan"],
    ["grad", ""],
    ["grad", "x\x1b[31m", "-v", "x=1"],
    ["grad", "x‮y", "-v", "x=1"],
    ["grad", "α*β", "-v", "α=2,β=3", "--format", "json"],
    ["grad", "a = x*y; b = a + x; b^2", "-v", "x=2,y=3"],
    ["grad", "(" * 300 + "x" + ")" * 300, "-v", "x=1", "--format", "csv"],
    ["eval", "x*y", "-v", "x=1e308,y=10"],
]

LEFT = [
    [], ["--help"], ["--version"], ["grad"], ["grad", "--help"], ["grad", "-h"], ["diff", "x^2"],
    ["step", "x^2", "-v", "x=1"],    ["graph", "x"], ["code", "x"], ["completion", "bash"],
    ["grad", *LECTURE, "--format", "json", "--format", "csv"], ["grad", *LECTURE, "--format", "bogus"],
    ["grad", *LECTURE, "--format"], ["grad", "x", "y", "-v", "x=1"], ["grad", "-x^2", "-v", "x=1"],
    ["grad", "-v", "x=1", "--", "-x^2"], ["grad", "-f", "prog.bp", "x"], ["grad", "-f", "a.bp", "-f", "b.bp"],
    ["grad", "x", "--vars", "a.vars", "--vars", "b.vars"], ["grad", "x", "--batch", "rows.csv"],
    ["grad", "x", "--grid", "x=0:1:0.5"],
    ["grad", "x", "-v"], ["grad", "x", "-v", "-x=1"], ["grad", "x", "-qv", "x=1"],
    ["grad", "x", "-v", "x=1", "--digits", "0"],
    ["grad", "x", "-v", "x=1", "--digits", "18"], ["grad", "x", "-v", "x=1", "--order", "+2"],
    ["grad", "x", "-v", "x=1", "--order", "2", "--order", "2"], ["grad", "x", "-v", "x=1", "--perturb-method", "bogus"],
    ["grad", "x", "-v", "x=1", "--perturb", "-1"], ["grad", "x", "-v", "x=1", "--perturb", "1", "--perturb", "2"],
    ["grad", "x", "-v", "x=1", "--wrt", "-x"], ["grad", "x", "-v", "x=1", "--on-error", "skip"],
    ["eval", "x", "-v", "x=1", "--wrt", "x"], ["eval", "x", "-v", "x=1", "--perturb"], ["eval", "x", "--explain"],
    ["grad", "x", "-v", "x=1", "--explain=1"], ["grad", "--perturb", *LECTURE], ["grad", "x", "-v", "x=1", "--bogus"],
    ["grad", "x", "-v", "x=1", "-Q"],
]


def by_click(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> tuple[int, bytes, bytes]:
    result = CliRunner().invoke(cli, args, prog_name="bpcli", env=env, input=input, catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def by_quick(args: list[str], env: dict[str, str] | None = None,
             input: str | None = None) -> tuple[int | None, bytes, bytes]:
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        try:
            code = quick.run(args, os.environ)
        except SystemExit as stop:   # not expected: it would show in the comparison
            code = -1 if stop.code is None else int(stop.code)
        return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("args", TAKEN, ids=lambda args: " ".join(args)[:60])
def test_the_quick_reader_writes_what_click_writes(args):
    quick_code, quick_out, quick_err = by_quick(args)
    assert quick_code is not None, "the quick reader left this command line to Click"
    assert (quick_code, quick_out, quick_err) == by_click(args)


FILES = {"lecture.bp": "v = x*y\nu = w + v\nf = u*z\n", "lecture.vars": "w = 5\nx = 3\ny = 2\nz = 4\n",
         "lecture.json": '{"w": 5, "x": "pi/4", "y": 2, "z": 4}', "bad.vars": "w = 5\nx = \n",
         "latin1.bp": "x\xe9", "empty.bp": ""}
FILE_LINES = [
    (["grad", "-f", "lecture.bp", "--vars", "lecture.vars"], None),
    (["grad", "-flecture.bp", "--vars=lecture.vars", "--format", "json"], None),
    (["grad", "--file", "lecture.bp", "--vars", "lecture.json", "-v", "x=3", "--output", "u"], None),
    (["grad", "--file=lecture.bp", "--vars", "lecture.vars", "--output", "q"], None),
    (["eval", "-f", "lecture.bp", "--vars", "lecture.vars", "--format", "csv"], None),
    (["grad", "-f", "missing.bp", "--vars", "lecture.vars"], None),
    (["grad", "(w+x*y)*z", "--vars", "missing.vars"], None),
    (["grad", "(w+x*y)*z", "--vars", "bad.vars"], None),
    (["grad", "-f", "latin1.bp", "-v", "x=1"], None),
    (["grad", "-f", "empty.bp"], None),
    (["grad", "-", "--vars", "lecture.vars", "--format", "json"], "(w+x*y)*z\n"),
    (["grad", "-f", "-", "-v", "w=5,x=3,y=2,z=4"], "v = x*y\nf = (w+v)*z"),
    (["grad", "-", "-v", "x=1"], ""),
]


@pytest.mark.parametrize("args, stdin", FILE_LINES, ids=lambda value: " ".join(value)[:60] if value else "")
def test_programs_and_files_the_quick_reader_reads_as_click_does(args, stdin, tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_bytes(text.encode("latin-1") if name == "latin1.bp" else text.encode())
    monkeypatch.chdir(tmp_path)
    found = by_quick(args, input=stdin)
    assert found[0] is not None, "the quick reader left this command line to Click"
    assert found == by_click(args, input=stdin)


def test_a_folder_as_a_file_is_left_to_click(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    for args in (["grad", "-f", "folder"], ["grad", "x", "--vars", "folder"]):
        assert quick.read(args) is None


def test_the_taken_command_lines_cover_every_exit_status():
    assert {by_quick(args)[0] for args in TAKEN} >= {0, 2, 3}


def test_a_failed_check_exits_1_with_either_reader(broken_rule):
    broken_rule("mul", "b", "2*a")   # ∂(a*b)/∂b is a, not 2a
    args = ["grad", *LECTURE, "--perturb"]
    found = by_quick(args)
    assert found[0] == 1
    assert found == by_click(args)


@pytest.mark.parametrize("args", LEFT, ids=lambda args: " ".join(args)[:60] or "(none)")
def test_the_quick_reader_leaves_other_command_lines_to_click(args):
    assert quick.read(args) is None
    assert by_quick(args) == (None, b"", b"")


def _bash(line: str, **env: str) -> dict[str, str]:
    return {"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": line, **env}


TABS = [
    _bash('bpcli grad "(w+x*y)*z" -v '),
    _bash('bpcli grad "(w+x*y)*z" -v x'),
    _bash('bpcli grad "(w+x*y)*z" -v w=5 -v '),
    _bash('bpcli grad "(w+x*y)*z" -v w=5,'),
    _bash('bpcli grad "(w+x*y)*z" -v w=5,x=3,y'),
    _bash('bpcli grad "(w+x*y)*z" -v w=5,', COMP_WORDBREAKS=" \t\n\"'"),
    _bash('bpcli grad -v w=5 "(w+x*y)*z" -v x'),
    _bash('bpcli eval "(w+x*y)*z" --format json --var '),
    _bash('bpcli grad "(w+x*y)*z" --wrt '),
    _bash('bpcli grad "(w+x*y)*z" --wrt w,'),
    _bash('bpcli grad "(w+x*y)*z" --wrt w,x,y,z'),
    _bash('bpcli grad "(w+x*' + 'y)*z" --perturb -v '),
    _bash('bpcli grad "(w+x*y" -v '),
    _bash('bpcli grad "a = x*y; a + z" -v '),
    _bash('bpcli grad -f missing.bp -v '),
    _bash('bpcli grad -f examples/lecture.bp --vars examples/lecture.vars -v '),
    _bash('bpcli grad - -v '),
    {"_BPCLI_COMPLETE": "zsh_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" -v ""', "COMP_CWORD": "4"},
    {"_BPCLI_COMPLETE": "zsh_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" -v w=5,', "COMP_CWORD": "4"},
    {"_BPCLI_COMPLETE": "zsh_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" --wrt', "COMP_CWORD": "4"},
    {"_BPCLI_COMPLETE": "fish_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" -v ', "COMP_CWORD": ""},
    {"_BPCLI_COMPLETE": "fish_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" -v w=5,x', "COMP_CWORD": "w=5,x"},
    {"_BPCLI_COMPLETE": "fish_complete", "COMP_WORDS": 'bpcli grad "(w+x*y)*z" --wrt ', "COMP_CWORD": " "},
]

TABS_LEFT = [
    _bash("bpcli "), _bash("bpcli gr"), _bash('bpcli grad "(w+x*y)*z" '), _bash('bpcli grad "(w+x*y)*z" --'),
    _bash('bpcli grad "(w+x*y)*z" -v -'), _bash('bpcli grad -v '), _bash('bpcli diff "x*y" -v '),
    _bash('bpcli eval "x*y" --wrt '), _bash('bpcli grad "x*y" --format '),
    _bash('bpcli grad "x*y" -- -v '), _bash('bpcli grad "x*y" -v ='),
    _bash("bpcli grad 'unterminated -v "),
    {"_BPCLI_COMPLETE": "bash_source"}, {"_BPCLI_COMPLETE": "zsh_complete"},
    {"_BPCLI_COMPLETE": "zsh_complete", "COMP_WORDS": 'bpcli grad "x*y" -v ""', "COMP_CWORD": "four"},
    {"_BPCLI_COMPLETE": "powershell_complete", "COMP_WORDS": 'bpcli grad "x*y" -v', "COMP_CWORD": "4"},
]


@pytest.mark.parametrize("env", TABS, ids=lambda env: env["_BPCLI_COMPLETE"] + " " + env.get("COMP_LINE", "")[6:])
def test_a_quick_tab_answers_what_click_answers(env):
    found = by_quick([], env)
    assert found[0] == 0, "the quick reader left this Tab to Click"
    assert found == by_click([], env)


@pytest.mark.parametrize("env", TABS_LEFT, ids=lambda env: str(sorted(env.items()))[:60])
def test_other_tabs_are_left_to_click(env):
    assert by_quick([], env) == (None, b"", b"")


def test_a_quick_run_and_a_quick_tab_import_no_click(tmp_path):
    """Through the installed entry point, as a user's shell runs it."""
    script = ("import sys\nfrom bpcli.__main__ import main\ntry:\n    main()\nfinally:\n"
              "    sys.stderr.write('click imported\\n' if 'click' in sys.modules else 'no click\\n')\n")
    for args, env in ((["grad", *LECTURE, "--format", "json"], {}), (["eval", *LECTURE], {}),
                      ([], _bash('bpcli grad "(w+x*y)*z" -v '))):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                              env={**os.environ, **env}, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stderr.endswith("no click\n"), (args, env, done.stderr)
    done = subprocess.run([sys.executable, "-c", script, "diff", "x^2"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr.endswith("click imported\n")
