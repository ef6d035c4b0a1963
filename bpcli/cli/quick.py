"""The quick reader: the calls made most often, read without importing Click.

Importing Click costs a bpcli process about three times what starting Python does (its modules import
inspect, typing, datetime, uuid, …), more than everything else a one-point `bpcli grad … --format json`
does. So the console script first offers the command line to `run`, which takes:

- `bpcli grad EXPR` (or -f FILE; "-" is standard input) with -v/--var, --vars, --output, --format, --wrt,
  --perturb [STEP], --perturb-method, --explain, --order, --digits and -q/--quiet, and `bpcli eval` with
  the same but --wrt, --perturb, --perturb-method, --explain and --order;
- a Tab (bash, zsh or fish) after -v/--var or --wrt, where the words before it are such a call's.

Everything else, and anything unusual in these (an option given twice, a value Click would read another
way, an expression starting with "-", a folder for a file, --help), is not taken: `run` returns None
before doing anything, and Click reads the command line as always. What `run` takes runs through the
same functions as under Click (`bpcli.cli.actions`, `bpcli.cli.complete`), so output, messages and exit
status are the same; tests/test_quick.py runs both readers on the same command lines and compares them.
"""

from __future__ import annotations

import os
import stat
import sys

from bpcli.cli import actions
from bpcli.errors import BpcliError

# Each command the quick reader takes: its options that take a value, and its flags. "-v" and "--var" are
# one option; so are "-f" and "--file", and "-q" and "--quiet".
_POINT = {"-v", "--var", "-f", "--file", "--vars", "--output", "--format", "--digits"}
_VALUED = {"grad": _POINT | {"--wrt", "--perturb", "--perturb-method", "--order"}, "eval": _POINT}
_FLAGS = {"grad": {"-q", "--quiet", "--explain"}, "eval": {"-q", "--quiet"}}
_REPEATABLE = {"-v", "--var", "--wrt", "-q", "--quiet", "--explain"}
_SHORT = {"-v": "--var", "-f": "--file", "-q": "--quiet"}
_DIGITS = frozenset("0123456789")


def read(args: list[str]) -> tuple[str, str | None, dict[str, list[str]]] | None:
    """(command, EXPR, {option: [values]}) for a command line the quick reader takes (the words after
    `bpcli`), None for any other. EXPR is None when -f gives the program. Options are keyed by their long
    name ("--var" for -v); a flag's values are empty strings."""
    if not args or args[0] not in _VALUED:
        return None
    command, valued, flags = args[0], _VALUED[args[0]], _FLAGS[args[0]]
    expression: str | None = None
    given: dict[str, list[str]] = {}
    i = 1
    while i < len(args):
        word, i = args[i], i + 1
        if not word.startswith("-") or word == "-":
            if expression is not None:
                return None   # a second argument: Click's error
            expression = word
            continue
        if word.startswith("--") and "=" in word:
            name, _, value = word.partition("=")
            if name not in valued:
                return None
        elif word in flags:
            name, value = word, ""
        elif word[:2] in ("-v", "-f") and len(word) > 2:
            name, value = word[:2], word[2:]
        elif word in valued:
            name = word
            following = args[i] if i < len(args) else None
            if name == "--perturb":   # a step only if one follows (not an option, as Click decides)
                if following is None or (following.startswith("-") and len(following) > 1):
                    value = "auto"
                else:
                    value, i = following, i + 1
            elif following is None or (following.startswith("-") and following != "-"):
                return None   # no value, or one that looks like an option: Click says which
            else:
                value, i = following, i + 1
        else:
            return None
        name = _SHORT.get(name, name)
        if name in given and name not in _REPEATABLE:
            return None   # given twice: Click's error
        given.setdefault(name, []).append(value)
    if (expression is None) == ("--file" not in given) or not _plain(command, given):
        return None   # neither EXPR nor -f, or both: Click's error
    return command, expression, given


def _plain(command: str, given: dict[str, list[str]]) -> bool:
    """Whether each value is one Click reads as written: a --format, --perturb-method, --order and --digits
    it takes (an integer of digits alone, --digits within 1…17), and files that are not folders."""
    from bpcli.cli import formats

    table = formats.GRAD if command == "grad" else formats.EVAL
    if any(value not in table for value in given.get("--format", ())):
        return False
    if "--perturb-method" in given:
        from bpcli.check import METHODS

        if given["--perturb-method"][0] not in METHODS:
            return False
    for name in ("--order", "--digits"):
        for value in given.get(name, ()):
            if not value or len(value) > 3 or not set(value) <= _DIGITS:
                return False
    for name in ("--file", "--vars"):
        if any(not _file(value, dash=name == "--file") for value in given.get(name, ())):
            return False
    return all(1 <= int(value) <= 17 for value in given.get("--digits", ()))


def _file(path: str, dash: bool) -> bool:
    """Whether Click's Path type (no folders, readable; "-" allowed where `dash`) takes `path` as it is."""
    if dash and path == "-":
        return True
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return True   # not there: reading it says so, under either reader
    return not stat.S_ISDIR(found.st_mode) and os.access(path, os.R_OK)


def run(args: list[str], environ) -> int | None:
    """Run the command line `args` (the words after `bpcli`) if the quick reader takes it: its exit status.
    None when it does not, before anything is done or written."""
    if "_BPCLI_COMPLETE" in environ:
        return tab(environ)
    call = read(args)
    if call is None:
        return None
    command, expression, given = call
    first = {name: values[0] for name, values in given.items()}
    actions.settings["quiet"] = "--quiet" in given
    actions.settings["digits"] = int(first.get("--digits", actions.DEFAULTS["digits"]))
    fmt = first.get("--format", "table")
    try:
        source = actions.source(expression, first.get("--file"), first.get("--output"))
        values = actions.point(tuple(given.get("--var", ())), first.get("--vars"))
        if command == "eval":
            actions.evaluate(source, values, fmt)
        else:
            order = int(first.get("--order", "1"))
            one_point = bool(first.get("--perturb") or first.get("--perturb-method") or "--explain" in given)
            actions.check_grad_options(fmt, order, one_point)
            how = actions.perturbation(first.get("--perturb"), first.get("--perturb-method"))
            actions.grad(source, values, fmt, actions.split_names(tuple(given.get("--wrt", ()))), how,
                         "--explain" in given, order)
        code = 0
    except BpcliError as err:
        code = actions.report(err)
    except MemoryError:   # written as it is, with no allocation (as under Click)
        os.write(2, b"bpcli: error: not enough memory for this input\n")
        code = 2
    return actions.flushed(code)


def tab(environ) -> int | None:
    """Answer a Tab after -v/--var or --wrt of a call `read` takes (status 0), as Click would with bpcli's
    shell classes; None for any other."""
    from bpcli.cli import complete

    shell, _, instruction = environ["_BPCLI_COMPLETE"].partition("_")
    if instruction != "complete":
        return None
    try:
        if shell == "bash":
            args, incomplete = complete.bash_words(environ)
        elif shell == "fish":
            args, incomplete = complete.fish_words(environ)
        elif shell == "zsh":
            words, at = complete.split_words(environ["COMP_WORDS"]), int(environ["COMP_CWORD"])
            args, incomplete = words[1:at], (words[at] if at < len(words) else "")
        else:
            return None
    except (KeyError, ValueError):
        return None
    if len(args) < 2 or args[-1] not in ("-v", "--var", "--wrt") or incomplete.startswith("-") \
            or incomplete == "=" or "--" in args:
        return None
    option = args[-1]
    call = read(args[:-1])
    if call is None or (option == "--wrt" and call[0] != "grad"):
        return None
    _command, expression, given = call
    names = complete.variables(expression, given["--file"][0] if "--file" in given else None)
    found = complete.values_for(names, given.get("--var", []), incomplete) if option != "--wrt" \
        else complete.names_for(names, incomplete)
    if shell == "bash":
        lines = [complete.bash_item("plain", value, incomplete, environ) for value in found]
    elif shell == "fish":
        lines = [complete.fish_item("plain", value) for value in found]
    else:
        lines = [f"plain\n{value}\n_" for value in found]
    sys.stdout.buffer.write("\n".join(lines).encode() + b"\n")
    return actions.flushed(0)
