"""The film-time and milestone model: pure numpy, vectorised over draws.

Every quantity is computed as its base-2 logarithm on the time grid. All trends are
exponential in time, so log-quantities are piecewise linear (kinks at stalls, slowdowns,
ceilings and floors only), combined with sums, minima and maxima. That is cheap, exact
between kinks, and lets event times be interpolated linearly in log space. Equations and
the reasons for them are in docs/model.md; the names below follow it.

Shapes: driver arrays are (n,), the grid ``t`` is (T,) in years since ``as_of``, and every
trajectory is (n, T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PROFILES = ("no_hardware", "gaming_pc")
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.25

# Upper bound on free-tier withdrawal/relaunch switches simulated per draw. A fixed count keeps
# the number of uniforms per draw constant (chunk invariance); with the baseline hazards more
# than 16 switches in 20 years has negligible probability, and the regime is frozen after it.
MAX_REGIME_SWITCHES = 16

MODEL_DRIVERS = frozenset({
    "film_length_seconds",
    "hw_doubling_years", "hw_slowdown_start_years", "hw_slowdown_factor",
    "gpu_usd_per_hour", "rental_premium", "rental_premium_decay_years",
    "alg_halving_years", "alg_max_gain",
    "compute_per_video_second_today", "price_markup",
    "free_allowance_today", "free_passthrough_elasticity", "free_withdrawal_hazard",
    "free_relaunch_hazard", "free_withdrawn_residual", "free_user_value_usd", "free_gpu_share",
    "gaming_pc_h100_equiv", "consumer_hw_doubling_years", "open_weights_lag",
    "local_hours_per_day", "npu_feasible_years", "laptop_h100_equiv",
    "overgeneration_today", "overgeneration_halving_years",
    "coherent_shot_seconds_today", "coherent_shot_doubling_years", "required_shot_seconds",
    "cut_break_probability_today", "cut_break_halving_years", "cuts_per_feature",
    "tolerated_visible_breaks",
    "agent_horizon_hours_today", "agent_doubling_years", "novel_adaptation_hours",
    "agent_reliability_factor",
    "dialogue_error_probability_today", "dialogue_error_halving_years",
    "dialogue_lines_per_feature", "tolerated_dialogue_errors",
    "budget_cap_usd", "free_user_days_threshold",
    "stall_occurs", "stall_start_years", "stall_slowdown_factor",
})


@dataclass(frozen=True)
class Domain:
    """The values every draw of a driver must take for the model's equations to hold."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False          # strictly above ``low``
    why: str = ""

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high


# Every driver's draws must lie within [-LIMIT, LIMIT], and a driver whose domain is open at 0 (it
# is logged or divided by) at or above 1/LIMIT. Far beyond any meaningful quantity, and enough to
# keep every log-space sum of the model finite (products of a reciprocal and a stretched clock stay
# below ~1e203): no inf - inf, hence no NaN, anywhere in the kernel.
DRIVER_MAGNITUDE_LIMIT = 1e100

_LOGGED = Domain(0.0, low_open=True, why="the model takes its logarithm")
_DIVISOR = Domain(0.0, low_open=True, why="the model divides by it")
_START = Domain(0.0, why="years after as_of; an earlier start would change today's values")
_PROBABILITY = Domain(0.0, 1.0, low_open=True,
                      why="a probability; the model takes its logarithm, so 0 is excluded")
_ANY = Domain(why="any finite value")

# One place for the domain of every model driver (checked when a prior file is loaded, for every
# value the sampler can draw: a normal on a driver that must be positive is accepted only if even
# its extreme draws, mean - 8.2 sd, are positive).
DRIVER_DOMAINS: dict[str, Domain] = {
    "film_length_seconds": _LOGGED,
    "hw_doubling_years": _DIVISOR,
    "hw_slowdown_start_years": _START,
    "hw_slowdown_factor": _DIVISOR,
    "gpu_usd_per_hour": _LOGGED,
    "rental_premium": _LOGGED,
    "rental_premium_decay_years": _DIVISOR,
    "alg_halving_years": _DIVISOR,
    "alg_max_gain": _LOGGED,
    "compute_per_video_second_today": _LOGGED,
    "price_markup": _LOGGED,
    "free_allowance_today": _LOGGED,
    "free_passthrough_elasticity": Domain(0.0, 1.0, why="a share of cost declines passed on"),
    "free_withdrawal_hazard": Domain(0.0, why="a hazard rate per year"),
    "free_relaunch_hazard": Domain(0.0, why="a hazard rate per year"),
    "free_withdrawn_residual": Domain(0.0, 1.0, low_open=True,
                                      why="a fraction of the quota; the model takes its logarithm"),
    "free_user_value_usd": _LOGGED,
    "free_gpu_share": _LOGGED,
    "gaming_pc_h100_equiv": _LOGGED,
    "consumer_hw_doubling_years": _DIVISOR,
    "open_weights_lag": Domain(0.0, why="how far open models lag the frontier"),
    "local_hours_per_day": Domain(0.0, 24.0, low_open=True,
                                  why="hours in a day; the model takes its logarithm"),
    "npu_feasible_years": _ANY,
    "laptop_h100_equiv": _LOGGED,
    "overgeneration_today": _LOGGED,
    "overgeneration_halving_years": _DIVISOR,
    "coherent_shot_seconds_today": _LOGGED,
    "coherent_shot_doubling_years": _DIVISOR,
    "required_shot_seconds": _LOGGED,
    "cut_break_probability_today": _PROBABILITY,
    "cut_break_halving_years": _DIVISOR,
    "cuts_per_feature": _LOGGED,
    "tolerated_visible_breaks": _LOGGED,
    "agent_horizon_hours_today": _LOGGED,
    "agent_doubling_years": _DIVISOR,
    "novel_adaptation_hours": _LOGGED,
    "agent_reliability_factor": _LOGGED,
    "dialogue_error_probability_today": _PROBABILITY,
    "dialogue_error_halving_years": _DIVISOR,
    "dialogue_lines_per_feature": _LOGGED,
    "tolerated_dialogue_errors": _LOGGED,
    "budget_cap_usd": _LOGGED,
    "free_user_days_threshold": _LOGGED,
    "stall_occurs": _ANY,
    "stall_start_years": _START,
    "stall_slowdown_factor": _DIVISOR,
}
assert set(DRIVER_DOMAINS) == MODEL_DRIVERS

# Q6 thresholds on a free user's film time, in days. Definitions of the events, not assumptions.
FILM_TIME_THRESHOLDS_DAYS = {
    "1y": DAYS_PER_YEAR,
    "1mo": DAYS_PER_YEAR / 12.0,
    "1w": 7.0,
    "1d": 1.0,
    "1h": 1.0 / 24.0,
    "10min": 1.0 / 144.0,
}

# The requirements of a watchable novel-to-movie (Q7), in the order binding shares are reported.
REQUIREMENTS = ("shot_length", "consistency", "director_agent", "dialogue", "budget")

# Trajectory outputs: name -> (has a profile dimension, unit).
OUTPUTS = {
    "film_days": (True, "days"),
    "free_video_seconds_per_day": (True, "video-seconds per day"),
    "price_per_video_second": (False, "USD per video-second"),
    "compute_per_video_second": (False, "H100-equivalent GPU-seconds per video-second"),
    "usd_per_gpu_second": (False, "USD per H100-equivalent GPU-second (price / compute)"),
    "film_cost_usd": (False, "USD"),
    "coherent_shot_seconds": (False, "seconds"),
    "cut_break_probability": (False, "probability"),
}


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


@dataclass
class Trajectories:
    """Base-2 logs of every output on the grid, plus the requirement gaps of Q7."""

    log2: dict[str, np.ndarray]                  # output or output/profile -> (n, T)
    requirement_gaps: dict[str, np.ndarray]      # requirement -> (n, T); <= 0 means met
    log2_free_days_threshold: np.ndarray         # (n, 1)


def simulate(d: dict[str, np.ndarray], t: np.ndarray, regime_clock: np.ndarray) -> Trajectories:
    """All trajectories for one chunk of draws.

    ``d``: driver name -> (n,) values; ``t``: (T,) years since as_of;
    ``regime_clock``: (n, MAX_REGIME_SWITCHES) uniforms for the free-tier regime chain.
    """
    def col(name: str) -> np.ndarray:
        return d[name][:, None]

    def log2col(name: str) -> np.ndarray:
        return np.log2(d[name])[:, None]

    t = np.asarray(t, dtype=float)
    stall_start = np.where(d["stall_occurs"] > 0.5, d["stall_start_years"], np.inf)[:, None]
    stall_factor = col("stall_slowdown_factor")
    ai_years = stalled_years(t, stall_start, stall_factor)

    # Mechanism 2: algorithmic and distillation gains at fixed quality, with a ceiling.
    log2_alg_ceiling = log2col("alg_max_gain")
    log2_alg_gain = np.minimum(ai_years / col("alg_halving_years"), log2_alg_ceiling)
    # Mechanism 1: hardware price-performance with a later slowdown; rent premium fading.
    hw_years = stalled_years(t, col("hw_slowdown_start_years"), col("hw_slowdown_factor"))
    log2_hw_gain = hw_years / col("hw_doubling_years")
    # Today's rent includes a premium over the long-run trend that fades out: the factor is 1
    # at as_of and 1/premium once the premium is gone.
    log2_premium = log2col("rental_premium") * (np.maximum(
        0.0, 1.0 - t / col("rental_premium_decay_years")) - 1.0)
    # Mechanism 3: compute, cost and price of a video-second.
    log2_compute = log2col("compute_per_video_second_today") - log2_alg_gain
    log2_usd_per_gpu_s = (np.log2(d["gpu_usd_per_hour"] / SECONDS_PER_HOUR)[:, None]
                          + log2_premium - log2_hw_gain)
    log2_cost = log2_compute + log2_usd_per_gpu_s
    log2_markup = log2col("price_markup")
    log2_price = log2_cost + log2_markup
    # Mechanism 6: footage to generate, overgeneration falling toward 1.
    log2_overgen = np.maximum(
        0.0, log2col("overgeneration_today") - ai_years / col("overgeneration_halving_years"))
    log2_length = log2col("film_length_seconds")
    log2_footage = log2_length + log2_overgen
    log2_film_cost = log2_footage + log2_price

    # Mechanism 4: the free tier. Quota follows cost with an elasticity; it turns unlimited
    # (rate-limited only) once a film's footage costs the provider less than a free user is worth.
    log2_quota = log2col("free_allowance_today") + col("free_passthrough_elasticity") * (
        log2_cost[:, :1] - log2_cost)
    provider_film_cost = log2_footage + log2_cost
    unlimited = np.logical_or.accumulate(provider_film_cost <= log2col("free_user_value_usd"),
                                         axis=1)
    log2_throughput = (np.log2(SECONDS_PER_DAY * d["free_gpu_share"])[:, None]
                       + log2_hw_gain - log2_compute)
    log2_cloud = np.where(unlimited, log2_throughput, np.minimum(log2_quota, log2_throughput))
    withdrawn = withdrawn_regime(t, d["free_withdrawal_hazard"], d["free_relaunch_hazard"],
                                 regime_clock)
    log2_cloud = log2_cloud + np.where(withdrawn, log2col("free_withdrawn_residual"), 0.0)

    # Mechanism 5: local generation with the best open model, which lags the frontier.
    open_years = stalled_years(t - col("open_weights_lag"), stall_start, stall_factor)
    log2_compute_open = (log2col("compute_per_video_second_today")
                         - np.minimum(open_years / col("alg_halving_years"), log2_alg_ceiling))
    consumer_years = stalled_years(t, col("hw_slowdown_start_years"), col("hw_slowdown_factor"))
    log2_local_base = (np.log2(SECONDS_PER_HOUR * d["local_hours_per_day"])[:, None]
                       + consumer_years / col("consumer_hw_doubling_years") - log2_compute_open)
    log2_local_pc = log2col("gaming_pc_h100_equiv") + log2_local_base
    log2_local_laptop = np.where(t >= col("npu_feasible_years"),
                                 log2col("laptop_h100_equiv") + log2_local_base, -np.inf)

    log2 = {
        "price_per_video_second": log2_price,
        "compute_per_video_second": log2_compute,
        "usd_per_gpu_second": log2_usd_per_gpu_s + log2_markup,
        "film_cost_usd": log2_film_cost,
    }
    local_by_profile = {"no_hardware": log2_local_laptop,
                        "gaming_pc": np.maximum(log2_local_pc, log2_local_laptop)}
    for profile in PROFILES:
        # A free user takes whichever path is faster.
        log2_rate = np.maximum(log2_cloud, local_by_profile[profile])
        log2[f"free_video_seconds_per_day/{profile}"] = log2_rate
        log2[f"film_days/{profile}"] = log2_footage - log2_rate

    # Mechanism 7: capabilities a watchable feature needs.
    # A coherent shot longer than the whole film is meaningless: the trend stops there.
    log2_shot = np.minimum(
        log2col("coherent_shot_seconds_today") + ai_years / col("coherent_shot_doubling_years"),
        log2_length)
    log2_break = log2col("cut_break_probability_today") - ai_years / col("cut_break_halving_years")
    log2_agent = log2col("agent_horizon_hours_today") + ai_years / col("agent_doubling_years")
    log2_dialogue = (log2col("dialogue_error_probability_today")
                     - ai_years / col("dialogue_error_halving_years"))
    log2["coherent_shot_seconds"] = log2_shot
    log2["cut_break_probability"] = log2_break

    gaps = {
        "shot_length": log2col("required_shot_seconds") - log2_shot,
        "consistency": log2_break + log2col("cuts_per_feature") - log2col("tolerated_visible_breaks"),
        "director_agent": (log2col("novel_adaptation_hours") + log2col("agent_reliability_factor")
                           - log2_agent),
        "dialogue": (log2_dialogue + log2col("dialogue_lines_per_feature")
                     - log2col("tolerated_dialogue_errors")),
        "budget": log2_film_cost - log2col("budget_cap_usd"),
    }
    return Trajectories(log2=log2, requirement_gaps=gaps,
                        log2_free_days_threshold=log2col("free_user_days_threshold"))
