"""Summaries streamed from chunks: log-grid histograms for trajectory percentiles, and tables of
event probabilities and quantiles from the per-draw event times.

Trajectory percentiles come from a fixed histogram of base-2 logs (``BINS_PER_OCTAVE`` bins per
doubling) per output and grid time. Counts are integers, so adding chunks in any size or order
gives identical counts, and memory does not grow with the number of draws. A percentile is read
off the cumulative counts with linear interpolation inside its bin: it differs from the exact
sample percentile by at most one bin, a factor of 2**(1/BINS_PER_OCTAVE) (1.09% relative), and
is usually far closer.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..model.binning import BINS_PER_OCTAVE, LOG2_LOW, N_BINS

QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
RELATIVE_ERROR_BOUND = 2.0 ** (1.0 / BINS_PER_OCTAVE) - 1.0


class LogHistogram:
    """Counts of log2 values per grid time, with an underflow and an overflow bin.

    Bin indices of several chunks are buffered and counted with one ``bincount``, whose cost
    is dominated by the size of the count array rather than by the number of values.
    """

    n_bins = N_BINS
    flush_values = 1 << 22

    def __init__(self, n_times: int):
        self._counts = np.zeros((n_times, self.n_bins), dtype=np.int64)
        self._offsets = (np.arange(n_times, dtype=np.int32) * self.n_bins)[None, :]
        self._pending: list[np.ndarray] = []
        self._pending_size = 0
        # quantiles asked for -> their log2 values: a run's tables and its run.nc group ask for
        # the same ones (each costs a search per series); forgotten when counts are added.
        self._quantile_memo: dict[tuple[float, ...], np.ndarray] = {}

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> LogHistogram:
        hist = cls(counts.shape[0])
        hist._counts = counts
        return hist

    @property
    def counts(self) -> np.ndarray:
        self._flush()
        return self._counts

    @property
    def total(self) -> int:
        return int(self.counts[0].sum())

    def add(self, log2_values: np.ndarray) -> None:
        # Bin 0 holds values below LOG2_LOW, the last bin values >= LOG2_HIGH (and +inf).
        scaled = (log2_values - (LOG2_LOW - 1.0 / BINS_PER_OCTAVE)) * BINS_PER_OCTAVE
        np.clip(scaled, 0.0, self.n_bins - 1, out=scaled)
        index = scaled.astype(np.int32)
        index += self._offsets
        self._pending.append(index.ravel())
        self._pending_size += index.size
        self._quantile_memo.clear()
        if self._pending_size >= self.flush_values:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        flat = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._counts += np.bincount(flat, minlength=self._counts.size).reshape(
            self._counts.shape)
        self._pending, self._pending_size = [], 0

    def log2_quantiles(self, qs) -> np.ndarray:
        """Quantiles (len(qs), T) of the log2 values; -inf/+inf if they fall in an edge bin."""
        key = tuple(float(q) for q in qs)
        if key not in self._quantile_memo:
            self._quantile_memo[key] = self._log2_quantiles(key)
        return self._quantile_memo[key].copy()

    def _log2_quantiles(self, qs: tuple[float, ...]) -> np.ndarray:
        cumulative = np.cumsum(self.counts, axis=1)
        total = cumulative[:, -1:]
        out = np.empty((len(qs), self.counts.shape[0]))
        rows = np.arange(self.counts.shape[0])
        # The bin of each quantile: how many cumulative counts fall short of its target. Each
        # row is sorted, so a binary search finds that count (cheaper than comparing every
        # bin).
        targets = np.array(qs)[:, None] * total[:, 0]
        short = np.stack([np.searchsorted(cumulative[r], targets[:, r], side="left")
                          for r in rows], axis=1)
        for i in range(len(qs)):
            target = targets[i]
            b = np.minimum(short[i], self.n_bins - 1)
            below = np.where(b > 0, cumulative[rows, np.maximum(b - 1, 0)], 0)
            inside = self.counts[rows, b]
            with np.errstate(divide="ignore", invalid="ignore"):
                fraction = np.clip(np.where(inside > 0, (target - below) / inside, 0.5), 0.0, 1.0)
            value = LOG2_LOW + (b - 1 + fraction) / BINS_PER_OCTAVE
            value = np.where(b == 0, -np.inf, value)
            out[i] = np.where(b == self.n_bins - 1, np.inf, value)
        return out

    def quantiles(self, qs) -> np.ndarray:
        return np.exp2(self.log2_quantiles(qs))

    def quantile_mcse(self, q: float) -> np.ndarray:
        """Monte Carlo standard error of the q-quantile per grid time, by the order-statistic
        (binomial) method: half the spread between the quantiles at q +- sd(q)."""
        spread = math.sqrt(q * (1.0 - q) / max(self.total, 1))
        low, high = self.quantiles([max(q - spread, 0.0), min(q + spread, 1.0)])
        return (high - low) / 2.0


def year_ends(as_of_year: float, horizon_year: float) -> np.ndarray:
    """Calendar years whose end falls inside the run: P(by the end of Y) is known for these."""
    first = math.floor(as_of_year)
    return np.arange(first, math.floor(horizon_year))


def year_slots(times: np.ndarray, years: np.ndarray) -> np.ndarray:
    """For each draw, the index of the first of ``years`` (consecutive) by whose end the event
    has happened; ``len(years)`` if none."""
    shifted = times - (float(years[0]) + 1.0)     # <= j  <=>  by the end of years[j]
    np.ceil(shifted, out=shifted)
    np.clip(shifted, 0.0, float(len(years)), out=shifted)
    return shifted.astype(np.int64)


def year_slot_counts(times: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``np.bincount(year_slots(times, years), minlength=len(years) + 1)`` in one compiled
    pass (NaN, never expected, counts as not by the horizon)."""
    counts = np.zeros(len(years) + 1, dtype=np.int64)
    _count_year_slots(np.ascontiguousarray(times, dtype=np.float64), float(years[0]) + 1.0,
                      counts)
    return counts


@njit(cache=True, nogil=True, inline="always")
def _year_slot(t, first_end, last):
    slot = np.ceil(t - first_end)            # the same float steps as year_slots
    return int(min(max(slot, 0.0), float(last))) if slot == slot else last


@njit(cache=True, nogil=True)
def _count_year_slots(times, first_end, counts):
    last = counts.size - 1
    for t in times:
        counts[_year_slot(t, first_end, last)] += 1


def _count_slots_py(times, first, per_year, k_max, as_of):
    """For each column of ``times`` (n, m): counts[c, j] = #{t: first + (j-1)/per_year < t <=
    first + j/per_year} (slot 0: t <= first; slot k_max + 1: later, +inf and NaN included),
    #{t <= as_of} and #{t finite}."""
    n, m = times.shape
    counts = np.zeros((m, k_max + 2), dtype=np.int64)
    at_as_of = np.zeros(m, dtype=np.int64)
    finite = np.zeros(m, dtype=np.int64)
    last = k_max + 1
    # Column by column, the two tallies in locals: as array elements bumped on every value they
    # chained each iteration to the last through memory.
    for c in range(m):
        row = counts[c]
        n_as_of = 0
        n_finite = 0
        for i in range(n):
            t = times[i, c]
            slot = last
            if t < math.inf:
                n_finite += 1
                x = (t - first) * per_year
                if x < last:
                    slot = max(int(math.ceil(x)), 0)
            row[slot] += 1
            if t <= as_of:
                n_as_of += 1
        at_as_of[c] = n_as_of
        finite[c] = n_finite
    return counts, at_as_of, finite


_COUNT_SLOTS = None


def count_slots(times, first, per_year, k_max, as_of):
    """The compiled form of ``_count_slots_py``: one pass per column, no temporaries, and it
    releases the GIL (``simcore run`` draws its charts while another thread writes run.nc)."""
    global _COUNT_SLOTS
    if _COUNT_SLOTS is None:
        import numba
        _COUNT_SLOTS = numba.njit(cache=True, nogil=True)(_count_slots_py)
    return _COUNT_SLOTS(times, float(first), float(per_year), int(k_max), float(as_of))


# Buckets of the compiled selection: 512 kB of counts, which stay in the L2 cache.
_SELECTION_BUCKETS = 1 << 16


def order_statistics(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """``np.partition(values, ranks)[ranks]`` (0-based ranks into the sorted values; +inf last)
    without moving the values: one pass for the range, one counting them into 65,536 ordered
    buckets, one gathering the few buckets that hold the ranks, which are then partitioned.
    At 10M event times that is ~2x faster than np.partition with five ranks. Values with
    NaN, or a range too narrow to bucket, go to np.partition."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    ranks = np.asarray(ranks, dtype=np.int64)
    out = np.empty(ranks.size)
    if not _select(values, ranks, _SELECTION_BUCKETS, out):
        out = np.partition(values, ranks)[ranks]
    return out


def event_summary(times: np.ndarray, ranks: np.ndarray, years: np.ndarray,
                  low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """(``order_statistics(times, ranks)``, ``year_slot_counts(times, years)``) for times known
    to lie in [low, high] or at +-inf, as event times lie in the run's grid: the range is not
    searched for, and the counts of both come from one pass (then one more gathers the ranks'
    buckets). Other values fall back to the two functions."""
    times = np.asarray(times, dtype=np.float64)    # strided columns are read in place
    ranks = np.asarray(ranks, dtype=np.int64)
    out = np.empty(ranks.size)
    slots = np.zeros(len(years) + 1, dtype=np.int64)
    if high > low and _select_in_range(times, ranks, float(low), float(high), _SELECTION_BUCKETS,
                                       float(years[0]) + 1.0, slots, out):
        return out, slots
    return order_statistics(times, ranks), year_slot_counts(times, years)


@njit(cache=True, nogil=True, inline="always")
def _bucket(v, low, scale, buckets):
    # floor((v - low) * scale) is non-decreasing in v, so every value of a bucket is <= every
    # value of the next one, and a rank's value is found inside its bucket.
    return min(int((v - low) * scale), buckets - 1)


@njit(cache=True, nogil=True)
def _select(values, ranks, buckets, out):
    n_below = 0       # -inf
    n_above = 0       # +inf
    low, high = np.inf, -np.inf
    for v in values:
        if v != v:
            return False
        if v == np.inf:
            n_above += 1
        elif v == -np.inf:
            n_below += 1
        else:
            low = min(low, v)
            high = max(high, v)
    finite = values.size - n_below - n_above
    scale = buckets / (high - low) if finite > 0 and high > low else 0.0
    if finite > 0 and high > low and not (0.0 < scale < np.inf):
        return False
    counts = np.zeros(buckets + 1, dtype=np.int64)
    if finite > 0 and high > low:
        for v in values:
            if -np.inf < v < np.inf:
                counts[_bucket(v, low, scale, buckets) + 1] += 1
    _pick(values, ranks, n_below, finite, low, high, scale, buckets, counts, out)
    return True


@njit(cache=True, nogil=True)
def _select_in_range(values, ranks, low, high, buckets, first_end, slots, out):
    scale = buckets / (high - low)
    if not 0.0 < scale < np.inf:
        return False
    n_below = 0
    n_above = 0
    last_slot = slots.size - 1
    counts = np.zeros(buckets + 1, dtype=np.int64)
    for v in values:
        if v != v:
            return False
        slots[_year_slot(v, first_end, last_slot)] += 1
        if v == np.inf:
            n_above += 1
        elif v == -np.inf:
            n_below += 1
        elif low <= v <= high:
            counts[_bucket(v, low, scale, buckets) + 1] += 1
        else:
            return False
    _pick(values, ranks, n_below, values.size - n_below - n_above, low, high, scale, buckets,
          counts, out)
    return True


@njit(cache=True, nogil=True)
def _pick(values, ranks, n_below, finite, low, high, scale, buckets, counts, out):
    """The values at ``ranks`` from the bucket counts (counts[j + 1]: finite values in bucket
    j): each rank's bucket is found from the cumulative counts, the wanted buckets' values are
    gathered in one pass into consecutive slices of one array, and each is partitioned."""
    starts = np.cumsum(counts)            # starts[j]: finite values in buckets below j
    wanted = np.full(ranks.size, -1, dtype=np.int64)
    for i in range(ranks.size):
        r = ranks[i] - n_below
        if r < 0:
            out[i] = -np.inf
        elif r >= finite:
            out[i] = np.inf
        elif high == low:
            out[i] = low
        else:
            wanted[i] = np.searchsorted(starts, r, side="right") - 1
    slot_of = np.full(buckets, -1, dtype=np.int64)
    sizes = []
    for bucket in wanted:
        if bucket >= 0 and slot_of[bucket] < 0:
            slot_of[bucket] = len(sizes)
            sizes.append(counts[bucket + 1])
    if not sizes:
        return
    begin = np.zeros(len(sizes) + 1, dtype=np.int64)
    for k in range(len(sizes)):
        begin[k + 1] = begin[k] + sizes[k]
    filled = begin[:-1].copy()
    members = np.empty(begin[-1])
    for v in values:
        if -np.inf < v < np.inf:
            slot = slot_of[_bucket(v, low, scale, buckets)]
            if slot >= 0:
                members[filled[slot]] = v
                filled[slot] += 1
    for i in range(ranks.size):
        bucket = wanted[i]
        if bucket >= 0:
            slot = slot_of[bucket]
            part = members[begin[slot]:begin[slot + 1]]
            offset = ranks[i] - n_below - starts[bucket]
            out[i] = np.partition(part, offset)[offset]


class EventTimes:
    """Summaries of one event's per-draw times (decimal years, +inf = not by the horizon).

    Quantiles use the inverted empirical CDF (the earliest time by which at least a fraction q
    of the worlds have the event), found by partial selection rather than a full sort, and are
    +inf when they fall in the censored mass.

    ``release(years)`` computes the summaries the run's tables and answer use (STANDARD
    quantiles and their error brackets, P(by the end of each of ``years``)) and drops the
    per-draw times, so that a streamed run does not hold every event column at once.
    """

    STANDARD = (0.1, 0.5, 0.9)

    def __init__(self, times: np.ndarray):
        self.times = times
        self.n = times.size
        self.p_not_by_horizon = float(np.count_nonzero(np.isinf(times))) / self.n
        self._quantiles: dict[float, float] = {}
        self._p_by: dict[float, float] = {}

    def release(self, years: np.ndarray, bounds: tuple[float, float] | None = None) -> None:
        """``bounds``: (low, high) that every finite time lies in (the run's grid), which
        lets the quantiles and the year counts come from one pass."""
        qs = [*self.STANDARD, *self.mcse_quantiles(0.5)]
        if bounds is not None and self.times is not None:
            ranks = np.array(sorted({self._rank(q) for q in qs}), dtype=np.int64)
            values, slots = event_summary(self.times, ranks, np.asarray(years), *bounds)
            by_rank = dict(zip(ranks.tolist(), values.tolist(), strict=False))
            self._quantiles.update({q: float(by_rank[self._rank(q)]) for q in qs})
            self._record_year_counts(years, slots)
        self.quantiles(qs)
        self.probability_by(years)
        self.times = None

    def _needs_times(self, what: str) -> np.ndarray:
        if self.times is None:
            raise RuntimeError(f"{what} was not summarised before the event times were "
                               "released; read them from run.nc")
        return self.times

    def _rank(self, q: float) -> int:
        return min(max(math.ceil(q * self.n) - 1, 0), self.n - 1)

    def quantiles(self, qs) -> list[float]:
        missing = [q for q in qs if q not in self._quantiles]
        if missing:
            times = self._needs_times(f"quantile {missing}")
            ranks = np.array(sorted({self._rank(q) for q in missing}), dtype=np.int64)
            values = dict(zip(ranks.tolist(), order_statistics(times, ranks).tolist(),
                              strict=False))
            for q in missing:
                self._quantiles[q] = float(values[self._rank(q)])
        return [self._quantiles[q] for q in qs]

    def quantile(self, q: float) -> float:
        return self.quantiles([q])[0]

    def mcse_quantiles(self, q: float) -> tuple[float, float]:
        """The probabilities q -+ one binomial standard error, whose quantiles bracket q's."""
        spread = math.sqrt(q * (1.0 - q) / self.n)
        return max(q - spread, 0.0), min(q + spread, 1.0)

    def quantile_mcse(self, q: float) -> float:
        """Order-statistic standard error; nan if it touches the censored mass."""
        low, high = self.quantiles(list(self.mcse_quantiles(q)))
        if not (math.isfinite(low) and math.isfinite(high)):
            return float("nan")
        return (high - low) / 2.0

    def probability_by(self, years: np.ndarray) -> np.ndarray:
        """P(event by the end of each year) = the empirical CDF at Y + 1 (decimal years)."""
        missing = [float(y) for y in years if float(y) not in self._p_by]
        if missing:
            self._record_year_counts(
                years, year_slot_counts(self._needs_times("year slots"), np.asarray(years)))
        return np.array([self._p_by[float(y)] for y in years])

    def _record_year_counts(self, years: np.ndarray, counts: np.ndarray) -> None:
        for year, p in zip(years, np.cumsum(counts[:len(years)]) / self.n, strict=False):
            self._p_by[float(year)] = float(p)


def probability_mcse(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


# A run without per-draw groups (``--no-per-draw``) counts its event times in slots of
# 1/SLOTS_PER_YEAR of a year instead of keeping them. 12 x 128 slots a year put every month's
# and year's end on a slot edge: (t - first) * 1536 is (t - first) * 12 scaled by a power of
# two, so rounded the same way, and a time lies in month k exactly when its slot lies in
# month k's 128. The monthly curves, P(by each year's end) and the not-by-horizon shares are
# therefore the counts of the times themselves; only a quantile is read inside its slot,
# within 1/1536 of a year (under 6 hours) of the order statistic.
MONTH_SLOTS = 128
SLOTS_PER_YEAR = 12 * MONTH_SLOTS


class EventSlots:
    """Counts of per-draw event times in fine slots, for several columns (event x profile).

    Slot 0 holds t <= ``first`` (as_of's calendar year start), slot j in 1..k holds
    first + (j-1)/S < t <= first + j/S, slot k + 1 later times and +inf; ``at_as_of`` counts
    t <= as_of and ``finite`` the finite times. Integers throughout: the counts of chunks add
    up to the same totals in any order or grouping (on a cluster, merged where computed)."""

    def __init__(self, as_of: float, horizon: float, columns: int):
        self.as_of, self.horizon = float(as_of), float(horizon)
        self.first = float(math.floor(as_of))
        self.k = MONTH_SLOTS * math.ceil((self.horizon - self.first) * 12)
        self.counts = np.zeros((columns, self.k + 2), dtype=np.int64)
        self.at_as_of = np.zeros(columns, dtype=np.int64)
        self.finite = np.zeros(columns, dtype=np.int64)
        self.n = 0

    def add(self, times: np.ndarray) -> None:
        """Count ``times`` (draws, columns)."""
        counts, at_as_of, finite = count_slots(times, self.first, SLOTS_PER_YEAR, self.k,
                                               self.as_of)
        self.counts += counts
        self.at_as_of += at_as_of
        self.finite += finite
        self.n += times.shape[0]

    def merge(self, other: EventSlots) -> None:
        self.counts += other.counts
        self.at_as_of += other.at_as_of
        self.finite += other.finite
        self.n += other.n

    def column(self, c: int) -> SlottedEventTimes:
        return SlottedEventTimes(self, c)

    def cumulative(self, c: int) -> np.ndarray:
        """Draws with t <= first + j/S, for j = 0..k."""
        return np.cumsum(self.counts[c, :self.k + 1])


class SlottedEventTimes(EventTimes):
    """:class:`EventTimes` of one column of :class:`EventSlots`: the same probabilities, and
    each quantile interpolated inside the slot holding its order statistic (the rank's
    midpoint among the slot's draws)."""

    def __init__(self, slots: EventSlots, column: int):
        self.times = None
        self.n = slots.n
        self.p_not_by_horizon = float(slots.n - slots.finite[column]) / self.n
        self._quantiles: dict[float, float] = {}
        self._p_by: dict[float, float] = {}
        self._slots, self._column = slots, column
        self._cumulative = slots.cumulative(column)

    def release(self, years: np.ndarray, bounds: tuple[float, float] | None = None) -> None:
        """Nothing to release: the slots are the summary."""

    def quantiles(self, qs) -> list[float]:
        slots, cumulative = self._slots, self._cumulative
        for q in qs:
            if q in self._quantiles:
                continue
            rank = self._rank(q)
            j = int(np.searchsorted(cumulative, rank, side="right"))
            if j > slots.k:
                value = math.inf
            elif j == 0:
                value = slots.first
            else:
                below = int(cumulative[j - 1])
                inside = int(slots.counts[self._column, j])
                value = slots.first + (j - 1 + (rank - below + 0.5) / inside) / SLOTS_PER_YEAR
            self._quantiles[q] = float(value)
        return [self._quantiles[q] for q in qs]

    def probability_by(self, years: np.ndarray) -> np.ndarray:
        for year in years:
            slot = round((float(year) + 1.0 - self._slots.first) * SLOTS_PER_YEAR)
            self._p_by[float(year)] = float(self._cumulative[min(slot, self._slots.k)]) / self.n
        return np.array([self._p_by[float(y)] for y in years])
