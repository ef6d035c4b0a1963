"""`python -m bpcli` is the same as the `bpcli` command; `main` here is the command's entry point."""

import os
import sys


def main() -> None:
    """Run the command line: the quick reader's if it takes it (bpcli.cli.quick, without Click), else
    Click's. Ctrl-C while it is still being imported (Click and the rest: the first tenth of a second)
    ends as it does later, with one line and status 130, not with a traceback."""
    try:
        from bpcli.cli import actions, quick

        actions.start()
        code = quick.run(sys.argv[1:], os.environ)
        if code is not None:
            sys.exit(code)
        from bpcli.cli.commands import cli

        cli(prog_name="bpcli")
    except KeyboardInterrupt:
        sys.stderr.write("bpcli: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
