"""Results as JSON (RFC 8259: never NaN or Infinity). Pure functions of the pipeline's dataclasses."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from operator import itemgetter

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
    every number and string is written as json's C encoder writes it (indent= would use the pure-Python one).
    """
    backward = result.backward if isinstance(result, Gradients) else None
    head: dict = {"expression": result.graph.source, "output": result.graph.output_name,
                  "value": result.value, "inputs": result.inputs}
    if isinstance(result, Gradients):
        head["gradient"] = result.gradient
        if result.hessian is not None:
            head["hessian"] = result.hessian
    numbers = _Numbers(4 * CHUNK)
    yield "{\n" + ",\n".join(f"  {_dumps(key)}: {_number_object(value, numbers)}" if key in ("inputs", "gradient")
                              else _member(key, value) for key, value in head.items()) + ',\n  "nodes": '
    yield from _items(_nodes(result, backward, numbers))
    if backward is not None:
        yield ',\n  "backward": '
        # edges recorded by the pass, or (for output that needs them only here) the same ones computed again
        columns = (_recorded(backward.edges) if backward.edges
                   else engine.flow_columns(result.graph, result.values, backward, CHUNK))
        yield from _items(_edges(result.graph, columns, numbers))
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
_NAME, _OP, _ARGS = itemgetter(0), itemgetter(1), itemgetter(2)
CHUNK = 4096   # nodes or edges a piece: few calls of the encoder, and a piece of a few hundred kB at most


def _items(chunks: Iterator[str]) -> Iterator[str]:
    """A top-level list, one item a line, from texts of consecutive items, each but the first chunk's
    starting with the separator ',\n    ' (as `_joined` writes them)."""
    first = True
    for chunk in chunks:
        yield "[\n    " + chunk if first else chunk
        first = False
    yield "[]" if first else "\n  ]"


def _numbers(values: list) -> list[str]:
    """Each number as _dumps writes it in a list (so an int or a bool stays one): one call for many."""
    return _dumps(values)[1:-1].split(", ") if values else []


class _Numbers(dict):
    """Numbers as JSON text, as _dumps writes them, remembered: float to text is the slowest step of writing a
    document, and a document repeats many numbers (a gate's upstream on each of its edges, a product as
    its argument's gradient, constants, 0 and 1). Holds at most `most` numbers, so that its memory stays
    that of a piece or so."""

    def __init__(self, most: int) -> None:
        super().__init__({None: "null"})
        self.most = most

    def __missing__(self, x: float) -> str:
        if not math.isfinite(x):
            return _dumps(x)   # raises, as for any document that holds one
        text = repr(x)
        if x:   # 0.0 == -0.0, and they are written apart
            if len(self) >= self.most:
                self.clear()
                self[None] = "null"
            self[x] = text
        return text

    def column(self, values: list) -> list[str]:
        """Each of `values` (numbers and None) as text."""
        if set(map(type, values)) <= _FLOAT_OR_NONE:   # not an int or bool, which equals a float's key
            return list(map(self.__getitem__, values))
        return _numbers(values)


_FLOAT_OR_NONE = {float, type(None)}
# A node's object, its fields between these: name, op, expr, args (their texts), value and (for grad) grad.
_NODE = ['},\n    {"name": "', None, '", "op": "', None, '", "expr": "', None, '", "args": [', None,
         '], "value": ', None, ', "grad": ', None]
# An edge's object: from, to, local_expr, upstream, local, product.
_EDGE = ['},\n    {"from": "', None, '", "to": "', None, '", "local_expr": "', None, '", "upstream": ', None,
         ', "local": ', None, ', "product": ', None]


def _number_object(values: dict, numbers: _Numbers) -> str:
    """A dict of names to numbers as _dumps writes it, the numbers through `numbers` (an input or a gradient
    per variable, as many as there are variables)."""
    names = list(values)
    if not (names and set(map(type, names)) == {str} and set(map(type, values.values())) == {float}
            and _plain(names)):
        return _dumps(values)
    parts: list = [', "', None, '": ', None] * len(names)
    parts[1::4] = names
    parts[3::4] = numbers.column(list(values.values()))
    parts[0] = '{"'
    return "".join(parts) + "}"


def _joined(fields: list, columns: list[list[str]], first: bool) -> str:
    """Items one a line: `fields` (literal texts, each followed by a column's text) once per item, after
    ',\n    ' unless `first`."""
    step, count = len(fields), len(columns[0])
    parts = fields * count
    for j, column in enumerate(columns):
        parts[2 * j + 1::step] = column
    parts[0] = parts[0][7:] if first else parts[0][1:]   # no '},\n    ' before the first item, no '}' after it
    parts.append("}")
    return "".join(parts)


def _plain(texts: list[str]) -> bool:
    """Whether no text holds a character json escapes in a string (names, definitions and formulas hold none)."""
    whole = "".join(texts)
    return whole.isprintable() and '"' not in whole and "\\" not in whole


def _quoted(texts: list[str]) -> list[str]:
    """Texts as inside a JSON string, as _string writes them."""
    return texts if _plain(texts) else [_string(t)[1:-1] for t in texts]


def _nodes(result: Evaluation, backward: Backward | None, numbers: _Numbers) -> Iterator[str]:
    """The nodes' objects, CHUNK at a time: name, op, expr, args, value and, for grad, grad."""
    graph, values = result.graph, result.values
    nodes = graph.nodes
    fields = _NODE if backward is not None else _NODE[:-2]
    plain = True   # no name so far needs escaping: a node's arguments come before it
    for lo in range(0, len(nodes), CHUNK):
        hi = min(lo + CHUNK, len(nodes))
        part = nodes[lo:hi]
        names = list(map(_NAME, part))
        plain = plain and _plain(names)
        if plain:
            args = [_arguments(nodes, n) for n in map(_ARGS, part)]
        else:
            args = [", ".join([_string(nodes[a][0]) for a in n]) for n in map(_ARGS, part)]
        # an op is a name of the table of primitives, or input or const: nothing to escape
        columns = [names if plain else _quoted(names), list(map(_OP, part)),
                   _quoted(graph.definitions(lo, hi)), args, numbers.column(values[lo:hi])]
        if backward is not None:
            # Parts of the expression that depend on no differentiated input carry no gradient.
            grads, needed = backward.grads, backward.needed
            columns.append(numbers.column(grads[lo:hi] if all(needed[lo:hi]) else
                                          [grads[i] if needed[i] else None for i in range(lo, hi)]))
        yield _joined(fields, columns, lo == 0)


def _arguments(nodes, args: tuple[int, ...]) -> str:
    """The text of a node's args list (its arguments' names, which need no escaping) between its brackets."""
    n = len(args)
    if n == 2:
        a, b = args
        return f'"{nodes[a][0]}", "{nodes[b][0]}"'
    if n == 1:
        return f'"{nodes[args[0]][0]}"'
    return '"' + '", "'.join([nodes[a][0] for a in args]) + '"' if args else ""


def _recorded(edges: list[Edge]) -> Iterator[engine.Flows]:
    """Edges recorded by the backward pass as the columns of engine.flow_columns, CHUNK at a time."""
    for lo in range(0, len(edges), CHUNK):
        yield engine.Flows(*map(list, zip(*edges[lo:lo + CHUNK])))


def _edges(graph, chunks: Iterable[engine.Flows], numbers: _Numbers) -> Iterator[str]:
    """The backward pass's edges' objects in the order computed, a chunk of columns at a time."""
    node = graph.nodes.__getitem__
    first = True
    for f in chunks:
        columns = [_quoted(list(map(_NAME, map(node, f.node)))), _quoted(list(map(_NAME, map(node, f.to)))),
                   _quoted(graph.edge_formulas(f.node, f.arg)), numbers.column(f.upstream),
                   numbers.column(f.local), numbers.column(f.product)]
        yield _joined(_EDGE, columns, first)
        first = False


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
