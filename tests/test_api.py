"""The Python API at the top level (`import bpcli`): docs/api.md as a doctest, the functions in the
command line's words, `bpcli.compile` over arrays and DataFrames bit for bit as `--batch`, pickling, and
that `import bpcli` loads nothing until used."""

from __future__ import annotations

import doctest
import io
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import bpcli
from bpcli.points.np_exact import np

ROOT = Path(__file__).resolve().parent.parent


def test_docs_api_examples_run():
    result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_the_issue_example():
    out = subprocess.run([sys.executable, "-c", "import bpcli; r = bpcli.grad('(w+x*y)*z', w=5, x=3, y=2, z=4); "
                          "print(r.value, r.gradient)"], capture_output=True, text=True, check=True).stdout
    assert out == "44.0 {'w': 4.0, 'x': 8.0, 'y': 12.0, 'z': 11.0}\n"


def test_import_bpcli_loads_nothing_until_used():
    code = ("import sys, bpcli; loaded = sorted(m for m in sys.modules if m.startswith('bpcli.')); print(loaded); "
            "bpcli.grad; print('bpcli.api' in sys.modules, 'click' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True False False"]


def test_errors_are_the_command_lines():
    from bpcli import errors

    for name in ("BpcliError", "InputError", "DomainError", "CheckFailed", "OutputError"):
        assert getattr(bpcli, name) is getattr(errors, name)
    with pytest.raises(bpcli.InputError):
        bpcli.grad("x*", x=1)
    with pytest.raises(AttributeError):
        bpcli.nothing  # noqa: B018


def test_values_mapping_and_keywords_together():
    assert bpcli.grad("x*y", {"x": 2}, y=3).gradient == {"x": 3.0, "y": 2.0}
    assert bpcli.eval("order + wrt", {"order": 1, "wrt": 2}).value == 3.0


@pytest.mark.slow
def test_compile_agrees_with_batch_bit_for_bit(tmp_path):
    """10⁶ rows through a DataFrame and through `bpcli grad --batch`: the same bits."""
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 1_000_000
    frame = pd.DataFrame({name: rng.normal(size=n) for name in ("w", "x", "y", "z")})
    expression = "tanh(w*x + y)*sigmoid(z) - log(1 + exp(-x*z))"
    ours = bpcli.compile(expression).grad(frame)
    (tmp_path / "points.csv").write_text(frame.to_csv(index=False, float_format=lambda v: repr(float(v))))
    done = subprocess.run([sys.executable, "-m", "bpcli", "grad", expression, "--batch", str(tmp_path / "points.csv")],
                          capture_output=True, text=True, check=True)
    header, _, body = done.stdout.partition("\n")
    batch = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)   # correctly rounded, as repr wrote them
    for k, column in enumerate(header.split(",")):
        if column.startswith(("value", "d_")):
            assert np.array_equal(ours[column].to_numpy(), batch[:, k]), column


def test_compiled_pickles_as_its_text():
    f = bpcli.compile("v = x*y; v + sin(x)", output=None)
    g = pickle.loads(pickle.dumps(f))
    assert g.source == f.source and g.variables == ["x", "y"]
    assert len(pickle.dumps(f)) < 200
    assert g.grad(x=np.array([1.0]), y=2)["d_x"][0] == f.grad(x=np.array([1.0]), y=2)["d_x"][0]


def test_compiled_rows_that_fail():
    f = bpcli.compile("sqrt(x)")
    with pytest.raises(bpcli.DomainError, match="row 1: "):
        f.grad(x=np.array([4.0, -1.0]))
    out = f.grad(x=np.array([4.0, -1.0]), errors="nan")
    assert out["value"][0] == 2.0 and np.isnan(out["value"][1]) and np.isnan(out["d_x"][1])
    with pytest.raises(bpcli.InputError, match="no values for x"):
        f.grad(y=1)


def test_compiled_as_a_partition_function():
    import pandas as pd

    f = bpcli.compile("x*y")
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}, index=[10, 11])
    out = f(frame)
    assert list(out.columns) == ["value", "d_x", "d_y"] and list(out.index) == [10, 11]
    assert [part["value"].tolist() for part in f(iter([frame, frame]))] == [[3.0, 8.0], [3.0, 8.0]]


def test_code_and_diff():
    assert "def grad_f(x, y):" in bpcli.code("x*y")
    assert "grad_f" in bpcli.code("x*y", lang="c")
    with pytest.raises(bpcli.InputError):
        bpcli.code("x", lang="rust")
    assert bpcli.diff("x*y", x=1, y=2).values == {("x",): 2.0, ("y",): 1.0}
