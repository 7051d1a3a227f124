"""The largest sizes simcore accepts, shared by the command line's options and the readers of
stored runs (a manifest is checked against the same bounds as the command that wrote it)."""

# run.nc takes ~320 bytes a draw: 10^12 draws would be ~320 TB, beyond any disk, while every
# size stays far inside what numpy and HDF5 count in (2^63), so a bigger number is refused as
# input instead of failing deep inside a library.
MAX_DRAWS = 10**12
# The seed is stored and hashed as a signed 64-bit integer.
MAX_SEED = 2**63 - 1
# A sensitivity study evaluates the model (factors + 2) x 2N times (Sobol; the indices at N come
# from the first half of the sample at 2N) or (factors + 1) x 2N (Morris): at 2^20 that is
# ~100 million worlds for the ~50 factors, many minutes of work, far past the N at which the
# indices' bootstrap intervals stop narrowing.
MAX_STUDY_N = 2**20
# Bootstrap resamples of a study's indices (SALib draws N indices for each at once: memory
# grows as N x resamples, so large pairs still run out of memory and say so).
MAX_RESAMPLES = 10_000
# Files of a stored run, each read whole and bounded (simcore.contained): a manifest is a few kB,
# a run's tables are ~2-3 MB (they do not grow with draws).
MAX_MANIFEST_BYTES = 10_000_000
MAX_CSV_BYTES = 200_000_000
# A chart simcore draws is ~50-300 kB and ~1-3 million pixels; a run folder's PNG beyond these
# is not one of them (a PNG of a few kB can declare billions of pixels).
MAX_CHART_BYTES = 20_000_000
MAX_CHART_PIXELS = 40_000_000
