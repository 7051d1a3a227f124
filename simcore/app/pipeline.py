"""The run pipeline: what turns an engine result into a run directory. After the engine, it
appends the percentile groups to run.nc, starts the drawing process on them (the seed
comparison and the charts, :mod:`.drawing`), computes the given-data sensitivity and the CSV
tables meanwhile, copies the prior files, appends /sensitivity, and writes the manifest with
the timing laps. Persistence itself (staging, atomic publication, provenance) is
:mod:`simcore.stored.store`'s."""

from __future__ import annotations

import json
import time
from pathlib import Path

import xarray as xr

from ..analysis import sensitivity, tables
from ..analysis.scoring import observations_table
from ..base import csvfiles
from ..base.forked import Forked
from ..run import runfile
from ..run.engine import RunResult
from ..stored import observation_files, publish
from ..stored.store import (
    RUN_FILE,
    RunWriter,
    append_groups,
    copy_prior_files,
    new_run,
    root_attributes,
    run_provenance,
    trajectory_groups,
)
from .drawing import start_drawing

# The CSV files of a run and the functions that make them (simcore verify recomputes them too).
CSV_TABLES = {
    "percentiles.csv": tables.percentiles,
    "events.csv": tables.events_by_year,
    "events_summary.csv": tables.events_summary,
    "binding.csv": tables.binding_shares,
    "sensitivity.csv": sensitivity.table_for_run,             # Q8, given-data indices
    "sensitivity_dominant.csv": sensitivity.dominance_for_run,
}


def summary_groups(result: RunResult, provenance: dict) -> dict[str, xr.Dataset]:
    """run.nc's groups that summarise the draws: /trajectories (percentiles), its /paths, and
    /sensitivity (the per-draw groups /prior and /events are simcore.runfile's), and for a run
    without per-draw groups the counts that stand for them."""
    return {**trajectory_groups(result, provenance), **reduced_groups(result),
            "/sensitivity": sensitivity.group_for_run(result)}   # Q8; computed once, cached


def reduced_groups(result: RunResult) -> dict[str, xr.Dataset]:
    """/event_slots, /binding_counts and /prior_sample of a run without per-draw groups."""
    if result.reduced is None:
        return {}
    return runfile.reduced_datasets(result.priors, result.reduced, result.drivers)


def build_datatree(result: RunResult, provenance: dict,
                   every_draw: RunResult | None = None) -> xr.DataTree:
    """The whole of run.nc in memory, for a run whose draws are all in memory (what
    ``simcore verify`` compares a stored run with). A run whose events were counted has no
    /prior and /events, unless ``every_draw`` (the same run keeping every draw) gives them:
    a run with per_draw.zarr."""
    per_draw = {}
    every_draw = every_draw or (result if result.reduced is None else None)
    if every_draw is not None:
        prior, events = runfile.per_draw_datasets(result.priors, every_draw.drivers,
                                                  every_draw.events)
        per_draw = {"/prior": prior, "/events": events}
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs=root_attributes(provenance)),
        **per_draw,
        **summary_groups(result, provenance),
        **observed_groups(result),
    })


def observed_groups(result: RunResult) -> dict[str, xr.Dataset]:
    """/observed (every draw's values at the observation points), for a run scored against
    observations (simcore.run.observed)."""
    if result.observation_points is None:
        return {}
    observed = result.observation_points.dataset(result.observed)
    if result.reduced is not None:      # a counted run ranks them among its first draws
        observed.attrs["sample"] = f"the run's first {result.observed.shape[0]:,} draws"
    return {"/observed": observed,
            "/observations": result.observation_points.table_dataset()}


def write_observation_tables(result: RunResult, folder: Path) -> dict:
    """observations.csv and the copies of the observation files; the manifest's entry."""
    if result.observation_points is None:
        return {}
    csvfiles.write_csv(observations_table(result), folder / observation_files.TABLE)
    return {observation_files.MANIFEST_KEY: observation_files.copy_files(
        result.observation_points.files, folder)}


def finish_run(writer: RunWriter, result: RunResult, with_charts: bool = True,
               drawing: Forked | None = None) -> None:
    """Write the rest of the run: the summary groups of run.nc, the tables, the seed
    comparison, the charts (unless not ``with_charts``) and the manifest. ``drawing`` is a
    process from ``drawing.start_drawing`` forked earlier, or one is forked now."""
    started = time.perf_counter()
    staging = writer.staging
    provenance = run_provenance(result)
    writer.sink.set_attributes(root_attributes(provenance))
    writer.sink.close()
    publish.fsync_soon(staging / RUN_FILE)    # the bulk of the run, beside the tables
    if drawing is None:
        # Forked only now: a child holding an inherited handle of the open file would keep
        # it locked.
        drawing = start_drawing(with_charts)
    timings = provenance["timings_seconds"]

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(
            timings.get(k, 0.0) for k in _WRITING_LAPS), 4)

    # The drawing process reads run.nc from when /trajectories is in, while this one
    # computes the sensitivity indices (they read the event times too: HDF5 lets both
    # read at once) and writes the tables; /sensitivity is appended once the drawing is
    # done, since a file open for writing is locked against readers.
    try:
        append_groups(staging / RUN_FILE, {**trajectory_groups(result, provenance),
                                           **reduced_groups(result),
                                           **observed_groups(result)})
        lap("writing_trajectories")
        drawing.go(str(staging))
        with runfile.stored_events(staging / RUN_FILE, result):
            indices = sensitivity.group_for_run(result)    # cached: sensitivity.csv too
            lap("sensitivity")
            for name, make_table in CSV_TABLES.items():
                csvfiles.write_csv(make_table(result), staging / name)
            provenance.update(write_observation_tables(result, staging))
        # The exact bytes that were parsed, in their relative layout, so that a scenario's
        # ``extends`` resolves among the copies (simcore verify reruns them).
        copy_prior_files(result.priors, staging)
        lap("writing_tables")
        drawing.wait()
        lap("writing_charts_wait")
        append_groups(staging / RUN_FILE, {"/sensitivity": indices})
        lap("writing_sensitivity")
    finally:
        drawing.cancel()
    timings["writing"] = round(time.perf_counter() - started, 4)
    files = sorted(p.name for p in staging.iterdir() if p.name != publish.MARKER)
    manifest = {**provenance, "files": files}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# Parts of finish_run's time, in order, recorded in the manifest's timings_seconds.
_WRITING_LAPS = ("writing_trajectories", "sensitivity", "writing_tables", "writing_charts_wait",
                 "writing_sensitivity")


def write_run(result: RunResult, out: Path, force: bool = False,
              with_charts: bool = True) -> Path:
    """Write every output of a run whose draws are all in memory into ``out`` atomically."""
    with new_run(out, result.priors, result.draws, force) as run:
        run.sink.append(0, result.drivers, result.events)
        finish_run(run, result, with_charts)
    return Path(out)
