"""Runs without per-draw groups (``--no-per-draw``): events counted in slots instead of kept.

The counts must not depend on how the draws are chunked or merged (that is what lets a cluster
merge them where it computes them), must give the same probabilities, curves and binding
shares as the per-draw times, and quantiles within one slot of the exact order statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from clichecks import invoke, one_line_error, run_simcore
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.analysis import tables
from simcore.analysis.events import event_curves, slot_curve
from simcore.inputs.priors import load_priors
from simcore.model import MODEL_DRIVERS
from simcore.run import engine
from simcore.run.summaries import SLOTS_PER_YEAR, EventSlots, EventTimes, year_ends

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
AS_OF, HORIZON = 2026.92, 2046.92
SLOT = 1.0 / SLOTS_PER_YEAR

# Event times as the model makes them: inside the run's grid, on month and year ends (where
# the slot edges must count them exactly like the per-draw tables do), or not by the horizon.
event_time = st.one_of(
    st.floats(AS_OF, HORIZON, allow_nan=False),
    st.integers(2027, 2046).map(float),
    st.integers(0, 239).map(lambda k: 2027.0 + k / 12.0),
    st.just(AS_OF),
    st.just(math.inf))
time_columns = st.integers(1, 300).flatmap(
    lambda n: st.lists(st.lists(event_time, min_size=3, max_size=3), min_size=n, max_size=n))


def slots_of(times: np.ndarray, cuts: list[int]) -> EventSlots:
    """The slots of ``times`` counted chunk by chunk at ``cuts``, merged right to left."""
    bounds = [0, *sorted(set(c % (len(times) + 1) for c in cuts)), len(times)]
    parts = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        part = EventSlots(AS_OF, HORIZON, times.shape[1])
        part.add(times[a:b])
        parts.append(part)
    total = parts.pop()
    while parts:
        left = parts.pop()
        left.merge(total)
        total = left
    return total


@settings(max_examples=60, deadline=None)
@given(time_columns, st.lists(st.integers(0, 400), max_size=5))
def test_slot_counts_do_not_depend_on_chunks_or_merge_order(rows, cuts):
    times = np.array(rows, dtype=float)
    whole = EventSlots(AS_OF, HORIZON, 3)
    whole.add(times)
    merged = slots_of(times, cuts)
    assert merged.n == whole.n == len(times)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_array_equal(merged.at_as_of, whole.at_as_of)
    np.testing.assert_array_equal(merged.finite, whole.finite)


@settings(max_examples=60, deadline=None)
@given(time_columns, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_slots_give_the_per_draw_probabilities_curves_and_near_quantiles(rows, qs):
    times = np.array(rows, dtype=float)
    slots = EventSlots(AS_OF, HORIZON, 3)
    slots.add(times)
    years = year_ends(AS_OF, HORIZON)
    exact_curves = event_curves(times, AS_OF, HORIZON)
    for c in range(3):
        exact, counted = EventTimes(times[:, c].copy()), slots.column(c)
        assert counted.p_not_by_horizon == exact.p_not_by_horizon
        assert counted.probability_by(years).tolist() == exact.probability_by(years).tolist()
        curve = slot_curve(slots, c)
        assert curve.dates.tolist() == exact_curves[c].dates.tolist()
        assert curve.p_by.tolist() == exact_curves[c].p_by.tolist()
        for q, want in zip(qs, exact.quantiles(qs), strict=True):
            got = counted.quantile(q)
            if math.isinf(want):
                assert got == want
            else:
                # In the slot of the order statistic: at most one slot away.
                assert abs(got - want) <= SLOT * (1 + 1e-9), (q, got, want)


@pytest.fixture(scope="module")
def priors():
    return load_priors(BASELINE, required=set(MODEL_DRIVERS))


@pytest.fixture(scope="module")
def per_draw_and_counted(priors):
    exact = engine.run_forecast(priors, 6_000, 11, chunk_size=1_000, n_paths=500)
    counted = engine.run_forecast(priors, 6_000, 11, chunk_size=1_000, n_paths=500,
                                  per_draw=False)
    return exact, counted


def test_a_counted_run_keeps_only_its_first_draws_and_gives_the_same_tables(
        per_draw_and_counted):
    exact, counted = per_draw_and_counted
    assert counted.reduced is not None and counted.reduced.n == 6_000
    assert {len(v) for v in counted.drivers.values()} == {500}
    assert {v.shape[0] for v in counted.events.values()} == {500}
    for name, values in exact.drivers.items():
        np.testing.assert_array_equal(counted.drivers[name], values[:500])
    for make in (tables.percentiles, tables.events_by_year, tables.binding_shares):
        assert make(counted).equals(make(exact)), make.__name__
    exact_summary, counted_summary = tables.events_summary(exact), tables.events_summary(counted)
    for column in ("event", "profile", "p_not_by_horizon", "p_not_by_horizon_mcse"):
        assert counted_summary[column].equals(exact_summary[column])
    for column in ("p10", "p50", "p90"):
        for a, b in zip(exact_summary[column], counted_summary[column], strict=True):
            if a.startswith("not by"):
                assert a == b
            else:      # shown to 0.01 y: equal, or a rounding edge one slot apart
                assert abs(float(a) - float(b)) <= 0.01


@pytest.mark.parametrize("chunk_size", [333, 6_000])
def test_a_counted_run_does_not_depend_on_the_chunk_size(priors, per_draw_and_counted,
                                                         chunk_size):
    _, counted = per_draw_and_counted
    other = engine.run_forecast(priors, 6_000, 11, chunk_size=chunk_size, n_paths=500,
                                per_draw=False)
    np.testing.assert_array_equal(other.reduced.slots.counts, counted.reduced.slots.counts)
    np.testing.assert_array_equal(other.reduced.binding, counted.reduced.binding)
    for name, values in counted.events.items():
        np.testing.assert_array_equal(other.events[name], values)


def test_merging_chunk_outputs_does_not_depend_on_grouping(priors):
    from simcore.inputs.observations import load_observations
    from simcore.inputs.sampling import Copula
    from simcore.run.observed import ObservationPoints

    points = ObservationPoints.for_priors(load_observations(ROOT / "data" / "observations.csv"),
                                          priors)
    task = engine.ChunkTask(priors, 3, Copula.from_priors(priors), 150, points, 100,
                            per_draw=False)
    chunks = [engine.compute_chunk(task, a, a + 100) for a in range(0, 400, 100)]
    flat = engine.merge_outputs(*chunks)
    nested = engine.merge_outputs(engine.merge_outputs(chunks[0], chunks[1]),
                                  engine.merge_outputs(chunks[2], chunks[3]))
    chained = engine.merge_outputs(engine.merge_outputs(engine.merge_outputs(*chunks[:3])),
                                   chunks[3])
    whole = engine.compute_chunk(task, 0, 400)
    for merged in (nested, chained, whole):
        np.testing.assert_array_equal(merged.reduced.slots.counts, flat.reduced.slots.counts)
        np.testing.assert_array_equal(merged.reduced.binding, flat.reduced.binding)
        np.testing.assert_array_equal(merged.count_totals if merged is not whole else
                                      _dense(whole, flat.count_totals.size),
                                      flat.count_totals)
        for field in ("drivers", "events", "binding", "paths", "observed"):
            np.testing.assert_array_equal(getattr(merged, field), getattr(flat, field))
    assert flat.events.shape[0] == flat.observed.shape[0] == 150   # the first n_paths draws
    assert flat.count_totals.sum() == sum(int(c.count_values.sum()) for c in chunks) > 0
    # The inputs are left as they were: a lost merge is recomputed from them.
    again = engine.merge_outputs(*chunks)
    np.testing.assert_array_equal(again.reduced.slots.counts, flat.reduced.slots.counts)


def _dense(output, size: int) -> np.ndarray:
    totals = np.zeros(size, dtype=np.int64)
    totals[output.count_bins] = output.count_values
    return totals


def test_a_counted_run_ranks_observations_among_its_first_draws(priors):
    from simcore.analysis.scoring import observations_table
    from simcore.inputs.observations import load_observations
    from simcore.run.observed import ObservationPoints

    points = ObservationPoints.for_priors(load_observations(ROOT / "data" / "observations.csv"),
                                          priors)
    counted = engine.run_forecast(priors, 5_000, 8, chunk_size=700, n_paths=1_500,
                                  per_draw=False, observe=points)
    first = engine.run_forecast(priors, 1_500, 8, chunk_size=700, n_paths=0, observe=points)
    assert counted.observed.shape == (1_500, len(points)) and len(points) > 0
    np.testing.assert_array_equal(counted.observed, first.observed)
    # The same draws, so the same table: the first 1,500 of 5,000 are the run of 1,500.
    assert observations_table(counted).equals(observations_table(first))


@pytest.mark.parametrize("option", ["--until-mcse=0.1", "--condition=data/observations.csv"])
def test_no_per_draw_refuses_what_needs_every_draw(tmp_path, option):
    out = tmp_path / "never"
    one_line_error(invoke("run", BASELINE, "--draws", 10, "--out", out, "--no-per-draw",
                          option), 2, "--no-per-draw cannot be combined with",
                   option.split("=")[0])
    assert not out.exists()


def test_a_counted_run_is_verified_drawn_reported_and_compared(tmp_path):
    out = tmp_path / "counted"
    done = run_simcore("run", BASELINE, "--draws", 4_000, "--chunk-size", 700, "--seed", 2,
                       "--no-per-draw", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "no per-draw groups kept" in done.stderr
    assert "observations ranked among the first 4,000 draws" in done.stderr
    import json

    import h5py
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["per_draw"] == "none" and "1/1536 year" in manifest["event_method"]
    with h5py.File(out / "run.nc") as f:
        assert {"prior", "events"}.isdisjoint(f) and {"event_slots", "binding_counts",
                                                       "prior_sample"} <= set(f)
    verified = run_simcore("verify", out)
    assert verified.returncode == 0 and "bit-identical" in verified.stdout, verified.stdout
    charts = tmp_path / "charts"
    charts.mkdir()
    drawn = run_simcore("plot", out, "--to", charts, "-q")
    assert drawn.returncode == 0, drawn.stderr
    assert len(list(charts.glob("*.png"))) >= 9
    reported = run_simcore("report", out)
    assert reported.returncode == 0, reported.stderr
    assert "Q7" in (out / "report.html").read_text()
    # Its seed comparison ranks the milestone from the counts, as a per-draw run from times.
    per_draw = tmp_path / "per_draw"
    done = run_simcore("run", BASELINE, "--draws", 4_000, "--chunk-size", 700, "--seed", 2,
                       "--no-charts", "--out", per_draw)
    assert done.returncode == 0, done.stderr
    for name in ("events.csv", "binding.csv", "percentiles.csv", "outside_comparison.csv",
                 "observations.csv"):
        assert (out / name).read_bytes() == (per_draw / name).read_bytes(), name
    compared = run_simcore("compare", per_draw, out)
    assert compared.returncode == 0, compared.stderr


def test_a_zarr_run_keeps_the_same_draws_as_run_nc_and_refuses_a_damaged_store(tmp_path):
    import shutil

    from simcore.stored.store import load_run

    common = ("--draws", 3_000, "--chunk-size", 700, "--seed", 4, "--no-charts",
              "--no-observations")
    zarr_run, netcdf_run = tmp_path / "zarr", tmp_path / "netcdf"
    for out, extra in ((zarr_run, ("--per-draw", "zarr")), (netcdf_run, ())):
        done = run_simcore("run", BASELINE, *common, *extra, "--out", out)
        assert done.returncode == 0, done.stderr
    with load_run(zarr_run) as from_zarr, load_run(netcdf_run) as from_netcdf:
        for group in ("prior", "events"):
            assert from_zarr[group].to_dataset().identical(from_netcdf[group].to_dataset())
    # Its tables count the events, as --no-per-draw does; what reads the per-draw groups
    # later (the seed comparison) finds them as in a run.nc run.
    for name in ("events.csv", "binding.csv", "seed_comparison.csv"):
        assert (zarr_run / name).read_bytes() == (netcdf_run / name).read_bytes(), name
    verified = run_simcore("verify", zarr_run)
    assert verified.returncode == 0 and "bit-identical" in verified.stdout, verified.stdout

    damaged = tmp_path / "damaged"
    shutil.copytree(zarr_run, damaged)
    chunk = next((damaged / "per_draw.zarr" / "events" / "film_by_small_team").rglob("c/*"))
    chunk.unlink()
    drawn = run_simcore("plot", damaged, "--output", "novel_to_movie", "-q")
    assert drawn.returncode != 0
    assert drawn.stderr.strip().count("\n") == 0, drawn.stderr
    assert "chunks missing" in drawn.stderr and "film_by_small_team" in drawn.stderr

    # A store is input: damaged metadata, or a chunk that cannot be decoded (read lazily, when
    # a chart needs it), is one line naming the store or the array.
    for damage in ("metadata", "chunk"):
        broken = tmp_path / f"broken-{damage}"
        shutil.copytree(zarr_run, broken)
        events = broken / "per_draw.zarr" / "events"
        target = (events / "zarr.json" if damage == "metadata" else
                  next((events / "novel_to_movie_possible").rglob("c/*")))
        target.write_bytes(b"{not what zarr wrote")
        for command in (("plot", broken, "--output", "novel_to_movie", "-q"),
                        ("report", broken), ("verify", broken)):
            done = run_simcore(*command)
            assert done.returncode in (1, 2), (command, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "per_draw.zarr" in lines[0], (command, done.stderr)
            if damage == "chunk":
                assert "novel_to_movie_possible" in lines[0]

    inner = tmp_path / "inner-link"          # a chunk that is a link out of the run
    shutil.copytree(zarr_run, inner)
    chunk = next((inner / "per_draw.zarr" / "events" / "film_by_small_team").rglob("c/*"))
    chunk.unlink()
    chunk.symlink_to(zarr_run / "manifest.json")
    drawn = run_simcore("plot", inner, "--output", "novel_to_movie", "-q")
    assert drawn.returncode == 1 and drawn.stderr.count("\n") == 1, drawn.stderr
    assert "not a regular file inside the store" in drawn.stderr

    linked = tmp_path / "linked"
    shutil.copytree(zarr_run, linked, ignore=shutil.ignore_patterns("per_draw.zarr"))
    (linked / "per_draw.zarr").symlink_to(zarr_run / "per_draw.zarr")
    drawn = run_simcore("plot", linked, "--output", "novel_to_movie", "-q")
    assert drawn.returncode != 0 and "not a folder inside the run directory" in drawn.stderr
