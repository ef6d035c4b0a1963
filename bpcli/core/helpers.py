"""THE table of helpers: every function a primitive computes, in each of the six places bpcli computes it.

One row a function, its versions side by side: on Python floats (the interpreter), on complex numbers
(the complex-step check), on NumPy arrays (the many-points path, given the numpy module so that only that
path imports it), and as generated Python, C and JavaScript (a name to call and, where the language has
none, a definition for the prelude). tests/test_helpers.py runs every row through all six at the same
points and requires them to agree bit for bit.

Every version gives the C library's answer where there is one, IEEE's inf and nan where there is none
(log(0) is -inf, pow(0, -1) is inf): `where` evaluates both of its branches, so a branch must not fail.
Python's math raises instead (exp(800), sqrt(-1)): the float versions keep math's speed and the compiled
rules turn those exceptions into inf and nan (bpcli.core.rules), while generated Python, which has no such
wrapper, defines exp, sqrt, sin, cos and tan to give them. Conventions at kinks follow PyTorch:
relu'(0) = step(0) = 0, abs'(0) = sign(0) = 0, and max/min give the first of tied arguments. On complex
numbers the piecewise helpers (relu, abs, max, min, step, sign, eq, where, ties) decide on real parts.

Operators (+ - * / and unary -) are not helpers: every backend and target language has them.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from functools import reduce
from typing import Any, NamedTuple


class Code(NamedTuple):
    """How generated code calls a helper in one language: the name, and a definition for the prelude when
    the language has no such function. `counted` n: the call passes the number of its arguments after
    the first n before them (C's variadic functions cannot count their own). A NamedTuple, as the other
    records that every run defines: a dataclass costs start-up time to define."""

    call: str
    define: str = ""
    counted: int | None = None


class Helper(NamedTuple):
    """One function, six ways. `numpy` takes the numpy module and returns the function on arrays. A
    NamedTuple, as Code."""

    name: str
    float: Callable[..., Any]
    complex: Callable[..., Any]
    numpy: Callable[[Any], Callable[..., Any]]
    python: Code
    c: Code
    javascript: Code


# ---- on Python floats ---------------------------------------------------------------------------

def _log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -math.inf if a == 0 else math.nan


def _pow(a: float, b: float) -> float:
    try:
        r = a ** b
    except (ZeroDivisionError, OverflowError):
        # C's pow: -inf for a negative base (or -0.0) to an odd whole power, else inf
        odd = b == math.floor(b) and math.fmod(b, 2.0) != 0
        return -math.inf if odd and math.copysign(1.0, a) < 0 else math.inf
    return math.nan if isinstance(r, complex) else r


def _sigmoid(a: float) -> float:
    # Two branches so that neither overflows: sigmoid(-800) is 0-ish, not an error.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _softplus(a: float) -> float:
    # log(1 + e^a) as max(a, 0) + log1p(e^-|a|): no overflow (softplus(800) is 800) and no cancellation
    # (softplus(-40) is e^-40, not 0).
    if a > 0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))


def _sign(a: float) -> float:
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0


def _ties(out: float, *args: float) -> float:
    return float(sum(a == out for a in args))


# ---- on complex numbers (the complex step: a real point nudged by ih) -----------------------------

def _cpow(a: complex, b: complex) -> complex:
    if a.imag == 0 and b.imag == 0:
        return complex(_pow(a.real, b.real))   # no nudge here: the real power, to the bit
    # A whole real exponent multiplies by repeated squaring: the general complex power goes through the
    # polar form, whose angle (about pi for a negative base) swamps the 1e-20 the complex step carries.
    if b.imag == 0 and b.real == int(b.real) and abs(b.real) <= 1 << 20:
        n, result, base = abs(int(b.real)), complex(1.0), a
        while n:
            if n & 1:
                result *= base
            base *= base
            n >>= 1
        return result if b.real >= 0 else 1 / result
    if b.imag == 0 and a.real > 0 and 0 < abs(a.imag) <= 1e-10 * a.real:
        # A positive base carrying only the complex step's nudge: to first order, exact to rounding here.
        # The polar form's angle Im a / Re a underflows (1e-20 / 2e300), and the slope with it.
        return complex(a.real ** b.real, a.imag * (b.real * a.real ** (b.real - 1)))  # Im a grows first
    if b.imag == 0 and a.imag == 0:
        return complex(_pow(a.real, b.real))
    return a ** b


def _csqrt(z: complex) -> complex:
    return complex(math.sqrt(z.real)) if z.imag == 0 and z.real >= 0 else cmath.sqrt(z)   # sqrt(-0.0) is -0.0


def _clog(z: complex) -> complex:
    return complex(_log(z.real)) if z.imag == 0 else cmath.log(z)


def _csigmoid(z: complex) -> complex:
    if z.real >= 0:
        return 1.0 / (1.0 + cmath.exp(-z))
    t = cmath.exp(z)
    return t / (1.0 + t)


def _csoftplus(z: complex) -> complex:
    if z.real > 0:
        return z + _clog1p(cmath.exp(-z))
    return _clog1p(cmath.exp(z))


def _clog1p(w: complex) -> complex:
    # log(1 + w) with log1p for the real part, so softplus(-40 + ih) keeps its real part e^-40 (log would give 0).
    return complex(0.5 * math.log1p(2 * w.real + w.real * w.real + w.imag * w.imag), math.atan2(w.imag, 1 + w.real))


def _real(z: complex) -> float:
    return z.real if isinstance(z, complex) else z


# ---- on NumPy arrays ----------------------------------------------------------------------------

def _np_sigmoid(np):
    def sigmoid(a):
        # the float rule's operations (so its bits): 1/(1+z) where a >= 0, z/(1+z) where a < 0, z = exp(-|a|)
        # never overflowing. Both quotients at once, in place.
        z = np.exp(-np.abs(a))
        if np.ndim(z) == 0:
            return 1.0 / (1.0 + z) if a >= 0 else z / (1.0 + z)
        above = np.where(a >= 0, 1.0, z)
        return np.divide(above, np.add(z, 1.0, out=z), out=above)
    return sigmoid


def _np_softplus(np):
    # the float rule's operations: a + log1p(exp(-a)) above 0, log1p(exp(a)) + 0 elsewhere
    return lambda a: np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0.0)


def _np_first_wins(np, better):
    # Python's max/min (and the generated code's loop): the first of tied arguments wins, so max(-0.0, 0.0)
    # is -0.0 at one point and in a batch alike (np.maximum would pick 0.0).
    return lambda *args: reduce(lambda m, a: np.where(better(a, m), a, m), args)


def _np_pow(np):
    # Never with a single number for exponent: NumPy then takes shortcuts (x·x for 2, sqrt for 0.5, 1/x for
    # -1) that round differently from the C library's pow, or keep -0.0's sign (sqrt(-0.0) is -0.0).
    # (The shortcuts are taken for any exponent of stride 0, so a broadcast view is not enough: a filled array.)
    def power(a, b):
        if np.ndim(b):
            return np.power(a, b)
        if np.ndim(a):
            return np.power(a, np.full(np.shape(a), b))
        return np.power(np.reshape(a, 1), np.reshape(b, 1))[0]
    return power


def _np_sign(np):
    return lambda a: np.where(a > 0, 1.0, np.where(a < 0, -1.0, 0.0))


def _np_ties(np):
    return lambda out, *args: sum(np.where(a == out, 1.0, 0.0) for a in args)


# ---- generated code -----------------------------------------------------------------------------

def _c_unary(name: str, body: str) -> Code:
    return Code(f"bp_{name}", f"static inline double bp_{name}(double a)\n{{\n{body}\n}}")


_C_VARIADIC = """\
static inline double bp_{name}(int n, ...)
{{
    va_list ap;
    va_start(ap, n);
    double m = va_arg(ap, double);
    for (int i = 1; i < n; i++) {{ double a = va_arg(ap, double); if (a {cmp} m) m = a; }}
    va_end(ap);
    return m;
}}"""


HELPERS: dict[str, Helper] = {h.name: h for h in [
    Helper("exp", math.exp, cmath.exp, lambda np: np.exp,
           Code("exp", "def exp(a):\n    # inf where it overflows, as in C and JavaScript, not OverflowError\n"
                       "    try:\n        return math.exp(a)\n    except OverflowError:\n        return math.inf"),
           Code("exp"), Code("exp", "const exp = Math.exp;")),
    Helper("log", _log, _clog, lambda np: np.log,
           Code("log", "def log(a):\n    # log(0) = -inf and log(a < 0) = nan instead of an exception\n"
                       "    return math.log(a) if a > 0 else -math.inf if a == 0 else math.nan"),
           Code("log"), Code("log", "const log = Math.log;")),
    Helper("sqrt", math.sqrt, _csqrt, lambda np: np.sqrt,
           Code("sqrt", "def sqrt(a):\n    # nan below 0, as in C and JavaScript, not ValueError\n"
                        "    return math.sqrt(a) if a >= 0 else math.nan"),
           Code("sqrt"), Code("sqrt", "const sqrt = Math.sqrt;")),
    Helper("sin", math.sin, cmath.sin, lambda np: np.sin,
           Code("sin", "def sin(a):\n    return math.sin(a) if math.isfinite(a) else math.nan   # sin(inf) is nan"),
           Code("sin"), Code("sin", "const sin = Math.sin;")),
    Helper("cos", math.cos, cmath.cos, lambda np: np.cos,
           Code("cos", "def cos(a):\n    return math.cos(a) if math.isfinite(a) else math.nan   # cos(inf) is nan"),
           Code("cos"), Code("cos", "const cos = Math.cos;")),
    Helper("tan", math.tan, cmath.tan, lambda np: np.tan,
           Code("tan", "def tan(a):\n    return math.tan(a) if math.isfinite(a) else math.nan   # tan(inf) is nan"),
           Code("tan"), Code("tan", "const tan = Math.tan;")),
    Helper("tanh", math.tanh, cmath.tanh, lambda np: np.tanh,
           Code("tanh", "tanh = math.tanh"), Code("tanh"), Code("tanh", "const tanh = Math.tanh;")),
    Helper("sigmoid", _sigmoid, _csigmoid, _np_sigmoid,
           Code("sigmoid", "def sigmoid(a):\n    # two branches so that neither overflows\n    if a >= 0:\n"
                           "        return 1.0 / (1.0 + math.exp(-a))\n    z = math.exp(a)\n    return z / (1.0 + z)"),
           _c_unary("sigmoid", "    if (a >= 0) return 1.0 / (1.0 + exp(-a));\n    double z = exp(a);\n"
                               "    return z / (1.0 + z);"),
           Code("sigmoid", "function sigmoid(a) {\n  if (a >= 0) return 1.0 / (1.0 + Math.exp(-a));\n"
                           "  const z = Math.exp(a);\n  return z / (1.0 + z);\n}")),
    Helper("softplus", _softplus, _csoftplus, _np_softplus,
           Code("softplus", "def softplus(a):\n"
                            "    # log(1 + exp(a)) without overflow for large a or cancellation for very "
                            "negative a\n    if a > 0:\n        return a + math.log1p(math.exp(-a))\n"
                            "    return math.log1p(math.exp(a))"),
           _c_unary("softplus", "    return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));"),
           Code("softplus", "function softplus(a) { return a > 0 ? a + Math.log1p(Math.exp(-a)) "
                            ": Math.log1p(Math.exp(a)); }")),
    Helper("relu", lambda a: a if a > 0 else 0.0, lambda z: z if z.real > 0 else 0j,
           lambda np: lambda a: np.where(a > 0, a, 0.0),
           Code("relu", "def relu(a):\n    return a if a > 0 else 0.0"),
           _c_unary("relu", "    return a > 0 ? a : 0.0;"),
           Code("relu", "function relu(a) { return a > 0 ? a : 0.0; }")),
    Helper("abs", abs, lambda z: _sign(z.real) * z if z.real else complex(abs(z.real)),
           lambda np: np.abs,
           Code("abs"), Code("fabs"), Code("abs", "const abs = Math.abs;")),
    Helper("pow", _pow, _cpow, _np_pow,
           Code("pow", "def pow(a, b):\n"
                       "    # a float always, as C's pow: 0 ** -1 is inf, (-0.0) ** -1 is -inf, a negative base to a "
                       "fractional power\n    # is nan (not complex)\n    try:\n        r = float(a) ** b\n"
                       "    except (ZeroDivisionError, OverflowError):\n"
                       "        odd = b == math.floor(b) and math.fmod(b, 2.0) != 0\n"
                       "        return -math.inf if odd and math.copysign(1.0, a) < 0 else math.inf\n"
                       "    return math.nan if isinstance(r, complex) else r"),
           Code("pow"),
           Code("pow", "// C's pow: 1 for 1 to any power and for ±1 to ±Infinity (Math.pow gives NaN)\n"
                       "function pow(a, b) { return a === 1 || b === 0 "
                       "|| (Math.abs(a) === 1 && Math.abs(b) === Infinity) ? 1.0 : Math.pow(a, b); }")),
    Helper("max", max, lambda *z: max(z, key=_real), lambda np: _np_first_wins(np, np.greater),
           Code("vmax", "vmax = max"), Code("bp_max", _C_VARIADIC.format(name="max", cmp=">"), counted=0),
           Code("vmax", "// Python's max: the first of tied arguments wins (Math.max prefers +0 to -0, spreads NaN)\n"
                        "function vmax(...args) { let m = args[0]; "
                        "for (const a of args) if (a > m) m = a; return m; }")),
    Helper("min", min, lambda *z: min(z, key=_real), lambda np: _np_first_wins(np, np.less),
           Code("vmin", "vmin = min"), Code("bp_min", _C_VARIADIC.format(name="min", cmp="<"), counted=0),
           Code("vmin", "function vmin(...args) { let m = args[0]; "
                        "for (const a of args) if (a < m) m = a; return m; }")),
    Helper("step", lambda a: 1.0 if a > 0 else 0.0, lambda z: 1.0 if z.real > 0 else 0.0,
           lambda np: lambda a: np.where(a > 0, 1.0, 0.0),
           Code("step", "def step(a):\n    # 1 above 0, else 0 (so step(0) = 0)\n    return 1.0 if a > 0 else 0.0"),
           _c_unary("step", "    return a > 0 ? 1.0 : 0.0;"),
           Code("step", "function step(a) { return a > 0 ? 1.0 : 0.0; }")),
    Helper("sign", _sign, lambda z: _sign(z.real), _np_sign,
           Code("sign", "def sign(a):\n    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0"),
           _c_unary("sign", "    return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;"),
           Code("sign", "function sign(a) { return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0; }")),
    Helper("eq", lambda a, b: 1.0 if a == b else 0.0, lambda a, b: 1.0 if _real(a) == _real(b) else 0.0,
           lambda np: lambda a, b: np.where(a == b, 1.0, 0.0),
           Code("eq", "def eq(a, b):\n    return 1.0 if a == b else 0.0"),
           Code("bp_eq", "static inline double bp_eq(double a, double b) { return a == b ? 1.0 : 0.0; }"),
           Code("eq", "function eq(a, b) { return a === b ? 1.0 : 0.0; }")),
    # Both branches are evaluated, as in the interpreter: log(0) and pow(0, -1) give -inf and inf.
    Helper("where", lambda c, a, b: a if c != 0 else b, lambda c, a, b: a if _real(c) != 0 else b,
           lambda np: lambda c, a, b: np.where(c != 0, a, b),
           Code("where", "def where(c, a, b):\n    # both branches are evaluated, as in the interpreter\n"
                         "    return a if c != 0 else b"),
           Code("bp_where", "static inline double bp_where(double c, double a, double b) { return c != 0 ? a : b; }"),
           Code("where", "// both branches are evaluated, as in the interpreter (log(0) is -Infinity, not an error)\n"
                         "function where(c, a, b) { return c !== 0 ? a : b; }")),
    # How many of the arguments after the first equal it: max/min's tied winners, which share the gradient.
    Helper("ties", _ties, lambda out, *z: float(sum(_real(a) == _real(out) for a in z)), _np_ties,
           Code("ties", "def ties(out, *args):\n    # how many arguments tie with out: they share the gradient evenly\n"
                        "    return float(sum(a == out for a in args))"),
           Code("bp_ties", "static inline double bp_ties(int n, double out, ...)\n{\n    va_list ap;\n"
                           "    double ties = 0.0;\n    va_start(ap, out);\n"
                           "    for (int i = 0; i < n; i++) ties += va_arg(ap, double) == out;\n"
                           "    va_end(ap);\n    return ties;\n}", counted=1),
           Code("ties", "function ties(out, ...args) { return args.filter((a) => a === out).length; }")),
]}


def namespace(column: str) -> dict[str, Callable[..., Any]]:
    """Each helper's version for `column` ("float" or "complex"), by name: what compiled rules call."""
    return {name: getattr(helper, column) for name, helper in HELPERS.items()}


def numpy_namespace(np) -> dict[str, Callable[..., Any]]:
    """Each helper on NumPy arrays (bpcli.points.arrays passes the module: only that path imports it)."""
    return {name: helper.numpy(np) for name, helper in HELPERS.items()}
