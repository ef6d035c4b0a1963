"""Parsed statements to Graph: statements in order, each expression's postfix items in one loop.

A program's assigned names become node names (`v = x*y` names that gate v); the other gates get
the lecture's names v, u, t, … skipping every name in use, and the output is f. Gates the output does
not depend on are dropped and reported, not silently evaluated. Checks: unknown functions (with the
nearest known name), arity, bare function names, reassignment, use before assignment.
"""

from __future__ import annotations

import bisect
import functools
import re
from typing import Any

from bpcli.language import names
from bpcli import primitives
from bpcli.language import syntax
from bpcli.errors import InputError, listed
from bpcli.core.graph import CONST, INPUT, Graph, Node, make_node


def lower(program: syntax.Program, source: str, output: str | None = None) -> Graph:
    """Lower a parsed program to a Graph; its output is the last statement, or the assigned name `output`."""
    return _Lowering(source, program).run(output)


class _Lowering:
    """One lowering: leaves keyed by name or literal (shared), gates in computation order."""

    def __init__(self, source: str, program: syntax.Program) -> None:
        self.source = source
        self.program = program
        self.leaves: list[Node] = []
        self.leaf_index: dict[tuple[str, str], int] = {}
        self.gates: list[tuple[str, tuple[int, ...], syntax.Span]] = []
        self.gate_names: dict[int, str] = {}   # gate position → the name a statement gave it
        self.env: dict[str, int] = {}          # assigned name → reference
        self.leaf_refs: dict[str, int] = {}    # a name already found to be an input or a constant → its leaf
        self.assigned = self.assignments()

    # References: a leaf is ~i (negative), a gate is its position in self.gates.
    def leaf(self, op: str, name: str, span: syntax.Span, value: float | None = None) -> int:
        key = (op, name)
        if key not in self.leaf_index:
            self.leaf_index[key] = len(self.leaves)
            self.leaves.append(make_node((name, op, (), span, value)))
        return ~self.leaf_index[key]

    def gate(self, op: str, args: tuple[int, ...], span: syntax.Span) -> int:
        self.gates.append((op, args, span))
        return len(self.gates) - 1

    def assignments(self) -> dict[str, syntax.Statement]:
        """Every assigned name with its statement; InputError on reassignment or a reserved name."""
        found: dict[str, syntax.Statement] = {}
        for st in self.program.statements:
            if st.name is not None:
                if st.name in primitives.CONSTANTS or st.name in primitives.FUNCTIONS:
                    kind = "a constant" if st.name in primitives.CONSTANTS else "a function"
                    raise InputError(f"cannot assign to {st.name}: it is {kind}", self.source, _name_start(st))
                if st.name in found:
                    raise InputError(f"{st.name} is assigned twice (first at {self.where(found[st.name])})",
                                     self.source, _name_start(st))
                found[st.name] = st
        return found

    def where(self, st: syntax.Statement) -> str:
        """`line 3` in a program of several lines, `column 9` in a one-line program."""
        start = st.span[0]
        if "\n" in self.source:
            return f"line {bisect.bisect_right(self.line_starts, start)}"
        return f"column {start + 1}"

    @functools.cached_property
    def line_starts(self) -> list[int]:
        """Offsets where lines start (found once: a warning per statement must not rescan the source)."""
        return [0] + [m.end() for m in re.finditer("\n", self.source)]

    def run(self, output: str | None) -> Graph:
        root = 0
        self.bare: list[tuple[syntax.Statement, int]] = []  # expression statements and their top references
        for st in self.program.statements:
            if st.name is not None:
                root = self.statement(st)
            else:
                root = self.expression(st.items)
                self.bare.append((st, root))
            st.items = []  # consumed: a 10⁶-node program must not hold its items and its gates at once
        if output is not None:
            if output not in self.env:
                have = listed(self.env) or "none"
                raise InputError(f"--output {output}: not a name the program assigns (it assigns: {have})")
            root = self.env[output]
        return self.build(root)

    def statement(self, st: syntax.Statement) -> int:
        """Lower `name = value`: the value's new top gate takes the name; otherwise the name is an alias."""
        assert st.name is not None   # called for assignments only
        before = len(self.gates)
        ref = self.expression(st.items)
        if ref >= before and ref not in self.gate_names:
            self.gate_names[ref] = st.name
        self.env[st.name] = ref
        return ref

    def expression(self, items: list) -> int:
        """Lower one expression's postfix items (bpcli.language.syntax): leaves and gates, operands first."""
        results: list[int] = []
        last = len(items) - 1
        gates, binary, env, leaf_refs = self.gates, primitives.BINARY, self.env, self.leaf_refs
        calls_seen: set[tuple[str, int]] = set()  # (function, number of arguments) already checked
        for i, (kind, text, span, extra) in enumerate(items):
            if kind == syntax.BINARY:  # the commonest first; self.gate, written out
                right = results.pop()
                gates.append((binary[text], (results[-1], right), span))
                results[-1] = len(gates) - 1
            elif kind == syntax.VAR:
                ref = env.get(text)
                if ref is None:
                    ref = leaf_refs.get(text)
                    if ref is None:
                        ref = self.variable(text, span)
                        if text not in self.assigned:
                            leaf_refs[text] = ref  # an input or a constant: it names the same leaf from now on
                results.append(ref)
            elif kind == syntax.NUM:
                if i < last and items[i + 1][0] == syntax.UNARY and items[i + 1][1] == "-":
                    continue  # -2 is one constant (so x^-2 shows as x^-2, not a gate): made at the sign
                results.append(self.leaf(CONST, text, span, extra))
            elif kind == syntax.UNARY:
                if text == "+":
                    continue  # a unary plus is no gate
                if items[i - 1][0] == syntax.NUM:  # the operand is exactly that number
                    num = items[i - 1]
                    results.append(self.leaf(CONST, "-" + num[1], span, -num[3]))
                else:
                    results[-1] = self.gate(primitives.UNARY[text], (results[-1],), span)
            else:
                n, name_span = extra
                if (text, n) not in calls_seen:
                    self.check_call(text, n, name_span)
                    calls_seen.add((text, n))
                if n == 1:   # the commonest call, sin(v): its argument's place takes the gate, as for an operator
                    gates.append((text, (results[-1],), span))
                    results[-1] = len(gates) - 1
                    continue
                args = tuple(results[len(results) - n:])
                del results[len(results) - n:]
                results.append(self.gate(text, args, span))
        return results.pop()

    def variable(self, name: str, span: syntax.Span) -> int:
        if name in self.env:
            return self.env[name]
        if name in self.assigned:
            raise InputError(f"{name} is used before it is assigned (at {self.where(self.assigned[name])})",
                             self.source, span[0])
        if name in primitives.CONSTANTS:
            return self.leaf(CONST, name, span, primitives.CONSTANTS[name])
        if name in primitives.FUNCTIONS:
            raise InputError(f"{name} is a function: call it as {name}(…)", self.source, span[0])
        return self.leaf(INPUT, name, span)

    def check_call(self, name: str, n: int, name_span: syntax.Span) -> None:
        if name not in primitives.FUNCTIONS:
            raise InputError(_unknown_function(name), self.source, name_span[0])
        op = primitives.OPS[name]
        if not op.accepts(n):
            want = "at least 2 arguments" if op.arity is None else _plural(op.arity, "argument")
            raise InputError(f"{name} takes {want}, got {n}", self.source, name_span[0])

    def build(self, root: int) -> Graph:
        """Keep what the output depends on, number leaves then gates, and name the gates."""
        keep_leaf, keep_gate = self.reachable(root)
        leaves = [leaf for leaf, keep in zip(self.leaves, keep_leaf) if keep]
        gates = [j for j, keep in enumerate(keep_gate) if keep]
        # where[ref] is a reference's final position; a leaf's reference ~i is negative, so it indexes
        # from the end of the list, where the leaves' positions are stored backwards
        where = [0] * (len(self.gates) + len(self.leaves))
        for k, i in enumerate(i for i, keep in enumerate(keep_leaf) if keep):
            where[~i] = k
        for k, j in enumerate(gates, len(leaves)):
            where[j] = k
        at = where.__getitem__
        nodes = leaves
        table: list[Any] = self.gates   # each gate becomes None once its node is made
        for j, name in zip(gates, self.names(gates, root, leaves)):
            op, args, span = table[j]
            table[j] = None  # consumed as the nodes are made, so both are not held whole at once
            nodes.append(make_node((name, op, (at(args[0]), at(args[1])) if len(args) == 2 else tuple(map(at, args)),
                                    span, None)))
        assigned = {name: _name_start(st) for name, st in self.assigned.items()}
        return Graph(self.source, tuple(nodes), at(root), assigned, self.unused(keep_gate), pruned=True)

    def reachable(self, root: int) -> tuple[list[bool], list[bool]]:
        keep_leaf, keep_gate = [False] * len(self.leaves), [False] * len(self.gates)
        if root < 0:
            keep_leaf[~root] = True
            return keep_leaf, keep_gate
        keep_gate[root] = True
        for j in range(root, -1, -1):
            if keep_gate[j]:
                for a in self.gates[j][1]:
                    if a < 0:
                        keep_leaf[~a] = True
                    else:
                        keep_gate[a] = True
        return keep_leaf, keep_gate

    def names(self, gates: list[int], root: int, leaves: list[Node]) -> list[str]:
        """A statement's name where it gave one; else f for the output and v, u, t, … for the rest."""
        taken = {leaf.name for leaf in leaves if leaf.op == INPUT}
        taken.update(self.env)
        output = names.output_name(taken)
        taken.add(output)
        if gates and not self.gate_names:  # no names given: the output is the last gate kept
            found = names.intermediates(taken, len(gates) - 1)
            found.append(output)
            return found
        fresh = names.intermediate_names(taken)
        return [self.gate_names.get(j) or (output if j == root else next(fresh)) for j in gates]

    def unused(self, keep_gate: list[bool]) -> tuple[str, ...]:
        out = []
        for name, st in self.assigned.items():
            ref = self.env.get(name)
            if ref is not None and ref >= 0 and not keep_gate[ref]:
                out.append(f"{self.where(st)}: {name} is assigned but the output does not use it; "
                           "it is not evaluated")
        for st, ref in self.bare[:-1] if self.bare and self.bare[-1][0] is self.program.statements[-1] else self.bare:
            if ref >= 0 and not keep_gate[ref]:
                out.append(f"{self.where(st)}: this expression is not the output and nothing uses it; "
                           "it is not evaluated")
        return tuple(out)


def _name_start(st: syntax.Statement) -> int:
    """Where an assignment's name starts in the source (every assignment has its name's span)."""
    assert st.name_span is not None
    return st.name_span[0]


# What other tools call functions that bpcli writes another way (only names bpcli lacks).
ALIASES = {
    "ln": "log(…)", "log10": "log(…)/log(10)", "log2": "log(…)/log(2)", "exp2": "2^(…)",
    "pow": "a^b", "sqr": "(…)^2", "square": "(…)^2", "fabs": "abs(…)",
    "logistic": "sigmoid(…)", "expit": "sigmoid(…)", "maximum": "max(…)", "minimum": "min(…)",
}


def _unknown_function(name: str) -> str:
    """The message for a call of an unknown name: its bpcli spelling, the nearest known name, or the list."""
    lower = name.lower()
    if lower in ALIASES:
        return f"unknown function {name!r}: write {ALIASES[lower]}"
    if lower in primitives.FUNCTIONS:
        return f"unknown function {name!r}: did you mean {lower}? bpcli's functions are lower case"
    # fewest edits first; among equals the one of the same length (tahn: tanh, not tan)
    typos = sorted((_edits(name, f), abs(len(f) - len(name)), f) for f in primitives.FUNCTIONS)
    edits, _, close = typos[0]
    if edits <= max(1, len(name) // 3):
        return f"unknown function {name!r}: did you mean {close}?"
    return (f"unknown function {name!r} (known: {', '.join(primitives.FUNCTIONS)}); "
            f"for a product write {name}*(…)")


def _edits(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours that turn a into b."""
    if len(a) > 2 * len(b) + 2:  # no suggestion for a long name: spare the table
        return len(a)
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row = row, [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], before[j - 2] + 1)
        before = previous
    return row[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
