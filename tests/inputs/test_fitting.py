"""simcore fit (issue 16): recovers a known doubling time from noisy dated data within its
interval, prints prior entries a prior file accepts, and uses only what was known then."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from observationfiles import GOOD, table

from simcore.base.errors import SimcoreError
from simcore.inputs.fitting import fit_trend, prior_toml
from simcore.inputs.observations import load_noise_model, load_observations, parse

ROOT = Path(__file__).resolve().parents[2]


def synthetic(doubling: float, seed: int, n: int = 30, outliers: int = 2):
    rng = np.random.default_rng(seed)
    years = np.sort(rng.uniform(2022.0, 2026.0, n))
    log2 = np.log2(3.0) + (years - 2026.0) / doubling + rng.normal(0.0, 0.4, n)
    log2[:outliers] += 4.0                        # a couple of gross outliers
    rows = []
    for i, (year, value) in enumerate(zip(years, log2, strict=True)):
        month = int((year % 1) * 12) + 1
        date = f"{int(year)}-{month:02d}"
        rows.append({**GOOD, "id": f"s{i}", "date": date, "source_date": date,
                     "measures": "agent_horizon_hours", "unit": "hours",
                     "quality": "press" if i % 2 else "first-party",
                     "value": repr(float(2.0 ** value))})
    return parse(table(*rows), "synthetic.csv")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_recovers_a_known_doubling_time_inside_its_interval(seed):
    fit = fit_trend(synthetic(0.5, seed), "agent_horizon_hours", "2026-01",
                    load_noise_model(), seed=seed, resamples=500)
    median, low, high = fit.entries()["agent_doubling_years"]
    assert low < 0.5 < high
    assert 0.3 < median < 0.8 and high / low < 4.0


def test_fit_prints_entries_a_prior_file_accepts_with_the_rows_as_sources():
    fit = fit_trend(synthetic(0.5, 4), "agent_horizon_hours", "2026-01", load_noise_model(),
                    resamples=300)
    parsed = tomllib.loads(prior_toml(fit))["drivers"]
    entry = parsed["agent_doubling_years"]
    assert entry["family"] == "lognormal" and entry["low"] < entry["median"] < entry["high"]
    cited = {(r.source_title, r.source_url, r.source_date) for r in fit.rows}
    assert {(s["title"], s["url"], s["date"]) for s in entry["sources"]} == cited
    from simcore.inputs.priors import _validate_driver
    for name, value in parsed.items():
        _validate_driver("fit.toml", name, value)


def test_fit_uses_only_rows_dated_and_published_by_the_date():
    rows = load_observations(ROOT / "data" / "observations.csv")
    fit = fit_trend(rows, "agent_horizon_hours", "2026-06", load_noise_model(), resamples=200)
    assert all(r.year <= 2026.5 and r.source_year <= 2026.5 for r in fit.rows)
    assert len(fit.rows) >= 10
    median, low, high = fit.entries()["agent_doubling_years"]
    assert 0.2 < median < 1.0
    # The shipped METR rows come from the TH1.1 file published 2026-03: in mid-2025 none of
    # them was known, so a fit as of then has nothing to use.
    with pytest.raises(SimcoreError, match="0 observation"):
        fit_trend(rows, "agent_horizon_hours", "2025-06", load_noise_model())
