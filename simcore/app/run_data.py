"""What a run brings beside its priors (app level): the observations it ranks itself against,
an optional conditioning on observations, and the look-ahead check of its prior sources.
``simcore run`` and ``simcore verify`` prepare a run through here, so both do the same."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.conditioning import khat_text
from ..analysis.scoring import as_of_flags
from ..base.errors import SimcoreError
from ..base.limits import MAX_CSV_BYTES
from ..inputs.lookahead import late_sources
from ..inputs.observations import load_observations
from ..run.observed import ObservationPoints
from ..stored import contained, observation_files
from ..stored.manifest import prior_copies
from .conditioned import CONDITION_COPIES, weights_for
from .reweight import base_of, reweighting_weights


@dataclass
class RunData:
    points: ObservationPoints | None = None
    source_draws: np.ndarray | None = None
    conditioning: dict | None = None
    condition_files: dict = field(default_factory=dict)
    # A reweighted run's draws come from this prior set (the one its what-if extends).
    proposal: object | None = None
    warnings: list[str] = field(default_factory=list)

    def attach(self, result, staging: Path | None = None) -> None:
        """Record the conditioning on the result (manifest) and copy its observation files
        into the run being written."""
        if self.conditioning is None:
            return
        summary = dict(self.conditioning)
        if staging is not None:
            summary["files"] = observation_files.copy_files(self.condition_files, staging,
                                                            CONDITION_COPIES)
        result.conditioning = summary

    def report_lines(self, result, run_dir: Path) -> list[str]:
        """Lines for the terminal answer: the conditioning and the as-of flags (from the
        written run's observations.csv: the event times of a streamed run are closed by
        now)."""
        lines = []
        if self.conditioning is not None:
            c = self.conditioning
            lines.append(f"\nConditioned on {len(c['observations'])} observations: Pareto "
                         f"k-hat {khat_text(c['khat'])} (limit {c['khat_limit']:.2f}), effective "
                         f"sample size {c['ess']:,.0f} of {c['draws']:,} "
                         f"({c['excluded_by_constraints']:,} worlds ruled out); multiply "
                         f"every MC error above by {c['mc_error_factor']:.2f}")
        if result.observation_points is not None:
            text = contained.read_bytes(run_dir, observation_files.TABLE, MAX_CSV_BYTES)
            table = pd.read_csv(io.BytesIO(text), keep_default_na=False, na_values=[""])
            flags = as_of_flags(table)
            lines.append(f"\nObservations: {len(table)} ranked in this run "
                         f"(observations.csv); {len(flags)} dated before as_of fall outside "
                         "the run's as-of 90% band" + (":" if flags else "."))
            lines += [f"  ! {line}" for line in flags]
        return lines


def prepare(priors, draws: int, seed: int, chunk_size: int, observations: Path | None,
            no_observations: bool, condition: Path | None, resample: bool,
            until_mcse: float | None = None,
            default_observations: Path | None = None) -> RunData:
    data = RunData(warnings=[s.text(priors.meta.as_of) for s in late_sources(priors)])
    path = observations
    if path is None and default_observations is not None and default_observations.is_file():
        path = default_observations
    if path is not None and not no_observations:
        data.points = ObservationPoints.for_priors(load_observations(path), priors)
    if condition is not None:
        if until_mcse is not None:
            raise SimcoreError("--condition and --until-mcse cannot be combined: the weights "
                               "need every draw first")
        conditioning = load_observations(condition)
        weights, data.conditioning = weights_for(priors, draws, seed, chunk_size,
                                                 conditioning, resample)
        if data.conditioning["resampled_despite_khat"]:
            data.warnings.append(
                f"--resample: Pareto k-hat {weights.khat_text} is above "
                f"{data.conditioning['khat_limit']:.2f}; the weights are used anyway and the "
                "run's bands may be unreliable")
        data.source_draws = weights.source_draws()
        data.condition_files = conditioning.contents
    return data


def prepare_stored(run_dir: Path, manifest: dict, priors) -> RunData:
    """The same preparation from what a run directory holds (``simcore verify``)."""
    data = RunData()
    scored = observation_files.load_copies(run_dir, manifest.get(observation_files.MANIFEST_KEY))
    if scored is not None:
        data.points = ObservationPoints.for_priors(scored, priors)
    conditioning = manifest.get("conditioning")
    if conditioning:
        observations = observation_files.load_copies(run_dir, conditioning.get("files"),
                                                     CONDITION_COPIES)
        if observations is None:
            raise SimcoreError(f"{run_dir}: a conditioned run without its observation copies")
        weights, _ = weights_for(priors, manifest["draws"], manifest["seed"],
                                 manifest["chunk_size"], observations, resample=True)
        data.source_draws = weights.source_draws()
    reweighting = manifest.get("reweighting")
    if reweighting:
        data.proposal = base_of(run_dir, manifest, prior_copies(run_dir, manifest))
        weights, _ = reweighting_weights(data.proposal, priors, manifest["draws"],
                                         manifest["seed"], resample=True,
                                         settings=list(reweighting.get("settings", [])))
        data.source_draws = weights.source_draws()
    return data
