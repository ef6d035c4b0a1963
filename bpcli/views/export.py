"""Results as JSON (RFC 8259: never NaN or Infinity). Pure functions of the pipeline's dataclasses."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import asdict

from bpcli import files
from bpcli.errors import InputError
from bpcli.numfmt import fmt
from bpcli.api import Evaluation, Gradients
from bpcli.core.engine import Backward


def to_json(result: Evaluation, explanations=None) -> str:
    """The JSON document for `bpcli eval` (an Evaluation) or `bpcli grad` (Gradients); schema in docs/json.md.

    One top-level key per line and one list item (a node, an edge, a check row) per line: readable, and
    every piece goes through json's C encoder (indent= would use the pure-Python one, 10x slower).
    """
    doc = to_dict(result)
    if explanations is not None:
        doc["explain"] = {ex.name: {"paths": ex.paths, "links": ex.links, "grouped": ex.grouped,
                                    "total": ex.total, "terms": [_term(t) for t in ex.terms]}
                          for ex in explanations}
    return _document(doc)


def _term(t) -> dict:
    return {"chain": t.chain, "factors": t.factors, "product": t.product}  # asdict deep-copies every list


def document(doc: dict) -> str:
    """A document of plain data as JSON, one top-level key per line."""
    return _document(doc)


def _document(doc: dict) -> str:
    lines = []
    for key, value in doc.items():
        if isinstance(value, list):
            text = _lines(value, "  ")
        elif isinstance(value, dict) and isinstance(value.get("rows"), list):
            head = _dumps({k: v for k, v in value.items() if not isinstance(v, list)})[:-1]
            text = head + "".join(f", {_dumps(k)}: {_lines(v, '  ')}" for k, v in value.items()
                                  if isinstance(v, list)) + "}"
        else:
            text = _dumps(value)
        lines.append(f"  {_dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}"


def _lines(items: list[dict], indent: str) -> str:
    """A list of flat objects, one per line, encoded in one call of the C encoder.

    Splitting at '}, {' is safe because no string in these objects can hold a brace: names are
    letters, digits and _, and definitions are names, numbers, operators, parentheses and commas.
    """
    if not items:
        return "[]"
    body = _dumps(items)[1:-1].replace("}, {", "},\n" + indent + "  {")
    return f"[\n{indent}  {body}\n{indent}]"


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def to_dict(result: Evaluation) -> dict:
    """The document as plain Python data, in a fixed key order."""
    graph = result.graph
    doc: dict = {
        "expression": graph.source,
        "output": graph.output_name,
        "value": result.value,
        "inputs": result.inputs,
    }
    backward = None
    if isinstance(result, Gradients):
        assert result.backward is not None   # grad always runs the backward pass
        backward = result.backward
        doc["gradient"] = result.gradient
        if result.hessian is not None:
            doc["hessian"] = result.hessian
    doc["nodes"] = [_node(result, i, backward) for i in range(len(graph.nodes))]
    if backward is not None:
        doc["backward"] = [_edge(graph, e) for e in backward.edges]
    if isinstance(result, Gradients) and result.check is not None:
        check = result.check
        second = result.hessian_check
        doc["perturb"] = {"method": check.method, "step": check.step,
                          "ok": check.ok and (second is None or second.ok),
                          "rows": [_finite(asdict(row)) for row in check.rows]}
        if second is not None:
            doc["perturb"]["hessian"] = [_finite(asdict(row)) for row in second.rows]
    return doc


def descent_json(run) -> Iterator[str]:
    """The JSON document for `bpcli step`, in pieces as the run computes its steps (each step is one piece,
    one line): every step as data, then the final values and a -v string."""
    head = {"program": run.source, "lr": run.lr, "target": run.target, "wrt": run.wrt}
    yield _document(head)[:-2] + ',\n  "steps": ['
    count = 0
    for state in run:
        yield ("\n    " if count == 0 else ",\n    ") + _dumps(_finite(asdict(state)))
        count += 1
    tail = {"final": run.final, "vars": ",".join(f"{name}={value!r}" for name, value in run.final.items()),
            "diverged": run.diverged}
    yield ("\n  ]" if count else "]") + "".join(f",\n  {_dumps(key)}: {_dumps(value)}" for key, value in tail.items())
    yield "\n}"


def dot(graph, result=None) -> str:
    """Graphviz source: leaves as ellipses, gates as boxes `v = x*y`; with a result, each node shows its
    value (black) and ∂f/∂node (red), and each edge the gradient flowing back along it (red)."""
    lines = ["digraph bpcli {", "  rankdir=LR;", '  node [fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontcolor="red3"];']
    for i, node in enumerate(graph.nodes):
        shape = "box" if node.is_gate else ("ellipse" if node.op == "input" else "plaintext")
        lines.append(f"  n{i} [shape={shape}, label=<{_dot_label(graph, result, i)}>];")
    flows = _flows(result)
    for i, node in enumerate(graph.nodes):
        for k, a in enumerate(node.args):
            label = f' [label="{_html(fmt(flows[i, k]))}"]' if (i, k) in flows else ""
            lines.append(f"  n{a} -> n{i}{label};")
    return "\n".join(lines + ["}"])


def mermaid(graph, result=None) -> str:
    """A Mermaid flowchart (for Markdown) of the same picture as `dot`."""
    lines = ["flowchart LR"]
    for i, node in enumerate(graph.nodes):
        text = "<br/>".join(_node_lines(graph, result, i)).replace('"', "#quot;")
        lines.append(f'  n{i}["{text}"]' if node.is_gate else f'  n{i}(["{text}"])')
    flows = _flows(result)
    for i, node in enumerate(graph.nodes):
        for k, a in enumerate(node.args):
            lines.append(f"  n{a} -->|{fmt(flows[i, k])}| n{i}" if (i, k) in flows else f"  n{a} --> n{i}")
    return "\n".join(lines)


def _node_lines(graph, result, i: int) -> list[str]:
    """`v = x*y`, then with a result its value and ∂f/∂v."""
    node = graph.nodes[i]
    lines = [f"{node.name} = {graph.definition(i)}" if node.is_gate else node.name]
    if result is not None:
        if node.op != "const":
            lines.append(fmt(result.values[i]))
        if result.backward is not None and result.backward.needed[i]:
            lines.append(f"∂{graph.output_name}/∂{node.name} = {fmt(result.backward.grads[i])}")
    return lines


def _dot_label(graph, result, i: int) -> str:
    lines = [_html(line) for line in _node_lines(graph, result, i)]
    if len(lines) == 3:
        lines[2] = f'<FONT COLOR="red3">{lines[2]}</FONT>'
    return "<BR/>".join(lines)


def _flows(result) -> dict:
    """(gate, argument position) → the gradient flowing back along that edge."""
    if result is None or getattr(result, "backward", None) is None:
        return {}
    return {(e.node, e.arg): e.product for e in result.backward.edges}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# dot's layout time grows much faster than the graph, most with shared nodes (measured: 200 nodes 2 s,
# 240 nodes 4 s, 280 nodes 13 s, 400 nodes 2 min); a bigger picture is unreadable anyway.
MAX_RENDER_NODES = 200
DOT_TIMEOUT = 60.0   # seconds: past the limit, dot can still take long on shapes not measured


def render_with_dot(source: str, path: str, nodes: int) -> None:
    """Run Graphviz's dot to draw `source` (a graph of `nodes` nodes) into `path` (.svg, .png or .pdf);
    InputError if it cannot, or if the graph is beyond what dot draws in reasonable time."""
    kind = os.path.splitext(path)[1].lstrip(".").lower()
    if kind not in ("svg", "png", "pdf"):
        raise InputError(f"--render {path}: the file name must end in .svg, .png or .pdf")
    if nodes > MAX_RENDER_NODES:
        raise InputError(f"--render draws at most {MAX_RENDER_NODES} nodes (dot would take minutes); this graph "
                         f"has {nodes}: print its source with --format dot instead")
    exe = shutil.which("dot")
    if exe is None:
        raise InputError("--render needs Graphviz's dot, which is not installed: apt-get install graphviz "
                         "(Debian, Ubuntu), brew install graphviz (macOS), or print the source with --format dot")
    # dot draws onto stdout, and bpcli writes the file: whole, and only when dot succeeded.
    try:
        done = subprocess.run([exe, f"-T{kind}"], input=source.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"dot could not draw {path} in {DOT_TIMEOUT:g} s: print the source with --format dot "
                         "instead") from None
    if done.returncode < 0:
        raise InputError(f"dot could not draw {path}: dot was killed by {_signal_name(-done.returncode)}")
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise InputError(f"dot could not draw {path}: {first} (exit status {done.returncode})")
    if not done.stdout:
        raise InputError(f"dot could not draw {path}: it wrote nothing")
    files.write_whole(path, done.stdout)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _finite(row: dict) -> dict:
    """RFC 8259 has no NaN or Infinity: a number that is not finite is reported as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _node(result: Evaluation, i: int, backward: Backward | None) -> dict:
    graph = result.graph
    node = graph.nodes[i]
    entry = {"name": node.name, "op": node.op, "expr": graph.definition(i),
             "args": [graph.nodes[a].name for a in node.args], "value": result.values[i]}
    if backward is not None:
        # Parts of the expression that depend on no differentiated input carry no gradient.
        entry["grad"] = backward.grads[i] if backward.needed[i] else None
    return entry


def _edge(graph, edge) -> dict:
    return {"from": graph.nodes[edge.node].name, "to": graph.nodes[edge.to].name,
            "local_expr": graph.local_formula(edge.node, edge.arg),
            "upstream": edge.upstream, "local": edge.local, "product": edge.product}
