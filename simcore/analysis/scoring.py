"""Where the observed world falls in a run: PIT (the observation's rank in the run's draws),
the run's bands at the observation's date, flags, and proper scores for back-tests.

* PIT of a value y: (#draws below y + 1/2 #draws equal to y) / N (mid-rank: a driver fixed by
  its prior ties every draw, and then ranks 0.5, not 0 or 1). An interval row gets the PIT of
  each end; back-test scores use a point value, or an interval's centre (geometric on a log
  scale). On base-2 logs for log-scale measures, which leaves ranks unchanged.
* Events: the run's probability that the event had happened by the row's date; a row dated
  before as_of asks whether the draw had met it at as_of already.
* Flags: an observation outside the run's central 90% (PIT < 0.05 or > 0.95; for an interval,
  the whole interval on one side) or an event outcome the run gave less than 5%.
* Back-test scores per observation after the origin: PIT, whether it falls in the central
  50/80/90% bands, CRPS of the draws on base-2 logs (scoringrules' ensemble CRPS: in
  doublings, 0 is perfect), the log2 ratio of observed to the run's median (bias), and the
  Brier score (p - outcome)^2 of an event row.

Computed from a run result's per-draw arrays (``RunResult.observed`` and its event times);
this module reads no file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..inputs.observations import on_model_scale
from ..run.observed import point_name

FLAG_BAND = 0.90
BANDS = (0.5, 0.8, 0.9)
_TAIL = (1.0 - FLAG_BAND) / 2.0


def model_sample(result, chosen) -> np.ndarray:
    """Per draw: the base-2 log (or value) of the measure at the observation's date, or for an
    event whether it had happened by then (as floats 0/1)."""
    obs = chosen.observation
    if obs.measure.kind == "event":
        from ..model import PROFILES

        times = np.asarray(result.events[obs.measures][:])
        if times.ndim == 2:
            times = times[:, PROFILES.index(obs.profile)]
        when = result.priors.as_of_year + chosen.t
        return (times <= when).astype(float)
    column = result.observation_points.names.index(point_name(obs.series, chosen.t))
    return result.observed[:, column]


def pit(sorted_sample: np.ndarray, y: float | None) -> float:
    """Mid-rank PIT of ``y`` in an ascending sample (NaN for an open end)."""
    if y is None:
        return float("nan")
    below = np.searchsorted(sorted_sample, y, side="left")
    through = np.searchsorted(sorted_sample, y, side="right")
    return float((below + 0.5 * (through - below)) / sorted_sample.size)


def _to_value(obs, log2_or_value: float) -> float:
    return float(2.0 ** log2_or_value) if obs.measure.log_scale else float(log2_or_value)


def observation_rows(result) -> list[dict]:
    """One row per scored observation: the run's bands at its date, PIT and flag."""
    rows = []
    points = result.observation_points
    for chosen in points.scored if points is not None else ():
        obs = chosen.observation
        sample = model_sample(result, chosen)
        row = {"id": obs.id, "measures": obs.measures, "profile": obs.profile or "all",
               "date": obs.date, "compared_at": "as_of" if chosen.as_of else obs.date,
               "quality": obs.quality, "value": obs.value, "low": obs.low, "high": obs.high}
        if obs.measure.kind == "event":
            happened = float(sample.mean())
            outcome = happened if obs.value == 1.0 else 1.0 - happened
            row.update(p_happened=happened, flag=(
                f"the run gave this outcome P = {outcome:.3f}" if outcome < _TAIL * 2 else ""))
        else:
            ordered = np.sort(sample)
            y = {k: on_model_scale(obs, getattr(obs, k)) for k in ("value", "low", "high")}
            p10, p50, p90 = np.quantile(ordered, [0.1, 0.5, 0.9])
            row.update(pit=pit(ordered, y["value"]), pit_low=pit(ordered, y["low"]),
                       pit_high=pit(ordered, y["high"]), p10=_to_value(obs, p10),
                       p50=_to_value(obs, p50), p90=_to_value(obs, p90))
            row["flag"] = _flag(row)
        rows.append(row)
    return rows


def _flag(row: dict) -> str:
    if not np.isnan(row["pit"]):
        low = high = row["pit"]
    else:
        low = row["pit_low"] if not np.isnan(row["pit_low"]) else 0.0
        high = row["pit_high"] if not np.isnan(row["pit_high"]) else 1.0
    if high < _TAIL:
        return f"below the run's central {FLAG_BAND:.0%}"
    if low > 1.0 - _TAIL:
        return f"above the run's central {FLAG_BAND:.0%}"
    return ""


TABLE_COLUMNS = ("id", "measures", "profile", "date", "compared_at", "quality", "value", "low",
                 "high", "p10", "p50", "p90", "pit", "pit_low", "pit_high", "p_happened",
                 "flag")


def observations_table(result) -> pd.DataFrame:
    """``observations.csv`` of a run."""
    return pd.DataFrame(observation_rows(result), columns=list(TABLE_COLUMNS))


def as_of_flags(table: pd.DataFrame, explanations: dict[str, str] | None = None) -> list[str]:
    """Plain lines for the observations dated before as_of that fall outside the run; with
    ``explanations`` (observation id -> why), each line says why, or that nothing explains it."""
    flagged = table[(table["compared_at"] == "as_of") & (table["flag"].fillna("") != "")]
    lines = []
    for row in flagged.itertuples():
        shown = (f"{row.value:g}" if pd.notna(row.value)
                 else f"{row.low:g}-{row.high:g}" if pd.notna(row.low) and pd.notna(row.high)
                 else "")
        where = "" if row.profile == "all" else f" ({row.profile})"
        line = (f"{row.measures}{where}: observed {shown} on {row.date} ({row.quality}, "
                f"{row.id}) is {row.flag} at as_of")
        if explanations is not None:
            why = explanations.get(row.id)
            line += f". Explained: {why}" if why else ". Not explained."
        lines.append(line)
    return lines


# --------------------------------------------------------------------------------------------
# Back-test scores

def score_rows(result) -> list[dict]:
    """Scores of every observation the run forecast (dated after as_of)."""
    import scoringrules

    rows = []
    points = result.observation_points
    for chosen in points.scored if points is not None else ():
        if chosen.as_of:
            continue
        obs = chosen.observation
        sample = model_sample(result, chosen)
        row = {"id": obs.id, "measures": obs.measures, "profile": obs.profile or "all",
               "date": obs.date, "lead_years": round(chosen.t, 4), "quality": obs.quality}
        if obs.measure.kind == "event":
            p = float(sample.mean())
            row.update(p_happened=p, brier=(p - obs.value) ** 2)
        else:
            ordered = np.sort(sample)
            y = on_model_scale(obs, obs.centre)
            value_pit = pit(ordered, y)
            row.update(pit=value_pit, log2_ratio=y - float(np.median(ordered)),
                       crps=float(scoringrules.crps_ensemble(y, ordered,
                                                             sorted_ensemble=True)))
            for band in BANDS:
                row[f"in_{round(band * 100)}"] = bool(abs(value_pit - 0.5) <= band / 2)
        rows.append(row)
    return rows


SCORE_COLUMNS = ("id", "measures", "profile", "date", "lead_years", "quality", "pit", "in_50",
                 "in_80", "in_90", "crps", "log2_ratio", "p_happened", "brier")


def summary_by_measure(scores: pd.DataFrame) -> pd.DataFrame:
    """Per measure and profile: how many observations, mean coverage of each band (nominal
    0.5/0.8/0.9), mean PIT, bias (median PIT - 0.5; mean log2 ratio observed / median), how
    many observations fell above and below the median (all on one side is a warning sign even
    inside the bands), mean CRPS (doublings), mean Brier score."""
    rows = []
    for (measure, profile), group in scores.groupby(["measures", "profile"], sort=True):
        row = {"measures": measure, "profile": profile, "n": len(group)}
        if group["pit"].notna().any():
            row.update(coverage_50=group["in_50"].astype(float).mean(),
                       coverage_80=group["in_80"].astype(float).mean(),
                       coverage_90=group["in_90"].astype(float).mean(),
                       mean_pit=group["pit"].mean(), bias_pit=group["pit"].median() - 0.5,
                       bias_log2=group["log2_ratio"].mean(),
                       above_median=int((group["pit"] > 0.5).sum()),
                       below_median=int((group["pit"] < 0.5).sum()), crps=group["crps"].mean())
        if group["brier"].notna().any():
            row["brier"] = group["brier"].mean()
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["measures", "profile", "n", "coverage_50",
                                        "coverage_80", "coverage_90", "mean_pit", "bias_pit",
                                        "bias_log2", "above_median", "below_median", "crps",
                                        "brier"])
    return frame.astype({"above_median": "Int64", "below_median": "Int64"})
