"""simcore: Monte Carlo forecasts of AI video generation reaching feature films."""

__version__ = "0.1.0"
