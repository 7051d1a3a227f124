"""The model's two backends (numpy reference, compiled kernel) agree over the whole domain of
every driver, and each computes everything the spec declares."""

from __future__ import annotations

import math

import numpy as np
import priorfiles as pf
import pytest
import strategies
from hypothesis import given, settings

from simcore import model
from simcore.model import BACKENDS, kernel, reference, spec

# How far the backends may differ, in log2. They compute the same sums in different ways: in
# other orders (e.g. lg level − (lg allowed − lg count) against lg level + lg count − lg
# allowed), multiplying by a reciprocal where the other divides. Each such step rounds a term
# by at most eps relative to the term, so the two results differ by a small multiple of eps
# times the magnitude of the terms summed, which is not always visible in the result: where two
# terms of 1e100 cancel to 1e98 (a consumer device doubling every 1e-100 years against an open
# model 1e100 doublings behind), the result carries the rounding of 1e100. So the tolerance has
# two parts, each a bound on such rounding:
#   * 32 eps·S, S = 1 + the largest |log2| of any series, gap or driver at that draw and time:
#     sums of at most ~12 terms, ~2 extra roundings per term in either backend, <= 24 eps·S;
#   * 8 × the largest change of the reference's result when every driver is moved by 4 eps
#     relative, up or down by a fixed random sign (8 sign patterns): this is how much rounding
#     at the level of the terms moves the result, cancellations included (a statistical
#     condition estimate: terms scale with the drivers, roundings are a few eps of the terms).
#     It also widens the tolerance where a branch (the free tier going unlimited, a regime
#     switch) flips within rounding: there the backends may rightly disagree.
# Observed: the first part alone is under 2 eps·S wherever no large terms cancel.
EPS = np.finfo(float).eps
REL_TOLERANCE = 32 * EPS
NUDGE = 4 * EPS
SIGN_PATTERNS = np.random.default_rng(15).choice([-1.0, 1.0], size=(8, len(model.DRIVER_ORDER)))
# Event times interpolate inside a step, t_{k-1} + f·Δt: one more rounding of a decimal year.
TIME_SLACK = 1e-9


def magnitude(trajectories: model.Trajectories, drivers: dict[str, np.ndarray]) -> np.ndarray:
    """S per draw and grid time (n, T)."""
    values = np.stack([*trajectories.log2.values(), *trajectories.gaps.values()])
    largest = np.where(np.isfinite(values), np.abs(values), 0.0).max(axis=0)
    with np.errstate(divide="ignore"):
        logs = [np.abs(np.log2(v)) for v in drivers.values() if np.all(v > 0.0)]
    logged = np.max(np.where(np.isfinite(logs), logs, 0.0), axis=0)
    return 1.0 + np.maximum(largest, logged[:, None])


def rounding_sensitivity(reference_result: model.Trajectories, drivers: dict[str, np.ndarray],
                         grid: model.Grid, clock: np.ndarray) -> np.ndarray:
    """The largest change (n, T) of any series or gap when the drivers move by NUDGE (one
    reference call for every sign pattern: the worlds stacked)."""
    patterns = len(SIGN_PATTERNS)
    nudged = {name: np.concatenate([drivers[name] * (1.0 + NUDGE * sign) for sign in signs])
              for name, signs in zip(model.DRIVER_ORDER, SIGN_PATTERNS.T, strict=True)}
    moved, _ = model.simulate(nudged, grid, np.tile(clock, (patterns, 1)), backend="reference")
    base = np.stack([*reference_result.log2.values(), *reference_result.gaps.values()])
    other = np.stack([*moved.log2.values(), *moved.gaps.values()])
    other = other.reshape(other.shape[0], patterns, *base.shape[1:])
    with np.errstate(invalid="ignore"):
        change = np.where(np.isfinite(base[:, None]) & np.isfinite(other),
                          np.abs(other - base[:, None]), 0.0)
    return change.max(axis=(0, 1))


def assert_log2_agree(name: str, ref: np.ndarray, ker: np.ndarray, tolerance: np.ndarray) -> None:
    assert not np.isnan(ref).any() and not np.isnan(ker).any(), f"{name}: NaN"
    infinite = ~np.isfinite(ref) | ~np.isfinite(ker)
    assert np.array_equal(ref[infinite], ker[infinite]), f"{name}: infinities differ"
    excess = np.where(infinite, 0.0, np.abs(ref - ker) - tolerance)
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess[worst] <= 0.0, (
        f"{name}: reference {ref[worst]!r}, kernel {ker[worst]!r} at draw/time {worst}, "
        f"tolerance {tolerance[worst]:.3g}")


def fractions(gaps: list[np.ndarray], k: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Each condition's crossing fraction in step (k-1, k] at its least and at its most when
    every gap may move by ``delta`` (a fraction b / (b - a) grows with both ends b, a; a
    condition that may be unmet at k may cross as late as the step's end)."""
    low, high = [], []
    for gap in gaps:
        before, after = gap[k - 1], gap[k]
        low.append((before - delta) / (before - after) if before - delta > 0.0 else 0.0)
        if after + delta >= 0.0:
            high.append(1.0 if before + delta > 0.0 else 0.0)
        else:
            high.append(min((before + delta) / (before - after), 1.0)
                        if before + delta > 0.0 else 0.0)
    return np.array(low), np.array(high)


def assert_event_agrees(name: str, gaps: list[np.ndarray], delta: np.ndarray,
                        years: np.ndarray, time: float, code: int | None,
                        ref_code: int | None) -> None:
    """The kernel's ``time`` (and binding ``code``) of one draw are what the reference's gaps
    give once every gap may move by its tolerance ``delta`` (T,): first crossings are monotone
    in the gaps, so the time lies between those of gaps - delta and gaps + delta; a binding
    code differing from the reference's names a condition that could have crossed last."""
    earliest = reference.first_crossing([g[None, :] - delta for g in gaps], years)[0][0]
    latest = reference.first_crossing([g[None, :] + delta for g in gaps], years)[0][0]
    assert earliest - TIME_SLACK <= time <= latest + TIME_SLACK, (
        f"{name}: kernel time {time!r} outside [{earliest!r}, {latest!r}] that the reference's "
        "gaps allow within rounding")
    if code is None or code == ref_code:
        return
    # A tie within rounding: say how, and check that it is one.
    if time == years[0]:
        assert code == model.ALREADY_MET and earliest == years[0], f"{name}: code {code}"
    elif math.isinf(time):
        last = np.array([g[-1] for g in gaps])
        assert last[code] + 2 * delta[-1] >= last.max(), (
            f"{name}: censored, kernel names condition {code} (gap {last[code]!r} at the "
            f"horizon), reference {ref_code} (gaps {last})")
    else:
        k = max(int(np.searchsorted(years, time, side="left")), 1)
        low, high = fractions(gaps, k, delta[k])
        assert code != model.ALREADY_MET and high[code] >= low.max(), (
            f"{name}: kernel names condition {code}, reference {ref_code}; crossing fractions "
            f"at least {low}, at most {high}")


def event_column(events: dict[str, np.ndarray], name: str | None, p: int,
                 profile: str | None) -> np.ndarray | None:
    if name is None:
        return None
    return events[name] if profile is None else events[name][:, p]


def assert_backends_agree(drivers: dict[str, np.ndarray], t: np.ndarray, as_of_year: float,
                          clock: np.ndarray) -> None:
    grid = model.Grid(t, as_of_year)
    ref, ref_events = model.simulate(drivers, grid, clock, backend="reference")
    ker, ker_events = model.simulate(drivers, grid, clock, backend="kernel")
    values = model.driver_values(drivers)
    tolerance = (REL_TOLERANCE * magnitude(ref, values)
                 + 8.0 * rounding_sensitivity(ref, values, grid, clock))
    for series in model.SERIES:
        assert_log2_agree(series, ref.log2[series], ker.log2[series], tolerance)
    for requirement in model.REQUIREMENTS:
        assert_log2_agree(requirement, ref.gaps[requirement], ker.gaps[requirement], tolerance)
    for event in spec.EVENT_SPECS:
        profiles = model.PROFILES if spec.per_profile(event) else (None,)
        for p, profile in enumerate(profiles):
            gaps = reference.condition_gaps(event, ref, values, profile)
            times = event_column(ker_events, event.name, p, profile)
            codes = event_column(ker_events, event.binding, p, profile)
            ref_codes = event_column(ref_events, event.binding, p, profile)
            for i in range(times.size):
                assert_event_agrees(
                    f"{event.name}/{profile or 'all'} draw {i}", [g[i] for g in gaps],
                    tolerance[i], grid.years, float(times[i]),
                    None if codes is None else int(codes[i]),
                    None if ref_codes is None else int(ref_codes[i]))


@settings(max_examples=150, deadline=None)
@given(inputs=strategies.model_inputs())
def test_the_backends_agree_over_the_whole_domain_of_every_driver(inputs):
    assert_backends_agree(*inputs)


def test_a_binding_tie_within_rounding_is_accepted_and_a_real_difference_is_not():
    """The event check itself: a code naming a condition that crosses in the same step at the
    same fraction passes, one naming a condition that crossed earlier fails."""
    years = np.array([0.0, 1.0, 2.0])
    tied = [np.array([1.0, 0.5, -0.5]), np.array([2.0, 1.0, -1.0])]   # both cross at 1.5
    delta = np.full(3, 1e-12)
    assert_event_agrees("tie", tied, delta, years, 1.5, code=1, ref_code=0)
    earlier = [np.array([1.0, 0.5, -0.5]), np.array([2.0, -1.0, -2.0])]   # 1.5 and 0.67
    with pytest.raises(AssertionError, match="crossing fractions"):
        assert_event_agrees("no tie", earlier, delta, years, 1.5, code=1, ref_code=0)
    with pytest.raises(AssertionError, match="outside"):
        assert_event_agrees("late", earlier, delta, years, 1.6, code=0, ref_code=0)


# --- Each backend computes everything the spec declares -------------------------------------

def active_world() -> dict[str, np.ndarray]:
    """A world in which every mechanism is at work within 20 years: a stall, a withdrawal and
    relaunch of free tiers (regime clocks at 0.5), the laptop path, the free tier lifted to the
    user's worth and then capped, rent down to its energy floor, compute and error rates down
    to theirs, the coherent shot saturating, every milestone reached, a free user later, for
    want of time."""
    return {name: np.array([value]) for name, value in {
        **pf.POINT_VALUES, "stall_occurs": 1.0, "stall_start_years": 5.0,
        "free_withdrawal_hazard": 0.1, "free_relaunch_hazard": 0.3, "npu_feasible_years": 12.0,
        "hw_slowdown_start_years": 4.0, "gpu_energy_usd_per_hour": 0.5,
        "energy_efficiency_doubling_years": 6.0, "required_long_take_seconds": 20.0,
        "longest_unsplittable_subtask_hours": 10.0, "tolerated_visible_breaks": 100.0,
        "cut_break_probability_floor": 1e-3, "tolerated_dialogue_errors": 100.0,
        "free_user_days_threshold": 0.01, "laptop_h100_equiv": 0.1}.items()}


GRID = model.Grid(np.linspace(0.0, 20.0, 81), 2026.0 + 10.0 / 12.0)
FILES = {"reference": "simcore/model/reference.py", "kernel": "simcore/model/kernel.py"}


def test_the_kernel_writes_every_declared_series_and_gap():
    values = model.driver_values(active_world())
    x = np.array([values[name][0] for name in model.DRIVER_ORDER])
    traj = np.full((spec.N_SERIES, GRID.t.size), np.nan)
    gaps = np.full((kernel.GAP_ROWS, GRID.t.size), np.nan)
    kernel._simulate_draw(x, GRID.t, np.full(spec.MAX_REGIME_SWITCHES, 0.5), traj, gaps)
    for name, row in spec.SERIES_ROW.items():
        assert not np.isnan(traj[row]).any(), (
            f"output {name} is declared in simcore/model/spec.py but the kernel backend does "
            f"not compute it: add its equation to {FILES['kernel']}")
    for name, row in spec.REQUIREMENT_ROW.items():
        assert not np.isnan(gaps[row]).any(), (
            f"requirement {name} is declared in simcore/model/spec.py but the kernel backend "
            f"does not compute its gap: add its equation to {FILES['kernel']}")


def test_the_reference_computes_every_declared_series_and_gap():
    trajectories, _ = model.simulate(active_world(), GRID, backend="reference")
    for kind, declared, computed in (("output", spec.SERIES, trajectories.log2),
                                     ("requirement", spec.REQUIREMENTS, trajectories.gaps)):
        for name in declared:
            assert name in computed, (
                f"{kind} {name} is declared in simcore/model/spec.py but the reference backend "
                f"does not compute it: add its equation to {FILES['reference']}")
        assert set(computed) == set(declared), f"{kind}s computed but not declared"


def nudged(name: str, value: float) -> float:
    """Another valid value of the driver, far enough to change what it drives (1 for an
    optional driver at a default of 0 or infinity, which switches its mechanism off)."""
    if name == "stall_occurs":
        return 1.0 - value
    if value == 0.0 or math.isinf(value):
        return 1.0
    domain = spec.DRIVER_DOMAINS[name]
    return value * (0.5 if domain.high < math.inf else 2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_declared_driver_is_read_by_each_backend(backend):
    world = active_world()
    base_traj, base_events = model.simulate(world, GRID, backend=backend)
    for name in model.DRIVER_ORDER:
        value = world[name][0] if name in world else model.DRIVER_DEFAULTS[name]
        other = {**world, name: np.array([nudged(name, value)])}
        traj, events = model.simulate(other, GRID, backend=backend)
        changed = [not np.array_equal(a[k], b[k])
                   for a, b in ((base_traj.log2, traj.log2), (base_traj.gaps, traj.gaps),
                                (base_events, events)) for k in a]
        assert any(changed), (
            f"driver {name} is declared in simcore/model/spec.py but changing it changes nothing "
            f"the {backend} backend computes: use it in its equation in {FILES[backend]}")
