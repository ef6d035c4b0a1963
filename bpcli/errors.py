"""The one error hierarchy. Each class carries the process exit code; only the CLI turns them into exits."""

from __future__ import annotations

import unicodedata


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
        where = self.line_col
        if where is None:
            return [self.message]
        line_no, col = where
        text = self.source.split("\n")[line_no - 1] if "\n" in self.source else self.source
        text, caret = _window(text, col - 1)   # first, so a huge line costs no more than a short one
        # Control characters and lone surrogates print as "?" so the caret stays under its column.
        text = "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in text)
        caret = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text[:caret])
        where = f"line {line_no}, column {col}" if "\n" in self.source or self.origin else f"column {col}"
        if self.origin:
            where = f"{self.origin}, {where}"
        return [f"{self.message} ({where})", "  " + text, "  " + " " * caret + "^"]


class DomainError(BpcliError):
    """The expression or its derivative is undefined (or overflows) at the given point. Exit 3."""

    exit_code = 3


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
