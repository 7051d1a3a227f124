"""simcore backtest (issue 16): a prior source dated after the origin fails the back-test
(one line, exit 2, nothing written); scores.csv ranks every later observation in the run it
stored, its summary is the mean of its rows, and each origin's run verifies bit for bit."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scoringrules
import xarray as xr
from clichecks import assert_rejected, invoke, report_section

from simcore.app.verify import verify_run
from simcore.inputs.observations import load_observations
from simcore.inputs.priors import decimal_year
from simcore.run.observed import point_name

ROOT = Path(__file__).resolve().parents[2]
OBSERVATIONS = ROOT / "data" / "observations.csv"


def backtest_priors(folder: Path, origin: str, source_date: str | None = None,
                    keep_url: str = "") -> Path:
    """``folder/priors/backtest/<origin>.toml``: the baseline from ``origin``. With
    ``source_date`` every source of the copy is re-dated to it and points to a document of its
    own (but those whose URL holds ``keep_url``): a synthetic prior set that passes the
    look-ahead checks (the machinery under test, not a forecast)."""
    priors = folder / "priors"
    (priors / "backtest").mkdir(parents=True)
    text = (ROOT / "priors" / "baseline.toml").read_text()
    text = text.replace('as_of = "2026-11"', f'as_of = "{origin}"', 1)
    if source_date is not None:
        text = re.sub(r'^date = "[^"]*"', f'date = "{source_date}"', text, flags=re.M)
        urls = itertools.count()
        text = re.sub(r'^url = "[^"]*"',
                      lambda m: m[0] if keep_url and keep_url in m[0]
                      else f'url = "https://example.org/synthetic/{next(urls)}"',
                      text, flags=re.M)
    (priors / "backtest" / f"{origin}.toml").write_text(text)
    return priors / "backtest"


def test_a_source_dated_after_the_origin_fails_the_backtest(tmp_path):
    priors_dir = backtest_priors(tmp_path, "2024-06")
    out = tmp_path / "bt"
    result = invoke("backtest", "--origin", "2024-06", "--priors-dir", priors_dir, "--draws", 200,
                    "--out", out, "--no-charts")
    assert_rejected(result, out, "2024-06.toml", "sources", "after as_of 2024-06")


def test_a_source_the_observations_date_after_the_origin_fails_the_backtest(tmp_path):
    # Its own date says 2025-01; the observations date LightX2V's benchmark page from July 2025.
    priors_dir = backtest_priors(tmp_path, "2025-06", source_date="2025-01", keep_url="LightX2V")
    out = tmp_path / "bt"
    result = invoke("backtest", "--origin", "2025-06", "--priors-dir", priors_dir, "--draws", 200,
                    "--out", out, "--no-charts", "--observations", OBSERVATIONS)
    assert_rejected(result, out, "2025-06.toml", "sources", "LightX2V",
                    "the observations show it known from 2025-07", "after as_of 2025-06")


def test_an_origin_file_with_another_as_of_is_rejected(tmp_path):
    priors_dir = backtest_priors(tmp_path, "2025-06", source_date="2025-01")
    shutil.copy(priors_dir / "2025-06.toml", priors_dir / "2024-06.toml")
    out = tmp_path / "bt"
    result = invoke("backtest", "--origin", "2024-06", "--priors-dir", priors_dir, "--draws", 200,
                    "--out", out, "--no-charts")
    assert_rejected(result, out, "2024-06.toml", "as_of", "needs as_of = '2024-06'")


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest")
    priors_dir = backtest_priors(folder, "2025-06", source_date="2025-01")
    out = folder / "bt"
    result = invoke("backtest", "--origin", "2025-06", "--priors-dir", priors_dir,
                    "--draws", 2000, "--seed", 3, "--out", out, "--observations", OBSERVATIONS)
    assert result.exit_code == 0, result.output
    return out


def test_scores_rank_every_later_observation_in_the_stored_run(backtest_run):
    out = backtest_run
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False, na_values=[""])
    rows = {r.id: r for r in load_observations(OBSERVATIONS)}
    assert len(scores) >= 5
    assert all(rows[i].modelled and rows[i].year > decimal_year("2025-06")
               for i in scores["id"])
    ranked = scores[scores["pit"].notna()]
    assert ranked["pit"].between(0, 1).all()
    # A central band holds the narrower ones.
    assert (ranked["in_50"] <= ranked["in_80"]).all() and (ranked["in_80"] <= ranked["in_90"]).all()
    # PIT and CRPS recomputed from the draws the run stored (/observed).
    observed = xr.open_dataset(out / "2025-06" / "run.nc", group="observed", engine="h5netcdf")
    as_of = decimal_year("2025-06")
    for _, row in ranked.iterrows():
        obs = rows[row["id"]]
        point = point_name(obs.series, obs.year - as_of)
        sample = np.sort(observed["log2_value"].sel(point=point).to_numpy())
        y = np.log2(rows[row["id"]].centre)
        below, through = np.searchsorted(sample, y), np.searchsorted(sample, y, side="right")
        assert row["pit"] == pytest.approx((below + 0.5 * (through - below)) / sample.size)
        assert row["crps"] == pytest.approx(float(scoringrules.crps_ensemble(y, sample)),
                                            rel=1e-9)
    observed.close()


def test_the_summary_is_the_mean_of_the_scores(backtest_run):
    scores = pd.read_csv(backtest_run / "scores.csv", keep_default_na=False, na_values=[""])
    summary = pd.read_csv(backtest_run / "scores_summary.csv", keep_default_na=False,
                          na_values=[""])
    for _, row in summary.iterrows():
        group = scores[(scores["measures"] == row["measures"])
                       & (scores["profile"] == row["profile"])]
        assert row["n"] == len(group)
        if group["pit"].notna().any():
            assert row["coverage_80"] == pytest.approx(group["in_80"].astype(float).mean())
            assert row["bias_pit"] == pytest.approx(group["pit"].median() - 0.5)
            assert row["above_median"] == (group["pit"] > 0.5).sum()
            assert row["below_median"] == (group["pit"] < 0.5).sum()
            assert row["above_median"] + row["below_median"] <= row["n"]
    assert (backtest_run / "backtest.png").stat().st_size > 10_000


def test_each_origin_run_verifies_bit_for_bit(backtest_run):
    report = verify_run(backtest_run / "2025-06")
    assert report.identical, report.text()
    assert "observations.csv" in report.compared


def test_an_origin_run_reports_the_backtest_scores_and_chart(backtest_run, tmp_path):
    section = report_section(backtest_run / "2025-06", tmp_path / "report.html", "observations")
    assert "Back-test scores: this origin (2025-06)" in section
    assert 'id="chart-backtest"' in section
    summary = pd.read_csv(backtest_run / "scores_summary.csv")
    shown = summary[summary["origin"].astype(str).isin(["2025-06", "all"])]
    rows = re.findall(r"<tr><td>(2025-06|all)</td><td>([a-z_0-9]+)</td>", section)
    assert len(rows) == len(shown)
    assert {m for _, m in rows} == set(shown["measures"])


def test_ctrl_c_in_the_second_origin_leaves_no_backtest_folder(tmp_path, monkeypatch):
    from simcore.app import backtest

    priors_dir = backtest_priors(tmp_path, "2024-06", source_date="2024-01")
    shutil.copy(priors_dir / "2024-06.toml", priors_dir / "2025-06.toml")
    (priors_dir / "2025-06.toml").write_text((priors_dir / "2024-06.toml").read_text().replace(
        'as_of = "2024-06"', 'as_of = "2025-06"', 1))
    written = []
    real = backtest.write_run

    def second_interrupted(result, folder, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(folder)
        return real(result, folder, **kwargs)

    monkeypatch.setattr(backtest, "write_run", second_interrupted)
    out = tmp_path / "bt"
    result = invoke("backtest", "--origin", "2024-06", "--origin", "2025-06", "--priors-dir",
                    priors_dir, "--draws", 300, "--out", out, "--no-charts")
    assert result.exit_code == 130, result.output
    assert written, "the first origin was not written before the interrupt"
    assert result.stderr.startswith("interrupted: ")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
