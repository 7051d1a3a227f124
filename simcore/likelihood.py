"""IPCC-style calibrated likelihood terms (Mastrandrea et al. 2010, the IPCC AR5 guidance note),
so a probability is read the same way wherever the report states one.

The IPCC ranges nest (a 95% outcome is both "likely" and "very likely"); a reader is given the
narrowest one that holds. Boundaries follow the ranges as written: the upper terms include their
lower end ("likely" is 66-100%, so 66% is likely), the lower terms their upper end ("unlikely" is
0-33%, so 33% is unlikely), and "about as likely as not" is what lies strictly between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
