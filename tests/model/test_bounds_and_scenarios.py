"""The baseline stays within every output's declared plausible range (spec.OUTPUT_SPECS), and
the shipped scenarios that should move Q7 do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simcore import model
from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, noise, sample_drivers
from simcore.model import spec

ROOT = Path(__file__).resolve().parents[2]
AS_OF = 2026.0 + 10.0 / 12.0
GRID = model.Grid(np.linspace(0.0, 20.0, 81), AS_OF)


def simulate(prior_file: Path, n: int, seed: int = 11):
    priors = load_priors(prior_file, required=set(model.MODEL_DRIVERS))
    drivers = sample_drivers(priors, seed, 0, n, Copula.from_priors(priors))
    clock = noise(seed, "free_regime_clock", model.MAX_REGIME_SWITCHES, 0, n)
    return model.simulate(drivers, GRID, clock)


@pytest.fixture(scope="module")
def baseline():
    return simulate(ROOT / "priors" / "baseline.toml", 20_000)


def test_the_baselines_1st_and_99th_percentiles_stay_in_every_plausible_range(baseline):
    """At every grid time (so at every year). 20,000 worlds put each percentile within ~0.3
    percentile points of its value; the ranges are physical, far from that noise."""
    trajectories, _ = baseline
    outside = []
    for output in spec.OUTPUT_SPECS:
        low, high = np.log2(output.plausible[0]), np.log2(output.plausible[1])
        for series in spec.series_names(output):
            p1, p99 = np.percentile(trajectories.log2[series], [1.0, 99.0], axis=0)
            for k in np.flatnonzero((p1 < low) | (p99 > high)):
                outside.append(f"{series} at {GRID.years[k]:.2f}: 1st-99th percentile "
                               f"{2.0 ** p1[k]:.3g}-{2.0 ** p99[k]:.3g}, plausible "
                               f"{output.plausible[0]:g}-{output.plausible[1]:g} "
                               f"({output.plausible_why})")
    assert not outside, "\n".join(outside[:10])


def p_by_year(events: dict[str, np.ndarray], name: str, profile: int | None) -> np.ndarray:
    times = events[name] if profile is None else events[name][:, profile]
    ends = np.arange(2027, 2046) + 1.0
    return (times[:, None] < ends[None, :]).mean(axis=0)


# scenario -> the Q7 curves it must move: (event, profile index or None)
MOVES = {
    "capability_stall": [(m, None) for m, _, _ in spec.MILESTONES],
    "capability_breakthrough": [(m, None) for m, _, _ in spec.MILESTONES],
    "ad_funded_free_tier": [(f, 0) for _, f, _ in spec.MILESTONES if f is not None],
}


@pytest.mark.parametrize("scenario", sorted(MOVES))
def test_scenarios_move_the_q7_curves(scenario):
    """With the same seed, each scenario's P(milestone by the end of each year) differs from
    the baseline's by more than 5 points in some year (sampling noise at 4,000 worlds with
    shared random numbers is well under 1 point)."""
    n = 4_000
    _, base = simulate(ROOT / "priors" / "baseline.toml", n)
    _, other = simulate(ROOT / "priors" / "scenarios" / f"{scenario}.toml", n)
    for event, profile in MOVES[scenario]:
        shift = np.abs(p_by_year(other, event, profile) - p_by_year(base, event, profile))
        assert shift.max() > 0.05, f"{scenario} leaves {event} (profile {profile}) in place"
