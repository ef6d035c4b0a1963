"""Who may import whom (DESIGN.md), checked on the source and in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bpcli"

LAYERS = {
    "errors": 0, "files": 0.5, "numfmt": 0, "ops": 1, "backends": 1, "templates": 1.2, "syntax": 1, "names": 1, "rows": 1, "records": 1, "fastparse": 1.5, "parser": 2, "graph": 3, "lowering": 3.5, "engine": 4,
    "dialects": 3.9, "codegen": 4, "quotient": 4.5, "kinks": 4.7, "gradcheck": 5, "bindings": 5, "descent": 5, "explain": 5, "batch": 5, "stream": 5.5, "pipeline": 6,
    "render_explain": 6.8, "render_progress": 6.8, "render": 7, "export": 7, "cli_complete": 7.5, "cli_options": 7.6, "cli_batch": 7.7, "cli": 8, "__main__": 9, "__init__": 0,
}
ONLY_IMPORTER = {"lark": "parser", "rich": "render", "click": "cli"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "bpcli":
                found.update(f"bpcli.{alias.name}" for alias in node.names if not alias.name.startswith("__"))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.stem)
def test_modules_import_only_from_lower_layers(path):
    assert path.stem in LAYERS, f"add {path.stem} to DESIGN.md's layer table and to LAYERS"
    for name in imports(path):
        top, _, rest = name.partition(".")
        if top == "bpcli" and rest:
            dep = rest.split(".")[0]
            assert LAYERS[dep] < LAYERS[path.stem] or path.stem in ("__main__",), f"{path.stem} imports {dep}"
        if top in ONLY_IMPORTER:
            # the CLI layer is cli.py and cli_complete.py (shell completion)
            assert path.stem.startswith(ONLY_IMPORTER[top]), f"only {ONLY_IMPORTER[top]} may import {top}"


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_bpcli_pulls_in_no_ui():
    loaded = modules_after("import bpcli, bpcli.pipeline, bpcli.export")
    assert not {"click", "rich"} & loaded


def test_engine_does_not_import_lark():
    loaded = modules_after("import bpcli.engine, bpcli.gradcheck")
    assert "lark" not in loaded and "rich" not in loaded and "click" not in loaded


def test_json_path_of_the_cli_does_not_import_rich_or_numpy():
    code = ("import sys\nfrom bpcli.cli import main\nsys.argv = ['bpcli', 'grad', '(w+x*y)*z', '-v', "
            "'w=5,x=3,y=2,z=4', '--format', 'json']\ntry:\n    main()\nexcept SystemExit:\n    pass")
    loaded = modules_after(code)
    assert "rich" not in loaded and "numpy" not in loaded
    assert "lark" not in loaded, "a lone expression is parsed by bpcli.fastparse; Lark is for programs and errors"


def test_completion_path_does_not_import_rich_or_numpy():
    code = ("import os, sys\nos.environ['_BPCLI_COMPLETE'] = 'bash_complete'\n"
            "os.environ['COMP_LINE'] = 'bpcli grad \"(w+x*y)*z\" -v '\nfrom bpcli.cli import main\n"
            "sys.argv = ['bpcli']\ntry:\n    main()\nexcept SystemExit:\n    pass")
    loaded = modules_after(code)
    assert "rich" not in loaded and "numpy" not in loaded and "lark" not in loaded
    assert "bpcli.fastparse" in loaded  # the expression was parsed, to complete its variables
