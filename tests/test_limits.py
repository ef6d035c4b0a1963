"""Limits and consistency: long runs stream in bounded memory, `--render` refuses what dot cannot draw in
reasonable time, errors on huge inputs cost no more than the valid input, generated code compiles whatever
the names, and the options and readers agree with each other."""

from __future__ import annotations

import json
import keyword
import select
import shutil
import subprocess
import sys

import pytest
from conftest import CLEAN_ENV

from bpcli.points import descent
from bpcli import api

LECTURE = ["(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--target", "33", "--lr", "0.0001"]


# ---- step streams its rows and keeps O(1) steps --------------------------------------------------

def test_a_descent_is_computed_as_it_is_read():
    run = api.step("x^2", {"x": 3.0}, None, 0.1, 10 ** 6)
    first = next(iter(run))   # a million steps planned (20 s); the first one is there at once
    assert first.step == 0 and first.values == {"x": 3.0} and run.final == {"x": 3.0}


def test_ends_keeps_the_first_and_last_steps():
    run = api.step("x^2", {"x": 3.0}, None, 0.1, 1000)
    ends = descent.ends(run, 5)
    assert [s.step for s in ends.head] == [0, 1, 2, 3, 4] and [s.step for s in ends.tail] == [996, 997, 998, 999, 1000]
    assert ends.count == 1001 and run.final == {"x": ends.tail[-1].values["x"]}
    short = descent.ends(api.step("x^2", {"x": 3.0}, None, 0.1, 6), 5)
    assert [s.step for s in (*short.head, *short.tail)] == list(range(7))


def test_the_table_of_a_long_run_shows_its_ends(run):
    r = run("step", *LECTURE, "--steps", "1000")
    lines = r.out.splitlines()
    assert r.code == 0 and "(⋮ 801 rows not shown" in r.out
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
    from bpcli.views.export import MAX_RENDER_NODES

    r = run("graph", _terms(50), "--render", str(tmp_path / "g.svg"))   # 301 nodes
    assert r.code == 2 and f"at most {MAX_RENDER_NODES} nodes" in r.err and "has 301" in r.err
    assert "--format dot" in r.err and not (tmp_path / "g.svg").exists()
    assert run("graph", _terms(50), "--format", "dot").code == 0   # the source is still there


@pytest.mark.skipif(not shutil.which("dot"), reason="needs Graphviz's dot")
def test_render_draws_a_graph_at_the_limit(run, tmp_path):
    from bpcli.views.export import MAX_RENDER_NODES

    chain = "+".join(f"x{i}" for i in range((MAX_RENDER_NODES + 1) // 2))   # n inputs, n - 1 sums
    r = run("graph", chain, "--render", str(tmp_path / "g.svg"))
    assert r.code == 0 and (tmp_path / "g.svg").read_text().startswith("<?xml")


def test_a_crash_of_dot_is_reported_by_its_signal(run, tmp_path, monkeypatch):
    _fake_dot(monkeypatch, tmp_path, "kill -SEGV $$")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    drawn = tmp_path / "g.svg"
    assert r.code == 2 and r.err.strip() == f"bpcli: error: dot could not draw {drawn}: dot was killed by SIGSEGV"


def test_dot_that_fails_says_its_status(run, tmp_path, monkeypatch):
    _fake_dot(monkeypatch, tmp_path, "exit 4")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and r.err.strip().endswith(": no message (exit status 4)")


@pytest.mark.slow
def test_dot_that_hangs_is_stopped(run, tmp_path, monkeypatch):
    from bpcli.views import export

    monkeypatch.setattr(export, "DOT_TIMEOUT", 0.5)
    _fake_dot(monkeypatch, tmp_path, f"exec {shutil.which('sleep')} 30")
    r = run("graph", "x*y", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and "could not draw" in r.err and "in 0.5 s" in r.err and "--format dot" in r.err


# ---- an error at the end of a huge input costs no more than the valid input -----------------------

@pytest.mark.slow
@pytest.mark.parametrize("text,message", [
    ("(" * 100_001 + "x" + ")" * 100_000, "unclosed '(': a ')' is missing (column 1)"),
    ("x+" * 100_000,
     "unexpected end of expression: expected a number, a variable, a function call or '(' (column 200001)"),
    ("x+" * 100_000 + "x y", ("missing operator before 'y': implicit multiplication is not supported, write x*y "
                              "(column 200003)")),
], ids=["unclosed", "operand missing", "two operands"])
def test_an_error_at_the_end_is_reported_without_a_second_parse(monkeypatch, text, message):
    # The fast scan has read every token when it finds the input cut short (or two operands in a row, where
    # Lark fails too); parsing all of it again with
    # Lark (ten times slower) only to write the message is the work that made the error cost 10x the input.
    from bpcli.language import parser
    from bpcli.errors import InputError

    reparsed = []
    monkeypatch.setattr(parser, "parse_with_lark", lambda *args: reparsed.append(args))
    with pytest.raises(InputError) as err:
        api.compile_source(text)
    assert reparsed == [] and err.value.lines()[0] == message


# ---- generated code compiles whatever the input names ---------------------------------------------

def _names(*groups: str) -> list[str]:
    """The reserved-looking names that are also bpcli variables (not functions or constants)."""
    from bpcli import primitives

    taken = primitives.FUNCTIONS | primitives.CONSTANTS.keys()
    return [n for n in dict.fromkeys(" ".join(groups).split()) if n not in taken]


PYTHON_NAMES = _names(" ".join(keyword.kwlist + keyword.softkwlist),
                      "__debug__ math float sum isinstance complex grad_f __builtins__ __name__")
C_NAMES = _names("""auto break case char const continue default do double else enum extern float for goto if inline
    int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
    while _Bool _Complex _Imaginary _Alignas _Atomic _Generic _Noreturn _Static_assert _Thread_local alignas alignof
    bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual asm __asm__ __typeof__
    __attribute__ fabs log1p hypot j0 y0 jn gamma signgam isnan signbit fpclassify HUGE_VAL INFINITY NAN M_PI errno
    va_list va_start grad main NULL linux unix bp_where""")
JS_NAMES = _names("""break case catch class const continue debugger default delete do else enum export extends false
    finally for function if import in instanceof new null return super switch this throw true try typeof var void
    while with yield let static implements interface package private protected public await async of arguments eval
    undefined NaN Infinity globalThis Math Object Number Array console""")


def _reserved_case(names: list[str]) -> tuple[str, dict[str, float]]:
    """A sum in which every name is an input, in a known order, and each has its own gradient."""
    source = "+".join(f"{n}*x^{i + 2}" for i, n in enumerate(names))
    return source, {n: float(i + 1) for i, n in enumerate(names)} | {"x": 0.5}


def test_python_code_compiles_and_runs_with_reserved_names():
    from test_codegen import agrees, run_python

    source, point = _reserved_case(PYTHON_NAMES)
    graph = api.compile_source(source)
    assert "__debug__" in graph.input_names
    agrees(source, point, *run_python(graph, point))
    # (the run passes the inputs by position, so a parameter out of order gives some wrong gradient)
    from bpcli.codegen import emit
    from bpcli.codegen import languages

    assert dict(emit.plan(graph, languages.PYTHON).inputs)["__debug__"] == "__debug___"


@pytest.mark.parametrize("std", [["-std=c99", "-pedantic"], [], ["-std=c2x"]], ids=["c99", "gnu default", "c2x"])
def test_c_code_compiles_and_runs_with_reserved_names(tmp_path, std):
    from test_codegen import C_MAIN, agrees, run_compiled

    from bpcli.codegen import emit
    from bpcli.codegen import languages

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not on PATH")
    source, point = _reserved_case(C_NAMES)
    graph = api.compile_source(source)
    n = len(graph.inputs)
    main = C_MAIN.format(size=n, n=n, name=emit.plan(graph, languages.C).name,
                         args="".join(f"in[{i}], " for i in range(n)))
    (tmp_path / "grad.c").write_text(emit.c(graph) + main, encoding="utf-8")
    built = subprocess.run(["gcc", "-O0", *std, "-Wall", "-Werror", "grad.c", "-o", "grad", "-lm"], cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[:2000]
    agrees(source, point, *run_compiled([str(tmp_path / "grad")], graph, point))


def test_javascript_code_compiles_and_runs_with_reserved_names(tmp_path):
    from test_codegen import agrees, build_js, run_compiled

    source, point = _reserved_case(JS_NAMES)
    graph = api.compile_source(source)
    agrees(source, point, *run_compiled(build_js(graph, tmp_path), graph, point))


# ---- options and readers agree --------------------------------------------------------------------

def test_a_negative_perturb_step_is_a_step_not_an_option(run):
    r = run("grad", "x*y", "-v", "x=1,y=2", "--perturb", "-1")
    assert r.code == 2 and r.err.strip() == "bpcli: error: --perturb step must be a positive number, not -1"


@pytest.mark.parametrize("args,option", [(["grad", "x", "-v", "x=1", "--perturb", "1_0"], "--perturb"),
                                         (["step", "x", "-v", "x=1", "--lr", "1_0"], "--lr"),
                                         (["step", "x", "-v", "x=1", "--target", "1_0"], "--target"),
                                         (["grad", "x", "--grid", "x=1_0:20:1"], "--grid")])
def test_numbers_in_options_are_written_as_in_v(run, args, option):
    # -v x=1_000 and a batch cell 1_000 are refused; float() alone reads 1_000 as 1000
    assert run("grad", "x", "-v", "x=1_000").code == 2
    r = run(*args)
    assert r.code == 2 and option in r.err and "1_0" in r.err


def test_nan_in_vars_json_is_not_a_value(run, tmp_path):
    values = tmp_path / "v.json"
    values.write_text('{"x": NaN, "y": 1}')
    r = run("grad", "x*y", "--vars", str(values))
    assert r.code == 2 and "NaN is not a value" in r.err and "too large" not in r.err


@pytest.mark.slow
def test_a_grid_never_passes_its_end(run):
    r = run("grad", "x", "--grid", "x=0:999999.9999999:1")
    last = r.out.splitlines()[-1]
    assert r.code == 0 and float(last.split(",")[0]) == 999999.0
    r = run("grad", "x", "--grid", "x=0:0.3:0.1")   # 3 · 0.1 is 0.30000000000000004: END is on the grid
    assert [line.split(",")[0] for line in r.out.splitlines()[1:]] == ["0.0", "0.1", "0.2", "0.3"]
    r = run("grad", "x", "--grid", "x=1:0.25:-0.25")
    assert [line.split(",")[0] for line in r.out.splitlines()[1:]] == ["1.0", "0.75", "0.5", "0.25"]


def test_a_grid_whose_span_overflows(run):
    r = run("grad", "x", "--grid", "x=-1.7e308:1.7e308:1e308")
    points = [float(line.split(",")[0]) for line in r.out.splitlines()[1:]]
    assert r.code == 0 and len(points) == 4 and points[0] == -1.7e308 and points[-1] == pytest.approx(1.3e308)
    r = run("grad", "x", "--grid", "x=-1.7e308:1.7e308:1e-300")
    assert r.code == 2 and "inf" not in r.err and "more than 1e+12 points" in r.err


def test_a_grid_takes_every_name_the_grammar_takes(run):
    r = run("grad", "x²+θ", "--grid", "x²=0:1:1", "--grid", "θ=2:2:1")
    assert r.code == 0 and r.out.splitlines()[0] == "x²,θ,value,d_x²,d_θ"


@pytest.mark.parametrize("args,option", [
    (["grad", "x", "--batch", "a.csv", "--batch", "b.csv"], "--batch"),
    (["grad", "-f", "a.bp", "-f", "b.bp"], "-f"),
    (["grad", "-f", "a.bp", "--file=b.bp"], "-f and --file"),
    (["step", "x", "-v", "x=1", "--lr", "0.1", "--lr", "0.2"], "--lr"),
    (["step", "x", "-v", "x=1", "--lr=0.1", "--lr", "0.2"], "--lr"),
    (["grad", "x", "-v", "x=1", "--format", "json", "--format", "csv"], "--format"),
])
def test_an_option_given_twice_is_an_error(run, args, option):
    r = run(*args)
    assert r.code == 2 and f"{option} " in r.err and "given twice" in r.err


def test_options_that_repeat_on_purpose_still_do(run):
    r = run("grad", "x*y", "-v", "x=1", "-v", "y=2", "--wrt", "x", "--wrt", "y", "--format", "csv")
    assert r.code == 0 and r.out.splitlines()[1] == "2.0,2.0,1.0"


def test_batch_format_without_batch(run):
    for extra in ([], ["--grid", "x=0:1:1"]):
        r = run("grad", "x", "-v", "x=1", "--batch-format", "csv", *extra)
        assert r.code == 2 and "--batch-format" in r.err and "--batch FILE" in r.err


@pytest.mark.parametrize("obj,message", [('{"x": 1, "x": 2}', "x is given twice"),
                                         ('{"x": NaN}', "NaN is not a value"),
                                         ('{"x": Infinity}', "Infinity is not a value"),
                                         ('{"x": "1_000"}', "1_000"),
                                         ('{"x": true}', "must be a number"),
                                         ('{"x": {"y": 1}}', "must be a number")])
def test_json_lines_and_vars_read_json_alike(run, tmp_path, obj, message):
    values = tmp_path / "v.json"
    values.write_text(obj)
    by_vars = run("grad", "x*2", "--vars", str(values))
    by_rows = run("grad", "x*2", "--batch", "-", "--batch-format", "jsonl", input=obj + "\n")
    assert by_vars.code == 2 and message in by_vars.err
    assert by_rows.code == 3 and message in by_rows.err


def test_json_lines_and_vars_take_the_same_values(run, tmp_path):
    values = tmp_path / "v.json"
    for obj in ('{"x": 3}', '{"x": "3"}', '{"x": "pi/4"}', '{"x": -0.5e1}'):
        values.write_text(obj)
        one = run("grad", "x*2", "--vars", str(values), "--format", "jsonl").out
        rows = run("grad", "x*2", "--batch", "-", "--batch-format", "jsonl", input=obj + "\n").out
        assert json.loads(one)["value"] == json.loads(rows)["value"], obj


SIGNED_ZEROS = ["0.0", "-0.0"]


@pytest.mark.parametrize("gate", ["max", "min"])
def test_max_and_min_of_signed_zeros_agree_bit_for_bit(run, gate):
    rows = "x,y\n" + "".join(f"{a},{b}\n" for a in SIGNED_ZEROS for b in SIGNED_ZEROS)
    batch = run("grad", f"{gate}(x,y)", "--batch", "-", input=rows).out.splitlines()[1:]
    for (a, b), line in zip([(a, b) for a in SIGNED_ZEROS for b in SIGNED_ZEROS], batch):
        one = run("grad", f"{gate}(x,y)", "-v", f"x={a},y={b}", "--format", "csv").out.splitlines()[1]
        assert line.split(",", 2)[2] == one, f"{gate}({a}, {b})"   # value, d_x, d_y: the same text
        assert one.split(",")[1:] == ["0.5", "0.5"]                  # a tie: the gradient split evenly


def test_dot_that_draws_nothing_leaves_no_empty_file(run, tmp_path, monkeypatch):
    _fake_dot(monkeypatch, tmp_path, "exit 0")
    r = run("graph", "x*y", "-v", "x=1,y=2", "--render", str(tmp_path / "g.svg"))
    assert r.code == 2 and "it wrote nothing" in r.err and not (tmp_path / "g.svg").exists()
