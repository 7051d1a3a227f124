"""The ``simcore`` command line. Heavy imports happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import codecs
import logging
import math
import sys
from collections.abc import Callable
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import click

from .base.limits import MAX_DRAWS, MAX_RESAMPLES, MAX_SEED, MAX_STUDY_N

DEFAULT_PRIORS = Path("priors/baseline.toml")
DEFAULT_OBSERVATIONS = Path("data/observations.csv")
DEFAULT_DRAWS = 200_000
DEFAULT_MAX_DRAWS = 10_000_000   # the cap of --until-mcse unless --draws says otherwise


def _fail(exc: Exception) -> None:
    message = " ".join(str(exc).split("\n"))   # one line, always
    click.echo(f"error: {message}", err=True)
    sys.exit(getattr(exc, "exit_code", 2))


def _interrupted(exc: KeyboardInterrupt, done: str) -> None:
    """Clean up after Ctrl-C (exit 130) or SIGTERM (exit 143), saying on one line what is left."""
    from .base.interrupts import Terminated, acknowledge, ignored

    terminated = isinstance(exc, Terminated)
    acknowledge()
    with ignored():          # a second Ctrl-C must not cut the clean-up short
        publish = sys.modules.get("simcore.stored.publish")
        if publish is not None:
            publish.discard_unfinished()
        click.echo(f"{'terminated' if terminated else 'interrupted'}: {done}", err=True)
    sys.exit(143 if terminated else 130)


def _out_of_memory(what: str) -> None:
    click.echo(f"error: not enough memory for {what}", err=True)
    sys.exit(1)


def _io_error(exc: OSError) -> None:
    """An I/O error no layer below named: one line, exit 1."""
    import errno

    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    where = f"{exc.filename}: " if exc.filename else ""
    click.echo(f"error: {where}{reason}", err=True)
    sys.exit(1)


def published(nothing: str, what: str) -> Callable[[], str]:
    """What a command's interrupt line says is left: ``nothing``, or, if the interrupt came
    after its results were published, '``what`` already complete in <where>'."""
    def left() -> str:
        publish = sys.modules.get("simcore.stored.publish")
        done = publish.PUBLISHED if publish is not None else []
        return f"{what} already complete in {', '.join(map(str, done))}" if done else nothing
    return left


@contextmanager
def _user_command(memory_hint: str, done_when_interrupted: Callable[[], str]):
    """The one-line exits every long command shares: a user's mistake (exit 2, or 1 for I/O),
    running out of memory (1), Ctrl-C (130) or SIGTERM (143) with what is left on disk."""
    from .base.errors import SimcoreError
    from .base.interrupts import signals_as_interrupts
    from .base.numbacache import NOTE

    if NOTE:
        click.echo(f"note: {NOTE}", err=True)
    publish = sys.modules.get("simcore.stored.publish")
    if publish is not None:
        publish.PUBLISHED.clear()       # what this command publishes (commands run in-process)
    try:
        with signals_as_interrupts():
            yield
    except SimcoreError as exc:
        _fail(exc)
    except MemoryError:
        _out_of_memory(memory_hint)
    except KeyboardInterrupt as exc:
        _interrupted(exc, done_when_interrupted())
    except OSError as exc:
        _io_error(exc)


# Characters simcore prints, as a terminal that cannot show them gets them (e.g. LANG=C or
# PYTHONIOENCODING=latin-1): the answer's "1.1 years – 7.7 years" must not fail after the
# work is done.
_PLAIN = {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00b1": "+/-", "\u00d7": "x",
          "\u00f7": "/", "\u2192": "->", "\u2026": "...", "\u221e": "inf", "\u00a0": " ",
          "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2248": "~",
          "\u2264": "<=", "\u2265": ">="}
_SUPERSCRIPTS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
                              "\u207b\u207a", "0123456789-+")


def _terminal_errors(error: UnicodeEncodeError) -> tuple[str | bytes, int]:
    """How stdout and stderr write what their encoding lacks: a file name's stray bytes (lone
    surrogates, as Linux file names that are not UTF-8 reach Python) as those bytes, so the
    name reads as in ls; typographic characters as their ASCII forms (10\u207b\u2075 as
    10^-5); anything else as a backslash escape. Never an error."""
    text = error.object[error.start:error.end]
    if all("\udc80" <= c <= "\udcff" for c in text):
        return bytes(ord(c) - 0xDC00 for c in text), error.end
    out = []
    for i, c in enumerate(text):
        if c in _PLAIN:
            out.append(_PLAIN[c])
        elif c.translate(_SUPERSCRIPTS) != c:
            previous = text[i - 1] if i else error.object[error.start - 1:error.start]
            out.append(("" if previous.translate(_SUPERSCRIPTS) != previous else "^")
                       + c.translate(_SUPERSCRIPTS))
        elif "\udc80" <= c <= "\udcff":
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        else:
            out.append(c.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), error.end


codecs.register_error("simcore-terminal", _terminal_errors)


def _never_fail_on_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # A closed or detached stream has nothing to write to.
            with suppress(ValueError, OSError):
                reconfigure(errors="simcore-terminal")


class _NoteHandler(logging.Handler):
    """What the package logs (a stale staging folder removed, ...) as 'note: ...' lines."""

    def emit(self, record: logging.LogRecord) -> None:
        from .base.errors import one_line
        click.echo(f"note: {one_line(record.getMessage())}", err=True)


def _show_notes() -> None:
    logger = logging.getLogger("simcore")
    if not any(isinstance(h, _NoteHandler) for h in logger.handlers):
        logger.addHandler(_NoteHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())   # click >= 8.2


class _Simcore(click.Group):
    """The command group, with every error on one line: click's usage errors (an option out of
    range, a missing argument) are four lines of usage and hints; here they read like the rest,
    'error: ...', exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _never_fail_on_output()
        _show_notes()
        from .base.errors import one_line
        from .base.interrupts import Terminated, signals_as_interrupts
        try:
            with signals_as_interrupts():   # from the start: parsing, imports
                code = super().main(args, prog_name, complete_var, standalone_mode=False,
                                    **extra)
        except _NO_ARGS_IS_HELP as exc:  # a bare 'simcore': the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "simcore"
            click.echo(f"error: {one_line(exc.format_message())} (see '{command} --help')",
                       err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except (_Interrupted, click.Abort) as exc:   # outside a command's own handling
            terminated = isinstance(exc.__cause__, Terminated)
            click.echo(f"{'terminated' if terminated else 'interrupted'}: nothing was written",
                       err=True)
            sys.exit(143 if terminated else 130)
        except BrokenPipeError:  # e.g. simcore compare ... | head
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:    # click would print a blank line and say 'Aborted!'
            raise _Interrupted() from exc


class _Interrupted(Exception):
    """An interrupt that reached the group, carried past click (its cause)."""


@click.group(cls=_Simcore)
@click.version_option(package_name="simcore")
def main() -> None:
    """Monte Carlo forecasts of AI video generation reaching feature films."""


def entry() -> None:
    """The console script: ``main``, then straight out. Every command has closed its files
    and renamed its outputs into place by the time it returns; tearing down the interpreter
    (numba, LLVM, HDF5, thousands of module objects) would add ~0.6 s to every run for
    nothing. Tests call ``main`` in-process and keep the normal exit."""
    import os

    # For speed only (no stored number goes through BLAS, so results do not depend on it):
    # simcore parallelises its own work, and OpenBLAS's pools (one in numpy's copy, one in
    # scipy's) would only spin beside it (benchmarks/README.md). Set before numpy is imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            click.echo(code, err=True)
            code = 1
    except BaseException:           # a bug: its traceback, and out the same way (a failed
        import traceback  # HDF5 file must not be finalised: that can crash)
        traceback.print_exc()
        code = 1
    from .base.numbacache import cleanup
    cleanup()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)


def _chunk_source(engine: str, scheduler: str | None):
    """Where a command's chunks are computed, as a context manager: None for here, or a
    connected Dask cluster (imported only then)."""
    from contextlib import nullcontext

    if engine == "local":
        if scheduler:
            from .base.errors import SimcoreError
            raise SimcoreError("--scheduler needs --engine dask")
        return nullcontext(None)
    from .run import cluster
    return cluster.connect(cluster.scheduler_address(scheduler))


def _finite(ctx, param, value):
    """click's FloatRange lets NaN through (every comparison with it is false)."""
    if value is not None and math.isnan(value):
        raise click.BadParameter("must be a number, not nan")
    return value


def _engine_options(command):
    """--engine and --scheduler, shared by the commands that compute draws."""
    command = click.option(
        "--scheduler", metavar="ADDRESS", default=None,
        help="With --engine dask: the scheduler to use, e.g. tcp://10.0.0.5:8786 [default: "
             "$DASK_SCHEDULER_ADDRESS, else a local cluster of this machine's cores].")(command)
    return click.option(
        "--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
        help="Where the chunks of draws are computed: here, or as tasks on a Dask cluster "
             "(identical results).")(command)


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--draws", "-n", type=click.IntRange(min=1, max=MAX_DRAWS), default=None,
              help=f"Number of simulated worlds [default: {DEFAULT_DRAWS:,}; with --until-mcse "
                   f"the maximum, default {DEFAULT_MAX_DRAWS:,}].")
@click.option("--until-mcse", type=click.FloatRange(min=0.0, max=1.0, min_open=True),
              default=None, metavar="TOL", callback=_finite,
              help="Add draws until every headline number's Monte Carlo error is at most TOL "
                   "(relative for durations and dates, absolute for probabilities).")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=MAX_SEED), default=20261125,
              show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1, max=MAX_DRAWS), default=None,
              help="Draws per chunk (memory bound); results are identical for any value.")
@click.option("--paths", type=click.IntRange(min=0, max=MAX_DRAWS), default=None,
              help="Sample paths stored in run.nc [default: 200].")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: a new one under runs/].")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the run directory.")
@click.option("--observations", type=click.Path(path_type=Path), default=None,
              help=f"Observations to rank the run against (a CSV file or a folder of them) "
                   f"[default: {DEFAULT_OBSERVATIONS} when it exists].")
@click.option("--no-observations", is_flag=True, help="Rank no observations.")
@click.option("--condition", type=click.Path(path_type=Path), default=None, metavar="OBS",
              help="Weight every world by the likelihood of these observations (PSIS).")
@click.option("--resample", is_flag=True,
              help="With --condition: go on when Pareto k-hat is above its limit (said "
                   "on stderr and recorded in the manifest) instead of refusing.")
@click.option("--per-draw", "per_draw_format", type=click.Choice(["netcdf", "zarr"]),
              default="netcdf", show_default=True,
              help="Where every draw's drivers and event times go: run.nc, or per_draw.zarr, "
                   "written by whoever computes each chunk (with --engine dask, the workers: "
                   "the run directory must be on a file system they all see); with zarr the "
                   "tables count the events as --no-per-draw does.")
@click.option("--no-per-draw", is_flag=True,
              help="Keep no per-draw drivers or event times (for runs too big to keep): "
                   "events are counted instead (probabilities exact, quantiles within 6 "
                   "hours), merged on the cluster with --engine dask; observations are ranked "
                   "among the first 20,000 draws.")
@_engine_options
def run(priors, draws, seed, until_mcse, chunk_size, paths, out, force, no_charts, quiet,
        observations, no_observations, condition, resample, per_draw_format, no_per_draw,
        engine, scheduler):
    """Sample the priors, simulate, and write a run directory."""
    if draws is None:
        draws = DEFAULT_DRAWS if until_mcse is None else DEFAULT_MAX_DRAWS
    kept = "none" if no_per_draw else per_draw_format
    counted = kept != "netcdf"     # the event summaries come from counts
    clash = [name for name, given in (("--until-mcse", until_mcse is not None),
                                      ("--condition", condition is not None),
                                      ("--per-draw zarr", no_per_draw and
                                       per_draw_format == "zarr")) if given]
    data_options = (observations, no_observations, condition, resample)
    with _user_command(f"{draws:,} draws; use fewer --draws",
                       published("no run directory was written", "the run was")):
        if counted and clash:
            from .base.errors import SimcoreError
            option = "--no-per-draw" if no_per_draw else "--per-draw zarr"
            raise SimcoreError(f"{option} cannot be combined with {clash[0]}: it needs every "
                               f"draw's values in memory")
        _run(priors, draws, seed, until_mcse, chunk_size, paths, out, force, no_charts, quiet,
             data_options, engine, scheduler, per_draw=kept)


def _run(priors, draws, seed, until_mcse, chunk_size, paths, out, force, no_charts, quiet,
         data_options, engine="local", scheduler=None, per_draw="netcdf"):
    import time

    from .app.drawing import start_drawing

    if engine == "dask" and until_mcse is not None:
        from .base.errors import SimcoreError
        raise SimcoreError("--until-mcse needs --engine local: its checkpoints wait for "
                           "every chunk before them")
    # First, while this process is small and single-threaded: the drawing process imports
    # what it needs beside this one's start-up.
    drawing = start_drawing(with_charts=not no_charts)
    try:
        _forecast_and_write(priors, draws, seed, until_mcse, chunk_size, paths, out, force,
                            no_charts, quiet, drawing, time.perf_counter(), data_options,
                            engine, scheduler, per_draw)
    finally:
        drawing.cancel()


def _forecast_and_write(priors, draws, seed, until_mcse, chunk_size, paths, out, force,
                        no_charts, quiet, drawing, started, data_options, engine_name="local",
                        scheduler=None, per_draw="netcdf"):
    import time

    from .app import pipeline
    from .app.run_data import prepare
    from .base.interrupts import raise_pending
    from .faces.answer import summary_text
    from .inputs.priors import load_priors
    from .model import MODEL_DRIVERS
    from .run import engine
    from .stored import store

    prior_set = load_priors(priors, required=set(MODEL_DRIVERS))
    out = out or store.default_run_dir(priors, seed)
    store.check_run_dir(out, force)
    chunk_size = chunk_size or engine.DEFAULT_CHUNK_SIZE
    data = prepare(prior_set, draws, seed, chunk_size, *data_options, until_mcse,
                   default_observations=DEFAULT_OBSERVATIONS)
    if not quiet:
        for line in data.warnings:
            click.echo(f"warning: {line}", err=True)
    stored_paths = engine.DEFAULT_PATHS if paths is None else paths
    # More paths are kept in memory than run.nc stores: the given-data sensitivity (Q8) reads
    # the trajectories of its subsample of worlds from them instead of recomputing them.
    from .analysis.sensitivity import GIVEN_DATA_DRAWS
    n_paths = max(stored_paths, GIVEN_DATA_DRAWS)

    show_progress = not quiet and draws >= 4 * chunk_size and sys.stderr.isatty()
    # Drivers and event times go to run.nc as they are made: memory stays bounded in draws.
    until = None
    if until_mcse is not None:
        from .analysis.precision import UntilMcse
        until = UntilMcse(until_mcse)
    with ExitStack() as cluster, \
            store.new_run(out, prior_set, draws, force, per_draw, chunk_size) as run_dir:
        chunks = cluster.enter_context(_chunk_source(engine_name, scheduler))
        def forecast(advance=lambda k: None):
            def on_chunk(k):
                raise_pending()
                advance(k)
            return engine.run_forecast(prior_set, draws, seed, chunk_size, n_paths,
                                       on_chunk=on_chunk,
                                       sink=run_dir.sink if per_draw == "netcdf" else None,
                                       until=until,
                                       first_check=until.first_check if until else None,
                                       observe=data.points, source_draws=data.source_draws,
                                       chunks=chunks, per_draw=per_draw == "netcdf",
                                       per_draw_store=run_dir.per_draw_store)
        if show_progress:
            from rich.progress import Progress
            with Progress(transient=True) as progress:
                task = progress.add_task("sampling worlds", total=draws)
                result = forecast(lambda k: progress.advance(task, k))
        else:
            result = forecast()
        if per_draw != "netcdf" and not quiet:
            where = ("in per_draw.zarr" if per_draw == "zarr" else
                     "no per-draw groups kept (--no-per-draw)")
            ranked = (f"; observations ranked among the first {min(n_paths, draws):,} draws"
                      if data.points is not None else "")
            click.echo(f"note: {where}: event times are counted (probabilities exact, "
                       f"quantiles within 6 hours){ranked}", err=True)
        if chunks is not None:
            result.engine = chunks.describe()
            # Closed before the writing forks its helpers: a child forked beside Dask's
            # threads could inherit a lock one of them holds.
            cluster.close()
        result.stored_paths = stored_paths
        result.timings["process_to_engine_end"] = time.perf_counter() - started
        if until is not None:
            result.stopping = until.summary(result)
        data.attach(result, run_dir.staging)
        pipeline.finish_run(run_dir, result, with_charts=not no_charts, drawing=drawing)
    written = out
    raise_pending()
    if quiet:
        click.echo(str(written))
        return
    if result.copula_repair:
        click.echo(f"note: the correlation matrix was not positive definite; repaired to the "
                   f"nearest valid one (largest change {result.copula_repair:.3f})", err=True)
    if until is not None:
        worst = until.worst
        verdict = (f"stopped at {result.draws:,} draws" if until.met else
                   f"warning: reached the maximum of {result.draws:,} draws (--draws) first")
        click.echo(f"--until-mcse {until_mcse:g}: {verdict}; largest relative MC error "
                   f"{worst.relative_error:.4f} ({worst.name})", err=not until.met)
    click.echo(f"simcore: {result.draws:,} worlds from {priors} (seed {seed}), as of "
               f"{prior_set.meta.as_of}, horizon {prior_set.meta.horizon_years:g} years\n")
    click.echo(summary_text(result))
    for line in data.report_lines(result, written):
        click.echo(line)
    click.echo(f"\nrun written to {written}  ({time.perf_counter() - started:.1f} s)")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--set", "settings", multiple=True, required=True, metavar="DRIVER.FIELD=VALUE",
              help="A changed prior field, e.g. alg_halving_years.median=1.5 (repeatable).")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run directory of the what-if [default: RUN_DIR-whatif-<digest>].")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resample", is_flag=True,
              help="Go on when Pareto k-hat is above its limit (said on stderr and recorded "
                   "in the manifest) instead of refusing.")
@click.option("--save-scenario", type=click.Path(path_type=Path), default=None,
              metavar="FILE", help="Also write the what-if as a prior file extending the run's "
                                   "prior file (for a fresh `simcore run`).")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
def reweight(run_dir, settings, out, force, resample, save_scenario, no_charts):
    """What if a prior were different? Reweight the draws of the run in RUN_DIR to changed
    priors (density ratio, Pareto-smoothed), write the what-if as a run directory and print
    how the headline numbers move; says when a fresh run is needed instead."""
    import time
    started = time.perf_counter()
    with _user_command("this run's draws; reweight a smaller run",
                       published("no run directory was written", "the what-if run was")):
        from .app.reweight import reweighted_run
        from .inputs.whatif import parse_setting, whatif_name
        if out is None:
            name = whatif_name([parse_setting(text) for text in settings])
            out = run_dir.with_name(f"{run_dir.name}-{name.removesuffix('.toml')}")
        result, _ = reweighted_run(run_dir, settings, out, force, resample,
                                   with_charts=not no_charts, scenario_path=save_scenario)
    from .analysis.conditioning import khat_text
    from .faces.answer import summary_text
    from .faces.compare import compare_runs
    from .stored.rundir import read_run
    r = result.reweighting
    if r["resampled_despite_khat"]:
        click.echo(f"warning: --resample: Pareto k-hat {khat_text(r['khat'])} is above "
                   f"{r['khat_limit']:.2f}; the what-if's bands may be unreliable", err=True)
    click.echo(f"simcore: {result.draws:,} worlds of {run_dir} reweighted to "
               f"{', '.join(r['settings'])}\n")
    click.echo(summary_text(result))
    click.echo(f"\nReweighted: Pareto k-hat {khat_text(r['khat'])} (limit {r['khat_limit']:.2f}), "
               f"effective sample size {r['ess']:,.0f} of {r['draws']:,}; multiply every MC "
               f"error above by {r['mc_error_factor']:.2f}")
    import shutil
    comparison = compare_runs([read_run(run_dir), read_run(out)])
    click.echo("\n" + comparison.text(shutil.get_terminal_size((120, 24)).columns).rstrip())
    if save_scenario is not None:
        click.echo(f"\nscenario written to {save_scenario}")
    click.echo(f"\nwhat-if run written to {out}  ({time.perf_counter() - started:.1f} s)")


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--vary", "varies", multiple=True, metavar="DRIVER.FIELD=V1,V2,...",
              help="A prior field and the values it takes (repeatable: the grid is every "
                   "combination), e.g. alg_halving_years.median=0.6,0.8,1.2. Not with a "
                   "folder PRIORS.")
@click.option("--draws", "-n", type=click.IntRange(min=1, max=MAX_DRAWS), default=20_000,
              show_default=True, help="Simulated worlds per cell.")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=MAX_SEED), default=20261125,
              show_default=True, help="The seed of every cell (shared random numbers).")
@click.option("--chunk-size", type=click.IntRange(min=1, max=MAX_DRAWS), default=None,
              help="Draws per chunk; results are identical for any value.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Sweep folder [default: a new one under runs/].")
@click.option("--force", is_flag=True, help="Replace an existing sweep folder.")
@click.option("--no-charts", is_flag=True, help="Skip the heat maps.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the sweep folder.")
@_engine_options
def sweep(priors, varies, draws, seed, chunk_size, out, force, no_charts, quiet, engine,
          scheduler):
    """Run a grid of prior settings (or every scenario file of a folder PRIORS) with shared
    random numbers and tabulate (sweep.csv) and chart (heat maps) headline numbers per cell:
    what must be true for a milestone to come by a date."""
    with _user_command(f"{draws:,} draws per cell; use fewer --draws",
                       published("no sweep folder was written", "the sweep was")):
        from .app import sweep as sweeping
        from .base.errors import SimcoreError
        from .run.engine import DEFAULT_CHUNK_SIZE
        from .stored import store
        if priors.is_dir():
            if varies:
                raise SimcoreError(f"--vary: not with a folder of scenario files ({priors}): "
                                   "each file is a cell")
            cells = sweeping.folder_cells(priors)
            labels = [sweeping.SCENARIO_COLUMN]
            swept = {values[0]: cell for values, cell in cells}
            what = {"scenarios_folder": str(priors)}
        else:
            if not varies:
                raise SimcoreError("--vary: give at least one DRIVER.FIELD=V1,V2,..., or a "
                                   "folder of scenario files as PRIORS")
            parsed = [sweeping.parse_vary(v) for v in varies]
            swept, cells = sweeping.cell_priors(priors, parsed)
            labels = [v.label for v in parsed]
            what = {"vary": {v.label: list(v.values) for v in parsed}}
        out = out or sweeping.default_sweep_dir(priors, seed)
        store.check_run_dir(out, force)
        chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
        with _chunk_source(engine, scheduler) as chunks:
            table = sweeping.run_cells(cells, labels, draws, seed, chunk_size, chunks)
            where = chunks.describe() if chunks is not None else {"name": "local"}
        sweeping.write_sweep(table, labels, swept, out, force, not no_charts,
                             {"draws": draws, "seed": seed, "chunk_size": chunk_size,
                              "engine": where, **what})
    if quiet:
        click.echo(str(out))
        return
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"\nsweep written to {out}")


@main.command()
@click.argument("measure")
@click.option("--until", required=True, metavar="DATE",
              help="Use observations dated and published up to DATE (YYYY-MM[-DD]); the prior "
                   "entries are for that date.")
@click.option("--observations", type=click.Path(path_type=Path), default=DEFAULT_OBSERVATIONS,
              show_default=True, help="Observation file or folder.")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=MAX_SEED), default=0,
              show_default=True, help="Seed of the bootstrap.")
@click.option("--chart", type=click.Path(path_type=Path), default=None,
              help="Also draw data, fit and implied prior into this PNG file.")
def fit(measure, until, observations, seed, chart):
    """Fit a log-linear trend to the observations of MEASURE (e.g. agent_horizon_hours) up to
    a date and print the prior entries it implies, as TOML with the rows as sources."""
    with _user_command("this fit", lambda: "nothing was written"):
        from .app.fit import fit_command
        text = fit_command(measure, until, observations, seed, chart)
    click.echo(text, nl=False)


@main.command()
@click.option("--origin", "origins", multiple=True, required=True, metavar="YYYY-MM",
              help="A back-test origin (repeatable); its priors are priors/backtest/ORIGIN.toml.")
@click.option("--observations", type=click.Path(path_type=Path), default=DEFAULT_OBSERVATIONS,
              show_default=True, help="Observation file or folder to score against.")
@click.option("--draws", "-n", type=click.IntRange(min=1, max=MAX_DRAWS), default=20_000,
              show_default=True, help="Simulated worlds per origin.")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=MAX_SEED), default=20261125,
              show_default=True)
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("runs/backtest"),
              show_default=True, help="Back-test folder.")
@click.option("--chunk-size", type=click.IntRange(min=1, max=MAX_DRAWS), default=None,
              help="Draws per chunk (a task with --engine dask); results are identical for any "
                   "value.")
@click.option("--priors-dir", type=click.Path(path_type=Path), default=Path("priors/backtest"),
              show_default=True, help="Folder of the origins' prior files (ORIGIN.toml).")
@click.option("--force", is_flag=True, help="Replace an existing back-test folder.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@_engine_options
def backtest(origins, observations, draws, seed, chunk_size, out, priors_dir, force, no_charts,
             engine, scheduler):
    """Forecast from past origins with what was known then and score every later
    observation: PIT, 50/80/90% coverage, CRPS, Brier, bias per output."""
    with _user_command(f"{draws:,} draws per origin; use fewer --draws",
                       published("no back-test folder was written", "the back-test was")):
        import pandas as pd

        from .app.backtest import run_backtest
        from .run.engine import DEFAULT_CHUNK_SIZE
        _, summary = run_backtest(list(dict.fromkeys(origins)), observations, draws, seed, out,
                                  force, with_charts=not no_charts, priors_dir=priors_dir,
                                  chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
                                  computing=_chunk_source(engine, scheduler))
    shown = summary.map(lambda v: "" if pd.isna(v) else f"{v:.2f}" if isinstance(v, float)
                        else str(v))
    click.echo(shown.to_string(index=False, line_width=200))
    click.echo(f"\nback-test written to {out}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def verify(run_dir):
    """Recompute a run from its manifest and stored prior files; report whether the result is
    bit-identical (exit 0), what differs (exit 1), or why it cannot be checked (exit 2)."""
    with _user_command("recomputing this run",
                       lambda: "nothing was verified (verify never writes)"):
        from .app.verify import verify_run
        report = verify_run(run_dir)
    click.echo(report.text())
    sys.exit(0 if report.identical else 1)


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--method", "-m", type=click.Choice(["sobol", "morris"]), default="sobol",
              show_default=True, help="Variance-based (Sobol) or screening (Morris).")
@click.option("-N", "n", type=click.IntRange(min=2, max=MAX_STUDY_N), default=None,
              help="Sobol: base samples, a power of 2 [default: 2048]; Morris: trajectories "
                   "[default: 256]. Indices are computed at N and 2N (convergence check).")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=2**32 - 2), default=20261125,
              show_default=True)
@click.option("--output", "outputs", multiple=True,
              help="Analyse only this output (repeatable), e.g. film_days, "
                   "novel_to_movie_possible [default: all headline outputs].")
@click.option("--resamples", type=click.IntRange(min=2, max=MAX_RESAMPLES), default=100,
              show_default=True,
              help="Bootstrap resamples for the confidence intervals.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Study directory [default: a new one under runs/].")
@click.option("--force", is_flag=True, help="Replace an existing study directory.")
@click.option("--no-charts", is_flag=True, help="Skip the tornado charts.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the study directory.")
@_engine_options
def sensitivity(priors, method, n, seed, outputs, resamples, out, force, no_charts, quiet,
                engine, scheduler):
    """Sobol or Morris sensitivity of the headline outputs, and a tornado chart (Q8).

    Drivers are treated as independent here (the prior file's correlations are not applied);
    every run's sensitivity.csv keeps them. See docs/model.md, "Sensitivity analysis".
    """
    with _user_command("this study; use a smaller -N or fewer --resamples",
                       published("no study directory was written", "the study was")):
        from .app.study import run_study, summary_text
        written, result, tornado = run_study(priors, method, n, seed, out, force, outputs,
                                             resamples, charts=not no_charts,
                                             computing=_chunk_source(engine, scheduler))
    click.echo(str(written) if quiet else summary_text(result, tornado, written))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path), required=False)
@click.option("--output", "outputs", multiple=True, metavar="NAME",
              help="A chart to draw (repeatable) [default: all; --list shows the names].")
@click.option("--format", "fmt", default="png", show_default=True, metavar="png|svg|pdf",
              help="File format of the charts.")
@click.option("--to", "to_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the charts [default: RUN_DIR].")
@click.option("--dpi", type=click.IntRange(min=20, max=600), default=110, show_default=True,
              help="Resolution of PNG charts.")
@click.option("--no-seed", is_flag=True, help="Leave out the seed forecast overlay (Q9).")
@click.option("--list", "list_only", is_flag=True, help="List the chart names and exit.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def plot(run_dir, outputs, fmt, to_dir, dpi, no_seed, list_only, quiet):
    """Redraw charts from the run stored in RUN_DIR (reads run.nc, never recomputes)."""
    if list_only:
        from .faces import plots
        for name, chart in plots.CHARTS.items():
            click.echo(f"{name:28} {chart.question:8} {chart.description}")
        return
    with _user_command("these charts", published("no chart was written", "the charts were")):
        from .base.errors import SimcoreError
        from .faces import plots
        if run_dir is None:
            raise SimcoreError("missing RUN_DIR: the run directory to draw from")
        written = plots.plot_run(run_dir, outputs or None, fmt, to_dir, dpi=dpi,
                                    seed=None if no_seed else plots.DEFAULT_SEED)
    if not quiet:
        for path in written:
            click.echo(str(path))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="The HTML file to write [default: RUN_DIR/report.html].")
@click.option("--compare", "compare_with", multiple=True, type=click.Path(path_type=Path),
              metavar="OTHER_RUN", help="Add a comparison with another run (repeatable).")
@click.option("--force", is_flag=True,
              help="Replace an existing file at --out (never one of the runs' own files).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the report's path.")
def report(run_dir, out, compare_with, force, quiet):
    """Write one self-contained HTML page about the run in RUN_DIR for readers who will not run
    code: answers to Q1-Q9 in plain words, every chart, sensitivity, assumptions, provenance."""
    with _user_command("this report", published("no report was written", "the report was")):
        from .faces.report import write_report
        written, seconds = write_report(run_dir, out, compare_with, force=force)
    size = written.stat().st_size
    click.echo(str(written) if quiet
               else f"report written to {written}  ({size / 1e6:.1f} MB, {seconds:.1f} s)")


@main.command()
@click.argument("source", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on (anything but 127.0.0.1 opens the page to others: "
                   "see README, 'Threat model').")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=5006, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@click.option("--draws", "-n", type=click.IntRange(min=1_000, max=MAX_DRAWS), default=None,
              help="Draws of the base and of each fresh run [default: 100,000, or a run "
                   "directory's draws if more].")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=MAX_SEED), default=None,
              help="Seed [default: simcore run's, or a run directory's].")
def explore(source, host, port, no_browser, draws, seed):
    """Serve a live what-if page for the prior file (or the run directory) SOURCE: headline
    charts and answers, the drivers that matter most as controls, a reweighted preview and a
    fresh run on every change, save as scenario, download the report."""
    with _user_command("the explorer's draws; use fewer --draws",
                       lambda: "the explorer stopped"):
        from .app.explorer import Explorer
        from .faces.explorer_page import serve
        explorer = Explorer.from_source(source, draws, seed)
        serve(explorer, host, port, show=not no_browser)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder for compare.csv, prior_changes.csv and compare.png.")
@click.option("--width", type=click.IntRange(min=60), default=None,
              help="Width of the printed tables [default: the terminal's].")
def compare(runs, out, width):
    """Compare runs: the shift of each headline number of every run against the first, and the
    drivers whose priors differ."""
    with _user_command("these runs", published("no comparison files were written",
                                                "the comparison files were")):
        from .base.errors import RunDirError
        from .faces.compare import compare_runs, write_comparison
        from .stored.rundir import read_run
        if len(runs) < 2:
            raise RunDirError("compare needs at least two run directories")
        loaded = [read_run(r) for r in runs]
        comparison = compare_runs(loaded)
        written = write_comparison(comparison, out) if out is not None else []
    import shutil
    click.echo(comparison.text(width or shutil.get_terminal_size((120, 24)).columns).rstrip())
    for path in written:
        click.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    entry()
