"""A real wheel, installed into a fresh virtual environment, run as a real `bpcli` process from another folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLEAN_ENV, ROOT

ENV = CLEAN_ENV


def bpcli(bin_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "bpcli"), *args], capture_output=True, text=True, input=input,
                          cwd=bin_dir.parent.parent, env={**ENV, "NO_COLOR": "1"})


def test_grammar_comes_from_the_installed_wheel(installed):
    where = "import bpcli.language.parser; print(bpcli.language.parser.grammar_path())"
    out = subprocess.run([str(installed / "python"), "-c", where],
                         capture_output=True, text=True, check=True, cwd=installed.parent.parent, env=ENV).stdout
    assert str(installed.parent) in out and "site-packages" in out


def test_seed_example_as_a_real_process(installed):
    p = bpcli(installed, "grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--format", "json")
    assert p.returncode == 0 and p.stderr == ""
    doc = json.loads(p.stdout)
    assert doc["value"] == 44 and doc["gradient"] == {"w": 4, "x": 8, "y": 12, "z": 11}


def test_table_and_perturb_as_a_real_process(installed):
    p = bpcli(installed, "grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--perturb")
    assert p.returncode == 0
    assert "u*z" in p.stdout and "ok: backprop agrees" in p.stdout and "\x1b[" not in p.stdout


def test_errors_as_a_real_process(installed):
    p = bpcli(installed, "grad", "x*/y", "-v", "x=1,y=1")
    assert p.returncode == 2 and p.stdout == "" and p.stderr.splitlines()[2] == "    ^"
    p = bpcli(installed, "grad", "log(x)", "-v", "x=0")
    assert p.returncode == 3 and "log(x)" in p.stderr and "Traceback" not in p.stderr


def test_stdin_as_a_real_process(installed):
    p = bpcli(installed, "grad", "-", "-v", "x=2", "--format", "json", input="x^3\n")
    assert p.returncode == 0 and json.loads(p.stdout)["gradient"] == {"x": 12}


def test_python_dash_m(installed):
    p = subprocess.run([str(installed / "python"), "-m", "bpcli", "eval", "1+2", "--format", "json"],
                       capture_output=True, text=True, cwd=installed.parent.parent, env=ENV)
    assert p.returncode == 0 and json.loads(p.stdout)["value"] == 3


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="POSIX only")
def test_a_reader_that_stops_early_ends_bpcli_by_sigpipe(installed, tmp_path):
    # `bpcli … | head -1`: not exit 1 (a failed --perturb check), no message; status 141 in the shell.
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n" + "\n".join(map(str, range(300_000))) + "\n")
    p = subprocess.Popen([str(installed / "bpcli"), "grad", "x*x", "--batch", str(rows)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=tmp_path, env=ENV)
    assert p.stdout.readline() == b"x,value,d_x\n"
    p.stdout.close()
    assert p.wait(timeout=60) == -signal.SIGPIPE
    assert p.stderr.read() == b""


@pytest.mark.slow
def test_pipx_install_puts_bpcli_on_path(tmp_path):
    """`pipx install .` from a checkout: an isolated environment and a working `bpcli` in pipx's bin folder."""
    pytest.importorskip("pipx", reason="pipx is not installed (it is in the test extra)")
    env = {**CLEAN_ENV, "PIPX_HOME": str(tmp_path / "home"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    subprocess.run([sys.executable, "-m", "pipx", "install", str(ROOT)], env=env, capture_output=True, check=True,
                   timeout=600)
    done = subprocess.run([str(tmp_path / "bin" / "bpcli"), "diff", "x^2*sin(x)", "--format", "plain"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout == "x^2*cos(x) + 2*x*sin(x)\n"
