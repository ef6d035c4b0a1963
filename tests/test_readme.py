"""The README documents every command, option, function and exit code, and its sample is a real run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpcli import ops
from bpcli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name):
    assert f"`bpcli {name}" in README


@pytest.mark.parametrize("command,option", [
    (name, opt) for name, command in sorted(cli.commands.items())
    for param in command.params for opt in param.opts if opt.startswith("--")
])
def test_every_option_is_documented(command, option):
    assert f"`{option}" in README, f"{command} {option}"


@pytest.mark.parametrize("code", ["0", "1", "2", "3"])
def test_every_exit_code_is_documented(code):
    assert re.search(rf"^\| {code} \| ", README, re.M)


@pytest.mark.parametrize("name", ops.FUNCTIONS)
def test_every_function_is_in_the_table(name):
    assert re.search(rf"^\|[^|\n]*`{name}\(", README, re.M)


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    block = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.strip().splitlines()
    assert len(commands) == 2 and commands[0].startswith("pip install . && bpcli grad")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_sample_output_is_a_real_run(run):
    block = README.split("```console\n$ ", 1)[1].split("\n```", 1)[0]
    command, sample = block.split("\n", 1)
    assert command == 'bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --perturb'
    r = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--perturb")
    assert r.out.rstrip("\n") == sample.rstrip("\n")
