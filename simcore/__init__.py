"""simcore: Monte Carlo forecasts of AI video generation reaching feature films."""

from .base import numbacache

__version__ = "0.1.0"

# Before any module defines a compiled function: numba must have somewhere to cache it.
numbacache.ensure()
