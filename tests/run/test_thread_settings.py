"""Nothing simcore stores depends on thread settings or on who computes it.

The same run is made in fresh processes, by the command line and by the library API, with
OpenBLAS, OpenMP, MKL and numba thread counts set to 1, 2 or left unset, and every stored
number is compared bit for bit: each dataset and attribute of run.nc, each CSV byte, the
manifest but for its time stamps. The same for ``simcore sensitivity`` studies. A BLAS or
LAPACK call on the stored path (``np.linalg.pinv`` of the drivers' rank correlations was one)
gives last-bit differences between thread counts and fails here; the static check below also
catches BLAS calls whose bits happen not to change on this machine.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from samefiles import assert_same_files, hdf5_contents
from sharedruns import shared_folder

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
# All the draws go into the given-data sensitivity (it uses up to 20,000): partial rank
# correlations of the baseline's 43 uncertain drivers from 5,000 worlds.
DRAWS = 5_000
SEED = 11
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")

LIBRARY_RUN = """
import sys
from pathlib import Path
from simcore.run import engine
from simcore.app import pipeline
from simcore.stored import store
from simcore.inputs.priors import load_priors
priors, draws, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
result = engine.run_forecast(load_priors(priors), draws, seed=seed, n_paths=engine.DEFAULT_PATHS)
pipeline.write_run(result, out, with_charts=False)
"""

LIBRARY_STUDY = """
import sys
from pathlib import Path
from simcore.app.study import run_study
priors, method, n, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    Path(sys.argv[5])
run_study(priors, method, n, seed, out, resamples=20, charts=False)
"""

# name: (caller, thread settings; variables not named are unset)
RUNS = {
    "library, threads unset": ("library", {}),
    "library, one thread each": ("library", {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                             "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}),
    "library, OpenBLAS 2, numba 1": ("library", {"OPENBLAS_NUM_THREADS": "2",
                                                 "NUMBA_NUM_THREADS": "1"}),
    "cli, threads unset": ("cli", {}),
    "cli, OpenBLAS 1, numba 1": ("cli", {"OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}),
    "cli, two threads each": ("cli", {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2",
                                      "MKL_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}),
}
REFERENCE = "library, threads unset"

STUDIES = {   # name: (method, caller, thread settings)
    "sobol, cli, threads unset": ("sobol", "cli", {}),
    "sobol, cli, OpenBLAS 1, numba 1": ("sobol", "cli", {"OPENBLAS_NUM_THREADS": "1",
                                                         "NUMBA_NUM_THREADS": "1"}),
    "sobol, library, two threads each": ("sobol", "library", {
        "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
        "NUMBA_NUM_THREADS": "2"}),
    "morris, cli, threads unset": ("morris", "cli", {}),
    "morris, cli, OpenBLAS 2, numba 1": ("morris", "cli", {"OPENBLAS_NUM_THREADS": "2",
                                                           "NUMBA_NUM_THREADS": "1"}),
}
STUDY_N = {"sobol": 8, "morris": 4}


def _environment(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    return {**env, **settings}


def _call(arguments: list, settings: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, *map(str, arguments)], cwd=ROOT,
                          env=_environment(settings), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr


def make_run(name: str, out: Path) -> Path:
    caller, settings = RUNS[name]
    if caller == "cli":
        # The library call ranks no observations; the command would rank data/observations.csv.
        _call(["-m", "simcore", "run", BASELINE, "--draws", DRAWS, "--seed", SEED, "--out", out,
               "--no-charts", "--no-observations", "-q"], settings)
    else:
        _call(["-c", LIBRARY_RUN, BASELINE, DRAWS, SEED, out], settings)
    return out


def make_study(name: str, out: Path) -> Path:
    method, caller, settings = STUDIES[name]
    n = STUDY_N[method]
    if caller == "cli":
        _call(["-m", "simcore", "sensitivity", BASELINE, "--method", method, "-N", n,
               "--seed", SEED, "--resamples", 20, "--out", out, "--no-charts", "-q"], settings)
    else:
        _call(["-c", LIBRARY_STUDY, BASELINE, method, n, SEED, out], settings)
    return out


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    return shared_folder(tmp_path_factory, "threads-reference-run",
                         lambda folder: make_run(REFERENCE, folder / "run")) / "run"


def test_the_reference_run_has_real_partial_rank_correlations(reference_run):
    """The comparison would prove little if /sensitivity were empty or trivial."""
    with h5py.File(reference_run / "run.nc", "r") as f:
        index = f["sensitivity/index"][()]          # (target, driver, measure)
        measures = [m.decode() if isinstance(m, bytes) else m
                    for m in f["sensitivity/measure"][()]]
    prcc = index[:, :, measures.index("prcc")]
    assert prcc.shape[0] > 200 and prcc.shape[1] >= 40
    assert np.isfinite(prcc).all() and (np.abs(prcc) > 0.5).any() and (prcc != 0).mean() > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in RUNS if n != REFERENCE])
def test_a_run_is_bit_identical_whatever_thread_settings_and_caller(name, reference_run,
                                                                    tmp_path):
    run = make_run(name, tmp_path / "run")
    assert_same_files(reference_run, run)
    reference, other = hdf5_contents(reference_run / "run.nc"), hdf5_contents(run / "run.nc")
    assert {"prior", "events", "trajectories", "trajectories/paths", "sensitivity"} <= set(
        reference)
    assert reference.keys() == other.keys()
    differing = [key for key in reference if reference[key] != other[key]]
    assert not differing, f"{name}: run.nc differs from '{REFERENCE}' in {differing}"


@pytest.fixture(scope="module")
def reference_studies(tmp_path_factory) -> dict[str, Path]:
    firsts = {}
    for name, (method, _, _) in STUDIES.items():
        firsts.setdefault(method, name)
    return {method: shared_folder(tmp_path_factory, f"threads-reference-{method}",
                                  lambda folder, name=name: make_study(name, folder / "study"))
            / "study" for method, name in firsts.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in STUDIES if not n.endswith("cli, threads unset")])
def test_a_sensitivity_study_is_bit_identical_whatever_thread_settings(name,
                                                                       reference_studies,
                                                                       tmp_path):
    method = STUDIES[name][0]
    study = make_study(name, tmp_path / "study")
    assert_same_files(reference_studies[method], study)


# Calls that reach BLAS or LAPACK (numpy and scipy hand them to OpenBLAS, whose summation order
# depends on the thread count and the CPU). simcore's numbers on the stored path use
# simcore.fixed_order instead; np.einsum without ``optimize`` stays in numpy's own loops.
BLAS_FUNCTIONS = {"dot", "vdot", "inner", "matmul", "tensordot", "linalg", "cov", "corrcoef",
                  "polyfit", "lstsq"}
LIBRARIES = {"np", "numpy", "scipy", "sp"}


def _dotted(node: ast.AST) -> list[str]:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return [node.id, *reversed(names)] if isinstance(node, ast.Name) else []


def _blas_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.MatMult):
            found.append(f"line {line}: @")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            chain = _dotted(node.func)
            if node.func.attr == "dot":              # ndarray.dot, DataFrame.dot
                found.append(f"line {line}: .dot()")
            elif (chain[:1] and chain[0] in LIBRARIES and BLAS_FUNCTIONS & set(chain[1:])
                  and not chain[-1].endswith("Error")):     # raising LinAlgError is fine
                found.append(f"line {line}: {'.'.join(chain)}()")
            elif node.func.attr == "einsum" and any(k.arg == "optimize" for k in node.keywords):
                found.append(f"line {line}: einsum(optimize=...)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                "numpy", "scipy") and ("linalg" in (node.module or "")
                                       or BLAS_FUNCTIONS & {a.name for a in node.names}):
            found.append(f"line {line}: from {node.module} import ...")
        elif isinstance(node, ast.Import) and any("linalg" in a.name for a in node.names):
            found.append(f"line {line}: import ...linalg")
    return found


def test_the_static_check_sees_blas_calls():
    source = ("a @ b\nnp.linalg.pinv(r)\nx.dot(y)\nfrom scipy.linalg import cholesky\n"
              "np.einsum('ij,jk', a, b, optimize=True)\nnp.cov(x)\nimport scipy.linalg\n"
              "numpy.linalg.norm(a)\nfrom numpy import matmul\n")
    assert len(_blas_calls(source)) == 9
    assert _blas_calls("np.einsum('ij,ij->i', a, a)\nnp.sum(a * b)\nself.cholesky[0, 1]\n"
                       "fixed_order.cholesky(m)\nstats.norm.ppf(u)\n"
                       "raise np.linalg.LinAlgError('not positive definite')\n") == []


def test_no_simcore_module_calls_blas_or_lapack():
    """Everything simcore stores is computed by simcore's modules (or by libraries checked by
    the tests above); charts go through matplotlib, whose pixels are not compared."""
    calls = {path.relative_to(ROOT).as_posix(): found
             for path in sorted((ROOT / "simcore").rglob("*.py"))
             if (found := _blas_calls(path.read_text()))}
    assert calls == {}
