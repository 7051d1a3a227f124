"""The model's specification, declared once: its drivers and their domains, the user profiles,
the trajectory outputs, the capability requirements and the per-draw events.

Everything that lays out what the model stores or reports is derived from these declarations:
the kernel's series rows and event columns (``simcore.model.kernel``), the unpacking of those
columns (:func:`simcore.model.interface.unpack_events`), the run file's per-draw layout
(``simcore.runfile``), the order of the tables, and the tables of docs/model.md sections 3 and 4
(``simcore.model.doc_tables``). The equations themselves live in the two backends,
``reference.py`` (numpy, whole matrices) and ``kernel.py`` (compiled, one draw at a time); tests
fail, naming the file to edit, when a declared output, requirement or driver is missing from one.

Order matters and is part of every stored run: series rows follow ``OUTPUT_SPECS`` (each
per-profile output once per profile, in ``PROFILE_SPECS`` order), event columns follow
``EVENT_SPECS``, binding codes index an event's conditions, and drivers are stored in
alphabetical order (``DRIVER_ORDER``). Append; do not reorder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

# Upper bound on free-tier withdrawal/relaunch switches simulated per draw. A fixed count keeps
# the number of uniforms per draw constant (chunk invariance); with the baseline hazards more
# than 16 switches in 20 years has negligible probability, and the regime is frozen after it.
MAX_REGIME_SWITCHES = 16


# --------------------------------------------------------------------------------------------
# Drivers

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
_HAZARD = Domain(0.0, why="a hazard rate per year")
_ANY = Domain(why="any finite value")


@dataclass(frozen=True)
class Driver:
    """A model input that every prior file samples, unless it has a ``default``.

    ``default`` is for a driver whose neutral value switches its mechanism off (a cap of +inf,
    a hazard of 0): a prior file may leave such a driver out, and every draw then takes the
    default. The default is a *definition* of what "absent" means, not an assumption about the
    world, which is why it may lie outside the domain (+inf for a cap) and needs no source; a
    prior file that wants the mechanism states a distribution with its sources. A driver left
    out is not stored in run.nc's /prior (it was not drawn); ``default_means`` says in words
    what leaving it out means (docs, errors).
    """

    name: str
    domain: Domain
    default: float | None = None
    default_means: str = ""


_RECALL = Domain(0.0, 1.0, why="a recall: the share of bad takes a reviewer catches")

DRIVER_SPECS: tuple[Driver, ...] = (
    # 2.1 hardware price-performance, and the energy floor under GPU rent
    Driver("hw_doubling_years", _DIVISOR),
    Driver("hw_slowdown_start_years", _START),
    Driver("hw_slowdown_factor", _DIVISOR),
    Driver("gpu_usd_per_hour", _LOGGED),
    Driver("rental_premium", _LOGGED),
    Driver("rental_premium_decay_years", _DIVISOR),
    Driver("gpu_energy_usd_per_hour", _LOGGED),
    Driver("energy_efficiency_doubling_years", _DIVISOR),
    # 2.2 algorithmic and distillation efficiency, down to a floor
    Driver("alg_halving_years", _DIVISOR),
    Driver("compute_per_video_second_floor", _LOGGED),
    Driver("compute_per_video_second_today", _LOGGED),
    # 2.3 price, and the festival tier's
    Driver("price_markup", _LOGGED),
    Driver("festival_price_multiplier", _LOGGED),
    Driver("festival_overgeneration_today", _LOGGED),
    Driver("festival_labour_usd_per_finished_minute", _LOGGED),
    # 2.4 free-tier quota policy
    Driver("free_allowance_today", _LOGGED),
    Driver("free_passthrough_elasticity",
           Domain(0.0, 1.0, why="a share of cost declines passed on")),
    Driver("free_withdrawal_hazard", _HAZARD),
    Driver("free_relaunch_hazard", _HAZARD),
    Driver("free_withdrawn_residual",
           Domain(0.0, 1.0, low_open=True,
                  why="a fraction of the quota; the model takes its logarithm")),
    Driver("free_user_value_usd_per_month", _LOGGED),
    Driver("free_daily_use_cap_seconds", _LOGGED),
    # 2.5 local generation
    Driver("open_compute_per_video_second_today", _LOGGED),
    Driver("open_distillation_gain", _LOGGED),
    Driver("open_distillation_years", _START),
    Driver("gaming_pc_h100_equiv", _LOGGED),
    Driver("consumer_hw_doubling_years", _DIVISOR),
    Driver("local_hours_per_day",
           Domain(0.0, 24.0, low_open=True, why="hours in a day; the model takes its logarithm")),
    Driver("npu_feasible_years", _ANY),
    Driver("laptop_h100_equiv", _LOGGED),
    # 2.6 footage needed
    Driver("film_length_seconds", _LOGGED),
    Driver("overgeneration_today", _LOGGED),
    Driver("overgeneration_halving_years", _DIVISOR),
    # 2.7 capabilities a watchable feature needs
    Driver("coherent_shot_seconds_today", _LOGGED),
    Driver("coherent_shot_doubling_years", _DIVISOR),
    Driver("coherent_shot_saturation_seconds", _LOGGED),
    Driver("required_long_take_seconds", _LOGGED),
    Driver("cut_break_probability_today", _PROBABILITY),
    Driver("cut_break_halving_years", _DIVISOR),
    Driver("cut_break_probability_floor", _PROBABILITY),
    Driver("cuts_per_feature", _LOGGED),
    Driver("tolerated_visible_breaks", _LOGGED),
    Driver("dialogue_error_probability_today", _PROBABILITY),
    Driver("dialogue_error_halving_years", _DIVISOR),
    Driver("dialogue_error_probability_floor", _PROBABILITY),
    Driver("dialogue_lines_per_feature", _LOGGED),
    Driver("tolerated_dialogue_errors", _LOGGED),
    # 2.7 generate-and-verify
    Driver("judge_recall_today", _RECALL),
    Driver("judge_miss_halving_years", _DIVISOR),
    Driver("human_review_recall", _RECALL),
    Driver("max_takes_per_unit", _LOGGED),
    # 2.7 the director agent
    Driver("agent_horizon_hours_today", _LOGGED),
    Driver("agent_doubling_years", _DIVISOR),
    Driver("longest_unsplittable_subtask_hours", _LOGGED),
    Driver("agent_reliability_factor", _LOGGED),
    Driver("novel_adaptation_hours", _LOGGED),
    Driver("director_hours", _LOGGED),
    Driver("director_hours_per_piece", _LOGGED),
    # 2.7 budgets of the human-effort levels
    Driver("individual_budget_usd", _LOGGED),
    Driver("team_budget_usd", _LOGGED),
    Driver("free_user_days_threshold", _LOGGED),
    # 2.8 shared pace and stalls
    Driver("stall_occurs", _ANY),
    Driver("stall_start_years", _START),
    Driver("stall_slowdown_factor", _DIVISOR),
)

# The model's version, stored in every run's manifest. It changes whenever what a run stores
# changes meaning or layout (drivers, outputs, requirements, events, equations): a run made by
# another version cannot be recomputed by this one, and ``simcore verify`` says so.
# 1: issues 1-15 (a 120-s shot, one milestone). 2: issue 17 (long take, generate-and-verify,
# three human-effort milestones, caps and floors, cost tiers).
MODEL_VERSION = 2

# The drivers whose change must leave every output at as_of unchanged: paces, halving and
# doubling times, slowdowns and their start dates, hazards (docs/model.md, section 2.9).
FUTURE_TREND_DRIVERS = (
    "hw_doubling_years", "hw_slowdown_start_years", "hw_slowdown_factor",
    "rental_premium_decay_years", "energy_efficiency_doubling_years", "alg_halving_years",
    "free_passthrough_elasticity", "free_withdrawal_hazard", "free_relaunch_hazard",
    "consumer_hw_doubling_years", "open_distillation_gain", "open_distillation_years",
    "overgeneration_halving_years",
    "coherent_shot_doubling_years", "cut_break_halving_years", "dialogue_error_halving_years",
    "judge_miss_halving_years", "agent_doubling_years", "stall_occurs", "stall_start_years",
    "stall_slowdown_factor",
)


# --------------------------------------------------------------------------------------------
# User profiles (section 5)

# Local hardware the backends compute a generation rate for (section 2.5).
DEVICES = ("laptop", "gaming_pc")


@dataclass(frozen=True)
class Profile:
    """A free-tier user (spending nothing) who owns ``devices`` and takes the fastest of the
    free cloud tier and those devices."""

    name: str
    devices: tuple[str, ...]
    description: str


PROFILE_SPECS: tuple[Profile, ...] = (
    Profile("no_hardware", ("laptop",), "phone or laptop, no discrete GPU"),
    Profile("gaming_pc", ("gaming_pc", "laptop"), "a gaming PC, and a laptop"),
)


# --------------------------------------------------------------------------------------------
# Trajectory outputs (section 3)

@dataclass(frozen=True)
class Output:
    """A quantity computed on the time grid for every draw and summarised as percentiles.
    ``equation`` is what the docs' table says it is. ``plausible`` is a (low, high) range that
    the baseline's 1st and 99th percentiles must stay inside at every grid time, in the
    output's unit, and ``plausible_why`` the physical or economic reason for it (tested: a
    tail outside it is a defect of the model or of its priors, not a forecast)."""

    name: str
    unit: str
    per_profile: bool
    equation: str
    plausible: tuple[float, float] = (0.0, math.inf)
    plausible_why: str = ""


OUTPUT_SPECS: tuple[Output, ...] = (
    Output("film_days", "days", True, "footage / rate_P (2.6)", (6e-7, 1e6),
           "at least 5,400 s of footage at the most video a device can write (see "
           "free_video_seconds_per_day), ~0.05 s; at most ~2,700 years: trials alone "
           "(withdrawn free tiers keep a residual) give a fraction of a second a day"),
    Output("free_video_seconds_per_day", "video-seconds per day", True,
           "rate_P = max(cloud, local_P)", (1e-2, 86400.0 * 1e5),
           "at most 100,000 real-time streams: writing their raw 720p frames takes ~6.5 TB/s, "
           "beyond a consumer device's memory bandwidth even in 2046 (RTX 5090: 1.8 TB/s); the "
           "cloud tier is capped far lower by fair use. At least a trial's residual of a small "
           "allowance"),
    Output("price_per_video_second", "USD per video-second", False, "price (2.3)",
           (1e-9, 10.0),
           "at most 25x the dearest 2026 list price ($0.40/s); at least 1e-9 $/s (a film's "
           "footage for a few thousandths of a cent), reached only with the compute floor, "
           "energy efficiency and markup all at extremes"),
    Output("compute_per_video_second", "H100-equivalent GPU-seconds per video-second", False,
           "compute (2.2); falls with algorithms only, to a floor", (1e-4, 500.0),
           "at most 2.5x the undistilled 50-step 14B reference (195 GPU-s); at least 1e-4: "
           "below any floor argued from one-step generation by small models"),
    Output("usd_per_gpu_second", "USD per H100-equivalent GPU-second (price / compute)", False,
           "price / compute = usd_per_gpu_s × `price_markup` (Q3 margin ratio)", (1e-9, 1e-1),
           "list price per GPU-second at most ~50x on-demand H100 rent; at least the "
           "electricity of a GPU-second after 20 years of efficiency gains"),
    Output("film_cost_usd", "USD", False, "footage × price (draft tier: list price)",
           (5e-6, 1e7),
           "a 90-minute film's generated footage: under $10M (a studio's whole VFX budget), "
           "at least 5,400 s at the lowest price bound"),
    Output("coherent_shot_seconds", "seconds", False, "shot (2.7), saturating", (1.0, 5400.0),
           "between a second and the film's length"),
    Output("cut_break_probability", "probability", False, "p_break (2.7), per take, floored",
           (1e-7, 1.0), "a probability, floored: not below ~1e-7 per cut (a break every "
           "~5,000 features)"),
    Output("cost_per_finished_minute_draft_usd", "USD per finished minute", False,
           "60 × overgen × price (draft tier: generation only, list price)", (6e-8, 1e5),
           "below the festival tier's labour-inclusive cost; at least 60 s at the lowest price "
           "bound"),
    Output("cost_per_finished_minute_festival_usd", "USD per finished minute", False,
           "60 × festival_overgen × takes_team × price × `festival_price_multiplier` "
           "+ `festival_labour_usd_per_finished_minute` (festival tier)", (1e2, 1e7),
           "between a one-person festival short's cost ($100s/min) and 3x classic CG "
           "animation (~$2M/min: 500 artists x 5 years for 90 min)"),
    Output("takes_per_unit_automatic", "takes per shot", False,
           "E(k*) of generate-and-verify with the automatic judge (2.7)", (1.0, 1e4),
           "at least one take; at most the largest cap on takes a maker pays for"),
    Output("open_compute_per_video_second", "H100-equivalent GPU-seconds per video-second",
           False, "compute_open (2.5): the best open model, after its distillation, to a floor",
           (1e-4, 5000.0),
           "at most ~25x the undistilled 50-step 14B reference (195 GPU-s): an open model a "
           "generation behind; at least 1e-4, below any floor argued from one-step generation "
           "by small models"),
)


# --------------------------------------------------------------------------------------------
# Levels that observations measure but that are not fan outputs (issue 16)

@dataclass(frozen=True)
class Level:
    """An internal quantity of the model that observations measure, read off a requirement's
    gap without a new series: ``lg level = sum of lg need_drivers - gap(requirement)``."""

    name: str
    unit: str
    requirement: str
    need_drivers: tuple[str, ...]


LEVEL_SPECS: tuple[Level, ...] = (
    Level("agent_horizon_hours", "hours", "director_agent",
          ("longest_unsplittable_subtask_hours", "agent_reliability_factor")),
)


@dataclass(frozen=True)
class Trend:
    """A measure whose log is linear in (AI-progress) time with a level at as_of and a pace:
    ``lg measure(t) = lg level_driver + sign * t / pace_driver`` before any stall or ceiling.
    What ``simcore fit`` turns observations into (a prior entry for each driver)."""

    measure: str
    level_driver: str
    pace_driver: str
    sign: int           # +1: doubling time, -1: halving time


TREND_SPECS: tuple[Trend, ...] = (
    Trend("agent_horizon_hours", "agent_horizon_hours_today", "agent_doubling_years", +1),
    Trend("coherent_shot_seconds", "coherent_shot_seconds_today",
          "coherent_shot_doubling_years", +1),
    Trend("cut_break_probability", "cut_break_probability_today", "cut_break_halving_years", -1),
    Trend("compute_per_video_second", "compute_per_video_second_today", "alg_halving_years", -1),
)


# --------------------------------------------------------------------------------------------
# Requirements of a watchable novel-to-movie (section 2.7) and events (section 4)

@dataclass(frozen=True)
class Requirement:
    """A capability gap, base-2 log of need over level: <= 0 means met."""

    name: str
    gap: str          # the docs' equation


REQUIREMENT_SPECS: tuple[Requirement, ...] = (
    # Fully automatic from the text (the milestone ``novel_to_movie_possible``).
    Requirement("long_take", "lg required_long_take_seconds − lg shot(t)"),
    Requirement("consistency",
                "lg P(K; p_break(t), r_judge(t)) + lg cuts_per_feature "
                "− lg tolerated_visible_breaks"),
    Requirement("director_agent",
                "lg longest_unsplittable_subtask_hours + lg agent_reliability_factor "
                "− lg horizon(t)"),
    Requirement("dialogue",
                "lg P(K; p_dialog(t), r_judge(t)) + lg dialogue_lines_per_feature "
                "− lg tolerated_dialogue_errors"),
    Requirement("budget",
                "lg(footage(t) × takes_auto(t) × price(t)) − lg individual_budget_usd"),
    # A small team: human review, humans adapt the text, a team's budget.
    Requirement("consistency_team",
                "lg P(K; p_break(t), r_review(t)) + lg cuts_per_feature "
                "− lg tolerated_visible_breaks"),
    Requirement("dialogue_team",
                "lg P(K; p_dialog(t), r_review(t)) + lg dialogue_lines_per_feature "
                "− lg tolerated_dialogue_errors"),
    Requirement("budget_team",
                "lg(footage(t) × takes_team(t) × price(t)) − lg team_budget_usd"),
    # One person directing for a bounded time: reviews what he can watch, hands pieces to agents.
    Requirement("consistency_director",
                "lg P(K_dir(t); p_break(t), r_review(t)) + lg cuts_per_feature "
                "− lg tolerated_visible_breaks"),
    Requirement("dialogue_director",
                "lg P(K_dir(t); p_dialog(t), r_review(t)) + lg dialogue_lines_per_feature "
                "− lg tolerated_dialogue_errors"),
    Requirement("director_agent_assisted", "lg piece − lg horizon(t)"),
    Requirement("budget_director",
                "lg(footage(t) × takes_dir(t) × price(t)) − lg individual_budget_usd"),
)


@dataclass(frozen=True)
class AtMost:
    """Condition: ``output`` (of each profile, for a per-profile output) at or below ``bound``,
    a number in the output's unit or the name of a driver. Its gap is lg output − lg bound."""

    output: str
    bound: float | str
    bound_text: str = ""        # how the docs write a numeric bound

    @property
    def name(self) -> str:
        return f"{self.output}_at_most_{self.bound_text or self.bound}"


@dataclass(frozen=True)
class Event:
    """The first time every condition holds at once (section 4): requirement names and
    :class:`AtMost` conditions. ``binding`` names a stored variable with, per draw, the code of
    the condition met last (its index in ``conditions``, or ``ALREADY_MET``)."""

    name: str
    conditions: tuple[str | AtMost, ...]
    binding: str | None = None


# Q6 thresholds on a free user's film time, in days. Definitions of the events, not assumptions.
FILM_TIME_THRESHOLDS_DAYS = {
    "1y": DAYS_PER_YEAR,
    "1mo": DAYS_PER_YEAR / 12.0,
    "1w": 7.0,
    "1d": 1.0,
    "1h": 1.0 / 24.0,
    "10min": 1.0 / 144.0,
}
_THRESHOLD_TEXT = {"1y": "365.25", "1mo": "365.25/12", "1w": "7", "1d": "1", "1h": "1/24",
                   "10min": "1/144"}

# The requirements in the order of their gaps (the kernel's gap rows).
REQUIREMENTS = tuple(r.name for r in REQUIREMENT_SPECS)

# The three human-effort levels of Q7 (section 2.7), each its own milestone. The fully automatic
# one keeps the name it had when it was the only one (``novel_to_movie_possible``): "a watchable
# feature made from a novel's text" with no human in the loop.
FULLY_AUTOMATIC = ("long_take", "consistency", "director_agent", "dialogue", "budget")
SMALL_TEAM = ("long_take", "consistency_team", "dialogue_team", "budget_team")
ONE_DIRECTOR = ("long_take", "consistency_director", "director_agent_assisted",
                "dialogue_director", "budget_director")
_FREE_USER = AtMost("film_days", "free_user_days_threshold")

EVENT_SPECS: tuple[Event, ...] = (
    *(Event(f"free_film_within_{label}", (AtMost("film_days", days, _THRESHOLD_TEXT[label]),))
      for label, days in FILM_TIME_THRESHOLDS_DAYS.items()),
    Event("novel_to_movie_possible", FULLY_AUTOMATIC, binding="novel_to_movie_binding"),
    Event("novel_to_movie_free_user", (*FULLY_AUTOMATIC, _FREE_USER)),
    Event("film_by_small_team", SMALL_TEAM, binding="small_team_binding"),
    Event("film_by_one_director", ONE_DIRECTOR, binding="one_director_binding"),
    Event("film_by_one_director_free_user", (*ONE_DIRECTOR, _FREE_USER)),
)

# The milestones of Q7 with a binding code: (event, its free-user variant or None, words).
MILESTONES = (
    ("film_by_small_team", None, "by a small team (about 10 people, 3 months)"),
    ("film_by_one_director", "film_by_one_director_free_user",
     "by one person directing for a month"),
    ("novel_to_movie_possible", "novel_to_movie_free_user",
     "fully automatically from the text"),
)

# The binding code of an event already reached at as_of (no condition was met last).
ALREADY_MET = -1
ALREADY_MET_LABEL = "already_met"


# --------------------------------------------------------------------------------------------
# Derived: names, orders and layouts. Nothing below declares anything.

DRIVER_ORDER = tuple(sorted(d.name for d in DRIVER_SPECS))   # run.nc /prior, kernel columns
MODEL_DRIVERS = frozenset(DRIVER_ORDER)
DRIVER_DOMAINS = {d.name: d.domain for d in DRIVER_SPECS}
DRIVER_DEFAULTS = {d.name: d.default for d in DRIVER_SPECS if d.default is not None}
PROFILES = tuple(p.name for p in PROFILE_SPECS)
OUTPUT_BY_NAME = {o.name: o for o in OUTPUT_SPECS}
# name -> (has a profile dimension, unit)
OUTPUTS = {o.name: (o.per_profile, o.unit) for o in OUTPUT_SPECS}
EVENT_NAMES = tuple(e.name for e in EVENT_SPECS)
EVENT_BY_NAME = {e.name: e for e in EVENT_SPECS}
LEVEL_BY_NAME = {level.name: level for level in LEVEL_SPECS}
TREND_BY_MEASURE = {trend.measure: trend for trend in TREND_SPECS}


def series_names(output: Output) -> tuple[str, ...]:
    """The output's series: ``output/profile`` per profile, or the output itself."""
    if output.per_profile:
        return tuple(f"{output.name}/{profile}" for profile in PROFILES)
    return (output.name,)


# Rows of the kernel's trajectory scratch, its histograms and its stored paths.
SERIES = tuple(s for o in OUTPUT_SPECS for s in series_names(o))
SERIES_ROW = {s: i for i, s in enumerate(SERIES)}
N_SERIES = len(SERIES)
REQUIREMENT_ROW = {r: i for i, r in enumerate(REQUIREMENTS)}
N_REQUIREMENTS = len(REQUIREMENTS)


def per_profile(event: Event) -> bool:
    """Whether the event has a time per profile: it does when a condition bounds a
    per-profile output."""
    return any(isinstance(c, AtMost) and OUTPUT_BY_NAME[c.output].per_profile
               for c in event.conditions)


def condition_label(condition: str | AtMost) -> str:
    return condition if isinstance(condition, str) else condition.name


def binding_labels(event: Event) -> tuple[str, ...]:
    """Labels of the event's binding codes ALREADY_MET, 0, 1, ..., in that order."""
    return (ALREADY_MET_LABEL, *(condition_label(c) for c in event.conditions))


def _columns(events, width) -> dict[str, slice]:
    layout, start = {}, 0
    for event in events:
        size = len(PROFILES) if per_profile(event) else 1
        layout[width(event)] = slice(start, start + size)
        start += size
    return layout


# Event columns of the kernel's per-draw event matrix: each event in EVENT_SPECS order, with
# one column per profile (profile-minor) for a per-profile event.
EVENT_COLUMNS: dict[str, slice] = _columns(EVENT_SPECS, lambda e: e.name)
N_EVENT_COLUMNS = sum(c.stop - c.start for c in EVENT_COLUMNS.values())
BINDING_EVENTS = tuple(e for e in EVENT_SPECS if e.binding is not None)
BINDING_COLUMNS: dict[str, slice] = _columns(BINDING_EVENTS, lambda e: e.binding)
N_BINDING_COLUMNS = sum(c.stop - c.start for c in BINDING_COLUMNS.values())
# The novel-to-movie milestone's binding codes name these (ALREADY_MET first).
BINDING_LABELS = binding_labels(EVENT_BY_NAME["novel_to_movie_possible"])


def event_layout() -> list[tuple[str, bool]]:
    """(event, whether it has a time per profile), in the stored order."""
    return [(e.name, per_profile(e)) for e in EVENT_SPECS]


def _check() -> None:
    """The declarations are consistent (run at import: a broken spec stops everything)."""
    names = [d.name for d in DRIVER_SPECS]
    for kind, declared in (("driver", names), ("profile", PROFILES),
                           ("output", [o.name for o in OUTPUT_SPECS]),
                           ("requirement", REQUIREMENTS), ("event", EVENT_NAMES)):
        duplicates = {n for n in declared if list(declared).count(n) > 1}
        assert not duplicates, f"{kind}s declared twice: {sorted(duplicates)}"
    for driver in DRIVER_SPECS:
        assert (driver.default is None) == (not driver.default_means), (
            f"driver {driver.name}: a default needs default_means, and only a default has one")
    for profile in PROFILE_SPECS:
        unknown = set(profile.devices) - set(DEVICES)
        assert not unknown, f"profile {profile.name}: unknown devices {sorted(unknown)}"
    for event in EVENT_SPECS:
        assert event.conditions, f"event {event.name} has no condition"
        for condition in event.conditions:
            if isinstance(condition, str):
                assert condition in REQUIREMENTS, f"event {event.name}: unknown {condition!r}"
                continue
            assert condition.output in OUTPUT_BY_NAME, (
                f"event {event.name}: unknown output {condition.output!r}")
            if isinstance(condition.bound, str):
                assert condition.bound in DRIVER_DOMAINS, (
                    f"event {event.name}: unknown driver {condition.bound!r}")
            else:
                assert condition.bound > 0.0, f"event {event.name}: a bound is logged"
    assert len(set(BINDING_COLUMNS)) == len(BINDING_EVENTS), "binding variables declared twice"
    for level in LEVEL_SPECS:
        assert level.requirement in REQUIREMENTS, f"level {level.name}: unknown requirement"
        assert set(level.need_drivers) <= set(names), f"level {level.name}: unknown driver"
    for trend in TREND_SPECS:
        assert trend.measure in OUTPUT_BY_NAME or trend.measure in LEVEL_BY_NAME, (
            f"trend {trend.measure}: neither an output nor a level")
        assert {trend.level_driver, trend.pace_driver} <= set(names), (
            f"trend {trend.measure}: unknown driver")
    for output in OUTPUT_SPECS:
        low, high = output.plausible
        assert 0.0 <= low < high and output.plausible_why, f"output {output.name}: plausible range"
    for name in FUTURE_TREND_DRIVERS:
        assert name in DRIVER_DOMAINS, f"unknown future-trend driver {name!r}"


_check()
