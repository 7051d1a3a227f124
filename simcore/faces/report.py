"""``simcore report RUN_DIR``: one self-contained HTML page for readers who will not run code.

Everything on the page is generated from what the run stored (its CSV tables, charts, manifest
and its own copies of the prior files, read by :mod:`.rundir`), so the text cannot drift from
the model: the headline answers to Q1-Q9 with calibrated likelihood words (:mod:`.likelihood`),
every chart, the sensitivity ranking and a tornado chart, the assumptions table, the seed
comparison, Monte Carlo errors and provenance, and optionally a comparison with other runs
(:mod:`.compare`).

Self-contained: images are base64 data URIs, styles are inline, there is no script, font or
link to fetch, and a Content-Security-Policy forbids the browser to load anything else or run
any script (so a hostile string in a prior file could do nothing even if it escaped escaping).
Jinja2 autoescapes every value; prior rationales and titles are user input.

Every headline number on the page is a ``<span class="num">`` carrying where it comes from
(``data-source`` file, ``data-row`` as JSON of the row's key columns, ``data-column``) and how its
text reads (``data-kind``), so a test can check the page against the run's CSV files.

The tornado chart is computed at report time: 1 + 2D model evaluations of the run's own priors
(about half a second), cheap enough not to need a stored sensitivity study.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.headline import INDICATOR_YEAR
from ..analysis.sensitivity.given import MIN_DRAWS
from ..analysis.sensitivity.targets import ALL_PROFILES
from ..analysis.sensitivity.tornado import swings
from ..base.errors import RunDirError
from ..model.spec import MILESTONES
from ..stored.publish import write_bytes_atomic
from ..stored.rundir import StoredRun, read_run
from . import plots
from .compare import chart_png, compare_runs, definition_text
from .formatting import (
    PROFILE_SHORT,
    PROFILE_WORDS,
    REQUIREMENT_WORDS,
    THRESHOLD_WORDS,
    duration_text,
    likelihood,
    percent_text,
    probability_text,
    usd_text,
)
from .formatting import significant as _sig
from .plots.tornado import tornado_chart
from .report_observations import observations_section
from .report_page import Chart, Code, Num, Section, Table, Term, png_chart

TEMPLATE = "report.html.j2"
DPI = 110
# Years after as_of at which fans are quoted (as_of's month: '2030' is 2030-11 for the baseline).
FAN_OFFSETS = (0, 4, 9, 19)
TOP_DRIVERS = 5
RANKING_METHOD = "spearman"   # as sensitivity_dominant.csv; PRCC and PAWN shown beside it


# --------------------------------------------------------------------------------------------
# Formatting (each kind has one reading in the test: the value to within its last digit)


FORMAT = {
    "probability": probability_text, "percent": percent_text, "usd": usd_text,
    "number": _sig, "duration_days": duration_text,
    "duration_seconds": lambda s: duration_text(s / 86400.0),
}


def likely(p: float) -> Term:
    return Term(likelihood(p).label)


# --------------------------------------------------------------------------------------------
# Reading the tables


class _Tables:
    """Lookups into one run's tables that return page numbers (:class:`Num`)."""

    def __init__(self, run: StoredRun):
        self.run = run
        self.pct = run.tables["percentiles.csv"]
        self.events = run.tables["events.csv"]
        self.summary = run.tables["events_summary.csv"].set_index(["event", "profile"])

    def times(self) -> list[float]:
        """Grid times at as_of + FAN_OFFSETS years (inside the horizon)."""
        grid = self.run.times
        out = []
        for k in FAN_OFFSETS:
            j = int(np.argmin(np.abs(grid - (grid[0] + k))))
            if abs(grid[j] - (grid[0] + k)) < 0.13 and grid[j] not in out:
                out.append(float(grid[j]))
        return out

    def percentile(self, output: str, profile: str, time: float, quantile: float,
                   kind: str, scale: float = 1.0) -> Num:
        sel = self.pct[(self.pct["output"] == output) & (self.pct["profile"] == profile)
                       & np.isclose(self.pct["time"], time) & np.isclose(self.pct["quantile"],
                                                                         quantile)]
        if len(sel) != 1:
            raise RunDirError(f"{self.run.path / 'percentiles.csv'}: no single row for "
                              f"{output} / {profile} / {time:.3f} / {quantile}")
        row = sel.iloc[0]
        return Num(FORMAT[kind](float(row["value"]) * scale), "percentiles.csv",
                   {"output": output, "profile": profile, "time": float(row["time"]),
                    "quantile": float(row["quantile"])}, "value", kind, scale)

    def fan(self, output: str, profile: str, time: float, kind: str,
            scale: float = 1.0) -> tuple[Num, Num, Num]:
        """(median, 10th, 90th percentile)."""
        return tuple(self.percentile(output, profile, time, q, kind, scale)
                     for q in (0.5, 0.1, 0.9))

    def p_by(self, event: str, profile: str, year: int) -> tuple[Num, float] | None:
        sel = self.events[(self.events["event"] == event) & (self.events["profile"] == profile)
                          & (self.events["year"] == year)]
        if len(sel) != 1:
            return None
        p = float(sel.iloc[0]["p_by"])
        return Num(probability_text(p), "events.csv",
                   {"event": event, "profile": profile, "year": int(year)}, "p_by",
                   "probability"), p

    def summary_value(self, event: str, profile: str, column: str):
        if not self.has_event(event, profile):
            raise RunDirError(f"{self.run.path / 'events_summary.csv'}: no row for {event} / "
                              f"{profile}")
        return self.summary.loc[(event, profile), column]

    def event(self, event: str, profile: str, column: str) -> Num:
        value = self.summary_value(event, profile, column)
        row = {"event": event, "profile": profile}
        if column in ("p_not_by_horizon", "p_not_by_horizon_mcse"):
            kind = "probability" if column == "p_not_by_horizon" else "number"
            text = probability_text(value) if kind == "probability" else _sig(value, 2)
            return Num(text, "events_summary.csv", row, column, kind)
        return Num(str(value), "events_summary.csv", row, column, "text")

    def has_event(self, event: str, profile: str) -> bool:
        return (event, profile) in self.summary.index

    def years(self) -> list[int]:
        return sorted(int(y) for y in self.events["year"].unique())


def _grid_label(t: float) -> str:
    """2030.833 -> '2030-11' (the grid's month)."""
    year = math.floor(t + 1e-9)
    month = min(int(round((t - year) * 12)) + 1, 12)
    return f"{year}-{month:02d}"


def _statement_years(t: _Tables) -> list[int]:
    """The calendar years quoted in statements: about 4 and 9 years after as_of."""
    years = t.years()
    first = math.floor(t.run.as_of_year)
    return [y for y in dict.fromkeys(min(years, key=lambda y: abs(y - (first + k)))
                                     for k in (4, 9))]


# --------------------------------------------------------------------------------------------
# Q1-Q9


def _fan_section(t: _Tables, sid, question, title, asks, output, kind, what) -> Section:
    s = Section(sid, question, title, asks)
    times = t.times()
    rows = []
    for time_ in times:
        median, low, high = t.fan(output, "all", time_, kind)
        rows.append([_grid_label(time_), median, low, high])
    now, later = t.fan(output, "all", times[0], kind), t.fan(output, "all", times[-1], kind)
    s.sentences.append([f"{what} is ", now[0], " in the median simulated world at "
                        f"{_grid_label(times[0])} (8 in 10 worlds: ", now[1], " to ", now[2],
                        "), and ", later[0], f" by {_grid_label(times[-1])} (", later[1], " to ",
                        later[2], ")."])
    s.tables.append(Table(["when", "median", "10th percentile", "90th percentile"], rows,
                          f"{what}: median and 80% interval of the simulated worlds",
                          numeric={1, 2, 3}))
    return s


def q1(t: _Tables) -> Section:
    return _fan_section(t, "q1", "Q1", "Clip length",
                        "How long can clips be, and how will that grow?",
                        "coherent_shot_seconds", "duration_seconds",
                        "The longest coherent single shot")


def q2_q3(t: _Tables) -> list[Section]:
    s2 = Section("q2", "Q2", "Cost of a second of video",
                 "What does a second of video cost, and how fast does it fall?")
    s3 = Section("q3", "Q3", "Compute and price",
                 "Will compute per second stay fixed or fall with price?")
    times = t.times()
    rows2, rows3 = [], []
    for time_ in times:
        price = t.fan("price_per_video_second", "all", time_, "usd")
        compute = t.fan("compute_per_video_second", "all", time_, "number")
        ratio = t.fan("usd_per_gpu_second", "all", time_, "usd", 3600.0)
        rows2.append([_grid_label(time_), *price, *compute])
        rows3.append([_grid_label(time_), *ratio])
    first, last = times[0], times[-1]
    p0, p1 = (t.percentile("price_per_video_second", "all", x, 0.5, "usd") for x in (first, last))
    c0, c1 = (t.percentile("compute_per_video_second", "all", x, 0.5, "number")
              for x in (first, last))
    s2.sentences.append(["A second of video at watchable quality sells for ", p0,
                         f" in the median world at {_grid_label(first)} and ", p1,
                         f" by {_grid_label(last)}; it takes ", c0, " H100-equivalent "
                         "GPU-seconds to generate, falling to ", c1, "."])
    s2.tables.append(Table(["when", "price: median", "10th", "90th",
                            "GPU-seconds: median", "10th", "90th"], rows2,
                           "Price (USD per video-second) and compute (H100-equivalent "
                           "GPU-seconds per video-second)", numeric={1, 2, 3, 4, 5, 6}))
    r0, r1 = (t.percentile("usd_per_gpu_second", "all", x, 0.5, "usd", 3600.0)
              for x in (first, last))
    s3.sentences.append(["Price divided by compute (what a provider charges per hour of "
                         "H100-equivalent GPU time it spends) is ", r0, f" at {_grid_label(first)}"
                         " and ", r1,
                         f" by {_grid_label(last)} in the median world: where it stays level, "
                         "price falls with compute; where it falls, price falls faster than "
                         "compute (hardware and margins), and where it rises, slower."])
    s3.tables.append(Table(["when", "median", "10th", "90th"], rows3,
                           "USD per H100-equivalent GPU-hour (price ÷ compute)",
                           numeric={1, 2, 3}))
    return [s2, s3]


def q4(t: _Tables) -> Section:
    return _fan_section(t, "q4", "Q4", "Consistency across cuts",
                        "Can characters stay consistent across clips?",
                        "cut_break_probability", "percent",
                        "The chance that a cut breaks a character's identity or continuity")


def _threshold_statement(t: _Tables, profile: str, year: int) -> list:
    """'By the end of 2030, a free user with no hardware is likely (66%+) to need under a week
    (P = 0.83), and about as likely as not under a day (P = 0.52).' The tightest threshold that
    is at least likely, and the next tighter one; or the loosest if none is likely."""
    found = []
    for label in THRESHOLD_WORDS:
        hit = t.p_by(f"free_film_within_{label}", profile, year)
        if hit is not None:
            found.append((label, *hit))
    if not found:
        return []
    likely_ones = [i for i, (_, _, p) in enumerate(found) if likelihood(p).term in (
        "likely", "very likely", "virtually certain")]
    first = likely_ones[-1] if likely_ones else 0
    parts = [f"By the end of {year}, a free user with {PROFILE_WORDS[profile]} is "]
    label, num, p = found[first]
    parts += [likely(p), f" to need under {THRESHOLD_WORDS[label]} to generate a 90-minute "
              "film (P = ", num, ")"]
    if first + 1 < len(found):
        label, num, p = found[first + 1]
        parts += [", and ", likely(p), f" to need under {THRESHOLD_WORDS[label]} (P = ", num, ")"]
    return parts + ["."]


def q5(t: _Tables, profiles: Sequence[str]) -> Section:
    s = Section("q5", "Q5", "Time to generate a film for free",
                "How long would a free-tier user need to generate a 90-minute film, each year "
                "for 20 years?")
    for year in _statement_years(t):
        for profile in profiles:
            sentence = _threshold_statement(t, profile, year)
            if sentence:
                s.sentences.append(sentence)
    rows = []
    for time_ in t.times():
        row = [_grid_label(time_)]
        for profile in profiles:
            row += list(t.fan("film_days", profile, time_, "duration_days"))
        rows.append(row)
    columns = ["when"]
    for profile in profiles:
        columns += [f"{PROFILE_SHORT[profile]}: median", "10th", "90th"]
    s.tables.append(Table(columns, rows, "Time for a free user (spending nothing) to generate "
                          "the footage of a 90-minute film: median and 80% interval",
                          numeric=set(range(1, len(columns)))))
    s.notes.append("A free user uses whichever is faster: the free tiers of online services or "
                   "their own device. 'P' is the share of simulated worlds.")
    return s


def q6(t: _Tables, profiles: Sequence[str]) -> Section:
    horizon = t.run.horizon_words
    s = Section("q6", "Q6", "When the film time falls below a threshold",
                "When does that time first fall below a year, a month, a week, a day, an hour, "
                "10 minutes?")
    year = _statement_years(t)[0]
    rows = []
    for label, words in THRESHOLD_WORDS.items():
        for profile in profiles:
            event = f"free_film_within_{label}"
            if not t.has_event(event, profile):
                continue
            hit = t.p_by(event, profile, year)
            p_not = float(t.summary_value(event, profile, "p_not_by_horizon"))
            rows.append([words, PROFILE_SHORT[profile], t.event(event, profile, "p50"),
                         t.event(event, profile, "p10"), t.event(event, profile, "p90"),
                         t.event(event, profile, "p50_mcse_years"),
                         hit[0] if hit else "—", likely(hit[1]) if hit else "",
                         t.event(event, profile, "p_not_by_horizon"), likely(p_not)])
    s.tables.append(Table(
        ["under", "free user with", "median year", "10th", "90th", "± MC error (y)",
         f"P(by end of {year})", "", f"P({horizon})", ""], rows,
        "First time a free user's film time falls below each threshold", numeric={2, 3, 4, 5,
                                                                                  6, 8}))
    s.notes.append(f"'{horizon}' is counted as such, never folded into the last year: the "
                   "median is '" + horizon + "' when fewer than half the worlds get there.")
    return s


def q7(t: _Tables, profiles: Sequence[str]) -> Section:
    s = Section("q7", "Q7", "A feature film from a novel",
                "When does a watchable feature film made from a novel's text become possible, "
                "and when can a free user make one?")
    event = "novel_to_movie_possible"
    for year in _statement_years(t):
        hit = t.p_by(event, "all", year)
        if hit:
            s.sentences.append(["A watchable feature film made from a novel's text is ",
                                likely(hit[1]), f" to be possible by the end of {year} (P = ",
                                hit[0], ")."])
    p_not = float(t.summary_value(event, "all", "p_not_by_horizon"))
    s.sentences.append(["Median year ", t.event(event, "all", "p50"), " (± ",
                        t.event(event, "all", "p50_mcse_years"), " y Monte Carlo error), 8 in 10 "
                        "worlds between ", t.event(event, "all", "p10"), " and ",
                        t.event(event, "all", "p90"), f"; it is {likelihood(p_not).term} "
                        f"({likelihood(p_not).range_text}) not to happen by "
                        f"{math.floor(t.run.horizon_year)} (P = ",
                        t.event(event, "all", "p_not_by_horizon"), ")."])
    for other, words in (("film_by_one_director", "One person directing for a month"),
                         ("film_by_small_team", "A small team (about 10 people, 3 months)")):
        if t.has_event(other, "all"):
            s.sentences.append([f"{words} can make one: median ", t.event(other, "all", "p50"),
                                " (80%: ", t.event(other, "all", "p10"), " – ",
                                t.event(other, "all", "p90"), ")."])
    for profile in profiles:
        if t.has_event("novel_to_movie_free_user", profile):
            s.sentences.append([f"A free user with {PROFILE_WORDS[profile]} can make one: "
                                "median ", t.event("novel_to_movie_free_user", profile, "p50"),
                                " (80%: ", t.event("novel_to_movie_free_user", profile, "p10"),
                                " – ", t.event("novel_to_movie_free_user", profile, "p90"),
                                ")."])
    binding = t.run.tables["binding.csv"]
    overall = binding[binding["year"] == "all"].sort_values("share", ascending=False)
    rows = [[REQUIREMENT_WORDS.get(r, r),
             Num(percent_text(share), "binding.csv", {"requirement": r, "year": "all"}, "share",
                 "percent"),
             Num(_sig(mcse, 2), "binding.csv", {"requirement": r, "year": "all"}, "share_mcse",
                 "number")]
            for r, share, mcse in overall[["requirement", "share", "share_mcse"]].itertuples(
                index=False)]
    if rows:
        s.sentences.append(["The requirement met last (the one that decides the date) is most "
                            f"often {REQUIREMENT_WORDS.get(overall.iloc[0]['requirement'], '')}"
                            " (", rows[0][1], " of worlds)."])
    s.tables.append(Table(["requirement met last", "share of worlds", "± MC error"], rows,
                          "Which requirement binds (all worlds, including those that do not "
                          "reach the milestone by the horizon: the requirement furthest from "
                          "being met)", numeric={1, 2}))
    return s


def _driver(run: StoredRun, name: str) -> Code:
    d = run.priors.drivers.get(name)
    return Code(name, d.text.description if d else "")


def _ranking_table(run: StoredRun, sens: pd.DataFrame, output: str, profile: str,
                   year: int | None, label: str) -> Table | None:
    sel = sens[(sens["output"] == output) & (sens["profile"] == profile)]
    sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
    if sel.empty:
        return None
    wide = sel.pivot_table(index="driver", columns="method", values="index", aggfunc="first")
    ranks = sel[sel["method"] == RANKING_METHOD].dropna(subset=["rank"]).sort_values("rank")
    up, down = ("longer", "shorter") if year is not None else ("later", "sooner")
    methods = [m for m in ("spearman", "prcc", "pawn") if m in wide.columns]
    rows = []
    for r in ranks.head(TOP_DRIVERS).itertuples():
        values = wide.loc[r.driver]
        direction = f"larger\u00a0→\u00a0{up if values.get(RANKING_METHOD, 0) > 0 else down}"
        driver = run.priors.drivers.get(r.driver)
        rows.append([int(r.rank), _driver(run, r.driver),
                     driver.text.description if driver else "", direction,
                     *(f"{values[m]:.2f}" if m == "pawn" else f"{values[m]:+.2f}"
                       for m in methods)])
    words = {"spearman": "Spearman", "prcc": "partial rank corr.", "pawn": "PAWN"}
    return Table(["rank", "driver", "what it is", "direction", *(words[m] for m in methods)],
                 rows, label, numeric={0, 4, 5, 6})


def _dominance_periods(dominant: pd.DataFrame, profile: str) -> list[list]:
    """'2026-2027: free_allowance_today' runs of the same top driver of film_days."""
    sel = dominant[(dominant["output"] == "film_days") & (dominant["profile"] == profile)]
    sel = sel.sort_values("year")
    periods: list[list] = []
    for year, driver in zip(sel["year"], sel["driver"], strict=False):
        if periods and periods[-1][2] == driver and periods[-1][1] == year - 1:
            periods[-1][1] = year
        else:
            periods.append([year, year, driver])
    return periods


def _no_ranking_reason(run: StoredRun) -> str:
    """Why sensitivity.csv is header-only, as the run wrote it (sensitivity.given)."""

    draws = run.manifest.get("draws", 0)
    if draws < MIN_DRAWS:
        why = (f"this run has {draws:,} simulated world{'s' if draws != 1 else ''}, and the "
               f"ranking needs at least {MIN_DRAWS}")
    elif all(d.dist.is_constant for d in run.priors.drivers.values()):
        why = "every driver is fixed in the prior file: nothing is uncertain"
    else:
        why = "no uncertain driver varied among the simulated worlds used"
    return f"No sensitivity ranking to show: {why}."


def q8(run: StoredRun, t: _Tables, profiles: Sequence[str], charts: list[Chart]) -> Section:
    s = Section("q8", "Q8", "Which assumptions matter",
                "Which assumptions matter most?")
    sens = run.table("sensitivity.csv")
    ranked = sens is not None and not sens.empty
    if sens is None:
        s.notes.append("This run has no sensitivity.csv (made by an older simcore).")
    elif not ranked:
        s.notes.append(_no_ranking_reason(run))
    else:
        year = _statement_years(t)[0]
        for profile in profiles:
            table = _ranking_table(run, sens, "film_days", profile, year,
                                   f"Top drivers of a free user's film time in {year} "
                                   f"({PROFILE_WORDS[profile]})")
            if table:
                s.tables.append(table)
        for event, profile, words in (
                ("novel_to_movie_possible", "all", "when a novel-to-movie becomes possible"),
                *(("novel_to_movie_free_user", p, f"when a free user with {PROFILE_WORDS[p]} "
                   "can make one") for p in profiles)):
            table = _ranking_table(run, sens, event, profile, None, f"Top drivers of {words}")
            if table:
                s.tables.append(table)
        draws = int(sens["draws"].max()) if "draws" in sens else None
        s.notes.append(
            "Ranked by the size of the Spearman rank correlation between driver and output over "
            f"{draws:,} of the run's simulated worlds" if draws else "Ranked by Spearman")
        s.notes[-1] += (" (correlated drivers share credit); the partial rank correlation "
                        "controls for the other drivers, PAWN measures any change in the "
                        "output's distribution. An event not reached by the horizon counts as "
                        "the latest outcome.")
    dominant = run.table("sensitivity_dominant.csv")
    if dominant is not None:
        for profile in profiles:
            periods = _dominance_periods(dominant, profile)
            if periods:
                s.tables.append(Table(
                    ["years", "dominant driver of the film time"],
                    [[f"{a}" if a == b else f"{a}–{b}", _driver(run, d)] for a, b, d in periods],
                    f"Which driver dominates when ({PROFILE_WORDS[profile]})"))
    s.charts.extend(charts)
    if charts:
        s.notes.append("Tornado: each driver swung from its 10th to its 90th percentile with "
                       "every other driver at its median (one model evaluation per end, "
                       "computed for this report from the run's prior files). It ignores "
                       "interactions and correlations"
                       + (", which the ranking above keeps." if ranked else "."))
    return s


def q9(run: StoredRun) -> Section:
    s = Section("q9", "Q9", "The seed forecast",
                "How does a published point forecast (January 2026) compare?")
    table = run.table("seed_comparison.csv")
    if table is None:
        s.notes.append("This run has no seed_comparison.csv (made by an older simcore).")
        return s
    rows = []
    for r in table.itertuples():
        key = {"quantity": r.quantity, "profile": r.profile, "year": int(r.year)}
        ranked = r.status == "ranked" and r.percentile_rank == r.percentile_rank
        rank = (Num(_sig(float(r.percentile_rank), 3), "seed_comparison.csv", key,
                    "percentile_rank", "number") if ranked else "—")
        why = getattr(r, "why", "")
        rows.append([str(int(r.year)), r.seed_text, r.status, rank, str(r.rank_text)
                     if isinstance(r.rank_text, str) else "",
                     str(r.run_median_text) if isinstance(getattr(r, "run_median_text", ""),
                                                          str) else "",
                     why if isinstance(why, str) else ""])
    s.tables.append(Table(["year", "seed forecast", "status", "percentile rank",
                           "in words", "this run's median", "why this run differs"], rows,
                          "Each point of the seed forecast placed in this run's distribution",
                          numeric={3}))
    s.notes.append("Film-time points: the share of simulated worlds in which a free user with no "
                   "hardware is at least as fast as the seed says (50 = the seed is the median "
                   "world). Novel-to-movie points: the share of worlds in which it is possible "
                   "by the end of that year. Points before the run's start are history, not "
                   "ranked.")
    return s


MILESTONE_WORDS = {event: words for event, _, words in MILESTONES}


def outside_forecasts(run: StoredRun) -> Section | None:
    table = run.table("outside_comparison.csv")
    if table is None:
        return None
    s = Section("outside", "Q9", "Outside forecasts",
                "How do published forecasts of the same milestones compare, and why does this "
                "run differ?")
    rows = []
    for r in table.itertuples():
        ranked = r.status == "ranked" and r.run_p_by == r.run_p_by
        theirs = r.claim
        ours = (Num(percent_text(float(r.run_p_by)), "outside_comparison.csv",
                    {"who": r.who, "event": r.event, "by_end_of": int(r.by_end_of)},
                    "run_p_by", "percent") if ranked else "history")
        rows.append([f"{r.who} ({r.made})", r.question, theirs,
                     f"a watchable film {MILESTONE_WORDS.get(r.event, r.event)}, by the end of "
                     f"{int(r.by_end_of)}",
                     ours, r.bar, r.why])
    s.tables.append(Table(["forecaster", "question", "their number", "compared with",
                           "this run", "their bar vs ours", "why this run differs"], rows,
                          "Published forecasts of the milestones (data/outside_forecasts.toml)",
                          numeric={4}))
    s.notes.append("'This run': the share of simulated worlds with the milestone by the end of "
                   "that year, exact from the stored per-draw event times. A higher bar (e.g. "
                   "high quality rather than watchable) should carry a lower probability than "
                   "ours.")
    return s


# --------------------------------------------------------------------------------------------
# Charts


def figure_png(figure, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 6})
    return buffer.getvalue()




def run_charts(run: StoredRun) -> tuple[list[Chart], list[str]]:
    """Every chart of ``plots.CHARTS``: the run's own PNG where the run's manifest lists it
    (simcore drew it; read contained and bounded, and shown only if it is a well-formed PNG),
    else drawn from run.nc in memory; and notes on what was redrawn. Nothing else in the
    folder is ever embedded: a page that is shared must not carry a file that happened to be
    there (or that a link there pointed at)."""
    charts, notes = [], []
    for name, spec in plots.CHARTS.items():
        title = f"{spec.question}: {spec.description}"
        data = run.chart_png(name)
        chart = png_chart(name, title, data, "from the run folder") if data is not None else None
        if chart is None:
            if data is not None:
                notes.append(f"{name}.png in the run folder is not a readable PNG; it was "
                             "drawn again from run.nc.")
            chart = png_chart(name, title, figure_png(plots.draw(run.tree(), name)),
                           "drawn from run.nc for this report")
        charts.append(chart)
    return charts, notes


def tornado_charts(run: StoredRun) -> list[Chart]:
    priors = run.priors
    table = swings(priors)
    if table.empty:
        return []
    year = _nearest_year(table, "film_days")
    charts = []
    horizon = priors.as_of_year + priors.meta.horizon_years
    for output, profile, y in (("film_days", "no_hardware", year),
                               ("novel_to_movie_possible", ALL_PROFILES, None)):
        if not ((table["output"] == output) & (table["profile"] == profile)).any():
            continue
        figure = tornado_chart(table, output, profile, y, horizon_year=horizon)
        chart = png_chart(f"tornado_{output}", f"Tornado: {output.replace('_', ' ')}"
                       + (f", {PROFILE_WORDS[profile]}, {y}" if y else ""),
                       figure_png(figure), "computed for this report")
        if chart:
            charts.append(chart)
    return charts


def _nearest_year(table: pd.DataFrame, output: str, wanted: int = INDICATOR_YEAR) -> int | None:
    years = table.loc[table["output"] == output, "year"].dropna().astype(int).unique()
    return int(min(years, key=lambda y: abs(y - wanted))) if len(years) else None


# --------------------------------------------------------------------------------------------
# Assumptions, MC errors, provenance


def assumptions(run: StoredRun) -> tuple[list[dict], list[list]]:
    """One row per driver of the run's prior set (its copies), and the correlation pairs."""

    priors = run.priors
    root = (run.path / "priors").resolve()
    several_files = len(priors.files) > 1   # a scenario: say which file each entry is from
    rows = []
    for name, d in priors.drivers.items():
        dist = d.dist
        interval = "—" if dist.is_constant else (f"{_sig(dist.quantile(0.05))} – "
                                                 f"{_sig(dist.quantile(0.95))}")
        try:
            defined_in = Path(d.defined_in).resolve().relative_to(root).as_posix()
        except ValueError:
            defined_in = Path(d.defined_in).name
        defined_in = defined_in if several_files else ""
        rows.append({"name": name, "description": d.text.description,
                     "definition": definition_text(dist), "family": d.family,
                     "median": _sig(dist.quantile(0.5)), "interval": interval,
                     "unit": d.text.unit, "rationale": d.text.rationale,
                     "sources": [s.model_dump() for s in d.text.sources],
                     "defined_in": defined_in})
    correlations = [[Code(a), Code(b), f"{rho:+.2f}"]
                    for (a, b), rho in priors.correlations.items()]
    return rows, correlations


def mc_errors(run: StoredRun) -> dict:
    summary = run.tables["events_summary.csv"]
    mcse = pd.to_numeric(summary["p50_mcse_years"], errors="coerce")
    binding = run.tables["binding.csv"]
    overall = binding[binding["year"] == "all"]
    return {
        "draws": f"{run.manifest.get('draws', 0):,}",
        "percentile_method": run.manifest.get("percentile_method", ""),
        "median_year_mcse_max": f"{mcse.max():.2f}" if mcse.notna().any() else "—",
        "censored": int(mcse.isna().sum()),
        "p_not_mcse_max": f"{summary['p_not_by_horizon_mcse'].max():.4f}",
        "binding_mcse_max": f"{overall['share_mcse'].max():.4f}" if len(overall) else "—",
    }


def provenance(run: StoredRun) -> list[tuple[str, str]]:
    m = run.manifest
    items = [("run folder", str(run.path)), ("created", str(m.get("created", ""))),
             ("simulated worlds (draws)", f"{m.get('draws', 0):,}"), ("seed", str(m.get("seed"))),
             ("chunk size", str(m.get("chunk_size"))),
             ("prior file", str(m.get("priors_path", ""))),
             ("SHA-256 of the prior chain", str(m.get("priors_sha256", ""))),
             ("as of", str(m.get("as_of", ""))),
             ("horizon", f"{m.get('horizon_years', '')} years, steps of "
                         f"{m.get('time_step_years', '')} years"),
             ("correlation matrix repair", str(m.get("copula_repair_max_change", ""))),
             ("git commit", str(m.get("git_commit", "")))]
    for f in m.get("prior_files", []):
        items.append((f"prior copy {f.get('copy', '')}",
                      f"{f.get('sha256', '')} (checked: matches the manifest)"))
    packages = m.get("packages", {})
    if isinstance(packages, dict):
        items.append(("versions", ", ".join(f"{k} {v}" for k, v in packages.items())))
    timings = m.get("timings_seconds", {})
    if isinstance(timings, dict):
        items.append(("timings (s)", ", ".join(f"{k} {v}" for k, v in timings.items())))
    return items


# --------------------------------------------------------------------------------------------
# The comparison section


def comparison_context(comparison) -> dict:

    blocks = []
    for run in comparison.others():
        tables = []
        for title, frame in (("Drivers whose priors differ", comparison.driver_table(run)),
                             ("Event dates", comparison.event_table(run)),
                             ("Free user's film time, median world", comparison.film_table(run)),
                             ("Requirement met last", comparison.binding_table(run))):
            tables.append(Table([str(c) for c in frame.columns],
                                [[str(v) for v in row] for row in frame.itertuples(index=False)],
                                title))
        blocks.append({"run": run, "tables": tables})
    chart = png_chart("compare", "Event medians and film-time medians, baseline → other runs",
                   chart_png(comparison), "computed for this report")
    return {"baseline": comparison.baseline.name, "blocks": blocks, "chart": chart}


# --------------------------------------------------------------------------------------------
# The page


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("simcore.faces", "templates"),
        autoescape=True,      # every value, in every context: prior texts are user input
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.tests.update({"num": lambda v: isinstance(v, Num), "term": lambda v: isinstance(v, Term),
                      "code": lambda v: isinstance(v, Code)})
    return env


def render_report(run: StoredRun, compare_with: Sequence[StoredRun] = ()) -> str:
    """The report page of ``run`` as an HTML string."""
    t = _Tables(run)
    profiles = [p for p in ("no_hardware", "gaming_pc")
                if ((t.pct["output"] == "film_days") & (t.pct["profile"] == p)).any()]
    charts, chart_notes = run_charts(run)
    sections = [q1(t), *q2_q3(t), q4(t), q5(t, profiles), q6(t, profiles), q7(t, profiles),
                q8(run, t, profiles, tornado_charts(run)), q9(run)]
    outside = outside_forecasts(run)
    if outside is not None:
        sections.append(outside)
    observed = observations_section(run)
    if observed is not None:
        sections.append(observed)
    by_id = {s.question: s for s in sections}
    extra = []
    for chart in charts:   # each chart beside the answer it illustrates
        spec = plots.CHARTS.get(chart.name)
        question = spec.question.split(",")[0].strip() if spec else None
        (by_id[question].charts if question in by_id else extra).append(chart)
    comparison = None
    if compare_with:
        comparison = comparison_context(compare_runs([run, *compare_with]))
    drivers, correlations = assumptions(run)
    m = run.manifest
    return _environment().get_template(TEMPLATE).render(
        title=f"simcore forecast: {run.name}",
        run=run, manifest=m, sections=sections, extra_charts=extra, chart_notes=chart_notes,
        likelihood_scale=[likelihood(p).label for p in (0.995, 0.95, 0.8, 0.5, 0.2, 0.05,
                                                        0.005)],
        drivers=drivers, correlations=correlations, mc=mc_errors(run),
        provenance=provenance(run), comparison=comparison,
        as_of=run.priors.meta.as_of, horizon=math.floor(run.horizon_year),
        horizon_years=f"{run.priors.meta.horizon_years:g}",
        draws=f"{m.get('draws', 0):,}",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(run_dir: str | Path, out: str | Path | None = None,
                 compare_with: Sequence[str | Path] = (), force: bool = False
                 ) -> tuple[Path, float]:
    """Render the report of ``run_dir`` into ``out`` (default RUN_DIR/report.html), written
    whole or not at all; returns (path, seconds). An existing ``out`` is replaced only with
    ``force``, except the default (re-reporting a run is routine); a file the report reads
    (of ``run_dir`` or a compared run) never is."""

    started = time.perf_counter()
    run = read_run(run_dir)
    others = [read_run(p) for p in compare_with]
    default = Path(run_dir) / "report.html"
    out = Path(out) if out is not None else default
    if out.is_dir():
        raise RunDirError(f"{out}: is a folder; --out takes the report's file name")
    if any(_same_entry(out, path) for r in (run, *others) for path in r.inputs()):
        raise RunDirError(f"{out}: is one of the files the report reads; it is never "
                          "replaced, choose another name")
    if os.path.lexists(out) and not force and not _same_entry(out, default):
        raise RunDirError(f"{out}: exists; use --force to replace it")
    try:
        html = render_report(run, others)
    finally:
        for r in (run, *others):
            r.close()
    # A file name that is not UTF-8 (lone surrogates in Python) is shown with its stray bytes
    # as backslash escapes: the page itself must be valid UTF-8. Another file that appeared at
    # --out meanwhile is not replaced unless forced (the default report.html always is).
    write_bytes_atomic(out, html.encode("utf-8", "backslashreplace"),
                       replace=force or _same_entry(out, default))
    return out, time.perf_counter() - started


def _same_entry(a: Path, b: Path) -> bool:
    """Whether writing ``a`` replaces the folder entry ``b``: the rename replaces the last
    component itself (a symlink, not its target), so folders are resolved and names not; an
    existing pair is also compared by inode (a case-insensitive file system, a hard link)."""
    if a.parent.resolve() / a.name == b.parent.resolve() / b.name:
        return True
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False
