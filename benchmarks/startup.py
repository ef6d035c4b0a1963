"""Start-up: one point, one point with tables, and one Tab, each against `python3 -c pass`, in the same run.

    python benchmarks/startup.py [--rounds 20]

Every bpcli call here is a fresh process, so this measures process start-up plus the work: for
`bpcli grad "(w+x*y)*z" -v <Tab>`, parse the expression and list its variables. The four commands run
in turn, round after round; medians. Targets: JSON within 5x, tables within 8x, a completion
within 5x `python3 -c pass`.
"""

from __future__ import annotations

import argparse
import sys

from common import (
    bpcli_command,
    environment,
    figure,
    interleaved,
    median_seconds,
    print_table,
)


def figures(rounds: int = 20) -> list[dict]:
    bpcli = bpcli_command()
    env = environment()
    tab = environment(_BPCLI_COMPLETE="bash_complete", COMP_LINE='bpcli grad "(w+x*y)*z" -v ')
    one = [bpcli, "grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]
    runs = interleaved({
        "pass": ([sys.executable, "-c", "pass"], None, env),
        "json": (one + ["--format", "json"], None, env),
        "table": (one, None, env),
        "tab": ([bpcli], None, tab),
    }, rounds)
    base = median_seconds(runs["pass"])
    return [
        figure("start-up: grad --format json (s)", median_seconds(runs["json"]), base, 5),
        figure("start-up: grad, tables (s)", median_seconds(runs["table"]), base, 8),
        figure("start-up: one completion request (s)", median_seconds(runs["tab"]), base, 5),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print_table(figures(args.rounds))


if __name__ == "__main__":
    main()
