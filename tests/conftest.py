"""Shared helpers: run the CLI through Click's CliRunner with stdout and stderr kept apart; swap in a
broken derivative rule (every checker has a test that feeds it one); bpcli installed from a wheel (the tests
that use it are marked slow); a real pseudo-terminal with a terminal emulator reading it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

import bpcli.points.np_exact  # noqa: F401 - NumPy as bpcli imports it, before any test module imports it itself
from bpcli import primitives
from bpcli.core import rules
from bpcli.cli.commands import cli

ROOT = Path(__file__).resolve().parent.parent
# An installed bpcli must run its wheel: a PYTHONPATH pointing at a checkout (as when testing a worktree) would win.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


class Run:
    """The outcome of one CLI invocation."""

    def __init__(self, result) -> None:
        self.code = result.exit_code
        self.out = result.stdout
        self.err = result.stderr
        self.exception = result.exception

    def json(self) -> dict:
        """stdout parsed as JSON."""
        return json.loads(self.out)


@pytest.fixture
def run():
    """run("grad", "x*y", "-v", "x=1,y=2") -> Run."""
    def invoke(*args: str, input: str | None = None) -> Run:
        runner = CliRunner()
        return Run(runner.invoke(cli, list(args), input=input, catch_exceptions=False))
    return invoke


@pytest.fixture
def broken_rule(monkeypatch):
    """break_rule(name, *partials) swaps in a deliberately wrong derivative rule until the test ends."""
    def break_rule(name: str, *partials: str) -> None:
        monkeypatch.setitem(primitives.OPS, name, primitives.OPS[name]._replace(partials=partials))
        rules.forget()  # compiled rules are cached per (name, arity, backend)
    try:
        yield break_rule
    finally:
        monkeypatch.undo()
        rules.forget()


# ---- a real terminal --------------------------------------------------------------------------------

ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


@dataclasses.dataclass
class Screen:
    """What a person at a terminal saw: `lines` as the program wrote them (escape sequences removed, a
    lone carriage return overwriting the line), and `visible`, the screen at the end, as a VT100
    terminal (pyte) shows it after cursor movement and erasing: a transient progress bar is gone there."""

    code: int
    lines: list[str]
    visible: list[str]
    data: bytes = b""   # every byte the terminal received

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _lines(text: str) -> list[str]:
    out = []
    for raw in ESCAPES.sub("", text).replace("\r\n", "\n").split("\n"):
        line = ""
        for part in raw.split("\r"):
            line = part + line[len(part):]
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def in_terminal(command: str, cols: int, cwd, *, env: dict | None = None, keys: bytes = b"",
                interrupt_after: float | None = None, timeout: float = 120) -> Screen:
    """Run `command` with bash in a new pseudo-terminal `cols` wide and 50 high, as its controlling
    terminal (Ctrl-C reaches it as from a keyboard); type `keys`; with `interrupt_after`, press Ctrl-C
    that many seconds after the start."""
    import pexpect
    import pyte

    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "PYTHONPATH")}
    environment.update(TERM="xterm-256color", **(env or {}))
    child = pexpect.spawn("bash", ["-c", command], cwd=str(cwd), env=environment, dimensions=(50, cols),
                          timeout=timeout)
    if keys:
        child.send(keys)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        child.sendintr()
    data = b""
    while True:
        try:
            data += child.read_nonblocking(65536, timeout=timeout)
        except pexpect.EOF:
            break
    child.close()
    code = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
    screen = pyte.Screen(cols, 50)
    pyte.ByteStream(screen).feed(data)
    visible = [line.rstrip() for line in screen.display]
    while visible and not visible[-1]:
        visible.pop()
    return Screen(code, _lines(data.decode("utf-8", "replace")), visible, data)


def pytest_collection_modifyitems(items) -> None:
    """A test that runs the installed wheel is slow: the wheel is built and installed into a fresh virtual
    environment (about ten seconds, once a session), and every run is a new process."""
    for item in items:
        if "installed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
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
                   check=True, cwd=tmp, env=CLEAN_ENV)
    site = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True, env=CLEAN_ENV).stdout.strip()
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
