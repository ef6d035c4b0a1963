"""The benchmark scripts still run (at tiny sizes; their figures are measured by hand, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script,args,expected", [
    ("batch_speed.py", ["--points", "2000", "--repeat", "1"], "hand-written NumPy"),
    ("huge_expressions.py", ["--sizes", "30,300", "--rounds", "1"], "t(10N)/t(N)"),
    ("startup.py", ["--rounds", "1"], "one completion request"),
    ("gradient_cost.py", ["--ops", "300", "--rounds", "1"], "backward (s) / forward (s)"),
])
def test_benchmark_script_runs(script, args, expected):
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
