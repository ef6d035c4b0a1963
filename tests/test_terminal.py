"""bpcli as a person uses it: the installed `bpcli` in a real pseudo-terminal, 80 and 60 columns wide, with a
terminal emulator reading the screen. Results redirected to a file while stderr is the terminal, tables on
the screen, the progress bar, and Ctrl-C."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import CLEAN_ENV, ROOT, in_terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

WIDTHS = (80, 60)
LECTURE = "grad '(w+x*y)*z' -v w=5,x=3,y=2,z=4"
NEURON = "grad 'tanh(w1*x1+w2*x2+b)' -v w1=0.5,x1=1.5,w2=-0.3,x2=2,b=0.1"
NETWORK = f"grad -f {ROOT}/examples/lecture_network.bp --vars {ROOT}/examples/lecture_network.vars"
DIFFS = ("diff 'x^2*sin(x)'", "diff '(w+x*y)*z' -v w=5,x=3,y=2,z=4", "diff 'sigmoid(w*x+b)' --order 2",
         f"diff -f {ROOT}/examples/lecture_network.bp --vars {ROOT}/examples/lecture_network.vars --wrt b11,a11",
         "grad 'sigmoid(w*x+b)' -v w=0.5,x=2,b=-1 --order 2 --perturb")


@pytest.fixture
def points(tmp_path):
    (tmp_path / "pts.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "pts.tsv").write_text("x\ty\n1\t2\n3\t4\n")
    (tmp_path / "pts.jsonl").write_text('{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n')
    return tmp_path


def _bpcli(installed) -> str:
    return str(installed / "bpcli")


@pytest.mark.parametrize("cols", WIDTHS)
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
@pytest.mark.parametrize("given", ["--batch pts.{fmt}", "--batch - < pts.{fmt}", "--grid x=1:3:2 -v y=2"])
def test_rows_reach_a_redirected_stdout(installed, points, cols, fmt, given):
    more = given.format(fmt=fmt) + (f" --batch-format {fmt}" if "-" in given.split() else "")
    screen = in_terminal(f"{_bpcli(installed)} grad 'x*y' {more} --format {fmt} > out", cols, points)
    written = (points / "out").read_text().splitlines()
    assert screen.code == 0 and screen.lines == [], screen.text
    assert len(written) == (2 if fmt == "jsonl" else 3), written


@pytest.mark.parametrize("args", [
    f"{LECTURE}", f"{LECTURE} --perturb --explain", f"{LECTURE} --format json", f"{LECTURE} --format csv",
    "eval 'sin(x)^2 + cos(x)^2' -v x=1", "step '(w+x*y)*z' -v w=5,x=3,y=2,z=4 --target 33 --lr 0.001 --steps 3",
    "graph '(w+x*y)*z' -v w=5,x=3,y=2,z=4", "graph '(w+x*y)*z' --format dot", "code '(w+x*y)*z' --lang c",
    "completion bash", NETWORK, *DIFFS,
])
def test_every_command_writes_to_a_redirected_stdout_what_it_writes_to_a_pipe(installed, tmp_path, args):
    screen = in_terminal(f"{_bpcli(installed)} {args} > out", 80, tmp_path)
    piped = subprocess.run(f"{_bpcli(installed)} {args}", shell=True, capture_output=True, text=True,
                           cwd=tmp_path, env=CLEAN_ENV)
    assert screen.code == piped.returncode == 0 and screen.lines == [], screen.text
    assert (tmp_path / "out").read_text() == piped.stdout and piped.stdout.strip()


def _too_wide_or_cut(screen, cols: int) -> list[str]:
    return [line for line in screen.lines if len(line) > cols or "…" in line]


@pytest.mark.parametrize("cols", WIDTHS)
@pytest.mark.parametrize("args", [
    f"{LECTURE} --perturb", f"{LECTURE} --perturb --explain", f"{LECTURE} --perturb-method forward",
    f"{NEURON} --perturb --explain", f"{NEURON} --perturb-method forward", f"{NETWORK} --perturb",
    f"{NETWORK} --perturb-method forward", "eval 'sin(x)^2 + cos(x)^2' -v x=1", *DIFFS,
])
def test_tables_fit_the_terminal(installed, tmp_path, cols, args):
    screen = in_terminal(f"{_bpcli(installed)} {args}", cols, tmp_path)
    assert screen.code == 0
    assert _too_wide_or_cut(screen, cols) == [], screen.text


@pytest.mark.parametrize("cols", WIDTHS)
def test_headers_are_whole_at_every_width(installed, tmp_path, cols):
    screen = in_terminal(f"{_bpcli(installed)} {NEURON} --perturb-method forward", cols, tmp_path)
    words = re.findall(r"\S+", screen.text)
    for header in ("upstream", "product", "backprop", "numeric", "verdict"):
        assert header in words, (header, screen.text)


def test_tables_show_a_slides_digits_and_json_keeps_them_all(installed, tmp_path):
    screen = in_terminal(f"{_bpcli(installed)} {NEURON}", 80, tmp_path)
    assert "0.244919" in screen.text and "0.244918662404" not in screen.text
    screen = in_terminal(f"{_bpcli(installed)} {NEURON} --digits 12", 80, tmp_path)
    assert "0.244918662404" in screen.text
    screen = in_terminal(f"{_bpcli(installed)} {NEURON} --format json > out", 80, tmp_path)
    assert "0.24491866240370913" in (tmp_path / "out").read_text()


def test_piped_tables_take_the_terminals_width(installed, tmp_path):
    screen = in_terminal(f"{_bpcli(installed)} {NETWORK} --perturb | cat", 60, tmp_path)
    assert screen.code == 0 and _too_wide_or_cut(screen, 60) == [], screen.text
    piped = subprocess.run(f"{_bpcli(installed)} {NETWORK} --perturb", shell=True, capture_output=True, text=True,
                           cwd=tmp_path, env={k: v for k, v in CLEAN_ENV.items() if k != "COLUMNS"})
    assert max(map(len, piped.stdout.splitlines())) <= 80


@pytest.fixture
def rows_1e5(tmp_path):
    (tmp_path / "big.csv").write_text("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(100_000)))
    return tmp_path


def test_a_long_batch_shows_a_bar_on_stderr_and_clears_it(installed, rows_1e5):
    screen = in_terminal(f"{_bpcli(installed)} grad 'x*y' --batch big.csv > out.csv", 80, rows_1e5,
                         env={"BPCLI_PROGRESS_AFTER": "0"})
    size = f"of {(rows_1e5 / 'big.csv').stat().st_size / 1000:.1f} kB"
    assert screen.code == 0
    assert any(line.startswith("rows ━") and line.endswith(size + " 0:00:00") for line in screen.lines), screen.text
    assert screen.visible == []  # the bar is cleared when the batch ends
    assert len((rows_1e5 / "out.csv").read_text().splitlines()) == 100_001


def test_a_pipe_of_unknown_size_is_counted_not_guessed(installed, rows_1e5):
    screen = in_terminal(f"cat big.csv | {_bpcli(installed)} grad 'x*y' --batch - > out.csv", 80, rows_1e5,
                         env={"BPCLI_PROGRESS_AFTER": "0"})
    assert screen.code == 0
    bars = [line for line in screen.lines if line.startswith("rows ")]
    assert bars and all(" read" in line and "/0" not in line and "of" not in line for line in bars), screen.text


def test_no_bar_when_the_rows_go_to_the_terminal(installed, points):
    screen = in_terminal(f"{_bpcli(installed)} grad 'x*y' --batch pts.csv", 80, points,
                         env={"BPCLI_PROGRESS_AFTER": "0"})
    assert screen.code == 0 and screen.lines == ["x,y,value,d_x,d_y", "1.0,2.0,2.0,2.0,1.0", "3.0,4.0,12.0,4.0,3.0"]


def test_ctrl_c_ends_a_batch_with_130_and_whole_rows(installed, tmp_path):
    slow = f"{sys.executable} -c \"import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n" \
           f"print('x,y')\nfor i in range(10**6):\n    print(f'{{i}},{{i}}', flush=True); time.sleep(0.0005)\""
    screen = in_terminal(f"{slow} | {_bpcli(installed)} grad 'x*y' --batch - > out.csv", 80, tmp_path,
                         env={"BPCLI_PROGRESS_AFTER": "0"}, interrupt_after=2.5)
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert screen.code == 130 and "bpcli: interrupted" in screen.lines, screen.text
    assert "Traceback" not in screen.text and not any(line.startswith("rows ") for line in screen.visible)
    assert rows[0] == "x,y,value,d_x,d_y" and len(rows) > 1
    assert all(len(row.split(",")) == 5 for row in rows[1:]), rows[-3:]


def test_a_batch_on_standard_input_at_a_terminal_says_it_waits(installed, tmp_path):
    screen = in_terminal(f"{_bpcli(installed)} grad 'x*y' --batch -", 80, tmp_path, keys=b"x,y\n3,4\n\x04")
    assert screen.code == 0 and "bpcli: reading the batch's rows from standard input (end with Ctrl-D)" in screen.lines
    assert screen.lines[-1] == "3.0,4.0,12.0,4.0,3.0"


@pytest.mark.parametrize("command", ["grad", "diff", "eval", "step", "graph", "code", "completion", ""])
def test_help_fits_80_columns(installed, tmp_path, command):
    screen = in_terminal(f"{_bpcli(installed)} {command} --help", 80, tmp_path)
    assert screen.code == 0 and [line for line in screen.lines if len(line) > 80] == []
