"""The command line: the commands, their options and help, --batch/--grid runs, and shell completion.

May import: everything. Only this package imports click."""

from bpcli.cli.commands import cli, main

__all__ = ["cli", "main"]
