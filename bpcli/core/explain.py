"""The chain rule written out, as the lecture does: ∂f/∂x as a sum over paths of products of locals.

∂f/∂x = ∂f/∂u·∂u/∂v·∂v/∂x = 4·1·2 = 8 for the lecture's example. The number of paths grows
exponentially with sharing, so past MAX_PATHS (or where a path is longer than MAX_CHAIN links) an input's
gradient is grouped by the gates that use it (∂f/∂x = Σ ∂f/∂c·∂c/∂x over its consumers c), which is what
the backward pass computes anyway. Each input costs time for its own paths only, not the graph's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bpcli.core.engine import Backward, Edge
from bpcli.core.graph import Graph

MAX_PATHS = 16
MANY = 2 ** 53   # path counts stop here: halving a sum 14 300 times makes 2^14300 paths, 4 305 digits
MAX_CHAIN = 64   # links: a longer path is grouped too (10⁴ inputs each 10⁴ gates deep would be 10⁸ links)


@dataclass(frozen=True)
class Term:
    """One product: the chain of node names from f down to the input, and the local gradient of each link.

    When grouped, the chain is [f, c, x] and the first factor is the whole upstream ∂f/∂c. `places` tells
    apart the uses of a node that a gate takes more than once (v = x*x): per link, the argument's position
    in the gate, counting from 1, where the gate takes that node more than once; 0 where it takes it once.
    """

    chain: list[str]
    factors: list[float]
    product: float
    places: tuple[int, ...] = ()


@dataclass(frozen=True)
class Explanation:
    """∂f/∂name = Σ terms; `paths` is how many paths there are and `links` the longest one's length;
    `grouped` when they were too many or too long to list."""

    name: str
    paths: int
    grouped: bool
    terms: list[Term]
    total: float
    links: int = 0


def explain(graph: Graph, backward: Backward, names: Sequence[str]) -> list[Explanation]:
    """The chain rule for each input in `names` (whose gradients `backward` computed)."""
    below: dict[int, list[Edge]] = {}
    above: dict[int, list[tuple[int, Edge]]] = {}   # by the node an edge flows into, with its place in order
    for k, e in enumerate(backward.edges):
        below.setdefault(e.node, []).append(e)
        above.setdefault(e.to, []).append((k, e))
    index = {graph.nodes[i].name: i for i in graph.inputs}
    counts, depth = _path_counts(graph, below)
    out = []
    for name in names:
        target = index[name]
        paths = counts.get(target, 0) if target != graph.output else 1
        grouped = paths > MAX_PATHS or depth.get(target, 0) > MAX_CHAIN
        terms = _grouped(graph, above, target) if grouped else _paths(graph, above, target)
        out.append(Explanation(name, paths, grouped, terms, backward.grads[target], depth.get(target, 0)))
    return out


def _path_counts(graph: Graph, below: dict[int, list[Edge]]) -> tuple[dict[int, int], dict[int, int]]:
    """How many paths lead from the output to each node, and the longest one's links (one pass in reverse
    order, no recursion)."""
    counts, depth = {graph.output: 1}, {graph.output: 0}
    for i in range(len(graph.nodes) - 1, -1, -1):
        if i in counts:
            for e in below.get(i, ()):
                counts[e.to] = min(counts.get(e.to, 0) + counts[i], MANY)
                depth[e.to] = max(depth.get(e.to, 0), depth[i] + 1)
    return counts, depth


def _paths(graph: Graph, above: dict[int, list[tuple[int, Edge]]], target: int) -> list[Term]:
    """Every path from the output to `target`, found by walking up from `target` with an explicit stack, so
    only edges on those paths are visited (at most MAX_PATHS paths of MAX_CHAIN links), however large the
    graph. Ordered as a depth-first walk down from the output meets them: by the edges' places in order."""
    found: list[tuple[list[int], list[Edge]]] = []
    stack: list[tuple[int, list[tuple[int, Edge]]]] = [(target, [])]
    while stack:
        node, upward = stack.pop()
        if node == graph.output:
            downward = upward[::-1]
            found.append(([k for k, _ in downward], [e for _, e in downward]))
            continue
        for k, e in above.get(node, ()):
            stack.append((e.node, upward + [(k, e)]))
    return [_term(graph, above, path) for _, path in sorted(found, key=lambda f: f[0])]


def _term(graph: Graph, above: dict[int, list[tuple[int, Edge]]], path: list[Edge]) -> Term:
    chain = [graph.nodes[graph.output].name] + [graph.nodes[e.to].name for e in path]
    product = 1.0
    for e in path:
        product *= e.local
    return Term(chain, [e.local for e in path], product, tuple(_place(above, e) for e in path))


def _place(above: dict[int, list[tuple[int, Edge]]], edge: Edge) -> int:
    """edge.arg + 1 where edge.node takes edge.to more than once, else 0. A node on a listed path has at most
    MAX_PATHS edges into it (each starts a path of its own), so counting them is cheap."""
    uses = sum(1 for _, e in above.get(edge.to, ()) if e.node == edge.node)
    return edge.arg + 1 if uses > 1 else 0


def _grouped(graph: Graph, above: dict[int, list[tuple[int, Edge]]], target: int) -> list[Term]:
    """∂f/∂x = Σ ∂f/∂c·∂c/∂x over the gates c that use x."""
    out = graph.nodes[graph.output].name
    edges = [e for _, e in above.get(target, ())]
    uses = Counter(e.node for e in edges)   # one count per consumer: max(x, …, x) may take x 10⁵ times
    return [Term([out, graph.nodes[e.node].name, graph.nodes[e.to].name], [e.upstream, e.local], e.product,
                 (0, e.arg + 1 if uses[e.node] > 1 else 0)) for e in edges]
