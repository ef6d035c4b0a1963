"""A real wheel, installed into a fresh virtual environment, run as a real `bpcli` process from another folder."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The venv must run the wheel: a PYTHONPATH pointing at a checkout (as when testing a worktree) would win.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a venv with bpcli installed from a freshly built wheel (dependencies from this Python)."""
    tmp = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(ROOT)], check=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("bpcli-*.whl")
    # Not system_site_packages: that exposes the base interpreter's packages, not those of the venv or pipx
    # environment running the tests. The wheel goes in alone; a .pth file lends it this Python's dependencies.
    venv.create(tmp / "venv", with_pip=True)
    bin_dir = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, cwd=tmp, env=ENV)
    site = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True, env=ENV).stdout.strip()
    Path(site, "bpcli-test-dependencies.pth").write_text("".join(f"{d}\n" for d in dependency_folders(wheel)))
    return bin_dir


def requirements(wheel: Path) -> list[str]:
    """The distribution names the wheel's metadata requires (markers ignored)."""
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        lines = z.read(name).decode().splitlines()
    return [line.split(":", 1)[1] for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line]


def dependency_folders(wheel: Path) -> list[str]:
    """The folders where this Python finds the wheel's dependencies and theirs, in the order first met."""
    folders: dict[str, None] = {}
    todo, seen = requirements(wheel), set()
    while todo:
        name = re.match(r"\s*([A-Za-z0-9._-]+)", todo.pop()).group(1).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker excludes this Python, or an optional one
        folders[str(Path(dist.locate_file("")).resolve())] = None
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return list(folders)


def bpcli(bin_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "bpcli"), *args], capture_output=True, text=True, input=input,
                          cwd=bin_dir.parent.parent, env={**ENV, "NO_COLOR": "1"})


def test_grammar_comes_from_the_installed_wheel(installed):
    out = subprocess.run([str(installed / "python"), "-c", "import bpcli.parser; print(bpcli.parser.grammar_path())"],
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
