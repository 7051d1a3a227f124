"""End to end: reproducibility across chunk sizes, the stored run, the CLI and its errors."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import priorfiles as pf
import pytest
import xarray as xr
from clichecks import run_simcore
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.app import pipeline
from simcore.inputs.observations import load_observations
from simcore.inputs.priors import load_priors
from simcore.model import MODEL_DRIVERS
from simcore.run import engine
from simcore.run.observed import ObservationPoints
from simcore.run.summaries import BINS_PER_OCTAVE, LOG2_LOW, QUANTILES, LogHistogram
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


@pytest.fixture(scope="module")
def baseline():
    return load_priors(BASELINE, required=set(MODEL_DRIVERS))


def assert_identical(a: engine.RunResult, b: engine.RunResult):
    for name in a.drivers:
        assert np.array_equal(a.drivers[name], b.drivers[name]), name
    for name in a.events:
        assert np.array_equal(a.events[name], b.events[name]), name
    for name in a.histograms:
        assert np.array_equal(a.histograms[name].counts, b.histograms[name].counts), name
        assert np.array_equal(a.paths[name], b.paths[name]), name


@pytest.fixture(scope="module")
def reference_run(baseline):
    return engine.run_forecast(baseline, 600, seed=42, chunk_size=600, n_paths=50)


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_bit_identical_for_chunk_sizes_1_7_10000(baseline, reference_run, chunk):
    assert_identical(reference_run,
                     engine.run_forecast(baseline, 600, seed=42, chunk_size=chunk, n_paths=50))


@settings(max_examples=8, deadline=None)
@given(chunk=st.integers(2, 700))
def test_bit_identical_for_any_chunk_size(baseline, reference_run, chunk):
    assert_identical(reference_run,
                     engine.run_forecast(baseline, 600, seed=42, chunk_size=chunk, n_paths=50))


def test_another_seed_differs(baseline, reference_run):
    other = engine.run_forecast(baseline, 600, seed=43, chunk_size=600, n_paths=50)
    assert not np.array_equal(other.drivers["alg_halving_years"],
                              reference_run.drivers["alg_halving_years"])


def test_histogram_percentiles_are_within_one_bin_of_exact(baseline):
    """The q-quantile read from the histogram lies within one bin of the order statistics that
    bracket rank q*N (where the sample quantile is defined, whatever the interpolation)."""
    n = 3000
    result = engine.run_forecast(baseline, n, seed=1, n_paths=n)
    one_bin = 2.0 ** (1.0 / BINS_PER_OCTAVE) * (1 + 1e-9)
    for name, hist in result.histograms.items():
        approx = hist.quantiles(QUANTILES)
        ordered = np.sort(result.paths[name], axis=0)
        for i, q in enumerate(QUANTILES):
            below = ordered[max(math.floor(q * n) - 1, 0)]
            above = ordered[min(math.ceil(q * n), n - 1)]
            assert np.all(approx[i] >= below / one_bin), (name, q)
            assert np.all(approx[i] <= above * one_bin), (name, q)


def _quantile_bins_by_comparison(counts: np.ndarray, qs) -> np.ndarray:
    """The bin holding each quantile, as the percentiles were first computed: for every bin,
    whether its cumulative count falls short of q * N."""
    cumulative = np.cumsum(counts, axis=1)
    return np.stack([np.minimum((cumulative < q * cumulative[:, -1:]).sum(axis=1),
                                counts.shape[1] - 1) for q in qs])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_values=st.integers(1, 400),
       spread=st.floats(0.01, 40.0), qs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=9))
def test_histogram_quantiles_sit_in_the_bin_of_the_cumulative_counts(seed, n_values, spread, qs):
    """The binary search finds the same bins as comparing every cumulative count (ties, empty
    rows and edge bins included), and a quantile asked for twice, or after more values were
    added, is that of the counts at the time."""
    rng = np.random.default_rng(seed)
    hist = LogHistogram(3)
    first = rng.normal(0.0, spread, (n_values, 3))
    first[:, 2] = np.round(first[:, 2])          # many values in few bins
    hist.add(first)
    for _ in range(2):
        values = hist.log2_quantiles(qs)
        bins = _quantile_bins_by_comparison(hist.counts, qs)
        inner = (bins > 0) & (bins < LogHistogram.n_bins - 1)
        lower_edge = LOG2_LOW + (bins - 1) / BINS_PER_OCTAVE
        assert np.all(values[inner] >= lower_edge[inner])
        assert np.all(values[inner] <= lower_edge[inner] + 1.0 / BINS_PER_OCTAVE)
        assert np.all(values[bins == 0] == -np.inf)
        assert np.all(values[bins == LogHistogram.n_bins - 1] == np.inf)
        values[...] = 0.0                        # callers' copies do not reach the memo
    hist.add(rng.normal(5.0, spread, (n_values, 3)))
    fresh = LogHistogram.from_counts(hist.counts.copy())
    np.testing.assert_array_equal(hist.log2_quantiles(qs), fresh.log2_quantiles(qs))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "baseline-run"
    done = run_simcore("run", BASELINE, "--draws", 20_000, "--seed", 7, "--out", out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_run_prints_plain_answers(cli_run):
    _, done = cli_run
    assert "Q5" in done.stdout and "Q6" in done.stdout and "Q7" in done.stdout
    assert "no hardware" in done.stdout and "±" in done.stdout
    assert "Traceback" not in done.stderr


def test_run_directory_contents(cli_run):
    out, _ = cli_run
    names = {p.name for p in out.iterdir()}
    assert {"run.nc", "percentiles.csv", "events.csv", "events_summary.csv", "binding.csv",
            "manifest.json", "film_days.png", "priors"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["draws"] == 20_000
    assert len(manifest["priors_sha256"]) == 64 and manifest["packages"]["numpy"]
    assert not list(out.parent.glob(".*partial*"))


def test_run_nc_groups_and_provenance(cli_run, baseline):
    out, _ = cli_run
    tree = store.load_run(out)
    assert {"prior", "trajectories", "events"} <= set(tree.children)
    assert tree["prior"].dims["sample"] == 20_000
    # every driver the prior file defines (an optional driver it leaves out is not drawn)
    assert set(baseline.drivers) == set(tree["prior"].data_vars)
    assert tree.attrs["seed"] == 7 and tree.attrs["draws"] == 20_000
    import arviz as az
    assert set(az.from_netcdf(out / "run.nc").children) == set(tree.children)


def test_the_cli_run_is_the_same_run_as_the_library_writes(cli_run, baseline, tmp_path):
    # simcore run forks its drawing process first and appends /sensitivity last; the run
    # directory must not depend on that order.
    out, _ = cli_run
    # The command ranks data/observations.csv (its default, run from the repository).
    points = ObservationPoints.for_priors(
        load_observations(ROOT / "data" / "observations.csv"),
        baseline)
    result = engine.run_forecast(baseline, 20_000, seed=7, n_paths=engine.DEFAULT_PATHS,
                                 observe=points)
    library = pipeline.write_run(result, tmp_path / "library")
    for group in ("prior", "events", "trajectories", "trajectories/paths", "sensitivity",
                  "observed"):
        with (xr.open_dataset(out / "run.nc", group=group, engine="h5netcdf") as a,
              xr.open_dataset(library / "run.nc", group=group, engine="h5netcdf") as b):
            assert a.identical(b), group
    for table in sorted(p.name for p in out.glob("*.csv")):
        assert (out / table).read_bytes() == (library / table).read_bytes(), table


def test_the_manifest_times_each_writing_step(cli_run):
    out, _ = cli_run
    timings = json.loads((out / "manifest.json").read_text())["timings_seconds"]
    laps = [timings[name] for name in pipeline._WRITING_LAPS]
    assert all(lap >= 0 for lap in laps)
    assert sum(laps) <= timings["writing"] + 1e-3 * len(laps)      # rounded to 0.1 ms each


def test_percentiles_csv_matches_run_nc_and_is_ordered(cli_run):
    out, _ = cli_run
    table = pd.read_csv(out / "percentiles.csv")
    assert list(table.columns) == ["output", "profile", "time", "quantile", "value"]
    tree = store.load_run(out)
    stored = tree["trajectories"]["film_days"].sel(profile="gaming_pc")
    rows = table[(table.output == "film_days") & (table.profile == "gaming_pc")]
    wide = rows.pivot(index="quantile", columns="time", values="value")
    np.testing.assert_allclose(wide.values, stored.values, rtol=1e-12)
    assert np.all(np.diff(wide.values, axis=0) >= 0)   # bands are nested


def test_events_tables(cli_run):
    out, _ = cli_run
    events = pd.read_csv(out / "events.csv")
    assert list(events.columns) == ["event", "profile", "year", "p_by"]
    for _, group in events.groupby(["event", "profile"]):
        assert np.all(np.diff(group.sort_values("year").p_by.values) >= 0)
    summary = pd.read_csv(out / "events_summary.csv", dtype=str)
    assert {"event", "profile", "p10", "p50", "p90", "p_not_by_horizon"} <= set(summary.columns)
    for value in summary[["p10", "p50", "p90"]].values.ravel():
        assert value.startswith("not by 2046") or 2026 <= float(value) <= 2046.9, value
    # censored quantiles are words, never the horizon year
    p_not = summary.p_not_by_horizon.astype(float)
    for (_, row), p in zip(summary.iterrows(), p_not, strict=False):
        assert row.p90.startswith("not by") == (p > 0.1 + 1e-12) or p == pytest.approx(0.1,
                                                                                        abs=1e-3)


def test_baseline_at_as_of_agrees_with_observations(cli_run):
    """~40 s/day free and 4-14x overgeneration imply roughly 500-2,000 days with no hardware."""
    out, _ = cli_run
    table = pd.read_csv(out / "percentiles.csv")
    first = table.time.min()
    median = table[(table.output == "film_days") & (table.profile == "no_hardware")
                   & (table.time == first) & (table["quantile"] == 0.5)].value.item()
    assert 500 <= median <= 2000
    price = table[(table.output == "price_per_video_second") & (table.time == first)
                  & (table["quantile"] == 0.5)].value.item()
    assert 0.02 <= price <= 0.15     # observed 2026 budget-to-mid list prices, USD/s


def test_existing_run_directory_is_refused(cli_run):
    out, _ = cli_run
    before = (out / "manifest.json").read_text()
    done = run_simcore("run", BASELINE, "--draws", 100, "--out", out)
    assert done.returncode == 2
    assert "already exists" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (out / "manifest.json").read_text() == before


@pytest.mark.parametrize("text,words", [
    ("[meta\n", "malformed TOML"),
    (pf.render(pf.point_drivers(alg_halving_years=pf.entry("gamma", k=1.0))), "unknown family"),
])
def test_bad_prior_exits_2_with_one_line_and_writes_nothing(tmp_path, text, words):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "never"
    done = run_simcore("run", bad, "--draws", 100, "--out", out)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and words in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_failure_while_writing_leaves_no_directory(tmp_path, baseline, monkeypatch):
    result = engine.run_forecast(baseline, 200, seed=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "trajectory_groups", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.write_run(result, tmp_path / "run", with_charts=False)
    assert list(tmp_path.iterdir()) == []


def test_unsafe_run_names_are_refused(tmp_path):
    done = run_simcore("run", BASELINE, "--draws", 10, "--out", tmp_path / "a b;rm")
    assert done.returncode == 2 and "run name" in done.stderr


def test_help_is_fast_and_lists_run():
    done = run_simcore("--help")
    assert done.returncode == 0 and "run" in done.stdout
    assert math.isfinite(len(done.stdout))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(2026.0, 2047.0), st.just(math.inf)), min_size=1,
                max_size=200))
def test_event_summaries_match_the_sorted_definitions(values):
    from simcore.run.summaries import EventTimes
    times = np.array(values)
    summary = EventTimes(times)
    ordered = np.sort(times)
    for q in (0.1, 0.5, 0.9):
        assert summary.quantile(q) == np.quantile(times, q, method="inverted_cdf")
    years = np.arange(2026, 2046)
    expected = np.searchsorted(ordered, years + 1.0, side="right") / times.size
    np.testing.assert_array_equal(summary.probability_by(years), expected)
    assert np.all(np.diff(summary.probability_by(years)) >= 0)
    assert summary.p_not_by_horizon == np.mean(np.isinf(times))


# Values as event columns have them (a censored mass, ties at as_of, a narrow range), and any
# floats at all: the bucketed selection must equal numpy's partition exactly.
_EVENT_LIKE = st.one_of(st.floats(2026.0, 2047.0), st.just(math.inf), st.just(2026.9))
_ANY_FLOAT = st.floats(allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.lists(_EVENT_LIKE, min_size=1, max_size=3000),
                 st.lists(_ANY_FLOAT, min_size=1, max_size=300)),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=7))
def test_order_statistics_equal_numpy_partition(values, fractions):
    from simcore.run.summaries import order_statistics
    times = np.array(values)
    ranks = np.unique(np.minimum((np.array(fractions) * times.size).astype(int), times.size - 1))
    np.testing.assert_array_equal(order_statistics(times, ranks),
                                  np.partition(times, ranks)[ranks])


def test_order_statistics_fall_back_to_numpy_with_nan():
    from simcore.run.summaries import order_statistics
    times = np.array([3.0, np.nan, 1.0, 2.0, np.inf])
    np.testing.assert_array_equal(order_statistics(times, np.array([0, 3, 4])),
                                  np.partition(times, [0, 3, 4])[[0, 3, 4]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_EVENT_LIKE, st.floats(1990.0, 2100.0), st.just(-math.inf)),
                min_size=1, max_size=500))
def test_year_slot_counts_equal_the_bincount_of_year_slots(values):
    from simcore.run.summaries import year_slot_counts, year_slots
    times = np.array(values)
    years = np.arange(2026, 2046)
    np.testing.assert_array_equal(year_slot_counts(times, years),
                                  np.bincount(year_slots(times, years), minlength=years.size + 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_EVENT_LIKE, st.just(-math.inf), st.floats(1990.0, 2100.0)),
                min_size=1, max_size=2000),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=7), st.booleans())
def test_one_pass_event_summary_equals_the_separate_ones(values, fractions, strided):
    """event_summary with the run's bounds gives what order_statistics and year_slot_counts
    give, for strided columns too, and falls back to them for times outside the bounds."""
    from simcore.run.summaries import event_summary, order_statistics, year_slot_counts
    times = np.array(values)
    if strided:   # a column of a (draws, profiles) read, as the tables get them
        times = np.stack([times, np.zeros_like(times)], axis=1)[:, 0]
    ranks = np.unique(np.minimum((np.array(fractions) * times.size).astype(int), times.size - 1))
    years = np.arange(2026, 2046)
    got, slots = event_summary(times, ranks, years, 2026.0, 2047.0)
    np.testing.assert_array_equal(got, order_statistics(np.ascontiguousarray(times), ranks))
    np.testing.assert_array_equal(slots, year_slot_counts(times, years))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(500, 20_000), seed=st.integers(0, 2**32 - 1),
       censored=st.floats(0.0, 0.5), tied=st.floats(0.0, 0.5),
       fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=7))
def test_in_range_selection_takes_the_fast_path_and_equals_numpy(n, seed, censored, tied,
                                                                   fractions):
    """Thousands of times inside the bounds (a censored share at +inf, a tied share at the
    lower bound, some at -inf and at the upper bound): the one-pass path itself, not its
    fallback, gives np.partition's values and the year counts."""
    from simcore.run.summaries import _SELECTION_BUCKETS, _select_in_range, year_slot_counts
    rng = np.random.default_rng(seed)
    times = 2026.0 + 21.0 * rng.random(n)
    kind = rng.random(n)
    times[kind < censored] = math.inf
    times[(kind >= censored) & (kind < censored + tied)] = 2026.0
    times[rng.integers(0, n, 3)] = [2047.0, -math.inf, 2046.999999999]
    ranks = np.unique(np.minimum((np.array(fractions) * n).astype(int), n - 1))
    years = np.arange(2026, 2046)
    out = np.empty(ranks.size)
    slots = np.zeros(years.size + 1, dtype=np.int64)
    assert _select_in_range(times, ranks, 2026.0, 2047.0, _SELECTION_BUCKETS, 2027.0, slots, out)
    np.testing.assert_array_equal(out, np.partition(times, ranks)[ranks])
    np.testing.assert_array_equal(slots, year_slot_counts(times, years))
