"""Runs streamed to run.nc (bounded memory) and runs that stop at a Monte Carlo error
(--until-mcse)."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from clichecks import run_simcore
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from runchecks import BASELINE

from simcore.analysis import tables
from simcore.analysis.headline import INDICATOR_YEAR
from simcore.analysis.precision import MIN_DRAWS, UntilMcse, headlines
from simcore.inputs.distributions import _RANGE_U, Lognormal, Normal
from simcore.inputs.priors import load_priors
from simcore.model import DRIVER_ORDER, MODEL_DRIVERS
from simcore.run import engine, runfile
from simcore.stored.store import load_run


@pytest.fixture(scope="module")
def baseline():
    return load_priors(BASELINE, required=set(MODEL_DRIVERS))


def streamed(priors, path, draws, chunk_size, n_paths=50, **kwargs):
    sink = runfile.RunFileWriter(path, priors, DRIVER_ORDER, kwargs.pop("capacity", draws))
    return sink, engine.run_forecast(priors, draws, seed=7, chunk_size=chunk_size,
                                     n_paths=n_paths, sink=sink, **kwargs)


@pytest.mark.parametrize("chunk_size", [1_000, 777, 5_000])
def test_streamed_draws_equal_in_memory_ones_for_any_chunk_size(baseline, tmp_path, chunk_size):
    whole = engine.run_forecast(baseline, 3_000, seed=7, chunk_size=3_000, n_paths=50)
    sink, result = streamed(baseline, tmp_path / "run.nc", 3_000, chunk_size)
    with sink:
        for name, values in whole.events.items():
            np.testing.assert_array_equal(np.asarray(result.events[name][:]), values)
        for name, values in whole.drivers.items():
            dtype = runfile.driver_dtype(baseline.drivers[name].dist)
            np.testing.assert_array_equal(sink._drivers[name][:], values.astype(dtype))
            # the head kept in memory is full precision
            np.testing.assert_array_equal(result.drivers[name], values[:50])
        for series, hist in whole.histograms.items():
            np.testing.assert_array_equal(result.histograms[series].counts, hist.counts)
        assert tables.events_summary(result).equals(tables.events_summary(whole))
        assert tables.binding_shares(result).equals(tables.binding_shares(whole))


def test_a_streamed_run_keeps_only_its_head_in_memory(baseline, tmp_path):
    """Peak memory of the engine grows by about a byte per draw (the binding codes), not by
    the 8 bytes x 61 columns of drivers and event times."""
    peaks = {}
    for draws in (20_000, 80_000):
        tracemalloc.start()
        sink, result = streamed(baseline, tmp_path / f"{draws}.nc", draws, 4_096, n_paths=100)
        peaks[draws] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        sink.close()
        assert all(len(v) == 100 for v in result.drivers.values())
    per_draw = (peaks[80_000] - peaks[20_000]) / 60_000
    assert per_draw < 4.0, f"{per_draw:.1f} bytes per extra draw"


@settings(max_examples=60, deadline=None)
@given(st.floats(-300.0, 300.0), st.floats(-40.0, 2.0), st.sampled_from(["normal", "lognormal"]),
       st.sampled_from([-1.0, 0.0, 1.0]),
       st.lists(st.floats(2.0**-53, 1.0 - 2.0**-53), max_size=50))
def test_float32_is_chosen_only_where_every_draw_survives_it(exponent, log10_scale, family, sign,
                                                              us):
    scale = 10.0 ** log10_scale
    if family == "normal":
        dist = Normal(family="normal", mean=sign * 10.0 ** exponent, sd=scale)
    else:
        spread = min(max(scale, 1e-9), 40.0)            # decades either side of the median
        low, high = 10.0 ** max(exponent - spread, -400.0), 10.0 ** min(exponent + spread, 300.0)
        assume(0.0 < low < 10.0 ** exponent < high < math.inf)
        dist = Lognormal(family="lognormal", median=10.0 ** exponent, low=low, high=high)
    with np.errstate(over="ignore", under="ignore"):   # extreme draws may be inf or 0 here
        draws = dist.ppf(np.concatenate([_RANGE_U, us]))
    if runfile.driver_dtype(dist) == np.float32:
        with np.errstate(over="ignore", under="ignore"):
            single = draws.astype(np.float32)
        assert np.isfinite(single).all()
        assert np.array_equal(single == 0, draws == 0)


def test_until_mcse_stops_where_a_fixed_run_of_that_size_gives_the_same_tables(baseline):
    rule = UntilMcse(0.03)
    adaptive = engine.run_forecast(baseline, 500_000, seed=3, chunk_size=8_192, n_paths=0,
                                   until=rule, first_check=rule.first_check)
    assert rule.met and MIN_DRAWS <= adaptive.draws < 500_000
    assert all(h.relative_error <= 0.03 for h in headlines(adaptive))
    fixed = engine.run_forecast(baseline, adaptive.draws, seed=3, n_paths=0)
    for make in (tables.percentiles, tables.events_summary, tables.events_by_year,
                 tables.binding_shares):
        assert make(adaptive).equals(make(fixed))


def test_until_mcse_stops_at_the_cap_and_says_the_tolerance_was_not_met(baseline):
    rule = UntilMcse(1e-4)
    result = engine.run_forecast(baseline, 30_000, seed=3, n_paths=0, until=rule,
                                 first_check=rule.first_check)
    assert result.draws == 30_000 and not rule.met
    assert rule.worst.relative_error > 1e-4


@pytest.mark.parametrize("tolerance", [1e-300, 5e-324])
def test_until_mcse_with_a_vanishing_tolerance_grows_by_the_largest_step(baseline, tolerance):
    """However far the error is from the tolerance, the next checkpoint is at most
    MAX_GROWTH times further (the squared ratio once overflowed)."""
    from simcore.analysis.precision import MAX_GROWTH, MIN_DRAWS
    rule = UntilMcse(tolerance)
    result = engine.run_forecast(baseline, MIN_DRAWS, seed=3, n_paths=0)
    assert rule(result) == math.ceil(MIN_DRAWS * MAX_GROWTH)


def test_reported_mcse_of_an_event_median_matches_its_spread_over_seeds(baseline):
    """The stopping rule trusts the order-statistic MCSE: over 40 independent runs the
    standard deviation of the median date agrees with the mean reported MCSE (the ratio of a
    sample sd of 40 values to the true sd lies within 0.72-1.28 with ~99% probability)."""
    medians, errors = [], []
    for seed in range(40):
        result = engine.run_forecast(baseline, 4_000, seed=1_000 + seed, n_paths=0)
        times = result.event("novel_to_movie_possible")
        medians.append(times.quantile(0.5))
        errors.append(times.quantile_mcse(0.5))
    ratio = np.std(medians, ddof=1) / np.mean(errors)
    assert 0.72 < ratio < 1.28, ratio


def test_headline_scales(baseline):
    result = engine.run_forecast(baseline, 5_000, seed=5, n_paths=0)
    rows = {h.name: h for h in headlines(result)}
    p = rows[f"novel_to_movie_possible P(by end of {INDICATOR_YEAR})"]
    assert p.scale == 1.0 and math.isclose(p.mcse, math.sqrt(p.value * (1 - p.value) / 5_000))
    date = rows["novel_to_movie_possible/all median date"]
    assert math.isclose(date.scale, date.value - baseline.as_of_year)


@pytest.mark.slow
def test_cli_until_mcse_reports_the_draws_reached(tmp_path):
    out = tmp_path / "adaptive"
    done = run_simcore("run", "--until-mcse", "0.05", "--draws", "60000", "--out", out,
                   "--no-charts")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    stopping = manifest["until_mcse"]
    assert stopping["met"] and stopping["largest_relative_error"] <= 0.05
    assert manifest["draws"] == stopping["draws_reached"] <= 60_000
    assert f"stopped at {manifest['draws']:,} draws" in done.stdout
    # run.nc was sized for the maximum and cut to the draws made
    with load_run(out) as run:
        assert run["prior"].sizes["sample"] == run["events"].sizes["sample"] == manifest["draws"]
        assert np.isfinite(run["prior"]["alg_halving_years"].values).all()
        assert (run["events"]["sample"].values == np.arange(manifest["draws"])).all()


def test_closing_the_chunk_writer_waits_for_the_write_in_flight():
    """An interrupted run closes run.nc right after the writer: the write must be over."""
    import threading
    import time

    from simcore.run.engine import _ChunkWriter

    class SlowSink:
        finished = threading.Event()

        def append(self, start, drivers, events):
            time.sleep(0.3)
            self.finished.set()

    sink = SlowSink()
    writer = _ChunkWriter(sink, {"streaming": 0.0})
    writer.submit(0, {}, {})
    writer.close()
    assert sink.finished.is_set()
