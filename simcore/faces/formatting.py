"""What people read, worded one way everywhere: durations (given in days), dollars, significant
figures, the word tables of profiles, thresholds and requirements, and IPCC-style likelihood
terms."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Human units for durations, in days: (size, singular, plural)
_DURATION_UNITS = (
    (1 / 86400, "second", "seconds"), (1 / 1440, "minute", "minutes"), (1 / 24, "hour", "hours"),
    (1.0, "day", "days"), (7.0, "week", "weeks"), (365.25 / 12, "month", "months"),
    (365.25, "year", "years"),
)


def human_duration(days: float) -> str:
    """'90 minutes', '3 days', '2.5 years': the largest unit in which the value is >= 1."""
    if not math.isfinite(days) or days <= 0:
        return "never" if days == math.inf else "0"
    size, one, many = _DURATION_UNITS[0]
    for candidate in _DURATION_UNITS:
        if days >= candidate[0] * 0.999:
            size, one, many = candidate
    value = days / size
    text = f"{value:.0f}" if value >= 10 or abs(value - round(value)) < 0.05 else f"{value:.1f}"
    return f"{text} {one if text == '1' else many}"


def human_dollars(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:g}B"
    if value >= 1e6:
        return f"${value / 1e6:g}M"
    if value >= 1e3:
        return f"${value / 1e3:g}k"
    if value >= 1:
        return f"${value:g}"
    return f"${value:.2g}"


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def significant(x: float, digits: int = 3) -> str:
    """``digits`` significant digits, positional from 0.001 to a million ('0.0438', '5,400'),
    else as '9.48×10⁻⁷' (never Python's '9.48e-07', which readers do not read)."""
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "—")
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits}g}")
    if 1e-3 <= abs(rounded) < 1e6:
        exponent = math.floor(math.log10(abs(rounded)))
        decimals = max(digits - 1 - exponent, 0)
        return f"{rounded:,.{decimals}f}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def usd_text(v: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"${significant(v / size)}{suffix}"
    return f"${significant(v)}"


def percent_text(p: float) -> str:
    x = 100.0 * p
    return f"{significant(x, 2)}%" if x < 10 else f"{x:.0f}%"


def probability_text(p: float) -> str:
    """Two decimals (whole percent, as the likelihood terms), more for small non-zero p so that
    0.0015 does not read as 0."""
    return significant(p, 2) if 0 < p < 0.01 else f"{p:.2f}"


def duration_text(days: float) -> str:
    return human_duration(days)

# The words for profiles, film-time thresholds and binding requirements, one table per use.
THRESHOLD_WORDS = {"1y": "a year", "1mo": "a month", "1w": "a week", "1d": "a day",
                   "1h": "an hour", "10min": "10 minutes"}
PROFILE_WORDS = {"no_hardware": "no hardware (phone or laptop)", "gaming_pc": "a gaming PC",
                 "all": "any user"}                                    # the report's sentences
PROFILE_SHORT = {"no_hardware": "no hardware", "gaming_pc": "gaming PC", "all": "any"}
PROFILE_HEADINGS = {"no_hardware": "no hardware (phone/laptop)",
                    "gaming_pc": "a gaming PC"}                        # the terminal answer
PROFILE_LEGEND = {"no_hardware": "no hardware (phone/laptop)", "gaming_pc": "gaming PC"}
REQUIREMENT_WORDS = {"already_met": "already met at the start", "long_take": "long take",
                     "consistency": "consistency across cuts", "director_agent": "director agent",
                     "dialogue": "dialogue", "budget": "budget",
                     "consistency_team": "consistency (team review)",
                     "dialogue_team": "dialogue (team review)", "budget_team": "team budget",
                     "consistency_director": "consistency (director's review)",
                     "dialogue_director": "dialogue (director's review)",
                     "director_agent_assisted": "agent pieces (directed)",
                     "budget_director": "one person's budget"}
REQUIREMENT_LEGEND = {**REQUIREMENT_WORDS, "already_met": "already met at as-of"}


# IPCC-style calibrated likelihood terms.
# IPCC-style calibrated likelihood terms (Mastrandrea et al. 2010, the IPCC AR5 guidance note),
# so a probability is read the same way wherever the report states one.
#
# The IPCC ranges nest (a 95% outcome is both "likely" and "very likely"); a reader is given the
# narrowest one that holds. Boundaries follow the ranges as written: the upper terms include their
# lower end ("likely" is 66-100%, so 66% is likely), the lower terms their upper end ("unlikely" is
# 0-33%, so 33% is unlikely), and "about as likely as not" is what lies strictly between.


@dataclass(frozen=True)
class Likelihood:
    term: str        # "likely"
    range_text: str  # "66%+"

    @property
    def label(self) -> str:
        """'likely (66%+)': the term with its range, as it appears beside a number."""
        return f"{self.term} ({self.range_text})"


# (lowest whole percent, term, range): checked from the top; the lower terms are
# (highest whole percent, ...) and checked from the bottom.
_UPPER = ((99, Likelihood("virtually certain", "99%+")),
          (90, Likelihood("very likely", "90%+")),
          (66, Likelihood("likely", "66%+")))
_LOWER = ((1, Likelihood("exceptionally unlikely", "under 1%")),
          (10, Likelihood("very unlikely", "under 10%")),
          (33, Likelihood("unlikely", "under 33%")))
ABOUT_AS_LIKELY_AS_NOT = Likelihood("about as likely as not", "33–66%")


def likelihood(p: float) -> Likelihood:
    """The calibrated term for probability ``p`` in [0, 1].

    ``p`` is first rounded to a whole percent, the precision of the IPCC ranges and of the
    numbers printed beside the terms, so the word always agrees with the number shown
    (P = 0.6599 is printed as 66% and called likely).
    """
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p <= 1.0):
        raise ValueError(f"a probability must be a number in [0, 1], got {p!r}")
    percent = round(100.0 * p)
    for lowest, term in _UPPER:
        if percent >= lowest:
            return term
    for highest, term in _LOWER:
        if percent <= highest:
            return term
    return ABOUT_AS_LIKELY_AS_NOT


def likelihood_label(p: float) -> str:
    return likelihood(p).label
