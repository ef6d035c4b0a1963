"""bpcli diff on large and on small expressions, side by side with SymPy in the same run.

    python benchmarks/diff_size.py                      # 10⁴ operations, deep and wide; 300 small expressions
    python benchmarks/diff_size.py --ops 300 --small 20 --rounds 1

Large: `bpcli diff EXPR --format json` as a process (median of the rounds; target under 2 s), and the
gates of the program it prints over the gates of the expression (target at most 5, the Baur–Strassen
constant of reverse mode). SymPy, for the record: sympify, diff for every variable and cse on the same text,
in a process of its own with a time limit, or how it fails.
Small: random expressions in x and y (seeded). The median length of bpcli's first derivatives written whole
over the median of SymPy's str(diff(...)) (target at most 1.5), and how many are longer than the chain rule
written out without simplification (target: none; blanks not counted, as the chain rule has none).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

from common import bpcli_command, figure, interleaved, machine, median_seconds, print_table

SYMPY_LIMIT = 60.0   # seconds SymPy gets for a large expression

UNARY = ["sin", "cos", "exp", "tanh", "sigmoid", "log", "sqrt"]


def deep(ops: int) -> str:
    """A chain `ops` deep: each operation wraps what came before (sin(…), (…)*y, (…)+x, tanh(…))."""
    text = "x"
    for i in range(ops):
        text = (f"sin({text})", f"({text})*y", f"({text})+x", f"tanh({text})")[i % 4]
    return text


def wide(ops: int) -> str:
    """A sum of ops/3 terms x_i*sin(y_j) over many variables (three operations a term)."""
    return " + ".join(f"x{i}*sin(y{i % 50})" for i in range(max(1, ops // 3)))


def small(rng: random.Random, depth: int = 3) -> str:
    """A random expression in x and y, as the test suites' generators make them (smooth functions)."""
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(["x", "y", "x", "y", str(rng.randint(1, 5)), "0.5"])
    kind = rng.random()
    if kind < 0.55:
        op = rng.choice(["+", "-", "*", "/", "*"])
        return f"({small(rng, depth - 1)}){op}({small(rng, depth - 1)})"
    if kind < 0.65:
        return f"({small(rng, depth - 1)})^{rng.randint(2, 3)}"
    return f"{rng.choice(UNARY)}({small(rng, depth - 1)})"


def gates(program: str) -> int:
    """The gates of a program: each statement's expression compiled on its own (its names as inputs)."""
    from bpcli import api

    total = 0
    for line in program.splitlines():
        expression = line.split("=", 1)[1]
        total += sum(node.is_gate for node in api.compile_source(expression).nodes)
    return total


def _sympy_job(path: str) -> str:
    return (
        "import sys, time, sympy\n"
        "sys.setrecursionlimit(100000)\n"
        f"text = open({path!r}).read().replace('^', '**')\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    f = sympy.sympify(text, locals={'sigmoid': lambda a: 1 / (1 + sympy.exp(-a))})\n"
        "    ds = [sympy.diff(f, v) for v in sorted(f.free_symbols, key=str)]\n"
        "    sympy.cse(ds)\n"
        "    print(time.perf_counter() - start)\n"
        "except BaseException as err:\n"
        "    reason = 'could not parse' if 'could not parse' in str(err) else str(err)[:60].replace(chr(10), ' ')\n"
        "    print(f'failed after {time.perf_counter() - start:.2f} s: {type(err).__name__} ({reason})')\n"
    )


def sympy_large(text: str) -> str:
    """SymPy's seconds for sympify + diff + cse, or how it failed, or that it ran past SYMPY_LIMIT."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        done = subprocess.run([sys.executable, "-c", _sympy_job(handle.name)], capture_output=True, text=True,
                              timeout=SYMPY_LIMIT)
        out = done.stdout.strip() or f"failed: exit {done.returncode} {done.stderr.strip()[-80:]}"
        return out
    except subprocess.TimeoutExpired:
        return f"did not finish in {SYMPY_LIMIT:g} s"
    finally:
        os.unlink(handle.name)


def large_figures(ops: int, rounds: int) -> list[dict]:
    from bpcli import api

    rows = []
    bpcli = bpcli_command()
    for shape, text in (("deep", deep(ops)), ("wide", wide(ops))):
        with tempfile.NamedTemporaryFile("w", suffix=".bp", delete=False) as handle:
            handle.write(text)
        try:
            runs = interleaved({"bpcli": ([bpcli, "diff", "-f", handle.name, "--format", "json"], None, None)},
                               rounds)["bpcli"]
        finally:
            os.unlink(handle.name)
        seconds = median_seconds(runs)
        program = json.loads(runs[0][2])["program"]
        expression_gates = sum(node.is_gate for node in api.compile_source(text).nodes)
        program_gates = gates(program)
        sympy = sympy_large(text)
        smaller = (deep if shape == "deep" else wide)(ops // 10)
        print(f"{shape} {ops} ops: bpcli diff {seconds:.2f} s, program {program_gates} gates for an expression "
              f"of {expression_gates} ({program_gates / expression_gates:.2f}x); SymPy diff+cse: {sympy}; "
              f"at {ops // 10} ops: {sympy_large(smaller)}", file=sys.stderr)
        rows.append(figure(f"diff {shape} {ops} ops, process (s)", seconds, None, 2.0, ratio=seconds / 1.0))
        rows[-1]["target"] = 2.0
        rows[-1]["met"] = seconds < 2.0
        rows.append(figure(f"diff {shape} {ops} ops, program gates / expression gates", program_gates,
                           expression_gates, 5.0))
    return rows


def chain_rule_length(text: str, x: str) -> int:
    """The length of ∂f/∂x written as the chain rule gives it, with nothing simplified: each product
    upstream × local as it comes, the forward pass written into it."""
    from bpcli import api, primitives
    from bpcli.core import rules as rule_forms
    from bpcli.core.graph import CONST, INPUT
    from bpcli.symbolic import text as notation
    from bpcli.symbolic.algebra import Algebra

    graph = api.compile_source(text)
    algebra = Algebra()
    refs = []
    for node in graph.nodes:
        if node.op == INPUT:
            refs.append(algebra.symbol(node.name))
        elif node.op == CONST:
            refs.append(algebra.constant(node.name, node.const))
        else:
            refs.append(algebra.raw(node.op, [refs[a] for a in node.args]))

    def raw_rule(rule, leaves):
        return rule_forms.fold(rule, leaves, lambda node: algebra.constant(node.name, node.const), algebra.raw)

    depends = graph.depends_on([x])
    adjoint: dict[int, list] = {graph.output: [algebra.one]}
    for i in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[i]
        if not node.is_gate or i not in adjoint or not depends[i]:
            continue
        parts = adjoint[i]
        up = parts[0]
        for part in parts[1:]:
            up = algebra.raw("add", [up, part])
        op = primitives.OPS[node.op]
        for k, a in enumerate(node.args):
            if depends[a]:
                leaves = rule_forms.bound(op, [refs[b] for b in node.args], refs[i],
                                          refs[a] if op.arity is None else None)
                local = raw_rule(rule_forms.parsed(node.op).partials[0 if op.arity is None else k], leaves)
                adjoint.setdefault(a, []).append(algebra.raw("mul", [up, local]))
    index = graph.input_names.index(x)
    parts = adjoint.get(graph.inputs[index], [algebra.zero])
    total = parts[0]
    for part in parts[1:]:
        total = algebra.raw("add", [total, part])
    return len(notation.written(total).replace(" ", ""))


def small_figures(count: int) -> list[dict]:
    import sympy

    from bpcli import api
    from bpcli.errors import BpcliError

    rng = random.Random(2026)
    ours, theirs, longer, compared = [], [], 0, 0
    sigmoid = sympy.Function("sigmoid")
    while compared < count:
        text = small(rng)
        try:
            result = api.diff(text, inline=10 ** 9)
            f = sympy.sympify(text.replace("^", "**"), locals={"sigmoid": sigmoid})
        except (BpcliError, sympy.SympifyError):
            continue
        for key, formula in result.formulas.items():
            x = key[0]
            ours.append(len(formula))
            theirs.append(len(str(sympy.diff(f, sympy.Symbol(x)))))
            longer += len(formula.replace(" ", "")) > chain_rule_length(text, x)
            compared += 1
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"{compared} first derivatives of small expressions: median length bpcli {statistics.median(ours):g}, "
          f"SymPy {statistics.median(theirs):g}; longer than the unsimplified chain rule: {longer}", file=sys.stderr)
    row = figure("diff small, median length / SymPy's", statistics.median(ours), statistics.median(theirs), 1.5,
                 ratio=ratio)
    unsimplified = figure("diff small, longer than the chain rule unsimplified", float(longer), None, 0.0,
                          ratio=float(longer))
    return [row, unsimplified]


def figures(ops: int, small_count: int, rounds: int) -> list[dict]:
    return large_figures(ops, rounds) + small_figures(small_count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{machine()}, SymPy {__import__('sympy').__version__}")
    print_table(figures(args.ops, args.small, args.rounds))


if __name__ == "__main__":
    main()
