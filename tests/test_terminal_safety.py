"""What bpcli echoes from its input is safe for the terminal, nothing from the input is lost silently, and
messages stay short: the installed `bpcli`, run as a real process and in a real pseudo-terminal.

- Every kind of echoed text (a CSV/TSV header or cell, a JSON Lines key or value, a --vars key or value,
  a -v name or value, a file name, --grid and --wrt text, the expression under its caret, Click's own
  usage errors) reaches the terminal with its control characters escaped: no escape sequence, bell,
  carriage return, C1 control or bidi override from the data arrives.
- Random bytes as a batch file give one short line.
- A -v value for a column of the batch input says that it wins; a quoted CSV field may hold line ends,
  and the rows still line up with the records.
- A message that lists names lists ten, then "… and N more"; an overlong line keeps its start and end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import CLEAN_ENV, in_terminal

from bpcli.errors import InputError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

# An OSC that sets the window title, a screen clear, a bidi override, an 8-bit CSI, a carriage return.
PAYLOAD = "\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m\rX"
# What must never reach a terminal from data (after the pty's own \r\n line ends are taken as \n).
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def unsafe(data: bytes) -> list[str]:
    return UNSAFE.findall(data.decode("utf-8", "replace").replace("\r\n", "\n"))


@pytest.fixture
def hostile(tmp_path):
    """Files whose header, cells, keys, values and program text carry PAYLOAD."""
    p = PAYLOAD
    (tmp_path / "head.csv").write_text(f"x{p},z\n1,2\n")
    (tmp_path / "head.tsv").write_text(f"x\ty{p}\n1\t2\n")
    (tmp_path / "cell.csv").write_text(f"x,y\n1,2{p}\n")
    (tmp_path / "quoted.csv").write_text(f'x,y\n1,"2{p}\n"\n')
    (tmp_path / "cell.jsonl").write_text(json.dumps({"x": 1, "y": "2" + p}) + "\n")
    (tmp_path / "key.jsonl").write_text(json.dumps({"x" + p: 1, "y": 2}) + "\n")
    (tmp_path / "key.json").write_text(json.dumps({"a" + p: 1}))
    (tmp_path / "value.json").write_text(json.dumps({"x": "1" + p}))
    (tmp_path / "key.vars").write_text(f"x{p} = 1\n")
    (tmp_path / "prog.bp").write_text(f"y = x*2\nz = y +{p} 1\n")
    (tmp_path / "ok.bp").write_text("y = x*2\n")
    return tmp_path


ECHOES = {
    "csv header": "grad 'x*y' --batch head.csv",
    "tsv header": "grad 'x*y' --batch head.tsv",
    "csv cell": "grad 'x*y' --batch cell.csv",
    "quoted csv cell": "grad 'x*y' --batch quoted.csv",
    "jsonl value": "grad 'x*y' --batch cell.jsonl",
    "jsonl key": "grad 'x*y' --batch key.jsonl",
    "--vars key": "grad x --vars key.json -v x=1",
    "--vars value": "grad x --vars value.json",
    "--vars line": "grad x --vars key.vars",
    "program": "grad -f prog.bp -v x=1",
    "expression": 'grad "x+$P" -v x=1',
    "expression on stdin": 'printf "x*%s" "$P" | bpcli grad - -v x=1',
    "-v name": 'grad x -v "x$P=1"',
    "-v value": 'grad x -v "x=1$P"',
    "--grid text": 'grad x --grid "x=0:1$P:1"',
    "--grid name": 'grad x --grid "x$P=0:1:1"',
    "--batch file name": 'grad "x*y" --batch "no$P.csv"',
    "-f file name": 'grad -f "no$P"',
    "--vars file name": 'grad x --vars "no$P"',
    "--wrt": 'grad x -v x=1 --wrt "q$P"',
    "--output": 'grad -f ok.bp -v x=1 --output "q$P"',
    "--perturb": 'grad x -v x=1 --perturb "$P"',
    "command": '"gr${P}ad" x',
    "--format": 'grad x -v x=1 --format "$P"',
    "--digits": 'grad x -v x=1 --digits "$P"',
    "extra argument": 'grad x "y$P"',
    "option": 'grad x "--no$P"',
    "completion shell": 'completion "$P"',
}


def test_no_control_character_from_data_reaches_the_terminal(installed, hostile):
    """Every kind of echoed text in one test, which names the kinds that leak (some were always quoted
    with repr(), which escapes; the test holds them all to the rule)."""
    leaks, silent = {}, []
    for kind, args in ECHOES.items():
        command = args.replace("bpcli", str(installed / "bpcli")) if "|" in args else f"{installed / 'bpcli'} {args}"
        screen = in_terminal(command, 80, hostile, env={"P": PAYLOAD})
        if screen.code not in (2, 3) or "bpcli: error" not in screen.text:
            silent.append((kind, screen.code, screen.text))
        if unsafe(screen.data):
            leaks[kind] = screen.data
    assert leaks == {} and silent == []


def test_what_is_echoed_is_shown_escaped_not_dropped(installed, hostile):
    screen = in_terminal(f"{installed / 'bpcli'} grad 'x*y' --batch head.csv", 80, hostile)
    assert r"(it has: x\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m)" in screen.text, screen.text  # (\r ends the line)


def test_the_caret_stays_under_its_character_after_escapes(installed, tmp_path):
    screen = in_terminal(f"{installed / 'bpcli'} grad \"$(printf 'x\\t\\t+*y')\" -v x=1,y=2", 80, tmp_path)
    source = next(line for line in screen.lines if "+*y" in line)
    caret = screen.lines[screen.lines.index(source) + 1]
    assert source == r"  x\t\t+*y" and caret.index("^") == source.index("*"), screen.text


def test_the_caret_counts_escapes_before_it():
    err = InputError("unexpected '*'", "a\x1b\u202eb+*c", 5)
    _, line, caret = err.lines()
    assert line == r"  a\x1b\u202eb+*c" and caret.index("^") == line.index("*")


def test_no_name_the_grammar_accepts_holds_a_character_that_is_escaped():
    """Tables on stdout show only names from the expression, so nothing there needs escaping: every
    character of a name (the grammar's NAME, the same pattern in fastparse and -v) prints as itself."""
    from bpcli.errors import escaped

    word = re.compile(r"\w")
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    letters = "".join(word.findall(every))
    assert escaped(letters) == letters


def test_random_bytes_as_a_batch_give_one_short_line(installed, tmp_path):
    for fmt in ("csv", "tsv", "jsonl"):
        screen = in_terminal(f"{installed / 'bpcli'} grad 'x*y' --batch /dev/urandom --batch-format {fmt}", 80,
                             tmp_path, timeout=60)
        assert screen.code in (2, 3) and len(screen.lines) == 1 and len(screen.data) < 300, (fmt, screen.data)
        assert screen.lines[0].startswith("bpcli: error:") and unsafe(screen.data) == []


def bpcli(installed, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed / "bpcli"), *args], input=input, capture_output=True, text=True,
                          env=CLEAN_ENV, timeout=120, check=False)


@pytest.mark.parametrize("fmt,text,what", [
    ("csv", "x,y\n1,2\n3,4\n", "column"),
    ("tsv", "x\ty\n1\t2\n3\t4\n", "column"),
    ("jsonl", '{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n', "key"),
])
def test_a_value_given_with_v_for_a_column_says_it_wins(installed, fmt, text, what):
    r = bpcli(installed, "grad", "x*y", "--batch", "-", "--batch-format", fmt, "-v", "x=100", "--format", "csv",
              input=text)
    assert r.returncode == 0 and r.stdout.splitlines()[1:] == ["2.0,200.0,2.0,100.0", "4.0,400.0,4.0,100.0"]
    says = f"-v x: takes precedence over the x {what} of the batch input, which is ignored"
    assert r.stderr == f"bpcli: warning: {says}\n"
    quiet = bpcli(installed, "grad", "x*y", "--batch", "-", "--batch-format", fmt, "-v", "x=100", "-q", input=text)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_a_quoted_line_end_stays_inside_its_record(installed):
    text = 'x,y,note\n3,4,"line one\nline two"\n5,6,"a ""quoted"" word, with a comma"\n7,8,plain\n'
    for given in (text, text.replace("\n", "\r\n"), text.replace(",", "\t")):
        fmt = "tsv" if "\t" in given else "csv"
        r = bpcli(installed, "grad", "x*y", "--batch", "-", "--batch-format", fmt, "--format", "csv", input=given)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert r.stdout.splitlines() == ["x,y,value,d_x,d_y", "3.0,4.0,12.0,4.0,3.0", "5.0,6.0,30.0,6.0,5.0",
                                         "7.0,8.0,56.0,8.0,7.0"]


def test_row_numbers_count_records_not_lines(installed):
    r = bpcli(installed, "grad", "x*y", "--batch", "-", "--on-error", "null",
              input='x,y,note\n1,2,"a\nb\nc"\nq,3,"d\ne"\n5,6,"f"\n')
    assert r.returncode == 3 and r.stdout.splitlines()[1:] == ["1.0,2.0,2.0,2.0,1.0", ",,,,", "5.0,6.0,30.0,6.0,5.0"]
    assert r.stderr.splitlines()[0] == "bpcli: error: row 2: x: 'q' is not a number (or too large)"


def test_a_quoted_field_never_closed_fails_its_row(installed):
    r = bpcli(installed, "grad", "x*y", "--batch", "-", input='x,y,note\n1,2,ok\n3,4,"open\n5,6,more\n')
    assert r.returncode == 3 and r.stdout.splitlines()[1:] == ["1.0,2.0,2.0,2.0,1.0"]
    assert 'row 2: a quoted field has no closing quote (")' in r.stderr


def test_quoted_line_ends_across_blocks_keep_every_row(installed, tmp_path):
    """Enough multi-line records that the 64 KiB blocks are cut near (and must not be cut inside) quoted
    fields, "" pairs among them; from a file and from a pipe."""
    records = [f'{i},{-i},"{"ab" * (i % 50)}\n""{i % 7}""\r\n{"z" * (i % 13)}"' for i in range(30_000)]
    path = tmp_path / "notes.csv"
    path.write_text("x,y,note\n" + "\n".join(records) + "\n")
    for args, given in ((["--batch", str(path)], None), (["--batch", "-"], path.read_text())):
        r = bpcli(installed, "grad", "x*y", *args, "--wrt", "x", input=given)
        rows = r.stdout.splitlines()[1:]
        assert r.returncode == 0 and r.stderr == "" and len(rows) == 30_000, r.stderr[:300]
        assert all(row == f"{float(i)},{float(-i)},{float(-i * i)},{float(-i)}" for i, row in enumerate(rows))


def test_a_message_lists_ten_names_and_counts_the_rest(installed, tmp_path):
    r = bpcli(installed, "grad", "-", input="+".join(f"x{i}" for i in range(100_000)))
    assert r.returncode == 2 and len(r.stderr) < 300, r.stderr[:300]
    assert "no value for x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, … and 99990 more" in r.stderr


def test_a_wide_header_is_listed_with_a_count(installed):
    header = ",".join(f"c{i}" for i in range(50_000))
    r = bpcli(installed, "grad", "x*y", "--batch", "-", input=header + "\n" + ",".join("1" * 50_000) + "\n")
    assert r.returncode == 2 and len(r.stderr) < 300, r.stderr[:300]
    assert "(it has: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, … and 49990 more)" in r.stderr


def test_values_for_many_unused_names_warn_ten_times_then_count(installed, tmp_path):
    (tmp_path / "many.json").write_text(json.dumps({f"a{i}": 1 for i in range(10_000)}))
    r = bpcli(installed, "grad", "x", "-v", "x=1", "--vars", str(tmp_path / "many.json"), "--format", "csv")
    lines = r.stderr.splitlines()
    assert r.returncode == 0 and len(lines) == 11 and lines[-1].endswith("… and 9990 more values for names the "
                                                                         "expression does not use"), lines


def test_one_long_name_is_cut(installed):
    r = bpcli(installed, "grad", "x", "-v", "x=1", "--wrt", "q" * 100_000)
    assert r.returncode == 2 and len(r.stderr) < 1_200, len(r.stderr)


def test_an_overlong_message_line_keeps_its_start_and_its_end(installed):
    r = bpcli(installed, "grad", "x", "-v", "x=" + "1" * 100_000)
    assert r.returncode == 2 and len(r.stderr) < 1_100, len(r.stderr)
    assert r.stderr.startswith("bpcli: error: -v x=111") and "characters cut" in r.stderr
    assert r.stderr.endswith(": the number is too large for double precision\n")


def test_a_quote_never_closed_stops_at_the_record_limit(installed):
    """Everything after an opening quote is one field, whatever line ends follow: the size limit of a line
    holds for the record, with a message that names the likely cause, and comes at once."""
    r = bpcli(installed, "grad", "x*y", "--batch", "-", input='x,y\n1,"' + "a\n" * 9_000_000)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("bpcli: error: the batch input has a quoted field (its closing quote missing?) longer "
                        "than 16 MiB\n")
