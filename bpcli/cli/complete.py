"""Shell completion: the part of the command line that talks to bash, zsh and fish (through Click).

Part of the CLI layer (the only modules that import click are cli and this one). Every Tab runs a
fresh `bpcli`, so this path imports neither Rich nor NumPy, and it never prints an error: an unfinished
or invalid expression completes nothing.

The shells' side (bpcli's bash and fish classes) is `bpcli.cli.shells`, which `ready` imports: only a
Tab and `bpcli completion` need it, and with it click.shell_completion.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from bpcli.errors import BpcliError, InputError

if TYPE_CHECKING:  # click.shell_completion is imported by a Tab and by `bpcli completion` only (start-up time)
    from click.shell_completion import CompletionItem


def variables(ctx: click.Context) -> list[str]:
    """The variables of the expression typed so far (from EXPR or -f FILE); [] when it does not parse.
    Parsed and lowered as api.compile_source does, without importing the api and the engine behind it:
    every Tab is a fresh process (start-up time)."""
    from bpcli.core.lowering import lower
    from bpcli.language.parser import parse

    # Click does not put an argument typed before the option into ctx.params (pallets/click#2184).
    expression = ctx.params.get("expression") or next(iter(ctx.args), None)
    try:
        if ctx.params.get("file"):
            from bpcli import files

            expression = files.read_path(ctx.params["file"]).decode("utf-8")
        if not expression or expression == "-":
            return []
        return lower(parse(expression), expression).input_names
    except (BpcliError, OSError, UnicodeDecodeError):
        return []


def complete_values(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`-v <Tab>` → `w=` `x=` …, the variables with no value yet; after `w=5,` the remaining ones."""
    from click.shell_completion import CompletionItem

    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    given = {pair.split("=", 1)[0].strip() for item in ctx.params.get("var") or () for pair in item.split(",")}
    given |= {pair.split("=", 1)[0].strip() for pair in head.split(",") if "=" in pair}
    return [CompletionItem(f"{prefix}{name}=") for name in variables(ctx)
            if name not in given and name.startswith(last)]


def complete_names(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`--wrt <Tab>` → the variables (comma-separated lists too)."""
    from click.shell_completion import CompletionItem

    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    chosen = set(head.split(","))
    return [CompletionItem(prefix + name) for name in variables(ctx) if name not in chosen and name.startswith(last)]


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
