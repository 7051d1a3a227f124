"""``simcore compare RUN_A RUN_B ...``: how the headline numbers move between runs, and which
prior definitions differ.

The first run is the baseline; every other run is compared with it. Only what the runs stored
is read (their CSV tables and their own copies of the prior files, see :mod:`.rundir`), so
runs made months apart, or from prior files that have changed since, compare as they were made.

Shifts are given on the scale a reader thinks in: event years as later (+) or earlier (-) in
years; probabilities and shares in percentage points; a free user's film time as a ratio
(x2 = twice as long), because it spans orders of magnitude. Each event shift carries the Monte
Carlo standard errors of the two runs combined as if independent, sqrt(se_a^2 + se_b^2): an
upper bound when both runs used the same seed and draws (common random numbers make the
difference far more precise than either number).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..base.csvfiles import csv_text
from ..base.errors import RunDirError
from ..stored.publish import write_files
from ..stored.rundir import StoredRun
from .formatting import human_duration, significant
from .plots.axes import SCENARIO_COLOURS, human_log_axis

FILM_YEARS = (2030, 2035, 2040)     # and as_of + 1; film_days medians compared at these
HEADLINE_COLUMNS = ["run", "baseline", "kind", "name", "profile", "statistic", "unit",
                    "baseline_value", "value", "baseline_text", "value_text", "shift",
                    "shift_mcse", "shift_text"]
PRIOR_COLUMNS = ["run", "baseline", "driver", "field", "change", "baseline_value", "value"]
DRIVER_COLUMNS = ["run", "baseline", "driver", "change", "baseline_definition", "definition",
                  "baseline_median", "median", "baseline_interval", "interval"]
TEXT_FIELDS = ("unit", "description", "rationale", "sources")


# --------------------------------------------------------------------------------------------
# Headline numbers


def event_year(text: str) -> float:
    """A stored event quantile ('2034.00', or 'not by 2046') as a number (inf when censored)."""
    return math.inf if str(text).startswith("not by") else float(text)


def _float_or_nan(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):   # 'censored' MC errors
        return math.nan


def _year_shift_text(a: float, b: float, a_text: str, b_text: str) -> str:
    if math.isfinite(a) and math.isfinite(b):
        return f"{b - a:+.2f}\u00a0y"
    if a == b:
        return "no change"
    return f"{a_text} → {b_text}"


def _points(a: float, b: float) -> str:
    return f"{100 * (b - a):+.1f}\u00a0points"


def _ratio_text(a: float, b: float) -> str:
    if not (0 < a < math.inf and 0 < b < math.inf):
        return "—"
    ratio = b / a
    if abs(math.log(ratio)) < 0.005:
        return "×1.00 (no change)"
    return f"×{ratio:.2f} ({'slower' if ratio > 1 else 'faster'})"


def film_times(run: StoredRun, years: Sequence[float]) -> list[tuple[str, float]]:
    """(label, grid time) for as_of + 1 and each of ``years`` inside the horizon, each read at
    as_of's month, as the terminal answer and sensitivity.csv do ('2030' is 2030-11)."""
    times = run.times
    wanted = [("+1 year", times[0] + 1.0)]
    wanted += [(str(y), y + (times[0] - math.floor(times[0]))) for y in years]
    out = []
    for label, t in wanted:
        k = int(np.argmin(np.abs(times - t)))
        if abs(times[k] - t) < 0.13 and (label, times[k]) not in out:
            out.append((label, float(times[k])))
    return out


def _median_at(run: StoredRun, output: str, profile: str, time: float) -> tuple[float, float]:
    """(grid time used, median) of ``output`` at the grid time nearest ``time``."""
    table = run.tables["percentiles.csv"]
    sel = table[(table["output"] == output) & (table["profile"] == profile)
                & np.isclose(table["quantile"], 0.5)]
    if sel.empty:
        return math.nan, math.nan
    k = int(np.argmin(np.abs(sel["time"].to_numpy(float) - time)))
    row = sel.iloc[k]
    if abs(row["time"] - time) > 0.5:   # another grid: nothing comparable
        return math.nan, math.nan
    return float(row["time"]), float(row["value"])


def headline_shifts(base: StoredRun, other: StoredRun) -> pd.DataFrame:
    """Tidy rows (``HEADLINE_COLUMNS``): each headline number of ``other`` against ``base``."""
    rows = []
    ids = {"run": other.name, "baseline": base.name}
    a_ev = base.tables["events_summary.csv"].set_index(["event", "profile"])
    b_ev = other.tables["events_summary.csv"].set_index(["event", "profile"])
    for key in a_ev.index:
        if key not in b_ev.index:
            continue
        a, b = a_ev.loc[key], b_ev.loc[key]
        for stat in ("p10", "p50", "p90"):
            av, bv = event_year(a[stat]), event_year(b[stat])
            mcse = (math.hypot(_float_or_nan(a["p50_mcse_years"]),
                               _float_or_nan(b["p50_mcse_years"])) if stat == "p50" else math.nan)
            rows.append({**ids, "kind": "event", "name": key[0], "profile": key[1],
                         "statistic": stat, "unit": "year", "baseline_value": av, "value": bv,
                         "baseline_text": a[stat], "value_text": b[stat],
                         "shift": bv - av if math.isfinite(av) and math.isfinite(bv) else math.nan,
                         "shift_mcse": mcse,
                         "shift_text": _year_shift_text(av, bv, a[stat], b[stat])})
        av, bv = float(a["p_not_by_horizon"]), float(b["p_not_by_horizon"])
        rows.append({**ids, "kind": "event", "name": key[0], "profile": key[1],
                     "statistic": "p_not_by_horizon", "unit": "probability",
                     "baseline_value": av, "value": bv, "baseline_text": f"{av:.1%}",
                     "value_text": f"{bv:.1%}", "shift": bv - av,
                     "shift_mcse": math.hypot(a["p_not_by_horizon_mcse"],
                                              b["p_not_by_horizon_mcse"]),
                     "shift_text": _points(av, bv)})
    profiles = [p for p in base.tables["percentiles.csv"].query("output == 'film_days'")[
        "profile"].unique()]
    for profile in profiles:
        for label, t in film_times(base, FILM_YEARS):
            _, av = _median_at(base, "film_days", profile, t)
            _, bv = _median_at(other, "film_days", profile, t)
            rows.append({**ids, "kind": "film_days", "name": f"film_days {label}",
                         "profile": profile, "statistic": "median", "unit": "days",
                         "baseline_value": av, "value": bv,
                         "baseline_text": human_duration(av) if av == av else "—",
                         "value_text": human_duration(bv) if bv == bv else "—",
                         "shift": bv / av if 0 < av < math.inf and 0 < bv < math.inf
                         else math.nan,
                         "shift_mcse": math.nan, "shift_text": _ratio_text(av, bv)})
    a_b, b_b = (r.tables["binding.csv"] for r in (base, other))
    a_b, b_b = (t[t["year"] == "all"].set_index("requirement") for t in (a_b, b_b))
    for requirement in a_b.index:
        if requirement not in b_b.index:
            continue
        av, bv = float(a_b.loc[requirement, "share"]), float(b_b.loc[requirement, "share"])
        rows.append({**ids, "kind": "binding", "name": requirement, "profile": "all",
                     "statistic": "share", "unit": "probability", "baseline_value": av,
                     "value": bv, "baseline_text": f"{av:.1%}", "value_text": f"{bv:.1%}",
                     "shift": bv - av,
                     "shift_mcse": math.hypot(a_b.loc[requirement, "share_mcse"],
                                              b_b.loc[requirement, "share_mcse"]),
                     "shift_text": _points(av, bv)})
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


# --------------------------------------------------------------------------------------------
# Prior definitions


def _definition(dist) -> dict:
    """The distribution's parameters as written, without defaults (an explicit interval = 0.9
    and an implicit one are the same prior)."""
    return dist.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)


def definition_text(dist) -> str:
    """'lognormal(median=0.8, low=0.4, high=1.6)'; regimes list their choices."""
    fields = _definition(dist)
    family = fields.pop("family")
    if family == "regimes":
        inner = ", ".join(f"{c['name']}={c['value']:g} (p={c['p']:g})" for c in fields["choices"])
    else:
        inner = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in fields.items())
    return f"{family}({inner})"


def _interval(dist) -> str:
    if dist.is_constant:
        return "—"
    return f"{significant(dist.quantile(0.05))} – {significant(dist.quantile(0.95))}"


def prior_changes(base: StoredRun, other: StoredRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entry-by-entry differences of the two runs' prior sets (as the runs used them, from their
    copies): field-level rows (``PRIOR_COLUMNS``) and one summary row per changed driver
    (``DRIVER_COLUMNS``). ``change`` is 'parameters' when the distribution differs (what moves
    the numbers), 'text' when only unit, description, rationale or sources do."""
    a, b = base.priors, other.priors
    ids = {"run": other.name, "baseline": base.name}
    fields, drivers = [], []
    for name in [*a.drivers, *(n for n in b.drivers if n not in a.drivers)]:
        da, db = a.drivers.get(name), b.drivers.get(name)
        if da is None or db is None:
            change = "added" if da is None else "removed"
            fields.append({**ids, "driver": name, "field": "(entry)", "change": change,
                           "baseline_value": "" if da is None else definition_text(da.dist),
                           "value": "" if db is None else definition_text(db.dist)})
            continue
        pa, pb = _definition(da.dist), _definition(db.dist)
        changed = [k for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)]
        text = [k for k in TEXT_FIELDS if getattr(da.text, k) != getattr(db.text, k)]
        for k in changed:
            fields.append({**ids, "driver": name, "field": k, "change": "parameters",
                           "baseline_value": _cell(pa.get(k)), "value": _cell(pb.get(k))})
        for k in text:
            fields.append({**ids, "driver": name, "field": k, "change": "text",
                           "baseline_value": _cell(getattr(da.text, k)),
                           "value": _cell(getattr(db.text, k))})
        if changed or text:
            drivers.append({**ids, "driver": name,
                            "change": "parameters" if changed else "text",
                            "baseline_definition": definition_text(da.dist),
                            "definition": definition_text(db.dist),
                            "baseline_median": da.dist.quantile(0.5),
                            "median": db.dist.quantile(0.5),
                            "baseline_interval": _interval(da.dist),
                            "interval": _interval(db.dist)})
    for key in ("as_of", "horizon_years", "time_step_years"):
        va, vb = getattr(a.meta, key), getattr(b.meta, key)
        if va != vb:
            fields.append({**ids, "driver": "[meta]", "field": key, "change": "parameters",
                           "baseline_value": _cell(va), "value": _cell(vb)})
    for pair in dict.fromkeys([*a.correlations, *b.correlations]):
        ra, rb = a.correlations.get(pair), b.correlations.get(pair)
        if ra != rb:
            fields.append({**ids, "driver": "[correlations]", "field": " ~ ".join(pair),
                           "change": "parameters", "baseline_value": _cell(ra),
                           "value": _cell(rb)})
    return (pd.DataFrame(fields, columns=PRIOR_COLUMNS),
            pd.DataFrame(drivers, columns=DRIVER_COLUMNS))


def _cell(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "; ".join(_cell(v.model_dump() if hasattr(v, "model_dump") else v)
                         for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


# --------------------------------------------------------------------------------------------
# The comparison


@dataclass
class Comparison:
    runs: list[StoredRun]
    headlines: pd.DataFrame       # HEADLINE_COLUMNS, every other run against the first
    prior_fields: pd.DataFrame    # PRIOR_COLUMNS
    prior_drivers: pd.DataFrame   # DRIVER_COLUMNS

    @property
    def baseline(self) -> StoredRun:
        return self.runs[0]

    def event_table(self, run: str) -> pd.DataFrame:
        """One row per event and profile: median year and P(not by the horizon), before and
        after (what the terminal and the report show; p10/p90 are in compare.csv)."""
        h = self.headlines[(self.headlines["run"] == run) & (self.headlines["kind"] == "event")]
        p50 = h[h["statistic"] == "p50"].set_index(["name", "profile"])
        pn = h[h["statistic"] == "p_not_by_horizon"].set_index(["name", "profile"])
        return pd.DataFrame({
            "median (baseline)": p50["baseline_text"], "median": p50["value_text"],
            "shift": p50["shift_text"],
            "± MC error": p50["shift_mcse"].map(lambda v: f"{v:.2f}\u00a0y" if v == v else "—"),
            "P(not by horizon) (baseline)": pn["baseline_text"],
            "P(not by horizon)": pn["value_text"], "P shift": pn["shift_text"]}).reset_index()

    def film_table(self, run: str) -> pd.DataFrame:
        h = self.headlines[(self.headlines["run"] == run) & (self.headlines["kind"] == "film_days")]
        return pd.DataFrame({"profile": h["profile"], "when": h["name"].str.removeprefix(
            "film_days "), "median (baseline)": h["baseline_text"], "median": h["value_text"],
            "shift": h["shift_text"]})

    def binding_table(self, run: str) -> pd.DataFrame:
        h = self.headlines[(self.headlines["run"] == run) & (self.headlines["kind"] == "binding")]
        return pd.DataFrame({"requirement met last": h["name"],
                             "share (baseline)": h["baseline_text"], "share": h["value_text"],
                             "shift": h["shift_text"]})

    def driver_table(self, run: str) -> pd.DataFrame:
        d = self.prior_drivers[self.prior_drivers["run"] == run]
        f = self.prior_fields[(self.prior_fields["run"] == run)
                              & (self.prior_fields["change"] != "text")]
        rows = [{"driver": r.driver, "change": r.change,
                 "baseline": r.baseline_definition, "this run": r.definition,
                 "median": f"{significant(r.baseline_median)} → {significant(r.median)}",
                 "5–95%": f"{r.baseline_interval} → {r.interval}"}
                for r in d.itertuples()]
        # Entries without a driver summary: added/removed drivers, meta, correlations.
        rows += [{"driver": r.driver, "change": r.change if r.field == "(entry)" else r.field,
                  "baseline": r.baseline_value, "this run": r.value, "median": "",
                  "5–95%": ""}
                 for r in f.itertuples() if r.driver not in set(d["driver"])]
        return pd.DataFrame(rows, columns=["driver", "change", "baseline", "this run",
                                           "median", "5–95%"])

    def others(self) -> list[str]:
        return [r.name for r in self.runs[1:]]

    def text(self, width: int = 120) -> str:
        """The comparison as terminal tables (rich, rendered to plain text)."""
        from rich.console import Console
        from rich.table import Table

        console = Console(file=io.StringIO(), width=width, color_system=None,
                          force_terminal=False, highlight=False)
        for run in self.others():
            console.print(f"\n[bold]{run}[/] compared with [bold]{self.baseline.name}[/] "
                          f"(baseline)")
            for title, frame in (("Drivers whose priors differ", self.driver_table(run)),
                                 ("Event dates (Q6, Q7)", self.event_table(run)),
                                 ("Free user's film time, median (Q5)", self.film_table(run)),
                                 ("Requirement met last (Q7)", self.binding_table(run))):
                if frame.empty:
                    console.print(f"{title}: none")
                    continue
                table = Table(title=title, title_justify="left")
                for column in frame.columns:
                    table.add_column(str(column), overflow="fold")
                for row in frame.itertuples(index=False):
                    table.add_row(*(str(v) for v in row))
                console.print(table)
        return console.file.getvalue()

    def chart(self):
        """Event medians and film-time medians, baseline (black) to each other run (arrows)."""
        from matplotlib.figure import Figure


        h = self.headlines
        events = h[(h["kind"] == "event") & (h["statistic"] == "p50")]
        film = h[h["kind"] == "film_days"]
        keys = list(dict.fromkeys(zip(events["name"], events["profile"], strict=False)))
        film_keys = list(dict.fromkeys(zip(film["name"], film["profile"], strict=False)))
        height = 0.28 * max(len(keys), len(film_keys)) + 1.8
        fig = Figure(figsize=(12.0, height), layout="constrained")
        ax_ev, ax_film = fig.subplots(1, 2, width_ratios=(1.25, 1.0))
        cap = self.baseline.horizon_year + 1.0
        for ax, rows, keys_, to_x in ((ax_ev, events, keys, lambda v: min(v, cap)),
                                      (ax_film, film, film_keys, lambda v: v)):
            y = {k: i for i, k in enumerate(keys_)}
            base = rows.drop_duplicates(["name", "profile"])
            ax.scatter([to_x(v) for v in base["baseline_value"]],
                       [y[k] for k in zip(base["name"], base["profile"], strict=False)],
                       color="black",
                       zorder=3, s=22, label=f"{self.baseline.name} (baseline)")
            for i, run in enumerate(self.others()):
                colour = SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)]
                sel = rows[rows["run"] == run]
                for r in sel.itertuples():
                    a, b = to_x(r.baseline_value), to_x(r.value)
                    if not (math.isfinite(a) and math.isfinite(b)):
                        continue
                    yy = y[(r.name, r.profile)]
                    ax.annotate("", (b, yy), (a, yy), arrowprops={
                        "arrowstyle": "->", "color": colour, "lw": 1.3, "shrinkA": 3,
                        "shrinkB": 2})
                ax.scatter([to_x(v) for v in sel["value"]],
                           [y[k] for k in zip(sel["name"], sel["profile"], strict=False)],
                           color=colour,
                           s=22, zorder=3, label=run)
            labels = [f"{n.replace('_', ' ')} ({p.replace('_', ' ')})" if p != "all"
                      else n.replace("_", " ") for n, p in keys_]
            ax.set_yticks(range(len(keys_)), labels, fontsize=8)
            ax.invert_yaxis()
            ax.grid(True, axis="x", color="0.92")
        ax_ev.axvline(cap, color="0.5", linestyle=":", linewidth=1)
        ax_ev.annotate(self.baseline.horizon_words, (cap, 0), xycoords=("data", "axes fraction"),
                       xytext=(-3, 3), textcoords="offset points", ha="right", fontsize=7,
                       color="0.4")
        ax_ev.set_xlabel("median year (not reached by the horizon: drawn at horizon + 1)")
        ax_ev.set_title("When events happen: median year", fontsize=10, loc="left")
        ax_ev.legend(fontsize=7.5, loc="upper right")
        human_log_axis(ax_film, "days", axis="x")
        ax_film.set_xlabel("time to generate a 90-minute film (log scale)")
        ax_film.set_title("Free user's film time: median world", fontsize=10, loc="left")
        return fig


def compare_runs(runs: Sequence[StoredRun]) -> Comparison:
    if len(runs) < 2:
        raise RunDirError("compare needs at least two runs")
    # Tables name runs by folder; folders of the same name are told apart by path, and the
    # same folder given twice by position.
    names = [r.name for r in runs]
    paths = [str(r.path) for r in runs]
    for i, run in enumerate(runs):
        if names.count(run.name) > 1:
            run.label = paths[i] if paths.count(paths[i]) == 1 else f"{paths[i]} [{i + 1}]"
    base = runs[0]
    headlines = pd.concat([headline_shifts(base, r) for r in runs[1:]], ignore_index=True)
    changes = [prior_changes(base, r) for r in runs[1:]]
    return Comparison(list(runs), headlines,
                      pd.concat([c[0] for c in changes], ignore_index=True),
                      pd.concat([c[1] for c in changes], ignore_index=True))


def chart_png(comparison: Comparison, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    comparison.chart().savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_comparison(comparison: Comparison, out: Path) -> list[Path]:
    """compare.csv (headline shifts), prior_changes.csv (field by field) and compare.png into
    ``out``; all made in memory first, then written together (:func:`publish.write_files`:
    each replaced whole, all of them or none, so a full disk leaves none of them behind). Text
    cells a spreadsheet would run as formulas (a prior's rationale '=HYPERLINK(...)') are
    neutralised (:mod:`.csvfiles`)."""

    return write_files(Path(out), {
        "compare.csv": csv_text(comparison.headlines).encode(),
        "prior_changes.csv": csv_text(comparison.prior_fields).encode(),
        "compare.png": chart_png(comparison),
    })
