"""Given-data sensitivity: which drivers matter, from the draws a run has already made.

No extra model runs. For every target (see :mod:`.targets`) three indices per driver are computed
on the first M = ``GIVEN_DATA_DRAWS`` worlds of the run (the draws are independent, so the first M
are a random subsample). Their trajectories come from ``RunResult.paths``, which the CLI keeps
in memory for M worlds; with fewer paths kept they are recomputed by ``engine.evaluate`` from the
same drivers and regime clocks, identical bit for bit (so ``simcore verify`` can check them):

``spearman``
    Spearman rank correlation between driver and target (signed: + means a larger driver value
    gives a larger output or a later event). Marginal: with correlated drivers it includes the
    effect that flows through correlated partners.
``prcc``
    Partial rank correlation: the same, controlling for every other driver (linear on ranks).
    Separates a driver's own effect from that of the drivers it is correlated with.
``pawn``
    PAWN (Pianosi & Wagener 2015, as in ``SALib.analyze.pawn``): the driver's range is cut into
    10 equal-probability slides and the Kolmogorov-Smirnov distance between the target's
    distribution within each slide and its unconditional distribution is taken; the index is
    the median over slides. Moment-free and valid for correlated drivers, heavy tails and
    censored targets (a CDF is well defined with a censored tail). SALib's implementation loops
    in Python (~1.7 s per target at M = 20,000); this is the same estimator in one compiled pass
    (tests check it against SALib), with one difference: the driver's largest value is put in
    the last slide (SALib drops it, which empties the top slide of discrete drivers).

Ranks treat ties by average ranks, so a censored event time ("not by the horizon", replaced by
horizon + 1 year) ties with the other censored worlds as the latest outcome: rank measures need no
other assumption about censored times. Discrete drivers (bernoulli, regimes) have one slide per
value when they have fewer values than slides.

Cost at M = 20,000, the baseline's 43 uncertain drivers and 225 targets, on 2 cores: about
0.4 s, mostly the ~270 sorts (numpy, on threads) and PAWN's compiled pass (several times dearer
per target than ranks, so it is computed for film_days at every whole year and the events only).
Noise levels: Spearman and PRCC have a standard error of about 1/sqrt(M) = 0.007; PAWN of a
driver without influence is about 0.02.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import get_num_threads, njit, prange

from ...base.fixed_order import symmetric_pseudo_inverse
from ...inputs.sampling import noise
from ...model import MAX_REGIME_SWITCHES, OUTPUTS
from ...run.engine import evaluate, time_grid
from . import GIVEN_DATA_DRAWS
from . import targets as tg

PAWN_SLIDES = 10
MIN_DRAWS = 50              # below this, no given-data table is produced
PAWN_OUTPUTS = ("film_days",)   # fan outputs that get PAWN (events always do)
METHODS = ("spearman", "prcc", "pawn")


@njit(cache=True, parallel=True)
def _rank_and_pawn(values, order, labels, class_sizes, with_pawn, schedule, ranks,
                   pawn):  # pragma: no cover
    """For each target row k of ``values`` (K, M), given its sorting permutation ``order[k]``:
    average ranks (0-based, ties averaged) into ``ranks[k]`` and, if ``with_pawn[k]``, the
    Kolmogorov-Smirnov distance between the target's empirical CDF within each driver slide and
    over all worlds into ``pawn[k, d, s]`` (NaN for an empty slide). Targets are taken in the
    order ``schedule``, which spreads the costly PAWN targets evenly over the threads.

    ``labels`` (M, D) int8: the slide of each world for each driver; ``class_sizes`` (D, S).
    max|F_s - F| is attained at a distinct value of the target: F_s - F peaks at the end of a
    tie group holding members of slide s, F - F_s just before one; so each world is visited
    once per driver (three times inside a tie group), in sorted order.
    """
    n_targets, m = values.shape
    n_drivers = labels.shape[1]
    n_slides = class_sizes.shape[1]
    inverse = 1.0 / np.maximum(class_sizes, 1.0)
    for i in prange(n_targets):
        k = schedule[i]
        y = values[k]
        o = order[k]
        count = np.zeros((n_drivers, n_slides))
        best = np.zeros((n_drivers, n_slides))
        j = 0
        while j < m:
            e = j
            while e + 1 < m and y[o[e + 1]] == y[o[j]]:
                e += 1
            average_rank = 0.5 * (j + e)
            for q in range(j, e + 1):
                ranks[k, o[q]] = average_rank
            if with_pawn[k]:
                before = j / m
                after = (e + 1) / m
                if e == j:   # no tie: one visit
                    row = labels[o[j]]
                    for d in range(n_drivers):
                        c = row[d]
                        seen = count[d, c]
                        gap = max(before - seen * inverse[d, c],
                                  (seen + 1.0) * inverse[d, c] - after)
                        if gap > best[d, c]:
                            best[d, c] = gap
                        count[d, c] = seen + 1.0
                else:
                    for q in range(j, e + 1):
                        row = labels[o[q]]
                        for d in range(n_drivers):
                            c = row[d]
                            gap = before - count[d, c] * inverse[d, c]
                            if gap > best[d, c]:
                                best[d, c] = gap
                    for q in range(j, e + 1):
                        row = labels[o[q]]
                        for d in range(n_drivers):
                            count[d, row[d]] += 1.0
                    for q in range(j, e + 1):
                        row = labels[o[q]]
                        for d in range(n_drivers):
                            c = row[d]
                            gap = count[d, c] * inverse[d, c] - after
                            if gap > best[d, c]:
                                best[d, c] = gap
            j = e + 1
        if with_pawn[k]:
            for d in range(n_drivers):
                for c in range(n_slides):
                    pawn[k, d, c] = best[d, c] if class_sizes[d, c] > 0 else np.nan


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _cross(a, b, out):  # pragma: no cover
    """out[i, j] = a[i] . b[j] (rows of equal length), in parallel over the rows of b, each
    kept in cache while every row of a passes. Compiled rather than BLAS: no second thread pool
    next to numba's, and a summation order fixed by the code (SIMD lanes, no run-time choice of
    kernel), so a run and ``simcore verify`` get the same bits."""
    n_a, n_b, m = a.shape[0], b.shape[0], a.shape[1]
    for j in prange(n_b):
        for i in range(n_a):
            total = 0.0
            for t in range(m):
                total += a[i, t] * b[j, t]
            out[i, j] = total


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0], b.shape[0]))
    _cross(np.ascontiguousarray(a), np.ascontiguousarray(b), out)
    return out


def _argsort_rows(matrix: np.ndarray) -> np.ndarray:
    """Sorting permutation of each row (numpy's sort, the rows shared out between threads:
    it releases the GIL)."""
    workers = max(1, min(os.cpu_count() or 1, matrix.shape[0]))
    if workers == 1:
        return np.argsort(matrix, axis=1)
    bounds = np.linspace(0, matrix.shape[0], workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda ab: np.argsort(matrix[ab[0]:ab[1]], axis=1),
                              zip(bounds[:-1], bounds[1:], strict=False)))
    return np.concatenate(parts)


def average_ranks(matrix: np.ndarray, labels: np.ndarray | None = None,
                  class_sizes: np.ndarray | None = None, with_pawn: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Average (tie-aware) 0-based ranks of each row of ``matrix`` (K, M) and, for rows with
    ``with_pawn``, the KS distances per driver slide (K, D, S)."""
    matrix = np.ascontiguousarray(matrix, dtype=float)
    k, m = matrix.shape
    if labels is None:
        labels, class_sizes = np.zeros((m, 0), np.int8), np.ones((0, PAWN_SLIDES))
    if with_pawn is None:
        with_pawn = np.zeros(k, dtype=np.bool_)
    ranks = np.empty_like(matrix)
    pawn = np.full((k, labels.shape[1], class_sizes.shape[1]), np.nan)
    # numba's prange hands each thread one contiguous block of iterations: deal the PAWN
    # targets and the others round-robin so every block gets its share of each.
    threads = get_num_threads()
    heavy, light = np.flatnonzero(with_pawn), np.flatnonzero(~with_pawn)
    schedule = np.concatenate([np.concatenate([heavy[t::threads], light[t::threads]])
                               for t in range(threads)]).astype(np.int64)
    _rank_and_pawn(matrix, _argsort_rows(matrix), np.ascontiguousarray(labels), class_sizes,
                   with_pawn, schedule, ranks, pawn)
    return ranks, pawn


def slide_labels(x: np.ndarray, ranks: np.ndarray | None = None,
                 slides: int = PAWN_SLIDES) -> np.ndarray:
    """PAWN's conditioning slides: edges at the driver's quantiles 1/S, ..., (S-1)/S (linear
    interpolation, as in SALib); a world falls in the slide whose lower edge is the last one at
    or below its value. Values tied at an edge all go above it, so a discrete driver gets one
    slide per value. Without ties (``ranks`` given and all distinct) this is the rank's slide,
    floor(rank * S / (M - 1)), computed without a search."""
    m = x.size
    if ranks is not None and m > 1:
        expected = (m - 1) * m * (2 * m - 1) / 6.0     # sum of squared ranks without ties
        if abs(float(np.einsum("i,i->", ranks, ranks)) - expected) < 0.25:
            return np.minimum(np.floor(ranks * slides / (m - 1)), slides - 1).astype(np.int8)
    edges = np.quantile(x, np.linspace(0.0, 1.0, slides + 1)[1:-1])
    return np.searchsorted(edges, x, side="right").astype(np.int8)


def _standardise(ranks: np.ndarray) -> np.ndarray:
    """Average ranks centred (their mean is always (M - 1) / 2) and scaled to unit norm, in
    place (zero rows stay zero): dot products of rows are then Pearson correlations of the
    ranks, i.e. Spearman correlations with ties averaged."""
    ranks -= (ranks.shape[1] - 1) / 2.0
    norm = np.sqrt(np.einsum("ij,ij->i", ranks, ranks))[:, None]
    np.divide(ranks, norm, out=ranks, where=norm > 0)
    return ranks


@njit(cache=True, error_model="numpy")
def _prcc_from_inverse(inverse, rxy, out):  # pragma: no cover
    """out[d, k]: PRCC of driver d with target k, from the inverse (D, D) of the drivers'
    correlation matrix and the driver-target correlations ``rxy`` (D, K), by the blocks of
    the joint matrix's inverse (Schur complement). Sums in increasing index order."""
    n_drivers, n_targets = rxy.shape
    b = np.empty(n_drivers)
    for k in range(n_targets):
        explained = 0.0          # R^2 of the target on the drivers (linear, on ranks)
        for d in range(n_drivers):
            total = 0.0
            for e in range(n_drivers):
                total += inverse[d, e] * rxy[e, k]
            b[d] = total
            explained += rxy[d, k] * total
        schur = max(1.0 - explained, 1e-12)
        for d in range(n_drivers):
            diagonal = inverse[d, d] + b[d] * b[d] / schur  # inverse joint matrix, x-x entry
            value = (b[d] / schur) / np.sqrt(diagonal / schur)
            out[d, k] = 0.0 if np.isnan(value) else min(max(value, -1.0), 1.0)


def _partial_correlations(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """PRCC of every driver with every target from rank correlations: driver-driver ``rxx``
    (D, D) and driver-target ``rxy`` (D, K), for all targets at once. The inverse is the
    pseudo-inverse, so linearly dependent ranks do not break it (a driver whose ranks repeat
    another's gets its twin's index; the others' are what they would be without it),
    computed in a fixed order rather than by LAPACK, whose bits change with the BLAS thread
    count."""
    out = np.empty(rxy.shape)
    _prcc_from_inverse(symmetric_pseudo_inverse(rxx), np.ascontiguousarray(rxy), out)
    return out


def uncertain_drivers(priors, drivers: dict[str, np.ndarray], m: int) -> list[str]:
    """Drivers to analyse: not fixed in the prior file, and not constant in the subsample."""
    names = []
    for name, driver in priors.drivers.items():
        if driver.dist.is_constant or name not in drivers:
            continue
        x = drivers[name][:m]
        if x.size and x.max() > x.min():
            names.append(name)
    return names


def given_data_targets(result) -> list[tg.Target]:
    """Every fan output at every whole year, and every event's time."""
    p = result.priors
    offsets = tg.year_offsets(p.as_of_year, p.meta.horizon_years)
    targets = []
    for output in OUTPUTS:
        targets += tg.trajectory_targets(output, offsets, p.as_of_year, p.meta.time_step_years)
    return targets + tg.event_targets(tg.TIME)


@dataclass
class GivenData:
    """Indices of every target (K), uncertain driver (D) and method: ``index`` (K, D, 3) in
    METHODS order, NaN where a method was not computed; ``constant`` (K,) targets without
    variation in the subsample (their indices are 0 and unranked); ``draws`` (K,) worlds used."""

    targets: list[tg.Target]
    times: np.ndarray          # (K,) grid time of trajectory targets, NaN for events
    drivers: list[str]
    index: np.ndarray
    constant: np.ndarray
    draws: np.ndarray

    def ranks(self) -> np.ndarray:
        """(K, D, 3) rank of each driver (1 = largest |index|), 0 where not ranked."""
        order = np.argsort(-np.abs(np.nan_to_num(self.index)), axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(1, len(self.drivers) + 1)[None, :, None],
                          axis=1)
        ranks[np.isnan(self.index)] = 0
        ranks[self.constant] = 0
        return ranks

    def table(self) -> pd.DataFrame:
        d = self.index.shape[1]
        present = ~np.isnan(self.index).all(axis=1)          # (K, methods)
        tk, tm = np.nonzero(present)
        rows = len(tk) * d
        ranks = self.ranks()[tk, :, tm].ravel()
        years = np.array([t.year if t.year is not None else -1 for t in self.targets])
        out = pd.DataFrame({
            "output": np.repeat(np.array([t.output for t in self.targets], dtype=object)[tk], d),
            "profile": np.repeat(np.array([t.profile for t in self.targets], dtype=object)[tk],
                                 d),
            "year": pd.array(np.repeat(years[tk], d), dtype="Int64"),
            "time": np.repeat(np.round(self.times[tk], 4), d),
            "quantity": np.repeat(np.array([t.quantity for t in self.targets],
                                           dtype=object)[tk], d),
            "driver": np.tile(np.array(self.drivers, dtype=object), len(tk)),
            "method": np.repeat(np.array(METHODS, dtype=object)[tm], d),
            # 6 decimals: far below the sampling noise (~0.007), and a compact CSV.
            "index": np.round(self.index[tk, :, tm].ravel(), 6) + 0.0,
            "rank": pd.array(ranks, dtype="Int64"),
            "draws": np.repeat(self.draws[tk], d),
        }, index=pd.RangeIndex(rows))
        out.loc[out["year"] < 0, "year"] = pd.NA
        out.loc[out["rank"] == 0, "rank"] = pd.NA
        return out

    def dataset(self):
        """For run.nc's ``/sensitivity`` group: ``index`` and ``rank`` over (target, driver,
        measure), each target named by the coordinates output, profile, year (-1 for events),
        time (NaN for events), quantity and draws. ``measure`` is the CSV's ``method`` column
        (a dimension called "method" would clash with xarray's ``.sel(method=...)``)."""
        import xarray as xr

        return xr.Dataset(
            {"index": (("target", "driver", "measure"), self.index,
                       {"description": "given-data sensitivity index; NaN = not computed"}),
             "rank": (("target", "driver", "measure"), self.ranks().astype(np.int16),
                      {"description": "1 = most influential; 0 = not ranked"})},
            coords={"target": np.arange(len(self.targets)), "driver": self.drivers,
                    "measure": list(METHODS),
                    "output": ("target", [t.output for t in self.targets]),
                    "profile": ("target", [t.profile for t in self.targets]),
                    "year": ("target", np.array([t.year if t.year is not None else -1
                                                 for t in self.targets], dtype=np.int32)),
                    "time": ("target", self.times),
                    "quantity": ("target", [t.quantity for t in self.targets]),
                    "draws": ("target", self.draws)},
            attrs={"methods": METHOD_NOTES,
                   "censoring": "event times not by the horizon are ranked as horizon + 1 year",
                   "fixed_drivers": "skipped"})


METHOD_NOTES = ("spearman: rank correlation (signed); prcc: partial rank correlation, "
                "controlling for the other drivers (signed); pawn: median Kolmogorov-Smirnov "
                "distance over 10 equal-probability slides of the driver")


def analyse(result, draws: int = GIVEN_DATA_DRAWS) -> GivenData:
    """Given-data indices of a :class:`~simcore.engine.RunResult`, cached on it (``run.nc``'s
    ``/sensitivity`` group and ``sensitivity.csv`` come from one computation); the time taken
    is recorded in ``result.timings['sensitivity']``."""
    cached = getattr(result, "_given_data_cache", None)
    if cached is not None and cached[0] == draws:
        return cached[1]
    started = time.perf_counter()
    analysis = _analyse_run(result, draws)
    result.timings["sensitivity"] = time.perf_counter() - started
    with contextlib.suppress(AttributeError):   # a RunResult without __dict__
        result._given_data_cache = (draws, analysis)
    return analysis


def given_data(result, draws: int = GIVEN_DATA_DRAWS) -> pd.DataFrame:
    """Given-data sensitivity of a run as a tidy table (what ``sensitivity.csv`` holds).

    Columns: ``output, profile, year, time, quantity, driver, method, index, rank, draws``.
    ``year`` is the calendar year of the grid time ``time`` (as_of's month) for trajectory
    outputs and empty for events; ``quantity`` is ``value`` or ``time``; ``rank`` 1 is the most
    influential driver (largest |index|) for that target and method, empty when the target does
    not vary in the subsample; ``draws`` is the number of worlds used. Fixed drivers are skipped.
    """
    return analyse(result, draws).table()


def _analyse_run(result, draws: int) -> GivenData:
    # A streamed run keeps only its first draws' drivers in memory (simcore run: enough).
    m = min(draws, result.draws, *(len(values) for values in result.drivers.values()))
    targets = given_data_targets(result) if m >= MIN_DRAWS else []
    names = uncertain_drivers(result.priors, result.drivers, m) if targets else []
    index = np.full((len(targets), len(names), len(METHODS)), np.nan)
    constant = np.zeros(len(targets), dtype=bool)
    if targets:
        index, constant = _indices(result, targets, names, m, trajectories_of(result, m))
    times = np.array([result.time_abs[t.time_index] if t.time_index is not None else np.nan
                      for t in targets])
    return GivenData(targets, times, names, index, constant,
                     np.full(len(targets), m, dtype=np.int64))


def trajectories_of(result, m: int) -> dict[str, np.ndarray]:
    """Trajectories (series -> (m, T) values) of the run's first ``m`` worlds: the paths the
    run kept in memory if there are enough (the CLI keeps ``GIVEN_DATA_DRAWS``), else the same
    worlds recomputed with ``engine.evaluate`` from their drivers and regime clocks (so a run
    made with fewer paths, e.g. by ``simcore verify``, gives the same table)."""
    kept = next(iter(result.paths.values())).shape[0] if result.paths else 0
    if kept >= m:
        return {series: values[:m] for series, values in result.paths.items()}

    clock = noise(result.seed, "free_regime_clock", MAX_REGIME_SWITCHES, 0, m)
    drivers = {name: values[:m] for name, values in result.drivers.items()}
    return evaluate(drivers, time_grid(result.priors), result.priors.as_of_year, clock)[1]


def _indices(result, targets: list[tg.Target], names: list[str], m: int,
             trajectories: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    values = np.stack([tg.target_values(t, result.events, trajectories, result.horizon_year,
                                        slice(0, m)) for t in targets])
    values = np.where(np.isnan(values), np.inf, values)     # never expected; ranks stay defined
    out = np.full((len(targets), len(names), len(METHODS)), np.nan)
    constant = values.max(axis=1) == values.min(axis=1)   # (ptp warns on inf - inf)
    if not names:
        return out, constant
    x = np.stack([result.drivers[n][:m] for n in names])
    x_ranks, _ = average_ranks(x)
    labels = np.stack([slide_labels(row, r) for row, r in zip(x, x_ranks, strict=False)], axis=1)
    class_sizes = np.stack([np.bincount(labels[:, d], minlength=PAWN_SLIDES)
                            for d in range(len(names))]).astype(float)
    with_pawn = np.array([t.series is None or t.output in PAWN_OUTPUTS for t in targets])
    y_ranks, pawn = average_ranks(values, labels, class_sizes, with_pawn)
    zx, zy = _standardise(x_ranks), _standardise(y_ranks)
    spearman = cross(zx, zy)                                  # (D, K)
    out[:, :, 0] = spearman.T
    out[:, :, 1] = _partial_correlations(cross(zx, zx), spearman).T
    with np.errstate(all="ignore"):
        out[with_pawn, :, 2] = np.nanmedian(pawn[with_pawn], axis=2)
    out[constant] = np.where(np.isnan(out[constant]), np.nan, 0.0)
    return out, constant


def dominant_drivers(table: pd.DataFrame, method: str = "spearman",
                     quantity: str = tg.VALUE) -> pd.DataFrame:
    """Which driver dominates when: for each fan output, profile and year, the top-ranked
    driver by ``method`` with its index and the runner-up (columns ``output, profile, year,
    driver, index, runner_up, runner_up_index``)."""
    sel = table[(table["method"] == method) & (table["quantity"] == quantity)
                & table["rank"].isin([1, 2])]
    keys = ["output", "profile", "year"]
    first = sel[sel["rank"] == 1].set_index(keys)[["driver", "index"]]
    second = sel[sel["rank"] == 2].set_index(keys)[["driver", "index"]]
    second.columns = ["runner_up", "runner_up_index"]
    return first.join(second).reset_index()


def top_drivers(table: pd.DataFrame, output: str, method: str, profile: str = tg.ALL_PROFILES,
                year: int | None = None, n: int = 5) -> pd.DataFrame:
    """The ``n`` top-ranked drivers of one target (rows of ``table``, best first)."""
    sel = table[(table["output"] == output) & (table["profile"] == profile)
                & (table["method"] == method)]
    sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
    return sel.dropna(subset=["rank"]).sort_values("rank").head(n)


def load(run_dir) -> pd.DataFrame:
    """A run's ``sensitivity.csv`` with its column types restored."""
    from pathlib import Path

    return pd.read_csv(Path(run_dir) / "sensitivity.csv",
                       dtype={"year": "Int64", "rank": "Int64"}, keep_default_na=False,
                       na_values={"year": [""], "rank": [""], "time": [""]})
