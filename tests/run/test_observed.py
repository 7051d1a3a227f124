"""Every draw's values at the observation points (issue 16): computed in the engine's pass,
bit-identical for any chunk size, equal to the model evaluated at each point's time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from observationfiles import GOOD, table

from simcore.inputs.observations import parse
from simcore.inputs.priors import load_priors
from simcore.run import engine
from simcore.run.observed import ObservationPoints

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_observed_values_are_bit_identical_for_any_chunk_size_and_equal_the_model():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    rows = parse(table(
        {**GOOD, "date": "2026-09"},                                       # as-of comparison
        {**GOOD, "id": "a2", "date": "2029-02-14"},                        # between grid times
        {**GOOD, "id": "a3", "date": "2031-06", "measures": "film_days", "profile": "gaming_pc",
         "unit": "days"},
        {**GOOD, "id": "a4", "date": "2030-01", "measures": "agent_horizon_hours",
         "unit": "hours"}), "obs.csv")
    points = ObservationPoints.for_priors(rows, priors)
    runs = [engine.run_forecast(priors, 300, 5, chunk_size=c, n_paths=0, observe=points)
            for c in (1, 7, 300)]
    for other in runs[1:]:
        assert np.array_equal(runs[0].observed, other.observed)
    # The values equal the model evaluated at each point's time directly.
    result = runs[0]
    drivers = {k: v for k, v in result.drivers.items()}
    from simcore.inputs.sampling import noise
    clock = noise(5, "free_regime_clock", 16, 0, 300)
    for p, (series, t) in enumerate(zip(points.series, points.t, strict=True)):
        if series == "agent_horizon_hours":
            continue
        grid = np.array([0.0, t]) if t > 0 else np.array([0.0])
        _, values = engine.evaluate(drivers, grid, priors.as_of_year, clock)
        np.testing.assert_allclose(result.observed[:, p], np.log2(values[series][:, -1]),
                                   rtol=1e-12)
    # The agent horizon grows at its doubling time (no stall draws it before 2030 in most).
    agent = points.names.index(next(n for n in points.names if n.startswith("agent")))
    t_agent = points.t[agent]
    expected = (np.log2(drivers["agent_horizon_hours_today"])
                + t_agent / drivers["agent_doubling_years"])
    no_stall = (drivers["stall_occurs"] < 0.5) | (drivers["stall_start_years"] > t_agent)
    np.testing.assert_allclose(result.observed[no_stall, agent], expected[no_stall], rtol=1e-9)


def test_a_row_of_the_as_of_month_is_compared_at_as_of_and_a_later_one_ranked():
    priors = load_priors(BASELINE)   # as_of 2026-11: the month covers its days
    rows = parse(table(
        {**GOOD, "id": "month", "date": "2026-11"},
        {**GOOD, "id": "day", "date": "2026-11-30"},
        {**GOOD, "id": "next", "date": "2026-12-01"},
        {**GOOD, "id": "old", "date": "2026-06-01"},
        {**GOOD, "id": "older", "date": "2026-04-30"}), "obs.csv")
    chosen = {s.observation.id: s for s in ObservationPoints.for_priors(rows, priors).scored}
    assert chosen["month"].as_of and chosen["day"].as_of and chosen["day"].t == 0.0
    assert not chosen["next"].as_of and chosen["next"].t > 0
    assert chosen["old"].as_of and "older" not in chosen
