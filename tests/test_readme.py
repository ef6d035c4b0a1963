"""README.md is the newcomer's page: short, with the Python version, a tour of every command, and the test
command CI runs. tests/test_docs.py runs its examples and checks that the docs cover every option."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bpcli.cli.commands import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(README.encode()) <= 15 * 1024


def test_readme_states_the_python_version_the_package_needs():
    needs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert needs == ">=3.11" and "Python 3.11 or newer" in README


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_the_tour_has_every_command(name):
    assert re.search(rf"^### `bpcli {name}`", README, re.M)


def test_readme_opens_with_the_lecture_example():
    block = README.split("```console\n", 1)[1].split("\n```", 1)[0]
    assert block.startswith('$ bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --perturb\n')
    assert "ok: backprop agrees" in block


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    block = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.strip().splitlines()
    assert len(commands) == 2 and commands[0].startswith("pip install . && bpcli grad")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def _install_lines() -> str:
    return README.split("### `bpcli completion`", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_completion_install_lines_work_on_a_fresh_account(tmp_path):
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir(), bin_dir.mkdir()
    (bin_dir / "bpcli").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bpcli "$@"\n')
    (bin_dir / "bpcli").chmod(0o755)
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    subprocess.run(["bash", "-e", "-c", _install_lines()], check=True, env=env, cwd=tmp_path)
    for script in (".local/share/bash-completion/completions/bpcli", ".zfunc/_bpcli",
                   ".config/fish/completions/bpcli.fish"):
        assert (home / script).read_text().strip(), script
    if shutil.which("zsh"):
        p = subprocess.run(["zsh", "-i", "-c", "print -r -- $_comps[bpcli]"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=60)
        assert p.stdout.strip().splitlines()[-1] == "_bpcli"
    if shutil.which("fish"):
        p = subprocess.run(["fish", "-c", "complete -C 'bpcli gra'"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=60)
        assert p.stdout.startswith("grad\t")
