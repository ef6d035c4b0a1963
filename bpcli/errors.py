"""The one error hierarchy. Each class carries the process exit code; only the CLI turns them into exits."""

from __future__ import annotations

import re

# What a terminal acts on instead of showing: C0 controls (tab and newline too: a message line is one line),
# DEL and the C1 controls (escape sequences, bells, carriage returns), the line and paragraph separators,
# the bidi controls that reorder the text around them, and lone surrogates (not encodable). A pattern that re
# compiles (and caches) on first use: most runs print no message, and compiling it costs a millisecond.
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
LIST_LIMIT = 10      # names a message lists before "… and N more"
ITEM_LIMIT = 60      # characters of one listed name or value before "…"


def escaped(text: str) -> str:
    """`text` safe to print on a terminal: each character a terminal would act on, or that reorders the text
    around it, is shown as its Python escape (\\x1b, \\t, \\u202e); all else is left as it is."""
    return re.sub(_UNSAFE, lambda m: repr(m.group())[1:-1], text)


def cut(text: str, limit: int = ITEM_LIMIT) -> str:
    """`text`, or its first `limit` characters and "…" when longer."""
    return text if len(text) <= limit else text[:limit] + "…"


def listed(items, limit: int = LIST_LIMIT, sep: str = ", ") -> str:
    """`a, b, c` for a message: at most `limit` items (each cut to ITEM_LIMIT characters), then "… and N more"."""
    items = items if isinstance(items, (list, tuple)) else list(items)
    shown = sep.join(cut(str(item)) for item in items[:limit])
    return shown + (f"{sep}… and {len(items) - limit} more" if len(items) > limit else "")


class BpcliError(Exception):
    """Base of every error bpcli reports to a user (never a traceback)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        """What to print on stderr, one line per item."""
        return [self.message]


class InputError(BpcliError):
    """Bad input: malformed expression, unknown function, bad -v. Exit 2.

    Syntax errors carry the source and the offset of the offending character so the CLI can print
    the expression with a caret under it.
    """

    exit_code = 2

    def __init__(self, message: str, source: str | None = None, pos: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.pos = pos
        self.origin: str | None = None   # the file the source came from, when it did

    @property
    def line_col(self) -> tuple[int, int] | None:
        """1-based line and column of `pos` in `source`, if known."""
        if self.source is None or self.pos is None:
            return None
        line = self.source.count("\n", 0, self.pos) + 1
        col = self.pos - (self.source.rfind("\n", 0, self.pos) + 1) + 1
        return line, col

    def lines(self) -> list[str]:
        """The message, then the offending source line (windowed when long) with a caret under the column."""
        line_col, source = self.line_col, self.source
        if line_col is None or source is None:
            return [self.message]
        line_no, col = line_col
        text = source.split("\n")[line_no - 1] if "\n" in source else source
        text, caret = _window(text, col - 1)   # first, so a huge line costs no more than a short one
        # Shown escaped, as every message is; the caret goes under the escaped character, so it counts the
        # characters the escapes before it add.
        text, caret = escaped(text), len(escaped(text[:caret]))
        import unicodedata   # here: only a message with a caret needs it (start-up time)

        caret = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text[:caret])
        where = f"line {line_no}, column {col}" if "\n" in source or self.origin else f"column {col}"
        if self.origin:
            where = f"{self.origin}, {where}"
        return [f"{self.message} ({where})", "  " + text, "  " + " " * caret + "^"]


class DomainError(BpcliError):
    """The expression or its derivative is undefined (or overflows) at the given point. Exit 3."""

    exit_code = 3


class OutputError(BpcliError):
    """Standard output could not be written (a full disk, a closed descriptor, an I/O error): the
    results are lost. Exit 74, EX_IOERR of BSD's sysexits.h, so no status that means a result says so."""

    exit_code = 74


class CheckFailed(BpcliError):
    """A --perturb check found a gradient that disagrees with the numeric estimate. Exit 1."""

    exit_code = 1


def _window(text: str, col: int, width: int = 72) -> tuple[str, int]:
    """Cut a long line to about `width` characters around `col`; return the text and the caret's offset."""
    if len(text) <= width:
        return text, col
    start = max(0, min(col - width // 2, len(text) - width))
    piece = text[start:start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return prefix + piece + suffix, col - start + len(prefix)
