"""The model's equations: closed-form checks on point-valued worlds and monotonicity properties,
each run against both backends (the ``evaluate`` fixture: the numpy reference and the compiled
kernel through engine.evaluate)."""

import math
from pathlib import Path

import numpy as np
import priorfiles as pf
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simcore import model
from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, noise, sample_drivers
from simcore.model import (
    ALREADY_MET,
    BINDING_LABELS,
    FILM_TIME_THRESHOLDS_DAYS,
    MODEL_DRIVERS,
    PROFILES,
    spec,
)

ROOT = Path(__file__).resolve().parents[2]
AS_OF = 2026.0 + 10 / 12
T_REL = np.linspace(0.0, 20.0, 81)


def point(**overrides) -> dict[str, np.ndarray]:
    values = {**pf.POINT_VALUES, **overrides}
    return {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in values.items()}


# A world where only two exponential trends move the free user's film time: the quota follows
# cost (elasticity 1), cost falls with algorithms and hardware, nothing else interferes.
PURE_TRENDS = dict(overgeneration_today=1.0, rental_premium=1.0, hw_slowdown_start_years=1e3,
                   compute_per_video_second_floor=1e-300, gpu_energy_usd_per_hour=1e-300,
                   stall_occurs=0.0, free_passthrough_elasticity=1.0,
                   free_user_value_usd_per_month=1e-300, free_daily_use_cap_seconds=1e300,
                   free_withdrawal_hazard=0.0, gaming_pc_h100_equiv=1e-30, npu_feasible_years=1e3)


@settings(max_examples=40, deadline=None)
@given(allowance=st.floats(1.0, 1e4), alg=st.floats(0.2, 5.0), hw=st.floats(0.5, 6.0))
def test_single_exponential_trend_crosses_at_the_analytic_time(evaluate, allowance, alg, hw):
    d = point(**PURE_TRENDS, free_allowance_today=allowance, alg_halving_years=alg,
              hw_doubling_years=hw)
    events, paths = evaluate(d, T_REL, AS_OF)
    days_today = 5400.0 / allowance
    rate = 1.0 / alg + 1.0 / hw      # doublings of the daily allowance per year
    np.testing.assert_allclose(paths["film_days/no_hardware"][0],
                               days_today * 2.0 ** (-T_REL * rate), rtol=1e-10)
    for label, days in FILM_TIME_THRESHOLDS_DAYS.items():
        t_cross = math.log2(days_today / days) / rate
        got = events[f"free_film_within_{label}"][0]
        if t_cross <= 0:
            expected = AS_OF
        elif t_cross > 20.0:
            expected = math.inf
        else:
            expected = AS_OF + t_cross
        assert got[0] == pytest.approx(expected, rel=1e-12, abs=1e-9), label
        assert got[1] == got[0]   # the gaming PC is negligible here


# A world where the fully automatic milestone's three capability gaps are straight lines: no
# judge (recall 0 that never improves: a unit is bad with its raw probability), no floors or
# saturation, no dialogue, no budget limit.
STRAIGHT_GAPS = dict(stall_occurs=0.0, film_length_seconds=1e12,
                     coherent_shot_saturation_seconds=1e12, coherent_shot_seconds_today=20.0,
                     coherent_shot_doubling_years=1.0, judge_recall_today=0.0,
                     judge_miss_halving_years=1e300,
                     cut_break_probability_today=0.1, cut_break_halving_years=2.0,
                     cut_break_probability_floor=1e-300, cuts_per_feature=1000.0,
                     agent_horizon_hours_today=10.0, agent_doubling_years=0.5,
                     agent_reliability_factor=1.0, dialogue_error_probability_today=1e-9,
                     individual_budget_usd=1e300)


@settings(max_examples=40, deadline=None)
@given(shot=st.floats(0.1, 19.0), consistency=st.floats(0.1, 19.0), agent=st.floats(0.1, 19.0))
def test_milestone_is_the_last_requirement_met_and_names_it(evaluate, shot, consistency, agent):
    assume(min(abs(shot - consistency), abs(shot - agent), abs(consistency - agent)) > 1e-3)
    d = point(**STRAIGHT_GAPS, required_long_take_seconds=20.0 * 2.0 ** shot,
              tolerated_visible_breaks=100.0 * 2.0 ** (-consistency / 2.0),
              longest_unsplittable_subtask_hours=10.0 * 2.0 ** (agent / 0.5))
    events, _ = evaluate(d, T_REL, AS_OF)
    crossings = {"long_take": shot, "consistency": consistency, "director_agent": agent}
    last = max(crossings, key=crossings.get)
    assert events["novel_to_movie_possible"][0] == pytest.approx(AS_OF + crossings[last],
                                                                 abs=1e-9)
    assert BINDING_LABELS[events["novel_to_movie_binding"][0] - ALREADY_MET] == last


def test_coherent_shot_length_saturates_and_stops_at_the_film_length(evaluate):
    _, paths = evaluate(point(coherent_shot_doubling_years=0.1), T_REL, AS_OF)
    shot = paths["coherent_shot_seconds"][0]
    assert shot.max() == pytest.approx(pf.POINT_VALUES["coherent_shot_saturation_seconds"])
    assert shot[0] == pytest.approx(pf.POINT_VALUES["coherent_shot_seconds_today"])
    _, paths = evaluate(point(coherent_shot_doubling_years=0.1,
                              coherent_shot_saturation_seconds=1e9), T_REL, AS_OF)
    assert paths["coherent_shot_seconds"][0].max() == pytest.approx(
        pf.POINT_VALUES["film_length_seconds"])


def test_floors_hold(evaluate):
    """Error probabilities, compute and rent stop at their floors."""
    _, paths = evaluate(point(cut_break_halving_years=0.1, alg_halving_years=0.1,
                              hw_doubling_years=0.1), T_REL, AS_OF)
    assert paths["cut_break_probability"][0].min() == pytest.approx(
        pf.POINT_VALUES["cut_break_probability_floor"])
    assert paths["compute_per_video_second"][0].min() == pytest.approx(
        pf.POINT_VALUES["compute_per_video_second_floor"])
    rent_floor = pf.POINT_VALUES["gpu_energy_usd_per_hour"] / 3600.0
    ratio = paths["usd_per_gpu_second"][0] / pf.POINT_VALUES["price_markup"]
    assert ratio.min() >= rent_floor * 2.0 ** (-20.0 / pf.POINT_VALUES[
        "energy_efficiency_doubling_years"]) * (1 - 1e-12)


def test_the_free_tier_is_the_observed_one_today_then_capped(evaluate):
    """Today's cloud allowance is the observed one whatever a user is worth; once generation
    is cheap the user's worth lifts it, and the fair-use cap stops it."""
    for value in (0.01, 5.0, 1e6):
        _, paths = evaluate(point(free_user_value_usd_per_month=value, npu_feasible_years=1e3,
                                  free_withdrawal_hazard=0.0), T_REL, AS_OF)
        rate = paths["free_video_seconds_per_day/no_hardware"][0]
        assert rate[0] == pytest.approx(pf.POINT_VALUES["free_allowance_today"])
        assert rate.max() <= pf.POINT_VALUES["free_daily_use_cap_seconds"] * (1 + 1e-12)
    assert rate[-1] == pytest.approx(pf.POINT_VALUES["free_daily_use_cap_seconds"])


def test_requirements_met_today_and_never_met(evaluate):
    easy = dict(required_long_take_seconds=1.0, tolerated_visible_breaks=1e6,
                longest_unsplittable_subtask_hours=1e-3, tolerated_dialogue_errors=1e6,
                individual_budget_usd=1e12)
    events, _ = evaluate(point(**easy), T_REL, AS_OF)
    assert events["novel_to_movie_possible"][0] == AS_OF
    assert events["novel_to_movie_binding"][0] == ALREADY_MET
    events, _ = evaluate(point(stall_occurs=0.0, required_long_take_seconds=1e12), T_REL, AS_OF)
    for name, binding in (("novel_to_movie_possible", "novel_to_movie_binding"),
                          ("film_by_small_team", "small_team_binding"),
                          ("film_by_one_director", "one_director_binding")):
        assert events[name][0] == math.inf
        labels = spec.binding_labels(spec.EVENT_BY_NAME[name])
        assert labels[events[binding][0] - ALREADY_MET] == "long_take"


@pytest.fixture(scope="module")
def baseline_draws():
    priors = load_priors(ROOT / "priors" / "baseline.toml", required=set(MODEL_DRIVERS))
    n = 4000
    d = sample_drivers(priors, 5, 0, n, Copula.from_priors(priors))
    clock = noise(5, "free_regime_clock", model.MAX_REGIME_SWITCHES, 0, n)
    return d, clock


def test_the_backends_agree_on_the_baseline_draws(baseline_draws):
    """The baseline's own worlds (the property over the whole domain is in test_backends.py):
    trajectories to 1e-9 in log2, event times to 1e-9 years, the same binding codes."""
    d, clock = baseline_draws
    grid = model.Grid(T_REL, AS_OF)
    reference, ref_events = model.simulate(d, grid, clock, backend="reference")
    kernel, events = model.simulate(d, grid, clock, backend="kernel")
    for s in model.SERIES:
        np.testing.assert_allclose(kernel.log2[s], reference.log2[s], rtol=1e-9, atol=1e-9,
                                   err_msg=s)
    for name, values in ref_events.items():
        np.testing.assert_allclose(events[name], values, rtol=0, atol=1e-9, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(index=st.integers(0, 3999), factor=st.floats(1.0, 1000.0))
def test_a_larger_free_allowance_never_lengthens_film_days(evaluate, baseline_draws, index,
                                                          factor):
    d, clock = baseline_draws
    one = {k: v[index:index + 1] for k, v in d.items()}
    more = {**one, "free_allowance_today": one["free_allowance_today"] * factor}
    _, base = evaluate(one, T_REL, AS_OF, clock[index:index + 1])
    _, bigger = evaluate(more, T_REL, AS_OF, clock[index:index + 1])
    for profile in PROFILES:
        s = f"film_days/{profile}"
        assert np.all(bigger[s] <= base[s] * (1 + 1e-12))


STRONGER = {  # driver -> multiplier that makes a requirement harder
    "required_long_take_seconds": 4.0, "longest_unsplittable_subtask_hours": 4.0,
    "novel_adaptation_hours": 4.0, "agent_reliability_factor": 4.0,
    "tolerated_visible_breaks": 0.25, "tolerated_dialogue_errors": 0.25,
    "individual_budget_usd": 0.01, "team_budget_usd": 0.01, "cuts_per_feature": 3.0,
    "max_takes_per_unit": 0.25, "director_hours_per_piece": 4.0,
}
MILESTONE_EVENTS = ("novel_to_movie_possible", "novel_to_movie_free_user", "film_by_small_team",
                    "film_by_one_director", "film_by_one_director_free_user")


@settings(max_examples=30, deadline=None)
@given(index=st.integers(0, 3999), driver=st.sampled_from(sorted(STRONGER)))
def test_stronger_requirements_never_make_the_milestone_earlier(evaluate, baseline_draws, index,
                                                                driver):
    d, clock = baseline_draws
    one = {k: v[index:index + 1] for k, v in d.items()}
    harder = {**one, driver: one[driver] * STRONGER[driver]}
    base, _ = evaluate(one, T_REL, AS_OF, clock[index:index + 1])
    hard, _ = evaluate(harder, T_REL, AS_OF, clock[index:index + 1])
    for event in MILESTONE_EVENTS:
        assert np.all(hard[event] >= base[event] - 1e-9), event


@settings(max_examples=30, deadline=None)
@given(index=st.integers(0, 3999), start=st.floats(0.0, 20.0), factor=st.floats(1.0, 20.0))
def test_a_stall_never_makes_anything_earlier(evaluate, baseline_draws, index, start, factor):
    d, clock = baseline_draws
    one = {k: v[index:index + 1] for k, v in d.items()}
    calm = {**one, "stall_occurs": np.zeros(1)}
    stalled = {**one, "stall_occurs": np.ones(1), "stall_start_years": np.full(1, start),
               "stall_slowdown_factor": np.full(1, factor)}
    base, _ = evaluate(calm, T_REL, AS_OF, clock[index:index + 1])
    slow, _ = evaluate(stalled, T_REL, AS_OF, clock[index:index + 1])
    for name, values in base.items():
        if name not in spec.BINDING_COLUMNS:
            assert np.all(slow[name] >= values - 1e-9), name


def test_event_order_and_free_user_after_possible(evaluate, baseline_draws):
    d, clock = baseline_draws
    events, _ = evaluate(d, T_REL, AS_OF, clock)
    labels = list(FILM_TIME_THRESHOLDS_DAYS)      # 1y, 1mo, 1w, 1d, 1h, 10min
    for longer, shorter in zip(labels, labels[1:], strict=False):
        assert np.all(events[f"free_film_within_{shorter}"]
                      >= events[f"free_film_within_{longer}"])
    for milestone, free_user, _ in spec.MILESTONES:
        if free_user is not None:
            assert np.all(events[free_user] >= events[milestone][:, None])
