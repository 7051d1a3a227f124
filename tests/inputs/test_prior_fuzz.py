"""Fuzzing: generated prior files, valid (extreme values) and broken, each either a clean run or
a one-line rejection (exit 2)."""


import itertools
from pathlib import Path

from clichecks import assert_rejected, invoke, partial_dirs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runchecks import (
    REQUIRED,
    assert_clean_result,
    assert_clean_run_dir,
)
from strategies import broken_prior_files, valid_prior_files

from simcore.base.errors import PriorError
from simcore.inputs.priors import load_priors
from simcore.run import engine

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# 3. Fuzzing: generated prior files, valid (extreme values) and broken

_EXAMPLES = itertools.count()


def check_contract_in_process(tmp_path: Path, content: bytes, must_accept: bool) -> None:
    """Validation and, if valid, the whole computation in-process (no netCDF: fast); a rejected
    file goes through the CLI to check the one-line message and that nothing is written."""
    prior = tmp_path / "fuzz.toml"
    prior.write_bytes(content)
    try:
        priors = load_priors(prior, required=REQUIRED)
    except PriorError as exc:
        assert not must_accept, f"valid file rejected: {exc}\n{content.decode()}"
        out = tmp_path / "runs" / "never"
        line = assert_rejected(invoke("run", prior, "--draws", 20, "--out", out), out)
        assert line == f"error: {exc}"
        return
    result = engine.run_forecast(priors, 97, seed=11, chunk_size=40, n_paths=5)
    assert_clean_result(result)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=valid_prior_files())
def test_fuzz_valid_prior_files_are_accepted_with_clean_outputs(tmp_path, text):
    check_contract_in_process(tmp_path, text.encode(), must_accept=True)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=broken_prior_files())
def test_fuzz_broken_prior_files_run_cleanly_or_exit_2_with_one_line(tmp_path, content):
    check_contract_in_process(tmp_path, content, must_accept=False)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=st.one_of(valid_prior_files().map(str.encode), broken_prior_files()))
def test_fuzz_end_to_end_through_the_cli(tmp_path, content):
    """The whole CLI, writing the run directory (run.nc included) when the file is valid."""
    number = next(_EXAMPLES)
    prior = tmp_path / f"fuzz-{number}.toml"
    prior.write_bytes(content)
    out = tmp_path / "runs" / f"run-{number}"
    result = invoke("run", prior, "--draws", 150, "--paths", 4, "--out", out, "--no-charts")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert "nan" not in result.stdout.lower()
        assert_clean_run_dir(out)
    else:
        assert_rejected(result, out)
    assert not partial_dirs(out.parent)


