"""Time `simcore run` end to end (process start to written run directory, charts included).

Each size is run several times in a fresh process; we report the median wall time, draws per
second and the peak resident memory of the process (from wait4's rusage), and the same for the
deliberately naive reference (benchmarks/naive_reference.py: whole-matrix numpy, np.quantile,
no I/O) at a size that fits its memory, with the ratio of draws per second. Machines are
noisy: compare medians and ratios, not single runs.

    python benchmarks/bench_run.py [--draws 100000 1000000 10000000] [--repeats 5]
                                   [--naive-draws 100000] [--naive-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# As a user's shell has it: Python caches compiled modules. (These sandboxes set
# PYTHONDONTWRITEBYTECODE, which recompiles every module at each start, ~0.3 s.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_usage(command: list[str], env: dict[str, str] = ENV) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system, the children it waited
    for included; from wait4's rusage) of a command in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[1:3])} failed: {process.stderr.read().decode()}")
    # ru_maxrss is in KiB on Linux
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command in a fresh process."""
    return timed_usage(command)[:2]


def one_run(draws: int, priors: Path, workdir: Path, extra: list[str],
            env: dict[str, str] = ENV) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of one ``simcore run``."""
    out = workdir / f"run-{draws}-{time.monotonic_ns()}"
    # Each run starts with the previous one's file written back: a 10M-draw run.nc is 3 GB,
    # and the kernel throttles a writer while that much is still dirty in the page cache.
    os.sync()
    sample = timed_usage([sys.executable, "-m", "simcore", "run", str(priors), "--draws",
                          str(draws), "--out", str(out), "--quiet", *extra], env)
    shutil.rmtree(out)
    return sample


def one_naive_run(draws: int, priors: Path) -> tuple[float, float]:
    return timed([sys.executable, str(ROOT / "benchmarks" / "naive_reference.py"), "--draws",
                  str(draws), "--priors", str(priors)])


def summarise(label: str, draws: int, samples: list[tuple[float, float]]) -> dict:
    walls = [w for w, _ in samples]
    row = {"what": label, "draws": draws, "repeats": len(samples),
           "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
           "wall_max_s": max(walls), "draws_per_s": draws / statistics.median(walls),
           "peak_rss_mib": max(r for _, r in samples)}
    print(f"{label:>16} {draws:>11,} draws: median {row['wall_median_s']:6.2f} s "
          f"[{row['wall_min_s']:.2f}-{row['wall_max_s']:.2f}], "
          f"{row['draws_per_s']:>10,.0f} draws/s, peak RSS {row['peak_rss_mib']:,.0f} MiB",
          flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, nargs="+",
                        default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-draws", type=int, default=100_000,
                        help="size for the naive reference (its memory grows ~40 kB a draw); "
                             "0 to skip it")
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--priors", type=Path, default=ROOT / "priors" / "baseline.toml")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results")
    args, extra = parser.parse_known_args()
    args.output.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        one_run(1000, args.priors, Path(tmp), extra)   # warm-up: numba cache, OS file cache
        for draws in args.draws:
            samples = [one_run(draws, args.priors, Path(tmp), extra)[:2]
                       for _ in range(args.repeats)]
            rows.append(summarise("simcore run", draws, samples))
    if args.naive_draws:
        naive = summarise("naive reference", args.naive_draws,
                          [one_naive_run(args.naive_draws, args.priors)
                           for _ in range(args.naive_repeats)])
        rows.append(naive)
        for row in rows[:-1]:
            print(f"simcore run at {row['draws']:,} draws: "
                  f"{row['draws_per_s'] / naive['draws_per_s']:.1f}x the naive reference's "
                  f"draws per second (at {naive['draws']:,}), and it writes every output")
    simcore_rows = [r for r in rows if r["what"] == "simcore run"]
    for small, large in zip(simcore_rows, simcore_rows[1:], strict=False):
        print(f"time ratio {large['draws']:,}/{small['draws']:,} draws: "
              f"{large['wall_median_s'] / small['wall_median_s']:.2f}")
    record = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "command_extra": extra, "results": rows}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.output / f"bench-run-{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
