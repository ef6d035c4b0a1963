"""Shell completion: the part of the command line that talks to bash, zsh and fish (through Click).

Part of the CLI layer; imports Click only where it talks to it (the quick reader uses the rest). Every Tab runs a
fresh `bpcli`, so this path imports neither Rich nor NumPy, and it never prints an error: an unfinished
or invalid expression completes nothing.

The shells' side (bpcli's bash and fish classes) is `bpcli.cli.shells`, which `ready` imports: only a
Tab and `bpcli completion` need it, and with it click.shell_completion.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bpcli.errors import BpcliError, InputError

if TYPE_CHECKING:  # click.shell_completion is imported by a Tab and by `bpcli completion` only (start-up time)
    import click
    from click.shell_completion import CompletionItem


def variables(expression: str | None, file: str | None = None) -> list[str]:
    """The variables of the expression typed so far (EXPR, or the program in `file`); [] when it does not
    parse. Parsed and lowered as api.compile_source does, without importing the api and the engine behind
    it: every Tab is a fresh process (start-up time)."""
    from bpcli.core.lowering import lower
    from bpcli.language.parser import parse

    try:
        if file:
            from bpcli import files

            expression = files.read_path(file).decode("utf-8")
        if not expression or expression == "-":
            return []
        return lower(parse(expression), expression).input_names
    except (BpcliError, OSError, UnicodeDecodeError):
        return []


def values_for(names: list[str], given: tuple[str, ...] | list[str], incomplete: str) -> list[str]:
    """What `-v <Tab>` offers: `w=` `x=` …, the variables in `names` with no value yet in `given` (the -v
    arguments before) or in the part of `incomplete` before its last comma; after `w=5,` the remaining ones."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    taken = {pair.split("=", 1)[0].strip() for item in given for pair in item.split(",")}
    taken |= {pair.split("=", 1)[0].strip() for pair in head.split(",") if "=" in pair}
    return [f"{prefix}{name}=" for name in names if name not in taken and name.startswith(last)]


def names_for(names: list[str], incomplete: str) -> list[str]:
    """What `--wrt <Tab>` offers: the variables in `names` not yet in the comma-separated list."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    chosen = set(head.split(","))
    return [prefix + name for name in names if name not in chosen and name.startswith(last)]


def split_words(line: str) -> list[str]:
    """Words as the shell would split them, as Click's split_arg_string does: an unfinished quote or escape
    at the end leaves its partial word. Here too, so that a Tab the quick reader answers splits the same."""
    import shlex

    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    words: list[str] = []
    try:
        words.extend(lex)
    except ValueError:
        words.append(lex.token)
    return words


def bash_words(environ) -> tuple[list[str], str]:
    """The complete words after the program name, and the word being completed, from the line up to the
    cursor (COMP_LINE), as bpcli's bash script sends it."""
    line = environ.get("COMP_LINE", "")
    words = split_words(line)
    incomplete = "" if not line or line[-1].isspace() else (words.pop() if words else "")
    return words[1:], incomplete


def fish_words(environ) -> tuple[list[str], str]:
    """As bash_words, from fish's COMP_WORDS (the line up to the cursor) and COMP_CWORD (the current token).
    A blank current token is an empty word (Click's own class takes the first word of an empty split)."""
    words = split_words(environ.get("COMP_WORDS", ""))
    token = environ.get("COMP_CWORD", "")
    incomplete = next(iter(split_words(token)), "") if token else ""
    args = words[1:]
    if incomplete and args and args[-1] == incomplete:  # fish sends the partial word in both
        args.pop()
    return args, incomplete


def bash_item(kind: str, value: str, incomplete: str, environ) -> str:
    """A candidate (of `kind`: plain, file or dir) as bpcli's bash script reads it: bash replaces only what
    follows the last word-break character (COMP_WORDBREAKS) of the current word, so the candidate is cut to
    that part."""
    breaks = environ.get("COMP_WORDBREAKS", "\"'><=;|&(:")
    cut = max((incomplete.rfind(ch) for ch in breaks if ch not in "\"'"), default=-1)
    value = value[cut + 1:] if cut >= 0 and value.startswith(incomplete[:cut + 1]) else value
    return f"{kind},{value}"


def fish_item(kind: str, value: str, help_: str | None = None) -> str:
    """A candidate as bpcli's fish script reads it: `type,value<TAB>help`, one line each."""
    help_ = (help_ or "").replace("\n", " ").replace("\t", " ")
    return f"{kind},{value}\t{help_}" if help_ else f"{kind},{value}"


def _names(ctx: click.Context) -> list[str]:
    # Click does not put an argument typed before the option into ctx.params (pallets/click#2184).
    return variables(ctx.params.get("expression") or next(iter(ctx.args), None), ctx.params.get("file"))


def complete_values(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`-v <Tab>`, for Click (values_for)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(v) for v in values_for(_names(ctx), ctx.params.get("var") or (), incomplete)]


def complete_names(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`--wrt <Tab>`, for Click (names_for)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(v) for v in names_for(_names(ctx), incomplete)]


def script(cli: click.Command, shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish), as `bpcli completion SHELL` prints it."""
    from click.shell_completion import get_completion_class

    ready()

    cls = get_completion_class(shell)
    assert cls is not None   # bash, zsh and fish are all registered
    return cls(cli, {}, "bpcli", "_BPCLI_COMPLETE").source()


def ready() -> None:
    """Register bpcli's bash and fish classes with Click (before a Tab is answered or a script written)."""
    from bpcli.cli import shells  # noqa: F401 - importing it registers them


FILES = {"bash": "bpcli.bash", "zsh": "_bpcli", "fish": "bpcli.fish"}


def write_all(cli: click.Command, folder: str) -> None:
    """Write every shell's script into `folder`, under the names in FILES."""
    from bpcli import files

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot write {err.filename or folder}: {err.strerror}") from None
    for shell, name in FILES.items():
        files.write_whole(os.path.join(folder, name), script(cli, shell))
