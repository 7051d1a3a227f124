"""Conditioned runs (issue 16): weights concentrate near the draw that generated the data,
hard constraints and k-hat refuse, and a conditioned run is bit-identical for any chunk size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from observationfiles import GOOD, table

from simcore.app.conditioned import weights_for
from simcore.base.errors import SimcoreError
from simcore.inputs.observations import parse
from simcore.inputs.priors import load_priors
from simcore.run import engine
from simcore.run.observed import ObservationPoints

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_conditioning_concentrates_weights_near_the_generating_draw():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    rows_of_truth = []
    # Observations generated from draw 17 of a pilot run: its price and agent horizon at three
    # dates after as_of (first-party: the tightest noise).
    dates = ("2027-06", "2028-06", "2029-06")
    specs = [("price_per_video_second", "USD per video-second"), ("agent_horizon_hours", "hours"),
             ("coherent_shot_seconds", "seconds")]
    probes = parse(table(*[{**GOOD, "id": f"{m}-{d}", "date": d, "measures": m, "unit": u,
                            "quality": "first-party", "value": "1"}
                           for d in dates for m, u in specs]), "probe.csv")
    points = ObservationPoints.for_priors(probes, priors)
    pilot = engine.run_forecast(priors, 4000, 11, n_paths=0, observe=points)
    truth = 17
    from simcore.analysis.scoring import model_sample
    for chosen in points.scored:
        probe = chosen.observation
        value = 2.0 ** model_sample(pilot, chosen)[truth]
        rows_of_truth.append({**GOOD, "id": probe.id, "date": probe.date,
                              "measures": probe.measures, "unit": probe.unit,
                              "quality": "first-party", "value": repr(float(value))})
    observations = parse(table(*rows_of_truth), "truth.csv")
    weights, summary = weights_for(priors, 4000, 11, 1000, observations, resample=True)
    drivers = pilot.drivers
    posterior = np.repeat(np.arange(4000), weights.multiplicity)
    for name in ("agent_doubling_years", "price_markup", "coherent_shot_doubling_years"):
        prior_spread = np.std(np.log(drivers[name]))
        post_spread = np.std(np.log(drivers[name][posterior]))
        assert post_spread < 0.7 * prior_spread, name
        # The generating draw sits inside the conditioned central 80%.
        low, high = np.quantile(drivers[name][posterior], [0.1, 0.9])
        assert low <= drivers[name][truth] <= high, name
    assert weights.multiplicity[truth] >= 1
    assert summary["ess"] < 0.5 * 4000


def test_hard_constraints_rule_out_draws_and_khat_refuses_overconfident_data():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    event = {**GOOD, "measures": "novel_to_movie_possible", "value": "1", "date": "2026-10",
             "unit": "happened by date (1) or not (0)"}
    with pytest.raises(SimcoreError, match="no simulated world agrees"):
        weights_for(priors, 500, 3, 500, parse(table(event), "e.csv"), resample=False)
    tight = parse(table(*[{**GOOD, "id": f"p{i}", "date": f"20{30 + i}-01", "value": "1e-6",
                           "quality": "first-party"} for i in range(5)]), "t.csv")
    with pytest.raises(SimcoreError, match="Pareto k-hat"):
        weights_for(priors, 500, 3, 500, tight, resample=False)
    weights, summary = weights_for(priors, 500, 3, 500, tight, resample=True)
    assert summary["resampled_despite_khat"] and weights.multiplicity.sum() == 500


def test_a_conditioned_run_is_bit_identical_for_any_chunk_size():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    observations = parse(table({**GOOD, "date": "2026-10", "value": "0.1"}), "o.csv")
    runs = []
    for chunk in (97, 1000):
        weights, _ = weights_for(priors, 1000, 4, chunk, observations, resample=False)
        runs.append(engine.run_forecast(priors, 1000, 4, chunk, n_paths=0,
                                        source_draws=weights.source_draws()))
    for name, values in runs[0].events.items():
        assert np.array_equal(values, runs[1].events[name], equal_nan=True), name
    for name, values in runs[0].drivers.items():
        assert np.array_equal(values, runs[1].drivers[name])
    # The resampled draws are the original draws, repeated.
    plain = engine.run_forecast(priors, 1000, 4, 1000, n_paths=0)
    source = weights.source_draws()
    assert np.array_equal(runs[0].drivers["price_markup"], plain.drivers["price_markup"][source])
