"""Speed-up of ``--engine dask`` from 1 to 2 local workers, and its per-chunk overhead.

    python benchmarks/bench_dask.py [--draws 400000] [--chunk-size 50000] [--small-chunk 2000]
                                    [--repeats 3]

The engine alone (sampling, model, summaries; nothing written, draws kept in memory), in this
process, against LocalClusters of one and of two single-threaded worker processes (each
warmed up first: numba's cache loaded), and the local engine for reference. Then, on two
workers, the same draws in chunks of --small-chunk instead of --chunk-size: the difference per
extra chunk is the per-chunk overhead (scheduling, transfer of the chunk's outputs, taking
them in). Medians of --repeats runs; results identical in every case (checked).

``--counted``: the same for a run whose events are counted (``--no-per-draw``, ``--per-draw
zarr``): chunks merged by tasks on the workers, nothing per draw sent to the client; also the
size of the one merged output the client receives.

``--sobol N``: instead, a Sobol study of N (the design's rows evaluated here, then on one and
two workers), split into the model evaluations (what the workers share) and the sampling and
SALib analysis (on the client): the figures behind a projection to N = 2^16.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def timed(function, repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        tick = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - tick)
    return statistics.median(times), times, result


def fingerprint(result) -> bytes:
    parts = [np.asarray(result.events[k]).tobytes() for k in sorted(result.events)]
    parts += [result.histograms[k].counts.tobytes() for k in sorted(result.histograms)]
    if result.reduced is not None:
        parts += [result.reduced.slots.counts.tobytes(), result.reduced.binding.tobytes()]
    return b"".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=400_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--small-chunk", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--priors", default=str(ROOT / "priors" / "baseline.toml"))
    parser.add_argument("--counted", action="store_true",
                        help="runs whose events are counted and merged on the cluster")
    parser.add_argument("--sobol", type=int, default=None, metavar="N",
                        help="time a Sobol study of N instead of runs")
    args = parser.parse_args()
    if args.sobol:
        bench_sobol(args)
        return

    from simcore.inputs.priors import load_priors
    from simcore.run import cluster, engine

    priors = load_priors(args.priors)
    seed = 1

    def forecast(chunk_size, chunks=None):
        return lambda: engine.run_forecast(priors, args.draws, seed, chunk_size, n_paths=0,
                                           chunks=chunks, per_draw=not args.counted)

    engine.run_forecast(priors, 1_000, seed, 500, n_paths=0)          # compile / load cache
    local, local_times, reference = timed(forecast(args.chunk_size), args.repeats)
    report = {"draws": args.draws, "chunk_size": args.chunk_size, "repeats": args.repeats,
              "counted": args.counted,
              "local_engine_s": local, "local_engine_runs_s": local_times}
    print(f"local engine (numba threads of this process): {local:.2f} s  {local_times}")
    for workers in (1, 2):
        with cluster.connect(None, workers) as chunks:
            engine.run_forecast(priors, 4 * workers, seed, 1, n_paths=0, chunks=chunks)
            seconds, runs, result = timed(forecast(args.chunk_size, chunks), args.repeats)
            assert fingerprint(result) == fingerprint(reference), "results differ"
            report[f"dask_{workers}_workers_s"] = seconds
            report[f"dask_{workers}_workers_runs_s"] = runs
            print(f"dask, {workers} worker(s), chunks of {args.chunk_size:,}: {seconds:.2f} s  "
                  f"{runs}")
            if workers == 2:
                small, small_runs, result = timed(forecast(args.small_chunk, chunks),
                                                  args.repeats)
                assert fingerprint(result) == fingerprint(reference), "results differ"
                extra = -(-args.draws // args.small_chunk) - (-(-args.draws // args.chunk_size))
                report.update({"small_chunk": args.small_chunk, "dask_2_small_chunks_s": small,
                               "dask_2_small_chunks_runs_s": small_runs,
                               "overhead_per_chunk_ms": 1000 * (small - seconds) / extra})
                print(f"dask, 2 workers, chunks of {args.small_chunk:,}: {small:.2f} s  "
                      f"{small_runs}")
    if args.counted:
        import pickle
        task = engine.ChunkTask(priors, seed, None, 0, None, args.chunk_size, per_draw=False)
        merged = engine.merge_outputs(*(engine.compute_chunk(task, a, a + args.chunk_size)
                                        for a in range(0, 2 * args.chunk_size,
                                                       args.chunk_size)))
        report["merged_output_bytes"] = len(pickle.dumps(merged))
        print(f"the merged output the client receives: {report['merged_output_bytes']:,} "
              f"bytes (from two chunks; it grows only with the histogram bins reached)")
    report["speedup_1_to_2_workers"] = report["dask_1_workers_s"] / report["dask_2_workers_s"]
    print(f"speed-up from 1 to 2 workers: {report['speedup_1_to_2_workers']:.2f}x; "
          f"overhead per chunk (2 workers): {report['overhead_per_chunk_ms']:.1f} ms")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    kind = "-counted" if args.counted else ""
    path = out / f"bench-dask{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {path}")


def bench_sobol(args) -> None:
    from simcore.analysis.sensitivity.variance import sobol
    from simcore.app.study import study_targets
    from simcore.inputs.priors import load_priors
    from simcore.model import MODEL_DRIVERS
    from simcore.run import cluster

    priors = load_priors(args.priors, required=set(MODEL_DRIVERS))
    targets = study_targets(priors)
    report = {"sobol_n": args.sobol, "repeats": args.repeats}

    def study(chunks=None):
        return lambda: sobol(priors, args.sobol, 7, targets, chunks=chunks)

    sobol(priors, 4, 7, targets)               # compile / load cache
    seconds, runs, reference = timed(study(), args.repeats)
    report.update({"local_s": seconds, "local_runs_s": runs, "local_split_s":
                   reference.timings, "model_runs": reference.model_runs})
    print(f"local: {seconds:.2f} s {runs}; split {reference.timings}")
    for workers in (1, 2):
        with cluster.connect(None, workers) as chunks:
            sobol(priors, 4, 7, targets, chunks=chunks)
            seconds, runs, result = timed(study(chunks), args.repeats)
            assert result.indices.equals(reference.indices), "indices differ"
            report[f"dask_{workers}_workers_s"] = seconds
            report[f"dask_{workers}_workers_runs_s"] = runs
            report[f"dask_{workers}_workers_split_s"] = result.timings
            print(f"dask, {workers} worker(s): {seconds:.2f} s {runs}; split {result.timings}")
    report["speedup_1_to_2_workers"] = report["dask_1_workers_s"] / report["dask_2_workers_s"]
    print(f"speed-up from 1 to 2 workers: {report['speedup_1_to_2_workers']:.2f}x")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bench-dask-sobol-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
