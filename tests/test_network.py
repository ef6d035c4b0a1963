"""The lecture's two-layer network (examples/) and gradient descent with bpcli step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bpcli.api import compile_source, grad, step
from bpcli.errors import InputError
from bpcli.points.bindings import read_vars

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROGRAM = (EXAMPLES / "lecture_network.bp").read_text(encoding="utf-8")
POINT = read_vars((EXAMPLES / "lecture_network.vars").read_text(encoding="utf-8"), "lecture_network.vars")
WEIGHTS = [f"{layer}{j}{i}" for layer in "ab" for j in (1, 2) for i in (0, 1, 2)]


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def hand_derived(p: dict[str, float]) -> tuple[float, dict[str, float]]:
    """E and ∂E/∂weight by the delta rule, written out independently of bpcli."""
    x = [1.0, p["x1"], p["x2"]]
    h = [1.0] + [sigmoid(sum(p[f"a{j}{i}"] * x[i] for i in range(3))) for j in (1, 2)]
    o = [sigmoid(sum(p[f"b{k}{j}"] * h[j] for j in range(3))) for k in (1, 2)]
    t = [p["t1"], p["t2"]]
    error = 0.5 * sum((o[k] - t[k]) ** 2 for k in range(2))
    delta_out = [(o[k] - t[k]) * o[k] * (1 - o[k]) for k in range(2)]
    # A hidden node's delta is the weighted sum of what flows back from the output nodes.
    delta_hidden = [h[j] * (1 - h[j]) * sum(delta_out[k] * p[f"b{k + 1}{j}"] for k in range(2)) for j in (1, 2)]
    grads = {f"b{k + 1}{j}": delta_out[k] * h[j] for k in range(2) for j in range(3)}
    grads.update({f"a{j}{i}": delta_hidden[j - 1] * x[i] for j in (1, 2) for i in range(3)})
    return error, grads


def test_the_network_names_its_nodes():
    graph = compile_source(PROGRAM)
    assert graph.output_name == "E"
    assert {"h1", "h2", "o1", "o2"} <= {n.name for n in graph.nodes}


def test_gradients_match_the_delta_rule():
    r = grad(PROGRAM, POINT, wrt=WEIGHTS)
    error, expected = hand_derived(POINT)
    assert r.value == pytest.approx(error, rel=1e-13)
    for name in WEIGHTS:
        assert r.gradient[name] == pytest.approx(expected[name], rel=1e-12), name
    assert r.value == pytest.approx(0.298371109, abs=1e-9)       # the classic worked example's numbers
    assert r.gradient["b11"] == pytest.approx(0.082167041, abs=1e-9)


def test_gradients_match_at_other_points():
    for seed in range(5):
        point = {name: math.sin(7 * seed + i) for i, name in enumerate(sorted(POINT))}
        r = grad(PROGRAM, point, wrt=WEIGHTS)
        _, expected = hand_derived(point)
        for name in WEIGHTS:
            assert r.gradient[name] == pytest.approx(expected[name], rel=1e-10, abs=1e-15)


def test_step_lowers_the_error_monotonically():
    run = step(PROGRAM, POINT, WEIGHTS, lr=0.5, steps=100)
    losses = [s.loss for s in run]
    assert len(losses) == 101 and run.diverged is None
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.5 * losses[0]


def test_step_to_the_lecture_target():
    steps = list(step("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4}, None, lr=0.001, steps=200, target=33))
    assert abs(steps[-1].f - 33) < 1e-6
    assert steps[0].f == 44 and steps[0].loss == 60.5


def test_step_update_rule():
    run = step("x^2", {"x": 3}, None, lr=0.1, steps=1)
    assert not run.final and len(list(run)) == 2   # computed as it is read
    assert run.final == {"x": pytest.approx(3 - 0.1 * 6)}


@pytest.mark.parametrize("settings, message", [
    (dict(lr=0.0), "--lr must be a positive number, not 0.0"),
    (dict(lr=-1), "--lr must be a positive number, not -1"),
    (dict(lr=math.inf), "--lr must be a positive number, not inf"),
    (dict(lr=math.nan), "--lr must be a positive number, not nan"),
    (dict(target=math.inf), "--target must be a finite number, not inf"),
    (dict(target=math.nan), "--target must be a finite number, not nan"),
    (dict(steps=-1), "--steps must be a whole number, 0 or more, not -1"),
    (dict(steps=2.5), "--steps must be a whole number, 0 or more, not 2.5"),
    (dict(wrt=[]), "--wrt needs at least one variable name"),
])
def test_step_refuses_bad_settings_before_it_parses(settings, message):
    """The library checks what `bpcli step` checks, with the same messages, before the (bad) expression."""
    given = {"wrt": None, "lr": 0.1, "steps": 1, "target": None, **settings}
    with pytest.raises(InputError) as refused:
        step("x^ +", {"x": 1}, given["wrt"], given["lr"], given["steps"], given["target"])
    assert refused.value.message == message


def test_cli_step_target(run):
    r = run("step", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--target", "33", "--lr", "0.001", "--steps", "200",
            "--format", "json")
    assert r.code == 0
    doc = r.json()
    assert abs(doc["steps"][-1]["f"] - 33) < 1e-6 and len(doc["steps"]) == 201
    final = dict(pair.split("=") for pair in doc["vars"].split(","))
    again = run("eval", "(w+x*y)*z", "-v", doc["vars"], "--format", "json").json()
    assert abs(again["value"] - 33) < 1e-6 and set(final) == {"w", "x", "y", "z"}


def test_cli_step_table_ends_with_a_v_argument(run):
    r = run("step", "x^2", "-v", "x=3", "--lr", "0.1", "--steps", "2")
    assert r.code == 0 and "Gradient descent" in r.out
    last = r.out.strip().splitlines()[-1]
    assert last.startswith("x=") and float(last[2:]) == pytest.approx(3 * 0.8 ** 2)


def test_cli_step_wrt_and_save(run, tmp_path):
    saved = tmp_path / "w.vars"
    r = run("step", "-f", str(EXAMPLES / "lecture_network.bp"), "--vars", str(EXAMPLES / "lecture_network.vars"),
            "--wrt", ",".join(WEIGHTS), "--lr", "0.5", "--steps", "3", "--save", str(saved), "--format", "json")
    assert r.code == 0
    doc = r.json()
    assert doc["steps"][0]["values"].keys() == set(WEIGHTS)
    assert doc["final"]["x1"] == 0.05  # not trained
    resumed = run("grad", "-f", str(EXAMPLES / "lecture_network.bp"), "--vars", str(saved), "--format", "json")
    assert resumed.json()["value"] == pytest.approx(doc["steps"][-1]["loss"])


def test_cli_step_divergence_exits_3_and_keeps_the_last_finite_values(run):
    r = run("step", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--target", "33", "--lr", "1", "--steps", "50")
    assert r.code == 3 and "diverged at step" in r.err
    last = r.out.strip().splitlines()[-1]
    values = dict(pair.split("=") for pair in last.split(","))
    assert all(math.isfinite(float(v)) for v in values.values())


@pytest.mark.parametrize("args,fragment", [(["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
                                           (["--steps", "-1"], "-1"), (["--wrt", "q"], "--wrt q")])
def test_cli_step_bad_options(run, args, fragment):
    r = run("step", "x^2", "-v", "x=3", *args)
    assert r.code == 2 and fragment in r.err


def test_docs_network_section_is_a_real_run(run):
    # tests/test_docs.py runs every example; this one checks the numbers the docs show are the network's.
    doc = (EXAMPLES.parent / "docs" / "programs.md").read_text(encoding="utf-8")
    block = doc.split("```console\n$ bpcli grad -f examples/lecture_network.bp", 1)[1].split("\n```", 1)[0]
    args, shown = block.split("\n", 1)
    args = [str(EXAMPLES.parent / a) if a.startswith("examples/") else a for a in args.split("|")[0].split()]
    r = run("grad", "-f", str(EXAMPLES / "lecture_network.bp"), *args)
    assert r.code == 0 and r.out.rstrip("\n").endswith(shown.rstrip("\n")) and "b22" in shown


def test_no_generated_name_looks_like_a_users():
    graph = compile_source(PROGRAM)
    users = set(graph.input_names) | set(graph.assigned)
    stems = {name.rstrip("0123456789") for name in users}
    generated = [node.name for node in graph.nodes if node.is_gate and node.name not in users]
    assert generated and not [name for name in generated if name in stems or name.rstrip("0123456789") in stems]


def test_constants_take_no_rows_and_locals_read_as_written(run):
    out = run("grad", "-f", str(EXAMPLES / "lecture_network.bp"), "--vars", str(EXAMPLES / "lecture_network.vars")).out
    forward = out.split("Backward pass", 1)[0]
    assert "constant" not in forward and "0.5*" in forward
    assert "^1 " not in out and "2*v2 = 1.48273" in out


def test_a_narrow_step_table_keeps_its_title_on_one_line(run):
    r = run("step", "log(x)", "-v", "x=0.5", "--lr", "1", "--steps", "3")
    assert r.code == 3 and r.out.splitlines()[0] == "Gradient descent (lr = 1, loss = f)"
    assert r.out.splitlines()[-2:] == ["the last values where the loss was finite, as -v:", "x=0.5"]


def test_a_run_that_diverges_at_once_shows_no_empty_table(run):
    r = run("step", "sqrt(x)*y", "-v", "x=0,y=5")
    assert r.code == 3 and "Gradient descent" not in r.out and r.out.splitlines()[-1] == "x=0.0,y=5.0"
