"""A run's copies of its prior files keep their layout; nothing from input files is executed."""


import os
import re
from pathlib import Path

import priorfiles as pf
from clichecks import invoke
from runchecks import REQUIRED, run_ok

from simcore.inputs.priors import load_priors

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# 5. Prior copies in the run keep their layout; nothing from input files is executed


def test_a_prior_file_name_that_is_not_utf8_runs_and_verifies(tmp_path, point_prior):
    """Linux file names are bytes: the name reaches run.nc's attributes escaped and the
    manifest exactly, so verify finds the prior copy again."""
    odd = point_prior.with_name(os.fsdecode(b"point\xfe.toml"))
    odd.write_bytes(point_prior.read_bytes())
    out = tmp_path / "runs" / "odd"
    run_ok(odd, out)
    verified = invoke("verify", out)
    assert verified.exit_code == 0 and "bit-identical" in verified.output, verified.output
    reported = invoke("report", out, "--quiet")
    assert reported.exit_code == 0, reported.output
    assert "point\\udcfe.toml" in (out / "report.html").read_text(encoding="utf-8")


def test_prior_copies_keep_the_layout_so_extends_resolves(tmp_path):
    priors = tmp_path / "priors"
    (priors / "scenarios").mkdir(parents=True)
    pf.write(priors / "base.toml", pf.point_drivers())
    (priors / "scenarios" / "slow.toml").write_text(
        '[meta]\nextends = "../base.toml"\n[drivers.alg_halving_years]\nvalue = 1.6\n')
    out = tmp_path / "runs" / "r"
    run_ok(priors / "scenarios" / "slow.toml", out)
    assert (out / "priors" / "base.toml").read_bytes() == (priors / "base.toml").read_bytes()
    copy = out / "priors" / "scenarios" / "slow.toml"
    reloaded = load_priors(copy, required=REQUIRED)
    assert reloaded.drivers["alg_halving_years"].dist.value == 1.6
    import json
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["copy"] for f in manifest["prior_files"]] == ["priors/base.toml",
                                                            "priors/scenarios/slow.toml"]
    assert all(".." not in f["copy"] for f in manifest["prior_files"])


def test_no_code_execution_primitives_in_the_package():
    """Input files are parsed (tomllib, json, netCDF), never executed or unpickled."""
    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile)\(|\bpickle\b|\bmarshal\b|\byaml\b|"
                           r"allow_pickle|__import__|shell=True|os\.system")
    for path in sorted((ROOT / "simcore").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not forbidden.search(line), f"{path.name}:{number}: {line.strip()}"


