"""Values at as_of do not depend on how the future unfolds: changing any pace, halving or
doubling time, slowdown, start date or hazard leaves every output and every requirement gap at
as_of unchanged, in both backends (docs/model.md 2.9)."""

from __future__ import annotations

import numpy as np
import priorfiles as pf
import strategies
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import model
from simcore.model import BACKENDS, spec

GRID = model.Grid(np.linspace(0.0, 20.0, 81), 2026.0 + 10.0 / 12.0)
BASE = {name: np.array([value]) for name, value in pf.POINT_VALUES.items()}
# npu_feasible_years is a start date too, but a date at or before as_of means "feasible today":
# only later dates leave today alone.
FUTURE_DATES = {"npu_feasible_years": st.floats(1e-9, 1e6)}
CHANGES = st.lists(st.sampled_from([*spec.FUTURE_TREND_DRIVERS, *FUTURE_DATES]),
                   min_size=1, max_size=6, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({
        name: FUTURE_DATES.get(name, strategies.domain_values(spec.DRIVER_DOMAINS[name]))
        for name in names}))


def today(world, backend, clock):
    trajectories, _ = model.simulate(world, GRID, clock, backend=backend)
    return {name: values[:, 0] for kind in (trajectories.log2, trajectories.gaps)
            for name, values in kind.items()}


@settings(max_examples=60, deadline=None)
@given(changes=CHANGES, base_stalled=st.booleans(), clock=strategies.regime_clocks(1))
def test_future_trend_drivers_leave_as_of_unchanged(changes, base_stalled, clock):
    base = {**BASE, "stall_occurs": np.array([float(base_stalled)])}
    changed = {**base, **{name: np.array([value]) for name, value in changes.items()}}
    for backend in BACKENDS:
        before, after = today(base, backend, clock), today(changed, backend, clock)
        for name, value in before.items():
            assert np.array_equal(after[name], value), (
                f"{backend}: {name} at as_of moved from {value} to {after[name]} when "
                f"{sorted(changes)} changed")


def test_the_check_would_see_a_future_driver_leaking_into_today():
    """A driver that does set today's values (today's open-model compute) moves them."""
    other = {**BASE, "open_compute_per_video_second_today": np.array([7.0])}
    for backend in BACKENDS:
        before, after = today(BASE, backend, None), today(other, backend, None)
        assert not np.array_equal(before["free_video_seconds_per_day/gaming_pc"],
                                  after["free_video_seconds_per_day/gaming_pc"])
