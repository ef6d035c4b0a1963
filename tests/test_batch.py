"""Many points per call: --batch (CSV, TSV, JSON Lines), --grid, errors per row, streaming, and NumPy
agreeing with the scalar engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from bpcli.core import helpers
from bpcli.points import arrays
from bpcli.core import rules
from bpcli.api import compile_source, grad

MID = "tanh(w1*x1+w2*x2+b)*sigmoid(x1*x2) - log(1+exp(-x1))"


def csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.strip().splitlines()]


def test_csv_batch(run, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    r = run("grad", "x*y", "--batch", str(path))
    assert r.code == 0
    assert csv_rows(r.out) == [["x", "y", "value", "d_x", "d_y"], ["1.0", "2.0", "2.0", "2.0", "1.0"],
                               ["3.0", "4.0", "12.0", "4.0", "3.0"]]


def test_tsv_and_jsonl_and_constants(run, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("y\tx\tignored\n2\t1\tz\n")
    r = run("grad", "x*y*c", "--batch", str(tsv), "-v", "c=10", "--format", "tsv")
    assert r.out.splitlines() == ["y\tx\tvalue\td_x\td_y\td_c", "2.0\t1.0\t20.0\t20.0\t10.0\t2.0"]
    r = run("grad", "x^2", "--batch", "-", "--batch-format", "jsonl", input='{"x": 3}\n\n{"x": -1.5}\n')
    assert [json.loads(line) for line in r.out.splitlines()] == [
        {"x": 3.0, "value": 9.0, "d_x": 6.0}, {"x": -1.5, "value": 2.25, "d_x": -3.0}]


def test_wrt_limits_the_columns(run):
    r = run("grad", "x*y", "--batch", "-", "--wrt", "y", input="x,y\n1,2\n")
    assert r.out.splitlines()[0] == "x,y,value,d_y"


def test_grid_has_no_drift_and_includes_the_end(run):
    r = run("grad", "x", "--grid", "x=0:1:0.001")
    rows = csv_rows(r.out)[1:]
    assert len(rows) == 1001 and rows[-1][0] == "1.0" and rows[300][0] == repr(300 * 0.001)


def test_grids_form_a_product(run):
    r = run("grad", "x*y", "--grid", "x=0:1:0.5", "--grid", "y=1:2:1", "--format", "jsonl")
    points = [(d["x"], d["y"]) for d in map(json.loads, r.out.splitlines())]
    assert points == [(0, 1), (0, 2), (0.5, 1), (0.5, 2), (1, 1), (1, 2)]


@pytest.mark.parametrize("policy,expected", [("stop", [1.0]), ("skip", [1.0, 2.693147180559945]),
                                             ("null", [1.0, None, 2.693147180559945])])
def test_on_error(run, policy, expected):
    r = run("grad", "log(x)+x", "--batch", "-", "--on-error", policy, input="x\n1\n-1\n2\n")
    got = [float(row[1]) if row[1] else None for row in csv_rows(r.out)[1:]]
    assert r.code == 3 and [g is None for g in got] == [e is None for e in expected]
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e is not None], rel=1e-15)
    assert "row 2: v = log(x) is undefined at x = -1" in r.err


def test_malformed_rows_have_numbers(run):
    r = run("grad", "x", "--batch", "-", "--on-error", "skip", input="x\n1\nabc\n\n1,2\n4\n")
    assert r.code == 3
    assert "row 2: x: 'abc' is not a number" in r.err and "row 3: 2 fields where the header has 1" in r.err
    assert [row[0] for row in csv_rows(r.out)[1:]] == ["1.0", "4.0"]


@pytest.mark.parametrize("fmt,rows", [("csv", "x\n1_000\n٣\n2\n"),
                                       ("jsonl", '{"x": "1_000"}\n{"x": "٣"}\n{"x": 2}\n')])
def test_a_batch_number_is_read_as_the_grammar_and_v_read_it(run, fmt, rows):
    # float() takes 1_000 and Arabic-Indic digits; -v x=1_000 is an error, and so is such a row.
    r = run("grad", "x", "--batch", "-", "--batch-format", fmt, "--on-error", "skip", input=rows)
    assert r.code == 3 and "row 1: x: '1_000' is not a number" in r.err and "row 2: x: '٣' is not a number" in r.err
    assert r.out.strip().splitlines()[-1].startswith(("2.0", '{"x": 2'))


def test_batch_input_errors(run, tmp_path):
    assert run("grad", "x*y", "--batch", "-", input="x\n1\n").code == 2      # no column for y
    assert run("grad", "x", "--batch", str(tmp_path / "missing.csv")).code == 2
    assert run("grad", "x", "--grid", "x=0:1").code == 2
    assert run("grad", "x", "--grid", "x=1:0:0.5").code == 2
    assert run("grad", "x", "-v", "x=1", "--format", "csv", "--perturb").code == 2
    assert run("grad", "x", "--grid", "x=0:1:1", "--format", "json").code == 2
    assert run("grad", "x", "--grid", "x=0:1:1", "--perturb").code == 2
    assert run("grad", "-", "--batch", "-", input="x").code == 2


def test_numpy_agrees_with_the_scalar_engine_on_every_op():
    rng = np.random.default_rng(7)
    source = "max(x, y, 0.5) + min(x, y) * relu(x - y) + abs(y) + sqrt(x*x + 1) + tan(x/2) + sigmoid(40*y) " \
             "+ tanh(x) * exp(y) / (2 + cos(x)) + log(1 + x*x) + x^3 + (x*x + 1)^y + (2 + sin(x))^-2 - -y"
    graph = compile_source(source)
    x, y = rng.uniform(-2, 2, 500), rng.uniform(-2, 2, 500)
    x[:5], y[:5] = [0, 1, 1, -1, 0.5], [0, 1, 0.5, -1, 0.5]   # kinks and ties
    chunk = arrays.run(graph, {"x": x, "y": y}, ["x", "y"])
    for i in range(len(x)):
        one = grad(graph, {"x": x[i], "y": y[i]})
        assert chunk.errors[i] is None
        assert chunk.value[i] == pytest.approx(one.value, rel=1e-12, abs=1e-12)
        for name in ("x", "y"):
            assert chunk.gradient[name][i] == pytest.approx(one.gradient[name], rel=1e-11, abs=1e-11)


@pytest.fixture
def tie_counts(monkeypatch):
    """The calls of NumPy's tie count during a test, as the number of arguments of each."""
    calls: list[int] = []

    ties = helpers.HELPERS["ties"].numpy(np)

    def count(out, *args):
        calls.append(len(args))
        return ties(out, *args)
    monkeypatch.setitem(rules.namespace("numpy"), "ties", count)
    rules.forget()  # compiled rules keep the namespace they were compiled in
    yield calls
    monkeypatch.undo()
    rules.forget()


def wide_max_and_min(n: int) -> tuple[list[str], arrays.Chunk]:
    """max(x0…) * min(x0…) over n inputs at 300 rows (one block) with ties, through the batch path."""
    names = [f"x{i}" for i in range(n)]
    graph = compile_source(f"max({', '.join(names)}) * min({', '.join(names)})")
    chunk = arrays.run(graph, {name: np.full(300, float(i % 3)) for i, name in enumerate(names)}, names)
    one = grad(graph, {name: float(i % 3) for i, name in enumerate(names)})
    assert [chunk.gradient[name][0] for name in names] == [one.gradient[name] for name in names]
    return names, chunk


def test_a_wide_max_counts_its_ties_once_per_gate_and_block(tie_counts):
    # per edge it was n counts of n arguments per gate: n² work (max of 4 000 arguments, 2 000 rows: 247 s)
    names, chunk = wide_max_and_min(50)
    assert tie_counts == [50, 50]
    assert chunk.gradient["x0"][0] == 2 / 17 and chunk.gradient["x2"][0] == 0.0  # 17 tie for min = 0, max is 2


def test_the_tie_count_check_catches_a_count_per_edge(tie_counts, monkeypatch):
    monkeypatch.setattr(rules, "shared_parts", lambda rule: ())
    wide_max_and_min(50)
    assert len(tie_counts) == 100


def test_rows_with_domain_problems_get_the_scalar_engines_message():
    graph = compile_source("x^y")
    chunk = arrays.run(graph, {"x": np.array([2.0, -2.0, 0.0]), "y": np.array([3.0, 2.0, 0.0])}, ["x", "y"])
    assert chunk.errors[0] is None and chunk.value[0] == 8
    assert "base must be positive" in chunk.errors[1] and "base must be positive" in chunk.errors[2]


def test_streams_before_the_input_ends(tmp_path):
    """A slow producer: the first result row must appear while stdin is still open."""
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "bpcli", "grad", "x*2", "--batch", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(60, proc.kill)  # a regression must fail the test, not hang CI
    watchdog.start()
    try:
        proc.stdin.write(b"x\n1\n")
        proc.stdin.flush()
        os.set_blocking(proc.stdout.fileno(), True)
        start = time.monotonic()
        header = proc.stdout.readline()
        first = proc.stdout.readline()
        assert header == b"x,value,d_x\n" and first == b"1.0,2.0,2.0\n"
        assert proc.poll() is None and time.monotonic() - start < 30
        proc.stdin.write(b"2\n")
        proc.stdin.close()
        assert proc.stdout.read() == b"2.0,4.0,2.0\n" and proc.wait(timeout=30) == 0
    finally:
        watchdog.cancel()
        proc.kill()


@pytest.mark.slow
def test_many_rows_in_chunks(run):
    rows = "x\n" + "\n".join(str(i / 1000) for i in range(200_000)) + "\n"
    r = run("grad", "x*x", "--batch", "-", input=rows)
    lines = r.out.splitlines()
    assert r.code == 0 and len(lines) == 200_001 and lines[-1] == f"{199.999!r},{199.999 ** 2!r},{2 * 199.999!r}"


def test_one_point_does_not_import_numpy():
    out = subprocess.run([sys.executable, "-c", "import sys\nfrom bpcli.cli.commands import main\n"
                          "sys.argv=['bpcli','grad','x*y','-v','x=1,y=2']\n"
                          "try:\n    main()\nexcept SystemExit:\n    pass\n"
                          "print('numpy' in sys.modules, file=sys.stderr)"], capture_output=True, text=True)
    assert out.stderr.strip().endswith("False")


def test_progress_bar_counts_the_bytes_read(tmp_path):
    import io

    from rich.console import Console

    from bpcli.views import progress_bar as render
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    data = b"x\n" + b"1\n" * 1000
    with render.progress(io.BufferedReader(io.BytesIO(data)), len(data), console, delay=0) as rows:
        read = b""
        while chunk := rows.read1(100):
            read += chunk
    assert read == data and f"2.0 kB of {len(data) / 1000:.1f} kB" in console.file.getvalue()


def test_progress_waits_before_it_shows(tmp_path):
    import io

    from rich.console import Console

    from bpcli.views import progress_bar as render
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with render.progress(io.BufferedReader(io.BytesIO(b"x\n1\n")), 4, console, delay=60) as rows:
        while rows.read1(1):
            pass
    assert console.file.getvalue() == ""


def test_no_progress_bar_on_a_pipe(run, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n")
    r = run("grad", "x", "--batch", str(path))
    assert r.err == "" and r.out.splitlines() == ["x,value,d_x", "1.0,1.0,1.0"]


@pytest.mark.parametrize("args,fragment", [
    (["--grid", "x=0:1e20:1"], "too many"), (["--grid", "x=0:1:1e-20"], "too many"),
    (["--grid", "x=0:1:1", "--grid", "x=0:2:1"], "given twice"),
    (["--grid", "x=0:4294967295:1", "--grid", "y=0:4294967295:1"], "too many"),
])
def test_grid_limits(run, args, fragment):
    r = run("grad", "x*y", "-v", "y=1", *args) if "y=" not in " ".join(args) else run("grad", "x*y", *args)
    assert r.code == 2 and fragment in r.err and "Traceback" not in r.err


def test_hostile_rows_fail_one_by_one(run):
    big = '{"x": 1' + "0" * 400 + "}"
    r = run("grad", "x", "--batch", "-", "--batch-format", "jsonl", "--on-error", "skip", input=big + '\n{"x": 2}\n')
    assert r.code == 3 and "row 1:" in r.err and r.out.strip() == '{"x": 2.0, "value": 2.0, "d_x": 1.0}'
    from click.testing import CliRunner

    from bpcli.cli.commands import cli
    out = CliRunner().invoke(cli, ["grad", "x", "--batch", "-", "--on-error", "skip"], input=b"x\n1\n\xe9\n2\n")
    assert out.exit_code == 3 and "row 2:" in out.stderr
    assert out.stdout.splitlines()[1:] == ["1.0,1.0,1.0", "2.0,2.0,1.0"]


def test_duplicate_columns_header_only_and_cr_lines(run):
    assert run("grad", "x", "--batch", "-", input="x,x\n1,2\n").code == 2
    assert run("grad", "x*y", "--batch", "-", input="x,y\n").out == "x,y,value,d_x,d_y\n"
    assert run("grad", "x*y", "--batch", "-", input="x,y\r1,2\r").out.splitlines()[1] == "1.0,2.0,2.0,2.0,1.0"


@pytest.mark.slow
def test_grid_end_is_relative_to_the_step(run):
    assert csv_rows(run("grad", "x", "--grid", "x=0:2.9999999999:1").out)[-1][0] == "2.0"
    assert csv_rows(run("grad", "x", "--grid", "x=0:1000:1e-3", "--format", "csv").out)[-1][0] == "1000.0"


def test_one_point_in_the_row_formats(run):
    # a batch of one: as in a batch, -v values are constants and are not repeated; value and d_<name>
    out = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--format", "csv")
    assert out.code == 0 and out.out == "value,d_w,d_x,d_y,d_z\n44.0,4.0,8.0,12.0,11.0\n"
    out = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--format", "jsonl", "--wrt", "x")
    assert json.loads(out.out) == {"value": 44.0, "d_x": 8.0}
    out = run("grad", "x*y", "-v", "x=1,y=2", "--format", "tsv")
    assert out.out.splitlines() == ["value\td_x\td_y", "2.0\t2.0\t1.0"]
    assert run("grad", "log(x)", "-v", "x=-1", "--format", "csv").code == 3
    assert run("grad", "x", "-v", "x=1", "--format", "jsonl", "--explain").code == 2


def test_an_intermediate_overflow_fails_the_row_as_for_one_point(run):
    # min(exp(x), 1) is 1 at x = 1000 on arrays, but exp(x) overflowed: the row fails as a single point does
    single = run("grad", "min(exp(x),1)+y", "-v", "x=1000,y=1", "--wrt", "y")
    assert single.code == 3 and "exp(x) overflows" in single.err
    out = run("grad", "min(exp(x),1)+y", "--batch", "-", "--wrt", "y", "--on-error", "null", input="x,y\n1000,1\n1,2\n")
    assert out.code == 3 and "row 1: v = exp(x) overflows" in out.err
    assert out.out.splitlines()[1:] == ["1000.0,1.0,,", "1.0,2.0,3.0,1.0"]
