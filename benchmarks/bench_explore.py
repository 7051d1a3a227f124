"""Issue 19's speed targets, measured (medians of several runs; nothing here asserts a time).

    python benchmarks/bench_explore.py [--repeats 5] [--only explore,engine,...] [--profile]

explore  a change in the warm explorer to updated charts: the reweighted preview and the fresh
         run of 100k draws, each with its three charts drawn to PNG (target <= 1 s)
engine   engine.run_forecast of 1M draws in a warm process (target >= 500k draws/s, <= 2 s)
run      `simcore run --draws 1000` with charts, fresh processes (target <= 1.5 s)
report   `simcore report` on a 100k-draw run, fresh processes (target <= 3 s)
sobol    `simcore sensitivity -N 1024 --no-charts` once, scaled to N = 2^14 (target <= 60 s;
         BENCH_SOBOL_N=16384 measures it directly, ~7 minutes)
cold     the first `simcore run --draws 1000` with an empty numba cache (NUMBA_CACHE_DIR a
         fresh folder; target <= 10 s)

``--profile`` prints the top cProfile entries (cumulative) of the in-process measurements.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIORS = ROOT / "priors" / "baseline.toml"
SOBOL_N = int(os.environ.get("BENCH_SOBOL_N", "1024"))
SIMCORE = [sys.executable, "-m", "simcore"]


def _median(times: list[float]) -> dict:
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3),
            "max": round(max(times), 3), "n": len(times)}


def _profiled(fn, top: int = 12) -> str:
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def bench_explore(repeats: int, profile: bool) -> dict:
    from simcore.app.explorer import CHART_DPI, Explorer
    from simcore.faces.plots import write_png

    started = time.perf_counter()
    explorer = Explorer(PRIORS, 100_000)
    warm_up = time.perf_counter() - started
    values = [f"{v:.3f}" for v in (0.70, 0.75, 0.85, 0.90, 0.95, 0.72, 0.88)]
    driver = "alg_halving_years.median"

    def charts(view) -> None:      # what the page shows: PNGs at its resolution
        explorer.chart_pngs(view.result)

    preview, fresh, change_only = [], [], []
    for value in values[:repeats]:
        t0 = time.perf_counter()
        change = explorer.change({driver: value})
        t1 = time.perf_counter()
        view = explorer.preview(change)
        charts(view)
        t2 = time.perf_counter()
        charts(explorer.fresh(change))
        t3 = time.perf_counter()
        change_only.append(t1 - t0)
        preview.append(t2 - t1)
        fresh.append(t3 - t2)
    out = {"warm_up_s": round(warm_up, 2), "parse_and_priors_s": _median(change_only),
           "preview_with_charts_s": _median(preview), "fresh_100k_with_charts_s": _median(fresh)}
    parts = []
    change = explorer.change({driver: "0.9"})
    for _ in range(repeats):
        t0 = time.perf_counter()
        view = explorer.fresh(change)
        t1 = time.perf_counter()
        figures = explorer.figures(view.result)
        t2 = time.perf_counter()
        for figure in figures.values():
            write_png(figure, io.BytesIO(), CHART_DPI)
        parts.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    out["fresh_parts_s"] = {"engine": _median([p[0] for p in parts]),
                            "figures": _median([p[1] for p in parts]),
                            "png": _median([p[2] for p in parts])}
    if profile:
        out["profile"] = _profiled(lambda: charts(explorer.fresh(change)))
    return out


def bench_engine(repeats: int, profile: bool) -> dict:
    from simcore.inputs.priors import load_priors
    from simcore.model import MODEL_DRIVERS
    from simcore.run import engine

    priors = load_priors(PRIORS, required=set(MODEL_DRIVERS))
    engine.run_forecast(priors, 10_000, 1)     # compiled code loaded
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        engine.run_forecast(priors, 1_000_000, 100 + i)
        times.append(time.perf_counter() - t0)
    out = {"1M_s": _median(times), "draws_per_s": round(1e6 / statistics.median(times))}
    if profile:
        out["profile"] = _profiled(lambda: engine.run_forecast(priors, 1_000_000, 7))
    return out


def _timed(args: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return elapsed


def bench_run(repeats: int, profile: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        _timed([*SIMCORE, "run", str(PRIORS), "-n", "1000", "-q", "-o", f"{tmp}/warm"])
        times = [_timed([*SIMCORE, "run", str(PRIORS), "-n", "1000", "-q", "-o", f"{tmp}/r{i}"])
                 for i in range(repeats)]
        no_charts = [_timed([*SIMCORE, "run", str(PRIORS), "-n", "1000", "-q", "--no-charts",
                             "-o", f"{tmp}/n{i}"]) for i in range(repeats)]
        imports = [_timed([sys.executable, "-c", "import simcore.cli, simcore.run.engine, "
                           "simcore.app.pipeline"]) for _ in range(repeats)]
    return {"run_1000_charts_s": _median(times), "run_1000_no_charts_s": _median(no_charts),
            "imports_s": _median(imports)}


def bench_report(repeats: int, profile: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        _timed([*SIMCORE, "run", str(PRIORS), "-n", "100000", "-q", "-o", f"{tmp}/run"])
        times = [_timed([*SIMCORE, "report", f"{tmp}/run", "-q"]) for _ in range(repeats)]
    return {"report_100k_s": _median(times)}


def bench_sobol(repeats: int, profile: bool, n: int = SOBOL_N) -> dict:
    """One study at N (default 1024) and its linear extrapolation to 2^14: every part (the
    sample, the model, the bootstrap of the analysis) grows in proportion to N."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = _timed([*SIMCORE, "sensitivity", str(PRIORS), "-N", str(n), "--no-charts",
                          "-q", "-o", f"{tmp}/study"])
    return {f"sobol_{n}_s": round(seconds, 1), "sobol_16384_estimate_s":
            round(seconds * 16384 / n, 0), "n": 1}


def bench_cold(repeats: int, profile: bool) -> dict:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(max(1, repeats // 2)):
            cache = Path(tmp) / f"cache{i}"
            cache.mkdir()
            times.append(_timed([*SIMCORE, "run", str(PRIORS), "-n", "1000", "-q", "-o",
                                 f"{tmp}/r{i}"], env={"NUMBA_CACHE_DIR": str(cache)}))
    return {"first_run_cold_cache_s": _median(times)}


BENCHES = {"explore": bench_explore, "engine": bench_engine, "run": bench_run,
           "report": bench_report, "sobol": bench_sobol, "cold": bench_cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    results = {}
    for name in args.only.split(","):
        results[name] = BENCHES[name](args.repeats, args.profile)
        shown = {k: v for k, v in results[name].items() if k != "profile"}
        print(f"{name}: {json.dumps(shown)}", flush=True)
        if "profile" in results[name]:
            print(results[name]["profile"], flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
