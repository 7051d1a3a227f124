"""``simcore fit``: a log-linear trend fitted to the observations of one trend measure up to a
date, and the prior entries it implies (the measure's level at that date and its doubling or
halving time), so that a back-test's priors come from a procedure applied to the data known
then, not from hindsight.

The fit: base-2 log of the value against the decimal year, a straight line, Student-t errors
with the noise model's degrees of freedom and scale per quality tier (the same noise model
conditioning uses: ``data/observation_noise.toml``), by iteratively reweighted least squares
(each row's weight (df + 1) / (df + r^2) of its scaled residual r, so an outlier counts for
less, never for nothing). Interval rows use their centre. Uncertainty: a seeded bootstrap of
the rows (2,000 resamples by default); the prior entries are lognormal with the bootstrap's
median and central 90% interval of the level at the date and of the doubling time. A
bootstrap resample whose slope has the wrong sign for the measure (no doubling) is counted
and reported, not used.

Which drivers a measure's trend sets is declared in the spec (``TREND_SPECS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..base.errors import SimcoreError
from ..model import spec
from .observations import NoiseModel, Observation, on_model_scale
from .priors import decimal_year, known_at

DEFAULT_RESAMPLES = 2000
_IRLS_STEPS = 50


@dataclass(frozen=True)
class TrendFit:
    measure: str
    until: str
    rows: tuple[Observation, ...]
    slope: float                  # doublings per year (negative: halvings)
    level_log2: float             # base-2 log of the measure at ``until``
    slope_draws: np.ndarray       # bootstrap
    level_draws: np.ndarray
    wrong_sign: int               # bootstrap resamples whose slope has the wrong sign

    @property
    def trend(self) -> spec.Trend:
        return spec.TREND_BY_MEASURE[self.measure]

    def pace_years(self) -> np.ndarray:
        """Doubling (or halving) times of the bootstrap resamples with the right sign."""
        right = self.slope_draws * self.trend.sign > 0
        return 1.0 / np.abs(self.slope_draws[right])

    def entries(self) -> dict[str, tuple[float, float, float]]:
        """Driver -> (median, 5th, 95th percentile) of the implied lognormal priors."""
        level = np.exp2(self.level_draws)
        pace = self.pace_years()
        if pace.size < 20:
            raise SimcoreError(f"fit {self.measure}: the data up to {self.until} show no "
                               f"{'growth' if self.trend.sign > 0 else 'decline'} in "
                               f"{self.wrong_sign} of {self.slope_draws.size} resamples; "
                               "no trend prior can be drawn from them")
        return {self.trend.level_driver: tuple(np.quantile(level, [0.5, 0.05, 0.95])),
                self.trend.pace_driver: tuple(np.quantile(pace, [0.5, 0.05, 0.95]))}


def _irls(x: np.ndarray, y: np.ndarray, scale: np.ndarray, df: float) -> tuple[float, float]:
    """Student-t regression y = a + b x with known scales: (a, b). Weighted least squares in
    closed form at each step (sums, no BLAS: printed numbers must not depend on it)."""
    weights = 1.0 / scale ** 2
    coef = (0.0, 0.0)
    for _ in range(_IRLS_STEPS):
        total, sx, sy = weights.sum(), (weights * x).sum(), (weights * y).sum()
        sxx, sxy = (weights * x * x).sum(), (weights * x * y).sum()
        slope = (total * sxy - sx * sy) / (total * sxx - sx * sx)
        new = ((sy - slope * sx) / total, slope)
        residual = (y - new[0] - new[1] * x) / scale
        weights = (df + 1.0) / (df + residual ** 2) / scale ** 2
        if abs(new[0] - coef[0]) <= 1e-12 and abs(new[1] - coef[1]) <= 1e-12:
            break
        coef = new
    return float(new[0]), float(new[1])


def fit_trend(observations, measure: str, until: str, noise: NoiseModel, seed: int = 0,
              resamples: int = DEFAULT_RESAMPLES, profile: str = "") -> TrendFit:
    """Fit the trend of ``measure`` to its rows dated up to ``until`` (with sources dated up to
    it too: what was known then)."""
    if measure not in spec.TREND_BY_MEASURE:
        raise SimcoreError(f"fit: {measure!r} is not a trend measure; one of "
                           f"{', '.join(spec.TREND_BY_MEASURE)}")
    end = decimal_year(until)
    rows = tuple(o for o in observations
                 if o.measures == measure and (o.profile or "") == profile
                 and known_at(o.date, until) and known_at(o.source_date, until)
                 and o.centre is not None)
    if len(rows) < 3:
        raise SimcoreError(f"fit {measure}: {len(rows)} observation(s) dated (and published) "
                           f"up to {until}; at least 3 are needed")
    x = np.array([o.year - end for o in rows])
    y = np.array([on_model_scale(o, o.centre) for o in rows])
    scale = np.array([noise.scale(o) for o in rows])
    level, slope = _irls(x, y, scale, noise.df)
    rng = np.random.default_rng(seed)
    slopes, levels = np.empty(resamples), np.empty(resamples)
    for b in range(resamples):
        pick = rng.integers(0, len(rows), len(rows))
        if np.ptp(x[pick]) == 0.0:       # one date only: no slope; redraw from all rows
            pick = np.arange(len(rows))
        levels[b], slopes[b] = _irls(x[pick], y[pick], scale[pick], noise.df)
    sign = spec.TREND_BY_MEASURE[measure].sign
    return TrendFit(measure, until, rows, slope, level, slopes, levels,
                    int((slopes * sign <= 0).sum()))


def prior_toml(fit: TrendFit) -> str:
    """The implied prior entries as TOML, with the rows used as sources."""
    lines = [f"# simcore fit {fit.measure} --until {fit.until}: {len(fit.rows)} observations, "
             f"{fit.slope:+.3f} doublings per year (bootstrap of {fit.slope_draws.size}; "
             f"{fit.wrong_sign} resamples without the trend's sign left out)"]
    cited = dict.fromkeys((o.source_title, o.source_url, o.source_date) for o in fit.rows)
    sources = "\n".join(f'  {{ title = {_quote(title)}, url = {_quote(url)}, date = "{date}" }},'
                        for title, url, date in cited)
    for driver, (median, low, high) in fit.entries().items():
        pace = driver == fit.trend.pace_driver
        what = ("doubling" if fit.trend.sign > 0 else "halving") + " time" if pace else "level"
        unit = "years" if pace else measure_unit(fit.measure)
        lines += ["", f"[drivers.{driver}]", 'family = "lognormal"',
                  f"median = {_number(median)}", f"low = {_number(low)}",
                  f"high = {_number(high)}", f'unit = "{unit}"',
                  f'description = "{fit.measure}: {what} at {fit.until}, fitted by simcore fit"',
                  f"rationale = \"Student-t log-linear fit (noise per quality tier) to "
                  f"{len(fit.rows)} observations dated and published up to {fit.until}; "
                  f"median and central 90% of a seeded bootstrap of the rows.\"",
                  "sources = [", sources, "]"]
    return "\n".join(lines) + "\n"


def measure_unit(measure: str) -> str:
    if measure in spec.OUTPUT_BY_NAME:
        return spec.OUTPUT_BY_NAME[measure].unit
    return spec.LEVEL_BY_NAME[measure].unit


def _number(value: float) -> str:
    return f"{float(f'{value:.4g}'):g}" if math.isfinite(value) else "inf"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lognormal_sample(rng, median: float, low: float, high: float, n: int = 4000) -> np.ndarray:
    sigma = (math.log(high) - math.log(low)) / (2 * 1.6448536269514722)
    return median * np.exp(sigma * rng.standard_normal(n))
