"""A run's chunks as tasks on a Dask cluster (``--engine dask``), bit for bit the local engine.

A chunk's random streams depend only on the seed and the chunk's draws, so a worker computes
exactly what the local loop would (:func:`simcore.run.engine.compute_chunk`). Counts of the
histograms are integers, added in chunk order on the client; per-draw drivers and event times
come back chunk by chunk and are written to run.nc in chunk order by the client, as the local
engine writes them. At most ``window`` chunks are in flight (submitted and not yet taken), so
the cluster's memory holds at most that many chunks' outputs and the client one, whatever the
number of draws.

A run without per-draw groups (``--no-per-draw``) sends nothing per draw to the client: its
chunks' counts (histograms, event slots, binding counts: integers) are merged by tasks on the
workers into one running total, and the client receives that total once
(:meth:`ClusterChunks.reduce`).

Everything here imports Dask lazily: a local run never pays for it.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import platform
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..base.errors import SimcoreError
from .engine import ChunkOutput, ChunkSource, ChunkTask, compute_chunk, merge_outputs

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_SECONDS = 10
# Packages whose versions must match between client and workers: those that compute a chunk's
# numbers, those that carry it between them, and zarr, which writes its rows (--per-draw zarr).
PACKAGES = ("numpy", "scipy", "numba", "dask", "distributed", "cloudpickle", "msgpack", "zarr")


class ClusterError(SimcoreError):
    """The cluster cannot be used (unreachable, mismatched packages, lost): exit 1."""

    exit_code = 1


def versions() -> dict[str, str]:
    """What must be the same on every machine of a run: Python, the packages above (as their
    modules say: what is imported, not what some metadata claims), and simcore's own source."""
    found = {"python": platform.python_version(), "simcore source": source_fingerprint()}
    for name in PACKAGES:
        try:
            found[name] = str(getattr(importlib.import_module(name), "__version__", "?"))
        except ImportError:
            found[name] = "not installed"
    return found


def source_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of simcore's Python files: a worker running other model
    code would give other numbers."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _mismatch(client_versions: dict[str, str], workers: dict[str, dict[str, str]]) -> str | None:
    for worker, theirs in sorted(workers.items()):
        for name, mine in client_versions.items():
            if theirs.get(name) != mine:
                return (f"worker {worker} has {name} {theirs.get(name)}, this machine "
                        f"{mine}; install the same versions everywhere")
    return None


def scheduler_address(address: str | None) -> str | None:
    """--scheduler, else $DASK_SCHEDULER_ADDRESS, else None (a LocalCluster here)."""
    return address or os.environ.get(ADDRESS_VARIABLE) or None


def local_workers() -> int:
    """Workers of a LocalCluster: one single-threaded process per core, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


@contextmanager
def connect(address: str | None, workers: int | None = None) -> Iterator[ClusterChunks]:
    """A client of the scheduler at ``address``, or of a LocalCluster of ``workers``
    processes on this machine when ``address`` is None; closed (and the LocalCluster shut
    down) on leaving. Raises :class:`ClusterError` for a scheduler that cannot be reached, a
    cluster without workers or one whose packages differ from this machine's."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("--engine dask needs Dask: pip install 'simcore[cluster]' (dask "
                           "and distributed)") from None

    # Dask's own warnings (a worker lost, a task rescheduled) would break the one-line exits.
    _quiet_logging()
    cluster = None
    try:
        if address is None:
            n = workers or local_workers()
            # One thread per worker and one numba thread per task: the processes are the
            # parallelism (results do not depend on either).
            # No dashboard; the scheduler's HTTP server (health, metrics) on a free port: on
            # Dask's default port it warns when another cluster holds that port.
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=None,
                                   scheduler_kwargs={"dashboard": False,
                                                     "dashboard_address": "127.0.0.1:0"},
                                   env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                        "OPENBLAS_NUM_THREADS": "1"})
            client = Client(cluster)
        else:
            try:
                client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address}: "
                                   f"{' '.join(str(exc).split()) or type(exc).__name__}") \
                    from None
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {address} has no workers") from None
        try:
            theirs = client.run(versions)
        except Exception as exc:     # a worker that cannot even report its versions
            raise ClusterError(f"a Dask worker failed to report its package versions: "
                               f"{' '.join(str(exc).split())}") from None
        problem = _mismatch(versions(), theirs)
        if problem is not None:
            raise ClusterError(f"the Dask cluster differs from this machine: {problem}")
        if cluster is not None:
            # A LocalCluster's workers share this terminal: what they log when Ctrl-C cancels
            # their tasks or closes the scheduler first (warnings, "failed heartbeat" errors)
            # would break the one-line exits, and a task's own failure reaches the client as
            # its exception anyway. Another cluster's logs are its own.
            client.run(_quiet_logging, logging.CRITICAL)
        yield ClusterChunks(client, address)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _quiet_logging(level: int = logging.ERROR) -> None:
    logging.getLogger("distributed").setLevel(level)


def _chunk_rows(bounds: list[tuple[int, int]], source_draws: np.ndarray | None) -> list:
    """Each chunk's draws of the seed's streams (None: its own positions)."""
    return [None if source_draws is None else source_draws[start:stop]
            for start, stop in bounds]


def _same(shared):
    return shared


@contextmanager
def _cluster_errors():
    """A cluster that went away, as one line (a task's own exception passes through)."""
    from distributed import CancelledError

    try:
        yield
    except CancelledError:
        raise ClusterError("the Dask cluster cancelled the run's tasks (scheduler lost?)") \
            from None
    except OSError as exc:
        raise ClusterError(f"lost the Dask scheduler: {exc}") from None


class ClusterChunks(ChunkSource):
    """A run's chunks computed by a cluster's workers, taken in chunk order."""

    def __init__(self, client, address: str | None):
        self.client = client
        self.address = address

    @property
    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> dict:
        """The manifest's ``engine`` entry."""
        return {"name": "dask", "scheduler": self.address or "LocalCluster",
                "workers": len(self.client.nthreads()), "threads": self.threads}

    def outputs(self, task: ChunkTask, bounds: list[tuple[int, int]],
                source_draws: np.ndarray | None) -> Generator[ChunkOutput, None, None]:
        return self.in_order(compute_chunk, task,
                             [(start, stop, rows) for (start, stop), rows
                              in zip(bounds, _chunk_rows(bounds, source_draws), strict=True)],
                             name="chunk")

    def reduce(self, task: ChunkTask, bounds: list[tuple[int, int]],
               source_draws: np.ndarray | None,
               on_chunk: Callable[[int], None] | None = None) -> ChunkOutput:
        """Chunks merged on the cluster, in chunk order: each batch of chunks done at the
        front of the queue is merged into the running total by one more task, on a worker;
        the client holds futures and receives only the final total."""
        from distributed import wait

        client = self.client
        window = 2 * self.threads
        tag = os.urandom(4).hex()
        held = client.submit(_same, task, pure=False, key=f"simcore-shared-{tag}")
        rows = _chunk_rows(bounds, source_draws)
        pending: list = []
        submitted = merges = taken = 0
        total = None
        try:
            while submitted < len(bounds) or pending:
                while submitted < len(bounds) and len(pending) < window:
                    start, stop = bounds[submitted]
                    pending.append(client.submit(compute_chunk, held, start, stop,
                                                 rows[submitted], pure=False, retries=0,
                                                 key=f"simcore-chunk-{submitted}-{tag}"))
                    submitted += 1
                with _cluster_errors():
                    wait(pending[:1])
                batch = [pending.pop(0)]
                while pending and pending[0].done():
                    batch.append(pending.pop(0))
                for future in batch:
                    if future.status == "error":
                        with _cluster_errors():
                            future.result()       # the task's own exception
                parts = batch if total is None else [total, *batch]
                total = client.submit(merge_outputs, *parts, pure=False, retries=0,
                                      key=f"simcore-merge-{merges}-{tag}")
                merges += 1
                for future in batch:
                    future.release()     # the merge task holds them until it has run
                if on_chunk is not None:
                    for start, stop in bounds[taken:taken + len(batch)]:
                        on_chunk(stop - start)
                taken += len(batch)
            with _cluster_errors():
                return total.result()
        finally:
            # Only what has no dependents is cancelled: the chunks not yet merged and the
            # latest total (whose release frees the merges and chunks below it). The scheduler
            # cancels a key's dependents too, and asserts that some client still wants each:
            # the chunks already merged were released by this client.
            client.cancel([*pending, *([total] if total is not None else [])])
            held.release()

    def in_order(self, function: Callable, shared, arguments: list[tuple], name: str
                 ) -> Generator:
        """``function(shared, *args)`` for each ``args`` of ``arguments``, as tasks, yielded
        in the order of ``arguments``; closing the generator cancels the tasks not yet
        taken. ``name`` goes into the tasks' keys (``simcore-NAME-...``)."""
        client = self.client
        # Two tasks per thread in flight: every worker busy while the client takes results.
        window = 2 * self.threads
        tag = os.urandom(4).hex()
        # Sent once, as a task's result rather than scattered data: a task can be recomputed
        # when the workers holding its result die, scattered data would be lost with them.
        held = client.submit(_same, shared, pure=False, key=f"simcore-shared-{tag}")
        pending: list = []
        submitted = 0

        def submit_next() -> None:
            nonlocal submitted
            pending.append(client.submit(function, held, *arguments[submitted], pure=False,
                                         key=f"simcore-{name}-{submitted}-{tag}",
                                         retries=0))
            submitted += 1

        try:
            for _ in arguments:
                while submitted < len(arguments) and len(pending) < window:
                    submit_next()
                future = pending.pop(0)
                with _cluster_errors():
                    result = future.result()
                future.release()
                yield result
        finally:
            if pending:
                client.cancel(pending, force=True)
            client.cancel([held], force=True)
