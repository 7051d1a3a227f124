"""The model's reference backend: pure numpy, whole (draws x times) matrices at once.

This is the readable statement of the equations (docs/model.md states the same, and gives the
reasons); the compiled kernel (``kernel.py``) computes the same thing one draw at a time, and
tests check that the two agree over the whole domain of every driver. It is not used by runs:
its temporaries make it memory-bound (benchmarks/naive_reference.py times it).

Every quantity is computed as its base-2 logarithm on the time grid. All trends are
exponential in time, so log-quantities are piecewise linear (kinks at stalls, slowdowns,
ceilings and floors only), combined with sums, minima and maxima. That is cheap, exact
between kinks, and lets event times be interpolated linearly in log space. The exceptions are
generate-and-verify (``verified_error``) and the festival tier's cost, smooth but not linear in
log space: their crossings are interpolated within a step (docs/model.md, section 4).

Shapes: driver arrays are (n,), the grid ``t`` is (T,) in years since ``as_of``, and every
trajectory is (n, T).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import spec
from .interface import Grid, Trajectories, driver_values, regime_clock
from .spec import DAYS_PER_MONTH, SECONDS_PER_HOUR


def simulate(drivers: Mapping[str, np.ndarray], grid: Grid, clock: np.ndarray | None = None
             ) -> tuple[Trajectories, dict[str, np.ndarray]]:
    """Trajectories (base-2 logs) and event times of every draw (the interface of
    :mod:`simcore.model.interface`)."""
    d = driver_values(drivers)
    n = next(iter(d.values())).size
    trajectories = simulate_trajectories(d, np.asarray(grid.t, dtype=float),
                                         regime_clock(clock, n))
    return trajectories, find_events(trajectories, d, grid.years)


def stalled_years(t: np.ndarray, start: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Years of progress made by time ``t``: full pace before ``start``, 1/factor after it."""
    return np.minimum(t, start) + np.maximum(t - start, 0.0) / factor


def withdrawn_regime(t: np.ndarray, withdrawal_hazard: np.ndarray, relaunch_hazard: np.ndarray,
                     clock: np.ndarray) -> np.ndarray:
    """Whether free tiers are withdrawn at each grid time: a two-state Markov chain that starts
    'available' and alternates exponential sojourns with the two yearly hazards.

    ``clock``: (n, MAX_REGIME_SWITCHES) uniforms, one per sojourn.
    """
    hazards = np.where(np.arange(clock.shape[1]) % 2 == 0,
                       withdrawal_hazard[:, None], relaunch_hazard[:, None])
    with np.errstate(divide="ignore"):
        sojourns = -np.log(clock) / hazards  # a zero hazard never switches: an infinite sojourn
    switch_times = np.cumsum(sojourns, axis=1)
    switches = np.zeros((clock.shape[0], t.size), dtype=np.int8)
    for k in range(clock.shape[1]):
        switches += switch_times[:, k, None] <= t[None, :]
    return (switches % 2) == 1


LN2 = np.log(2.0)


def verified_error(lg_p: np.ndarray, lg_miss: np.ndarray, lg_max_takes: np.ndarray,
                   lg_tolerated_share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generate-and-verify (docs/model.md, 2.7): a maker generates up to K takes of a unit,
    each bad with probability p; a reviewer catches a bad take with recall r = 1 − miss and
    the maker generates again; after K takes the last one ships. With a = p r:

        P(k) = B + a^k (1 − B),   B = p (1 − r) / (1 − a),   E(k) = (1 − a^k) / (1 − a)

    Returns (lg P(K), lg E(k*)): the chance a shipped unit is bad with every take the maker may
    pay for, and the expected takes per unit at the fewest takes k* (continuous, in [1, K])
    that bring P to the tolerated share q, or K if no number of takes does. All arguments are
    base-2 logs, broadcast together."""
    # Probabilities, so at most 1 (a rounding above 1 must not take a logarithm of a negative).
    lg_p, lg_miss = np.minimum(lg_p, 0.0), np.minimum(lg_miss, 0.0)
    p, miss = np.exp2(lg_p), np.exp2(lg_miss)
    max_takes = np.exp2(lg_max_takes)
    one_minus_a = 1.0 - p + p * miss                # a = p (1 − miss)
    # p = 1 with a perfect reviewer: every take is bad and caught; B is 0 (the limit r → 1).
    singular = one_minus_a <= 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lg_one_minus_a = np.log2(one_minus_a)
        lg_floor = np.where(singular, -np.inf, lg_p + lg_miss - lg_one_minus_a)       # lg B
        lg_rest = np.where(singular, 0.0, np.log1p(-p) / LN2 - lg_one_minus_a)      # lg(1 − B)
        lg_a = lg_p + np.log1p(-miss) / LN2
        lg_error = np.logaddexp2(lg_floor, max_takes * lg_a + lg_rest)
        # The fewest takes that reach q: q = B + a^k (1 − B).
        share, floor = np.exp2(lg_tolerated_share), np.exp2(lg_floor)
        needed = (np.log2(share - floor) - lg_rest) / lg_a
    feasible = (lg_floor < lg_tolerated_share) & (lg_a < 0.0)
    takes = np.where(lg_p <= lg_tolerated_share, 1.0,
                     np.where(feasible, np.minimum(max_takes, np.maximum(needed, 1.0)),
                              max_takes))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(singular, takes, -np.expm1(takes * lg_a * LN2) / one_minus_a)
    return lg_error, np.maximum(np.log2(expected), 0.0)   # never below the one take


def simulate_trajectories(d: dict[str, np.ndarray], t: np.ndarray,
                          regime_clock: np.ndarray) -> Trajectories:
    """Every series and requirement gap of the spec for one batch of draws.

    ``d``: every driver -> (n,) values; ``t``: (T,) years since as_of;
    ``regime_clock``: (n, MAX_REGIME_SWITCHES) uniforms for the free-tier regime chain.
    """
    def col(name: str) -> np.ndarray:
        return d[name][:, None]

    def log2col(name: str) -> np.ndarray:
        return np.log2(d[name])[:, None]

    stall_start = np.where(d["stall_occurs"] > 0.5, d["stall_start_years"], np.inf)[:, None]
    stall_factor = col("stall_slowdown_factor")
    ai_years = stalled_years(t, stall_start, stall_factor)

    # Mechanism 1: hardware price-performance with a later slowdown; rent premium fading; rent
    # never below the electricity the GPU-second burns.
    hw_years = stalled_years(t, col("hw_slowdown_start_years"), col("hw_slowdown_factor"))
    log2_hw_gain = hw_years / col("hw_doubling_years")
    # Today's rent includes a premium over the long-run trend that fades out: the factor is 1
    # at as_of and 1/premium once the premium is gone.
    log2_premium = log2col("rental_premium") * (np.maximum(
        0.0, 1.0 - t / col("rental_premium_decay_years")) - 1.0)
    log2_rent = (np.log2(d["gpu_usd_per_hour"] / SECONDS_PER_HOUR)[:, None]
                 + log2_premium - log2_hw_gain)
    log2_energy = (np.log2(d["gpu_energy_usd_per_hour"] / SECONDS_PER_HOUR)[:, None]
                   - hw_years / col("energy_efficiency_doubling_years"))
    log2_usd_per_gpu_s = np.maximum(log2_rent, log2_energy)
    # Mechanism 2: algorithmic and distillation gains at fixed quality, down to a floor.
    log2_alg_gain = ai_years / col("alg_halving_years")
    log2_floor = log2col("compute_per_video_second_floor")
    log2_compute = np.maximum(log2col("compute_per_video_second_today") - log2_alg_gain,
                              log2_floor)
    # Mechanism 3: cost and price of a video-second.
    log2_cost = log2_compute + log2_usd_per_gpu_s
    log2_markup = log2col("price_markup")
    log2_price = log2_cost + log2_markup
    # Mechanism 6: footage to generate, overgeneration falling toward 1.
    log2_overgen = np.maximum(
        0.0, log2col("overgeneration_today") - ai_years / col("overgeneration_halving_years"))
    log2_length = log2col("film_length_seconds")
    log2_footage = log2_length + log2_overgen
    log2_film_cost = log2_footage + log2_price

    # Mechanism 4: the free tier. Quota follows cost with an elasticity; competition keeps the
    # spend per user at what the user is worth; a fair-use limit caps it.
    log2_quota = log2col("free_allowance_today") + col("free_passthrough_elasticity") * (
        log2_cost[:, :1] - log2_cost)
    # What a provider spends per free user per day does not fall below what the user is worth,
    # nor below today's spend if that is less (so today's allowance is the observed one).
    log2_spend_floor = np.minimum(
        np.log2(d["free_user_value_usd_per_month"] / DAYS_PER_MONTH)[:, None],
        log2col("free_allowance_today") + log2_cost[:, :1])
    log2_value_rate = log2_spend_floor - log2_cost
    log2_cloud = np.minimum(np.maximum(log2_quota, log2_value_rate),
                            log2col("free_daily_use_cap_seconds"))
    withdrawn = withdrawn_regime(t, d["free_withdrawal_hazard"], d["free_relaunch_hazard"],
                                 regime_clock)
    log2_cloud = log2_cloud + np.where(withdrawn, log2col("free_withdrawn_residual"), 0.0)

    # Mechanism 5: local generation with the best open model, measured today on consumer
    # hardware; it then gains as the frontier does, down to the same floor.
    # Open checkpoints are distilled by third parties once, a step not in the trend: the gain
    # lands after as_of, never before it, and never slows the model.
    log2_distilled = np.where(t[None, :] > col("open_distillation_years"),
                              np.maximum(log2col("open_distillation_gain"), 0.0), 0.0)
    log2_compute_open = np.maximum(
        log2col("open_compute_per_video_second_today") - log2_alg_gain - log2_distilled,
        log2_floor)
    log2_local_base = (np.log2(SECONDS_PER_HOUR * d["local_hours_per_day"])[:, None]
                       + hw_years / col("consumer_hw_doubling_years") - log2_compute_open)
    log2_local = {
        "gaming_pc": log2col("gaming_pc_h100_equiv") + log2_local_base,
        "laptop": np.where(t >= col("npu_feasible_years"),
                           log2col("laptop_h100_equiv") + log2_local_base, -np.inf),
    }

    log2 = {
        "price_per_video_second": log2_price,
        "compute_per_video_second": log2_compute,
        "usd_per_gpu_second": log2_usd_per_gpu_s + log2_markup,
        "film_cost_usd": log2_film_cost,
        "open_compute_per_video_second": log2_compute_open,
    }
    for profile in spec.PROFILE_SPECS:
        # A free user takes whichever path is faster.
        log2_rate = log2_cloud
        for device in profile.devices:
            log2_rate = np.maximum(log2_rate, log2_local[device])
        log2[f"free_video_seconds_per_day/{profile.name}"] = log2_rate
        log2[f"film_days/{profile.name}"] = log2_footage - log2_rate

    # Mechanism 7: capabilities a watchable feature needs.
    # The coherent-shot trend stops where longer takes stop mattering, and at the film.
    log2_shot = np.minimum(np.minimum(
        log2col("coherent_shot_seconds_today") + ai_years / col("coherent_shot_doubling_years"),
        log2col("coherent_shot_saturation_seconds")), log2_length)
    log2_break = np.maximum(
        log2col("cut_break_probability_today") - ai_years / col("cut_break_halving_years"),
        log2col("cut_break_probability_floor"))
    log2_dialogue = np.maximum(
        log2col("dialogue_error_probability_today")
        - ai_years / col("dialogue_error_halving_years"),
        log2col("dialogue_error_probability_floor"))
    log2_agent = log2col("agent_horizon_hours_today") + ai_years / col("agent_doubling_years")
    # Generate-and-verify: the judge's miss rate halves; a human reviewer's does not move.
    with np.errstate(divide="ignore"):
        log2_judge_miss = (np.log2(np.maximum(1.0 - d["judge_recall_today"], 0.0))[:, None]
                           - ai_years / col("judge_miss_halving_years"))
        log2_human_miss = np.log2(np.maximum(1.0 - d["human_review_recall"], 0.0))[:, None]
    # At least the one take itself.
    log2_max_takes = np.maximum(log2col("max_takes_per_unit"), 0.0)
    # One director watches every take once: his hours bound the takes per unit he can review.
    log2_director_takes = np.minimum(log2_max_takes, np.maximum(
        0.0, np.log2(SECONDS_PER_HOUR * d["director_hours"])[:, None] - log2_footage))
    log2_cut_share = log2col("tolerated_visible_breaks") - log2col("cuts_per_feature")
    log2_line_share = log2col("tolerated_dialogue_errors") - log2col("dialogue_lines_per_feature")
    quality = {}
    # People review what the judge passed: a bad take ships only if both miss it.
    log2_both_miss = log2_human_miss + log2_judge_miss
    for level, log2_miss, log2_takes_cap in (("auto", log2_judge_miss, log2_max_takes),
                                             ("team", log2_both_miss, log2_max_takes),
                                             ("director", log2_both_miss, log2_director_takes)):
        cut_error, cut_takes = verified_error(log2_break, log2_miss, log2_takes_cap,
                                              log2_cut_share)
        line_error, line_takes = verified_error(log2_dialogue, log2_miss, log2_takes_cap,
                                                log2_line_share)
        # A shot is taken again for whichever unit needs more takes.
        quality[level] = (cut_error - log2_cut_share, line_error - log2_line_share,
                          log2_footage + np.maximum(cut_takes, line_takes) + log2_price,
                          np.maximum(cut_takes, line_takes))
    log2["coherent_shot_seconds"] = log2_shot
    log2["cut_break_probability"] = log2_break
    log2_minute = np.log2(60.0)
    log2["cost_per_finished_minute_draft_usd"] = log2_minute + log2_overgen + log2_price
    log2_festival_overgen = np.maximum(
        0.0, log2col("festival_overgeneration_today")
        - ai_years / col("overgeneration_halving_years"))
    log2_festival_generation = (log2_minute + log2_festival_overgen + quality["team"][3]
                                + log2_price + log2col("festival_price_multiplier"))
    log2["cost_per_finished_minute_festival_usd"] = np.logaddexp2(
        log2_festival_generation, log2col("festival_labour_usd_per_finished_minute"))
    log2["takes_per_unit_automatic"] = quality["auto"][3]

    log2_piece = np.maximum(
        log2col("longest_unsplittable_subtask_hours"),
        log2col("novel_adaptation_hours") + log2col("director_hours_per_piece")
        - log2col("director_hours"))
    gaps = {
        "long_take": log2col("required_long_take_seconds") - log2_shot,
        "consistency": quality["auto"][0],
        "director_agent": (log2col("longest_unsplittable_subtask_hours")
                           + log2col("agent_reliability_factor") - log2_agent),
        "dialogue": quality["auto"][1],
        "budget": quality["auto"][2] - log2col("individual_budget_usd"),
        "consistency_team": quality["team"][0],
        "dialogue_team": quality["team"][1],
        "budget_team": quality["team"][2] - log2col("team_budget_usd"),
        "consistency_director": quality["director"][0],
        "dialogue_director": quality["director"][1],
        "director_agent_assisted": log2_piece - log2_agent,
        "budget_director": quality["director"][2] - log2col("individual_budget_usd"),
    }
    return Trajectories(log2=log2, gaps=gaps)


# --------------------------------------------------------------------------------------------
# Events: when a set of log-space gaps first all reach zero, between grid points.
#
# A condition is met when its gap (base-2 log of level over need, signed so that <= 0 means met)
# is <= 0. The event is the first grid step at whose end every gap is met; inside that step each
# gap is interpolated linearly (exact for the piecewise-linear log trends of the model, unless a
# kink falls inside the step) and the event time is the latest of the conditions' crossings.
# The condition crossing last is the *binding* one. Events not reached by the horizon get time
# ``+inf``: "not by the horizon" stays an explicit outcome, never the horizon year.

def first_crossing(gaps: list[np.ndarray], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First time at which all ``gaps`` (each (n, T)) are <= 0.

    Returns ``(times, binding)``: times (n,) in the units of ``t`` (``inf`` if never),
    binding (n,) the index of the gap met last (``ALREADY_MET`` if met at ``t[0]``; for a
    censored draw, the gap furthest from being met at the horizon).
    """
    combined = gaps[0] if len(gaps) == 1 else np.maximum.reduce(gaps)
    met = combined <= 0.0
    reached = met.any(axis=1)
    k = met.argmax(axis=1)
    n = combined.shape[0]
    times = np.full(n, np.inf)
    binding = np.full(n, spec.ALREADY_MET, dtype=np.int8)

    start = reached & (k == 0)
    times[start] = t[0]

    rows = np.flatnonzero(reached & (k > 0))
    kr = k[rows]
    fractions = np.empty((len(gaps), rows.size))
    for r, gap in enumerate(gaps):
        before, after = gap[rows, kr - 1], gap[rows, kr]
        # before > 0 >= after whenever this gap is the one still unmet before the step.
        with np.errstate(divide="ignore", invalid="ignore"):
            fractions[r] = np.where(before > 0.0, before / (before - after), 0.0)
    if rows.size:
        times[rows] = t[kr - 1] + fractions.max(axis=0) * (t[kr] - t[kr - 1])
        binding[rows] = fractions.argmax(axis=0)

    censored = np.flatnonzero(~reached)
    if censored.size:
        binding[censored] = np.stack([gap[censored, -1] for gap in gaps]).argmax(axis=0)
    return times, binding


def condition_gaps(event: spec.Event, trajectories: Trajectories, d: dict[str, np.ndarray],
                   profile: str | None) -> list[np.ndarray]:
    """The event's gaps, one (n, T) array per condition in declared order (``profile``: the
    profile whose series a per-profile output bound reads)."""
    gaps = []
    for condition in event.conditions:
        if isinstance(condition, str):
            gaps.append(trajectories.gaps[condition])
            continue
        output = spec.OUTPUT_BY_NAME[condition.output]
        series = f"{output.name}/{profile}" if output.per_profile else output.name
        bound = (np.log2(d[condition.bound])[:, None] if isinstance(condition.bound, str)
                 else np.log2(condition.bound))
        gaps.append(trajectories.log2[series] - bound)
    return gaps


def find_events(trajectories: Trajectories, d: dict[str, np.ndarray], years: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Event times (decimal years) of every event of the spec: name -> (n, P) for per-profile
    events (P = len(PROFILES)), (n,) for the rest, and each binding variable's int8 codes."""
    out: dict[str, np.ndarray] = {}
    for event in spec.EVENT_SPECS:
        profiles = spec.PROFILES if spec.per_profile(event) else (None,)
        found = [first_crossing(condition_gaps(event, trajectories, d, p), years)
                 for p in profiles]
        times, binding = (np.stack(x, axis=1) for x in zip(*found, strict=True))
        if profiles == (None,):
            times, binding = times[:, 0], binding[:, 0]
        out[event.name] = times
        if event.binding is not None:
            out[event.binding] = binding
    return out
