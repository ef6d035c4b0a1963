"""--explain: the chain rule path by path, grouped where paths explode."""

from __future__ import annotations

import math
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from bpcli.core.explain import MAX_CHAIN, MAX_PATHS
from bpcli import numfmt
from bpcli.api import explain, grad

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ["grad", "-f", "examples/lecture_network.bp", "--vars", "examples/lecture_network.vars"]


def fmt(x: float) -> str:
    """A number as the tables show it."""
    return numfmt.fmt(x, numfmt.TABLE_DIGITS)


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    """Output as a person at an 80-column terminal would get it, piped: the layout's width is the console's."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(ROOT)


def by_name(source, point):
    return {ex.name: ex for ex in explain(grad(source, point))}


def chain_rule(out: str) -> str:
    """The --explain part of `bpcli grad`'s output."""
    return out.split("Chain rule, path by path (--explain)\n", 1)[1]


def unwrapped(text: str) -> str:
    """Equations as one line each: continued lines (indented, led by `·`, `+` or `=`) joined back."""
    return re.sub(r"\n +(?=[+=])", " ", re.sub(r"\n +·", "·", text))


def test_lecture_paths():
    ex = by_name("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4})
    x = ex["x"]
    assert x.paths == 1 and not x.grouped
    (term,) = x.terms
    assert term.chain == ["f", "u", "v", "x"] and term.factors == [4, 1, 2] and term.product == 8
    assert ex["z"].terms[0].chain == ["f", "z"]


def test_fan_out_sums_the_paths():
    x = by_name("x*x + sin(x)", {"x": 0.5})["x"]
    assert x.paths == 3 and sum(t.product for t in x.terms) == pytest.approx(x.total)
    assert x.total == pytest.approx(1 + math.cos(0.5))


def test_exploding_paths_are_grouped_by_the_consumers():
    program = "a = x*x; b = a*a; c = b*b; d = c*c; g = d*d; g"  # 2^5 = 32 paths
    x = by_name(program, {"x": 1.01})["x"]
    assert x.paths == 32 > MAX_PATHS and x.grouped
    assert [t.chain for t in x.terms] == [["g", "a", "x"], ["g", "a", "x"]]
    assert sum(t.product for t in x.terms) == pytest.approx(x.total)


def test_every_path_product_sums_to_the_gradient():
    source = "max(x, y) * tanh(x*y) + x^3 / (1 + y*y)"
    r = grad(source, {"x": 0.7, "y": -1.3})
    for ex in explain(r):
        assert sum(t.product for t in ex.terms) == pytest.approx(r.gradient[ex.name], rel=1e-12)


@pytest.mark.slow
def test_deep_chain_is_grouped(run):
    r = run("grad", "-", "-v", "x=0.5", "--explain", input="sin(" * 20000 + "x" + ")" * 20000)
    assert r.code == 0 and "(a path of 20000 links: grouped by the gates that use x)" in r.out


@pytest.mark.parametrize("links,grouped", [(MAX_CHAIN, False), (MAX_CHAIN + 1, True)])
def test_a_path_longer_than_max_chain_is_grouped(links, grouped):
    (x,) = explain(grad("x" + "+1" * links, {"x": 2.0}))
    assert (x.links, x.grouped, x.total) == (links, grouped, 1.0)
    assert len(x.terms) == 1 and len(x.terms[0].chain) == (3 if grouped else links + 1)


def test_a_long_chain_that_is_listed_shows_its_ends(run):
    r = run("grad", "x" + "+1" * 40, "-v", "x=2", "--explain")
    assert r.code == 0 and "…(8 more)…" in r.out


def test_a_chain_of_twenty_links_is_shown_whole_on_continued_lines(run):
    text = chain_rule(run("grad", "x" + "+1" * 20, "-v", "x=2", "--explain").out)
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    assert unwrapped(text).count("/∂") == 1 + 20 and "= " + "·".join(["1"] * 20) + " = 1" in unwrapped(text)


def test_many_inputs_each_deep_is_linear():
    # ∂f/∂x_i for f = x0*x0 + … + x_n*x_n: paths n − i links long. Listing them all would be quadratic
    # (10⁸ links at n = 10⁴); grouped, every input has one term of three names.
    n = 3000
    result = grad("+".join(f"x{i}*x{i}" for i in range(n)), {f"x{i}": 1.0 for i in range(n)})
    explanations = explain(result)
    assert sum(len(t.chain) for ex in explanations for t in ex.terms) < 10 * n
    assert all(ex.total == 2.0 for ex in explanations)


def test_cli_explain(run):
    r = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--explain")
    assert "∂f/∂x = ∂f/∂u·∂u/∂v·∂v/∂x = 4·1·2 = 8" in r.out
    assert "∂f/∂z = ∂f/∂f·∂f/∂z = 1·11 = 11" in r.out
    doc = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--explain", "--format", "json").json()
    assert doc["explain"]["x"]["terms"] == [{"chain": ["f", "u", "v", "x"], "factors": [4, 1, 2], "product": 8}]


@pytest.mark.slow
def test_path_counts_beyond_any_printable_number_are_capped(run):
    # 14 300 halvings of a sum: 2^14300 paths, a number Python will not print (over 4 300 digits)
    source = ";".join(["a0=x"] + [f"a{i}=(a{i-1}+a{i-1})/2" for i in range(1, 14300)])
    r = run("grad", "-", "-v", "x=1", "--explain", input=source)
    assert r.code == 0 and "(at least 2^53 paths: grouped by the gates that use x)" in r.out
    doc = run("grad", "-", "-v", "x=1", "--explain", "--format", "json", input=source).json()
    assert doc["explain"]["x"]["paths"] == 2 ** 53 and doc["explain"]["x"]["total"] == 1.0


def test_a_blank_line_parts_the_chain_rule_from_the_check(run):
    lines = run("grad", "x*y", "-v", "x=1,y=2", "--explain", "--perturb").out.splitlines()
    check = next(k for k, line in enumerate(lines) if line.startswith("Perturbation check"))
    assert lines[check - 1] == "" and lines[check - 2].startswith("∂f/∂y")


def test_one_link_paths_start_from_the_seed(run):
    out = run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4", "--explain").out
    assert "∂f/∂z = ∂f/∂f·∂f/∂z = 1·11 = 11\n" in out
    assert "∂f/∂w = ∂f/∂u·∂u/∂w = 4·1 = 4\n" in out   # longer paths do not start from it


def test_negative_factors_and_terms_are_in_brackets(run):
    out = unwrapped(chain_rule(run("grad", "x*x + x", "-v", "x=-1", "--explain").out))
    assert re.search(r" = 1·\(-1\) \+ 1·\(-1\) \+ 1·1 = \(-1\) \+ \(-1\) \+ 1 = -1\n", out)
    out = chain_rule(run("grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=-4", "--explain").out)
    assert "= (-4)·1·2 = -8" in out


def test_network_has_no_negative_number_after_an_operator(run):
    out = chain_rule(run(*NETWORK, "--explain").out)
    assert "(-" in out and not re.search(r"[·+] ?-", out)


def test_a_gate_that_takes_a_node_twice_numbers_its_uses():
    x = by_name("x*x + sin(x)", {"x": 0.5})["x"]
    assert [t.places for t in x.terms] == [(0, 1), (0, 2), (0, 0)]
    grouped = by_name("a = x*x; b = a*a; c = b*b; d = c*c; g = d*d; g", {"x": 1.01})["x"]
    assert [t.places for t in grouped.terms] == [(0, 1), (0, 2)]


def test_fan_out_terms_can_be_told_apart(run):
    out = unwrapped(chain_rule(run("grad", "x*x + sin(x)", "-v", "x=1", "--explain").out))
    uses = re.search(r"∂f/∂x = ∂f/∂(\w+)·∂\1/∂x₁ \+ ∂f/∂\1·∂\1/∂x₂ \+ ∂f/∂(\w+)·∂\2/∂x = ", out)
    assert f"  (x₁, x₂: x as the 1st and 2nd argument of {uses.group(1)} = x*x)\n" in out
    cos = fmt(math.cos(1))
    assert f" = 1·1 + 1·1 + 1·{cos} = 1 + 1 + {cos} = {fmt(2 + math.cos(1))}\n" in out


@pytest.mark.parametrize("width", [80, 60])
def test_the_network_shows_every_link_within_the_width(run, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    r = run(*NETWORK, "--explain")
    text = chain_rule(r.out)
    assert r.code == 0 and "…" not in text and max(map(len, text.splitlines())) <= width
    doc = run(*NETWORK, "--explain", "--format", "json").json()["explain"]
    whole = unwrapped(text)
    for name, ex in doc.items():
        for term in ex["terms"]:  # each path's links and locals whole, no number cut
            chain = term["chain"]
            assert "·".join(f"∂{a}/∂{b}" for a, b in zip(chain, chain[1:])) in whole, name
            assert "·".join(f"({fmt(v)})" if v < 0 else fmt(v) for v in term["factors"]) in whole, name


def test_many_gates_taking_a_node_twice_share_one_note(run):
    out = chain_rule(run("grad", "+".join(["x*x"] * 5), "-v", "x=1", "--explain").out)
    (note,) = re.findall(r"^  \(x₁, x₂:[^)]*\)$", out, re.M)   # wrapped at 80 columns, under itself
    note = re.sub(r"\n +", " ", note)
    assert note.count(" = x*x") == 3 and note.endswith(" and 2 more)")


def test_a_long_name_is_never_cut_by_the_continued_lines(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    name = "learning_rate_of_the_first_layer_weight"
    text = chain_rule(run("grad", f"{name}*x*x + sin(x)", "-v", f"{name}=-2,x=1", "--explain").out)
    assert max(map(len, text.splitlines())) <= 60
    assert re.search(rf"^ +·∂\w+/∂{name}$", text, re.M)


def screen(columns: int, *args: str) -> str:
    """What a terminal of `columns` columns shows for `python -m bpcli ARGS`: run in a pseudo-terminal, so
    Rich takes the terminal's own path (colour, its width from the terminal), escapes then removed."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "bpcli", *args], stdin=slave, stdout=slave, stderr=slave,
                             env=env, cwd=ROOT)
    os.close(slave)
    data = b""
    while select.select([master], [], [], 30)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:   # the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    child.wait(timeout=30)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", data.decode()).replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_network_in_a_real_terminal_of_80_columns():
    text = chain_rule(screen(80, *NETWORK, "--explain"))
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    assert "(-0.434" in text and "·∂u/∂a10\n" in text   # a continued chain, not an elided one
