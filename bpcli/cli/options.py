"""The CLI's shared options and input: the program (EXPR, -f, stdin), -v/--vars, --format, --quiet;
and the values of --wrt and --perturb, as the library takes them.

Part of the CLI layer (bpcli.cli, the only package that imports click).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable
from itertools import pairwise

import click

from bpcli.cli import actions
from bpcli.cli.complete import complete_values
from bpcli.errors import InputError
from bpcli.numfmt import TABLE_DIGITS

# Every exit status, with the commands that can return it ("bpcli": the group's help, which lists them
# all); a command's --help shows its own rows.
_EVERY = "bpcli grad diff eval step graph code completion"
EXIT_STATUSES = (
    (0, _EVERY, "success"),
    (1, "bpcli grad", "--perturb found a gradient or Hessian entry failing the numeric check"),
    (2, "bpcli grad diff eval step graph", "bad input: syntax, unknown function, bad option or value, bad file"),
    (2, "code", "bad input: syntax error, unknown function, bad option, unreadable file"),
    (2, "completion", "bad option or argument, or DIR cannot be written"),
    (3, "bpcli", "a value or derivative is undefined or overflows (step: or diverges)"),
    (3, "grad", "a value or derivative is undefined or overflows at the point or a row"),
    (3, "eval", "a value is undefined or overflows at the point"),
    (3, "diff", "with -v: a value or derivative is undefined or overflows at the point"),
    (3, "step", "a value or derivative is undefined or overflows (the descent diverged)"),
    (3, "graph", "with -v: a value or derivative is undefined or overflows at the point"),
    (74, _EVERY, "standard output could not be written (disk full, closed, I/O error)"),
    (130, _EVERY, "interrupted (Ctrl-C)"),
    (141, _EVERY, "the reader of standard output went away (SIGPIPE, e.g. `| head`)"),
)


def exit_statuses(command: str = "bpcli") -> str:
    """The --help epilog of `command` ("bpcli": the group): the exit statuses it can return."""
    rows = [f"  {code:<3}  {meaning}" for code, commands, meaning in EXIT_STATUSES if command in commands.split()]
    return "\b\nExit status:\n" + "\n".join(rows) + "\n"


_BINDING = r"[^\W\d]\w*\s*="   # the start of NAME=VALUE (compiled by re on first use: only a hint needs it)

def _set_quiet(ctx: click.Context, _param, value: bool) -> None:
    actions.settings["quiet"] = value


def _set_digits(ctx: click.Context, _param, value: int) -> None:
    actions.settings["digits"] = value


def program_options(command):
    """The program a command works on: EXPR, or -f FILE, and --output (and --quiet)."""
    @click.argument("expression", metavar="[EXPR]", required=False)
    @click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                  help="No warnings on stderr (errors still).")
    @click.option("-f", "--file", "file", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
                  help="Read the expression or program from FILE instead of EXPR.")
    @click.option("--output", metavar="NAME", help="Use the program's assigned NAME as the output "
                  "instead of its last statement.")
    @functools.wraps(command)
    def wrapper(expression: str | None, file: str | None, output: str | None, **kwargs):
        if (expression is None) == (file is None):
            raise click.UsageError("give the expression either as EXPR or with -f FILE (one of them)")
        source = actions.source(expression, file, output)
        try:
            return command(source, **kwargs)
        except MemoryError:
            pass   # leaving this block drops the error and the frames it holds, and with them the memory
        raise InputError("not enough memory for this input")
    return wrapper


def point_options(formats: Iterable[str]):
    """The options every command that evaluates at a point shares: the program, its inputs, and --format,
    which chooses among `formats` (bpcli.cli.formats: the first is the default)."""
    return functools.partial(_point_options, formats=tuple(formats))


def _point_options(command, formats: tuple[str, ...]):
    @program_options
    @click.option("-v", "--var", "var", multiple=True, metavar="NAME=VALUE[,…]", shell_complete=complete_values,
                  help="Input values, comma-separated and/or repeated; a value may be a constant "
                       "expression (x=pi/4, y=-2).")
    @click.option("--vars", "vars_file", type=click.Path(dir_okay=False), metavar="FILE",
                  help="Input values from a JSON object or from `name = value` lines; -v overrides them.")
    @click.option("--format", "fmt", type=click.Choice(formats), default=formats[0], show_default=True,
                  help="How to show the result: " + ", ".join(formats) + ".")
    @click.option("--digits", type=click.IntRange(1, 17), default=TABLE_DIGITS, show_default=True,
                  expose_value=False, metavar="N", callback=_set_digits,
                  help="Significant digits of the numbers in tables and graphs "
                       "(JSON, CSV, TSV and JSON Lines keep every digit).")
    @functools.wraps(command)
    def wrapper(source, var: tuple[str, ...], vars_file: str | None, **kwargs):
        values = actions.point(var, vars_file)
        click.get_current_context().meta["bpcli.vars_file"] = vars_file  # a file a command must not write onto
        return command(source, values, **kwargs)
    return wrapper



def dash_expression_hint(args: list[str], option: str) -> str:
    """`bpcli grad "-x^2"` read -x as an option: how to write an expression that starts with "-"."""
    import shlex   # only for this hint (start-up time)

    token = next((arg for arg in args if arg.startswith(option) and not arg.startswith("--")), None)
    if token is None or "--" in args:
        return ""
    rest = list(args)
    rest.remove(token)
    return (f'; an expression that starts with "-" goes last, after "--": bpcli {shlex.join([*rest, "--", token])}'
            f", or starts with a space: {shlex.quote(' ' + token)}")


def comma_hint(args: list[str]) -> str:
    """`-v x=1 y=2` left y=2 as an extra argument: -v's values are one argument, joined by commas."""
    for i, arg in enumerate(args):
        value = arg[2:] if arg.startswith("-v") and arg != "-v" else arg[6:] if arg.startswith("--var=") else None
        if value is None and arg in ("-v", "--var") and i + 1 < len(args):
            value, i = args[i + 1], i + 1
        if value is not None:
            given = [value]
            for extra in args[i + 1:]:
                if not re.match(_BINDING, extra):
                    break
                given.append(extra)
            if len(given) > 1:
                return f"; -v takes one argument: join the values with commas, -v {','.join(given)}"
    return ""


def negative_perturb(option: str, args) -> bool:
    """`--perturb -1`: Click reads -1 as an unknown option, but it is a (negative) step."""
    from bpcli.points.bindings import plain_number

    args = list(sys.argv[1:] if args is None else args)
    return plain_number(option) is not None and any(a == "--perturb" and b == option for a, b in pairwise(args))


class Number(click.ParamType):
    """A number as the grammar and -v write it (float() alone would take 1_000, nan and ٣)."""

    name = "number"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        from bpcli.points.bindings import plain_number

        number = plain_number(str(value))
        if number is None:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


class NoRepeats(click.Command):
    """A command whose single-value options may be given once: Click would silently keep the last."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        single = {opt: p for p in self.params if isinstance(p, click.Option) and not p.multiple
                  and not p.is_flag and not p.count for opt in p.opts}
        seen: dict[str, str] = {}
        i = 0
        while i < len(args) and args[i] != "--":
            word, i = args[i], i + 1
            opt = word.split("=", 1)[0] if word.startswith("--") else word[:2]
            param = single.get(opt) if word.startswith("-") else None
            if param is None:
                continue
            if param.name in seen:
                raise click.UsageError(f"{opt} is given twice" if seen[param.name] == opt
                                       else f"{seen[param.name]} and {opt} are one option, given twice", ctx)
            seen[param.name] = opt
            optional = param.flag_value is not None   # --perturb [STEP]: a value only if one follows
            if word == opt and i < len(args) and not (optional and args[i].startswith("-")):
                i += 1   # the option's value, whatever it looks like
        return super().parse_args(ctx, args)
