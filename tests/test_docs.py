"""The docs (README.md and docs/*.md) document every command, option, function and exit status, and every
command they show in a ```console block is a real run with the documented exit status and output.

Conventions (docs/development.md says the same):
- In a ```console block, every line starting with `$ ` is a command, run from the repository root as a real
  process with NO_COLOR=1 and COLUMNS=80. The lines after it, up to the next `$ ` line, are its stdout
  (trailing blanks aside); a command with no lines after it has its exit status checked only.
- A command must exit 0, unless its line ends with a comment `# exit N`.
- A plain `bpcli …` command runs as `python -m bpcli …`; one with shell syntax (a pipe, a redirect) runs
  under `bash -c` with `bpcli` on PATH. Commands that need `dot`, `gcc`, `node` or `jq` are skipped where
  the tool is missing. No command may write into the repository.
- `BPCLI_UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites every shown output from the real run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpcli import primitives
from bpcli.cli.commands import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ALL_TEXT = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
UPDATE = os.environ.get("BPCLI_UPDATE_DOCS") == "1"
TOOLS = ("dot", "gcc", "node", "jq")
SHELL_SYNTAX = re.compile(r"[|<>;&`$]|^(?!bpcli )")
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Example:
    """One `$ ` line of a ```console block: where it is, what it runs, what it must print and return."""

    path: Path
    block: int          # which console block of the file, from 0
    index: int          # which command of the block, from 0
    command: str        # the line after `$ `, as shown
    shown: list[str]    # the output lines shown after it
    start: int          # the line numbers (from 0) of the shown output: lines[start:end]
    end: int

    @property
    def status(self) -> int:
        found = EXIT.search(self.command)
        return int(found.group(1)) if found else 0

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.start}:{self.command[:60]}"


def examples(path: Path) -> list[Example]:
    """Every command of every ```console block of a Markdown file, with the output shown after it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found, block, i = [], -1, 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        block, i, index = block + 1, i + 1, 0
        end = next(j for j in range(i, len(lines)) if lines[j].strip() == "```")
        assert lines[i].startswith("$ "), f"{path.name}:{i + 1}: a console block starts with a `$ ` command"
        while i < end:
            after = next((j for j in range(i + 1, end) if lines[j].startswith("$ ")), end)
            found.append(Example(path, block, index, lines[i][2:], lines[i + 1:after], i + 1, after))
            i, index = after, index + 1
        i = end + 1
    return found


ALL = [example for path in DOCS for example in examples(path)]


def _shim(tmp_path: Path) -> Path:
    """A folder holding a `bpcli` that runs this checkout with this Python, for commands run by bash."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True)
    shim = folder / "bpcli"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m bpcli "$@"\n')
    shim.chmod(0o755)
    return folder


def _environment(bin_dir: Path) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "80",
            "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}


def run(example: Example, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the example from the repository root as a real process."""
    command = EXIT.sub("", example.command)
    bin_dir = _shim(tmp_path)
    if SHELL_SYNTAX.search(command):
        argv = ["bash", "-c", command]
    else:
        argv = [sys.executable, "-m", "bpcli", *shlex.split(command, comments=True)[1:]]
    return subprocess.run(argv, cwd=ROOT, env=_environment(bin_dir), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def _missing_tool(command: str) -> str | None:
    needs = [tool for tool in TOOLS if re.search(rf"(^|[\s|;&(]){tool}\b", command)]
    if "--render" in command:
        needs.append("dot")
    return next((tool for tool in needs if shutil.which(tool) is None), None)


def _files_of_the_repository() -> set[Path]:
    skip = {".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
    return {p for p in ROOT.rglob("*") if not skip.intersection(p.relative_to(ROOT).parts)
            and ".egg-info" not in str(p)}


def _rewrite(example: Example, stdout: str) -> None:
    """Replace the example's shown output with stdout, finding it again in the file as it is now."""
    (now,) = [e for e in examples(example.path) if (e.block, e.index) == (example.block, example.index)]
    lines = example.path.read_text(encoding="utf-8").split("\n")
    lines[now.start:now.end] = [line.rstrip() for line in stdout.rstrip("\n").split("\n")]
    example.path.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize("example", ALL, ids=[e.id for e in ALL])
def test_example_is_a_real_run(example: Example, tmp_path):
    tool = _missing_tool(example.command)
    if tool:
        pytest.skip(f"{tool} is not installed")
    before = _files_of_the_repository()
    p = run(example, tmp_path)
    assert _files_of_the_repository() == before, "a documented command wrote into the repository"
    assert p.returncode == example.status, f"exit {p.returncode}\nstderr:\n{p.stderr}"
    real = [line.rstrip() for line in p.stdout.rstrip("\n").split("\n")]
    if example.shown and UPDATE and real != example.shown:
        _rewrite(example, p.stdout)
    elif example.shown:
        assert real == example.shown


def test_the_docs_show_examples():
    assert len(ALL) > 20 and {e.path.name for e in ALL} >= {"README.md"}


def test_a_wrong_sample_or_status_is_caught(tmp_path):
    doc = tmp_path / "wrong.md"
    doc.write_text("```console\n$ bpcli eval 1+2 --format csv\nvalue\n4.0\n$ bpcli eval \"log(0)\"   # exit 2\n```\n")
    first, second = examples(doc)
    assert first.shown == ["value", "4.0"] and second.status == 2 and second.shown == []
    assert run(first, tmp_path / "a").stdout.split() != first.shown
    assert run(second, tmp_path / "b").returncode == 3


def test_update_mode_rewrites_only_the_shown_output(tmp_path):
    doc = tmp_path / "sample.md"
    doc.write_text("intro\n```console\n$ bpcli eval 1+2 --format csv\nstale\n$ bpcli eval 2\n```\nend\n")
    first = examples(doc)[0]
    _rewrite(first, run(first, tmp_path).stdout)
    assert doc.read_text() == "intro\n```console\n$ bpcli eval 1+2 --format csv\nvalue\n3.0\n$ bpcli eval 2\n```\nend\n"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name):
    assert f"`bpcli {name}" in ALL_TEXT


@pytest.mark.parametrize("command,option", [
    (name, opt) for name, command in sorted(cli.commands.items())
    for param in command.params for opt in param.opts if opt.startswith("--")
])
def test_every_option_is_documented(command, option):
    assert f"`{option}" in ALL_TEXT, f"{command} {option}"


@pytest.mark.parametrize("code", ["0", "1", "2", "3", "74", "130", "141"])
def test_every_exit_status_is_documented(code):
    assert re.search(rf"^\| {code} \| ", ALL_TEXT, re.M)


@pytest.mark.parametrize("name", primitives.FUNCTIONS)
def test_every_function_is_in_the_table(name):
    assert re.search(rf"^\|[^|\n]*`{name}\(", ALL_TEXT, re.M)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_links_stay_inside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{path.name}: link to {target}"


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_no_history_in_the_docs(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\b[Ii]ssue [0-9]|MALLOC_|\.\./shared|\.\./\.\./", text)
