"""The target languages of bpcli.codegen.emit: how each spells identifiers and helper calls, and its prelude.

A dialect knows nothing of graphs. It says which names are taken (keywords, the prelude's helpers), how a
user's name becomes a legal identifier (θ stays θ in Python and JavaScript, becomes u03b8 in C), what each
template helper is called (C's `abs` is `fabs`), and the prelude that defines those helpers with the IEEE
semantics of `backends.SCALAR` (`where` evaluates both branches, so `log(0)` and `pow(0, -1)` must give
-inf and inf rather than fail).
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

HELPERS = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "abs", "pow", "floor",
           "where", "vmax", "vmin", "count")


@dataclass(frozen=True)
class Dialect:
    """How one target language spells identifiers and the templates' helper calls, and its prelude."""

    name: str
    reserved: frozenset[str]
    legal: Callable[[str], str]        # a user's name → an identifier in this language (clashes aside)
    calls: dict[str, str]              # template helper → the function the prelude defines
    counted: frozenset[str] = frozenset()   # variadic helpers that take the number of arguments first
    prelude: str = ""                  # the code every target starts with: the helpers `calls` names


def _ascii(name: str) -> str:
    """An ASCII identifier for a name: each other character becomes uXXXX (θ → u03b8)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else f"u{ord(ch):04x}" for ch in name)


def _unicode(name: str) -> str:
    # Python and JavaScript take Unicode identifiers; Python folds them with NFKC, so only stable ones stay.
    return name if name.isidentifier() and unicodedata.normalize("NFKC", name) == name else _ascii(name)


def _c_name(name: str) -> str:
    name = _ascii(name)
    return "v" + name if re.match(r"_[A-Z_]|bp_|M_", name) else name  # reserved to the implementation / us


# ---- Python ---------------------------------------------------------------------------------------

_PYTHON_PRELUDE = '''\
import math

exp, sqrt, sin, cos, tan, tanh = math.exp, math.sqrt, math.sin, math.cos, math.tan, math.tanh
pi, e = math.pi, math.e
vmax, vmin = max, min


def log(a):
    # log(0) = -inf and log(a < 0) = nan instead of an exception: where() evaluates both branches.
    return math.log(a) if a > 0 else -math.inf if a == 0 else math.nan


def pow(a, b):
    # a float always: 0 ** -1 is inf, a negative base to a fractional power is nan (not complex).
    try:
        r = float(a) ** b
    except (ZeroDivisionError, OverflowError):
        return math.inf
    return math.nan if isinstance(r, complex) else r


def floor(a):
    return float(math.floor(a))


def where(c, a, b):
    return a if c else b


def count(out, *args):
    # how many arguments tie for max/min: the tied ones share the upstream gradient evenly
    return sum(a == out for a in args)


def sigmoid(a):
    # two branches so that neither overflows
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def softplus(a):
    # log(1 + exp(a)) without overflow for large a or cancellation for very negative a
    if a > 0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))
'''

# __debug__ is no keyword, but a constant the compiler refuses to bind ("cannot assign to __debug__").
PYTHON = Dialect("python", frozenset(keyword.kwlist) | set(HELPERS) | {"__debug__", "math", "pi", "e"}, _unicode,
                 {h: h for h in HELPERS}, prelude=_PYTHON_PRELUDE)


# ---- C --------------------------------------------------------------------------------------------

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
_C_CALLS = {**{h: h for h in HELPERS}, "abs": "fabs", "sigmoid": "bp_sigmoid", "softplus": "bp_softplus",
            "where": "bp_where",
            "vmax": "bp_vmax", "vmin": "bp_vmin", "count": "bp_count"}

_C_PRELUDE = """\
#include <math.h>
#include <stdarg.h>

/* Both branches are evaluated, as in the interpreter: log(0) and pow(0, -1) give -inf and inf. */
static inline double bp_where(int c, double a, double b) { return c ? a : b; }

static inline double bp_sigmoid(double a)
{
    if (a >= 0) return 1.0 / (1.0 + exp(-a));
    double z = exp(a);
    return z / (1.0 + z);
}

/* log(1 + exp(a)) without overflow for large a or cancellation for very negative a. */
static inline double bp_softplus(double a)
{
    return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

/* max and min of n doubles; the first of tied arguments wins, as in Python. */
static inline double bp_vmax(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double m = va_arg(ap, double);
    for (int i = 1; i < n; i++) { double a = va_arg(ap, double); if (a > m) m = a; }
    va_end(ap);
    return m;
}

static inline double bp_vmin(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double m = va_arg(ap, double);
    for (int i = 1; i < n; i++) { double a = va_arg(ap, double); if (a < m) m = a; }
    va_end(ap);
    return m;
}

/* How many of the n arguments tie with out: they share the upstream gradient evenly. */
static inline double bp_count(int n, double out, ...)
{
    va_list ap;
    double ties = 0.0;
    va_start(ap, out);
    for (int i = 0; i < n; i++) ties += va_arg(ap, double) == out;
    va_end(ap);
    return ties;
}
"""

C = Dialect("c", frozenset(_C_KEYWORDS.split() + _C_MACROS.split()) | set(_C_CALLS.values()) | {"grad", "pi", "e"},
            _c_name, _C_CALLS, frozenset({"vmax", "vmin", "count"}), prelude=_C_PRELUDE)


# ---- JavaScript ---------------------------------------------------------------------------------

_JS_KEYWORDS = """break case catch class const continue debugger default delete do else enum export extends false
finally for function if import in instanceof new null return super switch this throw true try typeof var void while
with yield let static implements interface package private protected public await async of arguments eval undefined
NaN Infinity globalThis Math Object Number"""

_JS_PRELUDE = """\
"use strict";

const exp = Math.exp, sqrt = Math.sqrt, sin = Math.sin, cos = Math.cos, tan = Math.tan, tanh = Math.tanh;
const log = Math.log, pow = Math.pow, floor = Math.floor, abs = Math.abs;
const pi = Math.PI, e = Math.E;

// Both branches are evaluated, as in the interpreter (log(0) is -Infinity, not an error).
function where(c, a, b) { return c ? a : b; }

// Python's max/min: the first of tied arguments wins (Math.max prefers +0 to -0 and spreads NaN).
function vmax(...args) { let m = args[0]; for (const a of args) if (a > m) m = a; return m; }
function vmin(...args) { let m = args[0]; for (const a of args) if (a < m) m = a; return m; }

// How many arguments tie with out: they share the upstream gradient evenly.
function count(out, ...args) { return args.filter((a) => a === out).length; }

function sigmoid(a) {
  if (a >= 0) return 1.0 / (1.0 + Math.exp(-a));
  const z = Math.exp(a);
  return z / (1.0 + z);
}

// log(1 + exp(a)) without overflow for large a or cancellation for very negative a.
function softplus(a) { return a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a)); }
"""

JAVASCRIPT = Dialect("javascript", frozenset(_JS_KEYWORDS.split()) | set(HELPERS) | {"pi", "e"}, _unicode,
                     {h: h for h in HELPERS}, prelude=_JS_PRELUDE)
