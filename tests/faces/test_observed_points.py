"""Observations over the fan charts and in the report (issue 16): the points drawn are the
run's observations at their dates and values, by quality tier; the report's "Data" section
lists observations.csv with its flags; a run made before /observations existed still
verifies; and an origin of a back-test shows the back-test's scores."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from clichecks import invoke, report_section
from observationfiles import GOOD, table
from sharedruns import shared_folder

from simcore.faces import plots
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"

ROWS = [
    {**GOOD, "id": "p1", "date": "2027-06", "value": "0.02", "quality": "first-party"},
    {**GOOD, "id": "p2", "date": "2028-06", "value": "", "low": "0.001", "high": "0.01",
     "quality": "press"},
    {**GOOD, "id": "p3", "date": "2026-09", "value": "5", "quality": "estimate"},   # as-of
    {**GOOD, "id": "f1", "date": "2029-01", "measures": "film_days", "profile": "gaming_pc",
     "unit": "days", "value": "3", "quality": "independent"},
]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    def make(folder: Path) -> None:
        (folder / "obs.csv").write_text(table(*ROWS))
        done = invoke("run", BASELINE, "-n", "3000", "-s", "2", "--no-charts", "-q",
                      "--observations", folder / "obs.csv", "-o", folder / "run")
        assert done.exit_code == 0, done.output
    return shared_folder(tmp_path_factory, "observed-points", make)


def _scatter(fig, gid):
    found = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def test_points_are_the_observations_at_their_dates_and_values(made):
    run = store.load_run(made / "run")
    try:
        fig = plots.fan_chart(run, "price_per_video_second")
        first = _scatter(fig, "observed:price_per_video_second:all:first-party").get_offsets()
        assert np.allclose(first, [[2027.0 + 5 / 12, 0.02]])
        press = _scatter(fig, "observed:price_per_video_second:all:press").get_offsets()
        # An interval-only row sits at the geometric middle of its interval, with its bar.
        assert np.allclose(press, [[2028.0 + 5 / 12, np.sqrt(0.001 * 0.01)]])
        bars = [c for ax in fig.axes for c in ax.collections
                if c.get_gid() == "observed-interval:price_per_video_second:press"]
        assert len(bars) == 1
        (segment,) = bars[0].get_segments()
        assert np.allclose(segment[:, 1], [0.001, 0.01])
        estimate = _scatter(fig, "observed:price_per_video_second:all:estimate").get_offsets()
        assert estimate[0, 0] < run["trajectories"]["time"].values[0]    # before as_of
        # A per-profile observation is drawn on its profile's panel only.
        days = plots.fan_chart(run, "film_days")
        spec_scale = plots.FAN_SPECS["film_days"].scale
        gaming = _scatter(days, "observed:film_days:gaming_pc:independent").get_offsets()
        assert np.allclose(gaming, [[2029.0, 3 * spec_scale]])
        assert not [c for ax in days.axes for c in ax.collections
                    if str(c.get_gid()).startswith("observed:film_days:no_hardware")]
    finally:
        run.close()


def test_report_lists_the_observations_and_the_as_of_flag(made, tmp_path):
    section = report_section(made / "run", tmp_path / "report.html", "observations")
    ids = re.findall(r"<code>(p\d|f\d)</code>", section)
    assert sorted(ids) == ["f1", "p1", "p2", "p3"]
    # The as-of observation (5 $/s, far above any world) is flagged.
    assert "As-of flag: price_per_video_second" in section and "p3" in section


def test_a_run_without_the_observations_group_still_verifies(made, tmp_path):
    import shutil
    copy = tmp_path / "older"
    shutil.copytree(made / "run", copy)
    with h5py.File(copy / "run.nc", "a") as f:
        del f["observations"]
    done = invoke("verify", copy)
    assert done.exit_code == 0, done.output
    assert "/observations: not in this run" in done.output
    # and its charts still draw (the group is optional for the drawing process too)
    drawn = invoke("plot", copy, "--output", "price_compute", "--to", tmp_path, "-q")
    assert drawn.exit_code == 0, drawn.output
