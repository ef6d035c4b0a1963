"""The target languages of bpcli.codegen.emit: how each spells identifiers, numbers and helper calls.

A dialect knows nothing of graphs. It says which names are taken (keywords, the helpers' names), how a
user's name becomes a legal identifier (θ stays θ in Python and JavaScript, becomes u03b8 in C), and which
column of the table of helpers (bpcli.core.helpers) it takes its helper calls and their definitions from:
C's `abs` is `fabs`, and a helper the language lacks is defined in the prelude, with the IEEE semantics
of the interpreter (`where` evaluates both branches, so `log(0)` and `pow(0, -1)` must give -inf and inf
rather than fail). A prelude holds only the helpers the code calls.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bpcli import primitives
from bpcli.core import helpers
from bpcli.core.rules import Notation


@dataclass(frozen=True)
class Dialect:
    """How one target language spells identifiers and helper calls, and what its code starts with."""

    name: str
    column: str                        # its column in the table of helpers: "python", "c" or "javascript"
    keywords: frozenset[str]
    legal: Callable[[str], str]        # a user's name → an identifier in this language (clashes aside)
    header: str                        # what every target starts with
    constant: Callable[[str, float], str]   # the definition of a named constant the code uses (pi, e)
    separator: str = "\n\n"            # between the prelude's definitions

    def code(self, helper: str) -> helpers.Code:
        """How this language calls `helper` (and defines it, where it has none)."""
        return getattr(helpers.HELPERS[helper], self.column)

    @property
    def reserved(self) -> frozenset[str]:
        """Names generated code must not give a value: keywords, helpers, constants."""
        return self.keywords | {self.code(h).call for h in helpers.HELPERS} | set(primitives.CONSTANTS)

    def notation(self, used: set[str]) -> Notation:
        """How rules are written in this language; each helper called is added to `used`."""
        def call(helper: str, n: int) -> tuple[str, str]:
            used.add(helper)
            code = self.code(helper)
            return code.call, "" if code.counted is None else f"{n - code.counted}, "
        return Notation(repr, call, " ")

    def prelude(self, used: Iterable[str], constants: Iterable[str]) -> str:
        """The header, the named constants the code uses and the definitions of the helpers it calls."""
        wanted = set(used)
        named = [self.constant(name, primitives.CONSTANTS[name]) for name in sorted(constants)]
        parts = [self.code(h).define for h in helpers.HELPERS if h in wanted and self.code(h).define]
        aliases = [p for p in parts if "\n" not in p]
        definitions = [p for p in parts if "\n" in p]
        blocks = [self.header] + ["\n".join(lines) for lines in (named, aliases) if lines] + definitions
        return self.separator.join(blocks) + "\n"


def _ascii(name: str) -> str:
    """An ASCII identifier for a name: each other character becomes uXXXX (θ → u03b8)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else f"u{ord(ch):04x}" for ch in name)


def _unicode(name: str) -> str:
    # Python and JavaScript take Unicode identifiers; Python folds them with NFKC, so only stable ones stay.
    return name if name.isidentifier() and unicodedata.normalize("NFKC", name) == name else _ascii(name)


def _c_name(name: str) -> str:
    name = _ascii(name)
    return "v" + name if re.match(r"_[A-Z_]|bp_|M_", name) else name  # reserved to the implementation / us


# __debug__ is no keyword, but a constant the compiler refuses to bind ("cannot assign to __debug__").
PYTHON = Dialect("python", "python", frozenset(keyword.kwlist) | {"__debug__", "math"}, _unicode, "import math",
                 lambda name, value: f"{name} = math.{name}", separator="\n\n\n")


# C99's keywords, then C23's, then asm, a keyword in GCC's default GNU modes (as typeof is).
_C_KEYWORDS = """auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
while _Bool _Complex _Imaginary
alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
asm"""
# Macros <math.h> and <stdarg.h> may define, and the ones GCC predefines outside strict ISO mode.
_C_MACROS = """INFINITY NAN HUGE_VAL HUGE_VALF HUGE_VALL FP_INFINITE FP_NAN FP_NORMAL FP_SUBNORMAL FP_ZERO
FP_FAST_FMA FP_FAST_FMAF FP_FAST_FMAL FP_ILOGB0 FP_ILOGBNAN MATH_ERRNO MATH_ERREXCEPT math_errhandling MAXFLOAT
HUGE DOMAIN SING OVERFLOW UNDERFLOW TLOSS PLOSS X_TLOSS NULL errno va_list va_start va_arg va_end va_copy
linux unix i386 sun"""
C = Dialect("c", "c", frozenset(_C_KEYWORDS.split() + _C_MACROS.split()) | {"grad"}, _c_name,
          "#include <math.h>\n#include <stdarg.h>", lambda name, value: f"static const double {name} = {value!r};")


_JS_KEYWORDS = """break case catch class const continue debugger default delete do else enum export extends false
finally for function if import in instanceof new null return super switch this throw true try typeof var void while
with yield let static implements interface package private protected public await async of arguments eval undefined
NaN Infinity globalThis Math Object Number"""

_JS_CONSTANTS = {"pi": "Math.PI", "e": "Math.E"}

JAVASCRIPT = Dialect("javascript", "javascript", frozenset(_JS_KEYWORDS.split()), _unicode, '"use strict";',
                     lambda name, value: f"const {name} = {_JS_CONSTANTS[name]};")
