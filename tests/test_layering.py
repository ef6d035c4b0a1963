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
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_bpcli_pulls_in_no_ui():
    loaded = modules_after("import bpcli, bpcli.api, bpcli.views.export")
    assert not {"click", "rich"} & loaded


def test_engine_does_not_import_lark():
    loaded = modules_after("import bpcli.core.engine, bpcli.check.gradcheck")
    assert "lark" not in loaded and "rich" not in loaded and "click" not in loaded


def test_json_path_of_the_cli_does_not_import_rich_or_numpy():
    code = ("import sys\nfrom bpcli.cli.commands import main\nsys.argv = ['bpcli', 'grad', '(w+x*y)*z', '-v', "
            "'w=5,x=3,y=2,z=4', '--format', 'json']\ntry:\n    main()\nexcept SystemExit:\n    pass")
    loaded = modules_after(code)
    assert "rich" not in loaded and "numpy" not in loaded
    assert "lark" not in loaded, \
        "a lone expression is parsed by bpcli.language.fastparse; Lark is for programs and errors"


def test_completion_path_does_not_import_rich_or_numpy():
    code = ("import os, sys\nos.environ['_BPCLI_COMPLETE'] = 'bash_complete'\n"
            "os.environ['COMP_LINE'] = 'bpcli grad \"(w+x*y)*z\" -v '\nfrom bpcli.cli.commands import main\n"
            "sys.argv = ['bpcli']\ntry:\n    main()\nexcept SystemExit:\n    pass")
    loaded = modules_after(code)
    assert "rich" not in loaded and "numpy" not in loaded and "lark" not in loaded
    assert "bpcli.language.fastparse" in loaded  # the expression was parsed, to complete its variables
