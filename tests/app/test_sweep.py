"""``simcore sweep``: each cell is the run of a scenario file with that setting (same seed, so
the four cells of a 2x2 grid equal four separate runs, number for number, and so do the cells
of a folder of scenario files); a bad --vary or a bad file in the folder is one line, exit 2,
nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from clichecks import assert_rejected, invoke

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
DRAWS, SEED = 1_500, 9
HALVING = (0.6, 1.2)
FLOOR = (0.01, 0.1)


def scenario(folder: Path, halving: float, floor: float, name: str | None = None,
             extends: str = "baseline.toml") -> Path:
    path = folder / f"{name or f'h{halving}-f{floor}'}.toml"
    path.write_text(f'[meta]\ntitle = "sweep cell"\nextends = "{extends}"\n\n'
                    f"[drivers.alg_halving_years]\nmedian = {halving}\n\n"
                    f"[drivers.compute_per_video_second_floor]\nmedian = {floor}\n")
    return path


def assert_cell_is_the_run(cell, priors: Path, run: Path) -> None:
    """The cell's numbers (a row of sweep.csv) are those of ``simcore run`` of ``priors``."""
    done = invoke("run", priors, "--draws", DRAWS, "--seed", SEED, "--no-charts",
                  "--no-observations", "-q", "--out", run)
    assert done.exit_code == 0, done.output
    summary = pd.read_csv(run / "events_summary.csv", dtype=str).set_index(["event", "profile"])
    assert f"{cell.q7_median_year:.2f}" == summary.loc[("novel_to_movie_possible", "all"), "p50"]
    by_year = pd.read_csv(run / "events.csv").set_index(["event", "profile", "year"])
    assert cell.p_q7_by_2030 == by_year.loc[("novel_to_movie_possible", "all", 2030), "p_by"]
    assert cell.p_free_film_1d_by_2030 == by_year.loc[
        ("free_film_within_1d", "no_hardware", 2030), "p_by"]


@pytest.mark.slow
def test_a_2x2_sweep_equals_four_separate_runs(tmp_path):
    priors = tmp_path / "priors"
    priors.mkdir()
    shutil.copy(BASELINE, priors / "baseline.toml")
    out = tmp_path / "sweep"
    done = invoke("sweep", priors / "baseline.toml", "--vary",
                  f"alg_halving_years.median={','.join(map(str, HALVING))}",
                  "--vary", f"compute_per_video_second_floor.median={','.join(map(str, FLOOR))}",
                  "--draws", DRAWS, "--seed", SEED, "--chunk-size", 400, "--out", out)
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sweep_p_free_film_1d_by_2030.png", "sweep_p_q7_by_2030.png",
        "sweep_q7_median_year.png"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vary"] == {"alg_halving_years.median": list(HALVING),
                                "compute_per_video_second_floor.median": list(FLOOR)}
    assert manifest["seed"] == SEED and manifest["draws"] == DRAWS
    # The prior file swept over, not a cell's what-if file
    assert [f.name for f in (out / "priors").rglob("*.toml")] == ["baseline.toml"]
    free_1d = set()
    for (halving, floor), cell in zip([(h, g) for h in HALVING for g in FLOOR],
                                     table.itertuples(), strict=True):
        assert (cell[1], cell[2]) == (halving, floor)
        run = tmp_path / f"run-{halving}-{floor}"
        assert_cell_is_the_run(cell, scenario(priors, halving, floor), run)
        free_1d.add(cell.p_free_film_1d_by_2030)
    assert len(free_1d) > 1        # the settings matter: the comparison is not of constants


def scenario_folder(tmp_path: Path, cells: dict[str, tuple[float, float]]) -> Path:
    """``tmp_path/priors/scenarios``: a file per cell (name -> halving, floor) extending a
    copy of the baseline one folder up (not a cell itself), as priors/scenarios/ does."""
    (tmp_path / "priors").mkdir()
    shutil.copy(BASELINE, tmp_path / "priors" / "baseline.toml")
    folder = tmp_path / "priors" / "scenarios"
    folder.mkdir()
    for name, (halving, floor) in cells.items():
        scenario(folder, halving, floor, name, extends="../baseline.toml")
    (folder / "notes.txt").write_text("not a scenario: only *.toml files are cells\n")
    return folder


@pytest.mark.slow
def test_a_folder_sweep_equals_separate_runs_of_its_files(tmp_path):
    cells = {"slow": (HALVING[1], FLOOR[1]), "fast": (HALVING[0], FLOOR[0])}
    folder = scenario_folder(tmp_path, cells)
    out = tmp_path / "sweep"
    done = invoke("sweep", folder, "--draws", DRAWS, "--seed", SEED, "--chunk-size", 400,
                  "--out", out)
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["scenario"]) == ["fast", "slow"]          # in name order
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sweep_p_free_film_1d_by_2030.png", "sweep_p_q7_by_2030.png",
        "sweep_q7_median_year.png"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "vary" not in manifest and manifest["scenarios_folder"] == str(folder)
    assert list(manifest["scenarios"]) == ["fast", "slow"]
    for name in cells:
        copies = sorted(p.relative_to(out / "scenarios" / name / "priors").as_posix()
                        for p in (out / "scenarios" / name / "priors").rglob("*.toml"))
        assert copies == ["baseline.toml", f"scenarios/{name}.toml"]
    for cell in table.itertuples():
        assert_cell_is_the_run(cell, folder / f"{cell.scenario}.toml",
                               tmp_path / f"run-{cell.scenario}")
    assert table["p_free_film_1d_by_2030"].nunique() == 2


@pytest.mark.parametrize("bad,words", [
    ("[drivers.alg_halving_years]\nmedium = 1.0\n",
     ["b_bad.toml", "drivers.alg_halving_years", "medium"]),
    ("[drivers.no_such_driver]\nmedian = 1.0\n", ["b_bad.toml", "no_such_driver"]),
    ("[drivers.alg_halving_years\n", ["b_bad.toml"]),
])
def test_a_bad_file_in_a_folder_sweep_is_one_line_exit_2_naming_it(tmp_path, bad, words):
    folder = scenario_folder(tmp_path, {"a_good": (HALVING[0], FLOOR[0])})
    (folder / "b_bad.toml").write_text('[meta]\ntitle = "bad cell"\n'
                                       'extends = "../baseline.toml"\n\n' + bad)
    out = tmp_path / "sweep"
    assert_rejected(invoke("sweep", folder, "--draws", 10, "--out", out), out, *words)


@pytest.mark.parametrize("args,words", [
    ([], ["no scenario files (*.toml)"]),
    (["--vary", "alg_halving_years.median=0.7"], ["--vary", "not with a folder"]),
])
def test_a_folder_sweep_without_cells_or_with_vary_is_rejected(tmp_path, args, words):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no scenario here\n")
    out = tmp_path / "sweep"
    assert_rejected(invoke("sweep", folder, *args, "--draws", 10, "--out", out), out, *words)


def test_a_sweep_without_vary_is_rejected(tmp_path):
    out = tmp_path / "sweep"
    assert_rejected(invoke("sweep", BASELINE, "--draws", 10, "--out", out), out,
                    "--vary", "give at least one")


@pytest.mark.parametrize("vary,words", [
    ("no_such_driver.median=1", ["--vary", "drivers.no_such_driver", "unknown driver"]),
    ("alg_halving_years.medium=1", ["--vary", "drivers.alg_halving_years.medium"]),
    ("alg_halving_years.median=abc", ["--vary", "drivers.alg_halving_years",
                                      "not a number"]),
    ("alg_halving_years.median=0.8,5.0", ["--vary", "drivers.alg_halving_years",
                                          "low < median < high"]),
    ("alg_halving_years=1", ["--vary", "expected DRIVER.FIELD="]),
    ("alg_halving_years.median=", ["expected DRIVER.FIELD=V1,V2"]),
    ("alg_halving_years.median=0.7,,0.9", ["expected DRIVER.FIELD=V1,V2"]),
    ("alg_halving_years.median=0.7,nan", ["--vary", "finite number"]),
])
def test_a_bad_vary_is_one_line_exit_2_and_nothing_written(tmp_path, vary, words):
    out = tmp_path / "sweep"
    assert_rejected(invoke("sweep", BASELINE, "--vary", vary, "--draws", 10, "--out", out),
                    out, *words)


def test_a_field_varied_twice_is_rejected(tmp_path):
    out = tmp_path / "sweep"
    assert_rejected(invoke("sweep", BASELINE, "--vary", "alg_halving_years.median=0.7",
                           "--vary", "alg_halving_years.median=0.9", "--draws", 10,
                           "--out", out), out, "varied twice")
