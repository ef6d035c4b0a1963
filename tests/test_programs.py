"""Programs: named steps, comments, files, stdin, --output, --vars, and their errors."""

from __future__ import annotations

import json

import pytest

from bpcli.errors import InputError
from bpcli.api import Source, compile_source, grad

LECTURE = "v = x*y; u = w+v; f = u*z"
SEED = {"w": 5, "x": 3, "y": 2, "z": 4}


def gates(graph):
    return [(n.name, graph.definition(i)) for i, n in enumerate(graph.nodes) if n.is_gate]


def test_the_lecture_program_keeps_its_names():
    r = grad(LECTURE, SEED)
    assert gates(r.graph) == [("v", "x*y"), ("u", "w+v"), ("f", "u*z")]
    assert r.value == 44 and r.gradient == {"x": 8, "y": 12, "w": 4, "z": 11}


@pytest.mark.parametrize("source", [
    "v = x*y\nu = w+v\nf = u*z\n",
    "# the lecture\nv = x*y   # multiply\n\nu = w + v;;\nf = u*\n  z\n",
    "v = x*y; u = (w +\n v); u*z",
    "v = x*y; u = w+v\nu*z",
])
def test_program_layouts(source):
    r = grad(source, SEED)
    assert r.value == 44 and r.gradient == {"x": 8, "y": 12, "w": 4, "z": 11}


def test_an_expression_may_span_lines():
    assert grad("x\n+\ny", {"x": 1, "y": 2}).value == 3


def test_a_name_used_twice_is_one_node_whose_gradient_accumulates():
    r = grad("a = x*y; a*a + a", {"x": 2, "y": 3})
    assert [n.name for n in r.graph.nodes].count("a") == 1
    assert r.gradient == {"x": (2 * 6 + 1) * 3, "y": (2 * 6 + 1) * 2}


def test_output_picks_an_assigned_name():
    r = grad(Source("a = x*y; b = a+1; a", output="b"), {"x": 1, "y": 2})
    assert r.value == 3 and r.graph.output_name == "b"


def test_unused_statements_are_reported_and_not_evaluated():
    r = grad("a = x*y; b = log(x-10); a", {"x": 1, "y": 2})  # log(-9) would be exit 3 if evaluated
    assert r.value == 2
    assert any("b is assigned but the output does not use it" in w for w in r.warnings)


def test_alias_of_a_leaf():
    r = grad("a = x; a*2", {"x": 3})
    assert r.gradient == {"x": 2}


def test_automatic_names_skip_assigned_names():
    r = grad("v = x*y; sin(v) + x", {"x": 1, "y": 2})
    assert [name for name, _ in gates(r.graph)] == ["v", "u", "f"]


@pytest.mark.parametrize("source,fragment,line_col", [
    ("v = x*y\nv = v+1", "v is assigned twice (first at line 1)", (2, 1)),
    ("a = b+1\nb = 2", "b is used before it is assigned (at line 2)", (1, 5)),
    ("pi = 3", "cannot assign to pi", (1, 1)),
    ("sin = 3", "cannot assign to sin", (1, 1)),
    ("a = 1\nb = (2", "unclosed '('", (2, 5)),
])
def test_program_errors_have_line_and_column(source, fragment, line_col):
    with pytest.raises(InputError) as info:
        compile_source(source)
    assert fragment in info.value.message and info.value.line_col == line_col


def test_output_that_is_not_assigned():
    with pytest.raises(InputError, match="--output q"):
        compile_source(Source("a = x; a", output="q"))


def test_cli_program_from_file_and_stdin(run, tmp_path):
    path = tmp_path / "lecture.bp"
    path.write_text("v = x*y\nu = w+v\nf = u*z\n")
    from_file = run("grad", "-f", str(path), "-v", "w=5,x=3,y=2,z=4", "--format", "json").json()
    from_stdin = run("grad", "-", "-v", "w=5,x=3,y=2,z=4", "--format", "json", input=path.read_text()).json()
    from_line = run("grad", LECTURE, "-v", "w=5,x=3,y=2,z=4", "--format", "json").json()
    for doc in (from_file, from_stdin, from_line):
        assert [n["name"] for n in doc["nodes"][4:]] == ["v", "u", "f"] and doc["gradient"]["x"] == 8
    table = run("grad", "-f", str(path), "-v", "w=5,x=3,y=2,z=4").out
    assert "x*y" in table and "w+v" in table and "u*z" in table


def test_cli_errors_name_the_file(run, tmp_path):
    path = tmp_path / "bad.bp"
    path.write_text("v = x*y\nv = 2\n")
    r = run("grad", "-f", str(path), "-v", "x=1,y=1")
    assert r.code == 2 and f"({path}, line 2, column 1)" in r.err


def test_cli_expr_and_file_are_exclusive(run, tmp_path):
    assert run("grad", "-v", "x=1").code == 2
    assert run("grad", "x", "-f", "nope.bp").code == 2
    r = run("grad", "-f", str(tmp_path / "missing.bp"))
    assert r.code == 2 and "cannot read" in r.err


def test_cli_assigning_an_input_is_an_error(run, tmp_path):
    r = run("grad", "v = x*y; v", "-v", "x=1,y=1,v=2")
    assert r.code == 2 and "v is assigned in the program" in r.err and "(column 1)" in r.err
    path = tmp_path / "p.bp"
    path.write_text("a = 1\nv = x*y\nv\n")
    r = run("grad", "-f", str(path), "-v", "x=1,y=1,v=2")
    assert r.code == 2 and f"({path}, line 2, column 1)" in r.err


def test_vars_file_json_and_lines_and_override(run, tmp_path):
    js = tmp_path / "w.json"
    js.write_text(json.dumps({"w": 5, "x": 3, "y": "1+1", "z": 0}))
    doc = run("grad", LECTURE, "--vars", str(js), "-v", "z=4", "--format", "json").json()
    assert doc["inputs"] == {"x": 3, "y": 2, "w": 5, "z": 4} and doc["value"] == 44
    lines = tmp_path / "w.txt"
    lines.write_text("# weights\nw = 5\nx = 3  # three\n\ny = 2\nz = 4\n")
    assert run("grad", LECTURE, "--vars", str(lines), "--format", "json").json()["value"] == 44
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    r = run("grad", LECTURE, "--vars", str(bad))
    assert r.code == 2 and "not valid JSON" in r.err


def test_cli_output_option(run):
    doc = run("grad", "a = x*y; b = a+1; a", "--output", "b", "-v", "x=1,y=2", "--format", "json").json()
    assert doc["output"] == "b" and doc["value"] == 3


def test_unused_statement_warning_on_stderr(run):
    r = run("grad", "a = x*y; b = x+1; a", "-v", "x=1,y=2", "--format", "json")
    assert r.code == 0 and "b is assigned but the output does not use it" in r.err


def test_vars_json_is_data_not_text(run, tmp_path):
    path = tmp_path / "v.json"
    for text, fragment in [('{"w": "1,x=2"}', "unexpected ','"), ('{"w=3,x": 2}', "not a variable name"),
                           ('{"x": 1, "x": 2}', "given twice"), ('{"x": 1' + "0" * 400 + "}", "too large"),
                           ('{"x": 1' + "0" * 5000 + "}", "not valid JSON")]:
        path.write_text(text)
        r = run("eval", "w*x", "--vars", str(path), "-v", "w=1")
        assert r.code == 2 and fragment in r.err and str(path) in r.err, text


def test_bare_statements_that_are_not_used_are_reported(run):
    r = run("grad", "x*2; y*3", "-v", "y=2", "--format", "json")
    assert "this expression is not the output" in r.err
    assert "is assigned but the output does not use it" in run("code", "a = x*x; b = y*3; a").err


@pytest.mark.slow
def test_many_unused_statements_are_linear():
    import time
    program = "\n".join(f"a{i} = x*{i}" for i in range(20000)) + "\nx+1"
    start = time.perf_counter()
    graph = compile_source(program)
    assert len(graph.unused) == 20000 and time.perf_counter() - start < 30


def test_file_dash_reads_stdin(run):
    assert run("grad", "-f", "-", "-v", "x=2", "--format", "json", input="x*x").json()["value"] == 4
