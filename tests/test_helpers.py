"""The table of helpers (bpcli.core.helpers), every row through all six of its versions at the same points.

bpcli computes one function in six places: the interpreter (Python floats), the complex-step check (complex
numbers), the many-points path (NumPy arrays), and generated Python, C and JavaScript. A gradient shown by
`bpcli grad`, checked by `bpcli check`, computed by `--batch` and returned by generated code must be the
same number, so each row's versions must agree BIT FOR BIT, not within a tolerance: signed zeros must match
(max(-0.0, 0.0) is -0.0 everywhere), and so must infinities; NaN equals NaN (its sign and payload are not
compared: C and NumPy produce the x86 "default NaN", which has the sign bit set, Python's math.nan has not).

The points are deterministic: ordinary values, signed zeros, magnitudes where functions saturate or
overflow (±40, ±800, 1e300), infinities and NaN, and the domain edges (log and sqrt of negatives and 0,
pow with zero and negative bases and fractional, odd, even and huge exponents); 2- and 3-argument helpers
take the product of a small set, so equal arguments (the ties of max, min, eq and ties) come up too. A
helper's arity comes from bpcli.primitives.OPS (None, variadic, is tested with 2 and 3 arguments); a row
whose arity this file does not know fails rather than going untested.

The C and JavaScript versions run in one program each, compiled / started once per session: C with
`gcc -O0` and again with `-O2` (never -ffast-math), JavaScript with node. Their inputs are exact (C hex
floats, JavaScript's round-tripping repr) and read from a volatile / runtime array, so that the compiler
cannot fold a call on constants (GCC folds exp(2.5) at compile time with MPFR, correctly rounded, which may
not be what glibc computes at run time, and is not what generated code meets). Each result comes back as the
hex of its bits.

The float and complex versions are called as the engine calls them, through bpcli.core.rules._ieee (an
OverflowError from math is inf, a ValueError NaN); generated Python is called as it is, since generated code
has no such wrapper: an exception there is a disagreement (exp(800) raising where C gives inf).

Only two allowances are made, each where it is defined: the complex version is compared on its real part,
and not at a few documented non-finite results (complex_exception); and the JavaScript version of a
transcendental function may differ by one ulp (JS_ULP), as V8 computes Math.exp & co. with its own port
of fdlibm, not with the C library that Python, NumPy and C share.
"""

from __future__ import annotations

import builtins
import itertools
import math
import re
import shutil
import struct
import subprocess

import pytest

from bpcli import primitives
from bpcli.codegen import languages
from bpcli.core import rules
from bpcli.core.helpers import HELPERS, Code, Helper
from bpcli.points.np_exact import (
    np,  # NumPy as bpcli imports it: dispatching to the C library's functions
)

INF, NAN = math.inf, math.nan

# ---- the points ---------------------------------------------------------------------------------

# One argument: ordinary values, signed zeros, the smallest subnormal, where tanh and sigmoid saturate
# (±40), where exp overflows and softplus must not (±800), huge magnitudes, infinities and NaN. The
# negatives and zeros are log's and sqrt's domain edges.
UNARY = [-3.7, -1.0, -0.5, 0.3, 1.0, 2.5, 10.0, 0.0, -0.0, 5e-324, -5e-324, 1e-300,
         40.0, -40.0, 800.0, -800.0, 1e300, -1e300, INF, -INF, NAN]
# Extra points for one helper: tan near its pole, sin/cos/tan at a huge argument (argument reduction).
EXTRA = {"tan": [math.pi / 2, -math.pi / 2], "sin": [math.pi, 1e22], "cos": [math.pi / 2, 1e22],
         "log": [1e-310, 1.0000000000000002], "sqrt": [2.0, 1e-310]}
# Two arguments, as a product: negative bases (-2 and -2.5), zeros of both signs, fractional, odd, even and
# huge exponents (±1001 overflow a base of 2 with a sign that depends on the exponent's parity), 1e300,
# infinities and NaN (pow(1, nan) is 1 in C and Python). Equal pairs are the ties of max, min, eq, ties.
BINARY = [-2.5, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 3.0, 1001.0, -1001.0, 1e300, INF, -INF, NAN]
# Three arguments, as a product: small, so that ties (three equal, two equal) and signed zeros are frequent.
TERNARY = [-1.0, -0.0, 0.0, 1.0, 2.0, INF, NAN]
BY_ARITY = {1: UNARY, 2: BINARY, 3: TERNARY}


def arities(name: str) -> list[int]:
    """How many arguments `name` is tested with: its arity in bpcli.primitives.OPS, 2 and 3 if variadic."""
    assert name in primitives.OPS, f"helper {name!r} has no primitive in bpcli.primitives.OPS: arity unknown"
    arity = primitives.OPS[name].arity
    wanted = [2, 3] if arity is None else [arity]
    unknown = [n for n in wanted if n not in BY_ARITY]
    assert not unknown, f"helper {name!r} takes {arity} arguments: add points for that arity to this test"
    return wanted


def cases(name: str) -> list[tuple[float, ...]]:
    """Every argument tuple helper `name` is run at, in a fixed order."""
    out: list[tuple[float, ...]] = []
    for n in arities(name):
        values = BY_ARITY[n] + (EXTRA.get(name, []) if n == 1 else [])
        out += list(itertools.product(values, repeat=n))
    return out


def _known_arity(name: str) -> bool:
    try:
        arities(name)
    except AssertionError:
        return False
    return True


# The helpers whose arity is known; a row that is not fails in its own test (arities raises there), while
# the C and JavaScript programs, built once for all, leave it out so the other rows still run.
RUNNABLE = [name for name in HELPERS if _known_arity(name)]

# ---- comparing results --------------------------------------------------------------------------

def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def same(a, b) -> bool:
    """Bit for bit, except that every NaN equals every NaN. An exception (a str) equals nothing."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or bits(a) == bits(b)
    return False


def ulps(a: float, b: float) -> float:
    """How many doubles apart two finite doubles are (inf when either is not finite and they differ)."""
    if same(a, b):
        return 0
    if not (isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b)):
        return math.inf

    def ordered(x: float) -> int:  # doubles in order as integers: -0.0 and 0.0 both 0
        k = bits(x)
        return -(k & 0x7FFF_FFFF_FFFF_FFFF) if k >> 63 else k
    return abs(ordered(a) - ordered(b))


def show(x) -> str:
    return x if isinstance(x, str) else f"{x!r} (0x{bits(x):016x})"


def outcome(fn, *args):
    """fn(*args) as a float, or the name of the exception it raised: an exception is a result that differs."""
    try:
        r = fn(*args)
    except Exception as err:  # noqa: BLE001 - any exception is a disagreement to report, not a crash
        return type(err).__name__
    return r


def as_float(r):
    """A Python-side result as a float: the real part of a complex, a NumPy scalar's value, 2 for an int 2."""
    if isinstance(r, str):
        return r
    if isinstance(r, complex):
        return r.real
    if isinstance(r, np.ndarray):
        assert r.ndim == 0, r
        r = r[()]
    return float(r)


# ---- the complex column's allowances -----------------------------------------------------------

def complex_exception(name: str, args: tuple[float, ...], expected, got) -> str | None:
    """Why the complex version may differ from the float one at this case, or None: it may not.

    The complex column is compared on its real part, with inputs complex(x, 0.0), both columns called as the
    engine calls them (rules._ieee: OverflowError is inf, ValueError NaN). Where the float result is finite
    it must match bit for bit, always. Where the float result is inf or NaN, the complex value is never used
    (the engine checks the point on real numbers first and stops at a non-finite value), and complex
    arithmetic has its own special values (C99 Annex G); a case is exempt only for one of the reasons below,
    each matching exactly the situation it names.
    """
    if isinstance(expected, float) and math.isfinite(expected):
        return None
    if (name == "pow" and isinstance(expected, float) and math.isinf(expected) and isinstance(got, float)
            and math.isnan(got) and math.isfinite(args[1]) and args[1] == int(args[1]) and abs(args[1]) >= 2):
        # _cpow raises to a whole exponent by repeated squaring in complex arithmetic: once a square
        # overflows, (inf + 0j) * (inf + 0j) is inf + nan*j (inf*0 is NaN), and the next product's real
        # part is NaN. Python's float power overflows to inf. So pow(1001, 1001), pow(inf, 2), …
        return "complex repeated squaring turns an overflow into NaN"
    if (name == "sqrt" and args[0] < 0 and isinstance(expected, float) and math.isnan(expected)
            and isinstance(got, float) and bits(got) == 0):
        # cmath.sqrt of a negative real is imaginary: sqrt(-4 + 0j) is 0 + 2j (and of -inf, 0 + inf*j), so
        # its real part is +0.0 where the real sqrt is NaN. The engine's domain check stops there first.
        return "the complex square root of a negative real has real part 0"
    return None


# ---- the JavaScript column's allowance ----------------------------------------------------------

# V8 computes Math.exp, Math.log, Math.tanh, Math.sin, … with its own port of fdlibm (src/base/ieee754.cc),
# not with glibc as CPython, NumPy (as bpcli imports it) and C do: those may differ in the last bit. Only
# these helpers, only on the javascript column, and only by one ulp between finite results. sqrt and abs
# are exact in IEEE arithmetic and get no allowance, nor does anything piecewise. (Seen with node 20 and
# glibc on x86-64: exp(40), sin(2.5), pow(0.5, -2.5), pow(0.5, -0.5), pow(2, -2.5), pow(2, -0.5).)
JS_ULP = frozenset({"exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "pow"})

# ---- generated Python ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated_python() -> dict:
    """The generated Python prelude with every helper, executed: its namespace."""
    namespace: dict = {}
    source = languages.PYTHON.prelude(list(HELPERS), [])
    exec(compile(source, "<prelude>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


# ---- C --------------------------------------------------------------------------------------------

def c_literal(x: float) -> str:
    """A C99 literal of exactly x: a hex float, or INFINITY / NAN / -0.0."""
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    return x.hex()


def c_call(name: str, args: list[str]) -> str:
    """How generated C calls a helper: as the C dialect writes the call (a counted variadic one passes its count)."""
    function, leading = languages.C.notation(set()).call(name, len(args))
    return f"{function}({leading}{', '.join(args)})"


def every_case() -> list[tuple[str, int, tuple[float, ...]]]:
    """(helper, index in cases(helper), arguments) for every runnable helper: what C and JavaScript run.

    Results are keyed by index, never by the arguments: (0.0,) == (-0.0,) as dict keys, and NaN is fickle."""
    return [(name, i, args) for name in RUNNABLE for i, args in enumerate(cases(name))]


def build_and_run_c(tmp: pytest.TempPathFactory) -> dict[str, dict[tuple[str, int], float]]:
    """One C program evaluating every (helper, case), compiled at -O0 and at -O2: each result by flags."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not on PATH")
    folder = tmp.mktemp("helpers_c")
    all_cases = every_case()
    inputs = [x for _, _, args in all_cases for x in args]
    lines, k = [], 0
    for name, _, args in all_cases:
        lines.append(f"    show({c_call(name, [f'IN[{k + i}]' for i in range(len(args))])});")
        k += len(args)
    program = (
        languages.C.prelude(list(HELPERS), [])
        + "\n#include <stdio.h>\n#include <stdint.h>\n#include <string.h>\n\n"
        # volatile: every call is made at run time on the value read, as in generated code, never folded
        + f"static volatile double IN[{max(len(inputs), 1)}] = {{\n"
        + ",\n".join(f"    {c_literal(x)}" for x in inputs) + "\n};\n\n"
        + "static void show(double x)\n{\n    uint64_t b;\n    memcpy(&b, &x, sizeof b);\n"
        + '    printf("%016llx\\n", (unsigned long long)b);\n}\n\n'
        + "int main(void)\n{\n" + "\n".join(lines) + "\n    return 0;\n}\n")
    (folder / "helpers.c").write_text(program, encoding="utf-8")
    results = {}
    for flag in ("-O0", "-O2"):
        exe = f"helpers{flag}"
        built = subprocess.run(["gcc", flag, "-std=c99", "-Wall", "-pedantic", "-Werror", "-o", exe, "helpers.c",
                                "-lm"], cwd=folder, capture_output=True, text=True, check=False)
        assert built.returncode == 0, built.stderr[:4000]
        out = subprocess.run([str(folder / exe)], check=True, capture_output=True, text=True).stdout.split()
        assert len(out) == len(all_cases), f"{len(out)} results for {len(all_cases)} cases"
        results[f"c {flag}"] = {(name, i): from_bits(int(h, 16)) for (name, i, _), h in zip(all_cases, out)}
    return results


@pytest.fixture(scope="module")
def c_results(tmp_path_factory):
    return build_and_run_c(tmp_path_factory)


# ---- JavaScript -----------------------------------------------------------------------------------

def js_literal(x: float) -> str:
    """A JavaScript literal of exactly x: repr round-trips; Infinity, NaN and -0 by name."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    return repr(x)


JS_MAIN = """
// every result as the hex of its bits, one a line
const results = new Float64Array(OUT);
const words = new BigUint64Array(results.buffer);
const lines = [];
for (const w of words) lines.push(w.toString(16).padStart(16, "0"));
process.stdout.write(lines.join("\\n") + "\\n");
"""


def build_and_run_js(tmp: pytest.TempPathFactory) -> dict[tuple[str, int], float]:
    """One node script evaluating every (helper, case): each result."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not on PATH")
    folder = tmp.mktemp("helpers_js")
    all_cases = every_case()
    inputs = [x for _, _, args in all_cases for x in args]
    lines, k = [], 0
    for name, _, args in all_cases:
        call = languages.JAVASCRIPT.code(name).call
        lines.append(f"OUT.push({call}({', '.join(f'IN[{k + i}]' for i in range(len(args)))}));")
        k += len(args)
    script = (languages.JAVASCRIPT.prelude(list(HELPERS), [])
              + f"\nconst IN = [{', '.join(js_literal(x) for x in inputs)}];\nconst OUT = [];\n"
              + "\n".join(lines) + "\n" + JS_MAIN)
    (folder / "helpers.js").write_text(script, encoding="utf-8")
    out = subprocess.run([node, str(folder / "helpers.js")], check=True, capture_output=True, text=True).stdout.split()
    assert len(out) == len(all_cases), f"{len(out)} results for {len(all_cases)} cases"
    return {(name, i): from_bits(int(h, 16)) for (name, i, _), h in zip(all_cases, out)}


@pytest.fixture(scope="module")
def js_results(tmp_path_factory):
    return build_and_run_js(tmp_path_factory)


# ---- NumPy ------------------------------------------------------------------------------------------

def numpy_results(helper: Helper, points: list[tuple[float, ...]]) -> tuple[list, list]:
    """The NumPy version on arrays (one per argument position, all cases of one arity at once) and on 0-d
    np.float64 scalars (one case at a time): each result, in the order of `points`."""
    fn = helper.numpy(np)
    on_arrays: list = [None] * len(points)
    with np.errstate(all="ignore"):
        for n in sorted({len(p) for p in points}):
            group = [i for i, p in enumerate(points) if len(p) == n]
            columns = [np.array([points[i][k] for i in group], dtype=np.float64) for k in range(n)]
            out = outcome(fn, *columns)
            if not isinstance(out, str):
                out = np.asarray(out)
                assert out.shape == (len(group),) and out.dtype == np.float64, (out.shape, out.dtype)
            for j, i in enumerate(group):
                on_arrays[i] = out if isinstance(out, str) else float(out[j])
        on_scalars = [as_float(outcome(fn, *map(np.float64, p))) for p in points]
    return on_arrays, on_scalars


# ---- the test -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(HELPERS))
def test_six_versions_agree_bit_for_bit(name, generated_python, c_results, js_results):
    """Every version of the helper gives the float version's bits at every point (see the module docstring
    for the only two allowances); all disagreements are listed at once."""
    helper = HELPERS[name]
    points = cases(name)   # fails for a row whose arity this test does not know
    on_arrays, on_scalars = numpy_results(helper, points)
    python = eval(languages.PYTHON.code(name).call, generated_python)  # a name; abs is a builtin
    wrong: list[str] = []
    for i, args in enumerate(points):
        # float and complex as the engine calls them: through rules._ieee (OverflowError is inf, ValueError NaN)
        expected = as_float(outcome(rules._ieee(helper.float), *args))
        got = {
            "numpy": on_arrays[i],
            "numpy 0-d": on_scalars[i],
            "python": as_float(outcome(python, *args)),
            **{flags: results[(name, i)] for flags, results in c_results.items()},
        }
        for column, value in got.items():
            if not same(expected, value):
                wrong.append(f"{name}{args}: float {show(expected)} but {column} {show(value)}")
        # complex: inputs complex(x, 0.0), the result's real part
        value = as_float(outcome(rules._ieee(helper.complex), *(complex(x, 0.0) for x in args)))
        if not same(expected, value) and complex_exception(name, args, expected, value) is None:
            wrong.append(f"{name}{args}: float {show(expected)} but complex {show(value)}")
        # javascript: V8's libm may be one ulp off in a transcendental function (JS_ULP), nothing more
        value = js_results[(name, i)]
        if not same(expected, value) and not (name in JS_ULP and ulps(expected, value) <= 1):
            wrong.append(f"{name}{args}: float {show(expected)} but javascript {show(value)}"
                         f" ({ulps(expected, value)} ulps)")
    assert not wrong, f"{len(wrong)} disagreements:\n" + "\n".join(wrong)


# ---- the table itself ---------------------------------------------------------------------------------

C_MATH = {"exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "fabs", "pow"}   # what <math.h> gives generated C
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


@pytest.mark.parametrize("name", list(HELPERS))
def test_every_row_has_all_six_columns(name):
    """No version is missing: three callables (NumPy's given the module), and for each language a name to
    call that it has natively or that the row defines; `counted` only in C, exactly for the variadic ones."""
    helper = HELPERS[name]
    assert helper.name == name
    assert list(Helper._fields) == ["name", "float", "complex", "numpy", "python", "c", "javascript"]
    assert callable(helper.float) and callable(helper.complex), name
    assert callable(helper.numpy) and callable(helper.numpy(np)), name
    variadic = primitives.OPS[name].arity is None if name in primitives.OPS else None
    for column, native in (("python", lambda call: hasattr(builtins, call)), ("c", C_MATH.__contains__),
                           ("javascript", lambda call: False)):
        code = getattr(helper, column)
        assert isinstance(code, Code), f"{name}: no {column} version"
        assert code.call and IDENTIFIER.match(code.call), f"{name}: {column} calls {code.call!r}"
        assert code.define.strip() or native(code.call), f"{name}: {column} neither has nor defines {code.call}"
        if code.define:
            assert re.search(rf"\b{re.escape(code.call)}\b", code.define), f"{name}: {column}'s define lacks it"
        if column == "c":
            assert (code.counted is not None) == bool(variadic), f"{name}: C counts exactly the variadic calls"
        else:
            assert code.counted is None, f"{name}: only C's variadic calls are counted"


def test_every_computed_primitive_has_a_row():
    """A primitive written as a call and computed by no `forward` expression is computed by its helper."""
    for name, op in primitives.OPS.items():
        if op.call and op.forward is None:
            assert name in HELPERS, f"primitive {name} has no row in bpcli.core.helpers.HELPERS"
