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


DRIVER_SPECS: tuple[Driver, ...] = (
    # 2.1 hardware price-performance
    Driver("hw_doubling_years", _DIVISOR),
    Driver("hw_slowdown_start_years", _START),
    Driver("hw_slowdown_factor", _DIVISOR),
    Driver("gpu_usd_per_hour", _LOGGED),
    Driver("rental_premium", _LOGGED),
    Driver("rental_premium_decay_years", _DIVISOR),
    # 2.2 algorithmic and distillation efficiency
    Driver("alg_halving_years", _DIVISOR),
    Driver("alg_max_gain", _LOGGED),
    Driver("compute_per_video_second_today", _LOGGED),
    # 2.3 price
    Driver("price_markup", _LOGGED),
    # 2.4 free-tier quota policy
    Driver("free_allowance_today", _LOGGED),
    Driver("free_passthrough_elasticity",
           Domain(0.0, 1.0, why="a share of cost declines passed on")),
    Driver("free_withdrawal_hazard", _HAZARD),
    Driver("free_relaunch_hazard", _HAZARD),
    Driver("free_withdrawn_residual",
           Domain(0.0, 1.0, low_open=True,
                  why="a fraction of the quota; the model takes its logarithm")),
    Driver("free_user_value_usd", _LOGGED),
    Driver("free_gpu_share", _LOGGED),
    # 2.5 local generation
    Driver("gaming_pc_h100_equiv", _LOGGED),
    Driver("consumer_hw_doubling_years", _DIVISOR),
    Driver("open_weights_lag", Domain(0.0, why="how far open models lag the frontier")),
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
    Driver("required_shot_seconds", _LOGGED),
    Driver("cut_break_probability_today", _PROBABILITY),
    Driver("cut_break_halving_years", _DIVISOR),
    Driver("cuts_per_feature", _LOGGED),
    Driver("tolerated_visible_breaks", _LOGGED),
    Driver("agent_horizon_hours_today", _LOGGED),
    Driver("agent_doubling_years", _DIVISOR),
    Driver("novel_adaptation_hours", _LOGGED),
    Driver("agent_reliability_factor", _LOGGED),
    Driver("dialogue_error_probability_today", _PROBABILITY),
    Driver("dialogue_error_halving_years", _DIVISOR),
    Driver("dialogue_lines_per_feature", _LOGGED),
    Driver("tolerated_dialogue_errors", _LOGGED),
    Driver("budget_cap_usd", _LOGGED),
    Driver("free_user_days_threshold", _LOGGED),
    # 2.8 shared pace and stalls
    Driver("stall_occurs", _ANY),
    Driver("stall_start_years", _START),
    Driver("stall_slowdown_factor", _DIVISOR),
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
    ``equation`` is what the docs' table says it is."""

    name: str
    unit: str
    per_profile: bool
    equation: str


OUTPUT_SPECS: tuple[Output, ...] = (
    Output("film_days", "days", True, "footage / rate_P (2.6)"),
    Output("free_video_seconds_per_day", "video-seconds per day", True,
           "rate_P = max(cloud, local_P)"),
    Output("price_per_video_second", "USD per video-second", False, "price (2.3)"),
    Output("compute_per_video_second", "H100-equivalent GPU-seconds per video-second", False,
           "compute (2.2); falls with algorithms only"),
    Output("usd_per_gpu_second", "USD per H100-equivalent GPU-second (price / compute)", False,
           "price / compute = usd_per_gpu_s × `price_markup` (Q3 margin ratio)"),
    Output("film_cost_usd", "USD", False, "footage × price (list price)"),
    Output("coherent_shot_seconds", "seconds", False, "shot (2.7)"),
    Output("cut_break_probability", "probability", False, "p_break (2.7)"),
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
          ("novel_adaptation_hours", "agent_reliability_factor")),
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
    Requirement("shot_length", "lg required_shot_seconds − lg shot(t)"),
    Requirement("consistency", "lg p_break(t) + lg cuts_per_feature − lg tolerated_visible_breaks"),
    Requirement("director_agent",
                "lg novel_adaptation_hours + lg agent_reliability_factor − lg horizon(t)"),
    Requirement("dialogue",
                "lg p_dialog(t) + lg dialogue_lines_per_feature − lg tolerated_dialogue_errors"),
    Requirement("budget", "lg film_cost(t) − lg budget_cap_usd"),
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

# The requirements in the order binding shares are reported (binding codes 0, 1, ...).
REQUIREMENTS = tuple(r.name for r in REQUIREMENT_SPECS)

EVENT_SPECS: tuple[Event, ...] = (
    *(Event(f"free_film_within_{label}", (AtMost("film_days", days, _THRESHOLD_TEXT[label]),))
      for label, days in FILM_TIME_THRESHOLDS_DAYS.items()),
    Event("novel_to_movie_possible", REQUIREMENTS, binding="novel_to_movie_binding"),
    Event("novel_to_movie_free_user",
          (*REQUIREMENTS, AtMost("film_days", "free_user_days_threshold"))),
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


_check()
