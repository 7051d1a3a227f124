"""PSIS weights (issue 16): equal to arviz-stats' on the same log-weights, quantised to
integers that keep their sum, and a likelihood that prefers draws near the observation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from observationfiles import GOOD, table

from simcore.analysis.conditioning import importance_weights, psis, quantise
from simcore.app.conditioned import log_likelihoods
from simcore.inputs.observations import load_noise_model, parse
from simcore.inputs.priors import load_priors
from simcore.run import engine
from simcore.run.observed import ObservationPoints

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_psis_weights_and_khat_equal_arviz_stats_on_the_same_log_weights():
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)
    import xarray as xr

    log_ratios = np.random.default_rng(1).normal(size=5000)
    ours, khat = psis(log_ratios)
    theirs = xr.DataArray(-log_ratios, dims=["draw"]).azstats.psislw(dim="draw")
    smoothed, their_khat = theirs if isinstance(theirs, tuple) else (theirs[0], theirs[1])
    np.testing.assert_array_equal(ours, np.asarray(smoothed))
    assert khat == float(their_khat)
    assert np.exp(ours).sum() == pytest.approx(1.0)
    assert 0.0 < khat < 1.5


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=50), st.integers(1, 500))
def test_quantised_weights_are_integers_summing_to_the_total(weights, total):
    weights = np.array(weights)
    if weights.sum() <= 0:
        return
    m = quantise(weights, total)
    assert m.sum() == total and (m >= 0).all()
    # Within one of total x normalised weight (systematic rounding).
    assert np.all(np.abs(np.cumsum(m) - np.cumsum(weights) / weights.sum() * total) <= 0.5 + 1e-9)


def test_log_likelihood_prefers_draws_near_the_observation():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    observations = parse(table({**GOOD, "date": "2026-10", "value": "0.05"}), "o.csv")
    points = ObservationPoints.for_priors(observations, priors)
    result = engine.run_forecast(priors, 2000, 9, n_paths=0, observe=points)
    log_lik = log_likelihoods(result, points, load_noise_model())
    distance = np.abs(result.observed[:, 0] - np.log2(0.05))
    assert log_lik[np.argmin(distance)] > log_lik[np.argmax(distance)]
    weights = importance_weights(log_lik)
    assert weights.ess < 2000 and weights.excluded == 0
