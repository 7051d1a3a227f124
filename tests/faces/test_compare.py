"""simcore compare: headline shifts between runs and the drivers whose priors differ."""

from __future__ import annotations

import math
import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clichecks import assert_rejected, invoke
from sharedruns import shared_folder

from simcore.faces.compare import compare_runs
from simcore.stored.rundir import read_run

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
CHANGED = "alg_halving_years"
NEW_MEDIAN = 1.2     # baseline 0.8: algorithms halve compute more slowly, so films take longer


def _make_runs(folder: Path) -> None:
    """The baseline and a scenario that changes one field of one driver, same seed and draws
    (common random numbers: the shift is the prior's doing, not sampling noise)."""
    priors = folder / "priors"
    priors.mkdir()
    shutil.copy(BASELINE, priors / "baseline.toml")
    (priors / "slow.toml").write_text(
        '[meta]\ntitle = "Slower algorithms"\nextends = "baseline.toml"\n\n'
        f"[drivers.{CHANGED}]\nmedian = {NEW_MEDIAN}\n")
    for name in ("baseline", "slow"):
        result = invoke("run", priors / f"{name}.toml", "--draws", 4000, "--seed", 5, "--out",
                        folder / "runs" / name, "--no-charts", "-q")
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = shared_folder(tmp_path_factory, "compare-test-runs", _make_runs)
    return folder / "runs" / "baseline", folder / "runs" / "slow"


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare-out") / "result"
    result = invoke("compare", *runs, "--out", out, "--width", 160)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_lists_exactly_the_changed_driver(compared):
    out, printed = compared
    changes = pd.read_csv(out / "prior_changes.csv", dtype=str)
    assert changes["driver"].tolist() == [CHANGED]
    assert changes["field"].tolist() == ["median"]
    baseline_median = tomllib.loads(BASELINE.read_text())["drivers"][CHANGED]["median"]
    assert float(changes["baseline_value"].iloc[0]) == baseline_median
    assert float(changes["value"].iloc[0]) == NEW_MEDIAN
    # The printed table shows the driver's median before and after (to 3 significant digits).
    shown = re.search(r"([\d.]+) → ([\d.]+)", printed[printed.index(CHANGED):])
    assert shown and (float(shown[1]), float(shown[2])) == (baseline_median, NEW_MEDIAN)
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")


def median_at(run: Path, profile: str, time: float) -> float:
    table = pd.read_csv(run / "percentiles.csv")
    sel = table[(table.output == "film_days") & (table.profile == profile)
                & np.isclose(table["quantile"], 0.5)]
    return float(sel.iloc[int(np.argmin(np.abs(sel.time - time)))].value)


def test_slower_algorithms_make_films_take_longer(compared, runs):
    base, slow = runs
    out, _ = compared
    shifts = pd.read_csv(out / "compare.csv")
    film = shifts[(shifts.kind == "film_days") & (shifts.name == "film_days 2030")]
    assert set(film.profile) == {"no_hardware", "gaming_pc"}
    for row in film.itertuples():
        # The numbers are the runs' own, read independently here, and the shift their ratio.
        time = 2030 + (np.min(pd.read_csv(base / "percentiles.csv").time) % 1)
        assert row.baseline_value == pytest.approx(median_at(base, row.profile, time))
        assert row.value == pytest.approx(median_at(slow, row.profile, time))
        assert row.shift == pytest.approx(row.value / row.baseline_value)
        assert row.shift > 1.0
    day = shifts[(shifts.kind == "event") & (shifts.name == "free_film_within_1d")
                 & (shifts.statistic == "p50")]
    a = pd.read_csv(base / "events_summary.csv", dtype=str).set_index(["event", "profile"])
    b = pd.read_csv(slow / "events_summary.csv", dtype=str).set_index(["event", "profile"])
    for row in day.itertuples():
        key = ("free_film_within_1d", row.profile)
        assert row.shift == pytest.approx(float(b.loc[key, "p50"]) - float(a.loc[key, "p50"]))
        assert row.shift > 0


def test_a_run_against_itself_changes_nothing(runs):
    base, _ = runs
    comparison = compare_runs([read_run(base), read_run(base)])
    assert comparison.prior_fields.empty and comparison.prior_drivers.empty
    shifts = comparison.headlines["shift"].dropna()
    assert len(shifts) > 20
    ratios = comparison.headlines["kind"] == "film_days"
    assert np.allclose(comparison.headlines.loc[ratios, "shift"].dropna(), 1.0)
    assert np.allclose(comparison.headlines.loc[~ratios, "shift"].dropna(), 0.0)
    # The same folder twice is told apart in the tables.
    assert len(set(comparison.headlines["run"]) | set(comparison.headlines["baseline"])) == 2


def test_report_includes_the_comparison(runs, tmp_path, monkeypatch):
    from simcore.faces import report

    monkeypatch.setattr(report, "run_charts", lambda run: ([], []))   # not what is tested
    monkeypatch.setattr(report, "tornado_charts", lambda run: [])
    base, slow = runs
    out = tmp_path / "with-comparison.html"
    result = invoke("report", base, "--compare", slow, "--out", out)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    section = html[html.index('id="comparison"'):html.index('id="assumptions"')]
    assert CHANGED in section and "slow" in section
    assert section.count("<code>compute_per_video_second_floor</code>") == 0 and (
        "compute_per_video_second_floor" not in section)
    assert 'id="chart-compare"' in section


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path):
    base, _ = runs
    out = tmp_path / "out"
    assert_rejected(invoke("compare", base, "--out", out), out, "two")
    assert_rejected(invoke("compare", base, tmp_path / "nowhere", "--out", out), out,
                    "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(base, broken)
    (broken / "events_summary.csv").write_text("event,profile\n")
    assert_rejected(invoke("compare", base, broken, "--out", out), out, "events_summary.csv")


def test_shift_words():
    from simcore.faces.compare import _ratio_text, _year_shift_text, event_year

    assert event_year("not by 2046") == math.inf and event_year("2034.00") == 2034.0
    assert _ratio_text(1.0, 2.0).endswith("(slower)") and _ratio_text(2.0, 1.0).endswith(
        "(faster)")
    assert _year_shift_text(2034.0, math.inf, "2034.00", "not by 2046") == (
        "2034.00 → not by 2046")


@pytest.mark.parametrize("table, cell", [("percentiles.csv", "abc"), ("percentiles.csv", "nan"),
                                         ("events_summary.csv", "nan"), ("binding.csv", "abc")])
def test_malformed_values_are_rejected_in_one_line(runs, tmp_path, table, cell):
    base, _ = runs
    broken = tmp_path / "broken"
    shutil.copytree(base, broken)
    header = (broken / table).read_text().splitlines()[0]
    row = ",".join([cell] * len(header.split(",")))
    (broken / table).write_text(f"{header}\n{row}\n{row}\n")
    out = tmp_path / "out"
    assert_rejected(invoke("compare", base, broken, "--out", out), out,
                    f"{broken / table}: row 2, column ", repr(cell))
