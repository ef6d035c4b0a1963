"""The command line: the commands, their options and help, --batch/--grid runs, and shell completion.

May import: everything. Only this package imports click, and only `commands`, `options`, `batch`,
`complete` (on a Tab) and `shells` do: `actions`, `formats` and `quick` do not, so a run that the quick
reader takes never imports Click. `cli` and `main` are loaded on first use, for the same reason."""

from typing import Any

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bpcli.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module 'bpcli.cli' has no attribute {name!r}")
