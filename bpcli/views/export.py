"""Results as JSON (RFC 8259: never NaN or Infinity). Pure functions of the pipeline's dataclasses."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring

from bpcli import files
from bpcli.errors import InputError
from bpcli.numfmt import fmt
from bpcli.api import Evaluation, Gradients
from bpcli.core import engine
from bpcli.core.engine import Backward, Edge


def to_json(result: Evaluation, explanations=None) -> str:
    """The JSON document for `bpcli eval` (an Evaluation) or `bpcli grad` (Gradients) whole; schema in
    docs/json.md. The command line writes `json_pieces` as they come instead."""
    return "".join(json_pieces(result, explanations))


def json_pieces(result: Evaluation, explanations=None) -> Iterator[str]:
    """The JSON document of `to_json` in pieces of many nodes or edges each, made from the graph and the
    value lists as they are written: its peak memory is a piece, not the document or a dict per node.

    One top-level key per line and one list item (a node, an edge, a check row) per line: readable, and
    every number and string goes through json's C encoder (indent= would use the pure-Python one).
    """
    backward = result.backward if isinstance(result, Gradients) else None
    head: dict = {"expression": result.graph.source, "output": result.graph.output_name,
                  "value": result.value, "inputs": result.inputs}
    if isinstance(result, Gradients):
        head["gradient"] = result.gradient
        if result.hessian is not None:
            head["hessian"] = result.hessian
    yield "{\n" + ",\n".join(_member(key, value) for key, value in head.items()) + ',\n  "nodes": '
    yield from _items(_nodes(result, backward))
    if backward is not None:
        yield ',\n  "backward": '
        # edges recorded by the pass, or (for output that needs them only here) the same ones computed again
        yield from _items(_edges(result.graph, backward.edges or engine.flows(result.graph, result.values, backward)))
    yield "".join(",\n" + _member(key, value) for key, value in _tail(result, explanations).items()) + "\n}"


def _tail(result: Evaluation, explanations) -> dict:
    """The small sections after the graph: the check's rows and the chain rule."""
    doc: dict = {}
    if isinstance(result, Gradients) and result.check is not None:
        from dataclasses import asdict   # the check's rows are dataclasses; a run without --perturb needs none

        check = result.check
        second = result.hessian_check
        doc["perturb"] = {"method": check.method, "step": check.step,
                          "ok": check.ok and (second is None or second.ok),
                          "rows": [_finite(asdict(row)) for row in check.rows]}
        if second is not None:
            doc["perturb"]["hessian"] = [_finite(asdict(row)) for row in second.rows]
    if explanations is not None:
        doc["explain"] = {ex.name: {"paths": ex.paths, "links": ex.links, "grouped": ex.grouped,
                                    "total": ex.total, "terms": [_term(t) for t in ex.terms]}
                          for ex in explanations}
    return doc


def _term(t) -> dict:
    return {"chain": t.chain, "factors": t.factors, "product": t.product}  # asdict deep-copies every list


def document(doc: dict) -> str:
    """A document of plain data as JSON, one top-level key per line."""
    return "{\n" + ",\n".join(_member(key, value) for key, value in doc.items()) + "\n}"


def _member(key: str, value) -> str:
    """One top-level key and its value, on one line; a list (or a dict's list of rows) an item a line."""
    if isinstance(value, list):
        text = _lines(value, "  ")
    elif isinstance(value, dict) and isinstance(value.get("rows"), list):
        head = _dumps({k: v for k, v in value.items() if not isinstance(v, list)})[:-1]
        text = head + "".join(f", {_dumps(k)}: {_lines(v, '  ')}" for k, v in value.items()
                              if isinstance(v, list)) + "}"
    else:
        text = _dumps(value)
    return f"  {_dumps(key)}: {text}"


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
_string = encode_basestring   # what _dumps writes for a str (ensure_ascii=False)
CHUNK = 4096   # nodes or edges a piece: few calls of the encoder, and a piece of a few hundred kB at most


def _items(chunks: Iterator[list[str]]) -> Iterator[str]:
    """A top-level list, one item a line, from chunks of its items' texts."""
    first = True
    for chunk in chunks:
        yield ("[\n    " if first else ",\n    ") + ",\n    ".join(chunk)
        first = False
    yield "[]" if first else "\n  ]"


def _numbers(values: list) -> list[str]:
    """Each number as _dumps writes it in a list (so an int or a bool stays one): one call for many."""
    return _dumps(values)[1:-1].split(", ") if values else []


def _nodes(result: Evaluation, backward: Backward | None) -> Iterator[list[str]]:
    """The nodes' objects, CHUNK at a time: name, op, expr, args, value and, for grad, grad."""
    graph, values = result.graph, result.values
    nodes, definition = graph.nodes, graph.definition
    for lo in range(0, len(nodes), CHUNK):
        hi = min(lo + CHUNK, len(nodes))
        numbers = _numbers(values[lo:hi])
        if backward is not None:
            # Parts of the expression that depend on no differentiated input carry no gradient.
            grads, needed = backward.grads, backward.needed
            gradients = _numbers([grads[i] if needed[i] else None for i in range(lo, hi)])
            ends = [f", \"grad\": {g}}}" for g in gradients]
        else:
            ends = ["}"] * (hi - lo)
        chunk = []
        for i in range(lo, hi):
            name, op, args = nodes[i][:3]
            chunk.append(f'{{"name": {_string(name)}, "op": {_string(op)}, "expr": {_string(definition(i))}, '
                         f'"args": [{", ".join([_string(nodes[a].name) for a in args])}], '
                         f'"value": {numbers[i - lo]}{ends[i - lo]}')
        yield chunk


def _edges(graph, edges: Iterable[Edge]) -> Iterator[list[str]]:
    """The backward pass's edges' objects in the order computed, CHUNK at a time."""
    nodes, edges = graph.nodes, iter(edges)
    gate, formulas, source = -1, [], ""
    while part := list(itertools.islice(edges, CHUNK)):
        numbers = _numbers([x for e in part for x in (e.upstream, e.local, e.product)])
        chunk = []
        for j, e in enumerate(part):
            if e.node != gate:   # a gate's edges come one after another: its formulas, made at once
                gate, formulas = e.node, graph.local_formulas(e.node)
                source = f'{{"from": {_string(nodes[gate].name)}, "to": '
            chunk.append(f'{source}{_string(nodes[e.to].name)}, "local_expr": {_string(formulas[e.arg])}, '
                         f'"upstream": {numbers[3 * j]}, "local": {numbers[3 * j + 1]}, '
                         f'"product": {numbers[3 * j + 2]}}}')
        yield chunk


def descent_json(run) -> Iterator[str]:
    """The JSON document for `bpcli step`, in pieces as the run computes its steps (each step is one piece,
    one line): every step as data, then the final values and a -v string."""
    from dataclasses import asdict

    head = {"program": run.source, "lr": run.lr, "target": run.target, "wrt": run.wrt}
    yield document(head)[:-2] + ',\n  "steps": ['
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
    import shutil      # here, not at the top: only drawing needs them, and one point's JSON pays for each import
    import subprocess

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
        import signal

        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _finite(row: dict) -> dict:
    """RFC 8259 has no NaN or Infinity: a number that is not finite is reported as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
