"""A deliberately naive reference implementation of the same forecast, for speed comparisons.

Plain numpy on whole (draws x times) matrices: sample every driver at once, run the numpy
formulation of the model (the reference backend, simcore.model.reference: the readable twin of
the compiled kernel, with its own event finder), and take percentiles with np.quantile over the full
matrix. No chunking, no histograms, no compiled code, no output files. Memory grows with N
(~40 GB at 1M draws), so it is run at modest N and compared per draw.

    python benchmarks/naive_reference.py --draws 100000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from simcore import model
from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, noise, sample_drivers
from simcore.run.engine import time_grid
from simcore.run.summaries import QUANTILES

ROOT = Path(__file__).resolve().parents[1]


def naive_forecast(priors_path: Path, draws: int, seed: int) -> dict:
    priors = load_priors(priors_path, required=set(model.MODEL_DRIVERS))
    t = time_grid(priors)
    drivers = sample_drivers(priors, seed, 0, draws, Copula.from_priors(priors))
    clock = noise(seed, "free_regime_clock", model.MAX_REGIME_SWITCHES, 0, draws)
    trajectories, events = model.simulate(drivers, model.Grid(t, priors.as_of_year), clock,
                                          backend="reference")
    percentiles = {name: np.quantile(np.exp2(values), QUANTILES, axis=0)
                   for name, values in trajectories.log2.items()}
    return {"events": events, "percentiles": percentiles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--priors", type=Path, default=ROOT / "priors" / "baseline.toml")
    args = parser.parse_args()
    started = time.perf_counter()
    naive_forecast(args.priors, args.draws, args.seed)
    wall = time.perf_counter() - started
    print(f"naive reference: {args.draws:,} draws in {wall:.2f} s "
          f"({args.draws / wall:,.0f} draws/s, model and summaries only, no I/O)")


if __name__ == "__main__":
    main()
