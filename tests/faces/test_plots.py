"""Charts and the seed comparison: what is drawn must be what the run stored.

Every chart is drawn from a run reloaded from disk (``store.load_run``), and checked for content:
band polygons against the stored percentiles, event curves and not-by-horizon bars against the
CSV tables, seed points at the seed's values, ranks against a direct computation.
"""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clichecks import run_simcore
from matplotlib.figure import Figure

from simcore.app import pipeline
from simcore.faces import plots, seed
from simcore.inputs.priors import load_priors
from simcore.model import FILM_TIME_THRESHOLDS_DAYS, MODEL_DRIVERS, OUTPUTS, PROFILES
from simcore.run import engine
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
SCENARIO = ROOT / "priors" / "scenarios" / "distillation_plateau.toml"
DRAWS = 4000
DURATION = re.compile(r"^\d+(\.\d)? (second|minute|hour|day|week|month|year)s?$")


@pytest.fixture(scope="module")
def baseline():
    return load_priors(BASELINE, required=set(MODEL_DRIVERS))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, baseline):
    result = engine.run_forecast(baseline, DRAWS, seed=11, n_paths=DRAWS)
    return pipeline.write_run(result, tmp_path_factory.mktemp("runs") / "baseline")


@pytest.fixture(scope="module")
def run(run_dir):
    return store.load_run(run_dir)


@pytest.fixture(scope="module")
def seed_forecast():
    return seed.load_seed_forecast()


def by_gid(fig: Figure, gid: str):
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, (gid, len(found))
    return found[0]


def band_edges(collection, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, lower and upper edge of a fill_between polygon over n points."""
    vertices = collection.get_paths()[0].vertices
    lower = vertices[1:n + 1]
    upper = vertices[n + 2:2 * n + 2][::-1]
    np.testing.assert_array_equal(lower[:, 0], upper[:, 0])
    return lower[:, 0], lower[:, 1], upper[:, 1]


def tick_labels(ax) -> list[str]:
    ax.figure.draw_without_rendering()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text()]


# --------------------------------------------------------------------------------------------
# Fans: bands, medians, units, legends
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", list(OUTPUTS))
def test_fan_bands_and_median_equal_the_stored_percentiles(run, output):
    fig = plots.fan_chart(run, output)
    times = run["trajectories"]["time"].values
    scale = plots.FAN_SPECS[output].scale
    profiles = PROFILES if OUTPUTS[output][0] else ["all"]
    for profile in profiles:
        stored = run["trajectories"][output]
        if profile != "all":
            stored = stored.sel(profile=profile)
        for lo, hi, _ in plots.BANDS:
            band = by_gid(fig, f"band:{output}:{profile}:{lo:g}-{hi:g}")
            x, lower, upper = band_edges(band, times.size)
            np.testing.assert_array_equal(x, times)
            np.testing.assert_allclose(lower, stored.sel(quantile=lo).values * scale, rtol=1e-12)
            np.testing.assert_allclose(upper, stored.sel(quantile=hi).values * scale, rtol=1e-12)
            assert np.all(lower <= upper)
        median = by_gid(fig, f"median:{output}:{profile}")
        np.testing.assert_allclose(median.get_ydata(), stored.sel(quantile=0.5).values * scale,
                                   rtol=1e-12)


def test_bands_are_nested_around_the_median(run):
    fig = plots.film_days_chart(run, None)
    n = run["trajectories"]["time"].size
    for profile in PROFILES:
        edges = [band_edges(by_gid(fig, f"band:film_days:{profile}:{lo:g}-{hi:g}"), n)
                 for lo, hi, _ in plots.BANDS]     # 90, 80, 50 %
        median = by_gid(fig, f"median:film_days:{profile}").get_ydata()
        for (_, lo_out, hi_out), (_, lo_in, hi_in) in zip(edges, edges[1:], strict=False):
            assert np.all(lo_out <= lo_in) and np.all(hi_in <= hi_out)
        assert np.all(edges[-1][1] <= median) and np.all(median <= edges[-1][2])


def test_duration_ticks_are_human_units(run):
    fig = plots.film_days_chart(run, None)
    labels = tick_labels(fig.axes[0])
    assert len(labels) >= 5
    assert all(DURATION.match(label) for label in labels), labels
    assert {"1 day", "1 year"} <= set(labels)
    shot = plots.fan_chart(run, "coherent_shot_seconds")
    assert all(DURATION.match(label) for label in tick_labels(shot.axes[0]))


@pytest.mark.parametrize("low,high", [(1e-4, 3e3), (0.5, 40.0), (1e-3, 1e5)])
def test_horizontal_duration_ticks_are_human_and_far_enough_apart_not_to_collide(low, high):
    # compare.png and the tornado put durations on x, where labels are wide.
    ax = Figure().subplots()
    ax.plot([low, high], [0, 1])
    plots.human_log_axis(ax, "days", axis="x")
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    labels = [plots.tick_formatter("days")(t) for t in ticks]
    assert len(ticks) >= 3 and all(DURATION.match(label) for label in labels), labels
    if high / low > 1e5:   # wide ranges take the sparse set: never two ticks within 10x
        assert min(np.diff(np.log10(ticks))) >= 1.0 - 1e-9
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"


def test_money_and_chance_ticks_are_human_units(run):
    price = plots.price_compute_chart(run)
    for ax in (price.axes[0], price.axes[2]):
        labels = tick_labels(ax)
        assert labels and all(label.startswith("$") for label in labels), labels
    compute = tick_labels(price.axes[1])
    assert compute and all(re.match(r"^[\d.]+$|^\d+(×)?10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+$", s) for s in compute)
    cuts = tick_labels(plots.cut_break_chart(run).axes[0])
    assert cuts and all(label.endswith("%") or " in " in label for label in cuts), cuts


@pytest.mark.parametrize("value,kind,text", [
    (1.0, "days", "1 day"), (7.0, "days", "1 week"), (1 / 24, "days", "1 hour"),
    (60.0, "seconds", "1 minute"), (1e-5, "usd", "$10⁻⁵"), (2e-7, "usd", "$2×10⁻⁷"),
    (0.01, "usd", "$0.01"), (1e4, "usd", "$10k"), (0.1, "percent", "10%"),
    (1e-3, "percent", "0.1%"), (1e-5, "percent", "1 in 100,000"),
    (1e-9, "percent", "1 in 1B"), (0.05, "plain", "0.05"),
])
def test_tick_formatters(value, kind, text):
    assert plots.tick_formatter(kind)(value) == text


def test_fan_legends_use_frequency_words(run):
    for fig in (plots.fan_chart(run, "price_per_video_second"),
                plots.film_days_chart(run, None)):
        texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
        for k in (5, 8, 9):
            assert f"in {k} of 10 simulated worlds" in texts, texts
        assert "median world" in texts


def test_film_days_chart_draws_the_q6_thresholds(run):
    fig = plots.film_days_chart(run, None)
    for label, days in FILM_TIME_THRESHOLDS_DAYS.items():
        line = [a for a in fig.axes[0].get_lines() if a.get_gid() == f"threshold:{label}"]
        assert len(line) == 1 and set(line[0].get_ydata()) == {days}
    as_of = [a for a in fig.axes[0].get_lines() if a.get_gid() == "as_of"][0]
    assert set(as_of.get_xdata()) == {run["trajectories"]["time"].values[0]}
    assert as_of.get_linestyle() == "--"


# --------------------------------------------------------------------------------------------
# Event curves, not-by-horizon mass, binding shares
# --------------------------------------------------------------------------------------------

def event_figures(run, seed_forecast):
    return [plots.film_events_chart(run), plots.novel_to_movie_chart(run, seed_forecast)]


def test_not_by_horizon_bars_equal_events_summary(run, run_dir, seed_forecast):
    summary = pd.read_csv(run_dir / "events_summary.csv")
    bars = 0
    for fig in event_figures(run, seed_forecast):
        for ax in fig.axes:
            for patch in ax.patches:
                gid = patch.get_gid() or ""
                if not gid.startswith("not_by_horizon:"):
                    continue
                event, profile = gid.split(":")[1:]
                row = summary[(summary.event == event) & (summary.profile == profile)]
                p = row.p_not_by_horizon.item()
                assert patch.get_height() == pytest.approx(p, abs=1e-12)
                assert patch.get_y() + patch.get_height() == pytest.approx(1.0)
                # drawn beyond the horizon, never folded into the last year
                assert patch.get_x() > run["trajectories"]["time"].values[-1]
                bars += 1
    # Q6: every threshold and profile; Q7: three milestones and the free-user variants
    assert bars == len(FILM_TIME_THRESHOLDS_DAYS) * len(PROFILES) + 3 + len(PROFILES)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "not\nby 2046" in labels


def test_event_curves_equal_events_csv_at_year_ends(run, run_dir, seed_forecast):
    events = pd.read_csv(run_dir / "events.csv")
    times = run["trajectories"]["time"].values
    curves = 0
    for fig in event_figures(run, seed_forecast):
        for line in fig.axes[0].get_lines():
            gid = line.get_gid() or ""
            if not gid.startswith("p_by:"):
                continue
            event, profile = gid.split(":")[1:]
            x, y = line.get_xdata(), line.get_ydata()
            assert x[0] == times[0] and x[-1] == times[-1]      # as_of to the horizon
            assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)
            table = events[(events.event == event) & (events.profile == profile)]
            for year, p in zip(table.year, table.p_by, strict=False):
                k = np.flatnonzero(np.isclose(x, year + 1.0, rtol=0, atol=1e-9))
                assert k.size == 1, year
                assert y[k[0]] == pytest.approx(p, abs=1e-12), (event, profile, year)
            stored = plots.event_times(run, event, None if profile == "all" else profile)
            assert y[-1] == pytest.approx(np.mean(np.isfinite(stored)), abs=1e-12)
            curves += 1
    assert curves == len(FILM_TIME_THRESHOLDS_DAYS) + 3 + len(PROFILES)


def test_binding_layers_equal_binding_csv(run, run_dir):
    fig = plots.binding_chart(run)
    table = pd.read_csv(run_dir / "binding.csv", dtype={"year": str})
    by_year = table[table.year != "all"]
    top = 0.0
    layers = [c for c in fig.axes[0].collections if (c.get_gid() or "").startswith("binding:")]
    assert layers
    n = len(band_edges(layers[0], len(layers[0].get_paths()[0].vertices) // 2 - 1)[0])
    for layer in layers:
        requirement = layer.get_gid().split(":")[1]
        x, lower, upper = band_edges(layer, n)
        shares = by_year[by_year.requirement == requirement].set_index("year").share
        expected = np.array([shares[str(int(end) - 1)] for end in x])
        np.testing.assert_allclose(upper - lower, expected, atol=1e-12)
        np.testing.assert_allclose(lower, top, atol=1e-12)
        top = upper
    np.testing.assert_allclose(top, 1.0, atol=1e-12)


def test_event_curve_counts_exactly(run):
    """Monthly P(by date) from the stored times equals a direct count at every grid date."""
    times = plots.event_times(run, "free_film_within_1d", "gaming_pc")
    curve = plots.run_event_curve(run, "free_film_within_1d", "gaming_pc")
    direct = [np.mean(times <= d) for d in curve.dates]
    np.testing.assert_allclose(curve.p_by, direct, atol=1e-12)
    assert curve.p_not_by_horizon == pytest.approx(np.mean(np.isinf(times)))


# --------------------------------------------------------------------------------------------
# The seed forecast (Q9)
# --------------------------------------------------------------------------------------------

def test_seed_forecast_file_holds_the_seed_table(seed_forecast):
    assert seed_forecast.document == "000_519ea55294f20521.txt"
    assert seed_forecast.written == "2026-01"
    days = {p.year: p.days for p in seed_forecast.points}
    assert days == pytest.approx({2023: 75 * 365.25, 2024: 30 * 365.25, 2026: 0.75 * 365.25,
                                  2028: 14.0, 2030: 1.0, 2035: 90 / 1440})
    assert (seed_forecast.milestone.first_year, seed_forecast.milestone.last_year) == (2029, 2030)
    assert seed_forecast.footage_seconds == 16200


def test_seed_points_are_drawn_at_their_values(run, seed_forecast):
    fig = plots.film_days_chart(run, seed_forecast)
    as_of = run["trajectories"]["time"].values[0]
    ranked = by_gid(fig, "seed:ranked")
    history = by_gid(fig, "seed:history")
    assert ranked.axes is fig.axes[PROFILES.index(seed_forecast.profile)]
    expected = {p.date: p.days for p in seed_forecast.points}
    drawn = dict(zip(ranked.get_xdata(), ranked.get_ydata(), strict=False))
    drawn_history = dict(zip(history.get_xdata(), history.get_ydata(), strict=False))
    assert drawn | drawn_history == pytest.approx(expected)
    assert all(x < as_of for x in drawn_history) and all(x >= as_of for x in drawn)
    assert set(drawn_history) == {2023.5, 2024.5, 2026.5}
    # history is visible: the axis reaches back before the first seed point
    assert fig.axes[0].get_xlim()[0] < 2023.5


def test_seed_milestone_is_drawn_over_the_event_curve(run, run_dir, seed_forecast):
    fig = plots.novel_to_movie_chart(run, seed_forecast)
    markers = by_gid(fig, "seed:milestone")
    events = pd.read_csv(run_dir / "events.csv")
    possible = events[events.event == "novel_to_movie_possible"].set_index("year").p_by
    np.testing.assert_allclose(markers.get_xdata(), [2030.0, 2031.0])
    np.testing.assert_allclose(markers.get_ydata(), [possible[2029], possible[2030]], atol=1e-12)
    span = by_gid(fig, "seed:milestone_span")
    assert (span.get_x(), span.get_x() + span.get_width()) == (2029.0, 2031.0)


def expected_film_rank(run, profile, date, days):
    """Direct computation from the stored percentile table: quantiles interpolated to the date
    in log(value), then the rank interpolated in log(value)."""
    traj = run["trajectories"]
    times = traj["time"].values
    q = traj["quantile"].values
    table = np.log(traj["film_days"].sel(profile=profile).transpose("quantile", "time").values)
    log_q = np.array([np.interp(date, times, row) for row in table])
    x = math.log(days)
    if x < log_q[0] or x > log_q[-1]:
        return math.nan
    return float(np.interp(x, log_q, q)) * 100


def test_seed_comparison_ranks_agree_with_stored_data(run, run_dir, seed_forecast):
    table = pd.read_csv(run_dir / "seed_comparison.csv")
    film = table[table.quantity == "film_days"]
    assert set(film.profile) == {"no_hardware"}
    assert list(film[film.status == "history"].year) == [2023, 2024, 2026]
    assert film[film.status == "history"].percentile_rank.isna().all()
    ranked = film[film.status == "ranked"]
    assert list(ranked.year) == [2028, 2030, 2035]
    paths = run["trajectories/paths"]["film_days"].sel(profile="no_hardware")
    times = run["trajectories"]["time"].values
    assert paths.sizes["path"] == DRAWS        # every draw stored: exact ranks are available
    for row in ranked.itertuples():
        expected = expected_film_rank(run, "no_hardware", row.date, row.seed_value)
        if math.isnan(expected):
            assert math.isnan(row.percentile_rank) and row.rank_text.startswith(("below",
                                                                                 "above"))
        else:
            assert row.percentile_rank == pytest.approx(expected, abs=1e-9)
            assert row.rank_text == f"{seed.ordinal(round(expected))} percentile"
        # ... and with the exact rank among all the stored draws (interpolated to the date)
        log_paths = np.array([np.interp(row.date, times, np.log(p)) for p in paths.values])
        exact = np.mean(log_paths <= math.log(row.seed_value)) * 100
        assert row.share_of_sample_paths_at_or_below * 100 == pytest.approx(exact, abs=1e-9)
        if 5 <= exact <= 95:   # linear in log(value) between quantiles 15-25 points apart
            assert row.percentile_rank == pytest.approx(exact, abs=4.0)
    events = pd.read_csv(run_dir / "events.csv")
    stored = plots.event_times(run, "novel_to_movie_possible")
    for row in table[table.quantity == "novel_to_movie_possible"].itertuples():
        p_by = events[(events.event == "novel_to_movie_possible")
                      & (events.year == row.year)].p_by.item()
        assert row.percentile_rank == pytest.approx(100 * p_by, abs=1e-10)
        assert row.percentile_rank == pytest.approx(100 * np.mean(stored <= row.year + 1),
                                                    abs=1e-10)
    assert list(table[table.quantity == "novel_to_movie_possible"].year) == [2029, 2030]


def test_rank_in_table_handles_ties_and_tails():
    q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    logs = np.log(np.array([1.0, 2.0, 2.0, 4.0, 8.0]))
    assert seed.rank_in_table(q, logs, math.log(2.0)) == pytest.approx(0.375)
    assert seed.rank_in_table(q, logs, math.log(3.0)) == pytest.approx(0.5 + 0.25 * math.log2(1.5))
    assert seed.rank_in_table(q, logs, math.log(0.5)) == -math.inf
    assert seed.rank_in_table(q, logs, math.log(9.0)) == math.inf


def test_bad_seed_file_is_one_line_error(tmp_path):
    bad = tmp_path / "seed.toml"
    bad.write_text(seed.SEED_FILE.read_text().replace('unit = "weeks"', 'unit = "fortnights"'))
    with pytest.raises(seed.SeedForecastError, match="fortnights"):
        seed.load_seed_forecast(bad)
    with pytest.raises(seed.SeedForecastError, match="cannot read"):
        seed.load_seed_forecast(tmp_path / "missing.toml")


# --------------------------------------------------------------------------------------------
# Scenarios: several runs together
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario_runs(run):
    priors = load_priors(SCENARIO, required=set(MODEL_DRIVERS))
    result = engine.run_forecast(priors, 2000, seed=11, n_paths=10)
    other = pipeline.build_datatree(result, store.run_provenance(result))
    return {"baseline": run, "distillation plateau": other}


def test_scenario_medians_are_drawn_over_the_baseline_fan(scenario_runs):
    fig = plots.scenario_chart(scenario_runs, "film_days")
    other = scenario_runs["distillation plateau"]
    for profile in PROFILES:
        line = by_gid(fig, f"scenario:distillation plateau:{profile}")
        np.testing.assert_allclose(
            line.get_ydata(),
            other["trajectories"]["film_days"].sel(profile=profile, quantile=0.5).values)
        assert line.get_linewidth() < by_gid(
            fig, f"median:film_days:{profile}:baseline").get_linewidth()
    curves = plots.scenario_event_chart(scenario_runs)
    for name, tree in scenario_runs.items():
        bar = by_gid(curves, f"not_by_horizon:novel_to_movie_possible:all:{name}")
        stored = plots.event_times(tree, "novel_to_movie_possible")
        assert bar.get_height() == pytest.approx(np.mean(np.isinf(stored)))


def test_scenario_headlines(scenario_runs):
    table = plots.scenario_headlines(scenario_runs)
    assert list(table.index) == list(scenario_runs)
    assert table.loc["baseline", "novel_to_movie_shift_years"] == 0
    column = [c for c in table.columns if c.startswith("times_faster_than_baseline")][0]
    assert table.loc["baseline", column] == 1
    # slower distillation means slower films for a free user
    assert table.loc["distillation plateau", column] < 1


# --------------------------------------------------------------------------------------------
# Files: simcore run's standard set, simcore plot
# --------------------------------------------------------------------------------------------

def test_write_run_draws_the_standard_set_and_the_seed_comparison(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {f"{n}.png" for n in plots.STANDARD_SET} | {"seed_comparison.csv"} <= names
    import json
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "seed_comparison.csv" in manifest["files"]


def test_png_is_what_savefig_draws(run, tmp_path):
    """write_png draws once, unhinted, and drops the opaque alpha channel: the pixels savefig
    draws with unhinted text."""
    import matplotlib as mpl
    from PIL import Image

    plots.write_png(plots.film_events_chart(run), tmp_path / "fast.png")
    with mpl.rc_context({"text.hinting": "no_hinting"}):
        plots.film_events_chart(run).savefig(tmp_path / "slow.png", dpi=plots.DPI)
    fast, slow = Image.open(tmp_path / "fast.png"), Image.open(tmp_path / "slow.png")
    assert fast.mode == "RGB" and slow.mode == "RGBA"
    assert fast.info["dpi"] == pytest.approx((plots.DPI, plots.DPI), abs=0.01)
    np.testing.assert_array_equal(np.asarray(fast), np.asarray(slow)[..., :3])


def test_importing_plotting_leaves_matplotlib_unloaded():
    code = "import sys, simcore.faces.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_no_charts_still_writes_the_seed_comparison(tmp_path, baseline):
    result = engine.run_forecast(baseline, 300, seed=3, n_paths=10)
    out = pipeline.write_run(result, tmp_path / "run", with_charts=False)
    names = {p.name for p in out.iterdir()}
    assert "seed_comparison.csv" in names and not any(n.endswith(".png") for n in names)


def test_plot_command_redraws_every_chart(run_dir, tmp_path):
    done = run_simcore("plot", run_dir, "--to", tmp_path / "all")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(
        f"{n}.png" for n in plots.CHARTS)
    done = run_simcore("plot", run_dir, "--output", "film_days", "--output", "film_events",
                   "--format", "svg", "--to", tmp_path / "svg")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "svg").iterdir()) == ["film_days.svg",
                                                                    "film_events.svg"]
    assert (tmp_path / "svg" / "film_days.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("case", ["missing", "not_a_run", "corrupt", "unknown_output",
                                  "unknown_format"])
def test_plot_command_errors_are_one_line_exit_2(run_dir, tmp_path, case):
    target, extra = run_dir, []
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "not_a_run":
        target = tmp_path
    elif case == "corrupt":
        target = tmp_path / "corrupt"
        target.mkdir()
        (target / "run.nc").write_bytes(b"not a netCDF file")
    elif case == "unknown_output":
        extra = ["--output", "film_dayz"]
    else:
        extra = ["--format", "jpeg"]
    done = run_simcore("plot", target, *extra, "--to", tmp_path / "charts")
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    if case == "unknown_output":
        assert "film_dayz" in lines[0] and all(name in lines[0] for name in plots.CHARTS)
    assert not (tmp_path / "charts").exists() or not list((tmp_path / "charts").iterdir())
