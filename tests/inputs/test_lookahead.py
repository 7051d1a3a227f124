"""The look-ahead checks (issue 16): a prior source dated after as_of, or whose document the
observations show known only after it; what "known at as_of" means."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from observationfiles import GOOD, table

from simcore.base.errors import PriorError
from simcore.inputs.lookahead import (
    documents_observed_later,
    late_sources,
    refuse_late_sources,
    source_document,
)
from simcore.inputs.observations import parse
from simcore.inputs.priors import known_at, load_priors

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def test_a_source_dated_after_as_of_warns_and_fails_a_backtest(tmp_path):
    text = (ROOT / "priors" / "baseline.toml").read_text()
    early = tmp_path / "early.toml"
    early.write_text(text.replace('as_of = "2026-11"', 'as_of = "2025-06"', 1))
    priors = load_priors(early)
    late = late_sources(priors)
    assert late and all(s.date > "2025-06" for s in late)
    with pytest.raises(PriorError, match="after as_of 2025-06"):
        refuse_late_sources(priors)
    refuse_late_sources(load_priors(ROOT / "priors" / "baseline.toml"))


@pytest.mark.parametrize("date, as_of, known", [
    ("2025-06-12", "2025-06", True),      # an as_of month covers all its days
    ("2025-06", "2025-06", True),
    ("2025-07-01", "2025-06", False),
    ("2025", "2025-06", True),
    ("2025-06-12", "2025-06-10", False),
    ("2025-06", "2025-06-10", True),      # a month-dated source counts from the month's start
    ("2024-12-31", "2025", True),
    ("2026-01", "2025", False),
])
def test_known_at_reads_an_as_of_month_or_year_as_all_of_it(date, as_of, known):
    assert known_at(date, as_of) is known


@pytest.mark.parametrize("a, b", [
    ("https://github.com/ModelTC/LightX2V/blob/main/docs/b.md",
     "https://github.com/modeltc/lightx2v/blob/1202fcd05272f2960b32ce84038b24a508b6cbff/docs/b.md"),
    ("https://github.com/o/r/blob/main/README.md",
     "https://raw.githubusercontent.com/o/r/0123abc/README.md"),
    ("http://www.example.org/post/", "https://example.org/post#section"),
    ("https://arxiv.org/abs/2412.07772", "https://arxiv.org/html/2412.07772v2"),
    ("https://arxiv.org/pdf/2412.07772v1.pdf", "https://arxiv.org/abs/2412.07772"),
    ("https://raw.githubusercontent.com/o/r/refs/heads/main/README.md",
     "https://github.com:443/o/r/blob/0123abc/README.md"),
    ("https://export.arxiv.org/abs/2412.07772", "https://arxiv.org/abs/2412.07772v3"),
])
def test_one_document_under_different_addresses(a, b):
    assert source_document(a) == source_document(b)


@pytest.mark.parametrize("a, b", [
    ("https://github.com/o/r/blob/main/README.md", "https://github.com/o/r/blob/main/docs/x.md"),
    ("https://github.com/o/r/blob/main/README.md", "https://github.com/o/s/blob/main/README.md"),
    ("https://example.org/watch?v=1", "https://example.org/watch?v=2"),
    ("https://arxiv.org/abs/2412.07772", "https://arxiv.org/abs/2412.07773"),
])
def test_different_documents_stay_apart(a, b):
    assert source_document(a) != source_document(b)


def _cites(url: str, date: str, as_of: str):
    source = SimpleNamespace(title="a guide", url=url, date=date)
    driver = SimpleNamespace(defined_in="origin.toml", text=SimpleNamespace(sources=[source]))
    return SimpleNamespace(drivers={"free_allowance_today": driver},
                           meta=SimpleNamespace(as_of=as_of))


@pytest.mark.parametrize("row_date, published, late", [
    ("2025-05", "2025-05-20", False),
    ("2025-05", "2026-01", True),          # an old offer reported by a later guide
    ("2025-06-12", "2025-06-30", False),   # within the origin month
    ("2025-07-18", "2025-07-18", True),
])
def test_a_document_is_known_from_its_earliest_row_dated_and_published(row_date, published,
                                                                      late):
    rows = parse(table({**GOOD, "date": row_date, "source_date": published,
                        "source_url": "https://example.org/guide/"}), "obs.csv")
    priors = _cites("http://www.example.org/guide", "2025-01", "2025-06")
    found = documents_observed_later(priors, rows)
    assert bool(found) is late
    if late:
        assert found[0].driver == "free_allowance_today" and found[0].date == published
