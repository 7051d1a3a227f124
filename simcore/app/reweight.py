"""What-if by reweighting (``simcore reweight RUN --set DRIVER.FIELD=VALUE``): the forecast
under changed priors from the draws a run already made, in seconds instead of a fresh run.

Each draw's importance ratio is the joint density of its driver values under the changed
priors over that under the run's priors: the product of the changed marginals' density ratios
and, when a changed driver is in the Gaussian copula, the ratio of the copula densities at
the marginal CDFs. Pareto-smoothed (arviz-stats) and quantised to integer copy counts like a
conditioned run's weights (simcore.analysis.conditioning), the draws are re-simulated as a
multiset (``engine.run_forecast(source_draws=)``): every percentile, event curve, binding
share and sensitivity index of the result carries the weights. The draws' driver values are
regenerated from the seed's streams (sampling only: the same values ``run.nc`` stores, as
``simcore verify`` checks). Trajectories are not stored per draw; the model is re-run on them.

A full run is needed instead, and said in one line, when the change cannot be reached by
weights: a fixed driver changed, a family changed between discrete and continuous, draws the
changed prior can make lie outside what the run's prior could draw, or Pareto k-hat above its
limit (too few draws carry the new prior's mass).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..analysis.conditioning import Weights, importance_weights, khat_limit
from ..base.errors import SimcoreError
from ..inputs.densities import (
    cdf,
    gaussian_copula_log_density,
    is_discrete,
    log_density,
    support,
    support_values,
)
from ..inputs.distributions import U_MIN
from ..inputs.priors import PriorSet
from ..inputs.sampling import Copula, sample_drivers

# Draws sampled at once for the ratios: bounds memory to a few tens of MB.
_ROWS_PER_BLOCK = 131_072


class NeedsFullRun(SimcoreError):
    """The change cannot be had by reweighting the run's draws (exit 2: say how instead)."""


def changed_drivers(base: PriorSet, target: PriorSet) -> list[str]:
    # Compared by their fields: a tabulated family caches its ppf table among its attributes.
    return [name for name in base.drivers
            if target.drivers[name].dist.model_dump() != base.drivers[name].dist.model_dump()]


def refuse_unreachable(base: PriorSet, target: PriorSet, changed: list[str]) -> None:
    """NeedsFullRun when the target prior can draw what the base prior could not."""
    copula_names = {n for pair in base.correlations for n in pair}
    for name in changed:
        old, new = base.drivers[name].dist, target.drivers[name].dist
        why = None
        if old.is_constant or new.is_constant:
            why = "is fixed in one of the two prior sets: no stored draw has its new value"
        elif is_discrete(old) != is_discrete(new):
            why = "changes between a discrete and a continuous family"
        elif is_discrete(new):
            extra = support_values(new) - support_values(old)
            if extra:
                why = (f"takes {sorted(extra)[0]:g}, a value the run's prior never draws")
            elif name in copula_names:
                why = "is discrete and correlated: its copula density is not defined"
        else:
            (old_low, old_high), (new_low, new_high) = support(old), support(new)
            if new_low < old_low or new_high > old_high:
                why = (f"has density from {new_low:.4g} to {new_high:.4g}, beyond the run's "
                       f"prior ({old_low:.4g} to {old_high:.4g})")
        if why:
            raise NeedsFullRun(f"drivers.{name} {why}; reweighting cannot reach it: run the "
                               "what-if afresh (simcore run on a scenario file, e.g. from "
                               "--save-scenario)")


def _copula_log_density(priors: PriorSet, copula: Copula, values: dict) -> np.ndarray:
    z = [special.ndtri(np.clip(cdf(priors.drivers[n].dist, values[n]), U_MIN, 1.0 - U_MIN))
         for n in copula.names]
    return gaussian_copula_log_density(z, copula.cholesky)


def log_ratios(base: PriorSet, target: PriorSet, draws: int, seed: int) -> np.ndarray:
    """log(target density / base density) of every draw of a run of ``base`` (draws
    regenerated from the seed; elementwise sums in driver order: chunk- and thread-free)."""
    changed = changed_drivers(base, target)
    copula = Copula.from_priors(base)
    with_copula = copula is not None and any(n in copula.names for n in changed)
    # Only the drivers the ratios read (each driver's draws come from its own stream, so the
    # others need not be drawn), plus every correlated one the copula mixes them with.
    needed = set(changed) | set(copula.names if copula is not None else ())
    order = tuple(n for n in base.drivers if n in needed)
    out = np.empty(draws)
    for start in range(0, draws, _ROWS_PER_BLOCK):
        stop = min(start + _ROWS_PER_BLOCK, draws)
        values = sample_drivers(base, seed, start, stop, copula=copula, order=order)
        total = np.zeros(stop - start)
        with np.errstate(invalid="ignore"):
            for name in changed:
                total += (log_density(target.drivers[name].dist, values[name])
                          - log_density(base.drivers[name].dist, values[name]))
            if with_copula:
                total += (_copula_log_density(target, copula, values)
                          - _copula_log_density(base, copula, values))
        out[start:stop] = np.where(np.isnan(total), -np.inf, total)
    return out


def reweighting_weights(base: PriorSet, target: PriorSet, draws: int, seed: int,
                        resample: bool, settings: list[str]) -> tuple[Weights, dict]:
    """PSIS weights turning a run of ``base`` into one of ``target``, and the manifest's
    ``reweighting`` summary; NeedsFullRun when they cannot (see the module's rules)."""
    changed = changed_drivers(base, target)
    if not changed:
        raise NeedsFullRun("--set changes no driver's distribution: nothing to reweight")
    refuse_unreachable(base, target, changed)
    try:
        weights = importance_weights(log_ratios(base, target, draws, seed))
    except ValueError:
        raise NeedsFullRun("no draw of the run has a positive density under the changed "
                           "priors; run the what-if afresh") from None
    limit = khat_limit(draws)
    summary = {**weights.summary(), "khat_limit": round(limit, 4), "settings": list(settings),
               "changed_drivers": changed, "resampled_despite_khat": not weights.trusted(limit)}
    if not weights.trusted(limit) and not resample:
        raise NeedsFullRun(
            f"Pareto k-hat {weights.khat_text} above {limit:.2f} and weights up to "
            f"{weights.max_weight_ratio:.0f}x their mean: too few of the run's "
            f"{draws:,} draws carry the changed priors' mass (effective sample size "
            f"{weights.ess:,.0f}); run the what-if afresh (--save-scenario writes its prior "
            "file), or pass --resample to go on anyway")
    if not math.isfinite(weights.ess) or weights.ess <= 0:
        raise NeedsFullRun("the reweighted draws have no effective sample; run afresh")
    return weights, summary


def base_of(run_dir, manifest: dict, copies) -> PriorSet:
    """The prior set a reweighted run's draws were made with: the file its what-if extends
    (the next-to-last of its prior copies)."""
    from ..inputs.priors import load_priors
    from ..model import MODEL_DRIVERS

    if len(copies) < 2:
        raise SimcoreError(f"{run_dir}: a reweighted run without the prior file it reweights")
    return load_priors(copies[-2], required=set(MODEL_DRIVERS))


def save_scenario(base: PriorSet, manifest: dict, settings, path) -> None:
    """Write the what-if as a prior file at ``path`` that extends the run's own prior file
    where it was read from (checked unchanged since the run)."""
    import hashlib
    import os
    from pathlib import Path

    from ..inputs.whatif import scenario_text
    from ..stored.publish import write_bytes_atomic

    original = Path(manifest["priors_path"])
    recorded = manifest["prior_files"][-1]["sha256"]
    try:
        current = hashlib.sha256(original.read_bytes()).hexdigest()
    except OSError:
        current = None
    if current != recorded:
        raise SimcoreError(f"--save-scenario: {original} (the run's prior file) is missing or "
                           "changed since the run; a scenario extending it would not "
                           "reproduce this what-if")
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise SimcoreError(f"--save-scenario: {path} already exists; choose another path")
    root = next((p for p in original.resolve().parents if p.name == "priors"),
                original.resolve().parent)
    if not path.resolve().parent.is_relative_to(root):
        raise SimcoreError(f"--save-scenario: {path} must be inside {root}, the folder tree of "
                           "the run's prior file (a scenario's extends may not leave it)")
    extends = Path(os.path.relpath(original.resolve(), path.resolve().parent)).as_posix()
    write_bytes_atomic(path, scenario_text(base, settings, extends).encode("utf-8"),
                       replace=False)


def reweighted_run(run_dir, setting_texts, out, force: bool, resample: bool,
                   with_charts: bool, scenario_path=None):
    """Reweight the run in ``run_dir`` to the priors changed by ``setting_texts`` and write
    the result as a run directory ``out``. Returns (the result, the base prior set)."""
    from pathlib import Path

    from ..inputs.whatif import parse_setting, whatif_priors
    from ..model import MODEL_DRIVERS
    from ..run import engine
    from ..run.observed import ObservationPoints
    from ..stored import observation_files, store
    from ..stored.manifest import read_manifest, run_priors
    from .pipeline import finish_run

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    for key, what in (("conditioning", "conditioned"), ("reweighting", "reweighted"),
                      ("until_mcse", "--until-mcse")):
        if manifest.get(key):
            raise SimcoreError(f"{run_dir}: a {what} run cannot be reweighted; reweight a plain "
                               "run of the same priors")
    base, _ = run_priors(run_dir, manifest)
    settings = [parse_setting(text, base.drivers) for text in setting_texts]
    target = whatif_priors(base, settings, required=set(MODEL_DRIVERS))
    if scenario_path is not None:
        save_scenario(base, manifest, settings, scenario_path)
    store.check_run_dir(out, force)
    draws, seed, chunk_size = manifest["draws"], manifest["seed"], manifest["chunk_size"]
    weights, summary = reweighting_weights(base, target, draws, seed, resample,
                                           [s.text for s in settings])
    scored = observation_files.load_copies(run_dir, manifest.get(observation_files.MANIFEST_KEY))
    points = None if scored is None else ObservationPoints.for_priors(scored, target)
    from ..analysis.sensitivity import GIVEN_DATA_DRAWS
    stored_paths = manifest["stored_paths"]
    with store.new_run(out, target, draws, force) as writer:
        result = engine.run_forecast(base, draws, seed, chunk_size,
                                     max(stored_paths, GIVEN_DATA_DRAWS), sink=writer.sink,
                                     observe=points, source_draws=weights.source_draws())
        result.priors = target
        result.stored_paths = stored_paths
        result.reweighting = {**summary, "base_run": str(run_dir)}
        finish_run(writer, result, with_charts=with_charts)
    return result, base
