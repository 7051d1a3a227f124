"""The look-ahead check (issue 16): a prior source dated after as_of."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcore.base.errors import PriorError
from simcore.inputs.lookahead import late_sources, refuse_late_sources
from simcore.inputs.priors import load_priors

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
