"""Reading batch rows: the plain-number path (whole blocks converted by NumPy) reads exactly what the careful
path (line by line, float() for each field) reads, and declines whatever it cannot read the same way."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcli.points import records
from bpcli.points import readers

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# Numbers, and what is near them: signs, exponents, blanks, separators, quotes, words float() reads or not.
PIECES = ["0", "1", "7", "42", "-3.5", ".5", "5.", "1e3", "2E-2", "1e400", "1e-400", "0.1000000000000000055511",
          "+1", "-", "e", ".", "_", "1_0", "0x10", "inf", "nan", "nan(1)", "Infinity", " ", "\t", "\x0b", "\x0c",
          ",", "\n", "\r", "\r\n", '"', '"1"', "１", "x"]


def reader(fmt: str, width: int) -> readers._Rows:
    names = [f"c{k}" for k in range(width)]
    rows = readers._Rows(fmt, names)
    rows.set_header(rows.delimiter.join(names))
    rows.first = False
    return rows


def careful(fmt: str, width: int, block: bytes):
    return reader(fmt, width).parse_lines(*records.decode(block, False, "," if fmt == "csv" else "\t"))


def same(a, b) -> bool:
    (columns_a, problems_a), (columns_b, problems_b) = a, b
    return problems_a == problems_b and columns_a.keys() == columns_b.keys() and all(
        np.asarray(columns_a[k]).tobytes() == np.asarray(columns_b[k]).tobytes() for k in columns_a)


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.sampled_from(["csv", "tsv"]), st.integers(1, 3))
def test_plain_path_reads_what_the_careful_path_reads(pieces, fmt, width):
    block = "".join(pieces).encode()
    got = reader(fmt, width).parse(block)
    assert same(got, careful(fmt, width, block)), block


@FUZZ
@given(st.lists(st.lists(st.sampled_from(PIECES[:13] * 3 + PIECES[13:19] + [""] * 3), min_size=1, max_size=3),
                min_size=1, max_size=8), st.sampled_from(["csv", "tsv"]))
def test_plain_path_on_near_valid_tables(cells, fmt):
    # Rows of 2 fields built from number-like pieces: often valid, sometimes "1-2" or a field missing.
    sep = "\t" if fmt == "tsv" else ","
    block = "\n".join(sep.join("".join(cell) for cell in _pairs(row)) for row in cells).encode()
    got = reader(fmt, 2).parse(block)
    assert same(got, careful(fmt, 2, block)), block


def _pairs(row: list[str]) -> list[list[str]]:
    return [row[:1], row[1:]] if len(row) > 1 else [row]


@pytest.mark.parametrize("fmt,block,plain", [
    ("csv", b"1,2\n3,4", True), ("csv", b"1,2\r\n3,4\r", True), ("tsv", b"1\t2\n3\t-4e-3", True),
    ("csv", b"1, 2\n3,4", False), ("csv", b"1,2\n\n3,4", False), ("csv", b"1,\n2,3", False),
    ("csv", b"1,2,3\n4", False), ("csv", b'"1",2', False), ("csv", b"1,2\n3,inf", False),
    ("csv", b"1,-\n2,3", False), ("csv", b"3,4\n1,", False), ("tsv", b"1\t2\n3\t4,5", False),
    # a field that is not a number next to a missing one: the count of numbers must not come out right
    ("csv", b"1-2,3\n5,", False), ("tsv", b"1-2\t3\n5\t", False), ("tsv", b"1-2\t3\n\t5", False),
])
def test_which_blocks_take_the_plain_path(fmt, block, plain):
    rows = reader(fmt, 2)
    assert (rows.plain(block) is not None) is plain
    assert same(rows.parse(block), careful(fmt, 2, block))


def test_a_field_of_blanks_is_not_minus_one():
    # NumPy's text reader turns a field of blanks into -1.0; float() refuses it, so the row is an error.
    columns, problems = reader("csv", 2).parse(b"1,2\n3,  \n5,6")
    assert problems[0] is None and problems[2] is None and "is not a number" in problems[1]
    assert columns["c0"].tolist()[::2] == [1.0, 5.0]


def test_blocks_keep_lines_whole_and_rows_in_order():
    text = b"x,y\n" + b"".join(b"%d,%d\n" % (i, -i) for i in range(50_000))
    rows = readers._Rows("csv", ["y", "x"])
    xs = [rows.parse(block)[0]["x"] for block in records.blocks(io.BytesIO(text), ",")]
    assert np.concatenate(xs).tolist() == list(range(50_000)) and len(xs) > 3
