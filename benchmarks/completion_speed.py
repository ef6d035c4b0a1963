"""How long does one Tab take? A completion request against `python3 -c pass`, in the same run.

    python benchmarks/completion_speed.py [--runs 20]

Each Tab starts a fresh `bpcli`, so this measures process start-up plus the completion itself
(for `bpcli grad "(w+x*y)*z" -v <Tab>`: parse the expression, list its variables). Prints medians and
the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def median_run(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bpcli = shutil.which("bpcli", path=os.path.dirname(sys.executable)) or shutil.which("bpcli")
    tab = {**os.environ, "_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": 'bpcli grad "(w+x*y)*z" -v '}
    one = [bpcli, "grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--format", "json"]
    baseline = median_run([sys.executable, "-c", "pass"], dict(os.environ), args.runs)
    completion = median_run([bpcli], tab, args.runs)
    single = median_run(one, dict(os.environ), args.runs)
    table = median_run(one[:-2], dict(os.environ), args.runs)
    print(f"python3 -c pass                  {baseline * 1000:7.1f} ms")
    print(f"one completion request (Tab)     {completion * 1000:7.1f} ms   {completion / baseline:5.1f}x")
    print(f"bpcli grad … --format json       {single * 1000:7.1f} ms   {single / baseline:5.1f}x")
    print(f"bpcli grad … (tables)            {table * 1000:7.1f} ms   {table / baseline:5.1f}x")


if __name__ == "__main__":
    main()
