"""Q7: the novel-to-movie milestone on the shipped priors and on random seeds (per draw through
both of the model's backends, and through a run's tables)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simcore.analysis import tables
from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, noise, sample_drivers
from simcore.model import (
    ALREADY_MET,
    BINDING_LABELS,
    MAX_REGIME_SWITCHES,
    MODEL_DRIVERS,
    PROFILES,
)
from simcore.run import engine
from simcore.run.engine import time_grid

ROOT = Path(__file__).resolve().parents[2]
PRIOR_FILES = sorted((ROOT / "priors").rglob("*.toml"))


@pytest.fixture(scope="module", params=PRIOR_FILES, ids=lambda p: p.stem)
def priors(request):
    return load_priors(request.param, required=set(MODEL_DRIVERS))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_free_user_never_ahead_of_possible_in_any_year_or_profile(priors, seed):
    result = engine.run_forecast(priors, 3000, seed=seed, n_paths=0)
    by_year = tables.events_by_year(result).sort_values("year")

    def curve(event, profile):
        rows = by_year[(by_year.event == event) & (by_year.profile == profile)]
        return rows.p_by.to_numpy()

    possible = curve("novel_to_movie_possible", "all")
    for profile in PROFILES:
        free = curve("novel_to_movie_free_user", profile)
        assert free.size == possible.size > 0
        assert np.all(free <= possible + 1e-12)
        assert np.all(np.diff(free) >= 0)


def test_free_user_never_before_possible_in_any_draw(priors, evaluate):
    drivers = sample_drivers(priors, 17, 0, 3000, Copula.from_priors(priors))
    clock = noise(17, "free_regime_clock", MAX_REGIME_SWITCHES, 0, 3000)
    events, _ = evaluate(drivers, time_grid(priors), priors.as_of_year, clock)
    possible = events["novel_to_movie_possible"]
    assert np.all(events["novel_to_movie_free_user"] >= possible[:, None])
    binding = events["novel_to_movie_binding"]
    assert np.all((binding >= ALREADY_MET) & (binding < len(BINDING_LABELS) + ALREADY_MET))
    assert np.array_equal(binding == ALREADY_MET, possible == priors.as_of_year)


def test_binding_shares_are_a_partition(priors):
    result = engine.run_forecast(priors, 5000, seed=9, n_paths=0)
    shares = tables.binding_shares(result)
    overall = shares[shares.year == "all"]
    assert set(overall.requirement) == set(BINDING_LABELS)
    assert overall.share.sum() == pytest.approx(1.0)
    binding = result.events["novel_to_movie_binding"]
    direct = np.mean(binding == BINDING_LABELS.index("consistency") + ALREADY_MET)
    assert overall.set_index("requirement").share["consistency"] == pytest.approx(direct)
    for year, group in shares[shares.year != "all"].groupby("year"):
        reached = result.events["novel_to_movie_possible"] <= int(year) + 1
        if reached.any():
            assert group.share.sum() == pytest.approx(1.0)


def test_baseline_rank_correlations_reach_their_targets():
    baseline = load_priors(ROOT / "priors" / "baseline.toml", required=set(MODEL_DRIVERS))
    n = 60_000
    d = sample_drivers(baseline, 21, 0, n, Copula.from_priors(baseline))
    assert baseline.correlations
    for (a, b), target in baseline.correlations.items():
        got = stats.spearmanr(d[a], d[b])[0]
        assert abs(got - target) < 0.02, (a, b, got, target)
