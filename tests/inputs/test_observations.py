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


# The open-path records (data/README.md, rules 4, 5 and 7): the lowest open-model compute and
# the highest gaming-PC rate known at a date. A record is scored at fixed half-year ends, never
# at the dates it is broken, whose choice depends on the values.
HALF_YEAR_ENDS = ["2024-06-30", "2024-12-31", "2025-06-30", "2025-12-31", "2026-06-30"]
OPEN_PATH_RECORDS = {
    "open-compute": ("open_compute_per_video_second", "", min),
    "gaming-pc": ("free_video_seconds_per_day", "gaming_pc", max),
}


def _open_path_rows(rows, measures: str, profile: str) -> tuple[list, list]:
    """(rows that qualify under rules 2-5, the standing-record rows) of one record series."""
    was = f"was {measures};"
    qualifying = [r for r in rows if r.profile == profile and r.value is not None
                  and ((r.note.startswith("record-date row") and was in r.note)
                       or ("not the record at its date" in r.note and r.unit ==
                           MEASURES[measures].unit))]
    standing = [r for r in rows if r.measures == measures and r.profile == profile
                and r.id.endswith("standing-record-" + _series_tag(measures))]
    return qualifying, standing


def _series_tag(measures: str) -> str:
    return next(tag for tag, (m, _, _) in OPEN_PATH_RECORDS.items() if m == measures)


@pytest.mark.parametrize("tag", sorted(OPEN_PATH_RECORDS))
def test_open_path_records_are_scored_at_every_half_year_end_as_the_standing_record(tag):
    measures, profile, best = OPEN_PATH_RECORDS[tag]
    rows = load_observations(ROOT / "data" / "observations.csv")
    qualifying, standing = _open_path_rows(rows, measures, profile)
    assert qualifying and standing
    scored = [r for r in rows if r.measures == measures and r.profile == profile]
    assert scored == standing, "a record of the open path is scored only as a standing record"
    expected = {}
    for end in HALF_YEAR_ENDS:
        known = [r.value for r in qualifying if r.date <= end]
        if known:
            expected[end] = best(known)
    assert {r.date: r.value for r in standing} == expected
    by_id = {r.id: r for r in rows}
    for row in standing:
        record = by_id[row.note.split("record row ")[1].split(",")[0]]
        assert record.value == row.value and record.date <= row.date
        assert record.source_url == row.source_url
