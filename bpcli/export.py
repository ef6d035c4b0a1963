"""Results as JSON (RFC 8259: never NaN or Infinity). Pure functions of the pipeline's dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict

from bpcli.pipeline import Evaluation, Gradients


def to_json(result: Evaluation) -> str:
    """The JSON document for `bpcli eval` (an Evaluation) or `bpcli grad` (Gradients); schema in the README."""
    return json.dumps(to_dict(result), ensure_ascii=False, allow_nan=False, indent=2)


def to_dict(result: Evaluation) -> dict:
    """The document as plain Python data, in a fixed key order."""
    graph = result.graph
    doc: dict = {
        "expression": graph.source,
        "output": graph.output_name,
        "value": result.value,
        "inputs": result.inputs,
    }
    grads = result.backward.grads if isinstance(result, Gradients) else None
    if grads is not None:
        doc["gradient"] = result.gradient
    doc["nodes"] = [_node(result, i, grads) for i in range(len(graph.nodes))]
    if grads is not None:
        doc["backward"] = [_edge(graph, e) for e in result.backward.edges]
    if isinstance(result, Gradients) and result.check is not None:
        check = result.check
        doc["perturb"] = {"method": check.method, "step": check.step, "ok": check.ok,
                          "rows": [asdict(row) for row in check.rows]}
    return doc


def _node(result: Evaluation, i: int, grads: list[float] | None) -> dict:
    graph = result.graph
    node = graph.nodes[i]
    entry = {"name": node.name, "op": node.op, "expr": graph.definition(i),
             "args": [graph.nodes[a].name for a in node.args], "value": result.values[i]}
    if grads is not None:
        # Parts of the expression that depend on no input carry no gradient.
        entry["grad"] = grads[i] if graph.depends[i] else None
    return entry


def _edge(graph, edge) -> dict:
    return {"from": graph.nodes[edge.node].name, "to": graph.nodes[edge.to].name,
            "local_expr": graph.local_formula(edge.node, edge.arg),
            "upstream": edge.upstream, "local": edge.local, "product": edge.product}
