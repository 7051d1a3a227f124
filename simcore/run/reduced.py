"""What a run without per-draw groups (``--no-per-draw``) keeps of its draws: counts that add.

A run too big to keep (10^9 draws would be ~300 GB of run.nc) keeps, besides the trajectory
histograms every run has, the event times counted in fine slots (:class:`EventSlots`) and,
for each binding variable, the joint counts of the year its milestone is reached and the
requirement met last. Both are integers summed chunk by chunk, so they are the same whatever
the chunk size and wherever the chunks are computed and merged (a Dask cluster merges them
where they are made: nothing per draw travels to the client). The tables and charts read
their numbers from them (:mod:`simcore.analysis.tables`, :mod:`simcore.stored.tree`).
"""

from __future__ import annotations

import numpy as np

from ..model import spec
from .summaries import EventSlots, year_ends, year_slots

# Each binding variable's codes (ALREADY_MET, 0, 1, ...) as label indices 0, 1, ...
N_LABELS = max(len(spec.binding_labels(event)) for event in spec.BINDING_EVENTS)


def _binding_pairs() -> list[tuple[int, int, int]]:
    """(binding column, event column, labels) of every binding variable (and profile)."""
    pairs = []
    for event in spec.BINDING_EVENTS:
        times = spec.EVENT_COLUMNS[event.name]
        codes = spec.BINDING_COLUMNS[event.binding]
        labels = len(spec.binding_labels(event))
        pairs += [(b, t, labels) for b, t in zip(range(codes.start, codes.stop),
                                                 range(times.start, times.stop), strict=True)]
    return pairs


BINDING_PAIRS = _binding_pairs()


class ReducedDraws:
    """The event slots of every event column, and the binding joint counts
    ``binding[b, slot, label]`` (year slots of ``year_ends``; the last: not by the horizon)."""

    def __init__(self, as_of: float, horizon: float):
        self.years = year_ends(as_of, horizon)
        self.slots = EventSlots(as_of, horizon, spec.N_EVENT_COLUMNS)
        self.binding = np.zeros((len(BINDING_PAIRS), self.years.size + 1, N_LABELS),
                                dtype=np.int64)

    @property
    def n(self) -> int:
        return self.slots.n

    def add(self, events: np.ndarray, binding: np.ndarray) -> None:
        """Count a chunk: its event matrix (draws, N_EVENT_COLUMNS) and binding codes (draws,
        N_BINDING_COLUMNS), as the kernel lays them out."""
        self.slots.add(events)
        width = self.years.size + 1
        for row, (b, t, _) in enumerate(BINDING_PAIRS):
            slot = year_slots(np.ascontiguousarray(events[:, t]), self.years)
            slot *= N_LABELS
            slot += binding[:, b].astype(np.int64) - spec.ALREADY_MET
            self.binding[row] += np.bincount(slot, minlength=width * N_LABELS).reshape(
                width, N_LABELS)

    def merge(self, other: ReducedDraws) -> ReducedDraws:
        self.slots.merge(other.slots)
        self.binding += other.binding
        return self

    def binding_joint(self, binding: str, profile: int | None = None) -> np.ndarray:
        """``analysis.events.binding_joint`` of a binding variable (of ``profile``'s column
        for a per-profile one): (year slots, its labels)."""
        event = next(e for e in spec.BINDING_EVENTS if e.binding == binding)
        column = spec.BINDING_COLUMNS[binding].start + (profile or 0)
        row = next(i for i, (b, _, _) in enumerate(BINDING_PAIRS) if b == column)
        return self.binding[row, :, :len(spec.binding_labels(event))]
