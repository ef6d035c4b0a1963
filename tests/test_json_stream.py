"""`--format json` written in pieces: the same bytes as the document built whole (the code below, kept as
the reference: the document as Python dicts, encoded at once), on the suites' expressions, for grad and
eval, with --wrt, --perturb, --explain and --order 2; and memory of a piece, not of the document."""

from __future__ import annotations

import json
import math
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import given, settings

import test_known_answers as known
import test_properties as props
from bpcli import api
from bpcli.errors import BpcliError
from bpcli.views import export

ROOT = Path(__file__).resolve().parent.parent


# ---- the reference: the document as dicts, then encoded whole -------------------------------------

def reference_json(result, explanations=None) -> str:
    doc = _reference_dict(result)
    if explanations is not None:
        doc["explain"] = {ex.name: {"paths": ex.paths, "links": ex.links, "grouped": ex.grouped,
                                    "total": ex.total,
                                    "terms": [{"chain": t.chain, "factors": t.factors, "product": t.product}
                                              for t in ex.terms]}
                          for ex in explanations}
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
    if not items:
        return "[]"
    body = _dumps(items)[1:-1].replace("}, {", "},\n" + indent + "  {")
    return f"[\n{indent}  {body}\n{indent}]"


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def _reference_dict(result) -> dict:
    graph = result.graph
    doc: dict = {"expression": graph.source, "output": graph.output_name, "value": result.value,
                 "inputs": result.inputs}
    backward = None
    if isinstance(result, api.Gradients):
        backward = result.backward
        doc["gradient"] = result.gradient
        if result.hessian is not None:
            doc["hessian"] = result.hessian
    doc["nodes"] = []
    for i, node in enumerate(graph.nodes):
        entry = {"name": node.name, "op": node.op, "expr": _definition(graph, i),
                 "args": [graph.nodes[a].name for a in node.args], "value": result.values[i]}
        if backward is not None:
            entry["grad"] = backward.grads[i] if backward.needed[i] else None
        doc["nodes"].append(entry)
    if backward is not None:
        doc["backward"] = [{"from": graph.nodes[e.node].name, "to": graph.nodes[e.to].name,
                            "local_expr": _local_formula(graph, e.node, e.arg),
                            "upstream": e.upstream, "local": e.local, "product": e.product}
                           for e in backward.edges]
    if isinstance(result, api.Gradients) and result.check is not None:
        check, second = result.check, result.hessian_check
        doc["perturb"] = {"method": check.method, "step": check.step,
                          "ok": check.ok and (second is None or second.ok),
                          "rows": [_finite(asdict(row)) for row in check.rows]}
        if second is not None:
            doc["perturb"]["hessian"] = [_finite(asdict(row)) for row in second.rows]
    return doc


def _finite(row: dict) -> dict:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _definition(graph, i: int) -> str:
    """Spelled afresh for every gate, without the graph's templates."""
    from bpcli.core import rules

    node = graph.nodes[i]
    return rules.spelled_gate(node.op, [graph.operands[a] for a in node.args]) if node.is_gate else node.name


def _local_formula(graph, i: int, k: int) -> str:
    from bpcli import primitives
    from bpcli.core import rules

    node = graph.nodes[i]
    op = primitives.OPS[node.op]
    rule = rules.parsed(node.op).partials[0 if op.arity is None else k]
    operands, args = graph.operands, node.args
    if op.arity is None:
        shown = [operands[a] for a in (args if len(args) <= 8 else args[:3] + args[-1:])]
        if len(args) > 8:
            shown.insert(3, rules.Operand("…"))
        leaves = rules.bound(op, shown, rules.Operand(node.name), operands[args[k]])
    else:
        leaves = rules.bound(op, [operands[a] for a in args], rules.Operand(node.name))
    return rules.spelled(rule, leaves)


# ---- the suites' expressions ---------------------------------------------------------------------

def _program(name: str) -> tuple[str, dict[str, float]]:
    values = {}
    for line in (ROOT / "examples" / f"{name}.vars").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            key, value = line.split("=")
            values[key.strip()] = float(value)
    return (ROOT / "examples" / f"{name}.bp").read_text(), values


EXTRA = [   # shapes the tables above have few of: constants folded into rules, long argument lists, sharing
    ("x^3 + 2^x + x^-2 + (-2)*x + pi*x - e^x", {"x": 1.5}),
    ("max(x, y, 2, 3, z, x, y, 1, 4, z)*min(x, 2, y) + where(x, y, 2) + where(0, x, y)", {"x": 1, "y": 2, "z": 3}),
    ("a = x*y; b = a*a + sin(a); b/a - 0*x", {"x": 0.5, "y": -2.0}),
    ("x + 0*y", {"x": 1.0, "y": 2.0}),
    ("3", {}),
    ("x", {"x": 2.0}),
    ("(((x*y+1)*y+1)*y+1)", {"x": 0.5, "y": 0.9}),
]
CASES = ([(text, point) for text, point, *_ in known.KNOWN + known.KINKS] + EXTRA
         + [_program("lecture"), _program("lecture_network")])


def _same_bytes(result, explanations=None) -> None:
    assert "".join(export.json_pieces(result, explanations)) == reference_json(result, explanations)


def _each_kind(text: str, point: dict[str, float]) -> None:
    """grad (all inputs, the first alone, --perturb, --explain, --order 2 --perturb) and eval."""
    _same_bytes(api.evaluate(text, point))
    r = api.grad(text, point)
    _same_bytes(r)
    _same_bytes(r, api.explain(r))
    names = r.graph.input_names
    if names:
        _same_bytes(api.grad(text, point, names[:1]))
    for order in (1, 2):
        try:
            _same_bytes(api.grad(text, point, perturb=api.Perturb(), order=order))
        except BpcliError:   # a Hessian entry that is not finite: nothing to write
            pass


@pytest.mark.parametrize("text,point", CASES, ids=[t[:40] for t, _ in CASES])
def test_the_streamed_document_is_the_whole_one(text, point):
    _each_kind(text, point)


@settings(props.FAST, max_examples=100)   # seven documents each
@given(expr=props.EXPRESSIONS, point=props.POINTS)
def test_the_streamed_document_is_the_whole_one_on_random_expressions(expr, point):
    try:
        api.grad(expr.text, point)
    except BpcliError:
        return
    _each_kind(expr.text, point)


@pytest.mark.parametrize("extra", [(), ("--perturb",), ("--explain",), ("--order", "2", "--perturb"),
                                   ("--wrt", "y")])
def test_the_command_line_writes_the_same_bytes(run, extra):
    text, point = "(w+x*y)*z + max(x, y, 2)", {"w": 5.0, "x": 3.0, "y": 2.0, "z": 4.0}
    out = run("grad", text, "-v", "w=5,x=3,y=2,z=4", "--format", "json", *extra)
    assert out.code == 0, out.err
    r = api.grad(text, point, ["y"] if "--wrt" in extra else None, api.Perturb() if "--perturb" in extra else None,
                 order=2 if "2" in extra else 1)
    assert out.out == reference_json(r, api.explain(r) if "--explain" in extra else None) + "\n"
    out = run("eval", text, "-v", "w=5,x=3,y=2,z=4", "--format", "json")
    assert out.out == reference_json(api.evaluate(text, point)) + "\n"


@pytest.mark.parametrize("ops,chunk", [(10_000, 256), pytest.param(100_000, None, marks=pytest.mark.slow)])
def test_a_deep_document_is_written_in_pieces(monkeypatch, ops, chunk):
    if chunk:   # small pieces, so that a small document shows it too
        monkeypatch.setattr(export, "CHUNK", chunk)
    text, values = "(" * (ops // 2) + "x" + "*y+1)" * (ops // 2), {"x": 0.5, "y": 0.9}
    result = api.grad(text, values, edges=False)
    size = 0
    tracemalloc.start()
    try:
        for piece in export.json_pieces(result):
            size += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the document is some 320 bytes an operation (32 MB at 10⁵), and building it whole as dicts held several
    # times that; written in pieces, the peak is a piece of CHUNK nodes or edges
    assert size > 300 * ops
    assert peak < size / 5, (peak, size)


def _same_float(a: float, b: float) -> bool:
    return math.copysign(1.0, a) == math.copysign(1.0, b) and (a == b or (a != a and b != b))


@pytest.mark.parametrize("text,point", CASES, ids=[t[:40] for t, _ in CASES])
def test_edges_computed_again_are_the_numbers_the_pass_added(text, point):
    """engine.flows (what JSON writes when the pass recorded no edges) replays the pass: each upstream is
    ∂f/∂node as the pass had it there, and adding the products in order gives its gradients bit for bit."""
    from bpcli.core import engine

    for wrt in (None, list(point)[:1]):
        r = api.grad(text, point, wrt, edges=False)
        assert r.backward.edges == []
        graph, done = r.graph, r.backward
        sums = [-0.0] * len(graph.nodes)
        sums[graph.output] = 1.0
        for e in engine.flows(graph, r.values, done):
            assert _same_float(e.upstream, sums[e.node]) and _same_float(e.product, e.upstream * e.local)
            sums[e.to] += e.product
        assert all(_same_float(s, g) for s, g, n in zip(sums, done.grads, done.needed) if n)
        assert list(engine.flows(graph, r.values, done)) == api.grad(text, point, wrt).backward.edges


@pytest.mark.parametrize("text,point", CASES[::2], ids=[t[:40] for t, _ in CASES[::2]])
def test_small_pieces_write_the_same_bytes(monkeypatch, text, point):
    """Pieces of three nodes or edges (a gate's edges stay together), and a memo of numbers' texts of twelve,
    emptied again and again."""
    monkeypatch.setattr(export, "CHUNK", 3)
    _each_kind(text, point)


def test_names_that_json_escapes_are_escaped():
    """No expression has such names, but were a graph to have them, each would be escaped as json does."""
    from bpcli.core.graph import Graph

    r = api.grad("x*y + sin(x) + max(x, y, 2)", {"x": 0.5, "y": 2.0})
    odd = {"x": 'x"1', "y": "y\\2", "v": "v\t"}
    g = r.graph
    graph = Graph(g.source, tuple(n._replace(name=odd.get(n.name, n.name)) for n in g.nodes), g.output)
    odd_result = api.Gradients(graph, r.inputs, r.values, r.warnings, r.backward, r.gradient)
    _same_bytes(odd_result)
    computed_again = api.Gradients(graph, r.inputs, r.values, r.warnings, r.backward._replace(edges=[]), r.gradient)
    assert "".join(export.json_pieces(computed_again)) == reference_json(odd_result)
    assert '"x\\"1"' in export.to_json(odd_result)


def test_remembered_numbers_keep_apart_what_compares_equal():
    """0.0 == -0.0 and 1 == 1.0 == True, but JSON writes each its own way: the memo must not mix them."""
    numbers = export._Numbers(4)
    mixed = [0.0, -0.0, 1.0, 1, True, None, 1.0, -0.0, 2.5, 1e300, 5e-324, -2.5]
    assert numbers.column(mixed) == export._numbers(mixed)
    assert numbers.column([1.0, 1.0, 2.5]) == ["1.0", "1.0", "2.5"]
    assert numbers.column([0.0, -0.0, 0.0, -0.0]) == ["0.0", "-0.0", "0.0", "-0.0"]
    assert numbers.column([-0.0, 0.0, 1, True]) == ["-0.0", "0.0", "1", "true"]
    assert numbers.column([float(i) for i in range(10)] * 2) == [repr(float(i)) for i in range(10)] * 2
    assert len(numbers) <= 4 + 1
    with pytest.raises(ValueError):
        numbers.column([1.0, math.inf])
