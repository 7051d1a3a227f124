"""Look-ahead check: a prior entry whose source is dated after the prior file's ``as_of``
uses what was not known then. A warning in a normal run (a prior may be revised with later
evidence, but the reader should know), an error in a back-test (it would be hindsight)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..base.errors import PriorError
from .priors import PriorSet, known_at

# A file in a GitHub repository at a commit or branch (a one-segment name: a branch whose name
# holds a slash is read as branch and folder), on github.com or as raw content.
_REF = r"(?:refs/heads/)?[^/]+"
_GITHUB_FILE = re.compile(rf"github\.com/([^/]+)/([^/]+)/(?:blob|tree|raw)/{_REF}/(.+)"
                          rf"|raw\.githubusercontent\.com/([^/]+)/([^/]+)/{_REF}/(.+)")
_ARXIV = re.compile(r"arxiv\.org/(?:abs|html|pdf)/(\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?")


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
    return [LateSource(driver.defined_in, name, source.title, source.date)
            for name, driver in priors.drivers.items() for source in driver.text.sources
            if not known_at(source.date, priors.meta.as_of)]


def _refuse_first(late: list[LateSource], as_of: str, dated: str, tail: str = "") -> None:
    """A back-test's rule: the first late source is a PriorError (exit 2); ``dated`` says how
    it is dated (``{date}`` its date)."""
    if late:
        first = late[0]
        raise PriorError(first.file, f"drivers.{first.driver}", "sources",
                         f"{first.title!r}{dated.format(date=first.date)}, after as_of "
                         f"{as_of}: a back-test may use only what was known then{tail}")


def refuse_late_sources(priors: PriorSet) -> None:
    """A back-test's rule: the first source dated after as_of is a PriorError (exit 2)."""
    late = late_sources(priors)
    _refuse_first(late, priors.meta.as_of, " is dated {date}",
                  f" ({len(late)} such source{'s' if len(late) > 1 else ''})")


def source_document(url: str) -> str:
    """The document a source URL points to, whatever the form of the address: scheme, ``www.``,
    host case, a trailing slash and a fragment do not matter; a GitHub file at any commit or
    branch, shown or raw, is one document (a prior may cite ``blob/main`` where an
    observation pins a commit); an arXiv paper is one document in any version or format."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.").removeprefix("export.")
    where = f"{host}{parts.path}".rstrip("/")
    if github := _GITHUB_FILE.fullmatch(where):
        owner, repo, path = github.groups()[:3] if github[1] else github.groups()[3:]
        return f"github:{owner.lower()}/{repo.lower()}/{path}"
    if arxiv := _ARXIV.fullmatch(where):
        return f"arxiv:{arxiv[1]}"
    return where + (f"?{parts.query}" if parts.query else "")


def documents_observed_later(priors: PriorSet, observations) -> list[LateSource]:
    """Sources whose document no observation shows known at as_of: a source's own date can be
    mistaken (a repository page cited as of its month may have published its figures later, a
    guide may be dated by the offer it reports), while each row says when its figure and its
    source were out (a document is known from the earliest row's later of the two, as
    ``simcore fit`` takes rows "dated and published" by its date)."""
    first: dict[str, str] = {}
    for row in observations:
        key = source_document(row.source_url)
        out = max(row.date, row.source_date)
        first[key] = min(first.get(key, out), out)
    return [LateSource(driver.defined_in, name, source.title, first[key])
            for name, driver in priors.drivers.items() for source in driver.text.sources
            if (key := source_document(source.url)) in first
            and not known_at(first[key], priors.meta.as_of)]


def refuse_documents_observed_later(priors: PriorSet, observations) -> None:
    """A back-test's rule, as :func:`refuse_late_sources` for the observations' dates."""
    _refuse_first(documents_observed_later(priors, observations), priors.meta.as_of,
                  ": the observations show it known from {date}")
