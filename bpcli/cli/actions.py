"""What a command does once its arguments are read, and how a bpcli process starts, speaks and ends; no
click here. Two readers of the command line call these: Click's (`bpcli.cli.commands`, every command and
option) and the quick one (`bpcli.cli.quick`, the common calls only, read without importing Click). So a
command's work is written once, and the two give the same output, the same messages and the same exit status.
"""

from __future__ import annotations

import gc
import signal
import sys

from bpcli.errors import BpcliError, InputError, OutputError, escaped
from bpcli.numfmt import TABLE_DIGITS
from bpcli.points import ROW_FORMATS

# The run's --quiet and --digits. Click's option callbacks set them, and Click's reader starts each run from
# these defaults (tests run many commands in one process).
DEFAULTS = {"quiet": False, "digits": TABLE_DIGITS}
settings = dict(DEFAULTS)

LINE_LIMIT = 1000   # characters of one message line; past it, data echoed whole would flood the terminal


def start() -> None:
    """Make the process ready to run a command.

    The cyclic garbage collector is off for the process: a bpcli process runs one command and exits, and
    what it builds (a graph of tuples and lists, rows of numbers) holds no cycles; on a 10⁵-node graph the
    collector's rescans of it cost about a tenth of the run (benchmarks/huge_expressions.py).

    When whatever reads stdout goes away (`bpcli … --batch big.csv | head`), bpcli ends silently as other
    Unix tools do, by SIGPIPE (status 141 in the shell): the write fails with EPIPE and files.Output sends
    the signal. Click would exit 1, which here means that the --perturb check failed. The signal itself
    stays ignored, so that a reader of stderr that goes away (`2> >(exit)`) costs only the messages.

    The standard streams are made safe first (bpcli.files.standard_streams): closed ones read or write
    as closed, and a failure to write stdout is an error with its own status (74).
    """
    from bpcli import files

    gc.disable()
    files.standard_streams()
    if hasattr(signal, "SIGPIPE"):  # POSIX only; a broken stdout ends the run by SIGPIPE (files.Output)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def say(line: str) -> None:
    """One line of a message on stderr, made safe for a terminal: every message quotes data (names, headers,
    cells, file names, the expression), so control characters are shown escaped here, for all of them;
    an overlong line is cut with a count."""
    if len(line) > LINE_LIMIT:  # the start says what, the end often what to do: keep both
        head, tail = LINE_LIMIT * 2 // 3, LINE_LIMIT // 3
        line = f"{line[:head]}… ({len(line) - head - tail} characters cut) …{line[-tail:]}"
    sys.stderr.write(escaped(line) + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    """A warning on stderr, unless --quiet."""
    if not settings["quiet"]:
        say(f"bpcli: warning: {message}")


def echo(text: str) -> None:
    """A line of results on stdout, written at once (a message that follows it comes after it on a terminal)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def shown():
    """The block where tables, trees and graph labels are made: numbers with --digits significant digits."""
    from bpcli.numfmt import significant

    return significant(settings["digits"])


def report(err: BpcliError) -> int:
    """The error on stderr, one line (a syntax error adds the source line and a caret); its exit status."""
    lines = err.lines()
    say(f"bpcli: error: {lines[0]}")
    for line in lines[1:]:
        say(line)
    return err.exit_code


def flushed(code: int) -> int:
    """The exit status, once what stdout still buffers is written. If it cannot be, the output is lost: that
    is reported too, and the status becomes OutputError's unless an error has set one already."""
    try:
        sys.stdout.flush()
    except OutputError as err:
        report(err)
        return code or err.exit_code
    return code


def source(expression: str | None, file: str | None, output: str | None):
    """The program a command works on (an api.Source): EXPR, or the file of -f; "-" for either is standard
    input. The readers check that exactly one of them is given."""
    from bpcli.api import Source

    if file == "-":
        return Source(read_stdin(), output, "<stdin>")
    if file is not None:
        return Source(read_file(file), output, file)
    assert expression is not None
    stdin = expression == "-"
    return Source(read_stdin() if stdin else expression, output, "<stdin>" if stdin else None)


def point(var: tuple[str, ...] | list[str], vars_file: str | None) -> dict[str, float]:
    """The inputs' values: the --vars file's, then each -v over them."""
    from bpcli.points import bindings

    values = bindings.read_vars(read_file(vars_file), vars_file) if vars_file else {}
    values.update(bindings.parse_bindings(var))
    return values


def waiting_for(what: str) -> None:
    """At a terminal, a line on stderr that says bpcli reads `what` from standard input, and how to end it."""
    if sys.stdin.isatty():
        end = "Ctrl-Z then Enter" if sys.platform == "win32" else "Ctrl-D"
        say(f"bpcli: reading {what} from standard input (end with {end})")


def read_stdin() -> str:
    """The program from standard input; at a terminal, first a line that says bpcli waits for it."""
    from bpcli import files

    waiting_for("the expression")
    return _text(files.read_capped(sys.stdin.buffer, "standard input"), "standard input")


def read_file(path: str) -> str:
    """A program or --vars file, read whole (up to files.MAX_INPUT)."""
    from bpcli import files

    return _text(files.read_path(path), path)


def _text(data: bytes | bytearray, where: str) -> str:
    try:
        return data.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(f"{where} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start})") from None


def split_names(items: tuple[str, ...], required: bool = True) -> list[str] | None:
    """`--wrt a,b --wrt c` → [a, b, c]; None when not given. Given but empty: InputError, or [] with
    required=False, where the library refuses it in turn with its other settings (api.step)."""
    if not items:
        return None
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    if not names and required:
        raise InputError("--wrt needs at least one variable name")
    return names


def perturbation(step: str | None, method: str | None):
    """--perturb [STEP] and --perturb-method → the check pipeline.grad runs: None when neither is given."""
    if step is None and method is None:
        return None
    from bpcli.api import Perturb   # after the common case: Perturb is defined with the check it is for

    if step in (None, "auto"):
        return Perturb(method or "central")
    from bpcli.points.bindings import plain_number

    value = plain_number(step)
    if value is None:
        raise InputError(f"--perturb takes a step such as 0.001, not {step!r}")
    if not (value > 0 and value < float("inf")):
        raise InputError(f"--perturb step must be a positive number, not {step}")
    return Perturb(method or "central", value)


def check_grad_options(fmt: str, order: int, one_point: bool, batch_file: str | None = None,
                       batch_format: str | None = None, grid: tuple[str, ...] = ()) -> None:
    """InputError for a --order grad does not compute, and for grad's options that do not go together;
    `one_point`: --perturb, --perturb-method or --explain is given."""
    from bpcli.api import check_order

    check_order(order)
    if batch_format and not batch_file:
        raise InputError("--batch-format says how to read the --batch input: give --batch FILE with it")
    if one_point and (batch_file or grid):
        raise InputError("--perturb and --explain are for one point; not with --batch or --grid")
    if one_point and fmt in ROW_FORMATS:
        raise InputError(f"--format {fmt} writes one row of numbers; --perturb and --explain need table or json")
    if order == 2 and (batch_file or grid):
        raise InputError("--order 2 is for one point; not with --batch or --grid")
    if order == 2 and fmt in ROW_FORMATS:
        raise InputError(f"--format {fmt} writes one row of numbers; --order 2 needs table or json")


def grad(source, values: dict, fmt: str, wrt: list[str] | None = None, how=None, explain: bool = False,
         order: int = 1) -> None:
    """`bpcli grad` at one point: the result written as `fmt`, then CheckFailed if --perturb disagrees.
    `how`: the perturbation check (api.Perturb) or None."""
    from bpcli import api
    from bpcli.cli import formats

    try:
        # edges recorded only for what shows them all together: JSON writes them as computed again
        result = api.grad(source, values, wrt, how, edges=fmt == "table" or explain, order=order)
    except InputError as err:
        if not values and err.message.startswith("no value for"):   # no point at all: the formula, perhaps
            err.message += "; or for the derivative as a formula: bpcli diff EXPR"
        raise
    write(formats.GRAD, fmt, result, api.explain(result) if explain else None)
    verdict(result)


def evaluate(source, values: dict, fmt: str) -> None:
    """`bpcli eval`: the forward pass at one point, written as `fmt`."""
    from bpcli import api
    from bpcli.cli import formats

    write(formats.EVAL, fmt, api.evaluate(source, values))


def write(table: dict, fmt: str, result, explanations=None) -> None:
    """The point's warnings on stderr, then the result as `table` says `fmt` is written."""
    for warning in result.warnings:
        warn(warning)
    table[fmt](result, fmt, explanations)


def verdict(result) -> None:
    """CheckFailed when the --perturb check disagrees with backprop or the Hessian (after the tables that
    show where)."""
    from bpcli.errors import CheckFailed, listed

    bad = [r.name for r in result.check.rows if r.verdict == "mismatch"] if result.check else []
    second = result.hessian_check
    if second:   # imported only then: the check's modules cost a grad without --perturb start-up time
        from bpcli.check.hessian import entry

        bad += [entry(result.graph.output_name, r.of, r.by) for r in second.rows if r.verdict == "mismatch"]
    if bad:
        raise CheckFailed(f"the perturbation check disagrees with backprop for {listed(bad)}")
