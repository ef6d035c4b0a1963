"""Coverage-guided fuzzing of bpcli with atheris (libFuzzer), for long local runs; pytest does not collect it.

    pip install atheris
    PYTHONPATH=. python tests/fuzz/atheris_bpcli.py tests/fuzz/seeds -max_total_time=600 -timeout=20

Each input's first byte picks a target, the rest is its text: the library (compile_source, evaluate, grad
with a --perturb method), the command line (grad/eval/step/code on stdin, -v values, --vars files, batch
rows) or completion. A target may fail only with BpcliError (the library) or exit status 0-3 with a
message on stderr for a non-zero status and no traceback (the command line); completion exits 0 and says
nothing on stderr. Anything else raises, and libFuzzer saves the input as crash-*; -timeout flags hangs.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["bpcli"]):
    from click.testing import CliRunner

    from bpcli.cli.commands import cli
    from bpcli.errors import BpcliError
    from bpcli.api import Perturb, compile_source, evaluate, grad

POINT = {"w": 0.5, "x": 1.0, "y": 2.0, "z": 3.0, "a": -1.0, "θ": 1e-300}
FOLDER = tempfile.mkdtemp(prefix="bpcli-atheris-")


def library(text: str, method: str) -> None:
    for call in (lambda: compile_source(text), lambda: evaluate(text, POINT),
                 lambda: grad(text, POINT, perturb=Perturb(method))):
        try:
            call()
        except BpcliError:
            pass


def command(args: list[str], stdin: bytes | None = None, env: dict | None = None, completion: bool = False) -> None:
    result = CliRunner().invoke(cli, args, input=stdin, env=env, prog_name="bpcli")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if completion:
        assert result.exit_code == 0 and result.stderr == "", (result.exit_code, result.stderr)
        return
    assert result.exit_code in (0, 1, 2, 3), result.exit_code
    assert result.exit_code == 0 or result.stderr.strip(), "a failure without a message"
    assert "Traceback" not in result.stderr


def vars_file(data: bytes) -> str:
    path = os.path.join(FOLDER, "point.vars")
    with open(path, "wb") as handle:
        handle.write(data)
    return path


TARGETS = [
    lambda t, b: library(t, "central"),
    lambda t, b: library(t, "forward"),
    lambda t, b: library(t, "complex"),
    lambda t, b: command(["grad", "-", "-v", "w=0.5,x=1,y=2,z=3", "--perturb", "--format", "json"], stdin=b),
    lambda t, b: command(["grad", "-", "-v", "w=0.5,x=1,y=2,z=3", "--explain"], stdin=b),
    lambda t, b: command(["eval", "-", "-v", "w=0.5,x=1,y=2,z=3"], stdin=b),
    lambda t, b: command(["step", "-", "-v", "w=0.5,x=1,y=2,z=3", "--steps", "3", "--target", "2"], stdin=b),
    lambda t, b: command(["code", "-", "--lang", "c"], stdin=b),
    lambda t, b: command(["grad", "x*y", "-v", t, "-v", "y=1"]) if "\x00" not in t else None,
    lambda t, b: command(["grad", "(w+x*y)*z", "--vars", vars_file(b)]),
    lambda t, b: command(["grad", "log(x)*y", "--batch", "-", "--on-error", "null"], stdin=b"x,y\n" + b),
    lambda t, b: command(["grad", "log(x)*y", "--batch", "-", "--batch-format", "jsonl"], stdin=b),
    lambda t, b: command([], env={"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": "bpcli " + t},
                         completion=True) if "\x00" not in t else None,
]


def one_input(data: bytes) -> None:
    if not data:
        return
    target, raw = TARGETS[data[0] % len(TARGETS)], data[1:]
    target(raw.decode("utf-8", errors="replace"), raw)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
