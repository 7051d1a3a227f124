"""Observations as data (issue 16): the schema, one-line rejections, the shipped table and
the noise model of its quality tiers."""

from __future__ import annotations

from pathlib import Path

import pytest
from clichecks import assert_rejected, invoke
from observationfiles import GOOD, table

from simcore.inputs.observations import (
    MEASURES,
    ObservationError,
    load_noise_model,
    load_observations,
    parse,
)
from simcore.model import PROFILES

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_shipped_observations_validate_and_measure_the_model():
    rows = load_observations(ROOT / "data" / "observations.csv")
    assert len(rows) >= 100
    modelled = [r for r in rows if r.modelled]
    assert len(modelled) >= 50
    assert {r.measures for r in modelled} >= {"agent_horizon_hours", "price_per_video_second",
                                              "free_video_seconds_per_day",
                                              "novel_to_movie_possible"}
    assert all(r.source_url.startswith("http") for r in rows)


@pytest.mark.parametrize("column, bad, words", [
    ("date", "2026-13", "not a real date"),
    ("measures", "price_per_video_secnd", "did you mean 'price_per_video_second'"),
    ("unit", "USD/s", "not the model's unit"),
    ("value", "-1", "must be > 0"),
    ("value", "abc", "not a number"),
    ("quality", "blog", "not one of"),
    ("source_url", "somewhere", "not an http(s) URL"),
    ("profile", "no_hardware", "has no profile"),
    ("id", "../x", "must start with"),
])
def test_a_bad_cell_is_one_line_naming_file_row_and_column(column, bad, words):
    with pytest.raises(ObservationError) as caught:
        parse(table({**GOOD, column: bad}), "obs.csv")
    message = str(caught.value)
    assert message.startswith("obs.csv: row 2 (") and f": {column}: " in message
    assert words in message and "\n" not in message


def test_duplicate_ids_event_values_and_intervals_are_checked():
    with pytest.raises(ObservationError, match="also the id"):
        parse(table(GOOD, GOOD), "obs.csv")
    event = {**GOOD, "measures": "novel_to_movie_possible", "value": "0.5",
             "unit": "happened by date (1) or not (0)"}
    with pytest.raises(ObservationError, match="an event's value is 1"):
        parse(table(event), "obs.csv")
    with pytest.raises(ObservationError, match="above high"):
        parse(table({**GOOD, "value": "", "low": "2", "high": "1"}), "obs.csv")
    assert parse(table({**GOOD, "measures": "unmodelled", "unit": "anything", "value": "0"}),
                 "obs.csv")[0].modelled is False


def test_cli_rejects_a_bad_observations_file_with_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "obs.csv"
    bad.write_text(table({**GOOD, "quality": "rumour"}))
    out = tmp_path / "run"
    result = invoke("run", BASELINE, "-n", 50, "--observations", bad, "--out", out,
                    "--no-charts")
    assert_rejected(result, out, "obs.csv: row 2 (a1): quality")


def test_noise_model_gives_every_tier_a_scale():
    noise = load_noise_model()
    assert set(noise.sd_log2) == {"first-party", "independent", "press", "estimate"}
    assert noise.sd_log2["first-party"] < noise.sd_log2["estimate"]


def test_measures_cover_outputs_levels_events_and_drivers():
    assert MEASURES["film_days"].per_profile and MEASURES["agent_horizon_hours"].kind == "level"
    assert MEASURES["novel_to_movie_possible"].kind == "event"
    assert MEASURES["gpu_usd_per_hour"].kind == "driver"
    assert len(PROFILES) == 2
