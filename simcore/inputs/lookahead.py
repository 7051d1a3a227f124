"""Look-ahead check: a prior entry whose source is dated after the prior file's ``as_of``
uses what was not known then. A warning in a normal run (a prior may be revised with later
evidence, but the reader should know), an error in a back-test (it would be hindsight)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base.errors import PriorError
from .priors import PriorSet, decimal_year

_GITHUB_FILE = re.compile(r"https://github\.com/([^/]+/[^/]+)/blob/[^/]+/(.+)")


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


def source_document(url: str) -> str:
    """The document a source URL points to: a GitHub file at any commit or branch is one
    document (a prior may cite ``blob/main`` where an observation pins a commit)."""
    github = _GITHUB_FILE.match(url)
    return f"github:{github[1].lower()}/{github[2]}" if github else url


def cited_documents(priors: PriorSet) -> frozenset[str]:
    """Every document the prior set's entries cite."""
    return frozenset(source_document(source.url) for driver in priors.drivers.values()
                     for source in driver.text.sources)


def documents_observed_later(priors: PriorSet, observations) -> list[LateSource]:
    """Sources whose document the observations date only after the as_of month: a source's own
    date can be mistaken (a repository page cited as of its month may have published its
    figures later); an observation is dated by when its figure first appeared."""
    first: dict[str, str] = {}
    for row in observations:
        key = source_document(row.source_url)
        first[key] = min(first.get(key, row.date), row.date)
    month = priors.meta.as_of[:7]
    return [LateSource(driver.defined_in, name, source.title, first[key])
            for name, driver in priors.drivers.items() for source in driver.text.sources
            if (key := source_document(source.url)) in first and first[key][:7] > month]


def refuse_documents_observed_later(priors: PriorSet, observations) -> None:
    """A back-test's rule, as :func:`refuse_late_sources` for the observations' dates."""
    late = documents_observed_later(priors, observations)
    if late:
        first = late[0]
        raise PriorError(first.file, f"drivers.{first.driver}", "sources",
                         f"{first.title!r}: the observations date its figures from "
                         f"{first.date}, after as_of {priors.meta.as_of}: a back-test may use "
                         f"only what was known then")
