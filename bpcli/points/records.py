"""Where a CSV or TSV record ends: at a line end outside a quoted field, since RFC 4180 lets a quoted field
hold line ends. Fields are read as Python's csv module reads them: a quote opens a quoted field only as
the field's first character; inside one, "" is a quote and a lone " closes it.

The batch input is cut into blocks of whole records as it arrives (bytes), and each block into records
(text); `Records` carries the state of its scan from one piece of input to the next.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from bpcli.errors import InputError

READ_SIZE = 1 << 16
MAX_LINE = 1 << 24         # 16 MiB: a longer line is not a row of numbers

_SPECIAL: dict[type, re.Pattern[Any]] = {bytes: re.compile(b'["\r\n]'), str: re.compile('["\r\n]')}


class Records:
    """Finds the record ends in consecutive pieces of one CSV or TSV input, separated by `sep`."""

    def __init__(self, sep: str, kind: type = bytes) -> None:
        chars = [c if kind is str else c.encode() for c in '"\n\r' + sep]
        self.kind, (self.quote, self.newline, self.cr) = kind, chars[:3]
        self.before_field = tuple(chars[1:])   # what a field's first character follows: a line end or `sep`
        self.inside = False         # in a quoted field
        self.maybe_closed = False   # in one, and the piece ended with a quote: closing, or the first of ""
        self.at_field_start = True  # the previous piece ended with a separator or a line end (or none came)

    @property
    def open_at_end(self) -> bool:
        """Whether a quoted field is still open if the input ends here (a quote last closes its field)."""
        return self.inside and not self.maybe_closed

    def last_end(self, data) -> int:
        """The offset of the last record end in `data`, or -1; without quotes, as fast as a plain rfind."""
        if not self.inside and self.quote not in data:
            if data:
                self.at_field_start = data[-1:] in self.before_field
            return max(data.rfind(self.newline), data.rfind(self.cr))
        ends = self.ends(data)
        return ends[-1] if ends else -1

    def ends(self, data) -> list[int]:
        """The offsets of the line ends in `data` that end a record."""
        found, pos, size = [], 0, len(data)
        if self.maybe_closed and data:
            self.maybe_closed = False
            if data[:1] == self.quote:
                pos = 1   # "" split across pieces: a quote in the field
            else:
                self.inside, self.at_field_start = False, False
        while pos < size:
            if self.inside:  # line ends do not matter here: on to the next quote
                p = data.find(self.quote, pos)
                if p < 0:
                    break
                if p + 1 == size:
                    self.maybe_closed = True
                elif data[p + 1:p + 2] == self.quote:
                    p += 1
                else:
                    self.inside = False
                pos = p + 1
                continue
            match = _SPECIAL[self.kind].search(data, pos)
            if match is None:
                break
            p = match.start()
            if data[p:p + 1] != self.quote:
                found.append(p)
            elif (data[p - 1:p] in self.before_field) if p else self.at_field_start:
                self.inside = True
            pos = p + 1
        if data:
            self.at_field_start = data[-1:] in self.before_field
        return found


def split(text: str, sep: str) -> tuple[list[str], bool]:
    """Whole records of `text` (which starts at a record's start) and whether the last one ends inside a
    quoted field that was never closed. Line ends must be "\n" already."""
    if '"' not in text:
        return text.split("\n"), False
    records = Records(sep, str)
    ends = records.ends(text)
    return [text[a + 1:b] for a, b in zip([-1, *ends], [*ends, len(text)])], records.open_at_end


def blocks(source: BinaryIO, sep: str | None) -> Iterator[bytes]:
    """Whole records as they arrive, a block at a time, undecoded: \n, \r\n or a lone \r ends a line, and a
    line end ends a record unless (in CSV and TSV, separated by `sep`) it is inside a quoted field."""
    ends = Records(sep or ",")
    pending: list[bytes] = []
    size, first = 0, True
    while True:
        block = source.read1(READ_SIZE) if hasattr(source, "read1") else source.read(READ_SIZE)
        if not block:
            break
        if sep:  # a byte-order mark is not a field's first character: the scan starts after it
            skip = len(codecs.BOM_UTF8) if first and block.startswith(codecs.BOM_UTF8) else 0
            end = ends.last_end(block[skip:])
            cut = end + skip if end >= 0 else -1
        else:
            cut = max(block.rfind(b"\n"), block.rfind(b"\r"))
        first = False
        if cut < 0:
            pending.append(block)
            size += len(block)
            if size > MAX_LINE:
                what = "a quoted field (its closing quote missing?)" if ends.open_at_end else "a line"
                raise InputError(f"the batch input has {what} longer than {MAX_LINE >> 20} MiB")
            continue
        yield b"".join(pending) + block[:cut]
        pending, size = [block[cut + 1:]], len(block) - cut - 1
    rest = b"".join(pending)
    if rest.strip():
        yield rest


def decode(data: bytes, first: bool, sep: str | None) -> tuple[list[str], bool]:
    """The block's records as text, and whether the last one ends inside a quoted field never closed."""
    # A byte that is not UTF-8 becomes U+FFFD, so its row fails with its number instead of the whole run.
    text = data.decode("utf-8-sig" if first else "utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return split(text, sep) if sep else (text.split("\n"), False)
