"""Reading `-v name=value,…`: the values of the inputs, each a number or a constant expression."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from bpcli.core import engine
from bpcli import primitives
from bpcli.errors import BpcliError, InputError, listed
from bpcli.core.lowering import lower
from bpcli.language.parser import parse

_NAME = re.compile(r"[^\W\d]\w*\Z")
# The grammar's NUMBER, written without its ambiguity: in [0-9]+\.?[0-9]* the two digit runs can split
# "111…1" anywhere, and before \Z every split is tried (a 16 000-digit "-v x=1…1x" took 13 s).
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_NUMBER_CHARS = "0123456789.eE+-"


def plain_number(text: str) -> float | None:
    """The value of a number as the grammar writes it, with an optional sign (`-1`, `2.5e-3`), else None:
    float() alone would also take `1_000`, `nan`, `inf` and non-ASCII digits."""
    return float(text) if _PLAIN_NUMBER.match(text.strip()) else None


def is_name(text: str) -> bool:
    """Whether `text` is a NAME of the grammar: letters of any script, digits and _, not starting with a digit."""
    return bool(_NAME.match(text))


def parse_bindings(items: Iterable[str]) -> dict[str, float]:
    """`["w=5,x=3", "y=pi/4"]` → {"w": 5.0, "x": 3.0, "y": 0.785…}. InputError (exit 2) on anything malformed."""
    values: dict[str, float] = {}
    reserved = primitives.CONSTANTS.keys() | primitives.FUNCTIONS
    for item in items:
        for pair in split_top_level(item) if "," in item else (item,):
            # The common case, an ASCII name and a plain number, without a regular expression (a --vars
            # file may hold 10^5 lines): for ASCII, isidentifier() is the grammar's NAME, and float() of
            # digits, '.', 'e', signs accepts what NUMBER (with a sign) accepts, and raises on the rest.
            name, eq, text = pair.partition("=")
            name, text = name.strip(), text.strip()
            value = None
            if eq and text and name.isascii() and name.isidentifier() and name not in reserved \
                    and not text.strip(_NUMBER_CHARS):
                try:
                    value = float(text)
                except ValueError:
                    pass
            if value is None or abs(value) == math.inf:
                name, value = _pair(pair)  # the general path: constant expressions, and every message
            if name in values:
                raise InputError(f"-v gives {name} twice")
            values[name] = value
    return values


def read_vars(text: str, origin: str) -> dict[str, float]:
    """Values from a --vars file: a JSON object ({"w": 0.5, "x": "pi/4"}) or `name = value` lines
    (# comments and blank lines allowed)."""
    try:
        if text.lstrip().startswith("{"):
            return _json_vars(text, origin)
        lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        return parse_bindings(line for line in lines if line)
    except InputError as err:
        raise InputError(f"{origin}: {err.message}") from None


def _json_vars(text: str, origin: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, value in json_object(text):
        _check_name(name, f"{name}=…")
        values[name] = json_value(name, value)
    return values


def json_object(text: str) -> list[tuple[str, object]]:
    """The (name, value) pairs of a JSON object, as both --vars and JSON Lines rows read one: InputError for
    text that is not a JSON object, a name given twice, or NaN and Infinity (which RFC 8259 JSON lacks)."""
    import json   # here: a point given with -v needs no JSON reader (start-up time)

    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_not_json)
    except (json.JSONDecodeError, ValueError) as err:
        raise InputError(f"not valid JSON ({getattr(err, 'msg', err)})") from None
    except RecursionError:  # json's decoder recurses into nested arrays and objects
        raise InputError("not valid JSON (nested too deeply)") from None
    if not isinstance(pairs, _Pairs):
        raise InputError("expected a JSON object of name → value")
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise InputError(f"{name} is given twice")
        seen.add(name)
    return pairs


class _Pairs(list):
    """A JSON object's (name, value) pairs, in order (a list alone could not be told from a JSON array)."""


def _not_json(word: str):
    raise InputError(f"{word} is not a value (JSON has no {word}; give a number)")


def json_value(name: str, value) -> float:
    """A value from JSON: a number, or a string holding a constant expression ("pi/4"); InputError else."""
    if isinstance(value, str):
        try:
            return constant_value(name, value)
        except InputError as err:
            why = err.message.removeprefix(f"-v {name}={value}: ")
            raise InputError(f"{name}: {value[:40]!r} is not a number or a constant expression ({why})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"the value of {name} must be a number or a constant expression")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(f"the value of {name} is too large for double precision")
    return number


def split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses: `x=max(1,2),y=3` → [`x=max(1,2)`, `y=3`]."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def _pair(pair: str) -> tuple[str, float]:
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name or not value:
        raise InputError(f"malformed -v {pair.strip()!r}: expected name=value, e.g. -v x=3,y=pi/4")
    _check_name(name, pair.strip())
    return name, constant_value(name, value)


def _check_name(name: str, pair: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"malformed -v {pair!r}: {name!r} is not a variable name")
    if name in primitives.CONSTANTS:
        raise InputError(f"-v {name}=…: {name} is a constant and cannot be given a value")
    if name in primitives.FUNCTIONS:
        raise InputError(f"-v {name}=…: {name} is a function, not a variable")


def constant_value(name: str, text: str) -> float:
    """The value of a constant expression such as `pi/4` or `-2` or `1e-3`."""
    if _PLAIN_NUMBER.match(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise InputError(f"-v {name}={text}: the number is too large for double precision")
        return value
    try:
        graph = lower(parse(text), text)
        if graph.inputs:
            raise InputError(f"-v {name}={text}: a value may use numbers, pi and e but not variables "
                             f"({listed(graph.input_names)})")
        return engine.forward(graph, {})[graph.output]
    except BpcliError as err:
        if err.message.startswith(f"-v {name}="):
            raise
        raise InputError(f"-v {name}={text}: {err.message}") from None
