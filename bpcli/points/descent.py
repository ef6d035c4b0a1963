"""Gradient descent: move chosen inputs against the gradient, x ← x − lr·∂loss/∂x, step by step.

The loss is f itself, or with a target T the lecture's ½(f − T)² ("f is 44; we want 33"), whose
gradient is (f − T)·∂f/∂x. The graph is immutable, so each step is one forward and one backward pass
at new values.

A run is computed as it is read: iterating over a `Descent` gives each step as soon as it is computed
and keeps none of them, so a million steps stream out in the memory of one. Whoever needs some of them
keeps them (`ends`: the first and last few, all a table shows).
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bpcli.core import engine
from bpcli.errors import DomainError, InputError
from bpcli.core.graph import Graph


@dataclass(frozen=True)
class Step:
    """The state before update number `step` (the last one is the state after the final update)."""

    step: int
    f: float
    loss: float
    values: dict[str, float]      # the trained variables
    gradient: dict[str, float]    # ∂loss/∂variable at these values


@dataclass
class Descent:
    """A run of `steps` steps of size `lr`, read once: iterate for the steps as they are computed; after the
    last one, `final` holds the last values of all inputs at which the loss was finite (empty if there were
    none) and `diverged` the reason the run stopped early, if it did."""

    graph: Graph
    inputs: dict[str, float]
    wrt: list[str]
    lr: float
    steps: int
    target: float | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    diverged: str | None = None
    read: bool = False

    def __iter__(self) -> Iterator[Step]:
        if self.read:
            raise RuntimeError("a Descent is computed as it is read, and can be read once")
        self.read = True
        values = dict(self.inputs)
        for k in range(self.steps + 1):
            try:
                state = _state(self.graph, values, self.wrt, self.target, k)
            except DomainError as err:
                if k == 0 and _finite_loss(self.graph, values, self.target):  # only the gradient failed
                    self.final = dict(values)
                self.diverged = f"diverged at step {k}: {err.message}"
                return
            if not self.final:
                self.final = dict(values)
            self.final.update(state.values)   # only the trained variables change
            yield state
            if k == self.steps:
                return
            values.update({name: values[name] - self.lr * state.gradient[name] for name in self.wrt})
            if not all(math.isfinite(values[name]) for name in self.wrt):
                self.diverged = f"diverged at step {k + 1}: a variable left the range of double precision"
                return


def descend(graph: Graph, inputs: Mapping[str, float], wrt: Sequence[str], lr: float, steps: int,
            target: float | None = None, source: str = "", warnings: Iterable[str] = ()) -> Descent:
    """Take `steps` steps of size `lr` (computed as the result is iterated); stop early (diverged) when f or
    the loss becomes undefined. InputError for an `lr`, `steps` or `target` that `check_settings` refuses."""
    check_settings(lr, steps, target)  # `wrt` here is the inputs chosen, and a graph may have none
    return Descent(graph, dict(inputs), list(wrt), lr, steps, target, source or graph.source, list(warnings))


def check_settings(lr: float, steps: int, target: float | None = None, wrt: Sequence[str] | None = None) -> None:
    """InputError unless `lr` is a positive finite number, `steps` a whole number, 0 or more, `target` None
    or a finite number, and `wrt` None (every input) or not empty. The messages name the options of
    `bpcli step`, which reports them."""
    if not (isinstance(lr, numbers.Real) and 0 < lr < math.inf):
        raise InputError(f"--lr must be a positive number, not {lr}")
    if target is not None and not (isinstance(target, numbers.Real) and math.isfinite(target)):
        raise InputError(f"--target must be a finite number, not {target}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise InputError(f"--steps must be a whole number, 0 or more, not {steps!r}")
    if wrt is not None and not wrt:
        raise InputError("--wrt needs at least one variable name")


@dataclass(frozen=True)
class Ends:
    """The first and last steps of a run (at most `keep` each, overlapping none) and how many there were."""

    head: list[Step]
    tail: list[Step]
    count: int


def ends(steps: Iterable[Step], keep: int) -> Ends:
    """Read every step, keeping only the first `keep` and the last `keep` (a ring buffer): O(keep) memory."""
    head: list[Step] = []
    tail: deque[Step] = deque(maxlen=keep)
    count = 0
    for state in steps:
        count += 1
        if len(head) < keep:
            head.append(state)
        else:
            tail.append(state)
    return Ends(head, list(tail), count)


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
