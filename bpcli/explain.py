"""The chain rule written out, as the lecture does: ∂f/∂x as a sum over paths of products of locals.

∂f/∂x = ∂f/∂u·∂u/∂v·∂v/∂x = 4·1·2 = 8 for the lecture's example. The number of paths grows
exponentially with sharing, so past MAX_PATHS an input's gradient is grouped by the gates that use it
(∂f/∂x = Σ ∂f/∂c·∂c/∂x over its consumers c), which is what the backward pass computes anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bpcli.engine import Backward, Edge
from bpcli.graph import Graph

MAX_PATHS = 16


@dataclass(frozen=True)
class Term:
    """One product: the chain of node names from f down to the input, and the local gradient of each link.

    When grouped, the chain is [f, c, x] and the first factor is the whole upstream ∂f/∂c.
    """

    chain: list[str]
    factors: list[float]
    product: float


@dataclass(frozen=True)
class Explanation:
    """∂f/∂name = Σ terms; `paths` is how many paths there are; `grouped` when they were too many to list."""

    name: str
    paths: int
    grouped: bool
    terms: list[Term]
    total: float


def explain(graph: Graph, backward: Backward, names: Sequence[str]) -> list[Explanation]:
    """The chain rule for each input in `names` (whose gradients `backward` computed)."""
    below: dict[int, list[Edge]] = {}
    for e in backward.edges:
        below.setdefault(e.node, []).append(e)
    index = {graph.nodes[i].name: i for i in graph.inputs}
    counts = _path_counts(graph, below)
    out = []
    for name in names:
        target = index[name]
        paths = counts.get(target, 0) if target != graph.output else 1
        grouped = paths > MAX_PATHS
        terms = _grouped(graph, backward, target) if grouped else _paths(graph, below, target)
        out.append(Explanation(name, paths, grouped, terms, backward.grads[target]))
    return out


def _path_counts(graph: Graph, below: dict[int, list[Edge]]) -> dict[int, int]:
    """How many paths lead from the output to each node (one pass in reverse order, no recursion)."""
    counts = {graph.output: 1}
    for i in range(len(graph.nodes) - 1, -1, -1):
        for e in below.get(i, ()):
            if i in counts:
                counts[e.to] = counts.get(e.to, 0) + counts[i]
    return counts


def _paths(graph: Graph, below: dict[int, list[Edge]], target: int) -> list[Term]:
    """Every path from the output to `target`, depth first with an explicit stack.

    Partial paths are kept as parent links (record = (edge, parent record)), so a path 10^5 deep costs
    linear, not quadratic, time.
    """
    reaches = graph.depends_on([graph.nodes[target].name])
    records: list[tuple[Edge, int]] = []
    terms: list[Term] = []
    stack: list[tuple[int, int]] = [(graph.output, -1)]
    while stack:
        node, record = stack.pop()
        if node == target:
            terms.append(_term(graph, _walk_back(records, record)))
            continue
        for e in reversed(below.get(node, [])):
            if reaches[e.to]:
                records.append((e, record))
                stack.append((e.to, len(records) - 1))
    return terms


def _walk_back(records: list[tuple[Edge, int]], record: int) -> list[Edge]:
    path = []
    while record != -1:
        edge, record = records[record]
        path.append(edge)
    path.reverse()
    return path


def _term(graph: Graph, path: list[Edge]) -> Term:
    chain = [graph.nodes[graph.output].name] + [graph.nodes[e.to].name for e in path]
    product = 1.0
    for e in path:
        product *= e.local
    return Term(chain, [e.local for e in path], product)


def _grouped(graph: Graph, backward: Backward, target: int) -> list[Term]:
    """∂f/∂x = Σ ∂f/∂c·∂c/∂x over the gates c that use x."""
    out = graph.nodes[graph.output].name
    return [Term([out, graph.nodes[e.node].name, graph.nodes[e.to].name], [e.upstream, e.local], e.product)
            for e in backward.edges if e.to == target]
