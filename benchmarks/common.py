"""What the benchmark scripts share: interleaved timing of whole processes, and the rows of the table.

A figure is a dict: figure (what is measured), bpcli and baseline (seconds, or MB), ratio, target (the
largest ratio that meets it) and met. `python benchmarks/run_all.py` prints them all in one table.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time


def bpcli_command() -> str:
    """The installed console script beside this interpreter (or on PATH)."""
    found = shutil.which("bpcli", path=os.path.dirname(sys.executable)) or shutil.which("bpcli")
    if found is None:
        raise SystemExit("bpcli is not installed: pip install . first")
    return found


def environment(**extra: str) -> dict[str, str]:
    """This environment, as a user's shell has it: without PYTHONDONTWRITEBYTECODE (which some tool
    sessions set), so modules load from cached bytecode, as after `pip install`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def run_once(command: list[str], stdin: str | None = None, env: dict | None = None) -> tuple[float, float | None, str]:
    """Seconds from process start to exit, peak memory in MB (from /usr/bin/time, if there), and stdout."""
    env = environment() if env is None else env
    timer = os.path.exists("/usr/bin/time")
    full = ["/usr/bin/time", "-f", "%M"] + command if timer else command
    start = time.perf_counter()
    done = subprocess.run(full, input=stdin, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    mb = int(lines[-1]) / 1024 if timer and lines and lines[-1].isdigit() else None
    return elapsed, mb, done.stdout


def interleaved(commands: dict[str, tuple], rounds: int) -> dict[str, list[tuple[float, float | None, str]]]:
    """Run each named (command, stdin, env) once per round, in turn, so a busy moment hits all alike.
    One untimed round first: it writes the bytecode caches and warms the disk cache."""
    results: dict[str, list] = {name: [] for name in commands}
    for command, stdin, env in commands.values():
        run_once(command, stdin, env)
    for _ in range(rounds):
        for name, (command, stdin, env) in commands.items():
            results[name].append(run_once(command, stdin, env))
    return results


def median_seconds(runs: list[tuple]) -> float:
    return statistics.median(r[0] for r in runs)


def peak_mb(runs: list[tuple]) -> float | None:
    values = [r[1] for r in runs if r[1] is not None]
    return max(values) if values else None


def figure(name: str, ours: float, baseline: float | None, target: float, ratio: float | None = None) -> dict:
    """One row: the ratio is ours/baseline unless given (for a ratio measured within bpcli itself)."""
    if ratio is None:
        ratio = ours / baseline if baseline else float("inf")
    return {"figure": name, "bpcli": ours, "baseline": baseline, "ratio": ratio, "target": target,
            "met": ratio <= target}


def machine() -> str:
    """The machine line every run prints: what ran, on what, and how busy it was when it started."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        import numpy
        numpy_version = numpy.__version__
    except ImportError:
        numpy_version = "none"
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()} ({os.path.realpath(sys.executable)}), NumPy {numpy_version}, "
            f"load {load:.2f}")


def baseline_warnings(pass_seconds: float | None = None) -> list[str]:
    """What makes a run's ratios suspect: a busy machine, an interpreter that is a shim rather than the
    real one, or `python -c pass` far slower than a real interpreter starts (about 10-20 ms)."""
    warnings = []
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        warnings.append(f"warning: the machine is busy (load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores): "
                        "ratios may be off")
    real = os.path.realpath(sys.executable)
    if "shims" in real.split(os.sep) or not os.access(real, os.X_OK):
        warnings.append(f"warning: {sys.executable} is a shim ({real}), not the interpreter: start-up baselines "
                        "would include it")
    if pass_seconds is not None and pass_seconds > 0.03:
        warnings.append(f"warning: `python -c pass` took {pass_seconds * 1000:.0f} ms, more than a real "
                        "interpreter's 10-20 ms: a shim or a loaded machine, and start-up ratios are too kind")
    return warnings


def print_table(rows: list[dict]) -> None:
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'bpcli':>9}  {'baseline':>9}  {'ratio':>6}  {'target':>7}  met")
    for r in rows:
        base = "-" if r["baseline"] is None else f"{r['baseline']:.3g}"
        print(f"{r['figure']:<{width}}  {r['bpcli']:>9.3g}  {base:>9}  {r['ratio']:>6.2f}  "
              f"{'≤' + format(r['target'], 'g'):>7}  {'yes' if r['met'] else 'NO'}")
