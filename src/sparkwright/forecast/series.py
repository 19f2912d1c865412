"""One series on a worker: made regular, backtested and forecast by each model; plain pandas and NumPy.

A series is reindexed on its frequency's grid from its first to its last time and its gaps filled by the
project's rule. A series shorter than ``min_length`` is reported ``too_short`` and not fitted; a model that
raises on a series is reported ``failed`` with the error, and the other models and series go on.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sparkwright.models.forecasters import build
from sparkwright.tasks.forecasting import OK, window_errors

FILL_RULES = ("interpolate", "previous", "zero")
FAILED, TOO_SHORT = "failed", "too_short"


@dataclass(frozen=True)
class ModelEntry:
    """A model of the project file: its leaderboard name, type and params."""

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeriesSettings:
    """What every series of a run is fitted with (pickled once to the workers)."""

    freq: str
    season: int
    horizon: int
    fill: str
    min_length: int
    windows: int
    step: int
    levels: tuple[int, ...]
    models: tuple[ModelEntry, ...]

    def origins(self, length: int) -> list[int]:
        """The backtest windows' origins (the first forecast point's position) for a series of ``length``, oldest
        first; a window whose history would be shorter than ``min_length`` is left out."""
        last = length - self.horizon
        return [o for o in (last - self.step * w for w in reversed(range(self.windows))) if o >= self.min_length]


def regular(times: pd.Series, values: pd.Series, settings: SeriesSettings) -> pd.Series:
    """The series on its frequency's grid (first to last time), gaps filled by ``settings.fill``.

    Raises:
        ValueError: A time off the grid (the series is not of ``settings.freq``).
    """
    series = pd.Series(values.to_numpy(float), index=pd.DatetimeIndex(times)).groupby(level=0).mean().sort_index()
    grid = pd.date_range(series.index[0], series.index[-1], freq=settings.freq)
    off_grid = series.index.difference(grid)
    if len(off_grid):
        raise ValueError(f"time {off_grid[0]} is not on the {settings.freq} grid that starts {grid[0]}")
    series = series.reindex(grid)
    if settings.fill == "zero":
        return series.fillna(0.0)
    if settings.fill == "previous":
        return series.ffill()
    return series.interpolate(limit_direction="both")


def forecast_values(
    entry: ModelEntry, history: np.ndarray, settings: SeriesSettings, levels=()
) -> dict[str, np.ndarray]:
    """``{"mean": ..., "lo-80": ..., ...}`` of ``entry`` fitted on ``history``, ``settings.horizon`` steps ahead."""
    model = build(entry.type, entry.params, settings.season)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.forecast(y=history, h=settings.horizon, level=list(levels) or None)
    return {key: np.asarray(value, dtype=float) for key, value in out.items()}


def backtest(key: tuple, times: pd.Series, values: pd.Series, settings: SeriesSettings) -> Iterator[dict[str, Any]]:
    """One row per model and window: ``status`` and, when ``ok``, the window's errors and fit seconds; one
    ``too_short`` row (model None) when the series has no window."""
    try:
        series = regular(times, values, settings)
    except ValueError as exc:
        yield _status_row(key, None, FAILED, str(exc))
        return
    y = series.to_numpy()
    origins = settings.origins(len(y))
    if not origins:
        yield _status_row(key, None, TOO_SHORT, _too_short(len(y), settings))
        return
    for entry in settings.models:
        for window, origin in enumerate(origins):
            started = time.perf_counter()
            try:
                predicted = forecast_values(entry, y[:origin], settings)["mean"]
            except Exception as exc:  # one model on one series: reported, never the end of the run
                yield _status_row(key, entry.name, FAILED, _error(exc), window=window)
                break
            row = _status_row(key, entry.name, OK, None, window=window)
            row.update(window_errors(y[origin : origin + settings.horizon], predicted, y[:origin], settings.season))
            row["seconds"] = time.perf_counter() - started
            yield row


def forecast(key: tuple, times: pd.Series, values: pd.Series, settings: SeriesSettings) -> Iterator[dict[str, Any]]:
    """One row per model and future time with the forecast and its interval bounds; a status row (time None)
    for a model that failed or a series too short to fit."""
    try:
        series = regular(times, values, settings)
    except ValueError as exc:
        yield _status_row(key, None, FAILED, str(exc))
        return
    if len(series) < settings.min_length:
        yield _status_row(key, None, TOO_SHORT, _too_short(len(series), settings))
        return
    future = pd.date_range(series.index[-1], periods=settings.horizon + 1, freq=settings.freq)[1:]
    for entry in settings.models:
        try:
            out = forecast_values(entry, series.to_numpy(), settings, settings.levels)
        except Exception as exc:
            yield _status_row(key, entry.name, FAILED, _error(exc))
            continue
        for step, at in enumerate(future):
            row = _status_row(key, entry.name, OK, None)
            row["time"] = at
            row["forecast"] = out["mean"][step]
            for level in settings.levels:
                row[f"lo_{level}"] = out[f"lo-{level}"][step]
                row[f"hi_{level}"] = out[f"hi-{level}"][step]
            yield row


def regular_rows(key: tuple, times: pd.Series, values: pd.Series, settings: SeriesSettings) -> Iterator[dict[str, Any]]:
    """The series as it is fitted (regular, gaps filled), one row per point; nothing for a series that cannot be
    fitted (off the grid, or shorter than ``min_length``)."""
    try:
        series = regular(times, values, settings)
    except ValueError:
        return
    if len(series) < settings.min_length:
        return
    for at, value in series.items():
        yield {"key": key, "time": at, "value": value}


def _status_row(key: tuple, model: str | None, status: str, message: str | None, **extra: Any) -> dict[str, Any]:
    return {"key": key, "model": model, "status": status, "message": message, **extra}


def _too_short(length: int, settings: SeriesSettings) -> str:
    return (
        f"{length} points; a model needs forecasting.min_length = {settings.min_length} before a window of "
        f"{settings.horizon}"
    )


def _error(exc: Exception) -> str:
    """The error in one line with where it was raised (the last frame)."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" (at {where[0].name}, {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"[:500]
