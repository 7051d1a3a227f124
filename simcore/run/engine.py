"""Run the model over chunks of draws and stream them into summaries.

Memory is bounded by the chunk size for trajectories (only histograms and a few stored paths
survive a chunk). Per-draw drivers and event times are either kept whole in memory (tests,
``verify``, small what-ifs) or streamed to ``run.nc`` as they are made (``simcore run``), with
only the first draws kept in memory for the given-data sensitivity.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import model
from ..inputs.priors import PriorSet, time_grid
from ..inputs.sampling import Copula, noise, sample_drivers
from ..model import (
    DRIVER_DEFAULTS,
    DRIVER_ORDER,
    N_BINDING_COLUMNS,
    N_EVENT_COLUMNS,
    SERIES,
    Grid,
    unpack_bindings,
    unpack_events,
)
from . import zarrfile
from .reduced import ReducedDraws
from .summaries import EventTimes, LogHistogram, year_ends

if TYPE_CHECKING:
    from .observed import ObservationPoints
    from .runfile import RunFileWriter

# Draws per chunk: larger chunks mean fewer parallel launches and run.nc writes per draw, at the
# cost of two chunk-sized buffers; benchmarks/README.md ("Chunks of 131,072 draws") has the
# measurements.
DEFAULT_CHUNK_SIZE = 131_072
DEFAULT_PATHS = 200


@dataclass
class RunResult:
    priors: PriorSet
    seed: int
    draws: int
    chunk_size: int
    time_abs: np.ndarray                                # (T,) decimal years
    # name -> values of the first draws kept in memory (all of them unless streamed to disk)
    drivers: dict[str, np.ndarray]
    # name -> (N,) or (N, P) event times of every draw: arrays, or run.nc variables while a
    # streamed run is being summarised (slicing reads from disk)
    events: dict[str, np.ndarray]
    histograms: dict[str, LogHistogram]                 # series -> counts per grid time
    paths: dict[str, np.ndarray]                        # series -> (paths, T) values
    copula_repair: float = 0.0
    stored_paths: int | None = None   # paths written to run.nc (default: all of ``paths``)
    streamed: bool = False            # events read from run.nc: summaries keep no per-draw copy
    stopping: dict | None = None      # how an adaptive run (--until-mcse) chose its draws
    # Per-draw base-2 logs at the observation points (simcore.observed), (N, points), if asked
    observed: np.ndarray | None = None
    observation_points: ObservationPoints | None = None
    conditioning: dict | None = None  # weights' summary of a conditioned run (manifest)
    reweighting: dict | None = None   # weights' summary of a what-if by reweighting (manifest)
    engine: dict | None = None        # where the chunks were computed, if not here (manifest)
    # A run without per-draw groups (--no-per-draw): its events' counts, from which every
    # event summary is read; ``drivers`` and ``events`` then hold only the first draws.
    reduced: ReducedDraws | None = None
    per_draw_store: str | None = None   # "zarr": the per-draw groups are in per_draw.zarr
    timings: dict[str, float] = field(default_factory=dict)
    _event_times: dict[tuple[str, int | None], EventTimes] = field(default_factory=dict,
                                                                  repr=False)

    def event(self, name: str, profile: int | None = None) -> EventTimes:
        """Summaries of an event's times (profile: index into PROFILES for per-profile events)."""
        key = (name, profile)
        if key not in self._event_times:
            self._summarise(name)
        return self._event_times[key]

    def summarise_events(self, names) -> None:
        """Summarise these events ahead of use, two at a time for a streamed run: reading from
        run.nc and the compiled selection release the GIL, and at ten million draws each event
        takes long enough to be worth overlapping (benchmarks/README.md, "Event tables")."""
        missing = [name for name in names if not any(k[0] == name for k in self._event_times)]
        if not self.streamed or self.reduced is not None or len(missing) < 2:
            for name in missing:
                self._summarise(name)
            return
        from concurrent.futures import ThreadPoolExecutor
        buffers = threading.local()   # one read buffer per thread, reused for every event
        pool = ThreadPoolExecutor(max_workers=2)
        try:
            list(pool.map(lambda name: self._summarise(name, buffers), missing))
        except BaseException:
            # Ctrl-C: drop the events not started; the file is closed only after the ones
            # being read are done.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _summarise(self, name: str, buffers: threading.local | None = None) -> None:
        if self.reduced is not None:
            columns = model.spec.EVENT_COLUMNS[name]
            per_profile = model.spec.per_profile(model.spec.EVENT_BY_NAME[name])
            for i, column in enumerate(range(columns.start, columns.stop)):
                self._event_times[(name, i if per_profile else None)] = \
                    self.reduced.slots.column(column)
            return
        source = self.events[name]
        if self.streamed and hasattr(source, "read_direct"):
            times = _read_buffer(buffers, source.shape, self.draws * len(model.PROFILES))
            source.read_direct(times)
        else:
            times = np.asarray(source[:])
        # Every profile's column from one read: on disk they share each HDF5 chunk. The
        # columns stay strided views (the summaries read them in place).
        columns = {None: times} if times.ndim == 1 else dict(enumerate(times.T))
        for column_profile, column in columns.items():
            summary = EventTimes(column)
            if self.streamed:   # ten million draws x 15 events would not fit in memory
                summary.release(year_ends(self.priors.as_of_year, self.horizon_year),
                                bounds=(float(self.time_abs[0]), self.horizon_year))
            self._event_times[(name, column_profile)] = summary

    @property
    def horizon_year(self) -> float:
        return float(self.time_abs[-1])


def _read_buffer(buffers: threading.local | None, shape: tuple[int, ...],
                 capacity: int) -> np.ndarray:
    """An array of ``shape`` for reading an event into: a view of this thread's buffer of
    ``capacity`` values, allocated once (a fresh 160 MB array per event at 10M draws costs as
    much in page faults as reading it), or a new array without ``buffers``."""
    size = math.prod(shape)
    flat = getattr(buffers, "flat", None) if buffers is not None else None
    if flat is None or flat.size < size:
        flat = np.empty(size if buffers is None else max(size, capacity))
        if buffers is not None:
            buffers.flat = flat
    return flat[:size].reshape(shape)


def run_forecast(priors: PriorSet, draws: int, seed: int, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 n_paths: int = DEFAULT_PATHS,
                 on_chunk: Callable[[int], None] | None = None,
                 sink: RunFileWriter | None = None,
                 until: Callable[[RunResult], int] | None = None,
                 first_check: int | None = None,
                 observe: ObservationPoints | None = None,
                 source_draws: np.ndarray | None = None,
                 chunks: ChunkSource | None = None,
                 per_draw: bool = True,
                 per_draw_store: Path | None = None) -> RunResult:
    """Sample ``draws`` worlds in chunks; identical results for any ``chunk_size``.

    Without ``sink`` every draw's drivers and event times stay in memory. With a
    :class:`~simcore.runfile.RunFileWriter` they are streamed to it chunk by chunk and only the
    first ``n_paths`` draws (those whose trajectories are kept) stay in memory, so memory does
    not grow with ``draws`` beyond one byte per draw; the result's ``events`` then read from
    the sink.

    ``until`` makes ``draws`` a maximum: at checkpoints (the first after ``first_check`` draws)
    it gets the result so far and returns how many draws are needed; the run stops once that
    is no more than it has. Because draws do not depend on chunking, stopping at N gives the
    same result as asking for N.

    ``observe``: points at which every draw's values are also computed, from the same chunk
    (``RunResult.observed``; kept in memory, 8 bytes per draw and point).

    ``source_draws``: a run of other draws than 0..draws-1: draw i of this run is draw
    ``source_draws[i]`` of the seed's streams (sorted, repeats allowed: a resampled, i.e.
    integer-weighted, run; simcore.conditioning).

    ``chunks``: where chunks are computed other than here (a Dask cluster,
    :mod:`simcore.run.cluster`): it yields each chunk's :class:`ChunkOutput` in chunk order,
    and they are taken in exactly as a chunk computed here, so the result is the same bit for
    bit. Not with ``until`` (a checkpoint would wait for chunks computed ahead of it).

    ``per_draw=False``: keep no per-draw drivers or event times beyond the first ``n_paths``
    draws; the events are counted instead (``RunResult.reduced``), and a cluster merges the
    counts where it computes them. Not with ``sink`` or ``until``, which need every draw;
    ``observe`` then evaluates the points for the first ``n_paths`` draws only (the
    observations are ranked among them). ``per_draw_store``: a zarr store (:mod:`.zarrfile`,
    created) into which each chunk's per-draw rows are written where the chunk is computed.
    """
    from numba import get_num_threads


    started = time.perf_counter()
    t_rel = time_grid(priors)
    t_abs = priors.as_of_year + t_rel
    copula = Copula.from_priors(priors)
    n_paths = min(n_paths, draws)
    if chunks is not None and until is not None:
        raise ValueError("a run computed elsewhere in chunks cannot stop early (until)")
    if not per_draw and (sink is not None or until is not None):
        raise ValueError("a run without per-draw groups has no sink or until")
    if per_draw_store is not None and per_draw:
        raise ValueError("a per-draw store is for a run whose summaries are counted")
    # Chunks computed elsewhere come with their counts already summed over blocks.
    blocks = get_num_threads() if chunks is None else 1
    counts = np.zeros((blocks, len(SERIES), t_rel.size * LogHistogram.n_bins),
                      dtype=np.int32 if chunks is None else np.int64)
    paths = np.empty((n_paths, len(SERIES), t_rel.size))
    in_memory = sink is None and per_draw
    kept = draws if in_memory else n_paths
    reduced = None if per_draw else ReducedDraws(priors.as_of_year, float(t_abs[-1]))
    # Columns in the kernel's order: chunks are written in place and handed to the kernel
    # without copying. Streamed runs use two chunk-sized buffers: one is written to run.nc by
    # a background thread (h5py releases the GIL while HDF5 writes) while the next chunk is
    # sampled and simulated into the other, and copy out the kept head.
    rows = draws if in_memory else min(chunk_size, draws)
    buffers = [(_driver_buffer(priors, rows), np.empty((rows, N_EVENT_COLUMNS)))
               for _ in range(2 if sink is not None and chunks is None else 1)]
    head_drivers = buffers[0][0] if in_memory else np.empty((kept, len(DRIVER_ORDER)))
    head_events = buffers[0][1] if in_memory else np.empty((kept, N_EVENT_COLUMNS))
    # Binding codes are one byte per draw: kept for every draw, but for a run that keeps none.
    binding = np.empty((draws if per_draw else rows, N_BINDING_COLUMNS), dtype=np.int8)
    head_binding = binding if per_draw else np.empty((kept, N_BINDING_COLUMNS), dtype=np.int8)
    observed = (np.empty((draws if per_draw else kept, len(observe)))
                if observe is not None else None)
    # What was drawn (and is stored): the drivers the prior file defines; an optional driver it
    # leaves out is a constant column of the kernel's input, not a draw.
    drawn = [(j, name) for j, name in enumerate(DRIVER_ORDER) if name in priors.drivers]
    timings = {"sampling": 0.0, "model": 0.0, "streaming": 0.0}
    writer = _ChunkWriter(sink, timings) if sink is not None else None

    def result_so_far(n: int) -> RunResult:
        total_counts = counts.sum(axis=0, dtype=np.int64)
        histograms = {name: LogHistogram.from_counts(total_counts[s].reshape(t_rel.size, -1))
                      for s, name in enumerate(SERIES)}
        head = min(kept, n)
        events = unpack_events(head_events[:head], head_binding[:head])
        if writer is not None:
            writer.flush()
            events = {**sink.events(), **unpack_bindings(binding[:n])}
        return RunResult(
            priors=priors, seed=seed, draws=n, chunk_size=chunk_size, time_abs=t_abs,
            drivers={name: head_drivers[:head, j] for j, name in drawn},
            events=events, histograms=histograms,
            paths={name: paths[:min(n, n_paths), s] for s, name in enumerate(SERIES)},
            copula_repair=copula.repair if copula else 0.0, timings=timings,
            streamed=writer is not None, observation_points=observe,
            observed=None if observed is None else observed[:n if per_draw else head],
            reduced=reduced, per_draw_store=None if per_draw_store is None else "zarr")

    checkpoint = draws if until is None else min(draws, max(first_check or chunk_size, 1))
    start = 0
    chunk_number = 0
    task = ChunkTask(priors, seed, copula, n_paths, observe, chunk_size, per_draw,
                     None if per_draw_store is None else str(per_draw_store))
    if chunks is not None and not per_draw:
        # Merged on the cluster: one output for the whole run, its head rows and paths those
        # of the first draws.
        merged = chunks.reduce(task, chunk_bounds(draws, chunk_size), source_draws, on_chunk)
        head_drivers[:] = merged.drivers
        head_events[:] = merged.events
        head_binding[:] = merged.binding
        paths[:] = merged.paths
        if observed is not None:
            observed[:] = merged.observed
        counts[0].reshape(-1)[:] += merged.count_totals
        reduced.merge(merged.reduced)
        for name, seconds in merged.timings.items():
            timings[name] = timings.get(name, 0.0) + seconds
        start = draws
    computed = None if chunks is None or not per_draw else chunks.outputs(
        task, chunk_bounds(draws, chunk_size), source_draws)
    try:
        while start < draws:
            stop = min(start + chunk_size, checkpoint)
            chunk_paths = paths[start:min(stop, n_paths)] if start < n_paths else paths[:0]
            # A counted run evaluates the points for its first (kept) draws only.
            chunk_observed = (None if observe is None else observed[start:stop] if per_draw
                              else observed[start:min(stop, kept)] if start < kept
                              else observed[:0])
            if computed is not None:
                output = next(computed)
                matrix, chunk_events = output.drivers, output.events
                if in_memory:
                    buffers[0][0][start:stop] = matrix
                    buffers[0][1][start:stop] = chunk_events
                binding[start:stop] = output.binding
                counts[0].reshape(-1)[output.count_bins] += output.count_values
                chunk_paths[:] = output.paths
                if chunk_observed is not None:
                    chunk_observed[:] = output.observed
                for name, seconds in output.timings.items():
                    timings[name] = timings.get(name, 0.0) + seconds
            else:
                driver_buffer, event_buffer = buffers[chunk_number % len(buffers)]
                offset = start if in_memory else 0
                matrix = driver_buffer[offset:offset + stop - start]
                chunk_events = event_buffer[offset:offset + stop - start]
                chunk_binding = binding[start:stop] if per_draw else binding[:stop - start]
                simulate_into(priors, seed, copula, t_rel, t_abs, start, stop, matrix,
                              chunk_events, chunk_binding, counts, chunk_paths, observe,
                              chunk_observed,
                              None if source_draws is None else source_draws[start:stop],
                              chunk_size, timings)
                if reduced is not None:
                    _keep_head(start, stop, kept, (matrix, chunk_events, chunk_binding),
                               (head_drivers, head_events, head_binding))
                    _count_chunk(task, start, matrix, chunk_events, chunk_binding, reduced,
                                 timings)
            chunk_number += 1
            if writer is not None:
                _keep_head(start, stop, kept, (matrix, chunk_events),
                           (head_drivers, head_events))
                # The buffer written now is not reused before the next chunk's write is
                # submitted, which waits for this one.
                writer.submit(start,
                              {name: matrix[:, j] for j, name in drawn},
                              unpack_events(chunk_events, binding[start:stop]))
            if on_chunk is not None:
                on_chunk(stop - start)
            start = stop
            if stop == checkpoint and until is not None:
                needed = until(result_so_far(stop))
                if needed <= stop:
                    break
                checkpoint = min(needed, draws)
            elif stop == checkpoint:
                checkpoint = draws
        if writer is not None:
            writer.flush()
    finally:
        if computed is not None:
            computed.close()      # a failure or Ctrl-C: the cluster's chunks are cancelled
        if writer is not None:
            writer.close()

    tick = time.perf_counter()
    result = result_so_far(start)
    timings["summaries"] = time.perf_counter() - tick
    timings["total_engine"] = time.perf_counter() - started
    return result


def _keep_head(start: int, stop: int, kept: int, chunk: tuple, head: tuple) -> None:
    """Copy a chunk's rows among the first ``kept`` draws into the head arrays."""
    if start < kept:
        for source, target in zip(chunk, head, strict=True):
            target[start:min(stop, kept)] = source[:kept - start]


def simulate_into(priors: PriorSet, seed: int, copula: Copula | None, t_rel: np.ndarray,
                  t_abs: np.ndarray, start: int, stop: int, matrix: np.ndarray,
                  events: np.ndarray, binding: np.ndarray, counts: np.ndarray,
                  paths: np.ndarray, observe: ObservationPoints | None,
                  observed: np.ndarray | None, rows: np.ndarray | None, block: int,
                  timings: dict[str, float]) -> None:
    """Draws ``start..stop-1`` (or, with ``rows``, those draws of the seed's streams) sampled
    into ``matrix`` and simulated: their event times, binding codes, values at the observation
    points (``observed``) and the first draws' paths written, the histograms' ``counts`` added
    to. What one chunk is, wherever it is computed; the seconds spent go to ``timings``."""
    from ..model import kernel

    tick = time.perf_counter()
    if rows is None:
        sample_drivers(priors, seed, start, stop, copula, out=matrix, order=DRIVER_ORDER)
        clock = noise(seed, "free_regime_clock", model.MAX_REGIME_SWITCHES, start, stop)
    else:
        clock = _sample_rows(priors, seed, copula, rows, matrix, block)
    tock = time.perf_counter()
    kernel.simulate_chunk(matrix, t_rel, t_abs, clock, counts, events, binding, paths,
                          paths.shape[0])
    timings["sampling"] = timings.get("sampling", 0.0) + tock - tick
    timings["model"] = timings.get("model", 0.0) + time.perf_counter() - tock
    if observe is not None and observed.shape[0]:
        tick = time.perf_counter()
        # Its first rows only in a counted run (the run's first draws); a draw's values do not
        # depend on the others'.
        rows = observed.shape[0]
        observed[:] = observe.evaluate(matrix[:rows], clock[:rows], priors.as_of_year)
        timings["observed"] = timings.get("observed", 0.0) + time.perf_counter() - tick


def chunk_bounds(draws: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk of a run, in order."""
    return [(start, min(start + chunk_size, draws)) for start in range(0, draws, chunk_size)]


@dataclass(frozen=True)
class ChunkTask:
    """What every chunk of a run needs besides its bounds: sent once to each worker."""

    priors: PriorSet
    seed: int
    copula: Copula | None
    n_paths: int        # paths kept: those of the run's first n_paths draws
    observe: ObservationPoints | None
    chunk_size: int
    per_draw: bool = True   # False: per-draw rows only of the first n_paths draws, + counts
    per_draw_store: str | None = None   # a zarr store each chunk writes its rows into


@dataclass
class ChunkOutput:
    """One chunk computed by :func:`compute_chunk`, for the run to take in."""

    drivers: np.ndarray     # (n, len(DRIVER_ORDER)), the kernel's column order
    events: np.ndarray      # (n, N_EVENT_COLUMNS)
    binding: np.ndarray     # (n, N_BINDING_COLUMNS) int8
    # The histograms' counts, summed over the kernel's blocks, as the flat indices of the
    # bins this chunk reached and their counts: a chunk fills a small part of the 6.6 million
    # bins, and the whole array (53 MB in int64) would dominate what small chunks send.
    count_bins: np.ndarray      # int32 (fewer than 2**31 bins)
    count_values: np.ndarray    # int32, as the kernel's own counts per block
    paths: np.ndarray       # (paths among these draws, len(SERIES), T)
    observed: np.ndarray | None
    timings: dict[str, float]
    # Without per-draw groups: the events' counts, and drivers, events and binding hold only
    # the rows among the run's first n_paths draws.
    reduced: ReducedDraws | None = None
    # Merged outputs (merge_outputs): the histograms' counts as one dense int64 array, not
    # sparse. A cluster merges each batch of chunks into the running total, one merge after
    # the other: adding a chunk's bins into a dense total takes milliseconds, where merging two
    # sparse lists of a million bins each needs a sort (~0.3 s) and would make that chain the
    # run's bottleneck.
    count_totals: np.ndarray | None = None


def compute_chunk(task: ChunkTask, start: int, stop: int,
                  rows: np.ndarray | None = None) -> ChunkOutput:
    """Chunk ``start..stop-1`` of a run on its own (a cluster's task): the same numbers as
    the run's loop computes for it, since sampling depends only on the seed and the draws."""
    from numba import get_num_threads

    priors = task.priors
    t_rel = time_grid(priors)
    t_abs = priors.as_of_year + t_rel
    n = stop - start
    matrix = _driver_buffer(priors, n)
    events = np.empty((n, N_EVENT_COLUMNS))
    binding = np.empty((n, N_BINDING_COLUMNS), dtype=np.int8)
    counts = np.zeros((get_num_threads(), len(SERIES), t_rel.size * LogHistogram.n_bins),
                      dtype=np.int32)
    paths = np.empty((max(min(stop, task.n_paths) - start, 0), len(SERIES), t_rel.size))
    observed_rows = n if task.per_draw else paths.shape[0]
    observed = (np.empty((observed_rows, len(task.observe))) if task.observe is not None
                else None)
    timings: dict[str, float] = {}
    simulate_into(priors, task.seed, task.copula, t_rel, t_abs, start, stop, matrix, events,
                  binding, counts, paths, task.observe, observed, rows, task.chunk_size,
                  timings)
    total = counts.sum(axis=0, dtype=np.int64).ravel()
    reached = np.flatnonzero(total)
    reduced = None
    if not task.per_draw:
        reduced = ReducedDraws(priors.as_of_year, float(t_abs[-1]))
        _count_chunk(task, start, matrix, events, binding, reduced, timings)
        head = max(min(stop, task.n_paths) - start, 0)
        matrix, events, binding = matrix[:head].copy(), events[:head].copy(), binding[:head].copy()
    return ChunkOutput(matrix, events, binding, reached.astype(np.int32),
                       total[reached].astype(np.int32), paths, observed, timings, reduced)


def _count_chunk(task: ChunkTask, start: int, matrix: np.ndarray, events: np.ndarray,
                 binding: np.ndarray, reduced: ReducedDraws, timings: dict[str, float]) -> None:
    """What a counted run keeps of a chunk, wherever the chunk is computed: its rows written
    to the per-draw store (if the run has one), its events counted into ``reduced``."""
    if task.per_draw_store is not None:
        tick = time.perf_counter()
        zarrfile.write_chunk(Path(task.per_draw_store), task.priors, start, matrix, events,
                             binding)
        timings["per_draw_store"] = timings.get("per_draw_store", 0.0) + (
            time.perf_counter() - tick)
    tick = time.perf_counter()
    reduced.add(events, binding)
    timings["counting"] = timings.get("counting", 0.0) + time.perf_counter() - tick


def merge_outputs(*outputs: ChunkOutput) -> ChunkOutput:
    """Consecutive chunks' outputs (without per-draw groups) as one, in chunk order: counts
    added, the head rows and paths of the first draws concatenated. Integer sums: the same
    result for any grouping, which is what lets a cluster merge them where they are made."""
    first = outputs[0]
    # New arrays throughout: a worker's inputs must stay as they are (a lost result is
    # recomputed from them).
    totals = np.zeros(_histogram_bins(first), dtype=np.int64)
    for o in outputs:
        if o.count_totals is None:
            totals[o.count_bins] += o.count_values      # a chunk's bins are distinct
        else:
            totals += o.count_totals
    reduced = copy.deepcopy(first.reduced)
    for other in outputs[1:]:
        reduced.merge(other.reduced)
    timings: dict[str, float] = {}
    for o in outputs:
        for name, seconds in o.timings.items():
            timings[name] = timings.get(name, 0.0) + seconds

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(o, name) for o in outputs])

    empty = np.zeros(0, dtype=np.int32)
    observed = None if first.observed is None else joined("observed")
    return ChunkOutput(joined("drivers"), joined("events"), joined("binding"), empty, empty,
                       joined("paths"), observed, timings, reduced, totals)


def _histogram_bins(output: ChunkOutput) -> int:
    """Bins of all the histograms of a run whose chunk this is."""
    return len(SERIES) * output.paths.shape[2] * LogHistogram.n_bins


class ChunkSource:
    """Computes a run's chunks elsewhere (:class:`simcore.run.cluster.ClusterChunks`)."""

    @property
    def threads(self) -> int:
        """Threads computing tasks, all machines together."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Where the tasks are computed: the manifest's ``engine`` entry."""
        raise NotImplementedError

    def outputs(self, task: ChunkTask, bounds: list[tuple[int, int]],
                source_draws: np.ndarray | None) -> Generator[ChunkOutput, None, None]:
        """Each chunk's output, in the order of ``bounds``; closing the generator cancels
        the chunks not yet taken."""
        raise NotImplementedError

    def in_order(self, function: Callable, shared, arguments: list[tuple], name: str
                 ) -> Generator:
        """``function(shared, *args)`` for each ``args`` of ``arguments``, computed elsewhere
        and yielded in their order; closing the generator cancels what is not yet taken."""
        raise NotImplementedError

    def reduce(self, task: ChunkTask, bounds: list[tuple[int, int]],
               source_draws: np.ndarray | None,
               on_chunk: Callable[[int], None] | None = None) -> ChunkOutput:
        """The chunks of a run without per-draw groups (``task.per_draw`` False) computed and
        merged (:func:`merge_outputs`) where they are computed: only the merged output comes
        back. ``on_chunk(draws)`` as each chunk is done."""
        raise NotImplementedError


def evaluate(drivers: dict[str, np.ndarray], t_rel: np.ndarray, as_of_year: float,
             clock: np.ndarray | None = None
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The model at given driver values, without sampling: (events, trajectories).

    ``drivers``: every model driver -> (n,) array (an optional driver may be left out: it takes
    its default); ``clock``: the free-tier regime uniforms (n, MAX_REGIME_SWITCHES), by default
    0.5 everywhere. Trajectories are returned for every draw as series -> (n, T) values (not
    logs), bit for bit a run's stored paths of the same draws; meant for tests, tornado swings
    and what-ifs over a modest number of points. The compiled backend of
    :func:`simcore.model.simulate`.
    """
    from ..model import kernel

    values, events = kernel.simulate_values(drivers, Grid(t_rel, as_of_year), clock)
    return events, values


def _sample_rows(priors: PriorSet, seed: int, copula: Copula | None, rows: np.ndarray,
                 out: np.ndarray, block: int) -> np.ndarray:
    """Draws ``rows`` (sorted, repeats allowed) of the seed's streams into ``out``; returns
    their regime clocks. Sampled a block of at most ``block`` consecutive draws at a time
    (sampling does not depend on blocks), skipping blocks no row falls in."""
    clock = np.empty((rows.size, model.MAX_REGIME_SWITCHES))
    if not rows.size:
        return clock
    first, last = int(rows[0]), int(rows[-1]) + 1
    for lo in range(first, last, block):
        hi = min(lo + block, last)
        a, b = np.searchsorted(rows, [lo, hi])
        if a == b:
            continue
        local = rows[a:b] - lo
        values = np.empty((hi - lo, len(DRIVER_ORDER)), order="F")
        values[:] = out[:1] if out.shape[0] else 0.0      # columns of left-out drivers
        sample_drivers(priors, seed, lo, hi, copula, out=values, order=DRIVER_ORDER)
        out[a:b] = values[local]
        clock[a:b] = noise(seed, "free_regime_clock", model.MAX_REGIME_SWITCHES, lo, hi)[local]
    return clock


def _driver_buffer(priors: PriorSet, rows: int) -> np.ndarray:
    """A chunk's driver matrix in the kernel's column order (Fortran order: each column is
    written in place by the sampler); the columns of optional drivers the prior file leaves
    out hold their defaults once and for all."""
    matrix = np.empty((rows, len(DRIVER_ORDER)), order="F")
    for j, name in enumerate(DRIVER_ORDER):
        if name not in priors.drivers:
            matrix[:, j] = DRIVER_DEFAULTS[name]
    return matrix


class _ChunkWriter:
    """Appends chunks to a :class:`~simcore.runfile.RunFileWriter` on one background thread,
    one chunk in flight at a time: ``submit`` first waits for the previous write (and raises
    what it raised). Time spent waiting for writes is the run's ``streaming`` timing."""

    def __init__(self, sink: RunFileWriter, timings: dict[str, float]):
        from concurrent.futures import ThreadPoolExecutor

        self._sink, self._timings = sink, timings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simcore-run.nc")
        self._pending = None

    def submit(self, start: int, drivers, events) -> None:
        self.flush()
        self._pending = self._pool.submit(self._sink.append, start, drivers, events)

    def flush(self) -> None:
        if self._pending is not None:
            tick = time.perf_counter()
            pending, self._pending = self._pending, None
            try:
                pending.result()
            finally:
                self._timings["streaming"] += time.perf_counter() - tick

    def close(self) -> None:
        """Wait for a write in flight even when failing or interrupted (its error, if any, is
        dropped: the run is failing already): the sink is closed next, and HDF5 must not be
        closed under a write."""
        self._pending = None
        self._pool.shutdown(wait=True)
