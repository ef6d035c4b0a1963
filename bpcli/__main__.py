"""`python -m bpcli` is the same as the `bpcli` command; `main` here is the command's entry point."""

import sys


def main() -> None:
    """Run the command line. Ctrl-C while it is still being imported (Click and the rest: the first tenth of
    a second) ends as it does later, with one line and status 130, not with a traceback."""
    try:
        from bpcli.cli.commands import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("bpcli: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
