"""How the compiled kernel bins every base-2 log it computes into a run's streamed histograms
(``simcore.summaries`` reads them with this same layout): ``BINS_PER_OCTAVE`` bins per doubling
over [2^LOG2_LOW, 2^LOG2_HIGH), plus an underflow bin (below, and −inf) and an overflow bin
(above, and +inf).

Here, below the kernel, because numba freezes these into the counting loop: as constants they
let the compiler simplify the binning arithmetic and the histogram offsets, which passed as
arguments cost the loop measurably (benchmarks/README.md, "Issue 15").
"""

BINS_PER_OCTAVE = 64
LOG2_LOW, LOG2_HIGH = -64.0, 64.0   # 5e-20 .. 2e19; values beyond land in the edge bins
N_BINS = int((LOG2_HIGH - LOG2_LOW) * BINS_PER_OCTAVE) + 2
# Bin b >= 1 holds [LOG2_LOW + (b - 1) / BINS_PER_OCTAVE, LOG2_LOW + b / BINS_PER_OCTAVE):
# a value v goes to bin int((v - BIN_SHIFT) * BINS_PER_OCTAVE), clipped to the edge bins.
BIN_SHIFT = LOG2_LOW - 1.0 / BINS_PER_OCTAVE
assert N_BINS <= 1 << 16, "the kernel stores bin indices as uint16"
