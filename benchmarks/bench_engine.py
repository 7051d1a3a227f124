"""Time the engine alone: sampling and simulating draws in a warm process, nothing written.

This is the floor under `simcore run` for a given N (no start-up, no run.nc, no tables, no
charts); bench_run.py times the whole run. One warm-up run first (numba's cached code, thread
pools), then the median of several.

    python benchmarks/bench_engine.py [--draws 1000000] [--repeats 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from simcore.inputs.priors import load_priors
from simcore.run.engine import run_forecast

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--priors", type=Path, default=ROOT / "priors" / "baseline.toml")
    args = parser.parse_args()
    priors = load_priors(args.priors)
    run_forecast(priors, min(args.draws, 200_000), args.seed)
    laps = {"total_engine": [], "sampling": [], "model": []}
    for _ in range(args.repeats):
        timings = run_forecast(priors, args.draws, args.seed).timings
        for name, values in laps.items():
            values.append(timings[name])
    for name, values in laps.items():
        print(f"{name:>12} {args.draws:>11,} draws: median {statistics.median(values):6.2f} s "
              f"[{min(values):.2f}-{max(values):.2f}]")


if __name__ == "__main__":
    main()
