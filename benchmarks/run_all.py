"""Every benchmark in one table: figure, bpcli, baseline, ratio, target, met, after the machine line (what ran,
on what, how busy) and any warning that makes the ratios suspect.

    python benchmarks/run_all.py            # the full run (about ten minutes on two cores)
    python benchmarks/run_all.py --quick    # tiny sizes: checks the scripts work, not the targets

Baselines run in the same invocation as bpcli, in turn with it, several rounds, medians: python3 -c pass
(start-up), a plain-Python shunting-yard-and-tape (huge expressions), hand-written NumPy and
numpy.loadtxt/savetxt (many points), bpcli's own forward pass (the cost of a gradient), and SymPy's diff
(derivatives as formulas). Exits 1 if a
target is not met (in the full run).
"""

from __future__ import annotations

import argparse
import sys

import batch_speed
import diff_size
import gradient_cost
import huge_expressions
import startup
from common import baseline_warnings, machine, print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round: a smoke test")
    args = parser.parse_args()
    quick = args.quick
    print(machine())
    for warning in baseline_warnings():
        print(warning)
    rows = []
    rows += startup.figures(rounds=2 if quick else 20)
    sizes = [30, 300] if quick else [1000, 10_000, 100_000, 1_000_000]
    rows += huge_expressions.figures(sizes, rounds=1 if quick else 3, at=300 if quick else 100_000)
    rows += gradient_cost.figures(n=300 if quick else 100_000, rounds=1 if quick else 5)
    rows += batch_speed.figures(points=2000 if quick else 1_000_000, repeat=1 if quick else 5)
    rows += diff_size.figures(ops=300 if quick else 10_000, small_count=20 if quick else 300, rounds=1 if quick else 3)
    for warning in baseline_warnings(next((r["baseline"] for r in rows if r["figure"].startswith("start-up")), None)):
        print(warning)
    print_table(rows)
    if not quick and not all(r["met"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
