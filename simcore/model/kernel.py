"""The model's compiled backend: one pass per draw computes every trajectory on the grid and
finds every event time, without materialising (draws x times) matrices.

Same equations as the numpy reference (``reference.py``, the readable statement; tests check
that the two agree over the whole domain of every driver), one draw at a time. This backend
exists because a million draws x 81 grid times x 10 series is ~10^9 values: numpy's
temporaries make that memory-bound, a fused loop keeps each draw's ~1,600 numbers in cache.

Two entries: :func:`simulate` is the interface shared with the reference (base-2 logs of every
series and gap, events); :func:`simulate_chunk` is what runs use: it also bins every value into
running histograms and keeps values (not logs) of the first draws' paths.

Layout comes from the spec (``spec.py``): series rows, requirement rows, profiles and the event
columns are module constants derived from it, which numba freezes into the compiled code.
Parallelism is over blocks of draws; each block has its own histogram, summed at the end.
Integer counts and per-draw outputs make the result independent of the number of threads and
of the chunking.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import numpy as np
from numba import get_num_threads, literal_unroll, njit, prange

from . import binning, spec
from .binning import BIN_SHIFT, BINS_PER_OCTAVE, N_BINS
from .interface import Grid, Trajectories, driver_values, regime_clock, unpack_events
from .spec import (
    DAYS_PER_MONTH,
    DRIVER_ORDER,
    N_BINDING_COLUMNS,
    N_EVENT_COLUMNS,
    N_REQUIREMENTS,
    N_SERIES,
    PROFILES,
    REQUIREMENT_ROW,
    SECONDS_PER_HOUR,
    SERIES,
    SERIES_ROW,
)

ALREADY_MET = spec.ALREADY_MET
_I = {name: i for i, name in enumerate(DRIVER_ORDER)}

# Driver column indices as module constants: numba freezes them into the compiled code.
FILM_LENGTH = _I["film_length_seconds"]
HW_DOUBLING = _I["hw_doubling_years"]
HW_SLOW_START = _I["hw_slowdown_start_years"]
HW_SLOW_FACTOR = _I["hw_slowdown_factor"]
GPU_USD_HOUR = _I["gpu_usd_per_hour"]
PREMIUM = _I["rental_premium"]
PREMIUM_DECAY = _I["rental_premium_decay_years"]
ENERGY_USD_HOUR = _I["gpu_energy_usd_per_hour"]
ENERGY_DOUBLING = _I["energy_efficiency_doubling_years"]
ALG_HALVING = _I["alg_halving_years"]
COMPUTE_FLOOR = _I["compute_per_video_second_floor"]
COMPUTE0 = _I["compute_per_video_second_today"]
MARKUP = _I["price_markup"]
FESTIVAL_PRICE = _I["festival_price_multiplier"]
FESTIVAL_OVERGEN0 = _I["festival_overgeneration_today"]
FESTIVAL_LABOUR = _I["festival_labour_usd_per_finished_minute"]
ALLOWANCE0 = _I["free_allowance_today"]
ELASTICITY = _I["free_passthrough_elasticity"]
WITHDRAWAL = _I["free_withdrawal_hazard"]
RELAUNCH = _I["free_relaunch_hazard"]
RESIDUAL = _I["free_withdrawn_residual"]
USER_VALUE = _I["free_user_value_usd_per_month"]
USE_CAP = _I["free_daily_use_cap_seconds"]
OPEN_COMPUTE0 = _I["open_compute_per_video_second_today"]
OPEN_DISTILL_GAIN = _I["open_distillation_gain"]
OPEN_DISTILL_YEARS = _I["open_distillation_years"]
PC_EQUIV = _I["gaming_pc_h100_equiv"]
CONSUMER_DOUBLING = _I["consumer_hw_doubling_years"]
LOCAL_HOURS = _I["local_hours_per_day"]
NPU_YEARS = _I["npu_feasible_years"]
LAPTOP_EQUIV = _I["laptop_h100_equiv"]
OVERGEN0 = _I["overgeneration_today"]
OVERGEN_HALVING = _I["overgeneration_halving_years"]
SHOT0 = _I["coherent_shot_seconds_today"]
SHOT_DOUBLING = _I["coherent_shot_doubling_years"]
SHOT_SATURATION = _I["coherent_shot_saturation_seconds"]
LONG_TAKE = _I["required_long_take_seconds"]
BREAK0 = _I["cut_break_probability_today"]
BREAK_HALVING = _I["cut_break_halving_years"]
BREAK_FLOOR = _I["cut_break_probability_floor"]
CUTS = _I["cuts_per_feature"]
BREAKS_OK = _I["tolerated_visible_breaks"]
DIALOGUE0 = _I["dialogue_error_probability_today"]
DIALOGUE_HALVING = _I["dialogue_error_halving_years"]
DIALOGUE_FLOOR = _I["dialogue_error_probability_floor"]
LINES = _I["dialogue_lines_per_feature"]
DIALOGUE_OK = _I["tolerated_dialogue_errors"]
JUDGE_RECALL0 = _I["judge_recall_today"]
JUDGE_MISS_HALVING = _I["judge_miss_halving_years"]
HUMAN_RECALL = _I["human_review_recall"]
MAX_TAKES = _I["max_takes_per_unit"]
AGENT0 = _I["agent_horizon_hours_today"]
AGENT_DOUBLING = _I["agent_doubling_years"]
SUBTASK_HOURS = _I["longest_unsplittable_subtask_hours"]
RELIABILITY = _I["agent_reliability_factor"]
ADAPT_HOURS = _I["novel_adaptation_hours"]
DIRECTOR_HOURS = _I["director_hours"]
HOURS_PER_PIECE = _I["director_hours_per_piece"]
INDIVIDUAL_BUDGET = _I["individual_budget_usd"]
TEAM_BUDGET = _I["team_budget_usd"]
STALL = _I["stall_occurs"]
STALL_START = _I["stall_start_years"]
STALL_FACTOR = _I["stall_slowdown_factor"]


# Series rows the equations write.
PRICE_ROW = SERIES_ROW["price_per_video_second"]
COMPUTE_ROW = SERIES_ROW["compute_per_video_second"]
USD_PER_GPU_S_ROW = SERIES_ROW["usd_per_gpu_second"]
FILM_COST_ROW = SERIES_ROW["film_cost_usd"]
SHOT_ROW = SERIES_ROW["coherent_shot_seconds"]
BREAK_ROW = SERIES_ROW["cut_break_probability"]
DRAFT_MINUTE_ROW = SERIES_ROW["cost_per_finished_minute_draft_usd"]
FESTIVAL_MINUTE_ROW = SERIES_ROW["cost_per_finished_minute_festival_usd"]
TAKES_ROW = SERIES_ROW["takes_per_unit_automatic"]
OPEN_COMPUTE_ROW = SERIES_ROW["open_compute_per_video_second"]
# Requirement gap rows.
LONG_TAKE_GAP = REQUIREMENT_ROW["long_take"]
CONSISTENCY_GAP = REQUIREMENT_ROW["consistency"]
AGENT_GAP = REQUIREMENT_ROW["director_agent"]
DIALOGUE_GAP = REQUIREMENT_ROW["dialogue"]
BUDGET_GAP = REQUIREMENT_ROW["budget"]
TEAM_CONSISTENCY_GAP = REQUIREMENT_ROW["consistency_team"]
TEAM_DIALOGUE_GAP = REQUIREMENT_ROW["dialogue_team"]
TEAM_BUDGET_GAP = REQUIREMENT_ROW["budget_team"]
DIRECTOR_CONSISTENCY_GAP = REQUIREMENT_ROW["consistency_director"]
DIRECTOR_DIALOGUE_GAP = REQUIREMENT_ROW["dialogue_director"]
ASSISTED_AGENT_GAP = REQUIREMENT_ROW["director_agent_assisted"]
DIRECTOR_BUDGET_GAP = REQUIREMENT_ROW["budget_director"]

# Per profile: its film_days and free_video_seconds_per_day rows, and whether it owns each
# local device (the equations below compute these devices' rates). A tuple: numba unrolls the
# loop over it with the rows as constants.
_DEVICES_COMPUTED = ("laptop", "gaming_pc")
_uncomputed = sorted(set(spec.DEVICES) - set(_DEVICES_COMPUTED))
if _uncomputed:
    raise NotImplementedError(
        f"device {_uncomputed[0]!r} is declared in simcore/model/spec.py but the kernel backend "
        "computes no rate for it: add its equation to simcore/model/kernel.py")
PROFILE_ROWS = tuple((SERIES_ROW[f"film_days/{p.name}"],
                      SERIES_ROW[f"free_video_seconds_per_day/{p.name}"],
                      "gaming_pc" in p.devices, "laptop" in p.devices)
                     for p in spec.PROFILE_SPECS)


# --- Event layout, from the spec's events -----------------------------------------------------
#
# An event whose one condition bounds a series by a number is a *threshold*: all thresholds on
# one series are found in a single pass over the grid, highest first (a lower threshold is
# never crossed before a higher one). Every other event (and profile) is a *conjunction*: its
# conditions are rows of the per-draw gap scratch, the requirement gaps first, then one row per
# output bound, filled per conjunction. Conjunctions are a tuple of tuples unrolled at compile
# time (numba.literal_unroll), so each one's rows are constants of the compiled code.

def _event_tables():
    thresholds: dict[int, list[tuple[float, int]]] = {}
    conjunctions = []
    for event in spec.EVENT_SPECS:
        columns = spec.EVENT_COLUMNS[event.name]
        binding = spec.BINDING_COLUMNS.get(event.binding) if event.binding else None
        profiles = PROFILES if spec.per_profile(event) else (None,)
        for p, profile in enumerate(profiles):
            column = columns.start + p
            bounds = [c for c in event.conditions if isinstance(c, spec.AtMost)]
            if (len(event.conditions) == 1 and bounds and not isinstance(bounds[0].bound, str)
                    and binding is None):
                row = _series_row(bounds[0], profile)
                thresholds.setdefault(row, []).append((float(bounds[0].bound), column))
                continue
            rows, bound_rows = [], []
            for condition in event.conditions:
                if isinstance(condition, str):
                    rows.append(REQUIREMENT_ROW[condition])
                else:
                    rows.append(N_REQUIREMENTS + len(bound_rows))
                    bound_rows.append((_series_row(condition, profile),
                                       _I.get(condition.bound, -1),
                                       0.0 if isinstance(condition.bound, str)
                                       else math.log2(condition.bound)))
            # (column, binding column or -1, condition rows, bounds: (series row, driver column
            # or -1, log2 of a numeric bound)); never-empty tuples keep numba's typing simple.
            conjunctions.append((column, -1 if binding is None else binding.start + p,
                                 tuple(rows), len(bound_rows),
                                 tuple(bound_rows) or ((0, -1, 0.0),)))
    return thresholds, tuple(conjunctions) or ((-1, -1, (0,), 0, ((0, -1, 0.0),)),)


def _series_row(condition: spec.AtMost, profile: str | None) -> int:
    output = spec.OUTPUT_BY_NAME[condition.output]
    return SERIES_ROW[f"{output.name}/{profile}" if output.per_profile else output.name]


_thresholds, CONJUNCTIONS = _event_tables()
THRESHOLD_SERIES = np.array(list(_thresholds), dtype=np.int64)
_sorted = [sorted(group, key=lambda bound: -bound[0]) for group in _thresholds.values()]
THRESHOLD_START = np.cumsum([0] + [len(group) for group in _sorted]).astype(np.int64)
THRESHOLD_LOG2 = np.log2(np.array([b for group in _sorted for b, _ in group], dtype=float))
THRESHOLD_COLUMN = np.array([c for group in _sorted for _, c in group], dtype=np.int64)
GAP_ROWS = N_REQUIREMENTS + max(n_bounds for *_, n_bounds, _ in CONJUNCTIONS)


# --- numba's cache and the spec ---------------------------------------------------------------
#
# numba keys its on-disk cache by this file (its time stamp and the functions' bytecode), not by
# the globals the compiled code froze: after an edit of spec.py alone it would load machine code
# laid out for the old spec (wrong rows, and writes past the end of arrays it no longer sizes).
# The declarations of the spec (and of the histogram layout, ``binning``) are hashed, the hash
# is compiled in, and a mismatch recompiles.

def _spec_key() -> int:
    def canonical(value) -> str:       # a set's repr follows string hashing, random per process
        return repr(sorted(value)) if isinstance(value, (set, frozenset)) else repr(value)

    declared = sorted((module.__name__, name, canonical(value))
                      for module in (spec, binning) for name, value in vars(module).items()
                      if not name.startswith("__") and not callable(value)
                      and type(value).__name__ != "module")
    return int.from_bytes(hashlib.sha256(repr(declared).encode()).digest()[:8], "little",
                          signed=True)


SPEC_KEY = _spec_key()


@njit(cache=True)
def _compiled_spec_key():
    return SPEC_KEY


def refresh_stale_cache(compiled_key, key: int, dispatchers) -> bool:
    """Recompile ``dispatchers`` (and drop their cached code) if ``compiled_key()``, a compiled
    function returning a global, returns other than ``key``: the cache was built from other
    globals. Returns whether it did."""
    if compiled_key() == key:
        return False
    for dispatcher in dispatchers:
        dispatcher.recompile()      # also empties the function's cache index
    return True


@njit(cache=True, inline="always")
def _stalled(t, start, inverse_factor):
    return min(t, start) + max(t - start, 0.0) * inverse_factor


@njit(cache=True, inline="always")
def _value(log2):
    return 2.0 ** log2


_LN2 = math.log(2.0)
_LOG2E = 1.0 / math.log(2.0)


@njit(cache=True, inline="always")
def _log2(x):
    """log2 with log2(0) = -inf (numba's math.log2 raises nothing, but say it)."""
    return -np.inf if x <= 0.0 else math.log2(x)


# Where _logaddexp2 can skip its log1p and power and still return numpy's result bit for bit:
# the larger term x with |x| >= 2^-20 has a spacing of at least 2^-73 around it, and when the
# other is more than 80 octaves below, what numpy adds to x, lg(e) log1p(2^-(x-y)) < 2^-79, is
# under a quarter of that spacing, so x + it rounds back to x.
_NEGLIGIBLE_OCTAVES = 80.0
_LEAST_NOT_NEGLIGIBLE = 2.0 ** -20


@njit(cache=True, inline="always")
def _logaddexp2(x, y):
    """numpy's npy_logaddexp2, operation for operation: lg(2^x + 2^y)."""
    if x == y:
        return x + 1.0
    tmp = x - y
    if tmp > 0.0:
        if tmp > _NEGLIGIBLE_OCTAVES and abs(x) >= _LEAST_NOT_NEGLIGIBLE:
            return x
        return x + _LOG2E * math.log1p(2.0 ** -tmp)
    if tmp <= 0.0:
        if -tmp > _NEGLIGIBLE_OCTAVES and abs(y) >= _LEAST_NOT_NEGLIGIBLE:
            return y
        return y + _LOG2E * math.log1p(2.0 ** tmp)
    return x + y


@njit(cache=True, inline="always")
def _odds(lg_x):
    """(lg x, x, lg(1 - x)) of a probability given as lg x, capped at 1: what generate-and-verify
    needs of a take's chance of being bad or of a reviewer's miss rate, computed once per step
    and shared by the units and levels that use it."""
    lg_x = min(lg_x, 0.0)
    x = 2.0 ** lg_x
    return lg_x, x, (-np.inf if x >= 1.0 else math.log1p(-x) / _LN2)


@njit(cache=True, inline="always")
def _verification(bad, reviewer):
    """What generate-and-verify needs of a take's odds and a reviewer's whatever the number of
    takes, so that evaluations with the same pair and different K share it: (lg p, lg B,
    lg((1 - p) / (1 - a)), lg a, 1 - a), B the floor error, a = p r."""
    lg_p, p, lg_good = bad
    lg_miss, miss, lg_catch = reviewer
    one_minus_a = 1.0 - p + p * miss
    if one_minus_a <= 0.0:
        lg_floor = -np.inf
        lg_rest = 0.0
    else:
        lg_one_minus_a = math.log2(one_minus_a)
        lg_floor = lg_p + lg_miss - lg_one_minus_a
        lg_rest = lg_good - lg_one_minus_a
    return lg_p, lg_floor, lg_rest, lg_p + lg_catch, one_minus_a


@njit(cache=True, inline="always")
def _lg_expected_takes(takes, lg_a, one_minus_a):
    """lg E(k) at k = ``takes``, never below the one take."""
    expected = takes if one_minus_a <= 0.0 else -math.expm1(takes * lg_a * _LN2) / one_minus_a
    return max(math.log2(expected), 0.0)


@njit(cache=True)
def _verified(pair, max_takes, share, lg_share):
    """Generate-and-verify, as reference.verified_error, of a ``_verification`` pair with K =
    ``max_takes`` and tolerated share q (lg_share its log): (lg P(K), lg E(k*), k*), with k* = 0
    when the first take is kept (lg E = 0)."""
    lg_p, lg_floor, lg_rest, lg_a, one_minus_a = pair
    lg_error = _logaddexp2(lg_floor, max_takes * lg_a + lg_rest)
    if lg_p <= lg_share:
        return lg_error, 0.0, 0.0     # the first take is kept: E(1) = 1
    if lg_floor < lg_share and lg_a < 0.0:
        needed = (_log2(share - 2.0 ** lg_floor) - lg_rest) / lg_a
        takes = min(max_takes, max(needed, 1.0))
    else:
        takes = max_takes
    return lg_error, _lg_expected_takes(takes, lg_a, one_minus_a), takes


@njit(cache=True, inline="always")
def _verified_with_fewer(pair, verified, fewer_takes):
    """``_verified`` of the same pair and share with K = ``fewer_takes`` below the K that gave
    ``verified``, bit for bit: k* = min(K, needed) is unchanged when it was within the fewer
    takes (or the first take was kept), else it is the fewer takes."""
    lg_p, lg_floor, lg_rest, lg_a, one_minus_a = pair
    lg_error = _logaddexp2(lg_floor, fewer_takes * lg_a + lg_rest)
    _, lg_expected, takes = verified
    if takes <= fewer_takes:
        return lg_error, lg_expected
    return lg_error, _lg_expected_takes(fewer_takes, lg_a, one_minus_a)


@njit(cache=True)
def _verified_error(bad, reviewer, max_takes, share, lg_share):
    """Generate-and-verify, as reference.verified_error: (lg P(K), lg E(k*)). ``bad`` and
    ``reviewer`` are ``_odds`` of the take's chance of being bad and of the reviewer's miss
    rate, ``max_takes`` is K and ``share`` the tolerated share q (lg_share its log)."""
    lg_error, lg_expected, _ = _verified(_verification(bad, reviewer), max_takes, share,
                                         lg_share)
    return lg_error, lg_expected


@njit(cache=True)
def _simulate_draw(x, t, clock, traj, gaps):
    """Fill ``traj`` (N_SERIES, T) with log2 series and the first N_REQUIREMENTS rows of
    ``gaps`` with the requirement gaps. Same equations as reference.simulate_trajectories,
    one draw at a time."""
    stall_start = x[STALL_START] if x[STALL] > 0.5 else np.inf
    # Reciprocals once per draw: the time loop then multiplies instead of dividing.
    stall_pace = 1.0 / x[STALL_FACTOR]
    hw_pace = 1.0 / x[HW_SLOW_FACTOR]
    per_alg = 1.0 / x[ALG_HALVING]
    per_hw = 1.0 / x[HW_DOUBLING]
    per_energy = 1.0 / x[ENERGY_DOUBLING]
    per_premium = 1.0 / x[PREMIUM_DECAY]
    per_overgen = 1.0 / x[OVERGEN_HALVING]
    per_consumer = 1.0 / x[CONSUMER_DOUBLING]
    per_shot = 1.0 / x[SHOT_DOUBLING]
    per_break = 1.0 / x[BREAK_HALVING]
    per_agent = 1.0 / x[AGENT_DOUBLING]
    per_dialogue = 1.0 / x[DIALOGUE_HALVING]
    per_judge = 1.0 / x[JUDGE_MISS_HALVING]
    log2_floor = math.log2(x[COMPUTE_FLOOR])
    log2_premium0 = math.log2(x[PREMIUM])
    log2_compute0 = math.log2(x[COMPUTE0])
    log2_open0 = math.log2(x[OPEN_COMPUTE0])
    log2_open_distilled = max(math.log2(x[OPEN_DISTILL_GAIN]), 0.0)
    log2_gpu_price = math.log2(x[GPU_USD_HOUR] / SECONDS_PER_HOUR)
    log2_energy_price = math.log2(x[ENERGY_USD_HOUR] / SECONDS_PER_HOUR)
    log2_markup = math.log2(x[MARKUP])
    log2_overgen0 = math.log2(x[OVERGEN0])
    log2_festival_overgen0 = math.log2(x[FESTIVAL_OVERGEN0])
    log2_festival_price = math.log2(x[FESTIVAL_PRICE])
    log2_labour = math.log2(x[FESTIVAL_LABOUR])
    log2_length = math.log2(x[FILM_LENGTH])
    log2_allowance = math.log2(x[ALLOWANCE0])
    log2_value = math.log2(x[USER_VALUE] / DAYS_PER_MONTH)
    spend_floor = 0.0
    log2_cap = math.log2(x[USE_CAP])
    log2_residual = math.log2(x[RESIDUAL])
    log2_local_hours = math.log2(SECONDS_PER_HOUR * x[LOCAL_HOURS])
    log2_pc = math.log2(x[PC_EQUIV])
    log2_laptop = math.log2(x[LAPTOP_EQUIV])
    log2_long_take = math.log2(x[LONG_TAKE])
    log2_saturation = math.log2(x[SHOT_SATURATION])
    log2_cut_share = math.log2(x[BREAKS_OK]) - math.log2(x[CUTS])
    log2_line_share = math.log2(x[DIALOGUE_OK]) - math.log2(x[LINES])
    log2_agent_needed = math.log2(x[SUBTASK_HOURS]) + math.log2(x[RELIABILITY])
    log2_piece = max(math.log2(x[SUBTASK_HOURS]),
                     math.log2(x[ADAPT_HOURS]) + math.log2(x[HOURS_PER_PIECE])
                     - math.log2(x[DIRECTOR_HOURS]))
    log2_director_seconds = math.log2(SECONDS_PER_HOUR * x[DIRECTOR_HOURS])
    log2_individual_budget = math.log2(x[INDIVIDUAL_BUDGET])
    log2_team_budget = math.log2(x[TEAM_BUDGET])
    log2_shot0 = math.log2(x[SHOT0])
    log2_break0 = math.log2(x[BREAK0])
    log2_break_floor = math.log2(x[BREAK_FLOOR])
    log2_agent0 = math.log2(x[AGENT0])
    log2_dialogue0 = math.log2(x[DIALOGUE0])
    log2_dialogue_floor = math.log2(x[DIALOGUE_FLOOR])
    log2_judge_miss0 = _log2(1.0 - x[JUDGE_RECALL0])
    log2_human_miss = _log2(1.0 - x[HUMAN_RECALL])
    log2_max_takes = max(math.log2(x[MAX_TAKES]), 0.0)   # at least the one take itself
    max_takes = 2.0 ** log2_max_takes
    cut_share = 2.0 ** log2_cut_share
    line_share = 2.0 ** log2_line_share
    log2_minute = math.log2(60.0)

    # Free-tier regime: switch times of the withdrawal/relaunch chain.
    switch_times = np.empty(clock.size)
    elapsed = 0.0
    for k in range(clock.size):
        hazard = x[WITHDRAWAL] if k % 2 == 0 else x[RELAUNCH]
        elapsed += -math.log(clock[k]) / hazard if hazard > 0.0 else np.inf
        switch_times[k] = elapsed

    switches = 0
    cost0 = 0.0
    # Error rates sit on their floors for much of the grid: their odds carry over from the step
    # before when the rate is the same number (a NaN never equals; a zero, whose sign ==
    # ignores, is always recomputed).
    bad_cut = bad_line = _odds(np.nan)
    lg_cut_odds = lg_line_odds = np.nan
    for k in range(t.size):
        tk = t[k]
        ai_years = _stalled(tk, stall_start, stall_pace)
        log2_alg_gain = ai_years * per_alg
        hw_years = _stalled(tk, x[HW_SLOW_START], hw_pace)
        log2_hw_gain = hw_years * per_hw
        log2_premium = log2_premium0 * (max(0.0, 1.0 - tk * per_premium) - 1.0)
        log2_rent = log2_gpu_price + log2_premium - log2_hw_gain
        log2_usd_per_gpu_s = max(log2_rent, log2_energy_price - hw_years * per_energy)
        log2_compute = max(log2_compute0 - log2_alg_gain, log2_floor)
        log2_cost = log2_compute + log2_usd_per_gpu_s
        log2_price = log2_cost + log2_markup
        log2_overgen = max(0.0, log2_overgen0 - ai_years * per_overgen)
        log2_footage = log2_length + log2_overgen
        log2_film_cost = log2_footage + log2_price
        if k == 0:
            cost0 = log2_cost
            spend_floor = min(log2_value, log2_allowance + cost0)

        log2_quota = log2_allowance + x[ELASTICITY] * (cost0 - log2_cost)
        log2_cloud = min(max(log2_quota, spend_floor - log2_cost), log2_cap)
        while switches < switch_times.size and switch_times[switches] <= tk:
            switches += 1
        if switches % 2 == 1:
            log2_cloud += log2_residual

        log2_open_step = log2_open_distilled if tk > x[OPEN_DISTILL_YEARS] else 0.0
        log2_compute_open = max(log2_open0 - log2_alg_gain - log2_open_step, log2_floor)
        traj[OPEN_COMPUTE_ROW, k] = log2_compute_open
        log2_local_base = (log2_local_hours + hw_years * per_consumer
                           - log2_compute_open)
        log2_local_pc = log2_pc + log2_local_base
        log2_local_laptop = log2_laptop + log2_local_base if tk >= x[NPU_YEARS] else -np.inf
        for film_days_row, rate_row, owns_gaming_pc, owns_laptop in PROFILE_ROWS:
            # A free user takes whichever path is faster.
            rate = log2_cloud
            if owns_gaming_pc:
                rate = max(rate, log2_local_pc)
            if owns_laptop:
                rate = max(rate, log2_local_laptop)
            traj[film_days_row, k] = log2_footage - rate
            traj[rate_row, k] = rate

        # The coherent-shot trend stops where longer takes stop mattering, and at the film.
        log2_shot = min(min(log2_shot0 + ai_years * per_shot, log2_saturation), log2_length)
        log2_break = max(log2_break0 - ai_years * per_break, log2_break_floor)
        log2_dialogue = max(log2_dialogue0 - ai_years * per_dialogue, log2_dialogue_floor)
        log2_agent = log2_agent0 + ai_years * per_agent
        log2_judge_miss = log2_judge_miss0 - ai_years * per_judge
        log2_both_miss = log2_human_miss + log2_judge_miss
        log2_director_takes = min(log2_max_takes,
                                  max(0.0, log2_director_seconds - log2_footage))

        if log2_break != lg_cut_odds or log2_break == 0.0:
            bad_cut = _odds(log2_break)
            lg_cut_odds = log2_break
        if log2_dialogue != lg_line_odds or log2_dialogue == 0.0:
            bad_line = _odds(log2_dialogue)
            lg_line_odds = log2_dialogue
        judge = _odds(log2_judge_miss)
        review = _odds(log2_both_miss)
        cut_error, cut_takes, _ = _verified(_verification(bad_cut, judge), max_takes,
                                            cut_share, log2_cut_share)
        line_error, line_takes, _ = _verified(_verification(bad_line, judge), max_takes,
                                              line_share, log2_line_share)
        takes_auto = max(cut_takes, line_takes)
        gaps[CONSISTENCY_GAP, k] = cut_error - log2_cut_share
        gaps[DIALOGUE_GAP, k] = line_error - log2_line_share
        gaps[BUDGET_GAP, k] = log2_footage + takes_auto + log2_price - log2_individual_budget
        # The team and the director verify with the same reviewers: only K differs.
        cut_review = _verification(bad_cut, review)
        line_review = _verification(bad_line, review)
        cut_team = _verified(cut_review, max_takes, cut_share, log2_cut_share)
        line_team = _verified(line_review, max_takes, line_share, log2_line_share)
        cut_error, cut_takes, _ = cut_team
        line_error, line_takes, _ = line_team
        takes_team = max(cut_takes, line_takes)
        gaps[TEAM_CONSISTENCY_GAP, k] = cut_error - log2_cut_share
        gaps[TEAM_DIALOGUE_GAP, k] = line_error - log2_line_share
        gaps[TEAM_BUDGET_GAP, k] = log2_footage + takes_team + log2_price - log2_team_budget
        if log2_director_takes != log2_max_takes:   # else the team's numbers are his
            director_takes = 2.0 ** log2_director_takes
            cut_error, cut_takes = _verified_with_fewer(cut_review, cut_team, director_takes)
            line_error, line_takes = _verified_with_fewer(line_review, line_team,
                                                          director_takes)
        gaps[DIRECTOR_CONSISTENCY_GAP, k] = cut_error - log2_cut_share
        gaps[DIRECTOR_DIALOGUE_GAP, k] = line_error - log2_line_share
        gaps[DIRECTOR_BUDGET_GAP, k] = (log2_footage + max(cut_takes, line_takes) + log2_price
                                        - log2_individual_budget)

        traj[PRICE_ROW, k] = log2_price
        traj[COMPUTE_ROW, k] = log2_compute
        traj[USD_PER_GPU_S_ROW, k] = log2_usd_per_gpu_s + log2_markup
        traj[FILM_COST_ROW, k] = log2_film_cost
        traj[SHOT_ROW, k] = log2_shot
        traj[BREAK_ROW, k] = log2_break
        traj[DRAFT_MINUTE_ROW, k] = log2_minute + log2_overgen + log2_price
        log2_festival_overgen = max(0.0, log2_festival_overgen0 - ai_years * per_overgen)
        traj[FESTIVAL_MINUTE_ROW, k] = _logaddexp2(
            log2_minute + log2_festival_overgen + takes_team + log2_price + log2_festival_price,
            log2_labour)
        traj[TAKES_ROW, k] = takes_auto
        gaps[LONG_TAKE_GAP, k] = log2_long_take - log2_shot
        gaps[AGENT_GAP, k] = log2_agent_needed - log2_agent
        gaps[ASSISTED_AGENT_GAP, k] = log2_piece - log2_agent


@njit(cache=True, inline="always")
def _crossing(gaps, rows, t):
    """First time all ``gaps[rows[r]]`` are <= 0 (``rows`` a tuple), interpolated inside the
    step. Returns (time, index r of the row met last)."""
    n_times = t.size
    for k in range(n_times):
        met = True
        for r in range(len(rows)):
            if gaps[rows[r], k] > 0.0:
                met = False
                break
        if met:
            if k == 0:
                return t[0], ALREADY_MET
            best = 0.0
            last = 0
            for r in range(len(rows)):
                before = gaps[rows[r], k - 1]
                if before > 0.0:
                    fraction = before / (before - gaps[rows[r], k])
                    if fraction > best:
                        best = fraction
                        last = r
            return t[k - 1] + best * (t[k] - t[k - 1]), last
    last = 0
    worst = -np.inf
    for r in range(len(rows)):
        gap = gaps[rows[r], n_times - 1]
        if gap > worst:
            worst = gap
            last = r
    return np.inf, last


# Draws simulated before their values are counted. Each draw's bin indices are stored
# contiguously (810 of them, as uint16); the counting pass then takes one (series, time) row of
# the histogram at a time, so each row's few hot cache lines take thousands of increments in a
# row instead of one per draw (benchmarks/README.md, "Kernel counting", has the measurements
# behind the layout and the batch size).
BATCH = 4096
# The batch's bin indices take at most this many uint16 values per thread (4,096 draws on the
# baseline's 81 grid times); finer grids get smaller batches.
_BIN_SCRATCH_VALUES = BATCH * N_SERIES * 81
_BINS = float(BINS_PER_OCTAVE)


@njit(cache=True)
def _threshold_crossings(row, thresholds, t, out, columns):
    """First crossings of one series below each of several decreasing thresholds, in a single
    pass over the grid (a lower threshold is never crossed before a higher one). Same
    interpolation as _crossing; threshold h's time goes to out[columns[h]]."""
    h = 0
    n_thresholds = thresholds.size
    while h < n_thresholds and row[0] <= thresholds[h]:
        out[columns[h]] = t[0]
        h += 1
    for k in range(1, t.size):
        while h < n_thresholds and row[k] <= thresholds[h]:
            before = row[k - 1] - thresholds[h]
            fraction = before / (before - (row[k] - thresholds[h]))
            out[columns[h]] = t[k - 1] + fraction * (t[k] - t[k - 1])
            h += 1
        if h == n_thresholds:
            return
    while h < n_thresholds:
        out[columns[h]] = np.inf
        h += 1


@njit(cache=True)
def _events_of_draw(x, traj, gaps, t_abs, events_row, binding_row):
    """Event times of one simulated draw into ``events_row``, binding codes into
    ``binding_row``. ``gaps`` holds the requirement gaps; its further rows are scratch."""
    for g in range(THRESHOLD_SERIES.size):
        first, end = THRESHOLD_START[g], THRESHOLD_START[g + 1]
        _threshold_crossings(traj[THRESHOLD_SERIES[g]], THRESHOLD_LOG2[first:end], t_abs,
                             events_row, THRESHOLD_COLUMN[first:end])
    for conjunction in literal_unroll(CONJUNCTIONS):
        column, binding, rows, n_bounds, bounds = conjunction
        if column < 0:
            continue
        for j in range(n_bounds):
            series, driver, log2_bound = bounds[j]
            bound = log2_bound if driver < 0 else math.log2(x[driver])
            row = traj[series]
            for k in range(t_abs.size):
                gaps[N_REQUIREMENTS + j, k] = row[k] - bound
        when, last = _crossing(gaps, rows, t_abs)
        events_row[column] = when
        if binding >= 0:
            binding_row[binding] = last


@njit(cache=True, parallel=True)
def simulate_chunk(drivers, t, t_abs, clock, counts, events, binding, paths, n_paths):
    """Simulate every draw of a chunk, for a run.

    drivers (n, len(DRIVER_ORDER)); t, t_abs (T,); clock (n, MAX_REGIME_SWITCHES);
    counts (blocks, N_SERIES, T * N_BINS) int32, added to (the layout of ``binning``); events
    (n, N_EVENT_COLUMNS) and binding (n, N_BINDING_COLUMNS) written; paths (n_paths, N_SERIES,
    T) written with the values (not logs) of the first n_paths draws.
    """
    n = drivers.shape[0]
    n_times = t.size
    blocks = counts.shape[0]
    per_block = (n + blocks - 1) // blocks
    for block in prange(blocks):
        traj = np.empty((N_SERIES, n_times))
        gaps = np.empty((GAP_ROWS, n_times))
        batch = min(BATCH, max(64, _BIN_SCRATCH_VALUES // (N_SERIES * n_times)))
        bins = np.empty((batch, N_SERIES, n_times), np.uint16)
        hist = counts[block]
        first, end = block * per_block, min(n, (block + 1) * per_block)
        for batch_start in range(first, end, batch):
            size = min(batch, end - batch_start)
            for b in range(size):
                i = batch_start + b
                _simulate_draw(drivers[i], t, clock[i], traj, gaps)
                _events_of_draw(drivers[i], traj, gaps, t_abs, events[i], binding[i])
                if i < n_paths:
                    for s in range(N_SERIES):
                        for k in range(n_times):
                            paths[i, s, k] = _value(traj[s, k])
                for s in range(N_SERIES):
                    for k in range(n_times):
                        scaled = min(max((traj[s, k] - BIN_SHIFT) * _BINS, 0.0), N_BINS - 1.0)
                        bins[b, s, k] = int(scaled)
            for s in range(N_SERIES):
                row = hist[s]
                for k in range(n_times):
                    offset = k * N_BINS
                    for b in range(size):
                        row[offset + bins[b, s, k]] += 1


@njit(cache=True, parallel=True)
def simulate_points(drivers, t, t_abs, clock, log2, gaps, events, binding, as_values, blocks):
    """Every draw's series (n, N_SERIES, T): base-2 logs, or with ``as_values`` the values
    (2 ** log2, the same operation as simulate_chunk's paths, so bit for bit a run's paths);
    requirement gaps (n, N_REQUIREMENTS, T), events (n, N_EVENT_COLUMNS) and binding codes
    (n, N_BINDING_COLUMNS). Draws are split into ``blocks`` (one per thread)."""
    n = drivers.shape[0]
    per_block = (n + blocks - 1) // blocks
    for block in prange(blocks):
        scratch = np.empty((GAP_ROWS, t.size))
        for i in range(block * per_block, min(n, (block + 1) * per_block)):
            traj = log2[i]
            _simulate_draw(drivers[i], t, clock[i], traj, scratch)
            _events_of_draw(drivers[i], traj, scratch, t_abs, events[i], binding[i])
            gaps[i] = scratch[:N_REQUIREMENTS]
            if as_values:
                for s in range(N_SERIES):
                    for k in range(t.size):
                        traj[s, k] = _value(traj[s, k])


def _simulate_arrays(drivers: Mapping[str, np.ndarray], grid: Grid, clock: np.ndarray | None,
                     as_values: bool) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    values = driver_values(drivers)
    n = next(iter(values.values())).size
    # Fortran order, as the engine's chunks.
    matrix = np.asfortranarray(np.column_stack([values[name] for name in DRIVER_ORDER]))
    clock = np.asfortranarray(regime_clock(clock, n))
    t = np.ascontiguousarray(grid.t, dtype=float)
    years = np.ascontiguousarray(grid.years, dtype=float)
    series = np.empty((n, N_SERIES, t.size))
    gaps = np.empty((n, N_REQUIREMENTS, t.size))
    events = np.empty((n, N_EVENT_COLUMNS))
    binding = np.empty((n, N_BINDING_COLUMNS), dtype=np.int8)
    simulate_points(matrix, t, years, clock, series, gaps, events, binding, as_values,
                    max(min(n, get_num_threads()), 1))
    return series, gaps, unpack_events(events, binding)


def simulate(drivers: Mapping[str, np.ndarray], grid: Grid, clock: np.ndarray | None = None
             ) -> tuple[Trajectories, dict[str, np.ndarray]]:
    """Trajectories (base-2 logs) and event times of every draw (the interface of
    :mod:`simcore.model.interface`)."""
    log2, gaps, events = _simulate_arrays(drivers, grid, clock, as_values=False)
    trajectories = Trajectories(log2={name: log2[:, s] for s, name in enumerate(SERIES)},
                                gaps={name: gaps[:, r] for name, r in REQUIREMENT_ROW.items()})
    return trajectories, events


def simulate_values(drivers: Mapping[str, np.ndarray], grid: Grid,
                    clock: np.ndarray | None = None
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`simulate` with every series as values (not logs), bit for bit a run's stored
    paths of the same draws: series -> (n, T), and the events."""
    values, _, events = _simulate_arrays(drivers, grid, clock, as_values=True)
    return {name: values[:, s] for s, name in enumerate(SERIES)}, events

refresh_stale_cache(_compiled_spec_key, SPEC_KEY,
                    (_compiled_spec_key, _stalled, _value, _log2, _logaddexp2,
                     _verified, _verified_error, _simulate_draw, _crossing,
                     _threshold_crossings, _events_of_draw, simulate_chunk, simulate_points))
