"""Extreme but valid prior values are accepted and give finite or explicitly censored outputs."""


from pathlib import Path

import numpy as np
import priorfiles as pf
import pytest
from runchecks import EXTREME_VALID, REQUIRED, assert_clean_result, assert_clean_run_dir, run_ok

from simcore.inputs.priors import load_priors
from simcore.model import DRIVER_DOMAINS, DRIVER_MAGNITUDE_LIMIT
from simcore.run import engine

ROOT = Path(__file__).resolve().parents[2]


E = pf.entry

# ---------------------------------------------------------------------------------------------
# 2. Extreme but valid values are accepted, and give finite or explicitly censored outputs



@pytest.mark.parametrize("case", sorted(EXTREME_VALID))
def test_extreme_but_valid_values_are_accepted(tmp_path, case):
    prior = pf.write(tmp_path / "extreme.toml", pf.point_drivers(**EXTREME_VALID[case]))
    result = engine.run_forecast(load_priors(prior, required=REQUIRED), 300, seed=3,
                                 chunk_size=128, n_paths=5)
    assert_clean_result(result)


@pytest.mark.parametrize("case", ["everything_extreme_at_once", "intervals_spanning_20_orders"])
def test_extreme_but_valid_values_through_the_cli(tmp_path, case):
    prior = pf.write(tmp_path / "extreme.toml", pf.point_drivers(**EXTREME_VALID[case]))
    out = tmp_path / "runs" / "extreme"
    run_ok(prior, out)
    assert_clean_run_dir(out)


@pytest.mark.parametrize("meta", [{"horizon_years": 1, "time_step_years": 1, "as_of": "2026-12-31"},
                                  {"horizon_years": 200, "time_step_years": 5},
                                  {"horizon_years": 50, "time_step_years": 50 / 600}])
def test_grid_at_the_limits_is_accepted(tmp_path, meta):
    prior = pf.write(tmp_path / "grid.toml", pf.point_drivers(
        alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6)), meta=meta)
    result = engine.run_forecast(load_priors(prior, required=REQUIRED), 300, seed=3, n_paths=5)
    assert_clean_result(result)
    from simcore.analysis.headline import headline_indices
    shown = headline_indices(result)        # Q5's rows: each grid time once, in order
    assert shown == sorted(set(shown)) and shown[-1] < result.time_abs.size


def test_shipped_priors_pass_the_domain_checks():
    for path in sorted((ROOT / "priors").rglob("*.toml")):
        load_priors(path, required=REQUIRED)


def test_every_model_driver_has_a_domain():
    assert set(DRIVER_DOMAINS) == REQUIRED
    assert np.finfo(float).max > DRIVER_MAGNITUDE_LIMIT ** 2 * 1e3


