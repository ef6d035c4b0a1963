"""The cost of a gradient: backward pass time over forward pass time, in the interpreter, in one process.

    python benchmarks/gradient_cost.py [--ops 100000] [--rounds 5]

Reverse mode should cost a small constant times one evaluation (the cheap gradient principle). On the
wide expression sin(x0*y)+sin(x1*y)+… of --ops operations, it times bpcli.core.engine.forward and
bpcli.core.engine.backward (without recording edges, as for --format csv/jsonl; the dependency masks it
needs are computed afresh each round and counted), alternating, medians, with the cyclic collector
paused as bpcli.api and the console script run them. Target: at most 3.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from huge_expressions import deep, wide

from bpcli.core import engine
from bpcli.core.graph import Graph
from bpcli.api import compile_source


def ratio(shape, n: int, rounds: int) -> tuple[float, float]:
    """Median forward and backward seconds."""
    text, values = shape(n)
    graph = compile_source(text)
    inputs = {k: float(v) for k, v in (pair.split("=") for pair in values)}
    forward, backward = [], []
    gc.disable()
    for _ in range(rounds):
        fresh = Graph(graph.source, graph.nodes, graph.output, pruned=True)  # as lowered, no cached masks
        start = time.perf_counter()
        vals = engine.forward(fresh, inputs)
        forward.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine.backward(fresh, vals, edges=False)
        backward.append(time.perf_counter() - start)
    gc.enable()
    return statistics.median(forward), statistics.median(backward)


def figures(n: int = 100_000, rounds: int = 5) -> list[dict]:
    from common import figure

    rows = []
    for shape in (wide, deep):
        fwd, bwd = ratio(shape, n, rounds)
        rows.append(figure(f"gradient cost, interpreter, {shape.__name__} {n:,} ops: backward (s) / forward (s)",
                           bwd, fwd, 3))
    return rows


def main() -> None:
    from common import machine, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    print_table(figures(args.ops, args.rounds))


if __name__ == "__main__":
    main()
