"""Generated code (`bpcli code`), executed and compared with the engine: Python by exec, C through gcc,
JavaScript through node. Every op in the table, kinks, fan-out, constants, awkward names, deep graphs,
and a broken derivative rule that the comparison catches.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys

import pytest

from bpcli import codegen
from bpcli.codegen import emit
from bpcli.codegen import languages
from bpcli.core import engine
from bpcli import primitives
from bpcli.core import rules
from bpcli.core.graph import INPUT, Graph, Node
from bpcli.api import compile_source, grad

LECTURE = ("(w+x*y)*z", {"w": 5.0, "x": 3.0, "y": 2.0, "z": 4.0})


def op_case(name: str, fan_out: bool) -> tuple[str, dict[str, float]]:
    """An expression of one gate over inputs a, b, c… at the op's sample point; with fan-out, times a."""
    op = primitives.OPS[name]
    names = [chr(ord("a") + i) for i in range(len(op.sample))]
    source = rules.spelled_gate(name, [rules.Operand(n) for n in names])
    return (f"({source})*a" if fan_out else source), dict(zip(names, op.sample))


# The helpers each language has itself (the others its prelude defines).
NATIVE = {"python": {"abs"}, "c": {"exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "abs", "pow"},
          "javascript": set()}

OP_CASES = [op_case(name, fan) for name in primitives.OPS for fan in (False, True)]

MIXED = [
    LECTURE,
    ("x*x+sin(x)", {"x": 0.7}),
    ("relu(x)", {"x": 0.0}), ("relu(x)*x + relu(-x)", {"x": 0.0}), ("abs(x)", {"x": 0.0}),
    ("max(x,x)", {"x": 1.5}), ("max(x,y)", {"x": 2.0, "y": 2.0}), ("min(x,y,x)", {"x": 1.0, "y": 1.0}),
    ("max(x, y, 2) * min(y, 2, x)", {"x": 2.0, "y": 2.0}), ("max(x, -y)", {"x": -0.0, "y": 0.0}),
    ("max(x, x, y)", {"x": 1.0, "y": 1.0}), ("min(x, y, x) * max(x, y, x)", {"x": 1.0, "y": 1.0}),
    ("x^3", {"x": -1.5}), ("x^y", {"x": 1.7, "y": -2.3}), ("2^x", {"x": 0.5}), ("x^-2", {"x": 1.5}),
    ("x^0", {"x": 0.0}), ("x^y", {"x": 0.0, "y": 2.0}), ("x^2.5", {"x": 0.0}), ("(-x)^-3", {"x": 0.5}),
    ("pi*x + e^x", {"x": 0.3}), ("x*1e-3 - 2.5e2/x", {"x": 0.7}),
    ("a = x*y; b = a + sin(a); b*a/x", {"x": 0.4, "y": -1.3}),
    ("sigmoid(-800*x) + sigmoid(x)", {"x": 1.0}), ("tanh(x)/(1+exp(-x))", {"x": -0.3}),
    ("softplus(800*x) + softplus(-40*x) * 1e18 + softplus(-800*x)", {"x": 1.0}),
    ("sqrt(x*x+y*y) - log(x)*x", {"x": 2.0, "y": -1.0}), ("-(-x) - -x^2", {"x": 3.0}),
    ("x*0", {"x": 5.0}), ("2*3", {}), ("x", {"x": 4.0}), ("pi", {}), ("tan(x)*cos(x)", {"x": 0.7}),
]

NAMES = [
    ("vmax*vmin + pow - math + lambda*grad + θ*double", dict(zip(
        ["vmax", "vmin", "pow", "math", "lambda", "grad", "θ", "double"], [1.5, -2.0, 0.5, 3.0, 2.5, -1.0, 0.7, 4.0]))),
    ("dfdx*x + dfdx_", {"dfdx": 2.0, "x": 3.0, "dfdx_": 1.0}),
    ("grad_f = x*y; grad_f*2", {"x": 2.0, "y": 3.0}),
    ("int + linux + M_PI + __x + _X + bp_where + unix*i386", dict(zip(
        ["int", "linux", "M_PI", "__x", "_X", "bp_where", "unix", "i386"], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]))),
    ("f*x + f", {"f": 2.0, "x": 3.0}),
    ("ties_v*max(ties_v, x, ties_v_)", {"ties_v": 2.0, "x": 3.0, "ties_v_": 3.0}),
    ("ﬁ*fi + ﬁ", {"ﬁ": 2.0, "fi": 3.0}),
    ("let*var + function*arguments + u03b8*θ", dict(zip(
        ["let", "var", "function", "arguments", "u03b8", "θ"], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))),
]

CASES = OP_CASES + MIXED + NAMES
IDS = [source for source, _ in CASES]


def agrees(source_or_graph, point: dict[str, float], value: float, gradient: dict[str, float]) -> None:
    """Assert that generated code's value and gradient match the engine's within 1e-12 relative."""
    expected = grad(source_or_graph, point)
    assert value == pytest.approx(expected.value, rel=1e-12, abs=0), "value"
    assert list(gradient) == list(expected.gradient)
    for name, g in expected.gradient.items():
        assert gradient[name] == pytest.approx(g, rel=1e-12, abs=0), f"∂f/∂{name}"


# ---- Python ---------------------------------------------------------------------------------------

def run_python(graph: Graph, point: dict[str, float]) -> tuple[float, dict[str, float]]:
    namespace: dict = {}
    exec(compile(emit.python(graph), "<generated>", "exec"), namespace)  # noqa: S102 - our own output
    function = namespace[emit.plan(graph, languages.PYTHON).name]
    return function(*(point[name] for name in graph.input_names))


def test_lecture_example_in_python():
    source, point = LECTURE
    text = emit.python(compile_source(source))
    for line in ["def grad_f(w, x, y, z):", "    v = x * y", "    u = w + v", "    f = u * z", "    dfdf = 1.0",
                 "    dfdu = z * dfdf", "    dfdw = 1.0 * dfdu", "    dfdx = y * dfdv", "    dfdy = x * dfdv",
                 '    return f, {"w": dfdw, "x": dfdx, "y": dfdy, "z": dfdz}']:
        assert line in text.splitlines()
    value, gradient = run_python(compile_source(source), point)
    assert (value, gradient) == (44.0, {"w": 4.0, "x": 8.0, "y": 12.0, "z": 11.0})


def test_fan_out_accumulates_with_plus_equals():
    text = emit.python(compile_source("x*x+sin(x)"))
    body = [line.strip() for line in text.splitlines() if line.strip().startswith("dfdx")]
    assert body == ["dfdx = cos(x) * dfdu", "dfdx += x * dfdv", "dfdx += x * dfdv"]


@pytest.mark.parametrize("source", ["(w+x*y)*z", "a = x*y; b = a + sin(a); b*a/x + max(a, x, 2)"])
def test_backward_lines_follow_the_engines_edges(source):
    graph = compile_source(source)
    values = engine.forward(graph, {name: 0.5 for name in graph.input_names})
    edges = engine.backward(graph, values).edges
    steps = emit.plan(graph, languages.PYTHON).backward
    assert [s.target for s in steps if s.edge] == ["dfdf"] + [f"dfd{graph.nodes[e.to].name}" for e in edges]


@pytest.mark.parametrize(("source", "point"), CASES, ids=IDS)
def test_python_matches_the_engine(source, point):
    value, gradient = run_python(compile_source(source), point)
    agrees(source, point, value, gradient)


SMOOTH = ["x*x+sin(x)", "(w+x*y)*z", "sigmoid(w*x + y)*tanh(z)", "exp(x/y) - sqrt(x*x + 1)*cos(y)",
          "max(x, y, z)*min(x, w)", "x^y + abs(z)*relu(w)", "log(x*x + 1)^3"]


def random_point(source: str, rng: random.Random) -> dict[str, float]:
    return {name: rng.uniform(0.2, 3.0) for name in compile_source(source).input_names}


@pytest.mark.parametrize("source", SMOOTH)
def test_python_matches_the_engine_at_random_points(source):
    rng = random.Random(source)
    graph = compile_source(source)
    for _ in range(20):
        point = random_point(source, rng)
        agrees(source, point, *run_python(graph, point))


def test_max_counts_its_ties_once_per_gate():
    text = emit.python(compile_source("max(x, y, z)"))
    body = [line.strip() for line in text.splitlines()[-6:-1]]
    assert body == ["dfdf = 1.0", "ties_f = ties(f, x, y, z)", "dfdx = (eq(x, f) / ties_f) * dfdf",
                    "dfdy = (eq(y, f) / ties_f) * dfdf", "dfdz = (eq(z, f) / ties_f) * dfdf"]
    assert "  const ties_f = ties(f, x, y, z);" in emit.javascript(compile_source("max(x, y, z)"))


def test_ties_split_the_gradient_evenly():
    assert run_python(compile_source("max(x, x, y)"), {"x": 1.0, "y": 1.0}) == (1.0, {"x": 2 / 3, "y": 1 / 3})


def test_the_tie_count_never_takes_a_users_name():
    text = emit.python(compile_source("ties_v*max(ties_v, x, ties_v_)"))
    assert "    ties_v__ = ties(v, ties_v, x, ties_v_)" in text.splitlines()


def code_size_per_argument(n: int) -> float:
    """Characters of generated code per argument of max and min over n inputs, in the largest language."""
    names = ", ".join(f"x{i}" for i in range(n))
    graph = compile_source(f"max({names}) + min({names})")
    return max(len(write(graph)) for write in emit.LANGUAGES.values()) / n


def test_wide_max_writes_code_linear_in_its_arguments():
    # About 95 characters per argument and gate in C (its edge's line, its name in the call and the count, the
    # signature, the result): 190 for the two. A partial spelling out all n arguments per edge adds ~7n.
    assert code_size_per_argument(2000) < 400


def test_the_size_check_catches_a_count_per_edge(monkeypatch):
    monkeypatch.setattr(rules, "shared_parts", lambda rule: ())
    assert code_size_per_argument(300) > 400


def test_keys_keep_the_users_names_while_identifiers_are_mangled():
    text = emit.python(compile_source(NAMES[0][0]))
    assert "def grad_f(vmax_, vmin_, pow_, math_, lambda_, grad, θ, double):" in text
    assert '"lambda": dfdlambda_' in text


def test_an_input_no_edge_reaches_gets_zero():
    # Lowering drops unused names, so build the graph by hand: z is an input the output does not use.
    graph = compile_source("x*2")
    graph = Graph(graph.source, graph.nodes + (Node("z", INPUT, (), (0, 0)),), graph.output)
    assert run_python(graph, {"x": 1.5, "z": 7.0}) == (3.0, {"x": 2.0, "z": 0.0})
    assert "grad[1] = 0.0;" in emit.c(graph)


def test_every_helper_a_rule_calls_is_known_to_every_language():
    for name, op in primitives.OPS.items():
        operands = [rules.Operand(n) for n in "abc"]
        leaves = {"a": operands[0], "b": operands[1], "c": operands[2], "out": rules.Operand("out"), "args": operands}
        for dialect in (languages.PYTHON, languages.C, languages.JAVASCRIPT):
            used: set[str] = set()
            rules.spelled_gate(name, operands[:op.arity or 3], dialect.notation(used))
            for rule in rules.parsed(name).partials:
                rules.spelled(rule, leaves, dialect.notation(used))
            for helper in used:
                code = dialect.code(helper)
                assert code.call in dialect.reserved and (code.define or helper in NATIVE[dialect.name]), helper


# ---- deep graphs and a rule that is wrong ---------------------------------------------------------

def test_deep_nesting_generates_without_recursion():
    source = "sin(" * 2000 + "x" + ")" * 2000
    graph = compile_source(source)
    assert 2000 > sys.getrecursionlimit() // 2
    text = emit.python(graph)
    assert text.count("\n    dfd") == 2001
    agrees(source, {"x": 0.5}, *run_python(graph, {"x": 0.5}))
    assert emit.c(graph).count("cos(") == 2000 and emit.javascript(graph).count("cos(") == 2000


@pytest.mark.slow
def test_a_hundred_thousand_gates():
    n = 100_000
    graph = compile_source("tanh(" * n + "x" + ")" * n)
    value, gradient = run_python(graph, {"x": 0.5})
    expected_value, slope = 0.5, 1.0
    for _ in range(n):
        expected_value = math.tanh(expected_value)
        slope *= 1 - expected_value * expected_value
    assert value == pytest.approx(expected_value, rel=1e-12)
    assert gradient["x"] == pytest.approx(slope, rel=1e-9)


def test_a_wrong_partial_is_caught(monkeypatch):
    source, point = LECTURE
    right = grad(source, point)
    monkeypatch.setitem(primitives.OPS, "mul", primitives.OPS["mul"]._replace(partials=("a", "b")))
    try:
        wrong = run_python(compile_source(source), point)
        assert wrong[1]["x"] == 3.0 * (5.0 + 3.0 * 2.0)  # each product's partials swapped: x·u, not y·z
        with pytest.raises(AssertionError):
            assert wrong[1] == pytest.approx(right.gradient, rel=1e-12)
        rules.forget()
        agrees(source, point, *wrong)  # the engine reads the same (wrong) table: one source of truth
    finally:
        rules.forget()


def test_the_comparison_itself_can_fail():
    source, point = LECTURE
    with pytest.raises(AssertionError):
        agrees(source, point, 44.0, {"w": 4.0, "x": 8.0, "y": 12.0, "z": 11.0 + 1e-9})
    with pytest.raises(AssertionError):
        agrees(source, point, 44.0 * (1 + 1e-11), {"w": 4.0, "x": 8.0, "y": 12.0, "z": 11.0})


# ---- C --------------------------------------------------------------------------------------------

C_MAIN = """
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{{
    double grad[{size}];
    double in[{size}];
    int i;
    for (i = 1; i < argc && i <= {size}; i++) in[i - 1] = strtod(argv[i], NULL);
    (void)in;  /* unused when the expression has no inputs */
    printf("%.17g\\n", {name}({args}grad));
    for (i = 0; i < {n}; i++) printf("%.17g\\n", grad[i]);
    return 0;
}}
"""


def build_c(graph: Graph, folder) -> str:
    """Compile the generated C with a main() that reads the inputs from argv; return the program's path."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not on PATH")
    n = len(graph.inputs)
    name = emit.plan(graph, languages.C).name
    main = C_MAIN.format(size=max(n, 1), n=n, name=name, args="".join(f"in[{i}], " for i in range(n)))
    (folder / "grad.c").write_text(emit.c(graph) + main, encoding="utf-8")
    built = subprocess.run(["gcc", "-O0", "-std=c99", "-Wall", "-pedantic", "-Werror", "grad.c", "-o", "grad", "-lm"],
                           cwd=folder, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return str(folder / "grad")


def run_compiled(command: list[str], graph: Graph, point: dict[str, float]) -> tuple[float, dict[str, float]]:
    names = graph.input_names
    out = subprocess.run(command + [repr(point[n]) for n in names], check=True, capture_output=True, text=True)
    numbers = [float(line) for line in out.stdout.split()]
    return numbers[0], dict(zip(names, numbers[1:]))


def test_lecture_example_in_c(tmp_path):
    source, point = LECTURE
    graph = compile_source(source)
    text = emit.c(graph)
    assert "double grad_f(double w, double x, double y, double z, double grad[])" in text
    assert "/* grad[0] = df/dw, grad[1] = df/dx, grad[2] = df/dy, grad[3] = df/dz */" in text
    assert "    double dfdx = y * dfdv;" in text
    assert run_compiled([build_c(graph, tmp_path)], graph, point) == (44.0, {"w": 4.0, "x": 8.0, "y": 12.0, "z": 11.0})


@pytest.mark.slow
@pytest.mark.parametrize(("source", "point"), CASES, ids=IDS)
def test_c_matches_the_engine(source, point, tmp_path):
    graph = compile_source(source)
    agrees(source, point, *run_compiled([build_c(graph, tmp_path)], graph, point))


@pytest.mark.slow
@pytest.mark.parametrize("source", SMOOTH)
def test_c_matches_the_engine_at_random_points(source, tmp_path):
    rng = random.Random(source)
    graph = compile_source(source)
    program = build_c(graph, tmp_path)
    for _ in range(10):
        point = random_point(source, rng)
        agrees(source, point, *run_compiled([program], graph, point))


def test_variadic_max_with_many_arguments_in_c(tmp_path):
    names = [f"x{i}" for i in range(40)]
    source = f"max({', '.join(names)}) + min({', '.join(names)}, 0.5)"
    point = {n: math.sin(i) for i, n in enumerate(names)} | {"x7": 1.0, "x9": 1.0}
    graph = compile_source(source)
    agrees(source, point, *run_compiled([build_c(graph, tmp_path)], graph, point))


@pytest.mark.slow
def test_deep_nesting_compiles_in_c(tmp_path):
    source = "tanh(" * 2000 + "x" + ")" * 2000
    graph = compile_source(source)
    agrees(source, {"x": 0.5}, *run_compiled([build_c(graph, tmp_path)], graph, {"x": 0.5}))


# ---- JavaScript -----------------------------------------------------------------------------------

JS_MAIN = """
const [value, gradient] = {name}(...process.argv.slice(2).map(Number));
console.log([value, ...{names}.map((n) => gradient[n])].map(String).join("\\n"));
"""


def build_js(graph: Graph, folder) -> list[str]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not on PATH")
    main = JS_MAIN.format(name=emit.plan(graph, languages.JAVASCRIPT).name,
                          names=json.dumps(graph.input_names, ensure_ascii=False))
    (folder / "grad.js").write_text(emit.javascript(graph) + main, encoding="utf-8")
    return [node, str(folder / "grad.js")]


@pytest.mark.slow
@pytest.mark.parametrize(("source", "point"), CASES, ids=IDS)
def test_javascript_matches_the_engine(source, point, tmp_path):
    graph = compile_source(source)
    agrees(source, point, *run_compiled(build_js(graph, tmp_path), graph, point))


def test_languages_table():
    assert tuple(emit.LANGUAGES) == codegen.LANGUAGES == ("python", "c", "javascript")
    assert all(emit.LANGUAGES[name] is getattr(emit, name) for name in codegen.LANGUAGES)


# ---- through the command line ---------------------------------------------------------------------

def test_cli_code_python_runs(run):
    r = run("code", "(w+x*y)*z")
    assert r.code == 0 and "dfdx = y * dfdv" in r.out
    namespace: dict = {}
    exec(r.out, namespace)  # noqa: S102 - our own generated code
    assert namespace["grad_f"](5.0, 3.0, 2.0, 4.0) == (44.0, {"w": 4.0, "x": 8.0, "y": 12.0, "z": 11.0})


@pytest.mark.parametrize("lang", ["c", "javascript"])
def test_cli_code_other_languages(run, lang):
    r = run("code", "a = x*y; a*a + sin(a)", "--lang", lang)
    assert r.code == 0 and "grad_a" not in r.out and "grad_f" in r.out


def test_cli_code_from_file_and_errors(run, tmp_path):
    path = tmp_path / "p.bp"
    path.write_text("v = x*y\nu = w+v\nf = u*z\n")
    assert "def grad_f(x, y, w, z):" in run("code", "-f", str(path)).out
    assert run("code", "x*/y").code == 2
    assert run("code", "x", "--lang", "cobol").code == 2
