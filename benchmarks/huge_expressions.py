"""Huge expressions: bpcli against a plain-Python shunting-yard-and-tape reference, in the same run.

    python benchmarks/huge_expressions.py [--sizes 1000,10000,100000] [--rounds 3]

For deep (((x*y+1)*y+1)*y+1)… and wide sin(x0*y)+sin(x1*y)+… expressions of N operations, it times
`bpcli grad - --vars … --format jsonl` (value and gradient, as the reference writes) and `python3 benchmarks/reference_tape.py …` as whole processes
(process start to JSON written), interleaved, medians of --rounds, and reads peak memory with
/usr/bin/time when it exists. Prints the times, the ratio, and t(10N)/t(N).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def deep(n: int) -> tuple[str, list[str]]:
    ops = n // 2
    return "(" * ops + "x" + "".join("*y+1)" for _ in range(ops)), ["x=0.5", "y=0.9"]


def wide(n: int) -> tuple[str, list[str]]:
    terms = max(1, n // 3)
    return "+".join(f"sin(x{i}*y)" for i in range(terms)), [f"x{i}={i % 7 / 7}" for i in range(terms)] + ["y=0.3"]


def run(command: list[str], text: str) -> tuple[float, int | None, str]:
    timer = shutil.which("time") and os.path.exists("/usr/bin/time")
    full = ["/usr/bin/time", "-f", "%M"] + command if timer else command
    start = time.perf_counter()
    done = subprocess.run(full, input=text, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    kb = int(done.stderr.strip().splitlines()[-1]) if timer and done.stderr.strip() else None
    return elapsed, kb, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bpcli = shutil.which("bpcli", path=os.path.dirname(sys.executable)) or shutil.which("bpcli")
    print(f"{'case':<14}{'N':>9}{'bpcli s':>10}{'ref s':>9}{'ratio':>8}{'bpcli MB':>10}{'ref MB':>9}")
    for shape in (deep, wide):
        previous = None
        for n in (int(s) for s in args.sizes.split(",")):
            text, values = shape(n)
            vfile = HERE / ".values.tmp"
            vfile.write_text("\n".join(values))
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(run([bpcli, "grad", "-", "--vars", str(vfile), "--format", "jsonl", "-q"], text))
                theirs.append(run([sys.executable, str(HERE / "reference_tape.py"), str(vfile)], text))
            vfile.unlink()
            a = json.loads(ours[0][2])["value"]
            b = json.loads(theirs[0][2])["value"]
            assert abs(a - b) <= 1e-9 * max(1.0, abs(b)), (a, b)
            t_ours = statistics.median(r[0] for r in ours)
            t_ref = statistics.median(r[0] for r in theirs)
            mb = lambda rs: f"{max(r[1] for r in rs) / 1024:.0f}" if rs[0][1] else "-"  # noqa: E731
            growth = f"   t(10N)/t(N) {t_ours / previous:.1f}" if previous else ""
            print(f"{shape.__name__:<14}{n:>9}{t_ours:>10.2f}{t_ref:>9.2f}{t_ours / t_ref:>8.1f}"
                  f"{mb(ours):>10}{mb(theirs):>9}{growth}")
            previous = t_ours


if __name__ == "__main__":
    main()
