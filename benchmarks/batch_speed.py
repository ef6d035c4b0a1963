"""How fast is `bpcli grad --batch`? Points per second against hand-written NumPy, in the same run.

    python benchmarks/batch_speed.py [--points 1000000] [--repeat 3]

Compute: bpcli.points.arrays.run on N points (the graph's rules compiled for NumPy) against the best plain
NumPy a user would write for the same forward and backward pass, in a warm process: output and temporary
arrays allocated once and reused, every step an in-place ufunc (`out=`), one thread. Backward/forward: the
time of bpcli's backward pass over its forward pass on the same blocks (and the same for plain NumPy
written as anyone would, whole arrays), for the mid-size expression and a wide one (30 terms sin(xi*y)).
I/O: bpcli's CSV reader and writer (bpcli.points.readers) against numpy.loadtxt and numpy.savetxt on the
same rows. End to end: N CSV rows of the lecture's expression through `bpcli grad EXPR --batch FILE >
out.csv` as a process, against a Python process doing numpy.loadtxt, the hand-written passes and
numpy.savetxt (fmt `%.17g`) on the same 9 columns, both writing to a file. Every baseline runs in this
run, interleaved with bpcli round by round; the figures are medians. `figures()` returns them as rows.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # measure this checkout's bpcli
sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py, when imported from elsewhere

from bpcli.points import arrays
from bpcli.points import records
from bpcli.points import readers
from bpcli.api import compile_source
from bpcli.points.writers import Writer
from common import bpcli_command, environment

LECTURE = "(w+x*y)*z"
MID = "tanh(w1*x1+w2*x2+b)*sigmoid(x1*x2) - log(1+exp(-x1))"
WIDE_TERMS = 30
WIDE = "+".join(f"sin(x{i}*y)" for i in range(WIDE_TERMS))


def by_hand_lecture(w, x, y, z, out, scratch):
    """(w+x*y)*z and its partials into the rows of `out` (value, d_w, d_x, d_y, d_z), in place."""
    f, dw, dx, dy, dz = out
    np.multiply(x, y, out=dz)
    dz += w                      # u = w + x*y, which is also df/dz
    np.multiply(dz, z, out=f)
    np.copyto(dw, z)
    np.multiply(y, z, out=dx)
    np.multiply(x, z, out=dy)


def by_hand_mid(w1, x1, w2, x2, b, out, scratch):
    """The mid-size expression and its partials into the rows of `out`, every step in place."""
    f, dw1, dx1, dw2, dx2, db = out
    a, t, s, e, q = scratch
    np.multiply(w1, x1, out=a)
    np.multiply(w2, x2, out=t)
    a += t
    a += b
    np.tanh(a, out=t)
    np.multiply(x1, x2, out=s)
    np.negative(s, out=s)
    np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)      # sigmoid(x1*x2)
    np.negative(x1, out=e)
    np.exp(e, out=e)
    np.add(e, 1, out=q)
    np.log(q, out=q)
    np.multiply(t, s, out=f)
    f -= q
    np.multiply(t, t, out=db)    # da = (1 - t²)·s, which is df/db
    np.subtract(1, db, out=db)
    db *= s
    np.subtract(1, s, out=a)     # ds = t·s·(1 - s)
    a *= s
    a *= t
    np.multiply(db, x1, out=dw1)
    np.multiply(db, x2, out=dw2)
    np.multiply(db, w1, out=dx1)
    np.multiply(a, x2, out=q)
    dx1 += q
    np.add(e, 1, out=q)
    np.divide(e, q, out=q)
    dx1 += q
    np.multiply(db, w2, out=dx2)
    np.multiply(a, x1, out=q)
    dx2 += q


SCRATCH = 5   # temporaries the hand-written passes need, allocated once


def mid_forward(w1, x1, w2, x2, b):
    a = w1 * x1 + w2 * x2 + b
    t = np.tanh(a)
    s = 1 / (1 + np.exp(-x1 * x2))
    e = np.exp(-x1)
    f = t * s - np.log(1 + e)
    return f, t, s, e


def mid_backward(w1, x1, w2, x2, f, t, s, e):
    da = (1 - t * t) * s
    ds = t * s * (1 - s)
    return f, {"w1": da * x1, "x1": da * w1 + ds * x2 + e / (1 + e), "w2": da * x2, "x2": da * w2 + ds * x1,
               "b": da}


def wide_forward(y, xs):
    products = [x * y for x in xs]
    return sum(np.sin(p) for p in products), products


def wide_backward(y, xs, products):
    slopes = [np.cos(p) for p in products]
    return [s * y for s in slopes], sum(s * x for s, x in zip(slopes, xs))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _rounds(contenders: dict, repeat: int, warm: bool = False) -> dict[str, float]:
    """Median seconds of each callable, run in turn round after round (so drift hits all alike).

    warm: every callable runs once before the rounds, and each timed call follows an untimed call of
    itself. At 10^6 points a run's time depends on the heap the run before left behind (memory fresh
    from the kernel costs a page fault per 4 KiB, ~3 us here): the hand-written NumPy took 31 ms after
    the old batch path had grown the heap and 43 ms in its own steady state, and bpcli's first runs in a
    new process 31 ms instead of 11 ms.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values() if warm else ():
        fn()
    for _ in range(repeat):
        for name, fn in contenders.items():
            if warm:
                fn()
            times[name].append(fn())
    return {name: statistics.median(t) for name, t in times.items()}


def _columns(names: list[str], n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(0.1, 2.0, n) for name in names}


def compute_times(source: str, hand, n: int, repeat: int) -> dict[str, float]:
    """Seconds for bpcli.points.arrays.run and for the hand-written passes on n points."""
    graph = compile_source(source)
    names = graph.input_names
    columns = _columns(names, n)
    out, scratch, results = np.empty((1 + len(names), n)), np.empty((SCRATCH, n)), np.empty((1 + len(names), n))
    hand(**columns, out=out, scratch=scratch)
    arrays.run(graph, columns, names, results)
    assert np.allclose(out, results), "the hand-written passes compute something else"
    return _rounds({"bpcli": lambda: _seconds(lambda: arrays.run(graph, columns, names, results)),
                    "hand": lambda: _seconds(lambda: hand(**columns, out=out, scratch=scratch))}, repeat, warm=True)


def _bpcli_passes(source: str, n: int):
    """A callable timing bpcli's forward and backward passes separately over all blocks of n points."""
    graph = compile_source(source)
    names = graph.input_names
    columns = _columns(names, n)
    passes = arrays.program(graph, names)

    def run() -> tuple[float, float]:
        forward = backward = 0.0
        with np.errstate(all="ignore"):
            for start in range(0, n, passes.block):
                block = {name: column[start:start + passes.block] for name, column in columns.items()}
                t0 = time.perf_counter()
                values, _ = passes.forward(block)
                t1 = time.perf_counter()
                passes.backward(values)
                forward, backward = forward + t1 - t0, backward + time.perf_counter() - t1
        return forward, backward
    return run


def _hand_passes(source: str, n: int):
    columns = _columns(compile_source(source).input_names, n)

    def run() -> tuple[float, float]:
        t0 = time.perf_counter()
        if source == MID:
            saved = mid_forward(**columns)
            t1 = time.perf_counter()
            mid_backward(columns["w1"], columns["x1"], columns["w2"], columns["x2"], *saved)
        else:
            y, xs = columns["y"], [columns[f"x{i}"] for i in range(WIDE_TERMS)]
            _, products = wide_forward(y, xs)
            t1 = time.perf_counter()
            wide_backward(y, xs, products)
        return t1 - t0, time.perf_counter() - t1
    return run


def pass_times(source: str, n: int, repeat: int) -> dict[str, float]:
    """Forward and backward seconds of bpcli's batch path and of the hand-written NumPy (medians)."""
    ours, theirs = _bpcli_passes(source, n), _hand_passes(source, n)
    samples: dict[str, list[float]] = {"forward": [], "backward": [], "hand forward": [], "hand backward": []}
    for _ in range(repeat):
        for prefix, run in (("", ours), ("hand ", theirs)):
            forward, backward = run()
            samples[prefix + "forward"].append(forward)
            samples[prefix + "backward"].append(backward)
    return {name: statistics.median(t) for name, t in samples.items()}


def io_times(n: int, repeat: int) -> dict[str, float]:
    """Seconds to read and to write n CSV rows: bpcli.points.readers against numpy.loadtxt and numpy.savetxt."""
    rng = np.random.default_rng(1)
    data = rng.uniform(-1, 1, (n, 2))
    text = "x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in data.tolist()) + "\n"
    raw = text.encode()

    def ours_read():
        rows = readers._Rows("csv", ["x", "y"])
        for block in records.blocks(io.BytesIO(raw), ","):
            rows.parse(block)

    def ours_write():  # as --batch writes: a block of rows at a time (about what 64 KiB of input holds)
        writer = Writer(io.StringIO(), "csv", ["x", "y"], ["x", "y"])
        table = np.hstack([data, data[:, :1], data])
        for start in range(0, n, 1000):
            block = table[start:start + 1000]
            writer.numbers(block.ravel().tolist(), len(block))
            writer.flush()

    return _rounds({
        "read": lambda: _seconds(ours_read),
        "loadtxt": lambda: _seconds(lambda: np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)),
        "write": lambda: _seconds(ours_write),
        "savetxt": lambda: _seconds(lambda: np.savetxt(io.StringIO(), np.hstack([data, data, data[:, :1]]),
                                                       delimiter=",", fmt="%r")),
    }, repeat)


# The end-to-end baseline: what a user would write with NumPy alone for the lecture's expression.
BY_HAND_PROCESS = """
import sys
import numpy as np
w, x, y, z = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, unpack=True, ndmin=2)
table = np.empty((9, len(w)))
table[:4] = w, x, y, z
f, dw, dx, dy, dz = table[4:]
np.multiply(x, y, out=dz)
dz += w
np.multiply(dz, z, out=f)
np.copyto(dw, z)
np.multiply(y, z, out=dx)
np.multiply(x, z, out=dy)
np.savetxt(sys.stdout, table.T, fmt="%.17g", delimiter=",", header="w,x,y,z,value,d_w,d_x,d_y,d_z", comments="")
"""


def end_to_end_times(n: int, repeat: int) -> dict[str, float]:
    """Seconds for n CSV rows of the lecture's expression through `bpcli grad --batch FILE > out.csv` and
    through the NumPy process above (loadtxt, passes, savetxt), both started afresh each round."""
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as tmp:
        rows, out = Path(tmp, "points.csv"), Path(tmp, "out.csv")
        data = rng.uniform(-2, 2, (n, 4)).tolist()
        rows.write_text("w,x,y,z\n" + "".join(f"{w!r},{x!r},{y!r},{z!r}\n" for w, x, y, z in data))
        commands = {"bpcli": [bpcli_command(), "grad", LECTURE, "--batch", str(rows)],
                    "numpy": [sys.executable, "-c", BY_HAND_PROCESS, str(rows)]}

        def process(command):
            with out.open("w") as sink:
                start = time.perf_counter()
                subprocess.run(command, stdout=sink, env=environment(), check=True)
                return time.perf_counter() - start
        return _rounds({name: (lambda c=command: process(c)) for name, command in commands.items()}, repeat)


def _row(figure: str, ours: float, baseline: float, target: float) -> dict:
    ratio = ours / baseline
    return {"figure": figure, "bpcli": ours, "baseline": baseline, "ratio": ratio, "target": target,
            "met": ratio <= target}


def figures(points: int, repeat: int) -> list[dict]:
    """The figures: rows of figure, bpcli, baseline (seconds), ratio = bpcli/baseline, target, met.

    For backward/forward, bpcli is the backward pass's seconds and baseline the forward pass's.
    """
    rows = []
    for name, source, hand in (("lecture", LECTURE, by_hand_lecture), ("mid", MID, by_hand_mid)):
        t = compute_times(source, hand, points, repeat)
        rows.append(_row(f"compute {name} vs hand-written NumPy, warm", t["bpcli"], t["hand"], 1.5))
    for name, source in (("mid", MID), ("wide", WIDE)):
        t = pass_times(source, points, repeat)
        rows.append(_row(f"batch backward/forward {name}", t["backward"], t["forward"], 2.2))
    t = io_times(max(1, points // 5), repeat)
    rows.append(_row("CSV read vs numpy.loadtxt", t["read"], t["loadtxt"], 1.0))
    rows.append(_row("CSV write vs numpy.savetxt", t["write"], t["savetxt"], 1.0))
    t = end_to_end_times(points, repeat)
    rows.append(_row(f"--batch {points:,} CSV rows, process, vs loadtxt+NumPy+savetxt", t["bpcli"], t["numpy"], 1.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, repeat = args.points, args.repeat
    for source, hand in ((LECTURE, by_hand_lecture), (MID, by_hand_mid)):
        t = compute_times(source, hand, n, repeat)
        print(f"compute  {source:<55} {n / t['bpcli']:>12,.0f} points/s   hand-written NumPy "
              f"{n / t['hand']:>12,.0f}   ratio {t['bpcli'] / t['hand']:5.2f}x")
    for name, source in (("mid", MID), (f"wide ({WIDE_TERMS} terms sin(xi*y))", WIDE)):
        t = pass_times(source, n, repeat)
        print(f"passes   {name:<55} backward/forward: bpcli {t['backward'] / t['forward']:5.2f} "
              f"(forward {t['forward'] * 1e3:.1f} ms, backward {t['backward'] * 1e3:.1f} ms)   hand-written NumPy "
              f"{t['hand backward'] / t['hand forward']:5.2f}")
    rows = max(1, n // 5)
    t = io_times(rows, repeat)
    print(f"read     {rows:,} CSV rows: bpcli {t['read']:6.2f} s   numpy.loadtxt {t['loadtxt']:6.2f} s   "
          f"ratio {t['read'] / t['loadtxt']:5.2f}x")
    print(f"write    {rows:,} CSV rows: bpcli {t['write']:6.2f} s   numpy.savetxt {t['savetxt']:6.2f} s   "
          f"ratio {t['write'] / t['savetxt']:5.2f}x")
    t = end_to_end_times(n, repeat)
    print(f"process  {n:,} CSV rows of {LECTURE}, --batch FILE > out.csv: bpcli {t['bpcli']:6.2f} s   "
          f"numpy.loadtxt + passes + savetxt(%.17g) {t['numpy']:6.2f} s   ratio {t['bpcli'] / t['numpy']:5.2f}x")


if __name__ == "__main__":
    main()
