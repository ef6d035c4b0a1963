"""Start-up: one point, one point with tables, and one Tab, each against `python -c pass`, in the same run.

    python benchmarks/startup.py [--rounds 20]

Run it with the interpreter of the environment bpcli is installed in (`/path/to/venv/bin/python
benchmarks/startup.py`): the baseline is that interpreter, and bpcli is the console script beside it.
Every bpcli call here is a fresh process, so this measures process start-up plus the work: for
`bpcli grad "(w+x*y)*z" -v <Tab>`, parse the expression and list its variables. The commands run in
turn, round after round; medians. Targets: JSON within 4.5x, tables within 7x, a completion within 4x
`python -c pass`.

Before the table: the machine line, the baseline interpreter and the bpcli measured, Click's cost
(`python -c "import click"`, which a command line read by Click pays; the three measured here are read by
the quick reader, bpcli.cli.quick, without it), and a warning when the baseline looks wrong
(a busy machine, a shim, over 30 ms, not the interpreter bpcli runs on, an editable install). Under
run_all these go to stderr, so its table stays the whole of stdout after its own machine line.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from common import (
    baseline_warnings,
    bpcli_command,
    environment,
    figure,
    interleaved,
    machine,
    median_seconds,
    print_table,
)

TARGETS = {"json": 4.5, "table": 7, "tab": 4}


def interpreter_of(script: str) -> str | None:
    """The interpreter a console script runs on, from its #! line (None when it has none)."""
    try:
        with open(script, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    return words[0] if words else None


def is_script(path: str) -> bool:
    """A text file starting with #! (a shim such as pyenv's), not an executable binary."""
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def editable(interpreter: str) -> bool:
    """Whether bpcli is an editable install (`pip install -e`) in `interpreter`'s environment: its finder
    costs every process of that interpreter start-up time that a user's `pip install` does not have."""
    prefix = os.path.dirname(os.path.dirname(interpreter))
    return bool(glob.glob(os.path.join(prefix, "lib", "python*", "site-packages", "__editable__*bpcli*")))


def bpcli_warnings(bpcli: str) -> list[str]:
    """What makes this bpcli a poor match for the baseline: another interpreter, or an editable install."""
    real = os.path.realpath(sys.executable)
    if is_script(real):
        return [f"warning: the baseline {sys.executable} is a script (a shim?), not the interpreter itself"]
    runs_on = interpreter_of(bpcli)
    if runs_on is None:
        return [f"warning: {bpcli} has no #! line: cannot tell which interpreter bpcli runs on"]
    if os.path.realpath(runs_on) != real:
        return [f"warning: bpcli runs on {runs_on} ({os.path.realpath(runs_on)}) but the baseline is {real}: "
                f"run this script with {runs_on}"]
    if editable(runs_on):
        return ["warning: bpcli is an editable install: its finder, loaded by a .pth file, runs in every process "
                "of this interpreter, `python -c pass` too, so the ratios are not a user's: measure a `pip install`"]
    return []


def measure(rounds: int) -> dict[str, float]:
    """Median seconds of each command, run in turn round after round: pass, click (Click's import), json,
    table and tab."""
    bpcli = bpcli_command()
    env = environment()
    tab = environment(_BPCLI_COMPLETE="bash_complete", COMP_LINE='bpcli grad "(w+x*y)*z" -v ')
    one = [bpcli, "grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]
    runs = interleaved({
        "pass": ([sys.executable, "-c", "pass"], None, env),
        "click": ([sys.executable, "-c", "import click"], None, env),
        "json": (one + ["--format", "json"], None, env),
        "table": (one, None, env),
        "tab": ([bpcli], None, tab),
    }, rounds)
    return {name: median_seconds(r) for name, r in runs.items()}


def describe(medians: dict[str, float], rounds: int) -> list[str]:
    """The baseline used, Click's import, and the warnings, one line each."""
    bpcli, base, floor = bpcli_command(), medians["pass"], medians["click"]
    return [f"baseline: {sys.executable} -c pass ({os.path.realpath(sys.executable)}), median "
            f"{base * 1000:.1f} ms of {rounds} rounds; bpcli: {bpcli}",
            f"click: {sys.executable} -c 'import click', median {floor * 1000:.1f} ms, {floor / base:.2f}x the "
            "baseline: what a command line Click reads pays (the quick reader's, measured here, do not)",
            *bpcli_warnings(bpcli), *baseline_warnings(base)]


def rows(medians: dict[str, float]) -> list[dict]:
    base = medians["pass"]
    return [
        figure("start-up: grad --format json (s)", medians["json"], base, TARGETS["json"]),
        figure("start-up: grad, tables (s)", medians["table"], base, TARGETS["table"]),
        figure("start-up: one completion request (s)", medians["tab"], base, TARGETS["tab"]),
    ]


def figures(rounds: int = 20) -> list[dict]:
    """The three rows, for run_all (which prints the machine line); the baseline and Click's import on stderr."""
    medians = measure(rounds)
    for line in describe(medians, rounds):
        print(line, file=sys.stderr)
    return rows(medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    medians = measure(args.rounds)
    print(machine())
    for line in describe(medians, args.rounds):
        print(line)
    print_table(rows(medians))


if __name__ == "__main__":
    main()
