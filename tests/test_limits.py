"""Limits and consistency: long runs stream in bounded memory, `--render` refuses what dot cannot draw in
reasonable time, errors on huge inputs cost no more than the valid input, generated code compiles whatever
the names, and the options and readers agree with each other."""

from __future__ import annotations

import json
import select
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import CLEAN_ENV

from bpcli import descent, pipeline

LECTURE = ["(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--target", "33", "--lr", "0.0001"]


# ---- step streams its rows and keeps O(1) steps --------------------------------------------------

def test_a_descent_is_computed_as_it_is_read():
    run = pipeline.step("x^2", {"x": 3.0}, None, 0.1, 10 ** 9)
    first = next(iter(run))   # a billion steps planned; the first one is there at once
    assert first.step == 0 and first.values == {"x": 3.0} and run.final == {"x": 3.0}


def test_ends_keeps_the_first_and_last_steps():
    run = pipeline.step("x^2", {"x": 3.0}, None, 0.1, 1000)
    ends = descent.ends(run, 5)
    assert [s.step for s in ends.head] == [0, 1, 2, 3, 4] and [s.step for s in ends.tail] == [996, 997, 998, 999, 1000]
    assert ends.count == 1001 and run.final == {"x": ends.tail[-1].values["x"]}
    short = descent.ends(pipeline.step("x^2", {"x": 3.0}, None, 0.1, 6), 5)
    assert [s.step for s in (*short.head, *short.tail)] == list(range(7))


def test_the_table_of_a_long_run_shows_its_ends(run):
    r = run("step", *LECTURE, "--steps", "1000")
    lines = r.out.splitlines()
    assert r.code == 0 and "… 801 more rows" in r.out
    rows = [line.split()[0] for line in lines if line.strip()[:1].isdigit() and "=" in line and "," not in line]
    assert rows[:2] == ["0", "1"] and rows[-1] == "1000" and len(rows) == 200


@pytest.mark.parametrize("fmt,first", [("csv", "step,f,loss,w,x,y,z,d_w,d_x,d_y,d_z"), ("json", "{")])
def test_step_rows_arrive_while_it_runs(installed, fmt, first):
    # A million steps take about 20 s here; the first rows must reach the reader long before the end.
    p = subprocess.Popen([str(installed / "bpcli"), "step", *LECTURE, "--steps", "1000000", "--format", fmt],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CLEAN_ENV)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 10)
        assert ready, "nothing written in 10 s"
        assert p.stdout.readline().decode().rstrip("\n") == first
        assert p.poll() is None   # still computing
    finally:
        p.kill()
        p.wait()


_PEAK = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(bin_dir, *args: str) -> int:
    """The peak resident set size of a `bpcli` process (measured in a fresh parent, whose only child it is)."""
    out = subprocess.run([sys.executable, "-c", _PEAK, str(bin_dir / "bpcli"), *args], capture_output=True,
                         text=True, check=True, env=CLEAN_ENV).stdout
    return int(out)


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_step_memory_does_not_grow_with_the_steps(installed, fmt):
    # Keeping every step costs about 1.5 KB each: 150 MB more at 10⁵ steps than at 10³.
    small = _peak_kib(installed, "step", *LECTURE, "--steps", "1000", "--format", fmt)
    large = _peak_kib(installed, "step", *LECTURE, "--steps", "100000", "--format", fmt)
    assert large - small < 10_000, f"{small} KiB at 10³ steps, {large} KiB at 10⁵"


# ---- graph --render: a size limit, a timeout, dot's crashes by name -------------------------------

def _terms(n: int) -> str:
    """A sum of n terms that share x and y: the shape dot takes longest to lay out."""
    return "+".join(f"sin(x*{i}+y)*y" for i in range(n))


def _fake_dot(monkeypatch, tmp_path, body: str) -> None:
    script = tmp_path / "dot"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_render_refuses_a_graph_beyond_the_limit(run, tmp_path):
    from bpcli.export import MAX_RENDER_NODES

    r = run("graph", _terms(50), "--render", str(tmp_path / "g.svg"))   # 301 nodes
    assert r.code == 2 and f"at most {MAX_RENDER_NODES} nodes" in r.err and "has 301" in r.err
    assert "--format dot" in r.err and not (tmp_path / "g.svg").exists()
    assert run("graph", _terms(50), "--format", "dot").code == 0   # the source is still there


@pytest.mark.skipif(not shutil.which("dot"), reason="needs Graphviz's dot")
def test_render_draws_a_graph_at_the_limit(run, tmp_path):
    from bpcli.export import MAX_RENDER_NODES

    chain = "+".join(f"x{i}" for i in range((MAX_RENDER_NODES + 1) // 2))   # n inputs, n - 1 sums
    r = run("graph", chain, "--render", str(tmp_path / "g.svg"))
    assert r.code == 0 and (tmp_path / "g.svg").read_text().startswith("<?xml")


def test_a_crash_of_dot_is_reported_by_its_signal(run, tmp_path, monkeypatch):
    _fake_dot(monkeypatch, tmp_path, "kill -SEGV $$")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and r.err.strip() == f"bpcli: error: dot could not draw {tmp_path / 'g.svg'}: dot was killed by SIGSEGV"


def test_dot_that_fails_says_its_status(run, tmp_path, monkeypatch):
    _fake_dot(monkeypatch, tmp_path, "exit 4")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and r.err.strip().endswith(": no message (exit status 4)")


def test_dot_that_hangs_is_stopped(run, tmp_path, monkeypatch):
    from bpcli import export

    monkeypatch.setattr(export, "DOT_TIMEOUT", 0.5)
    _fake_dot(monkeypatch, tmp_path, f"exec {shutil.which('sleep')} 30")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and "could not draw" in r.err and "in 0.5 s" in r.err and "--format dot" in r.err


# ---- an error at the end of a huge input costs no more than the valid input -----------------------

@pytest.mark.parametrize("text,message", [
    ("(" * 100_001 + "x" + ")" * 100_000, "unclosed '(': a ')' is missing (column 1)"),
    ("x+" * 100_000, "unexpected end of expression: expected a number, a variable, a function call or '(' (column 200001)"),
], ids=["unclosed", "operand missing"])
def test_an_input_cut_short_is_reported_without_a_second_parse(monkeypatch, text, message):
    # The fast scan has read every token when it finds the input cut short; parsing all of it again with
    # Lark (ten times slower) only to write the message is the work that made the error cost 10x the input.
    from bpcli import parser
    from bpcli.errors import InputError

    reparsed = []
    monkeypatch.setattr(parser, "parse_with_lark", lambda *args: reparsed.append(args))
    with pytest.raises(InputError) as err:
        pipeline.compile_source(text)
    assert reparsed == [] and err.value.lines()[0] == message
