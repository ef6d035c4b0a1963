"""The batch path's blocks and buffers: many blocks give the same bits as one, products written in place
never clobber an array still in use (fan-out, shared upstreams), subgradients at kinks, and errors per row."""

from __future__ import annotations

import numpy as np
import pytest

from bpcli.points import arrays
from bpcli.api import compile_source, grad
from bpcli.errors import BpcliError

# Fan-out and shared gradients: an upstream used by two edges, a product that aliases a value, x+x.
SHAPES = ["x*x + sin(x)", "(x+x)*y", "sin(x+x)*exp(x+y)", "exp(x*y)*(x*y) - (x*y)", "tanh(x)*tanh(x)*y",
          "sigmoid(x-y)*(x-y) + relu(y)", "log(1+exp(-x))*y + max(x, y, x*y)", "-(x - y)*(y - -x)",
          "sqrt(x*x+1)/(1+y*y)", "x^y + (x*x+1)^y + y^3"]


def points(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(0.2, 2.0, n), "y": rng.uniform(-2.0, 2.0, n)}


@pytest.mark.parametrize("source", SHAPES)
def test_batch_agrees_with_the_scalar_engine_on_fan_out(source):
    graph = compile_source(source)
    names = graph.input_names
    columns = {name: column for name, column in points(300).items() if name in names}
    chunk = arrays.run(graph, columns, names)
    for i in range(0, 300, 7):
        one = grad(graph, {name: column[i] for name, column in columns.items()})
        assert chunk.errors[i] is None
        assert chunk.value[i] == pytest.approx(one.value, rel=1e-12, abs=1e-12)
        for name in names:
            assert chunk.gradient[name][i] == pytest.approx(one.gradient[name], rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("source", SHAPES[:4] + ["(w+x*y)*z", "log(x)+y"])
def test_many_blocks_give_the_bits_of_one_block_each(source):
    graph = compile_source(source)
    names = graph.input_names
    n = 2 * arrays.program(graph, names).block + 123
    rng = np.random.default_rng(5)
    columns = {name: rng.uniform(-2.0, 2.0, n) for name in names}
    whole = arrays.run(graph, columns, names)
    for start in (0, n // 2, n - 7):
        part = arrays.run(graph, {k: v[start:start + 7] for k, v in columns.items()}, names)
        assert whole.value[start:start + 7].tobytes() == part.value.tobytes()
        for name in names:
            assert whole.gradient[name][start:start + 7].tobytes() == part.gradient[name].tobytes()
        assert list(whole.errors[start:start + 7]) == list(part.errors)
    failed = [i for i, e in enumerate(whole.errors) if e is not None]
    if source == "log(x)+y":
        assert failed == list(np.flatnonzero(columns["x"] <= 0))
        assert "log needs a positive argument" in whole.errors[failed[-1]]
    else:
        assert failed == []


def test_inputs_are_never_written_to():
    graph = compile_source("(w+x*y)*z + exp(x)*w")
    columns = {name: np.linspace(-1, 1, 5000) + k for k, name in enumerate("wxyz")}
    before = {name: col.copy() for name, col in columns.items()}
    chunk = arrays.run(graph, columns, list("wxyz"))
    assert all(np.array_equal(columns[name], before[name]) for name in "wxyz")
    chunk.gradient["w"][:] = 0.0  # results are the caller's own arrays
    assert np.array_equal(columns["z"], before["z"])


def test_subgradients_at_kinks_on_the_batch_path():
    graph = compile_source("relu(x) + abs(y) + max(x, y) + min(x, y, 0)")
    chunk = arrays.run(graph, {"x": np.array([0.0, 0.0, 1.0]), "y": np.array([0.0, 2.0, 1.0])}, ["x", "y"])
    # relu'(0) = 0, abs'(0) = 0; max(0, 0) and min(0, 0, 0) split their gradient evenly among the ties
    # (x, y) = (0, 0): both tie in max and in min (with the constant 0); (0, 2): x ties the 0 in min
    assert chunk.gradient["x"].tolist() == [0 + 1 / 2 + 1 / 3, 0 + 0 + 1 / 2, 1 + 1 / 2 + 0]
    assert chunk.gradient["y"].tolist() == [0 + 1 / 2 + 1 / 3, 1 + 1 + 0, 1 + 1 / 2 + 0]


@pytest.mark.parametrize("source,message", [("x/0", "f = x/0 is undefined"), ("x+1/0", "v = 1/0 is undefined")])
def test_constant_division_by_zero_is_an_error_per_row(source, message):
    # Constants were Python floats, so 1/0 raised ZeroDivisionError out of NumPy's IEEE world.
    chunk = arrays.run(compile_source(source), {"x": np.array([1.0, 2.0])}, ["x"])
    assert all(message in e for e in chunk.errors)


def test_errors_read_like_a_list():
    chunk = arrays.run(compile_source("log(x)"), {"x": np.array([1.0, -1.0, 2.0])}, ["x"])
    errors = chunk.errors
    assert len(errors) == 3 and errors[0] is None and errors[-1] is None and "log" in errors[1]
    assert errors[1:] == [errors[1], None] and list(errors) == [None, errors[1], None]
    with pytest.raises(IndexError):
        errors[3]


# An inf or nan in a gate: it reaches the output through +, -, * (left to the check of the results) or may
# vanish on the way (min, where, a division by it), so each gate's own check must find it.
OVERFLOWS = ["x*1e308*10 - x*1e308*10", "(x*1e308*10)*0 + y", "min(x*1e308*10, 1)*y", "y/(x*1e308*10)",
             "where(step(x - 1), 1, x*1e308*10)*y", "-(x*1e308*10) + y*y", "exp(x*800)*y - exp(x*800)*y"]


@pytest.mark.parametrize("source", OVERFLOWS)
def test_a_gate_that_overflows_sends_its_rows_to_the_scalar_engine(source):
    graph = compile_source(source)
    names = graph.input_names
    columns = {"x": np.array([0.5, 2.0, -3.0, 1e-300]), "y": np.array([1.0, -2.0, 0.0, 3.0])}
    chunk = arrays.run(graph, {n: columns[n] for n in names}, names)
    for i in range(4):
        try:
            one = grad(graph, {n: float(columns[n][i]) for n in names})
        except BpcliError as err:
            assert chunk.errors[i] == err.message, (source, i)
            continue
        assert chunk.errors[i] is None, (source, i, chunk.errors[i])
        assert chunk.value[i] == one.value
        assert all(chunk.gradient[n][i] == one.gradient[n] for n in names)


def test_results_go_into_the_array_given():
    graph = compile_source("(w+x*y)*z")
    names = graph.input_names
    columns = {name: np.linspace(0.5, 2.0, 70_000) + k for k, name in enumerate(names)}
    out = np.full((1 + len(names), 70_000), np.nan)
    chunk = arrays.run(graph, columns, names, out)
    assert np.shares_memory(chunk.value, out) and np.array_equal(out[0], chunk.value)
    fresh = arrays.run(graph, columns, names)
    assert np.array_equal(out, np.vstack([fresh.value, *(fresh.gradient[n] for n in names)]))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_rows_written_as_a_block_are_the_rows_written_one_by_one(fmt):
    import io

    from bpcli.points.writers import Writer

    rng = np.random.default_rng(5)
    special = [0.0, -0.0, 1e16, 1e15, 123456789012345680.0, 1e-5, 0.0001, 5e-324, -1.7976931348623157e308, 0.1, 3.0]
    numbers = np.concatenate([special * 3, rng.standard_normal(300) * 10.0 ** rng.integers(-30, 30, 300)])
    table = numbers[: len(numbers) // 4 * 4].reshape(-1, 4).tolist()
    one, block = io.StringIO(), io.StringIO()
    by_row, at_once = Writer(one, fmt, ["x", "y"], ["y"]), Writer(block, fmt, ["x", "y"], ["y"])
    for row in table:
        by_row.row(row[:2], row[2], row[3:])
    at_once.numbers([c for row in table for c in row], len(table))
    by_row.flush()
    at_once.flush()
    assert block.getvalue() == one.getvalue()


@pytest.mark.parametrize("source", ["(w+x*y)*z", "(x+y)*c", "c*(x*y) + x", "exp(x*c)*(x+c)"])
def test_a_gate_computed_into_the_results_stays_right_when_a_constant_changes_the_steps(source):
    """The first block finds the gates whose value is an input's gradient; a later call where a constant
    (1.0, so × 1 is skipped, or an array) makes the passes alias differently still gives the engine's bits."""
    graph = compile_source(source)
    names = graph.input_names
    wrt = [n for n in names if n != "c"]
    for c in (1.0, np.linspace(0.5, 3.0, 40_000), 2.0, 1.0):
        columns = {n: np.linspace(-2.0, 2.0, 40_000) * (k + 1) for k, n in enumerate(names)}
        if "c" in names:
            columns["c"] = c
        chunk = arrays.run(graph, columns, wrt)
        for i in (0, 17, 32_768, 39_999):
            one = grad(graph, {n: float(np.broadcast_to(v, 40_000)[i]) for n, v in columns.items()}, wrt)
            assert chunk.value[i] == one.value
            assert all(chunk.gradient[n][i] == one.gradient[n] for n in wrt)
