"""Beyond one process: bpcli.compile as the function of dask.dataframe.map_partitions on a LocalCluster of
two worker processes over 10⁶ rows read from Parquet, equal to the single-process batch; and the shell's
recipe, GNU parallel spreading `--batch -` over cores."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import bpcli
from bpcli.points.np_exact import np

EXPRESSION = "tanh(w*x + y)*sigmoid(z) - log(1 + exp(-x*z))"

pytestmark = pytest.mark.slow


def test_map_partitions_on_two_worker_processes(tmp_path, monkeypatch):
    dd = pytest.importorskip("dask.dataframe", reason="the dask extra is not installed: pip install '.[dask]'")
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(11)
    n = 1_000_000
    frame = pd.DataFrame({name: rng.normal(size=n) for name in "wxyz"})
    dd.from_pandas(frame, npartitions=8).to_parquet(tmp_path / "points")
    compiled = bpcli.compile(EXPRESSION)
    meta = pd.DataFrame({c: pd.Series(dtype="float64") for c in ("value", "d_w", "d_x", "d_y", "d_z")})
    # NumPy in the workers rounds as bpcli's own import of it does (bpcli/points/np_exact.py): the workers
    # import NumPy before any task runs, so the setting must be in the environment they start with
    monkeypatch.setenv("NPY_ENABLE_CPU_FEATURES", "SSE2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        assert len(set(client.run(lambda: __import__("os").getpid()).values())) == 2
        points = dd.read_parquet(tmp_path / "points")
        assert points.npartitions == 8
        out = points.map_partitions(compiled, meta=meta).compute()
    single = compiled.grad(frame)
    assert len(out) == n
    for column in single.columns:
        assert np.array_equal(out[column].to_numpy(), single[column].to_numpy()), column


@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed (apt-get install parallel)")
def test_gnu_parallel_spreads_a_batch_over_cores(tmp_path):
    rng = np.random.default_rng(5)
    lines = ["x,y"] + [f"{a!r},{b!r}" for a, b in rng.normal(size=(50_000, 2)).tolist()]
    (tmp_path / "pts.csv").write_text("\n".join(lines) + "\n")
    bpcli_command = f"{sys.executable} -m bpcli"
    script = (f"parallel -q --pipe --header : -k --block 200k {bpcli_command} grad 'tanh(x*y)' --batch - < pts.csv "
              "| awk 'NR == 1 {h = $0; print; next} $0 != h' > spread.csv && "
              f"{bpcli_command} grad 'tanh(x*y)' --batch pts.csv > one.csv")
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True, timeout=300)
    spread, one = (tmp_path / "spread.csv").read_text(), (tmp_path / "one.csv").read_text()
    assert spread == one and one.count("\n") == 50_001
