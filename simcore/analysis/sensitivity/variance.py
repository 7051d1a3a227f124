"""Variance-based (Sobol) and screening (Morris) sensitivity with SALib, on the model evaluated
at sampled driver values (``engine.evaluate``), with a convergence check at N and 2N.

The SALib problem is defined on the unit hypercube: one factor per uncertain driver, whose
value in [0, 1] is the driver's quantile, turned into a value with the driver's own inverse CDF
(``dist.ppf``). Any family works that way, including discrete ones: a ``bernoulli`` driver (the
stall) is "off" below 1 - p and "on" above; a ``regimes`` driver picks its regime by which
probability interval the quantile falls in, so its index is the share of variance due to the
regime choice. Fixed drivers are not factors.

The free-tier withdrawal/relaunch chain is driven by random clocks besides its two hazards (16
uniforms per world, ``free_regime_clock`` in the engine); they form one more factor, a SALib
*group* of 16 columns named ``free_regime_clock`` ("when withdrawals happen, given their
hazards"), present unless the withdrawal hazard is fixed at 0.

**Correlations are dropped.** Sobol indices (and Morris' design) assume independent factors:
the prior file's ``[correlations]`` (Gaussian copula) is ignored here, and every result says so
(``notes``). Indices therefore answer "which driver's *own* uncertainty matters", with shared
pace between trends removed; the given-data indices of a run (``sensitivity.csv``) keep the
correlations. Where they disagree, correlation is the reason.

Targets (see :mod:`.targets`): log10 ``film_days`` per profile at the headline years (a
variance decomposition of days would be dominated by a few worlds with centuries), every
event's time with "not by the horizon" capped at horizon + 1 year (the capped share is in
``targets``), and 0/1 "by the end of 2030" per event, whose variance p(1 - p) is decomposed
without any cap.

Sobol: ``SALib.sample.sobol`` (Saltelli design, scrambled Sobol' sequence, N a power of 2,
first and total order) and ``SALib.analyze.sobol`` with bootstrap confidence intervals. The
design for 2N contains the design for N as its first N blocks (Sobol' sequences are nested), so
the convergence check costs one design: indices from the first N blocks are compared with
those from all 2N. Morris: ``SALib.sample.morris`` (4 levels; a level k is the quantile
(2k + 1) / 8, the centre of its quarter, because the extreme quantiles 0 and 1 of unbounded
drivers are infinite) and ``SALib.analyze.morris``; the check compares the first N trajectories
with all 2N.
"""

from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...inputs.priors import PriorSet
from ...model import MAX_REGIME_SWITCHES
from ...run import engine
from ...run.engine import ChunkSource
from . import targets as tg

DEFAULT_SOBOL_N = 2048        # 2N = 4096 base rows: ~4,100 model runs per factor
DEFAULT_MORRIS_N = 256        # trajectories (2N = 512 are run)
MORRIS_LEVELS = 4
DEFAULT_RESAMPLES = 100       # bootstrap resamples for confidence intervals
CONF_LEVEL = 0.95
BATCH_ROWS = 16_384           # rows per engine.evaluate call (~110 MB of trajectories)
CLUSTER_MIN_BATCH_ROWS = 256  # smallest batch sent to a Dask worker as one task
CLOCK = "free_regime_clock"
TOP = 5
_U_MIN = 2.0 ** -53           # quantiles stay inside (0, 1), as in simcore.sampling

KEY = ["output", "profile", "year", "quantity"]


@dataclass(frozen=True)
class Problem:
    """SALib's problem on the unit hypercube: factor columns are the uncertain drivers, then
    (if present) the 16 regime-clock columns forming one group."""

    priors: PriorSet
    drivers: tuple[str, ...]          # uncertain drivers, in prior-file order
    clock: bool

    @classmethod
    def of(cls, priors: PriorSet) -> Problem:
        drivers = tuple(n for n, d in priors.drivers.items() if not d.dist.is_constant)
        hazard = priors.drivers["free_withdrawal_hazard"].dist
        clock = not (hazard.is_constant and hazard.quantile(0.5) <= 0.0)
        return cls(priors, drivers, clock)

    @property
    def factors(self) -> list[str]:
        """Factor (group) names, in SALib's order."""
        return [*self.drivers, *([CLOCK] if self.clock else [])]

    @property
    def columns(self) -> list[str]:
        clock = [f"{CLOCK}[{k}]" for k in range(MAX_REGIME_SWITCHES)] if self.clock else []
        return [*self.drivers, *clock]

    def salib(self) -> dict:
        columns = self.columns
        groups = [*self.drivers, *([CLOCK] * (len(columns) - len(self.drivers)))]
        return {"num_vars": len(columns), "names": columns, "bounds": [[0.0, 1.0]] * len(columns),
                "groups": groups}

    def values(self, u: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Quantiles (rows of u, in ``columns`` order) -> every model driver's values and the
        regime clocks (0.5 when the clock is not a factor, as in ``engine.evaluate``)."""
        u = np.clip(u, _U_MIN, 1.0 - _U_MIN)
        n = u.shape[0]
        column = {name: j for j, name in enumerate(self.drivers)}
        drivers = {}
        for name, driver in self.priors.drivers.items():
            if name in column:
                drivers[name] = driver.dist.ppf(u[:, column[name]])
            else:
                drivers[name] = np.full(n, driver.dist.quantile(0.5))
        clock = (np.ascontiguousarray(u[:, len(self.drivers):]) if self.clock
                 else np.full((n, MAX_REGIME_SWITCHES), 0.5))
        return drivers, clock


def evaluate_targets(problem: Problem, u: np.ndarray, targets: list[tg.Target],
                     batch: int = BATCH_ROWS, chunks: ChunkSource | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The targets at every row of ``u`` (quantiles): (values (n, K), censored (n, K) bool).
    Rows go to ``engine.evaluate`` in batches, keeping only the targets' columns; with
    ``chunks`` (a Dask cluster) each batch is a task. A row's values depend on that row
    alone, so the batches change nothing."""
    p = problem.priors
    t_rel = engine.time_grid(p)
    shared = (problem, targets, t_rel, p.as_of_year + t_rel[-1])
    if chunks is not None:
        # Enough tasks to keep every worker busy, each still large enough to be worth sending.
        batch = min(batch, max(CLUSTER_MIN_BATCH_ROWS, -(-u.shape[0] // (4 * chunks.threads))))
    starts = range(0, u.shape[0], batch)
    if chunks is None:
        batches = (_target_batch(shared, u[start:start + batch]) for start in starts)
    else:
        batches = chunks.in_order(_target_batch, shared,
                                  [(u[start:start + batch],) for start in starts],
                                  name="design")
    values = np.empty((u.shape[0], len(targets)))
    censored = np.zeros((u.shape[0], len(targets)), dtype=bool)
    try:
        for start, (batch_values, batch_censored) in zip(starts, batches, strict=True):
            values[start:start + len(batch_values)] = batch_values
            censored[start:start + len(batch_values)] = batch_censored
    finally:
        if chunks is not None:
            batches.close()         # a failure or Ctrl-C: the cluster's tasks are cancelled
    return values, censored


def _target_batch(shared, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The targets (values, censored) at the rows of ``u``: one batch, here or on a worker."""
    problem, targets, t_rel, horizon_year = shared
    values = np.empty((u.shape[0], len(targets)))
    censored = np.zeros((u.shape[0], len(targets)), dtype=bool)
    drivers, clock = problem.values(u)
    events, trajectories = engine.evaluate(drivers, t_rel, problem.priors.as_of_year, clock)
    for k, target in enumerate(targets):
        values[:, k] = tg.target_values(target, events, trajectories, horizon_year)
        if target.quantity == tg.TIME:
            times = events[target.event]
            times = times if target.column is None else times[:, target.column]
            censored[:, k] = ~np.isfinite(times)
    return values, censored


@dataclass
class VarianceResult:
    """Indices of one study. ``indices``: one row per target, factor and sample size (columns
    ``output, profile, year, quantity, driver, n`` then S1, S1_conf, ST, ST_conf for Sobol or
    mu, mu_star, mu_star_conf, sigma for Morris, and ``rank`` (1 = largest ST or mu_star));
    ``convergence``: one row per target comparing N with 2N; ``targets``: what each target is
    (its label, mean, sd, capped share, whether it is constant)."""

    method: str
    n: int
    seed: int
    problem: Problem
    indices: pd.DataFrame
    convergence: pd.DataFrame
    targets: pd.DataFrame
    model_runs: int
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def top(self, output: str, profile: str = tg.ALL_PROFILES, year: int | None = None,
            quantity: str | None = None, n: int | None = None, k: int = TOP) -> pd.DataFrame:
        """The ``k`` top-ranked factors of one target at sample size ``n`` (default: 2N)."""
        sel = _select(self.indices, output, profile, year, quantity)
        sel = sel[sel["n"] == (n or 2 * self.n)]
        return sel.dropna(subset=["rank"]).sort_values("rank").head(k)


def _constant(values: np.ndarray) -> bool:
    return bool(values.max() == values.min())


def _select(frame: pd.DataFrame, output: str, profile: str, year: int | None,
            quantity: str | None) -> pd.DataFrame:
    sel = frame[(frame["output"] == output) & (frame["profile"] == profile)]
    if quantity is not None:
        sel = sel[sel["quantity"] == quantity]
    return sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]


def _notes(problem: Problem) -> list[str]:
    p = problem.priors
    notes = [("drivers are treated as independent: the copula of the prior file's "
              f"[correlations] ({len(p.correlations)} pairs) is not applied in this analysis")
             if p.correlations else "drivers are independent in the prior file",
             ("factors are driver quantiles in (0, 1) mapped by each driver's inverse CDF; "
              "discrete drivers (bernoulli, regimes) enter through the same quantile"),
             ("event times not reached by the horizon are analysed as horizon + 1 year "
              "(share in targets.csv); 'by_end_of_year' targets are 0/1 and need no cap"),
             "film_days is analysed as log10(days)"]
    fixed = [n for n, d in p.drivers.items() if d.dist.is_constant]
    if fixed:
        notes.append(f"{len(fixed)} fixed drivers are not factors: {', '.join(fixed)}")
    if problem.clock:
        notes.append(f"{CLOCK}: one factor grouping the {MAX_REGIME_SWITCHES} random clocks of "
                     "the free-tier withdrawal/relaunch chain (timing given the hazards)")
    return notes


def _target_table(targets: list[tg.Target], values: np.ndarray,
                  censored: np.ndarray) -> pd.DataFrame:
    sd = values.std(axis=0)
    return pd.DataFrame({
        "output": [t.output for t in targets], "profile": [t.profile for t in targets],
        "year": pd.array([t.year for t in targets], dtype="Int64"),
        "quantity": [t.quantity for t in targets], "label": [t.label for t in targets],
        "mean": values.mean(axis=0), "sd": sd, "capped_share": censored.mean(axis=0),
        "constant": values.max(axis=0) == values.min(axis=0)})


def _ranked(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """``rank`` within each (target, n): 1 = largest ``by``; empty for constant targets."""
    order = frame.sort_values(by, ascending=False, kind="stable")
    ranks = order.groupby(KEY + ["n"], dropna=False).cumcount() + 1
    frame["rank"] = pd.array(ranks.reindex(frame.index), dtype="Int64")
    frame.loc[frame["constant"], "rank"] = pd.NA
    return frame.drop(columns="constant")


def _convergence(indices: pd.DataFrame, n: int, metrics: list[str], by: str) -> pd.DataFrame:
    rows = []
    for key, group in indices.groupby(KEY, dropna=False, sort=False):
        small = group[group["n"] == n].set_index("driver")
        large = group[group["n"] == 2 * n].set_index("driver")
        row = dict(zip(KEY, key, strict=False))
        row.update({"n": n, "n2": 2 * n})
        for metric in metrics:
            delta = (small[metric] - large[metric]).abs()
            row[f"max_abs_d{metric}"] = float(delta.max()) if len(delta) else 0.0
            if f"{metric}_conf" in large:   # for scale: the widest interval half-width at 2N
                row[f"max_{metric}_conf"] = float(large[f"{metric}_conf"].max())
        top_small = _top_names(small, by)
        top_large = _top_names(large, by)
        row["top5_n"] = ";".join(top_small)
        row["top5_2n"] = ";".join(top_large)
        row["top5_same_set"] = set(top_small) == set(top_large)
        row["top5_same_order"] = top_small == top_large
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["year"] = pd.array(frame["year"], dtype="Int64")
    return frame


def _top_names(frame: pd.DataFrame, by: str) -> list[str]:
    ranked = frame.dropna(subset=["rank"]).sort_values("rank")
    return list(ranked.index[:TOP])


def _parallel(function, items):
    """SALib's analyses, one target per task on threads (the bootstrap's numpy work releases
    the GIL); each task has its own seeded generator, so results do not depend on scheduling.

    SALib warns when a bootstrap resample of a rare 0/1 target happens to be constant (its
    estimate is then 0 for that resample, as intended); that warning is silenced here, once,
    from this thread, since warning filters are process-wide."""
    workers = max(1, min(os.cpu_count() or 1, len(items)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Constant values encountered")
        if workers == 1:
            return [function(item) for item in items]
        pool = ThreadPoolExecutor(workers)
        try:
            results = list(pool.map(function, items))
        except BaseException:
            # Ctrl-C (or a failure) does not wait for the analyses running: a bootstrap at a
            # large N takes seconds; the threads finish on their own, their results unused.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results


def sobol(priors: PriorSet, n: int = DEFAULT_SOBOL_N, seed: int = 20261125,
          targets: list[tg.Target] | None = None, resamples: int = DEFAULT_RESAMPLES,
          conf_level: float = CONF_LEVEL, chunks: ChunkSource | None = None) -> VarianceResult:
    """First- and total-order Sobol indices with bootstrap intervals, at N and 2N.

    ``n`` must be a power of 2; the design has 2N (F + 2) rows for F factors. ``targets``
    defaults to :func:`.targets.headline_targets`. Deterministic for a given seed, the same
    with ``chunks`` (the design's rows evaluated on a Dask cluster).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if n < 2 or n & (n - 1):
        raise ValueError(f"N must be a power of 2 (got {n})")
    started = time.perf_counter()
    problem = Problem.of(priors)
    targets = targets if targets is not None else _default_targets(priors)
    spec = problem.salib()
    factors = problem.factors
    u = sobol_sample.sample(spec, 2 * n, calc_second_order=False, scramble=True, seed=seed)
    sampled = time.perf_counter()
    values, censored = evaluate_targets(problem, u, targets, chunks=chunks)
    evaluated = time.perf_counter()
    block = len(factors) + 2

    def analyse(item):
        k, size = item
        y = values[:size * block, k]
        base = np.r_[y[::block], y[block - 1::block]]      # the A and B rows
        if base.max() == base.min():   # no variance to decompose (SALib would divide by 0)
            zeros = np.zeros(len(factors))
            return {"S1": zeros, "S1_conf": zeros, "ST": zeros, "ST_conf": zeros}
        # Intervals are reported at 2N only; at N the point estimates serve the convergence
        # check, so the bootstrap is skipped there (SALib needs at least 2 resamples).
        return sobol_analyze.analyze(spec, y, calc_second_order=False,
                                     num_resamples=resamples if size == 2 * n else 2,
                                     conf_level=conf_level,
                                     seed=seed + 1)   # SALib ignores a seed of 0
    items = [(k, size) for k in range(len(targets)) for size in (n, 2 * n)]
    results = _parallel(analyse, items)
    frames = []
    for (k, size), si in zip(items, results, strict=False):
        t = targets[k]
        y = values[:size * block, k]
        frames.append(pd.DataFrame({
            "output": t.output, "profile": t.profile, "year": t.year, "quantity": t.quantity,
            "driver": factors, "n": size,
            "S1": np.asarray(si["S1"], float),
            "S1_conf": np.asarray(si["S1_conf"], float) if size == 2 * n else np.nan,
            "ST": np.asarray(si["ST"], float),
            "ST_conf": np.asarray(si["ST_conf"], float) if size == 2 * n else np.nan,
            "constant": bool(_constant(np.r_[y[::block], y[block - 1::block]]))}))
    indices = _ranked(pd.concat(frames, ignore_index=True), "ST")
    indices["year"] = pd.array(indices["year"], dtype="Int64")
    result = VarianceResult(
        method="sobol", n=n, seed=seed, problem=problem, indices=indices,
        convergence=_convergence(indices, n, ["S1", "ST"], "ST"),
        targets=_target_table(targets, values, censored), model_runs=u.shape[0],
        notes=_notes(problem))
    result.timings = {"sampling": sampled - started, "model": evaluated - sampled,
                      "analysis": time.perf_counter() - evaluated}
    return result


def morris(priors: PriorSet, n: int = DEFAULT_MORRIS_N, seed: int = 20261125,
           targets: list[tg.Target] | None = None, resamples: int = DEFAULT_RESAMPLES,
           conf_level: float = CONF_LEVEL, levels: int = MORRIS_LEVELS,
           chunks: ChunkSource | None = None) -> VarianceResult:
    """Morris elementary effects (mu, mu*, sigma, with a bootstrap interval on mu*) from 2N
    trajectories, and from the first N for the convergence check. Effects are in the target's
    units (decades of days, years, or probability) per unit change of the factor's level
    coordinate (SALib's convention); rankings are what to read. ``chunks``: as for
    :func:`sobol`."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    if n < 2:
        raise ValueError(f"N must be at least 2 trajectories (got {n})")
    started = time.perf_counter()
    problem = Problem.of(priors)
    targets = targets if targets is not None else _default_targets(priors)
    spec = problem.salib()
    factors = problem.factors
    x = morris_sample.sample(spec, 2 * n, num_levels=levels, seed=seed)
    # Level coordinates 0, 1/(L-1), ..., 1 -> quantiles at the centres of L equal bins.
    u = (np.rint(x * (levels - 1)) + 0.5) / levels
    sampled = time.perf_counter()
    values, censored = evaluate_targets(problem, u, targets, chunks=chunks)
    evaluated = time.perf_counter()
    block = len(factors) + 1

    def analyse(item):
        k, size = item
        y = values[:size * block, k]
        if _constant(y):
            zeros = np.zeros(len(factors))
            return {"mu": zeros, "mu_star": zeros, "mu_star_conf": zeros, "sigma": zeros}
        return morris_analyze.analyze(spec, x[:size * block], y,
                                      num_resamples=resamples if size == 2 * n else 2,
                                      conf_level=conf_level, num_levels=levels, seed=seed + 1)
    items = [(k, size) for k in range(len(targets)) for size in (n, 2 * n)]
    results = _parallel(analyse, items)
    frames = []
    for (k, size), si in zip(items, results, strict=False):
        t = targets[k]
        frames.append(pd.DataFrame({
            "output": t.output, "profile": t.profile, "year": t.year, "quantity": t.quantity,
            "driver": factors, "n": size,
            "mu": np.asarray(si["mu"], float), "mu_star": np.asarray(si["mu_star"], float),
            "mu_star_conf": np.asarray(si["mu_star_conf"], float) if size == 2 * n
            else np.nan,
            "sigma": np.nan_to_num(np.asarray(si["sigma"], float)),
            "constant": bool(_constant(values[:size * block, k]))}))
    indices = _ranked(pd.concat(frames, ignore_index=True), "mu_star")
    indices["year"] = pd.array(indices["year"], dtype="Int64")
    convergence = _convergence(indices, n, ["mu_star"], "mu_star")
    result = VarianceResult(
        method="morris", n=n, seed=seed, problem=problem, indices=indices,
        convergence=convergence, targets=_target_table(targets, values, censored),
        model_runs=u.shape[0], notes=_notes(problem) + [
            f"Morris: {levels} levels at quantiles (2k + 1) / {2 * levels}, k = 0..{levels - 1}"])
    result.timings = {"sampling": sampled - started, "model": evaluated - sampled,
                      "analysis": time.perf_counter() - evaluated}
    return result


def _default_targets(priors: PriorSet) -> list[tg.Target]:
    return tg.headline_targets(priors.as_of_year, priors.meta.horizon_years,
                               priors.meta.time_step_years)

