import os
import sys
from pathlib import Path

import numpy as np
import priorfiles
import pytest
from hypothesis import settings

from simcore import model
from simcore.run import engine

sys.path.insert(0, str(Path(__file__).parent))

# The suite is deterministic: hypothesis derives its examples from each test's name, so CI
# never fails on an example no earlier run saw. HYPOTHESIS_PROFILE=explore draws fresh random
# examples (1,000 where a test sets no count) to hunt for new failures by hand.
# No per-example deadline: a wall-time bound fails on a loaded machine (a 47 ms example took
# 291 ms under load), and speed is the benchmarks' business, not the tests'.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", derandomize=False, max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="module", params=["reference", "kernel"])
def evaluate(request):
    """The model at given drivers through one of its backends, as ``engine.evaluate`` returns
    it: (events, series -> (n, T) values). The kernel is engine.evaluate itself."""
    def run(drivers, t_rel, as_of_year, clock=None):
        if request.param == "kernel":
            return engine.evaluate(drivers, t_rel, as_of_year, clock)
        trajectories, events = model.simulate(drivers, model.Grid(t_rel, as_of_year), clock,
                                              backend="reference")
        return events, {name: np.exp2(log2) for name, log2 in trajectories.log2.items()}

    run.backend = request.param
    return run


@pytest.fixture()
def point_prior(tmp_path) -> Path:
    """A prior file of point values but one uncertain driver (tests of runs never lost, prior
    copies)."""
    return priorfiles.write(tmp_path / "point.toml", priorfiles.point_drivers(
        alg_halving_years=priorfiles.entry("lognormal", median=0.8, low=0.4, high=1.6)))
