"""Huge expressions: bpcli against a plain-Python shunting-yard-and-tape reference, in the same run.

    python benchmarks/huge_expressions.py [--sizes 1000,10000,100000,1000000] [--rounds 3]

For deep (((x*y+1)*y+1)*y+1)… and wide sin(x0*y)+sin(x1*y)+… expressions of N operations, it times
`bpcli grad - --vars FILE --format jsonl` (value and gradient, as the reference writes) and
`python3 benchmarks/reference_tape.py FILE` as whole processes (process start to JSON written), in turn,
medians of --rounds, and reads peak memory with /usr/bin/time. Targets: at 10⁵ operations
within 3x the reference; t(10N)/t(N) at most 12; peak memory at the largest size under 2x the reference's.

`--format json` (every node and edge: 32 MB at 10⁵ deep operations, written to a file as `> out.json` does)
runs in turn with the two at 10⁵ operations, target within 4x the reference's time, and at the largest size
(written to /dev/null), target peak memory under 2x the reference's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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


def measure(shape, n: int, rounds: int, document: bool = False) -> dict:
    """Median seconds and peak MB of bpcli and of the reference on one expression; checks they agree.
    With `document`, also of `--format json` (key "json"), run in turn with them."""
    text, values = shape(n)
    with tempfile.NamedTemporaryFile("w", suffix=".vars", delete=False) as vfile:
        vfile.write("\n".join(values))
    grad = [bpcli_command(), "grad", "-", "--vars", vfile.name, "-q", "--format"]
    commands = {"bpcli": (grad + ["jsonl"], text, None),
                "reference": ([sys.executable, str(HERE / "reference_tape.py"), vfile.name], text, None)}
    written = Path(vfile.name).with_suffix(".json")
    if document:   # written to a file, as `> out.json` does; a big one to the null device (no 350 MB file)
        big = n > 100_000
        target = os.devnull if big else str(written)
        commands["json"] = (["sh", "-c", 'exec "$@" > "$0"', target] + grad + ["json"], text, None)
    try:
        runs = interleaved(commands, rounds)
    finally:
        Path(vfile.name).unlink()
    ours, theirs = json.loads(runs["bpcli"][0][2]), json.loads(runs["reference"][0][2])
    assert abs(ours["value"] - theirs["value"]) <= 1e-9 * max(1.0, abs(theirs["value"])), (ours, theirs)
    found = {"n": n, "shape": shape.__name__}
    for name in commands:
        found[name], found[f"{name}_mb"] = median_seconds(runs[name]), peak_mb(runs[name])
    if document and not big:
        document_ = written.read_text()   # the last round's; the expression's line is as long as the expression
        written.unlink()
        start = document_.index('\n  "value": ') + 1
        line = document_[start:document_.index("\n", start)]
        assert line == f'  "value": {ours["value"]!r},', line
    return found


def figures(sizes: list[int], rounds: int, at: int = 100_000) -> list[dict]:
    rows = []
    for shape in (deep, wide):
        results = [measure(shape, n, rounds, document=n in (at, sizes[-1])) for n in sizes]
        for r in results:
            print(f"  {r['shape']:<5}{r['n']:>9}  bpcli {r['bpcli']:7.2f} s  reference {r['reference']:6.2f} s"
                  f"  {r['bpcli'] / r['reference']:5.1f}x"
                  f"  {r['bpcli_mb'] or 0:6.0f} MB vs {r['reference_mb'] or 0:5.0f} MB", file=sys.stderr)
            if "json" in r:
                print(f"  {'':<14}json  {r['json']:7.2f} s  {r['json'] / r['reference']:5.1f}x"
                      f"  {r['json_mb'] or 0:6.0f} MB", file=sys.stderr)
        for r in results:
            if r["n"] == at:
                rows.append(figure(f"{shape.__name__} {at:,} ops, process start to JSON (s)", r["bpcli"],
                                   r["reference"], 3))
                rows.append(figure(f"{shape.__name__} {at:,} ops, --format json, every node and edge (s)",
                                   r["json"], r["reference"], 4))
        growth = max(((b["bpcli"] / a["bpcli"], a["n"], b["n"]) for a, b in itertools.pairwise(results)), default=None)
        if growth is not None:   # two sizes or more
            rows.append(figure(f"{shape.__name__}: worst t(10N)/t(N), N {growth[1]:,} to {growth[2]:,}",
                               growth[0], None, 12, ratio=growth[0]))
        top = results[-1]
        if top["bpcli_mb"] and top["reference_mb"]:
            rows.append(figure(f"{shape.__name__} {top['n']:,} ops, peak memory (MB)", top["bpcli_mb"],
                               top["reference_mb"], 2))
        if top["json_mb"] and top["reference_mb"]:
            rows.append(figure(f"{shape.__name__} {top['n']:,} ops, --format json, peak memory (MB)",
                               top["json_mb"], top["reference_mb"], 2))
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
