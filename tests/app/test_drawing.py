"""The drawing process of a run: forked before the run exists, told its folder later."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from simcore.app import pipeline
from simcore.app.drawing import start_drawing
from simcore.inputs.priors import load_priors
from simcore.model import MODEL_DRIVERS
from simcore.run import engine
from simcore.stored import store

BASELINE = Path(__file__).resolve().parents[2] / "priors" / "baseline.toml"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    priors = load_priors(BASELINE, required=set(MODEL_DRIVERS))
    result = engine.run_forecast(priors, 3000, seed=5)
    return pipeline.write_run(result, tmp_path_factory.mktemp("runs") / "run")


def test_the_drawing_reads_nothing_of_sensitivity(written, tmp_path):
    # simcore run appends /sensitivity only after the drawing process is done with run.nc.
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / store.RUN_FILE).write_bytes((written / store.RUN_FILE).read_bytes())
    with h5py.File(folder / store.RUN_FILE, "a") as run_file:
        del run_file["sensitivity"]
    drawing = start_drawing(with_charts=True)
    drawing.go(str(folder))
    drawing.wait()
    assert ((folder / "seed_comparison.csv").read_bytes()
            == (written / "seed_comparison.csv").read_bytes())
    assert {p.name for p in folder.glob("*.png")} == {p.name for p in written.glob("*.png")}

