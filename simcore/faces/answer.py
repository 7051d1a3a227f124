"""The plain-words answer printed after a run (Q5, Q6, Q7), with Monte Carlo standard errors."""

from __future__ import annotations

import math

import numpy as np

from ..analysis.headline import INDICATOR_YEAR, headline_indices
from ..analysis.tables import format_year
from ..model import ALREADY_MET, FILM_TIME_THRESHOLDS_DAYS, PROFILES
from ..model.spec import EVENT_BY_NAME, MILESTONES, binding_labels
from ..run.engine import RunResult
from ..run.summaries import probability_mcse, year_ends
from .formatting import PROFILE_HEADINGS as PROFILE_WORDS
from .formatting import THRESHOLD_WORDS, human_duration


def year_month(decimal: float) -> str:
    year = math.floor(decimal + 1e-9)
    month = int(round((decimal - year) * 12)) + 1
    return f"{year}-{min(month, 12):02d}"


def film_time_lines(result: RunResult) -> list[str]:
    lines = ["Q5  Days for a free-tier user (spending nothing) to generate the footage of a "
             "90-minute film: median [80% interval] (± MC error of the median)"]
    for profile in PROFILES:
        hist = result.histograms[f"film_days/{profile}"]
        q10, q50, q90 = hist.quantiles([0.1, 0.5, 0.9])
        with np.errstate(invalid="ignore"):   # inf - inf when both ends are off the histogram
            mcse = hist.quantile_mcse(0.5)
        lines.append(f"  {PROFILE_WORDS[profile]}:")
        for k in headline_indices(result):
            # A median in an edge bin of the histogram (0 or inf) has no relative error.
            finite = 0 < q50[k] < math.inf and math.isfinite(mcse[k])
            error = f"± {mcse[k] / q50[k]:.1%}" if finite else "beyond the histogram's range"
            lines.append(f"    {year_month(result.time_abs[k])}: {human_duration(q50[k]):>12}  "
                         f"[{human_duration(q10[k])} – {human_duration(q90[k])}]  ({error})")
    return lines


def event_lines(result: RunResult) -> list[str]:
    horizon = math.floor(result.horizon_year)
    lines = [f"Q6  When that time first falls below ...: median year [80% interval], "
             f"P(not by {horizon})"]
    for label in FILM_TIME_THRESHOLDS_DAYS:
        parts = []
        for i, profile in enumerate(PROFILES):
            times = result.event(f"free_film_within_{label}", i)
            p10, p50, p90 = (format_year(v, result) for v in times.quantiles([0.1, 0.5, 0.9]))
            parts.append(f"{profile} {p50} [{p10} – {p90}] P(not)={times.p_not_by_horizon:.1%}")
        lines.append(f"  {THRESHOLD_WORDS[label]:>10}: " + ";  ".join(parts))
    return lines


def milestone_lines(result: RunResult) -> list[str]:
    """Q7 per human-effort level (the spec's MILESTONES): when, P by the end of 2028 and of
    INDICATOR_YEAR, the requirement met last most often, and the free-user variant."""
    horizon = math.floor(result.horizon_year)
    ends = year_ends(result.priors.as_of_year, result.horizon_year)
    lines = ["Q7  A watchable feature film made from a novel's text becomes possible:"]
    for name, free_user, words in MILESTONES:
        possible = result.event(name)
        by = []
        for year in sorted({2028, INDICATOR_YEAR}):
            if year in ends:
                p_by = float(possible.probability_by(np.array([year]))[0])
                by.append(f"P(by end of {year}) = {p_by:.1%} "
                          f"± {probability_mcse(p_by, possible.n):.1%}")
            else:   # the run does not cover the whole of that year: unknown
                by.append(f"P(by end of {year}): outside the run")
        event = EVENT_BY_NAME[name]
        if result.reduced is not None:
            counts = result.reduced.binding_joint(event.binding).sum(axis=0)
        else:
            counts = np.bincount(np.asarray(result.events[event.binding],
                                            dtype=np.int64) - ALREADY_MET,
                                 minlength=len(binding_labels(event)))
        top = int(np.argmax(counts)) + ALREADY_MET   # the lowest code of a tie, as before
        top_name = ("already met" if top == ALREADY_MET
                    else binding_labels(event)[top - ALREADY_MET])
        mcse = possible.quantile_mcse(0.5)
        p10, p50, p90 = (format_year(v, result) for v in possible.quantiles([0.1, 0.5, 0.9]))
        lines += [
            f"  {words}:",
            f"    median {p50}" + (f" (± {mcse:.2f} y)" if math.isfinite(mcse) else "")
            + f", 80% interval {p10} – {p90}",
            f"    {';  '.join(by)};  P(not by {horizon}) = {possible.p_not_by_horizon:.1%}",
            f"    requirement met last most often: {top_name} "
            f"({counts.max() / possible.n:.0%} of worlds)",
        ]
        if free_user is None:
            continue
        for i, profile in enumerate(PROFILES):
            free = result.event(free_user, i)
            lines.append(f"    ... and a free user with {PROFILE_WORDS[profile]} can: median "
                         f"{format_year(free.quantile(0.5), result)}")
    return lines


def summary_text(result: RunResult) -> str:
    return "\n".join([*film_time_lines(result), "", *event_lines(result), "",
                      *milestone_lines(result)])
