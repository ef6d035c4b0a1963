"""`python -m bpcli` is the same as the `bpcli` command."""

from bpcli.cli import main

main()
