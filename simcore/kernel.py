"""The model's compiled kernel: one pass per draw computes every trajectory on the grid, bins
it into the running histograms, and finds every event time, without materialising (draws x
times) matrices.

This is the same model as the whole-matrix numpy formulation in ``simcore.model`` (which stays
as the readable reference: tests check that the two agree draw by draw). The kernel exists
because a million draws x 81 grid times x 10 outputs is ~10^9 values: numpy's temporaries make
that memory-bound, a fused loop keeps each draw's ~1,600 numbers in cache.

Parallelism is over blocks of draws; each block has its own histogram, summed at the end.
Integer counts and per-draw outputs make the result independent of the number of threads and
of the chunking.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .model import (
    FILM_TIME_THRESHOLDS_DAYS,
    MAX_REGIME_SWITCHES,
    MODEL_DRIVERS,
    PROFILES,
    REQUIREMENTS,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
)
from .summaries import BINS_PER_OCTAVE, LOG2_LOW, LogHistogram

DRIVER_ORDER = tuple(sorted(MODEL_DRIVERS))
_I = {name: i for i, name in enumerate(DRIVER_ORDER)}

# Row order of the per-draw trajectory scratch and of the histograms.
SERIES = (
    "film_days/no_hardware", "film_days/gaming_pc",
    "free_video_seconds_per_day/no_hardware", "free_video_seconds_per_day/gaming_pc",
    "price_per_video_second", "compute_per_video_second", "usd_per_gpu_second",
    "film_cost_usd", "coherent_shot_seconds", "cut_break_probability",
)
N_SERIES = len(SERIES)
N_REQUIREMENTS = len(REQUIREMENTS)
# Event columns: free_film_within_<label> for each (label, profile), then possible, then
# free_user per profile.
N_FILM_EVENTS = len(FILM_TIME_THRESHOLDS_DAYS) * len(PROFILES)
N_EVENTS = N_FILM_EVENTS + 1 + len(PROFILES)
ALREADY_MET = -1

_LOG2_THRESHOLDS = np.log2(np.array(list(FILM_TIME_THRESHOLDS_DAYS.values())))
assert np.all(np.diff(_LOG2_THRESHOLDS) < 0), "single-pass crossings need decreasing thresholds"
_N_BINS = LogHistogram.n_bins
assert _N_BINS <= 1 << 16, "bin indices are stored as uint16"
_BIN_SHIFT = LOG2_LOW - 1.0 / BINS_PER_OCTAVE
_BINS = float(BINS_PER_OCTAVE)

# Driver column indices as module constants: numba freezes them into the compiled code.
FILM_LENGTH = _I["film_length_seconds"]
HW_DOUBLING = _I["hw_doubling_years"]
HW_SLOW_START = _I["hw_slowdown_start_years"]
HW_SLOW_FACTOR = _I["hw_slowdown_factor"]
GPU_USD_HOUR = _I["gpu_usd_per_hour"]
PREMIUM = _I["rental_premium"]
PREMIUM_DECAY = _I["rental_premium_decay_years"]
ALG_HALVING = _I["alg_halving_years"]
ALG_MAX = _I["alg_max_gain"]
COMPUTE0 = _I["compute_per_video_second_today"]
MARKUP = _I["price_markup"]
ALLOWANCE0 = _I["free_allowance_today"]
ELASTICITY = _I["free_passthrough_elasticity"]
WITHDRAWAL = _I["free_withdrawal_hazard"]
RELAUNCH = _I["free_relaunch_hazard"]
RESIDUAL = _I["free_withdrawn_residual"]
USER_VALUE = _I["free_user_value_usd"]
GPU_SHARE = _I["free_gpu_share"]
PC_EQUIV = _I["gaming_pc_h100_equiv"]
CONSUMER_DOUBLING = _I["consumer_hw_doubling_years"]
OPEN_LAG = _I["open_weights_lag"]
LOCAL_HOURS = _I["local_hours_per_day"]
NPU_YEARS = _I["npu_feasible_years"]
LAPTOP_EQUIV = _I["laptop_h100_equiv"]
OVERGEN0 = _I["overgeneration_today"]
OVERGEN_HALVING = _I["overgeneration_halving_years"]
SHOT0 = _I["coherent_shot_seconds_today"]
SHOT_DOUBLING = _I["coherent_shot_doubling_years"]
SHOT_NEEDED = _I["required_shot_seconds"]
BREAK0 = _I["cut_break_probability_today"]
BREAK_HALVING = _I["cut_break_halving_years"]
CUTS = _I["cuts_per_feature"]
BREAKS_OK = _I["tolerated_visible_breaks"]
AGENT0 = _I["agent_horizon_hours_today"]
AGENT_DOUBLING = _I["agent_doubling_years"]
ADAPT_HOURS = _I["novel_adaptation_hours"]
RELIABILITY = _I["agent_reliability_factor"]
DIALOGUE0 = _I["dialogue_error_probability_today"]
DIALOGUE_HALVING = _I["dialogue_error_halving_years"]
LINES = _I["dialogue_lines_per_feature"]
DIALOGUE_OK = _I["tolerated_dialogue_errors"]
BUDGET = _I["budget_cap_usd"]
FREE_DAYS = _I["free_user_days_threshold"]
STALL = _I["stall_occurs"]
STALL_START = _I["stall_start_years"]
STALL_FACTOR = _I["stall_slowdown_factor"]


@njit(cache=True, inline="always")
def _stalled(t, start, inverse_factor):
    return min(t, start) + max(t - start, 0.0) * inverse_factor


@njit(cache=True)
def _simulate_draw(x, t, clock, traj, gaps):
    """Fill ``traj`` (N_SERIES, T) with log2 outputs and ``gaps`` (N_REQUIREMENTS+1, T) with the
    requirement gaps (the last row is left for the free-user days gap). Same equations as
    simcore.model.simulate, one draw at a time."""
    stall_start = x[STALL_START] if x[STALL] > 0.5 else np.inf
    # Reciprocals once per draw: the time loop then multiplies instead of dividing.
    stall_pace = 1.0 / x[STALL_FACTOR]
    hw_pace = 1.0 / x[HW_SLOW_FACTOR]
    per_alg = 1.0 / x[ALG_HALVING]
    per_hw = 1.0 / x[HW_DOUBLING]
    per_premium = 1.0 / x[PREMIUM_DECAY]
    per_overgen = 1.0 / x[OVERGEN_HALVING]
    per_consumer = 1.0 / x[CONSUMER_DOUBLING]
    per_shot = 1.0 / x[SHOT_DOUBLING]
    per_break = 1.0 / x[BREAK_HALVING]
    per_agent = 1.0 / x[AGENT_DOUBLING]
    per_dialogue = 1.0 / x[DIALOGUE_HALVING]
    log2_ceiling = math.log2(x[ALG_MAX])
    log2_premium0 = math.log2(x[PREMIUM])
    log2_compute0 = math.log2(x[COMPUTE0])
    log2_gpu_price = math.log2(x[GPU_USD_HOUR] / SECONDS_PER_HOUR)
    log2_markup = math.log2(x[MARKUP])
    log2_overgen0 = math.log2(x[OVERGEN0])
    log2_length = math.log2(x[FILM_LENGTH])
    log2_allowance = math.log2(x[ALLOWANCE0])
    log2_value = math.log2(x[USER_VALUE])
    log2_share = math.log2(SECONDS_PER_DAY * x[GPU_SHARE])
    log2_residual = math.log2(x[RESIDUAL])
    log2_local_hours = math.log2(SECONDS_PER_HOUR * x[LOCAL_HOURS])
    log2_pc = math.log2(x[PC_EQUIV])
    log2_laptop = math.log2(x[LAPTOP_EQUIV])
    log2_shot_needed = math.log2(x[SHOT_NEEDED])
    log2_breaks_allowed = math.log2(x[BREAKS_OK]) - math.log2(x[CUTS])
    log2_agent_needed = math.log2(x[ADAPT_HOURS]) + math.log2(x[RELIABILITY])
    log2_dialogue_allowed = math.log2(x[DIALOGUE_OK]) - math.log2(x[LINES])
    log2_budget = math.log2(x[BUDGET])
    log2_shot0 = math.log2(x[SHOT0])
    log2_break0 = math.log2(x[BREAK0])
    log2_agent0 = math.log2(x[AGENT0])
    log2_dialogue0 = math.log2(x[DIALOGUE0])

    # Free-tier regime: switch times of the withdrawal/relaunch chain.
    switch_times = np.empty(clock.size)
    elapsed = 0.0
    for k in range(clock.size):
        hazard = x[WITHDRAWAL] if k % 2 == 0 else x[RELAUNCH]
        elapsed += -math.log(clock[k]) / hazard if hazard > 0.0 else np.inf
        switch_times[k] = elapsed

    unlimited = False
    switches = 0
    cost0 = 0.0
    for k in range(t.size):
        tk = t[k]
        ai_years = _stalled(tk, stall_start, stall_pace)
        log2_alg_gain = min(ai_years * per_alg, log2_ceiling)
        hw_years = _stalled(tk, x[HW_SLOW_START], hw_pace)
        log2_hw_gain = hw_years * per_hw
        log2_premium = log2_premium0 * (max(0.0, 1.0 - tk * per_premium) - 1.0)
        log2_compute = log2_compute0 - log2_alg_gain
        log2_usd_per_gpu_s = log2_gpu_price + log2_premium - log2_hw_gain
        log2_cost = log2_compute + log2_usd_per_gpu_s
        log2_price = log2_cost + log2_markup
        log2_overgen = max(0.0, log2_overgen0 - ai_years * per_overgen)
        log2_footage = log2_length + log2_overgen
        log2_film_cost = log2_footage + log2_price
        if k == 0:
            cost0 = log2_cost

        log2_quota = log2_allowance + x[ELASTICITY] * (cost0 - log2_cost)
        if log2_footage + log2_cost <= log2_value:
            unlimited = True
        log2_throughput = log2_share + log2_hw_gain - log2_compute
        log2_cloud = log2_throughput if unlimited else min(log2_quota, log2_throughput)
        while switches < switch_times.size and switch_times[switches] <= tk:
            switches += 1
        if switches % 2 == 1:
            log2_cloud += log2_residual

        open_years = _stalled(tk - x[OPEN_LAG], stall_start, stall_pace)
        log2_compute_open = log2_compute0 - min(open_years * per_alg, log2_ceiling)
        log2_local_base = (log2_local_hours + hw_years * per_consumer
                           - log2_compute_open)
        log2_local_pc = log2_pc + log2_local_base
        log2_local_laptop = log2_laptop + log2_local_base if tk >= x[NPU_YEARS] else -np.inf
        rate_no_hardware = max(log2_cloud, log2_local_laptop)
        rate_gaming_pc = max(log2_cloud, max(log2_local_pc, log2_local_laptop))

        log2_shot = min(log2_shot0 + ai_years * per_shot, log2_length)  # at most the film
        log2_break = log2_break0 - ai_years * per_break
        log2_agent = log2_agent0 + ai_years * per_agent
        log2_dialogue = log2_dialogue0 - ai_years * per_dialogue

        traj[0, k] = log2_footage - rate_no_hardware
        traj[1, k] = log2_footage - rate_gaming_pc
        traj[2, k] = rate_no_hardware
        traj[3, k] = rate_gaming_pc
        traj[4, k] = log2_price
        traj[5, k] = log2_compute
        traj[6, k] = log2_usd_per_gpu_s + log2_markup
        traj[7, k] = log2_film_cost
        traj[8, k] = log2_shot
        traj[9, k] = log2_break
        gaps[0, k] = log2_shot_needed - log2_shot
        gaps[1, k] = log2_break - log2_breaks_allowed
        gaps[2, k] = log2_agent_needed - log2_agent
        gaps[3, k] = log2_dialogue - log2_dialogue_allowed
        gaps[4, k] = log2_film_cost - log2_budget


@njit(cache=True)
def _crossing(rows, n_rows, offset0, t):
    """First time all ``rows[r] - offset`` (r < n_rows) are <= 0, interpolated inside the step;
    offset0 applies to row 0 only. Returns (time, index of the row met last)."""
    n_times = t.size
    for k in range(n_times):
        met = True
        for r in range(n_rows):
            gap = rows[r, k] - (offset0 if r == 0 else 0.0)
            if gap > 0.0:
                met = False
                break
        if met:
            if k == 0:
                return t[0], ALREADY_MET
            best = 0.0
            last = 0
            for r in range(n_rows):
                shift = offset0 if r == 0 else 0.0
                before = rows[r, k - 1] - shift
                if before > 0.0:
                    fraction = before / (before - (rows[r, k] - shift))
                    if fraction > best:
                        best = fraction
                        last = r
            return t[k - 1] + best * (t[k] - t[k - 1]), last
    last = 0
    worst = -np.inf
    for r in range(n_rows):
        gap = rows[r, n_times - 1] - (offset0 if r == 0 else 0.0)
        if gap > worst:
            worst = gap
            last = r
    return np.inf, last


# Draws simulated before their values are counted. Each draw's bin indices are stored
# contiguously (810 of them, as uint16); the counting pass then takes one (series, time) row of
# the histogram at a time, so each row's few hot cache lines take thousands of increments in a
# row instead of one per draw. Measured on 1M draws (2 threads): 2.0 s with per-draw float
# scratch and batches of 64, 1.3-1.4 s this way at 1,024-4,096 (benchmarks/README.md).
BATCH = 4096
# The batch's bin indices take at most this many uint16 values per thread (6.6 MB: 4,096 draws
# on the baseline's 81 grid times); finer grids get smaller batches.
_BIN_SCRATCH_VALUES = BATCH * N_SERIES * 81


@njit(cache=True)
def _threshold_crossings(row, thresholds, t, out, stride):
    """First crossings of one series below each of several decreasing thresholds, in a single
    pass over the grid (a lower threshold is never crossed before a higher one). Same
    interpolation as _crossing; results go to out[0], out[stride], out[2*stride], ..."""
    h = 0
    n_thresholds = thresholds.size
    while h < n_thresholds and row[0] <= thresholds[h]:
        out[h * stride] = t[0]
        h += 1
    for k in range(1, t.size):
        while h < n_thresholds and row[k] <= thresholds[h]:
            before = row[k - 1] - thresholds[h]
            fraction = before / (before - (row[k] - thresholds[h]))
            out[h * stride] = t[k - 1] + fraction * (t[k] - t[k - 1])
            h += 1
        if h == n_thresholds:
            return
    while h < n_thresholds:
        out[h * stride] = np.inf
        h += 1


@njit(cache=True)
def _events_of_draw(x, traj, gaps, t_abs, events_row):
    """Event times of one simulated draw into ``events_row``; returns the binding code."""
    for p in range(2):
        _threshold_crossings(traj[p], _LOG2_THRESHOLDS, t_abs, events_row[p:], 2)
    column = N_FILM_EVENTS
    when, last = _crossing(gaps, N_REQUIREMENTS, 0.0, t_abs)
    events_row[column] = when
    log2_free_days = math.log2(x[FREE_DAYS])
    for p in range(2):
        for k in range(t_abs.size):
            gaps[N_REQUIREMENTS, k] = traj[p, k] - log2_free_days
        events_row[column + 1 + p] = _crossing(gaps, N_REQUIREMENTS + 1, 0.0, t_abs)[0]
    return last


@njit(cache=True, parallel=True)
def simulate_chunk(drivers, t, t_abs, clock, counts, events, binding, paths, n_paths):
    """Simulate every draw of a chunk.

    drivers (n, len(DRIVER_ORDER)); t, t_abs (T,); clock (n, MAX_REGIME_SWITCHES);
    counts (blocks, N_SERIES, T * n_bins) int32, added to; events (n, N_EVENTS) and
    binding (n,) written; paths (n_paths, N_SERIES, T) written for the first n_paths draws.
    """
    n = drivers.shape[0]
    n_times = t.size
    blocks = counts.shape[0]
    per_block = (n + blocks - 1) // blocks
    for block in prange(blocks):
        traj = np.empty((N_SERIES, n_times))
        gaps = np.empty((N_REQUIREMENTS + 1, n_times))
        batch = min(BATCH, max(64, _BIN_SCRATCH_VALUES // (N_SERIES * n_times)))
        bins = np.empty((batch, N_SERIES, n_times), np.uint16)
        hist = counts[block]
        first, end = block * per_block, min(n, (block + 1) * per_block)
        for batch_start in range(first, end, batch):
            size = min(batch, end - batch_start)
            for b in range(size):
                i = batch_start + b
                _simulate_draw(drivers[i], t, clock[i], traj, gaps)
                binding[i] = _events_of_draw(drivers[i], traj, gaps, t_abs, events[i])
                if i < n_paths:
                    for s in range(N_SERIES):
                        for k in range(n_times):
                            paths[i, s, k] = 2.0 ** traj[s, k]
                for s in range(N_SERIES):
                    for k in range(n_times):
                        scaled = min(max((traj[s, k] - _BIN_SHIFT) * _BINS, 0.0), _N_BINS - 1.0)
                        bins[b, s, k] = int(scaled)
            for s in range(N_SERIES):
                row = hist[s]
                for k in range(n_times):
                    offset = k * _N_BINS
                    for b in range(size):
                        row[offset + bins[b, s, k]] += 1
