"""Who may import whom: the import contracts of pyproject.toml (import-linter), and what a fresh interpreter loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "pyproject.toml"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the contracts in pyproject.toml, against the bpcli package found in package_parent."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    command = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", command, "--config", str(CONTRACTS), "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=package_parent)


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("module, line, broken", [
    ("core/graph.py", "import rich", "Only the views import rich"),
    ("core/engine.py", "import numpy", "Only the many-points package imports numpy"),
    ("points/arrays.py", "from bpcli.views import tables", "each imports only from the layers below it"),
])
def test_import_contracts_fail_on_a_forbidden_import(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "bpcli", tmp_path / "bpcli", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "bpcli" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after `code`. Without `site` (-S), this checkout and this
    interpreter's path given instead: a .pth file (an editable install's finder, a site's own) may import
    modules, pathlib or tempfile among them, that a user's interpreter does not."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *(p for p in sys.path if os.path.isdir(p))])}
    code += "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_bpcli_pulls_in_no_ui():
    loaded = modules_after("import bpcli, bpcli.api, bpcli.views.export")
    assert not {"click", "rich"} & loaded


def test_engine_does_not_import_lark():
    loaded = modules_after("import bpcli.core.engine, bpcli.check.gradcheck")
    assert "lark" not in loaded and "rich" not in loaded and "click" not in loaded


POINT = ["grad", "(w+x*y)*z", "-v", "w=5,x=3,y=2,z=4"]
TAB = {"_BPCLI_COMPLETE": "bash_complete", "COMP_LINE": 'bpcli grad "(w+x*y)*z" -v '}


def modules_after_cli(args: list[str], env: dict[str, str] | None = None,
                      entry: str = "bpcli.cli.commands") -> set[str]:
    """The modules a fresh interpreter has loaded once `bpcli ARGS` has run (with `env` added), less those a
    bare interpreter has loaded: what bpcli costs. `entry`: the module whose main runs it (Click's reader,
    or the console script's, which tries the quick reader first)."""
    code = (f"import os, sys\nos.environ.update({env or {}!r})\nfrom {entry} import main\n"
            f"sys.argv = ['bpcli', *{args!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass")
    return modules_after(code) - modules_after("")


# What one point or one Tab does not need, and so must not import: every bpcli process pays for each at
# start-up. Click's own imports are the floor; these are ours or come with ours.
NEVER = {
    "lark": "a lone expression is parsed by bpcli.language.fastparse; Lark is for programs and errors",
    "numpy": "NumPy is for many points (--batch, --grid)",
    "tempfile": "only writing a file (--save, --write, --render) needs it, and it brings shutil, bz2 and lzma",
    "pathlib": "only Lark's grammar file is found with it",
    "importlib.metadata": "--version is given its version; finding it would import email, zipfile, csv, …",
    "bpcli.check.gradcheck": "the perturbation check runs only with --perturb",
    "bpcli.core.explain": "--explain's paths",
    "bpcli.points.descent": "gradient descent is bpcli step's",
    "bpcli.symbolic.reverse": "derivatives as formulas are bpcli diff's",
    "bpcli.codegen.emit": "code is bpcli code's",
}
ROWS = {  # also not on the paths that write no table
    "rich": "Rich is for tables, the tree and the progress bar",
    "bpcli.views.tables": "JSON, CSV and a Tab touch no table code",
}
NOT_A_TAB = {"click.shell_completion": "only a Tab and `bpcli completion` need the shells' classes"}


@pytest.mark.parametrize("path, args, env, forbidden", [
    ("json", [*POINT, "--format", "json"], None, {**NEVER, **ROWS, **NOT_A_TAB}),
    ("csv", [*POINT, "--format", "csv"], None, {**NEVER, **ROWS, **NOT_A_TAB}),
    ("tables", POINT, None, {**NEVER, **NOT_A_TAB}),
    ("tab", [], TAB, {**NEVER, **ROWS, "bpcli.api": "a Tab parses and lowers, no more",
                      "bpcli.core.engine": "a Tab computes nothing",
                      "bpcli.core.helpers": "a Tab compiles no rule"}),
])
@pytest.mark.parametrize("entry", ["bpcli.cli.commands", "bpcli.__main__"])
def test_one_point_and_one_tab_import_only_what_they_need(path, args, env, forbidden, entry):
    if entry == "bpcli.__main__":
        forbidden = {**forbidden, "click": "the quick reader reads these command lines without Click"}
    loaded = modules_after_cli(args, env, entry)
    assert not set(forbidden) & loaded, {name: forbidden[name] for name in set(forbidden) & loaded}


def test_the_checks_of_what_is_imported_can_fail():
    """The same check sees what a path does need: tables import Rich, a Tab the shells' classes, a point
    the engine, and --perturb the check."""
    assert "rich" in modules_after_cli(POINT)
    tab = modules_after_cli([], TAB)
    assert "click.shell_completion" in tab and "bpcli.language.fastparse" in tab  # the expression was parsed
    assert "bpcli.core.engine" in modules_after_cli([*POINT, "--format", "json"])
    assert "bpcli.check.gradcheck" in modules_after_cli([*POINT, "--perturb", "--format", "json"])
