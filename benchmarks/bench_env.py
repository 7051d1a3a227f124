"""Interleaved A/B timing of `simcore run` under two environment settings.

    python benchmarks/bench_env.py OPENBLAS_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 \\
        [--draws 100000 1000000] [--repeats 9] [-- extra simcore run options, e.g. --no-charts]

Each setting is a comma-separated list of VAR=value (``VAR=`` removes VAR). Runs alternate A, B,
then B, A, in fresh processes, so a machine whose speed drifts (a shared host) slows both
alike; the medians of wall and CPU time (user + system, the drawing process included) and their
B/A ratios are printed and written to benchmarks/results/bench-env-*.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_run import ENV, ROOT, one_run  # noqa: E402


def environment(setting: str) -> dict[str, str]:
    env = dict(ENV)
    for assignment in filter(None, setting.split(",")):
        name, _, value = assignment.partition("=")
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="setting A, e.g. OPENBLAS_NUM_THREADS=1")
    parser.add_argument("b", help="setting B, e.g. OPENBLAS_NUM_THREADS=2")
    parser.add_argument("--draws", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--priors", type=Path, default=ROOT / "priors" / "baseline.toml")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results")
    args, extra = parser.parse_known_args()
    extra = [e for e in extra if e != "--"]
    envs = {"a": environment(args.a), "b": environment(args.b)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        one_run(1000, args.priors, Path(tmp), extra)   # warm-up: numba cache, OS file cache
        for draws in args.draws:
            samples = {"a": [], "b": []}
            for repeat in range(args.repeats):
                for side in ("a", "b") if repeat % 2 == 0 else ("b", "a"):
                    wall, _, cpu = one_run(draws, args.priors, Path(tmp), extra, envs[side])
                    samples[side].append((wall, cpu))
            row = {"draws": draws, "repeats": args.repeats}
            for side, setting in (("a", args.a), ("b", args.b)):
                walls = [w for w, _ in samples[side]]
                cpus = [c for _, c in samples[side]]
                row[side] = {"setting": setting, "walls_s": walls, "cpus_s": cpus,
                             "wall_median_s": statistics.median(walls),
                             "cpu_median_s": statistics.median(cpus)}
                print(f"{draws:>11,} draws, {setting}: wall median "
                      f"{statistics.median(walls):.2f} s [{min(walls):.2f}-{max(walls):.2f}], "
                      f"CPU median {statistics.median(cpus):.2f} s "
                      f"[{min(cpus):.2f}-{max(cpus):.2f}]", flush=True)
            row["wall_ratio_b_a"] = row["b"]["wall_median_s"] / row["a"]["wall_median_s"]
            row["cpu_ratio_b_a"] = row["b"]["cpu_median_s"] / row["a"]["cpu_median_s"]
            pairs = zip(samples["a"], samples["b"], strict=False)
            faster = sum(wb < wa for (wa, _), (wb, _) in pairs)
            print(f"{draws:>11,} draws: B/A wall {row['wall_ratio_b_a']:.3f}, CPU "
                  f"{row['cpu_ratio_b_a']:.3f}; B faster in {faster} of {args.repeats} pairs",
                  flush=True)
            rows.append(row)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.output / f"bench-env-{stamp}.json").write_text(
        json.dumps({"command_extra": extra, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
