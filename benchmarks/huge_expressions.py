"""Huge expressions: bpcli against a plain-Python shunting-yard-and-tape reference, in the same run.

    python benchmarks/huge_expressions.py [--sizes 1000,10000,100000,1000000] [--rounds 3]

For deep (((x*y+1)*y+1)*y+1)… and wide sin(x0*y)+sin(x1*y)+… expressions of N operations, it times
`bpcli grad - --vars FILE --format jsonl` (value and gradient, as the reference writes) and
`python3 benchmarks/reference_tape.py FILE` as whole processes (process start to JSON written), in turn,
medians of --rounds, and reads peak memory with /usr/bin/time. Targets: at 10⁵ operations
within 3x the reference; t(10N)/t(N) at most 12; peak memory at the largest size under 2x the reference's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

from common import bpcli_command, figure, interleaved, median_seconds, peak_mb

HERE = Path(__file__).resolve().parent


def deep(n: int) -> tuple[str, list[str]]:
    ops = n // 2
    return "(" * ops + "x" + "".join("*y+1)" for _ in range(ops)), ["x=0.5", "y=0.9"]


def wide(n: int) -> tuple[str, list[str]]:
    terms = max(1, n // 3)
    return "+".join(f"sin(x{i}*y)" for i in range(terms)), [f"x{i}={i % 7 / 7}" for i in range(terms)] + ["y=0.3"]


def measure(shape, n: int, rounds: int) -> dict:
    """Median seconds and peak MB of bpcli and of the reference on one expression; checks they agree."""
    text, values = shape(n)
    with tempfile.NamedTemporaryFile("w", suffix=".vars", delete=False) as vfile:
        vfile.write("\n".join(values))
    try:
        runs = interleaved({
            "bpcli": ([bpcli_command(), "grad", "-", "--vars", vfile.name, "--format", "jsonl", "-q"], text, None),
            "reference": ([sys.executable, str(HERE / "reference_tape.py"), vfile.name], text, None),
        }, rounds)
    finally:
        Path(vfile.name).unlink()
    ours, theirs = json.loads(runs["bpcli"][0][2]), json.loads(runs["reference"][0][2])
    assert abs(ours["value"] - theirs["value"]) <= 1e-9 * max(1.0, abs(theirs["value"])), (ours, theirs)
    return {"n": n, "shape": shape.__name__, "bpcli": median_seconds(runs["bpcli"]),
            "reference": median_seconds(runs["reference"]), "bpcli_mb": peak_mb(runs["bpcli"]),
            "reference_mb": peak_mb(runs["reference"])}


def figures(sizes: list[int], rounds: int, at: int = 100_000) -> list[dict]:
    rows = []
    for shape in (deep, wide):
        results = [measure(shape, n, rounds) for n in sizes]
        for r in results:
            print(f"  {r['shape']:<5}{r['n']:>9}  bpcli {r['bpcli']:7.2f} s  reference {r['reference']:6.2f} s"
                  f"  {r['bpcli'] / r['reference']:5.1f}x"
                  f"  {r['bpcli_mb'] or 0:6.0f} MB vs {r['reference_mb'] or 0:5.0f} MB",
                  file=sys.stderr)
        for r in results:
            if r["n"] == at:
                rows.append(figure(f"{shape.__name__} {at:,} ops, process start to JSON (s)", r["bpcli"],
                                   r["reference"], 3))
        growth = max((b["bpcli"] / a["bpcli"], a["n"], b["n"]) for a, b in itertools.pairwise(results))
        rows.append(figure(f"{shape.__name__}: worst t(10N)/t(N), N {growth[1]:,} to {growth[2]:,}",
                           growth[0], None, 12, ratio=growth[0]))
        top = results[-1]
        if top["bpcli_mb"] and top["reference_mb"]:
            rows.append(figure(f"{shape.__name__} {top['n']:,} ops, peak memory (MB)", top["bpcli_mb"],
                               top["reference_mb"], 2))
    return rows


def main() -> None:
    from common import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print_table(figures(sizes, args.rounds, at=100_000 if 100_000 in sizes else sizes[-1]))


if __name__ == "__main__":
    main()
