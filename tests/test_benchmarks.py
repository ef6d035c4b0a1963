"""The benchmark scripts still run (at tiny sizes; their figures are measured by `benchmarks/run_all.py`, never
asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("script,args,expected", [
    ("batch_speed.py", ["--points", "2000", "--repeat", "1"], "backward/forward: bpcli"),
    ("huge_expressions.py", ["--sizes", "30,300", "--rounds", "1"], "t(10N)/t(N)"),
    ("startup.py", ["--rounds", "1"], "one completion request"),
    ("gradient_cost.py", ["--ops", "300", "--rounds", "1"], "backward (s) / forward (s)"),
    ("diff_size.py", ["--ops", "300", "--small", "20", "--rounds", "1"], "program gates / expression gates"),
])
def test_benchmark_script_runs(script, args, expected):
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_batch_speed_figures_are_well_formed_rows():
    """figures() at a tiny size: every row complete and consistent (the targets are not asserted)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("batch_speed", BENCH / "batch_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.figures(points=3000, repeat=1)
    assert [row["target"] for row in rows] == [1.5, 1.5, 2.2, 2.2, 1.0, 1.0, 1.0]
    assert any("lecture" in r["figure"] for r in rows) and any("loadtxt" in r["figure"] for r in rows)
    for row in rows:
        assert set(row) == {"figure", "bpcli", "baseline", "ratio", "target", "met"}
        assert isinstance(row["figure"], str) and row["figure"]
        assert all(isinstance(row[k], float) and row[k] > 0 for k in ("bpcli", "baseline", "ratio", "target"))
        assert row["ratio"] == pytest.approx(row["bpcli"] / row["baseline"])
        assert row["met"] is (row["ratio"] <= row["target"])


@pytest.mark.slow
def test_run_all_prints_every_figure_in_one_table():
    """The one benchmark command, at tiny sizes: every figure is a row with a target and a verdict."""
    done = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("machine: ") and " cores, " in lines[0] and "Python 3." in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("figure"))
    assert all(line.startswith("warning: ") for line in lines[1:header])
    assert lines[header].split() == ["figure", "bpcli", "baseline", "ratio", "target", "met"]
    rows = lines[header + 1:]
    for needle in ("start-up: grad --format json", "start-up: grad, tables", "start-up: one completion request",
                   "deep 300 ops, process start", "wide 300 ops, peak memory", "worst t(10N)/t(N)",
                   "gradient cost, interpreter, wide", "compute lecture", "compute mid", "batch backward/forward",
                   "CSV read", "CSV write", "diff deep 300 ops, process", "diff small, median length"):
        assert any(needle in row for row in rows), needle
    assert all(row.split()[-1] in ("yes", "NO") for row in rows)
