"""The namespaces rule templates evaluate in: what exp, log, pow, where, … mean on each kind of number.

`scalar` (Python floats, with `math`) serves the interpreter; `complex` (with `cmath`) the complex-step
check; bpcli.points.arrays adds `numpy` on the path that uses it. Each defines the names the templates of
`ops.OPS` may call (listed in ops's docstring), with IEEE-style results where a branch of `where` must
not raise: `pow` and `log` give inf/nan, not exceptions.
"""

from __future__ import annotations

import cmath
import math


def _log(a: float) -> float:
    if a > 0:
        return math.log(a)
    return -math.inf if a == 0 else math.nan


def _pow(a: float, b: float) -> float:
    try:
        r = a ** b
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
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


def count(out, *args):
    """How many arguments equal the output (the number of tied winners); works on floats and arrays."""
    return sum(a == out for a in args)


SCALAR: dict[str, object] = {
    "exp": math.exp, "log": _log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "tanh": math.tanh, "sigmoid": _sigmoid, "softplus": _softplus, "abs": abs, "pow": _pow, "floor": math.floor,
    "where": lambda c, a, b: a if c else b, "vmax": max, "vmin": min, "count": count,
    "ties": lambda out, *args: tuple(a == out for a in args),
}


def _cpow(a: complex, b: complex) -> complex:
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
    return a ** b


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


COMPLEX: dict[str, object] = {
    "exp": cmath.exp, "log": cmath.log, "sqrt": cmath.sqrt, "sin": cmath.sin, "cos": cmath.cos,
    "tan": cmath.tan, "tanh": cmath.tanh, "sigmoid": _csigmoid, "softplus": _csoftplus,
    "pow": _cpow,
}


BACKENDS: dict[str, dict[str, object]] = {"scalar": SCALAR, "complex": {**SCALAR, **COMPLEX}}
RAISING = {"scalar", "complex"}  # Python's math raises where IEEE gives inf/nan: their compiled rules are wrapped


def add_backend(name: str, namespace: dict[str, object]) -> None:
    """Make another namespace available to `rules` (bpcli.points.arrays adds NumPy's, on the path that uses it).
    Its functions must follow IEEE (inf/nan, not exceptions), as NumPy's do."""
    BACKENDS[name] = namespace
