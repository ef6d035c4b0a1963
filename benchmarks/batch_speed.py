"""How fast is `bpcli grad --batch`? Points per second against hand-written NumPy, in the same run.

    python benchmarks/batch_speed.py [--points 1000000] [--repeat 3]

Compute: bpcli.batch.run on one block of N points (the graph's rules compiled for NumPy) against a
hand-written NumPy forward and backward pass of the same expression. I/O: bpcli's CSV reader and writer
(bpcli.stream) against numpy.loadtxt and numpy.savetxt on the same rows. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np

from bpcli import batch, stream
from bpcli.pipeline import compile_source

LECTURE = "(w+x*y)*z"
MID = "tanh(w1*x1+w2*x2+b)*sigmoid(x1*x2) - log(1+exp(-x1))"


def by_hand_lecture(w, x, y, z):
    v = x * y
    u = w + v
    f = u * z
    dfdu, dfdz = z, u
    dfdv = dfdu
    return f, {"w": dfdu, "x": y * dfdv, "y": x * dfdv, "z": dfdz}


def by_hand_mid(w1, x1, w2, x2, b):
    a = w1 * x1 + w2 * x2 + b
    t = np.tanh(a)
    s = 1 / (1 + np.exp(-x1 * x2))
    e = np.exp(-x1)
    f = t * s - np.log(1 + e)
    da = (1 - t * t) * s
    ds = t * s * (1 - s)
    return f, {"w1": da * x1, "x1": da * w1 + ds * x2 + e / (1 + e), "w2": da * x2, "x2": da * w2 + ds * x1,
               "b": da}


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compute(source: str, hand, names: list[str], n: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    columns = {name: rng.uniform(0.1, 2.0, n) for name in names}
    graph = compile_source(source)
    ours = median_time(lambda: batch.run(graph, columns, names), repeat)
    theirs = median_time(lambda: hand(**columns), repeat)
    print(f"compute  {source:<55} {n / ours:>12,.0f} points/s   hand-written NumPy {n / theirs:>12,.0f}"
          f"   ratio {ours / theirs:5.2f}x")


def io_speed(n: int, repeat: int) -> None:
    rng = np.random.default_rng(1)
    data = rng.uniform(-1, 1, (n, 2))
    text = "x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in data.tolist()) + "\n"
    raw = text.encode()
    graph = compile_source("x*y")

    def ours_read():
        rows = stream._Rows("csv", ["x", "y"])
        for lines in stream._lines(io.BytesIO(raw)):
            rows.parse(lines)

    def ours_write():
        writer = stream._Writer(io.StringIO(), "csv", ["x", "y"], ["x", "y"])
        for row in data.tolist():
            writer.row(row, row[0], row)
        writer.flush()

    read_ours = median_time(ours_read, repeat)
    read_np = median_time(lambda: np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1), repeat)
    write_ours = median_time(ours_write, repeat)
    write_np = median_time(lambda: np.savetxt(io.StringIO(), np.hstack([data, data, data[:, :1]]),
                                              delimiter=",", fmt="%r"), repeat)
    print(f"read     {n:,} CSV rows: bpcli {read_ours:6.2f} s   numpy.loadtxt {read_np:6.2f} s   "
          f"ratio {read_ours / read_np:5.2f}x")
    print(f"write    {n:,} CSV rows: bpcli {write_ours:6.2f} s   numpy.savetxt {write_np:6.2f} s   "
          f"ratio {write_ours / write_np:5.2f}x")
    del graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compute(LECTURE, by_hand_lecture, ["w", "x", "y", "z"], args.points, args.repeat)
    compute(MID, by_hand_mid, ["w1", "x1", "w2", "x2", "b"], args.points, args.repeat)
    io_speed(args.points // 5, args.repeat)


if __name__ == "__main__":
    main()
