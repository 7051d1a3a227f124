"""``simcore backtest --origin 2024-06 [--origin ...]``: how the model would have done from
past origins.

For each origin the priors are ``priors/backtest/<origin>.toml`` (it ``extends`` the baseline
and overrides every entry whose source is dated after the origin with what was known then);
its ``as_of`` must be the origin, and a source dated after it is an error (the look-ahead
check, :func:`..inputs.lookahead.refuse_late_sources`), as is a source whose document the
observations show only after the origin month (its own date was mistaken:
:func:`..inputs.lookahead.refuse_documents_observed_later`). The run from the origin ranks every
observation in its window like any run, and every observation dated after the origin month
is scored (a row of the origin month was known then: it is compared at as_of;
:func:`..analysis.scoring.score_rows`: PIT, 50/80/90% coverage, CRPS on base-2 logs, log2
ratio to the median, Brier for events).

The folder, written atomically: ``<origin>/`` a run directory per origin (``simcore verify``
checks each), ``scores.csv`` (a row per origin and scored observation), ``scores_summary.csv``
(per origin, measure and profile: coverage, mean PIT, bias, CRPS, Brier; and all origins
together), ``backtest.png`` (PIT histogram and coverage), ``manifest.json``."""

from __future__ import annotations

import io
import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pandas as pd

from ..analysis.scoring import SCORE_COLUMNS, score_rows, summary_by_measure
from ..base import csvfiles
from ..base.errors import PriorError
from ..faces.plots.backtest import backtest_chart
from ..inputs.lookahead import refuse_documents_observed_later, refuse_late_sources
from ..inputs.observations import load_observations
from ..inputs.priors import load_priors
from ..model import MODEL_DRIVERS
from ..run import engine
from ..run.observed import ObservationPoints
from ..stored import store
from ..stored.publish import MARKER
from .pipeline import write_run

BACKTEST_PRIORS = Path("priors/backtest")
ALL_ORIGINS = "all"


def origin_priors(origin: str, priors_dir: Path = BACKTEST_PRIORS):
    """The prior set of a back-test from ``origin``: its file, its as_of the origin, no source
    dated after it (PriorError otherwise: exit 2)."""
    path = Path(priors_dir) / f"{origin}.toml"
    priors = load_priors(path, required=set(MODEL_DRIVERS))
    if priors.meta.as_of != origin:
        raise PriorError(str(path), "meta", "as_of",
                         f"is {priors.meta.as_of!r}; a back-test from {origin} needs as_of = "
                         f"{origin!r}")
    refuse_late_sources(priors)
    return priors


def score_table(runs: dict[str, engine.RunResult]) -> pd.DataFrame:
    """scores.csv: every scored observation of every origin's run."""
    rows = [{"origin": origin, **row} for origin, result in runs.items()
            for row in score_rows(result)]
    return pd.DataFrame(rows, columns=["origin", *SCORE_COLUMNS])


def summary_table(scores: pd.DataFrame) -> pd.DataFrame:
    """scores_summary.csv: per origin, and over all origins, per measure and profile."""
    parts = [summary_by_measure(group).assign(origin=origin)
             for origin, group in scores.groupby("origin", sort=True)]
    if len(parts) > 1:
        parts.append(summary_by_measure(scores).assign(origin=ALL_ORIGINS))
    frame = pd.concat(parts, ignore_index=True) if parts else summary_by_measure(scores)
    return frame[["origin", *[c for c in frame.columns if c != "origin"]]]


def run_backtest(origins: list[str], observations: Path, draws: int, seed: int, out: Path,
                 force: bool = False, with_charts: bool = True,
                 priors_dir: Path = BACKTEST_PRIORS, chunk_size: int = engine.DEFAULT_CHUNK_SIZE,
                 computing: AbstractContextManager[engine.ChunkSource | None] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run and score every origin, write the back-test folder ``out``; returns the scores and
    their summary. Every prior file is checked before anything runs. ``computing``: where the
    origins' chunks are computed, entered once everything is checked and left before anything
    is written (e.g. a Dask cluster, :func:`simcore.run.cluster.connect`; the same results
    bit for bit); by default here."""
    priors = {origin: origin_priors(origin, priors_dir) for origin in origins}
    table = load_observations(observations)
    for prior_set in priors.values():
        refuse_documents_observed_later(prior_set, table)
    store.check_run_dir(Path(out), force)
    runs = {}
    with computing or nullcontext() as chunks:
        where = None if chunks is None else chunks.describe()
        for origin, prior_set in priors.items():
            points = ObservationPoints.for_priors(table, prior_set)
            result = engine.run_forecast(prior_set, draws, seed, chunk_size,
                                         n_paths=engine.DEFAULT_PATHS, observe=points,
                                         chunks=chunks)
            result.stored_paths = engine.DEFAULT_PATHS
            result.engine = where
            runs[origin] = result
    # Written once the cluster is closed: the writing forks helpers, and a child forked beside
    # Dask's threads could inherit a lock one of them holds.
    with store.staged_directory(Path(out), force, what="back-test") as staging:
        for origin, result in runs.items():
            write_run(result, staging / origin, with_charts=with_charts)
        scores = score_table(runs)
        summary = summary_table(scores)
        csvfiles.write_csv(scores, staging / "scores.csv")
        csvfiles.write_csv(summary, staging / "scores_summary.csv")
        if with_charts:
            buffer = io.BytesIO()
            backtest_chart(scores).savefig(buffer, format="png", dpi=110)
            (staging / "backtest.png").write_bytes(buffer.getvalue())
        manifest = {
            "kind": "back-test", "origins": list(origins), "draws": draws, "seed": seed,
            "chunk_size": chunk_size,
            "observations": str(observations),
            "prior_files": {origin: str(p.path) for origin, p in priors.items()},
            "priors_sha256": {origin: p.sha256 for origin, p in priors.items()},
            "packages": store.package_versions(), "git_commit": store.git_commit(),
            **({"engine": where} if where else {}),
        }
        manifest["files"] = sorted(p.name for p in staging.iterdir()
                                   if p.name != MARKER) + ["manifest.json"]
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return scores, summary
