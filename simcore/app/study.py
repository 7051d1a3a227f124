"""``simcore sensitivity PRIORS --method sobol|morris``: a sensitivity study stored like a run.

The study folder (written atomically, like a run directory) holds:

* ``sobol.csv`` / ``morris.csv``: indices per target, factor and sample size (N and 2N), ranked;
* ``convergence.csv``: per target, the largest change of each index from N to 2N, the top five
  at each size and whether they agree;
* ``targets.csv``: what each target is (label, mean, sd, share capped at horizon + 1, constant);
* ``tornado.csv``: one-at-a-time swings (10th to 90th percentile, the rest at medians), ranked;
* ``tornado_*.png``: tornado charts of film_days (no hardware, 2030), novel_to_movie_possible;
* ``manifest.json``: method, N, seed, notes (independence, censoring), provenance, timings;
* ``priors/``: copies of the prior files.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from contextlib import AbstractContextManager, nullcontext
from importlib import metadata
from pathlib import Path

import pandas as pd

from .. import __version__
from ..analysis.sensitivity import targets as tg
from ..analysis.sensitivity.tornado import swings
from ..analysis.sensitivity.variance import (
    DEFAULT_MORRIS_N,
    DEFAULT_RESAMPLES,
    DEFAULT_SOBOL_N,
    VarianceResult,
    morris,
    sobol,
)
from ..base.csvfiles import write_csv
from ..base.errors import SimcoreError
from ..base.interrupts import raise_pending
from ..base.limits import MAX_CSV_BYTES, MAX_MANIFEST_BYTES
from ..faces.plots.tornado import tornado_chart
from ..inputs.priors import load_priors
from ..model import MODEL_DRIVERS
from ..run.engine import ChunkSource
from ..stored import store
from ..stored.contained import read_bytes
from ..stored.publish import MARKER
from ..stored.store import default_run_dir, git_commit, package_versions

METHODS = ("sobol", "morris")
CHARTS = (("film_days", "no_hardware", 2030), ("novel_to_movie_possible", tg.ALL_PROFILES, None))


class StudyError(SimcoreError):
    """Bad options for a sensitivity study (exit 2)."""


def default_n(method: str) -> int:
    return DEFAULT_SOBOL_N if method == "sobol" else DEFAULT_MORRIS_N


def default_study_dir(priors_path: Path, method: str, seed: int) -> Path:

    run = default_run_dir(Path(priors_path), seed)
    return run.with_name(run.name.replace(f"-s{seed}", f"-{method}-s{seed}"))


def study_targets(priors, outputs=()) -> list[tg.Target]:
    targets = tg.select(tg.headline_targets(priors.as_of_year, priors.meta.horizon_years,
                                            priors.meta.time_step_years), outputs)
    if not targets:
        known = sorted({t.output for t in tg.headline_targets(
            priors.as_of_year, priors.meta.horizon_years, priors.meta.time_step_years)})
        raise StudyError(f"--output: none of {', '.join(outputs)} is a headline output; "
                         f"known: {', '.join(known)}")
    return targets


def run_study(priors_path, method: str = "sobol", n: int | None = None, seed: int = 20261125,
              out: Path | None = None, force: bool = False, outputs=(),
              resamples: int = DEFAULT_RESAMPLES, charts: bool = True,
              computing: AbstractContextManager[ChunkSource | None] | None = None
              ) -> tuple[Path, VarianceResult, pd.DataFrame]:
    """Run a Sobol or Morris study of a prior file and write its folder; returns (folder,
    indices, tornado table). ``computing``: where the design's rows are evaluated, entered
    once the options are checked and left before the rest (e.g. a Dask cluster,
    :func:`simcore.run.cluster.connect`: the same indices bit for bit, and the manifest says
    where); by default here."""

    if method not in METHODS:
        raise StudyError(f"--method: {method!r}; choose one of {', '.join(METHODS)}")
    n = n or default_n(method)
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise StudyError(f"-N: {n} is not a power of 2 (Sobol' sequences need one, e.g. "
                         f"{1 << max(1, n.bit_length() - 1)} or {1 << n.bit_length()})")
    priors = load_priors(priors_path, required=set(MODEL_DRIVERS))
    out = Path(out) if out else default_study_dir(Path(priors_path), method, seed)
    store.check_run_dir(out, force)
    targets = study_targets(priors, outputs)
    started = time.perf_counter()
    with computing or nullcontext() as chunks:
        where = None if chunks is None else chunks.describe()
        result = (sobol if method == "sobol" else morris)(priors, n, seed, targets,
                                                          resamples=resamples, chunks=chunks)
    tick = time.perf_counter()
    tornado = swings(priors, [t for t in targets if t.quantity != tg.BY_YEAR])
    result.timings["tornado"] = time.perf_counter() - tick
    result.timings["total"] = time.perf_counter() - started
    write_study(result, tornado, out, force=force, charts=charts, priors_path=priors_path,
                engine=where)
    return out, result, tornado


def _manifest(result: VarianceResult, priors_path, engine: dict | None = None) -> dict:

    p = result.problem.priors
    try:
        salib = metadata.version("SALib")
    except metadata.PackageNotFoundError:   # pragma: no cover
        salib = "not installed"
    return {
        "kind": f"sensitivity study ({result.method})",
        "simcore_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "method": result.method, "n": result.n, "n2": 2 * result.n, "seed": result.seed,
        "model_runs": result.model_runs,
        "factors": result.problem.factors,
        "priors_path": str(priors_path), "priors_sha256": p.sha256,
        "as_of": p.meta.as_of, "horizon_years": p.meta.horizon_years,
        "time_step_years": p.meta.time_step_years,
        "notes": result.notes,
        "packages": {**package_versions(), "SALib": salib},
        "git_commit": git_commit(),
        "timings_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        # Only when not computed here, as in a run's manifest: a local study's is unchanged.
        **({} if engine is None else {"engine": engine}),
    }


def write_study(result: VarianceResult, tornado: pd.DataFrame, out: Path, force: bool = False,
                charts: bool = True, priors_path=None, engine: dict | None = None) -> Path:
    """Write the study folder atomically (``store.staged_directory``); ``engine``: where the
    model was evaluated, if not here."""

    manifest = _manifest(result, priors_path or result.problem.priors.path, engine)
    with store.staged_directory(out, force, what="study") as staging:
        for name, table in ((f"{result.method}.csv", result.indices),
                            ("convergence.csv", result.convergence),
                            ("targets.csv", result.targets), ("tornado.csv", tornado)):
            write_csv(table, staging / name)
        manifest["prior_files"] = store.copy_prior_files(result.problem.priors, staging)
        if charts:
            horizon = result.problem.priors.as_of_year + result.problem.priors.meta.horizon_years
            for output, profile, year in CHARTS:
                sel = tornado[(tornado["output"] == output) & (tornado["profile"] == profile)]
                if sel.empty:
                    continue
                if year is not None and not (sel["year"] == year).any():
                    year = int(sel["year"].dropna().iloc[0])
                figure = tornado_chart(tornado, output, profile, year, horizon_year=horizon)
                figure.savefig(staging / f"tornado_{output}.png", dpi=110)
                raise_pending()     # each chart takes a while; Ctrl-C need not wait for all
        manifest["files"] = sorted(p.name for p in staging.iterdir()
                                   if p.name != MARKER) + ["manifest.json"]
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def load_study(folder) -> dict[str, pd.DataFrame | dict]:
    """A stored study: its tables (indices, convergence, targets, tornado) and manifest, each
    read as a regular file inside ``folder``, bounded (:mod:`..contained`)."""

    folder = Path(folder)
    manifest = json.loads(read_bytes(folder, "manifest.json", MAX_MANIFEST_BYTES))
    method = manifest.get("method") if isinstance(manifest, dict) else None
    if method not in METHODS:
        raise StudyError(f"{folder / 'manifest.json'}: method: must be one of "
                         f"{', '.join(METHODS)}, got {method!r}")
    types = {"year": "Int64", "rank": "Int64"}
    tables = {name: pd.read_csv(io.BytesIO(read_bytes(folder, f"{file}.csv", MAX_CSV_BYTES)),
                                dtype=types)
              for name, file in (("indices", method), ("convergence", "convergence"),
                                 ("targets", "targets"), ("tornado", "tornado"))}
    return {**tables, "manifest": manifest}


def summary_text(result: VarianceResult, tornado: pd.DataFrame, out: Path) -> str:
    """What the command prints: the top five factors of the headline targets at 2N, whether
    they are the same at N, and where the rest is."""
    sobol_method = result.method == "sobol"
    lines = [(f"simcore sensitivity: {result.method}, N = {result.n:,} and "
              f"2N = {2 * result.n:,} ({result.model_runs:,} model runs, seed {result.seed}, "
              f"{result.timings.get('total', 0.0):.0f} s)")]
    lines += [f"note: {note}" for note in result.notes[:1]]
    index, conf = ("ST", "ST_conf") if sobol_method else ("mu_star", "mu_star_conf")
    shown = [key for key in ((o, p, y, q) for o, p, y, q in result.targets[
        ["output", "profile", "year", "quantity"]].itertuples(index=False, name=None))
        if (key[0] == "film_days" and key[2] == 2030) or
        (key[0] == "novel_to_movie_possible")]
    for output, profile, year, quantity in shown:
        year = None if pd.isna(year) else int(year)
        top = result.top(output, profile, year, quantity)
        conv = result.convergence
        row = conv[(conv["output"] == output) & (conv["profile"] == profile)
                   & (conv["quantity"] == quantity)
                   & ((conv["year"] == year) if year is not None else conv["year"].isna())]
        label = tg.Target(output, profile, year, quantity).label
        stable = ""
        if len(row):
            r = row.iloc[0]
            stable = ("top five same as at N" if r["top5_same_order"] else
                      "top five same set as at N, order differs" if r["top5_same_set"] else
                      "top five differ from N")
        lines.append(f"\n{label}  [{stable}]")
        for _, r in top.iterrows():
            if sobol_method:
                lines.append(f"  {int(r['rank'])}. {r['driver']:<32} ST {r['ST']:.3f} "
                             f"± {r['ST_conf']:.3f}   S1 {r['S1']:.3f} ± {r['S1_conf']:.3f}")
            else:
                lines.append(f"  {int(r['rank'])}. {r['driver']:<32} mu* {r[index]:.3g} "
                             f"± {r[conf]:.2g}   sigma {r['sigma']:.3g}")
    stable_all = int(result.convergence["top5_same_set"].sum())
    lines.append(f"\nconvergence: top five the same set at N and 2N for {stable_all} of "
                 f"{len(result.convergence)} targets (convergence.csv)")
    lines.append(f"study written to {out}")
    return "\n".join(lines)
