"""Outside forecasts and the explanations a run's comparisons carry (issue 17): published
forecasts of the milestones placed in the run's distribution, the seed forecast's points with why
the run differs, and every as-of flag of the baseline explained."""

import math
from pathlib import Path

import pandas as pd
import pytest
from clichecks import invoke

from simcore.analysis.scoring import as_of_flags
from simcore.faces import outside
from simcore.faces.report_observations import as_of_explanations
from simcore.model import spec

ROOT = Path(__file__).resolve().parents[2]
DRAWS = 3000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The baseline as ``simcore run`` makes it (observations ranked), without charts."""
    out = tmp_path_factory.mktemp("runs") / "baseline"
    done = invoke("run", ROOT / "priors" / "baseline.toml", "--draws", DRAWS, "--seed", 5,
                  "--no-charts", "-q", "--out", out)
    assert done.exit_code == 0, done.output
    return out


def test_the_shipped_forecasts_name_milestones_of_the_spec():
    forecasts = outside.load_outside_forecasts()
    assert len(forecasts) >= 5
    milestones = {event for event, _, _ in spec.MILESTONES}
    assert {f.event for f in forecasts} <= milestones
    assert {f.event for f in forecasts} >= {"novel_to_movie_possible", "film_by_small_team"}
    for f in forecasts:
        assert f.url.startswith("https://") and f.why and f.claim
        assert math.isnan(f.probability) or 0 <= f.probability <= 1


def test_each_forecast_sits_beside_the_runs_own_probability(run_dir):
    table = pd.read_csv(run_dir / "outside_comparison.csv")
    events = pd.read_csv(run_dir / "events.csv").set_index(["event", "profile", "year"])
    assert len(table) == len(outside.load_outside_forecasts())
    ranked = table[table.status == "ranked"]
    assert len(ranked) >= 3
    for row in ranked.itertuples():
        # The same probability the events table gives for the end of that year.
        assert row.run_p_by == pytest.approx(
            events.loc[(row.event, "all", row.by_end_of), "p_by"], abs=1e-12)
    history = table[table.status == "history"]
    # A year that ended before as_of (2026-12) is history, with no run probability.
    assert set(history.by_end_of) == {2023, 2025}
    assert history.run_p_by.isna().all()


def test_the_seed_comparison_says_why_the_run_differs(run_dir):
    table = pd.read_csv(run_dir / "seed_comparison.csv", keep_default_na=False)
    assert (table.why != "").all()
    ranked = table[table.status == "ranked"]
    assert len(ranked) >= 4 and (ranked.why.str.len() > 80).all(), ranked[["year", "why"]]


@pytest.mark.parametrize("text,words", [
    ('[[forecast]]\nwho = "x"\n', ["forecast[0]", "missing field 'made'"]),
    ("[[forecast]]\n" + "".join(f'{k} = "x"\n' for k in (
        "who", "made", "question", "url", "claim", "why")) + 'event = "nope"\nbar = "same"\n'
     "by_end_of = 2030\n", ["forecast[0].event", "unknown milestone 'nope'"]),
    ("[[forecast]]\n" + "".join(f'{k} = "x"\n' for k in (
        "who", "made", "question", "url", "claim", "why")) + 'event = "film_by_small_team"\n'
     'bar = "same"\nby_end_of = 2030\nprobability = 1.5\n',
     ["forecast[0].probability", "in [0, 1]"]),
    ("[[forecast]]\n" + "".join(f'{k} = "x"\n' for k in (
        "who", "made", "question", "url", "claim", "why")) + 'event = "film_by_small_team"\n'
     'bar = "taller"\nby_end_of = 2030\n', ["forecast[0].bar", "'taller'"]),
    ("forecast = 3\n", ["expected [[forecast]] tables"]),
    ("[[forecast]\n", ["malformed TOML"]),
])
def test_a_bad_forecast_file_is_one_line_naming_entry_and_field(tmp_path, text, words):
    path = tmp_path / "outside.toml"
    path.write_text(text)
    with pytest.raises(outside.OutsideForecastError) as caught:
        outside.load_outside_forecasts(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    for word in words:
        assert word in message, message


def test_as_of_flags_say_whether_they_are_explained():
    table = pd.DataFrame([
        {"id": "a", "measures": "price_per_video_second", "profile": "all",
         "date": "2026-09", "compared_at": "as_of", "quality": "press", "value": 0.4,
         "low": math.nan, "high": math.nan, "flag": "above the run's central 90%"},
        {"id": "b", "measures": "price_per_video_second", "profile": "all",
         "date": "2026-10", "compared_at": "as_of", "quality": "press", "value": 0.001,
         "low": math.nan, "high": math.nan, "flag": "below the run's central 90%"},
        {"id": "c", "measures": "price_per_video_second", "profile": "all",
         "date": "2027-10", "compared_at": "date", "quality": "press", "value": 0.001,
         "low": math.nan, "high": math.nan, "flag": ""}])
    plain = as_of_flags(table)
    assert len(plain) == 2 and not any("xplained" in line for line in plain)
    lines = as_of_flags(table, {"a": "the premium tier"})
    assert lines[0].endswith(". Explained: the premium tier")
    assert lines[1].endswith(". Not explained.")


def test_every_as_of_flag_of_the_baseline_is_explained(run_dir):
    table = pd.read_csv(run_dir / "observations.csv", keep_default_na=False)
    flagged = table[(table.compared_at == "as_of") & (table.flag != "")]
    explanations = as_of_explanations()
    assert set(explanations) <= set(table.id)       # no explanation of a row that is not there
    missing = sorted(set(flagged.id) - set(explanations))
    assert not missing, f"as-of flags without an explanation: {missing}"


@pytest.mark.parametrize("text,words", [
    ('[explained\n"a" = "why"', ["malformed TOML"]),
    ('explained = ["a"]', ["explained: expected a table"]),
    ('[explained]\n"2026-x" = 3', ["explained.2026-x", "as text"]),
    ('[explained]\n"2026-y" = "  "', ["explained.2026-y"]),
])
def test_a_malformed_explanations_file_is_an_error_naming_it(tmp_path, text, words):
    from simcore.faces.report_observations import ExplanationsError
    path = tmp_path / "as_of_explanations.toml"
    path.write_text(text)
    with pytest.raises(ExplanationsError) as raised:
        as_of_explanations(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(str(path))
    assert all(word in message for word in words), message
    assert as_of_explanations(tmp_path / "absent.toml") == {}    # data folder not installed
