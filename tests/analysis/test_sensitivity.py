"""Sensitivity analysis (Q8): given-data indices on a run's draws, Sobol and Morris with SALib,
tornado swings, censoring, and the stored outputs. Seeded and deterministic."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import priorfiles as pf
import pytest
from clichecks import run_simcore

from simcore.analysis.sensitivity import given, tornado, variance
from simcore.analysis.sensitivity import targets as tg
from simcore.app.study import load_study
from simcore.faces.plots.tornado import tornado_chart
from simcore.inputs.priors import load_priors
from simcore.model import MODEL_DRIVERS
from simcore.run import engine
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"

# film_days (no hardware) is footage / allowance's quota when the free tier cannot be withdrawn
# (hazard 0), the fair-use cap never binds, a user's worth lifts nothing and no laptop can run
# a model within the horizon.
FREE_TIER_ONLY = dict(free_withdrawal_hazard=0.0, free_daily_use_cap_seconds=1e9,
                      free_user_value_usd_per_month=1e-9, npu_feasible_years=1e3)
ALLOWANCE = pf.entry("lognormal", low=10.0, high=160.0)          # sigma = ln 4 / z95
OVERGENERATION = pf.entry("lognormal", low=3.75, high=15.0)      # sigma = ln 2 / z95
INERT = {  # uncertain, but touch only the novel-to-movie requirements, not film_days
    "novel_adaptation_hours": pf.entry("lognormal", low=1000.0, high=4000.0),
    "agent_doubling_years": pf.entry("lognormal", low=0.3, high=0.7),
}


def load(path):
    return load_priors(path, required=set(MODEL_DRIVERS))


@pytest.fixture(scope="module")
def one_uncertain(tmp_path_factory):
    """Only free_allowance_today is uncertain."""
    path = tmp_path_factory.mktemp("one") / "one.toml"
    return load(pf.write(path, pf.point_drivers(**FREE_TIER_ONLY,
                                                free_allowance_today=ALLOWANCE)))


@pytest.fixture(scope="module")
def one_and_inert(tmp_path_factory):
    """free_allowance_today plus two drivers that cannot move film_days."""
    path = tmp_path_factory.mktemp("inert") / "inert.toml"
    return load(pf.write(path, pf.point_drivers(**FREE_TIER_ONLY,
                                                free_allowance_today=ALLOWANCE, **INERT)))


@pytest.fixture(scope="module")
def two_lognormal(tmp_path_factory):
    path = tmp_path_factory.mktemp("two") / "two.toml"
    return load(pf.write(path, pf.point_drivers(
        **FREE_TIER_ONLY, free_allowance_today=ALLOWANCE,
        overgeneration_today=OVERGENERATION)))


def film_days_target(priors, offset: int, profile: str = "no_hardware",
                     quantity: str = tg.LOG10_VALUE) -> tg.Target:
    targets = tg.trajectory_targets("film_days", [offset], priors.as_of_year,
                                    priors.meta.time_step_years, quantity)
    return next(t for t in targets if t.profile == profile)


def rows(table, output, profile, year, method):
    sel = table[(table["output"] == output) & (table["profile"] == profile)
                & (table["method"] == method)]
    sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
    return sel.set_index("driver")


# ------------------------------------------------------------------------------------------
# Given-data indices on a run's draws


@pytest.fixture(scope="module")
def inert_run(one_and_inert):
    return engine.run_forecast(one_and_inert, 4000, seed=11, n_paths=4000)


def test_given_data_single_driver_ranks_first_with_index_near_one(one_uncertain):
    result = engine.run_forecast(one_uncertain, 3000, seed=5, n_paths=3000)
    table = given.given_data(result)
    assert set(table["driver"]) == {"free_allowance_today"}       # fixed drivers are skipped
    year = math.floor(one_uncertain.as_of_year) + 1
    for method in ("spearman", "prcc"):
        sel = rows(table, "film_days", "no_hardware", year, method)
        assert sel.loc["free_allowance_today", "rank"] == 1
        assert sel.loc["free_allowance_today", "index"] == pytest.approx(-1.0, abs=1e-9)


def test_given_data_inert_drivers_near_zero(one_and_inert, inert_run):
    table = given.given_data(inert_run)
    year = math.floor(one_and_inert.as_of_year) + 1
    for method, top_floor, inert_ceiling in (("spearman", 0.999, 0.06), ("prcc", 0.999, 0.06),
                                             ("pawn", 0.5, 0.1)):
        sel = rows(table, "film_days", "no_hardware", year, method)
        assert sel.loc["free_allowance_today", "rank"] == 1, method
        assert abs(sel.loc["free_allowance_today", "index"]) > top_floor, method
        for name in INERT:
            assert abs(sel.loc[name, "index"]) < inert_ceiling, (method, name)
    # ...while the inert drivers do matter for the novel-to-movie milestone.
    sel = rows(table, "novel_to_movie_possible", "all", None, "spearman")
    assert set(sel.sort_values("rank").index[:2]) == set(INERT)


def test_given_data_table_schema_and_determinism(inert_run):
    table = given.given_data(inert_run)
    assert list(table.columns) == ["output", "profile", "year", "time", "quantity", "driver",
                                   "method", "index", "rank", "draws"]
    assert not table["index"].isna().any()
    assert table.loc[table["quantity"] == "time", "year"].isna().all()
    assert table.loc[table["quantity"] == "value", "year"].notna().all()
    assert set(table["method"]) == {"spearman", "prcc", "pawn"}
    # PAWN is computed for film_days and the events only.
    pawn = table[table["method"] == "pawn"]
    assert set(pawn["output"]) == {"film_days", *[t.output for t in tg.event_targets()]}
    # Every fan output, each whole year of the horizon.
    spearman = table[(table["method"] == "spearman") & (table["quantity"] == "value")]
    assert spearman.groupby(["output", "profile"])["year"].nunique().eq(21).all()
    again = engine.run_forecast(inert_run.priors, 4000, seed=11, n_paths=4000)
    pd.testing.assert_frame_equal(table, given.given_data(again))


def test_given_data_same_with_few_paths_kept(one_and_inert, inert_run):
    """With fewer paths in memory (as simcore verify runs), the trajectories are recomputed
    with engine.evaluate from the same drivers and regime clocks: same table, bit for bit."""
    few = engine.run_forecast(one_and_inert, 4000, seed=11, n_paths=50)
    pd.testing.assert_frame_equal(given.given_data(inert_run), given.given_data(few))
    recomputed = given.trajectories_of(few, 4000)
    for series, values in inert_run.paths.items():
        np.testing.assert_array_equal(values, recomputed[series])


def test_pawn_matches_salib(one_and_inert):
    from SALib.analyze import pawn

    rng = np.random.default_rng(3)
    m, d = 3000, 4
    x = rng.random((m, d))
    y = np.exp(2 * x[:, 0]) + x[:, 1] + 0.3 * rng.standard_normal(m)
    ranks, _ = given.average_ranks(x.T)
    labels = np.stack([given.slide_labels(x[:, j], ranks[j]) for j in range(d)], axis=1)
    sizes = np.stack([np.bincount(labels[:, j], minlength=10) for j in range(d)]).astype(float)
    _, ks = given.average_ranks(y[None, :], labels, sizes, np.array([True]))
    ours = np.nanmedian(ks[0], axis=1)
    problem = {"num_vars": d, "names": list("abcd"), "bounds": [[0, 1]] * d}
    theirs = pawn.analyze(problem, x, y, S=10, seed=1)["median"]
    # SALib leaves each driver's largest value out of every slide; this keeps it in the last
    # one, which moves a slide's KS distance by at most ~1/(slide size).
    np.testing.assert_allclose(ours, theirs, atol=2.0 / (m / 10))
    assert np.argmax(ours) == 0 and ours[2] < 0.05 and ours[3] < 0.05


def test_average_ranks_match_scipy_with_ties():
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    values = np.round(rng.random((3, 500)) * 20) / 4        # many ties
    values[1, ::2] = np.inf                                  # censored block ties as latest
    ranks, _ = given.average_ranks(values)
    np.testing.assert_array_equal(ranks, rankdata(values, axis=1) - 1.0)


def test_slide_labels_discrete_driver_gets_one_slide_per_value():
    x = np.r_[np.zeros(700), np.ones(300)]
    labels = given.slide_labels(x)
    assert len(np.unique(labels)) == 2 and (labels[x == 1] == labels[-1]).all()


def test_dominant_drivers_per_year(inert_run):
    table = given.given_data(inert_run)
    dominant = given.dominant_drivers(table)
    assert list(dominant.columns) == ["output", "profile", "year", "driver", "index",
                                      "runner_up", "runner_up_index"]
    film = dominant[(dominant["output"] == "film_days") & (dominant["profile"] == "no_hardware")]
    # Only years in which film_days varies (later, every world has the same local path).
    assert 1 <= len(film) <= 21 and film["year"].is_unique
    assert film["driver"].iloc[0] == "free_allowance_today"


# ------------------------------------------------------------------------------------------
# Censoring


@pytest.fixture(scope="module")
def mostly_censored(tmp_path_factory):
    """The director agent is fast enough in ~14% of worlds: novel_to_movie_possible is not
    reached by the horizon in most draws."""
    path = tmp_path_factory.mktemp("cens") / "cens.toml"
    return load(pf.write(path, pf.point_drivers(
        agent_doubling_years=pf.entry("lognormal", low=1.5, high=10.7),
        # 16,000 h of reliable agent work against a 24-h horizon: 9.4 doublings.
        longest_unsplittable_subtask_hours=2000.0, agent_reliability_factor=8.0,
        free_allowance_today=ALLOWANCE)))


def test_mostly_censored_event_gives_finite_indices(mostly_censored):
    result = engine.run_forecast(mostly_censored, 3000, seed=2, n_paths=3000)
    censored = np.isinf(result.events["novel_to_movie_possible"]).mean()
    assert 0.6 < censored < 0.97
    table = given.given_data(result)
    assert not table["index"].isna().any()
    # PAWN's median over slides is at most the reached share here (~0.14): in most slides the
    # event is never reached, and the KS distance of "all censored" from the whole is that share.
    for method, floor in (("spearman", 0.3), ("prcc", 0.3), ("pawn", 0.1)):
        sel = rows(table, "novel_to_movie_possible", "all", None, method)
        assert sel.loc["agent_doubling_years", "rank"] == 1
        assert abs(sel.loc["agent_doubling_years", "index"]) > floor
    # Slower agents: later (or never), so a positive rank correlation.
    assert rows(table, "novel_to_movie_possible", "all", None,
                "spearman").loc["agent_doubling_years", "index"] > 0
    # An event never reached in any world is constant: indices 0, unranked, never NaN.
    never = table[(table["output"] == "free_film_within_10min")
                  & (table["profile"] == "no_hardware")]
    if np.isinf(result.events["free_film_within_10min"][:, 0]).all():
        assert (never["index"] == 0).all() and never["rank"].isna().all()


def test_sobol_on_mostly_censored_event(mostly_censored):
    targets = [t for t in tg.headline_targets(mostly_censored.as_of_year, 20, 0.25)
               if t.output == "novel_to_movie_possible"]
    result = variance.sobol(mostly_censored, 128, seed=4, targets=targets)
    assert not result.indices[["S1", "ST"]].isna().any().any()
    capped = result.targets.set_index("quantity").loc["time", "capped_share"]
    assert 0.5 < capped < 0.97
    top = result.top("novel_to_movie_possible", quantity="time", k=1)
    assert top["driver"].iloc[0] == "agent_doubling_years"
    assert top["ST"].iloc[0] > 0.9


def test_censor_places_not_by_horizon_one_year_past_it():
    times = np.array([2030.5, np.inf])
    np.testing.assert_array_equal(tg.censor(times, 2046.83), [2030.5, 2047.83])


# ------------------------------------------------------------------------------------------
# Sobol and Morris


def test_sobol_single_driver_first_order_near_one(one_and_inert):
    target = film_days_target(one_and_inert, 1)
    result = variance.sobol(one_and_inert, 256, seed=7, targets=[target])
    assert set(result.problem.factors) == {"free_allowance_today", *INERT}  # hazard 0: no clock
    top = result.top("film_days", "no_hardware", target.year)
    assert top["driver"].iloc[0] == "free_allowance_today"
    row = top.iloc[0]
    assert row["S1"] == pytest.approx(1.0, abs=0.05)
    assert row["ST"] == pytest.approx(1.0, abs=0.05)
    inert = result.indices[(result.indices["driver"].isin(INERT))]
    assert (inert[["S1", "ST"]].abs() < 1e-12).all().all()


def test_sobol_matches_analytic_split_within_intervals(two_lognormal):
    """log10 film_days at as_of = log10(5400 * overgeneration) - log10(allowance): additive in
    two independent normal terms, so S1 = ST = sigma_i^2 / (sigma_1^2 + sigma_2^2): 0.2 and
    0.8 (sigma ratio ln 2 : ln 4)."""
    target = film_days_target(two_lognormal, 0)
    result = variance.sobol(two_lognormal, 1024, seed=20261125, targets=[target])
    final = result.indices[result.indices["n"] == 2048].set_index("driver")
    sigma_over = math.log(2.0)
    sigma_allow = math.log(4.0)
    expected = {"overgeneration_today": sigma_over ** 2 / (sigma_over ** 2 + sigma_allow ** 2),
                "free_allowance_today": sigma_allow ** 2 / (sigma_over ** 2 + sigma_allow ** 2)}
    for name, share in expected.items():
        for index in ("S1", "ST"):
            estimate, conf = final.loc[name, index], final.loc[name, f"{index}_conf"]
            assert abs(estimate - share) <= conf, (name, index, estimate, conf)
            assert conf < 0.1
    # The model is exactly footage / allowance there: check one world directly.
    u = np.array([[0.3, 0.8]])
    drivers, clock = result.problem.values(u)
    assert result.problem.drivers == ("free_allowance_today", "overgeneration_today")
    _, traj = engine.evaluate(drivers, engine.time_grid(two_lognormal),
                              two_lognormal.as_of_year, clock)
    expected_days = 5400.0 * drivers["overgeneration_today"][0] / drivers["free_allowance_today"][0]
    assert traj["film_days/no_hardware"][0, 0] == pytest.approx(expected_days, rel=1e-9)


def test_sobol_convergence_table_and_determinism(one_and_inert):
    target = film_days_target(one_and_inert, 1)
    a = variance.sobol(one_and_inert, 64, seed=3, targets=[target])
    b = variance.sobol(one_and_inert, 64, seed=3, targets=[target])
    pd.testing.assert_frame_equal(a.indices, b.indices)
    conv = a.convergence.iloc[0]
    assert conv["n"] == 64 and conv["n2"] == 128
    assert conv["top5_n"].split(";")[0] == "free_allowance_today"
    assert conv["max_abs_dS1"] >= 0 and bool(conv["top5_same_set"])
    # Intervals at 2N only.
    assert a.indices.loc[a.indices["n"] == 64, "S1_conf"].isna().all()
    assert a.indices.loc[a.indices["n"] == 128, "S1_conf"].notna().all()


def test_sobol_rejects_n_not_power_of_two(one_uncertain):
    with pytest.raises(ValueError, match="power of 2"):
        variance.sobol(one_uncertain, 100)


def test_regime_clock_is_one_group_when_withdrawals_can_happen(tmp_path):
    priors = load(pf.write(tmp_path / "c.toml", pf.point_drivers(
        free_allowance_today=ALLOWANCE)))
    problem = variance.Problem.of(priors)
    assert problem.factors == ["free_allowance_today", variance.CLOCK]
    spec = problem.salib()
    assert spec["num_vars"] == 17 and spec["groups"].count(variance.CLOCK) == 16


def test_morris_single_driver(one_and_inert):
    target = film_days_target(one_and_inert, 1)
    result = variance.morris(one_and_inert, 16, seed=1, targets=[target])
    final = result.indices[result.indices["n"] == 32].set_index("driver")
    assert final.loc["free_allowance_today", "rank"] == 1
    assert final.loc["free_allowance_today", "mu"] < 0          # more allowance, fewer days
    assert (final.loc[list(INERT), "mu_star"] == 0).all()


def test_indices_survive_correlated_priors(tmp_path):
    """Sobol ignores the copula (and says so); the given-data indices see it: a driver
    correlated with the one that matters shows a marginal (Spearman) effect but no partial
    (PRCC) one."""
    drivers = pf.point_drivers(**FREE_TIER_ONLY, free_allowance_today=ALLOWANCE,
                               novel_adaptation_hours=INERT["novel_adaptation_hours"])
    priors = load(pf.write(tmp_path / "corr.toml", drivers,
                           correlations=[("free_allowance_today", "novel_adaptation_hours",
                                          0.8)]))
    result = engine.run_forecast(priors, 4000, seed=9, n_paths=4000)
    table = given.given_data(result)
    year = math.floor(priors.as_of_year) + 1
    spearman = rows(table, "film_days", "no_hardware", year, "spearman")
    prcc = rows(table, "film_days", "no_hardware", year, "prcc")
    assert spearman.loc["novel_adaptation_hours", "index"] < -0.7
    assert abs(prcc.loc["novel_adaptation_hours", "index"]) < 0.1
    study = variance.sobol(priors, 64, seed=2, targets=[film_days_target(priors, 1)])
    assert any("not applied" in note for note in study.notes)


# ------------------------------------------------------------------------------------------
# Tornado


def test_tornado_order_matches_direct_swings():
    priors = load(BASELINE)
    table = tornado.swings(priors)
    t_rel = engine.time_grid(priors)
    medians = {n: d.dist.quantile(0.5) for n, d in priors.drivers.items()}
    uncertain = [n for n, d in priors.drivers.items() if not d.dist.is_constant]
    horizon = priors.as_of_year + t_rel[-1]
    for output, profile, year in (("film_days", "no_hardware", 2030),
                                  ("novel_to_movie_possible", "all", None)):
        direct = {}
        for name in uncertain:
            values = []
            for q in (0.1, 0.9):
                point = {n: np.array([v]) for n, v in medians.items()}
                point[name] = np.array([priors.drivers[name].dist.quantile(q)])
                events, traj = engine.evaluate(point, t_rel, priors.as_of_year)
                if output == "film_days":
                    index = int(round((year - math.floor(priors.as_of_year))
                                      / priors.meta.time_step_years))
                    values.append(math.log10(traj[f"film_days/{profile}"][0, index]))
                else:
                    t = events[output][0]
                    values.append(t if math.isfinite(t) else horizon + 1.0)
            direct[name] = abs(values[1] - values[0])
        sel = table[(table["output"] == output) & (table["profile"] == profile)]
        sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
        sel = sel.set_index("driver")
        for name, swing in direct.items():
            assert sel.loc[name, "swing"] == pytest.approx(swing, abs=1e-9), name
        expected = sorted(uncertain, key=lambda n: (-direct[n], uncertain.index(n)))
        assert list(sel.sort_values("rank").index) == expected


def test_tornado_chart_is_a_figure(one_and_inert):
    from matplotlib.figure import Figure

    table = tornado.swings(one_and_inert)
    year = math.floor(one_and_inert.as_of_year) + 1
    fig = tornado_chart(table, "film_days", "no_hardware", year)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 1 and labels[0].startswith("free_allowance_today")   # zero swings dropped
    fig = tornado_chart(table, "novel_to_movie_possible",
                                horizon_year=one_and_inert.as_of_year + 20)
    assert isinstance(fig, Figure)


# ------------------------------------------------------------------------------------------
# Stored outputs and the command line


@pytest.mark.slow
def test_run_directory_has_sensitivity(tmp_path, one_and_inert):
    path = pf.write(tmp_path / "inert.toml", pf.point_drivers(
        **FREE_TIER_ONLY, free_allowance_today=ALLOWANCE, **INERT))
    out = tmp_path / "run"
    done = run_simcore("run", path, "--draws", 3000, "--out", out, "--no-charts", "-q")
    assert done.returncode == 0, done.stderr
    table = given.load(out)
    assert table["draws"].eq(3000).all() and not table["index"].isna().any()
    assert (out / "sensitivity_dominant.csv").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"sensitivity.csv", "sensitivity_dominant.csv"} <= set(manifest["files"])
    assert manifest["stored_paths"] == 200          # more kept in memory, 200 stored
    tree = store.load_run(out)
    group = tree["sensitivity"].to_dataset()
    assert set(group["measure"].values) == {"spearman", "prcc", "pawn"}
    spearman = group["index"].sel(measure="spearman")
    k = int(np.flatnonzero((group["output"].values == "film_days")
                           & (group["profile"].values == "no_hardware")
                           & (group["year"].values == 2027))[0])
    assert float(spearman.sel(driver="free_allowance_today")[k]) == pytest.approx(-1.0)
    assert tree["trajectories"]["paths"].sizes["path"] == 200


@pytest.mark.slow
def test_sensitivity_command(tmp_path, one_and_inert):
    path = pf.write(tmp_path / "inert.toml", pf.point_drivers(
        **FREE_TIER_ONLY, free_allowance_today=ALLOWANCE, **INERT))
    out = tmp_path / "study"
    done = run_simcore("sensitivity", path, "-N", 64, "--out", out, "--output", "film_days",
                   "--output", "novel_to_movie_possible")
    assert done.returncode == 0, done.stderr
    assert "free_allowance_today" in done.stdout and "top five" in done.stdout
    study = load_study(out)
    assert set(study["indices"]["output"]) == {"film_days", "novel_to_movie_possible"}
    assert study["manifest"]["method"] == "sobol" and study["manifest"]["n2"] == 128
    assert any("independent" in note for note in study["manifest"]["notes"])
    for name in ("sobol.csv", "convergence.csv", "targets.csv", "tornado.csv",
                 "tornado_film_days.png", "tornado_novel_to_movie_possible.png"):
        assert (out / name).is_file(), name
    assert (out / "priors").is_dir()
    refused = run_simcore("sensitivity", path, "-N", 100, "--out", tmp_path / "other")
    assert refused.returncode == 2 and "power of 2" in refused.stderr
    assert not (tmp_path / "other").exists()
    again = run_simcore("sensitivity", path, "-N", 64, "--out", out)
    assert again.returncode == 2 and "already exists" in again.stderr
