"""Where the observed world falls in a run (issue 16): mid-rank PIT, the run's observations
table and its flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from observationfiles import GOOD, table

from simcore.analysis.scoring import observations_table, pit
from simcore.inputs.observations import parse
from simcore.inputs.priors import load_priors
from simcore.run import engine
from simcore.run.observed import ObservationPoints

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_pit_is_a_mid_rank():
    sample = np.sort(np.array([1.0, 2.0, 2.0, 3.0]))
    assert pit(sample, 2.0) == 0.5 and pit(sample, 0.0) == 0.0 and pit(sample, 9.0) == 1.0
    assert pit(sample, 2.5) == 0.75


def test_run_table_ranks_each_observation_and_flags_outliers():
    priors = load_priors(ROOT / "priors" / "baseline.toml")
    rows = parse(table({**GOOD, "date": "2026-09", "value": "1000"},
                       {**GOOD, "id": "a2", "date": "2026-09", "value": "0.04"}),
                 "obs.csv")
    result = engine.run_forecast(priors, 2000, 3, n_paths=0,
                                 observe=ObservationPoints.for_priors(rows, priors))
    frame = observations_table(result)
    assert list(frame["id"]) == ["a1", "a2"]
    assert frame.loc[0, "pit"] == 1.0 and "above" in frame.loc[0, "flag"]
    sample = np.exp2(result.observed[:, 0])
    assert frame.loc[1, "pit"] == pytest.approx((sample < 0.04).mean(), abs=1e-12)
    assert frame.loc[0, "p10"] < frame.loc[0, "p50"] < frame.loc[0, "p90"]
