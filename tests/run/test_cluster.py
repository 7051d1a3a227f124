"""``--engine dask`` on a real cluster: a ``dask scheduler`` and ``dask worker`` processes on
127.0.0.1, started and stopped here. The run must equal the local engine's bit for bit (every
run.nc group, every CSV, the manifest but for its time stamps and its ``engine`` entry) with
one worker, with two, and when a worker is killed with a chunk in hand; an unreachable
scheduler, a cluster with other package versions and Ctrl-C end with one line and no run
directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clichecks import (
    assert_one_line_exit,
    free_port,
    interrupted_when,
    invoke,
    one_line_error,
    run_simcore,
    start_simcore,
)
from samefiles import assert_same_files, folder_bytes, hdf5_contents
from sharedruns import shared_folder

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
DRAWS, CHUNK, SEED = 3_000, 200, 5          # 15 chunks
DASK = Path(sys.executable).with_name("dask")
START_SECONDS = 60
# Single-threaded workers: two processes on two cores (the results do not depend on it).
WORKER_ENV = {**os.environ, "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

pytestmark = pytest.mark.slow


class Cluster:
    """A scheduler on a free port of 127.0.0.1 and the workers added to it; every process is
    killed by ``stop`` (the fixture's finaliser)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.workers: list[subprocess.Popen] = []
        self.scheduler = self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port",
                                      self.address.rsplit(":", 1)[1], "--no-dashboard",
                                      "--no-show"], "scheduler")
        self.wait_for(lambda info: True)

    def _start(self, command: list, name: str) -> subprocess.Popen:
        with open(self.tmp / f"{name}-{len(self.workers)}.log", "w") as log:
            return subprocess.Popen([str(c) for c in command], stdout=log, stderr=log,
                                    env=WORKER_ENV, cwd=self.tmp, start_new_session=True)

    def add_worker(self, preload: Path | None = None) -> subprocess.Popen:
        """A single-threaded worker without a nanny (killing it kills the worker)."""
        extra = ["--preload", preload] if preload is not None else []
        worker = self._start([DASK, "worker", self.address, "--nthreads", "1", "--no-nanny",
                              "--no-dashboard", "--host", "127.0.0.1", *extra], "worker")
        self.workers.append(worker)
        count = len(self.live_workers())
        self.wait_for(lambda info: len(info["workers"]) == count)
        return worker

    def live_workers(self) -> list[subprocess.Popen]:
        return [w for w in self.workers if w.poll() is None]

    def info(self) -> dict:
        from distributed import Client
        with Client(self.address, timeout=START_SECONDS) as client:
            return client.scheduler_info(n_workers=-1)

    def wait_for(self, condition) -> dict:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.scheduler.poll() is None, (self.tmp / "scheduler-0.log").read_text()
            try:
                info = self.info()
                if condition(info):
                    return info
            except OSError:
                pass
            assert time.monotonic() < deadline, "the cluster never reached that state"
            time.sleep(0.2)

    def processing(self) -> dict[str, list]:
        """Worker address -> the keys of the tasks it is running."""
        from distributed import Client
        with Client(self.address, timeout=START_SECONDS) as client:
            return client.processing()

    def kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=START_SECONDS)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            self.kill(process)


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def simcore_run(out: Path, *extra, draws: int = DRAWS) -> subprocess.CompletedProcess:
    done = run_simcore("run", BASELINE, "--draws", draws, "--chunk-size", CHUNK, "--seed",
                       SEED, "--no-charts", "--no-observations", "-q", "--out", out, *extra)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    return shared_folder(tmp_path_factory, "cluster-local-run",
                         lambda folder: simcore_run(folder / "run")) / "run"


PER_DRAW_GROUPS = {"prior", "events"}
COUNTED_GROUPS = {"event_slots", "binding_counts", "prior_sample"}    # --no-per-draw


def assert_same_run(local: Path, dask_run: Path, groups=PER_DRAW_GROUPS) -> None:
    assert_same_files(local, dask_run, ignored={"engine"})
    reference = hdf5_contents(local / "run.nc", ignored={"engine"})
    other = hdf5_contents(dask_run / "run.nc", ignored={"engine"})
    assert {*groups, "trajectories", "trajectories/paths", "sensitivity"} <= set(reference)
    assert reference.keys() == other.keys()
    assert [key for key in reference if reference[key] != other[key]] == []


def engine_entry(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())["engine"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dask_run_equals_the_local_run_bit_for_bit(cluster, local_run, tmp_path, workers):
    for _ in range(workers):
        cluster.add_worker()
    out = tmp_path / "dask"
    simcore_run(out, "--engine", "dask", "--scheduler", cluster.address)
    assert engine_entry(out) == {"name": "dask", "scheduler": cluster.address,
                                 "workers": workers, "threads": workers}
    assert "engine" not in json.loads((local_run / "manifest.json").read_text())
    assert_same_run(local_run, out)
    if workers == 2:     # and simcore verify, which recomputes it here, agrees
        verified = run_simcore("verify", out)
        assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.fixture(scope="module")
def local_counted_run(tmp_path_factory) -> Path:
    return shared_folder(tmp_path_factory, "cluster-local-counted-run",
                         lambda folder: simcore_run(folder / "run", "--no-per-draw")) / "run"


def task_prefixes(cluster: Cluster) -> set[str]:
    """The kinds of task the scheduler has run (it keeps their statistics by key prefix)."""
    from distributed import Client
    with Client(cluster.address, timeout=START_SECONDS) as client:
        return set(client.run_on_scheduler(
            lambda dask_scheduler: [str(name) for name in dask_scheduler.task_prefixes]))


def test_a_run_without_per_draw_groups_is_merged_on_the_cluster_bit_for_bit(
        cluster, local_counted_run, tmp_path):
    cluster.add_worker()
    cluster.add_worker()
    out = tmp_path / "dask"
    simcore_run(out, "--no-per-draw", "--engine", "dask", "--scheduler", cluster.address)
    assert_same_run(local_counted_run, out, groups=COUNTED_GROUPS)
    assert PER_DRAW_GROUPS.isdisjoint(hdf5_contents(out / "run.nc"))
    # The chunks were merged by tasks on the workers, not by the client, and the run let go of
    # them cleanly (cancelling merged chunks once made the scheduler fail an assertion).
    assert {"simcore-chunk", "simcore-merge"} <= task_prefixes(cluster)
    assert "Error" not in (tmp_path / "scheduler-0.log").read_text()
    cluster.wait_for(lambda info: not scheduler_keys(cluster))


def scheduler_keys(cluster: Cluster) -> list[str]:
    """The scheduler's tasks of simcore runs (none once a run has finished or stopped)."""
    from distributed import Client
    with Client(cluster.address, timeout=START_SECONDS) as client:
        return client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks if "simcore" in str(k)])


def test_workers_write_the_per_draw_store_bit_for_bit(cluster, tmp_path):
    cluster.add_worker()
    cluster.add_worker()
    local, out = tmp_path / "local", tmp_path / "dask"
    simcore_run(local, "--per-draw", "zarr")
    simcore_run(out, "--per-draw", "zarr", "--engine", "dask", "--scheduler", cluster.address)
    assert_same_run(local, out, groups=COUNTED_GROUPS)
    store = folder_bytes(local / "per_draw.zarr")
    assert any(name.startswith("events/novel_to_movie_possible/c") for name in store)
    assert folder_bytes(out / "per_draw.zarr") == store
    # The client sent no per-draw rows back: the chunks were merged on the cluster.
    assert {"simcore-chunk", "simcore-merge"} <= task_prefixes(cluster)


def test_the_scheduler_address_may_come_from_the_environment(cluster, local_run, tmp_path):
    cluster.add_worker()
    out = tmp_path / "dask"
    done = run_simcore("run", BASELINE, "--draws", DRAWS, "--chunk-size", CHUNK, "--seed", SEED,
                       "--no-charts", "--no-observations", "-q", "--out", out,
                       "--engine", "dask",
                       env={**os.environ, "DASK_SCHEDULER_ADDRESS": cluster.address})
    assert done.returncode == 0, done.stderr
    assert engine_entry(out)["scheduler"] == cluster.address
    assert_same_run(local_run, out)


@pytest.mark.parametrize("kept", ["per-draw", "counted"])
def test_a_worker_killed_mid_run_changes_nothing(cluster, tmp_path, kept):
    cluster.add_worker()
    victim = cluster.add_worker()
    draws = 40 * CHUNK
    local = tmp_path / "local"
    extra = ["--no-per-draw"] if kept == "counted" else []
    simcore_run(local, *extra, draws=draws)
    out = tmp_path / "dask"
    process = start_simcore("run", BASELINE, "--draws", draws, "--chunk-size", CHUNK, "--seed",
                            SEED, "--no-charts", "--no-observations", "-q", "--out", out,
                            "--engine", "dask", "--scheduler", cluster.address, *extra)
    try:
        # Killed while it holds a chunk of this run: the scheduler must have it recomputed.
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the victim never got a chunk"
            busy = [worker for worker, keys in cluster.processing().items()
                    if any("simcore-chunk" in str(key) for key in keys)]
            if len(busy) == 2:
                break
            time.sleep(0.05)
        cluster.kill(victim)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert_same_run(local, out, groups=COUNTED_GROUPS if extra else PER_DRAW_GROUPS)


def test_an_unreachable_scheduler_is_one_line_and_no_run_directory(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"     # nobody listens there
    out = tmp_path / "runs" / "never"
    out.parent.mkdir()
    done = run_simcore("run", BASELINE, "--draws", 100, "--no-charts", "--out", out,
                       "--engine", "dask", "--scheduler", address)
    assert_one_line_exit(done, 1, "error: cannot reach the Dask scheduler", address)
    assert list(out.parent.iterdir()) == []


def test_a_cluster_with_other_package_versions_is_one_line_exit_1(cluster, tmp_path):
    preload = tmp_path / "other_numpy.py"
    # The same numpy (numba checks its range) with another local version label.
    preload.write_text("import numpy\n"
                       "numpy.__version__ = numpy.__version__.split('+')[0] + '+other'\n")
    cluster.add_worker(preload=preload)
    out = tmp_path / "runs" / "never"
    out.parent.mkdir()
    done = run_simcore("run", BASELINE, "--draws", 100, "--no-charts", "--out", out,
                       "--engine", "dask", "--scheduler", cluster.address)
    assert_one_line_exit(done, 1, "differs from this machine", "numpy", "+other")
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("kept", [(), ("--no-per-draw",)], ids=["per-draw", "counted"])
def test_ctrl_c_cancels_the_cluster_tasks_and_leaves_no_run_directory(cluster, tmp_path, kept):
    cluster.add_worker()
    runs = tmp_path / "runs"
    runs.mkdir()
    process = start_simcore("run", BASELINE, "--draws", 2_000_000, "--chunk-size", 2_000,
                            "--no-charts", "--out", runs / "big", "--engine", "dask",
                            "--scheduler", cluster.address, *kept)
    stderr = interrupted_when(process, lambda: any(
        "simcore-chunk" in str(key) for keys in cluster.processing().values() for key in keys))
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["interrupted: no run directory was written"], stderr
    assert list(runs.iterdir()) == []
    # The client's cancellation reached the scheduler: it forgets every chunk of the run.
    cluster.wait_for(lambda info: not any("simcore-chunk" in str(key)
                                          for keys in cluster.processing().values()
                                          for key in keys))
    cluster.wait_for(lambda info: not scheduler_keys(cluster))


@pytest.mark.parametrize("args,words", [
    (["--scheduler", "tcp://127.0.0.1:1"], ["--scheduler needs --engine dask"]),
    (["--engine", "dask", "--until-mcse", "0.1"], ["--until-mcse needs --engine local"]),
    (["--engine", "spark"], ["--engine", "spark"]),
])
def test_engine_options_that_cannot_work_are_one_line_exit_2(tmp_path, args, words):
    out = tmp_path / "never"
    one_line_error(invoke("run", BASELINE, "--draws", 10, "--out", out, *args), 2, *words)
    assert not out.exists()
