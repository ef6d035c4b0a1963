"""Gradient descent: move chosen inputs against the gradient, x ← x − lr·∂loss/∂x, step by step.

The loss is f itself, or with a target T the lecture's ½(f − T)² ("f is 44; we want 33"), whose
gradient is (f − T)·∂f/∂x. The graph is immutable, so each step is one forward and one backward pass
at new values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bpcli import engine
from bpcli.errors import DomainError
from bpcli.graph import Graph


@dataclass(frozen=True)
class Step:
    """The state before update number `step` (the last one is the state after the final update)."""

    step: int
    f: float
    loss: float
    values: dict[str, float]      # the trained variables
    gradient: dict[str, float]    # ∂loss/∂variable at these values


@dataclass(frozen=True)
class Descent:
    """Every step, the final values of all inputs, and where it stopped if the loss left the doubles."""

    lr: float
    target: float | None
    wrt: list[str]
    steps: list[Step] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    diverged: str | None = None   # the reason, when a step made the loss non-finite or undefined
    warnings: list[str] = field(default_factory=list)
    source: str = ""


def descend(graph: Graph, inputs: Mapping[str, float], wrt: Sequence[str], lr: float, steps: int,
            target: float | None = None) -> Descent:
    """Take `steps` steps of size `lr`; stop early (diverged) when f or the loss becomes undefined."""
    values = dict(inputs)
    run = Descent(lr, target, list(wrt))
    for k in range(steps + 1):
        try:
            state = _state(graph, values, wrt, target, k)
        except DomainError as err:
            if k == 0 and _finite_loss(graph, values, target):  # only the gradient failed: the start is finite
                run.final.update(values)
            return _stopped(run, k, err.message)
        run.steps.append(state)
        run.final.clear()
        run.final.update(values)  # the last values at which the loss was finite
        if k == steps:
            break
        values.update({name: values[name] - lr * state.gradient[name] for name in wrt})
        if not all(math.isfinite(values[name]) for name in wrt):
            return _stopped(run, k + 1, "a variable left the range of double precision")
    return run


def _state(graph: Graph, values: dict[str, float], wrt: Sequence[str], target: float | None, k: int) -> Step:
    forward = engine.forward(graph, values)
    f = forward[graph.output]
    backward = engine.backward(graph, forward, wrt)
    scale = 1.0 if target is None else f - target
    loss = f if target is None else 0.5 * scale * scale  # not ** 2: a float power raises OverflowError
    index = {graph.nodes[i].name: i for i in graph.inputs}
    gradient = {name: scale * backward.grads[index[name]] for name in wrt}
    if not all(math.isfinite(v) for v in (loss, *gradient.values())):
        raise DomainError("the loss or its gradient overflows double precision")
    return Step(k, f, loss, {name: values[name] for name in wrt}, gradient)


def _finite_loss(graph: Graph, values: dict[str, float], target: float | None) -> bool:
    try:
        f = engine.forward(graph, values)[graph.output]
    except DomainError:
        return False
    return math.isfinite(f) and (target is None or math.isfinite(0.5 * (f - target) * (f - target)))


def _stopped(run: Descent, k: int, why: str) -> Descent:
    return Descent(run.lr, run.target, run.wrt, run.steps, run.final, f"diverged at step {k}: {why}")
