"""The shipped back-test prior files (priors/backtest/<origin>.toml): each passes the look-ahead
check with as_of equal to its origin, overrides every baseline entry that cites a source dated
after the origin, and `simcore backtest` runs from the CLI on it with its default folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from clichecks import invoke

from simcore.app.backtest import BACKTEST_PRIORS, origin_priors
from simcore.inputs.lookahead import documents_observed_later, late_sources
from simcore.inputs.observations import load_observations
from simcore.inputs.priors import decimal_year, known_at, load_priors
from simcore.model import MODEL_DRIVERS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / BACKTEST_PRIORS
ORIGINS = ["2024-06", "2025-06"]


def test_every_origin_of_the_readme_has_a_shipped_file():
    assert sorted(p.stem for p in SHIPPED.glob("*.toml")) == ORIGINS


@pytest.mark.parametrize("origin", ORIGINS)
def test_a_shipped_file_passes_the_lookahead_check_from_its_origin(origin):
    priors = origin_priors(origin, SHIPPED)
    assert priors.meta.as_of == origin
    assert late_sources(priors) == []
    assert all(known_at(source.date, origin)
               for driver in priors.drivers.values() for source in driver.text.sources)


@pytest.mark.parametrize("origin", ORIGINS)
def test_a_shipped_file_overrides_every_entry_the_baseline_dates_after_its_origin(origin):
    baseline = load_priors(ROOT / "priors" / "baseline.toml", required=set(MODEL_DRIVERS))
    late = {name for name, driver in baseline.drivers.items()
            if any(not known_at(s.date, origin) for s in driver.text.sources)}
    priors = origin_priors(origin, SHIPPED)
    overridden = {name for name, driver in priors.drivers.items()
                  if Path(driver.defined_in).name == f"{origin}.toml"}
    assert late and late <= overridden, sorted(late - overridden)


@pytest.mark.parametrize("origin", ORIGINS)
def test_an_origin_file_cites_no_document_the_observations_date_after_its_origin(origin):
    observations = load_observations(ROOT / "data" / "observations.csv")
    assert documents_observed_later(origin_priors(origin, SHIPPED), observations) == []


def test_backtest_runs_from_the_cli_on_a_shipped_file(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the default --priors-dir is the repository's priors/backtest
    out = tmp_path / "bt"
    result = invoke("backtest", "--origin", "2025-06", "--draws", 500, "--seed", 5,
                    "--out", out, "--no-charts")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert Path(manifest["prior_files"]["2025-06"]).resolve() == SHIPPED / "2025-06.toml"
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) > 0 and set(scores["origin"].astype(str)) == {"2025-06"}
    assert all(decimal_year(str(d)) > decimal_year("2025-06") for d in scores["date"])
    ranked = scores[scores["pit"].notna()]
    assert len(ranked) > 0 and ranked["pit"].between(0, 1).all()
    summary = pd.read_csv(out / "scores_summary.csv")
    assert set(summary["origin"].astype(str)) == {"2025-06"}
    assert not (out / "backtest.png").exists()
