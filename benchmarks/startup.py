"""Start-up: one point, one point with tables, and one Tab, each against `python -c pass`, in the same run.

    python benchmarks/startup.py [--rounds 20]

Run it with the interpreter of the environment bpcli is installed in (`/path/to/venv/bin/python
benchmarks/startup.py`): the baseline is that interpreter, and bpcli is the console script beside it.
Every bpcli call here is a fresh process, so this measures process start-up plus the work: for
`bpcli grad "(w+x*y)*z" -v <Tab>`, parse the expression and list its variables. The commands run in
turn, round after round; medians. Targets: JSON within 4.5x, tables within 7x, a completion within 4x
`python -c pass`.

On stderr: the machine, the baseline interpreter and the bpcli measured, a warning when the baseline
looks wrong (slow, or not the interpreter bpcli runs on), and the floor, `python -c "import click"`, which
every bpcli process pays.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import sys

from common import (
    bpcli_command,
    environment,
    figure,
    interleaved,
    median_seconds,
    print_table,
)

TARGETS = {"json": 4.5, "table": 7, "tab": 4}
SLOW_BASELINE = 0.030   # seconds: `python -c pass` takes about 10 ms on a desktop; much more means a busy
#                         machine or a shim (pyenv's is a shell script) rather than the interpreter


def machine() -> str:
    """The machine line: processor, cores, system, Python."""
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"{platform.python_implementation()} {platform.python_version()}")


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
    """Whether bpcli is an editable install (`pip install -e`) in `interpreter`'s environment: its import
    finder costs start-up time that a user's `pip install` does not have."""
    prefix = os.path.dirname(os.path.dirname(interpreter))
    return bool(glob.glob(os.path.join(prefix, "lib", "python*", "site-packages", "__editable__*bpcli*")))


def baseline_warnings(bpcli: str, base_seconds: float) -> list[str]:
    """What makes `python -c pass` a poor baseline for this run, one line each ([] when nothing does)."""
    warnings = []
    real = os.path.realpath(sys.executable)
    if is_script(real):
        warnings.append(f"the baseline {sys.executable} is a script (a shim?), not the interpreter itself")
    runs_on = interpreter_of(bpcli)
    if runs_on is None:
        warnings.append(f"{bpcli} has no #! line: cannot tell which interpreter bpcli runs on")
    elif os.path.realpath(runs_on) != real:
        warnings.append(f"bpcli runs on {runs_on} ({os.path.realpath(runs_on)}) but the baseline is {real}: "
                        f"run this script with {runs_on}")
    elif editable(runs_on):
        warnings.append("bpcli is an editable install: its import finder adds start-up time a user's "
                        "`pip install` does not have")
    if base_seconds > SLOW_BASELINE:
        warnings.append(f"python -c pass took {base_seconds * 1000:.0f} ms (over {SLOW_BASELINE * 1000:.0f} ms): "
                        "a busy machine or a slow interpreter; the ratios understate bpcli's cost")
    return warnings


def figures(rounds: int = 20) -> list[dict]:
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
    base = median_seconds(runs["pass"])
    floor = median_seconds(runs["click"])
    print(machine(), file=sys.stderr)
    print(f"baseline: {sys.executable} -c pass ({os.path.realpath(sys.executable)}), median {base * 1000:.1f} ms "
          f"of {rounds} rounds; bpcli: {bpcli}", file=sys.stderr)
    print(f"floor: {sys.executable} -c 'import click', median {floor * 1000:.1f} ms, "
          f"{floor / base:.2f}x the baseline", file=sys.stderr)
    for warning in baseline_warnings(bpcli, base):
        print(f"warning: {warning}", file=sys.stderr)
    return [
        figure("start-up: grad --format json (s)", median_seconds(runs["json"]), base, TARGETS["json"]),
        figure("start-up: grad, tables (s)", median_seconds(runs["table"]), base, TARGETS["table"]),
        figure("start-up: one completion request (s)", median_seconds(runs["tab"]), base, TARGETS["tab"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print_table(figures(args.rounds))


if __name__ == "__main__":
    main()
