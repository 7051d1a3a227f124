"""Conditioned runs (``simcore run --condition OBS``): the workflow around
simcore.conditioning. A first pass computes every draw's values at the conditioning
observations (in memory, about 1 kB per draw), their likelihood and PSIS weights; the run is
then the integer-weighted multiset of the same draws (``engine.run_forecast(source_draws=)``),
so every table, chart and sensitivity index of it carries the weights. ``simcore verify``
repeats both passes from the run's copies of the observation files."""

from __future__ import annotations

import numpy as np

from ..analysis.conditioning import (
    Weights,
    event_log_likelihood,
    importance_weights,
    khat_limit,
    log_likelihood,
)
from ..analysis.scoring import model_sample
from ..base.errors import SimcoreError
from ..inputs.observations import load_noise_model
from ..run import engine
from ..run.observed import ObservationPoints

CONDITION_COPIES = "conditioning"


def log_likelihoods(result, points: ObservationPoints, noise) -> np.ndarray:
    """Sum over the scored observations of log p(observation | draw), per draw."""
    total = np.zeros(result.draws)
    for chosen in points.scored:
        sample = model_sample(result, chosen)
        obs = chosen.observation
        if obs.measure.kind == "event":
            total += event_log_likelihood(obs, sample > 0.5)
        else:
            total += log_likelihood(obs, sample, noise)
    return total


def weights_for(priors, draws: int, seed: int, chunk_size: int, observations,
                resample: bool) -> tuple[Weights, dict]:
    """PSIS weights of the run's draws given ``observations``; refuses (SimcoreError) when
    k-hat is above the limit unless ``resample``. Returns the weights and the manifest's
    ``conditioning`` summary."""
    points = ObservationPoints.for_priors(observations, priors)
    if not points.scored:
        raise SimcoreError(f"--condition: none of the {len(observations)} observations falls in "
                           f"this run's window (as_of {priors.meta.as_of} minus a year to the "
                           "horizon) or measures the model")
    first = engine.run_forecast(priors, draws, seed, chunk_size, n_paths=0, observe=points)
    log_lik = log_likelihoods(first, points, load_noise_model())
    try:
        weights = importance_weights(log_lik)
    except ValueError:
        raise SimcoreError("--condition: no simulated world agrees with the observations' "
                           "hard constraints (events); nothing to condition") from None
    limit = khat_limit(draws)
    summary = {**weights.summary(), "khat_limit": round(limit, 4),
               "observations": [s.observation.id for s in points.scored],
               "resampled_despite_khat": not weights.trusted(limit)}
    if not weights.trusted(limit) and not resample:
        raise SimcoreError(
            f"--condition: Pareto k-hat {weights.khat_text} above {limit:.2f} and weights up to "
            f"{weights.max_weight_ratio:.0f}x their mean: the observations "
            f"are too informative for importance weights of {draws:,} draws (effective sample "
            f"size {weights.ess:,.0f}); use more --draws or fewer observations, or pass "
            "--resample to go on with these weights anyway")
    return weights, summary
