"""Look-ahead check: a prior entry whose source is dated after the prior file's ``as_of``
uses what was not known then. A warning in a normal run (a prior may be revised with later
evidence, but the reader should know), an error in a back-test (it would be hindsight)."""

from __future__ import annotations

from dataclasses import dataclass

from ..base.errors import PriorError
from .priors import PriorSet, decimal_year


@dataclass(frozen=True)
class LateSource:
    file: str
    driver: str
    title: str
    date: str

    def text(self, as_of: str) -> str:
        return (f"{self.file}: drivers.{self.driver}.sources: {self.title!r} is dated "
                f"{self.date}, after as_of {as_of}")


def late_sources(priors: PriorSet) -> list[LateSource]:
    """Every source of every driver dated after the prior set's as_of, in driver order."""
    as_of = priors.as_of_year
    return [LateSource(driver.defined_in, name, source.title, source.date)
            for name, driver in priors.drivers.items() for source in driver.text.sources
            if decimal_year(source.date) > as_of]


def refuse_late_sources(priors: PriorSet) -> None:
    """A back-test's rule: the first late source is a PriorError (exit 2)."""
    late = late_sources(priors)
    if late:
        first = late[0]
        raise PriorError(first.file, f"drivers.{first.driver}", "sources",
                         f"{first.title!r} is dated {first.date}, after as_of "
                         f"{priors.meta.as_of}: a back-test may use only what was known then "
                         f"({len(late)} such source{'s' if len(late) > 1 else ''})")
