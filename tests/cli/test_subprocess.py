"""The real command line in a child process: one-line errors and real signals mid-sampling."""


import signal
import subprocess
import time
from pathlib import Path

import priorfiles as pf
import pytest
from clichecks import run_simcore, start_simcore
from runchecks import BASELINE, EXTREME_VALID, assert_clean_run_dir, valid_text

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# 6. Subprocess: the real command line, and real signals mid-sampling


@pytest.mark.slow
def test_subprocess_domain_error_and_extreme_valid_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(valid_text(alg_halving_years=0.0))
    done = run_simcore("run", bad, "--draws", 50, "--out", tmp_path / "never")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"error: {bad}: drivers.alg_halving_years: must be > 0 for every draw (the model divides "
        "by it), but the fixed value 0 is not"]
    good = pf.write(tmp_path / "good.toml",
                    pf.point_drivers(**EXTREME_VALID["doubling_times_of_days"]))
    done = run_simcore("run", good, "--draws", 200, "--out", tmp_path / "ok")   # charts included
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "nan" not in done.stdout.lower()
    assert_clean_run_dir(tmp_path / "ok")


def _start_big_run(out: Path) -> subprocess.Popen:
    return start_simcore("run", BASELINE, "--draws", 3_000_000, "--chunk-size", 20_000,
                         "--out", out, "--no-charts")


@pytest.mark.slow
@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_real_signal_mid_sampling_leaves_no_run_directory(tmp_path, signum, code, word):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "big"
    process = _start_big_run(out)
    try:
        # Drivers and event times stream into the hidden staging folder's run.nc chunk by
        # chunk: once it holds well over a few chunks, the run is mid-sampling.
        deadline = time.monotonic() + 120
        while not any(f.stat().st_size > 50_000_000 for f in runs.glob(".big.partial-*/run.nc")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "never reached the sampling stage"
            time.sleep(0.05)
        assert not out.exists()                  # still sampling: no run directory yet
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert stderr.splitlines() == [f"{word}: no run directory was written"], stderr
    assert "Traceback" not in stderr and stdout == ""
    assert list(runs.iterdir()) == []            # no run directory, no hidden staging folder
