"""``--engine dask`` for ``simcore sensitivity`` and ``simcore backtest``: on a LocalCluster of
one and of two worker processes the study's indices and the back-test's scores and origin runs
equal the local engine's bit for bit (every CSV, every run.nc group, the manifests but for time
stamps and their ``engine`` entry); an unreachable scheduler is one line, exit 1, nothing
written; Ctrl-C on a LocalCluster (``--engine dask`` without a scheduler) ends with exit 130,
one line, no run directory and none of the cluster's processes left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clichecks import (
    assert_one_line_exit,
    free_port,
    interrupted_when,
    run_simcore,
    start_simcore,
)
from samefiles import assert_same_files, hdf5_contents
from sharedruns import shared_folder

from simcore.app.backtest import run_backtest
from simcore.app.study import run_study
from simcore.run import cluster

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
BACKTEST_PRIORS = ROOT / "priors" / "backtest"
OBSERVATIONS = ROOT / "data" / "observations.csv"
ORIGINS = ["2024-06", "2025-06"]
STUDY_N, STUDY_OUTPUTS, SEED = 16, ("film_days", "novel_to_movie_possible"), 11
BACKTEST_DRAWS, BACKTEST_CHUNK = 1_200, 300         # four chunks per origin

pytestmark = pytest.mark.slow


def study(out: Path, method: str, computing=None) -> Path:
    run_study(BASELINE, method, STUDY_N, SEED, out, outputs=STUDY_OUTPUTS, resamples=10,
              charts=False, computing=computing)
    return out


def backtest(out: Path, computing=None) -> Path:
    run_backtest(ORIGINS, OBSERVATIONS, BACKTEST_DRAWS, SEED, out, with_charts=False,
                 priors_dir=BACKTEST_PRIORS, chunk_size=BACKTEST_CHUNK, computing=computing)
    return out


@pytest.fixture(scope="module")
def local_studies(tmp_path_factory) -> Path:
    def make(folder: Path) -> None:
        for method in ("sobol", "morris"):
            study(folder / method, method)
    return shared_folder(tmp_path_factory, "cluster-local-studies", make)


@pytest.fixture(scope="module")
def local_backtest(tmp_path_factory) -> Path:
    return shared_folder(tmp_path_factory, "cluster-local-backtest",
                         lambda folder: backtest(folder / "bt")) / "bt"


def engine_entry(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())["engine"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_study_on_a_local_cluster_equals_the_local_study_bit_for_bit(local_studies, tmp_path,
                                                                        workers):
    for method in ("sobol", "morris"):
        out = study(tmp_path / method, method, cluster.connect(None, workers))
        assert engine_entry(out) == {"name": "dask", "scheduler": "LocalCluster",
                                     "workers": workers, "threads": workers}
        local = local_studies / method
        assert "engine" not in json.loads((local / "manifest.json").read_text())
        assert (local / f"{method}.csv").read_text().count("\n") > 10
        assert_same_files(local, out, ignored={"engine"})


def assert_same_run(local: Path, other: Path) -> None:
    assert_same_files(local, other, ignored={"engine"})
    reference = hdf5_contents(local / "run.nc", ignored={"engine"})
    theirs = hdf5_contents(other / "run.nc", ignored={"engine"})
    assert {"prior", "events", "trajectories", "observed"} <= set(reference)
    assert reference.keys() == theirs.keys()
    assert [key for key in reference if reference[key] != theirs[key]] == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_backtest_on_a_local_cluster_equals_the_local_backtest_bit_for_bit(
        local_backtest, tmp_path, workers):
    out = backtest(tmp_path / "bt", cluster.connect(None, workers))
    assert engine_entry(out) == {"name": "dask", "scheduler": "LocalCluster",
                                 "workers": workers, "threads": workers}
    assert_same_files(local_backtest, out, ignored={"engine"})
    for origin in ORIGINS:
        assert engine_entry(out / origin)["workers"] == workers
        assert_same_run(local_backtest / origin, out / origin)


@pytest.mark.parametrize("command", [
    ["sensitivity", BASELINE, "-N", 16, "--output", "film_days", "--no-charts"],
    ["backtest", "--origin", "2025-06", "--draws", 100, "--no-charts"],
])
def test_an_unreachable_scheduler_is_one_line_and_nothing_written(tmp_path, command):
    address = f"tcp://127.0.0.1:{free_port()}"     # nobody listens there
    out = tmp_path / "runs" / "never"
    out.parent.mkdir()
    done = run_simcore(*command, "--out", out, "--engine", "dask", "--scheduler", address)
    assert_one_line_exit(done, 1, "error: cannot reach the Dask scheduler", address)
    assert list(out.parent.iterdir()) == []


def descendants_cpu_seconds(process) -> float:
    """CPU seconds used so far by ``process``'s descendants: the LocalCluster's workers."""
    import psutil

    total = 0.0
    for child in psutil.Process(process.pid).children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def test_ctrl_c_on_a_local_cluster_stops_its_workers_and_leaves_no_run_directory(tmp_path):
    import psutil

    runs = tmp_path / "runs"
    runs.mkdir()
    process = start_simcore("run", BASELINE, "--draws", 2_000_000, "--chunk-size", 2_000,
                            "--no-charts", "--no-observations", "--out", runs / "big",
                            "--engine", "dask")
    workers = []

    def computing() -> bool:
        """Once its workers have computed for a while, chunks are in flight."""
        if descendants_cpu_seconds(process) < 8.0:
            return False
        workers.extend(psutil.Process(process.pid).children(recursive=True))
        return True

    stderr = interrupted_when(process, computing)
    assert len(workers) >= 2
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["interrupted: no run directory was written"], stderr
    assert list(runs.iterdir()) == []
    # The cluster was closed, not orphaned: none of its processes outlives the command.
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
