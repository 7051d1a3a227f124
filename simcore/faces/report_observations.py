"""The report's "Observations" section (issue 16): where the observed world falls in the run
(its observations.csv: PIT, the run's 10/50/90% at each date, flags), the as-of flags first;
a conditioned or reweighted run's weights; and, for a run made by ``simcore backtest``, the
back-test's scores for its origin and over all origins, with the PIT/coverage chart."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd

from ..analysis.conditioning import khat_text
from ..analysis.scoring import as_of_flags
from ..base.errors import SimcoreError
from ..base.limits import MAX_CSV_BYTES
from ..base.tomlfiles import read_toml
from ..stored import contained
from ..stored.rundir import StoredRun
from .formatting import percent_text
from .report_page import Chart, Code, Section, Table, png_chart

BACKTEST_SUMMARY = "scores_summary.csv"
BACKTEST_CHART = "backtest.png"
# A back-test chart is small; bounded like a run's charts.
MAX_BACKTEST_CHART_BYTES = 8_000_000


def _cell(value):
    """A number to three significant digits, empty where missing (NaN); text as it is."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return value


def _shown(row) -> str:
    if not math.isnan(row.value):
        return _cell(row.value)
    if not (math.isnan(row.low) or math.isnan(row.high)):
        return f"{_cell(row.low)}–{_cell(row.high)}"
    return ""


def _observation_rows(table: pd.DataFrame) -> list[list]:
    rows = []
    for row in table.itertuples():
        pit = row.pit if not math.isnan(row.pit) else row.p_happened
        rows.append([Code(row.id), Code(row.measures),
                     "" if row.profile == "all" else row.profile, row.date,
                     "as of" if row.compared_at == "as_of" else "forecast", row.quality,
                     _shown(row), _cell(row.p10), _cell(row.p50), _cell(row.p90),
                     "" if math.isnan(pit) else f"{pit:.2f}", row.flag])
    return rows


def _weights_note(run: StoredRun) -> list[str]:
    notes = []
    for key, what in (("conditioning", "conditioned on observations"),
                      ("reweighting", "reweighted to changed priors")):
        info = run.manifest.get(key)
        if isinstance(info, dict):
            extra = (f" ({', '.join(map(str, info.get('settings', [])))})"
                     if key == "reweighting" else "")
            notes.append(f"This run is {what}{extra}: Pareto k-hat {khat_text(info.get('khat'))}, "
                         f"effective "
                         f"sample size {info.get('ess', 0):,.0f} of {info.get('draws', 0):,}; "
                         f"every Monte Carlo error in this report is to be multiplied by "
                         f"{info.get('mc_error_factor', 1):.2f}.")
    return notes


def _backtest(run: StoredRun) -> tuple[list[Table], list[Chart], list[str]]:
    """The back-test this run is an origin of (its parent folder), if any."""
    folder = run.path.parent
    try:
        manifest = json.loads(contained.read_bytes(folder, "manifest.json", MAX_CSV_BYTES))
        if not isinstance(manifest, dict) or manifest.get("kind") != "back-test":
            return [], [], []
        summary = pd.read_csv(io.BytesIO(contained.read_bytes(folder, BACKTEST_SUMMARY,
                                                              MAX_CSV_BYTES)))
    except (OSError, ValueError, contained.UnsafeEntry, pd.errors.ParserError):
        return [], [], []
    origin = run.path.name
    mine = summary[summary["origin"].astype(str).isin([origin, "all"])]
    wanted = [c for c in ("origin", "measures", "profile", "n", "coverage_50", "coverage_80",
                          "coverage_90", "mean_pit", "bias_pit", "bias_log2", "above_median",
                          "below_median", "crps", "brier") if c in mine.columns]
    rows = [[_cell(row[c]) for c in wanted] for _, row in mine[wanted].iterrows()]
    tables = [Table(wanted, rows, caption=f"Back-test scores: this origin ({origin}) and all "
                                          "origins (scores_summary.csv)",
                    numeric=set(range(3, len(wanted))))]
    charts = []
    try:
        data = contained.read_bytes(folder, BACKTEST_CHART, MAX_BACKTEST_CHART_BYTES)
        chart = png_chart("backtest", "Back-test: PIT histogram and band coverage against "
                                   "nominal", data, "from the back-test folder")
        charts = [chart] if chart is not None else []
    except (OSError, contained.UnsafeEntry):
        pass
    notes = [f"This run is the {origin} origin of the back-test in {folder.name}/: its priors "
             "use only sources dated up to the origin, and every observation dated after the "
             "origin month is scored. Coverage near the nominal 0.5/0.8/0.9 and a mean PIT "
             "near 0.5 mean calibrated bands; bias_log2 is the mean log2 ratio "
             "observed/median, and above_median / below_median count the observations on "
             "each side of it."]
    return tables, charts, notes


EXPLANATIONS_FILE = Path(__file__).resolve().parents[2] / "data" / "as_of_explanations.toml"


class ExplanationsError(SimcoreError):
    """The as-of explanations file cannot be read or is malformed."""


def as_of_explanations(path: Path = EXPLANATIONS_FILE) -> dict[str, str]:
    """Observation id -> why it may fall outside the baseline at as_of (empty when the data
    folder is not installed: the flags then say "not explained"). A file that is there but
    unreadable or malformed is an error naming it and the entry, not a silent "not
    explained" beside every flag."""
    if not path.is_file():
        return {}
    explained = read_toml(path, ExplanationsError, "as-of explanations").get("explained", {})
    if not isinstance(explained, dict):
        raise ExplanationsError(f"{path}: explained: expected a table of "
                                f"observation id = \"why\"")
    for key, value in explained.items():
        if not isinstance(value, str) or not value.strip():
            raise ExplanationsError(f"{path}: explained.{key}: expected the explanation as "
                                    f"text")
    return dict(explained)


def observations_section(run: StoredRun) -> Section | None:
    table = run.table("observations.csv")
    weights = _weights_note(run)
    if table is None and not weights:
        return None
    section = Section("observations", "Data", "Where the observed world falls",
                      "Each sourced observation in the run's window, ranked in the run's own "
                      "distribution at its date (PIT: the share of worlds below it).")
    if table is not None:
        flags = as_of_flags(table, as_of_explanations())
        later = table[table["compared_at"] != "as_of"]
        inside = later["pit"].between(0.05, 0.95).mean() if len(later) else float("nan")
        sentence = [f"{len(table)} observations ranked; {len(flags)} dated before as_of fall "
                    "outside the run's central 90% at as_of"]
        if len(later):
            sentence.append(f"; of the {len(later)} dated after as_of, {percent_text(inside)} lie "
                            "inside the run's central 90% at their date")
        section.sentences.append(sentence)
        section.notes += [f"As-of flag: {line}" for line in flags]
        section.tables.append(Table(
            ["id", "measure", "profile", "date", "compared", "quality", "observed", "run p10",
             "run p50", "run p90", "PIT", "flag"], _observation_rows(table),
            caption="observations.csv (values in the model's units)",
            numeric={6, 7, 8, 9, 10}))
    section.notes += weights
    tables, charts, notes = _backtest(run)
    section.tables += tables
    section.charts += charts
    section.notes += notes
    return section
