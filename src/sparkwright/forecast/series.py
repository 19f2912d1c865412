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

from sparkwright.models.forecasters import build, forecaster_type
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
    exogenous: tuple[str, ...] = ()

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
    series = pd.Series(values.to_numpy(float), index=pd.DatetimeIndex(times))
    if not series.index.is_unique:
        series = series.groupby(level=0).mean()
    if not series.index.is_monotonic_increasing:
        series = series.sort_index()
    grid = pd.date_range(series.index[0], series.index[-1], freq=settings.freq)
    if series.index.equals(grid) and not series.hasnans:  # already regular (most series): nothing to fill
        return series.set_axis(grid)
    off_grid = series.index.difference(grid)
    if len(off_grid):
        raise ValueError(f"time {off_grid[0]} is not on the {settings.freq} grid that starts {grid[0]}")
    series = series.reindex(grid)
    if settings.fill == "zero":
        return series.fillna(0.0)
    if settings.fill == "previous":
        return series.ffill()
    return series.interpolate(limit_direction="both")


def regular_exogenous(
    times: pd.Series, exogenous: pd.DataFrame | None, grid: pd.DatetimeIndex, settings: SeriesSettings
) -> np.ndarray | None:
    """The exogenous columns on the series' grid (rows x columns), gaps filled by ``settings.fill``; None without
    exogenous columns."""
    if exogenous is None or not len(exogenous.columns):
        return None
    frame = exogenous.astype(float).set_axis(pd.DatetimeIndex(times), axis=0).groupby(level=0).mean()
    frame = frame.reindex(grid)
    if settings.fill == "zero":
        frame = frame.fillna(0.0)
    elif settings.fill == "previous":
        frame = frame.ffill().bfill()
    else:
        frame = frame.interpolate(limit_direction="both")
    return frame.to_numpy(float)


def future_exogenous(future: pd.DataFrame | None, times: pd.DatetimeIndex, columns: tuple[str, ...]) -> np.ndarray:
    """The exogenous values at the future ``times`` (rows x columns) from ``future`` (``time`` + columns).

    Raises:
        ValueError: A time or a value is missing (named).
    """
    given = pd.DataFrame(columns=["time", *columns]) if future is None else future
    frame = given.set_index(pd.DatetimeIndex(given["time"]))[list(columns)].astype(float)
    frame = frame.groupby(level=0).mean().reindex(times)
    missing = frame.isna()
    if missing.to_numpy().any():
        at = missing.any(axis=1).idxmax()
        column = next(c for c in columns if missing.loc[at, c])
        raise ValueError(
            f"forecasting.future has no value of {column!r} at {at.date() if at == at.normalize() else at} for this "
            f"series (it needs {len(times)} points from {times[0].date()})"
        )
    return frame.to_numpy(float)


def uses_exogenous(entry: ModelEntry, settings: SeriesSettings) -> bool:
    return bool(settings.exogenous) and forecaster_type(entry.type).takes_exogenous


def forecast_values(
    entry: ModelEntry,
    history: np.ndarray,
    settings: SeriesSettings,
    levels=(),
    X: np.ndarray | None = None,
    X_future: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``{"mean": ..., "lo-80": ..., ...}`` of ``entry`` fitted on ``history``, ``settings.horizon`` steps ahead;
    with the exogenous values ``X`` (history) and ``X_future`` when the model uses them."""
    model = build(entry.type, entry.params, settings.season)
    extra = {"X": X, "X_future": X_future} if X is not None and uses_exogenous(entry, settings) else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.forecast(y=history, h=settings.horizon, level=list(levels) or None, **extra)
    return {key: np.asarray(value, dtype=float) for key, value in out.items()}


def backtest(
    key: tuple,
    times: pd.Series,
    values: pd.Series,
    settings: SeriesSettings,
    exogenous: pd.DataFrame | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per model and window: ``status`` and, when ``ok``, the window's errors and fit seconds; one
    ``too_short`` row (model None) when the series has no window. A model that uses exogenous columns sees
    their actual values in the window (the future values it is given when forecasting)."""
    try:
        series = regular(times, values, settings)
    except ValueError as exc:
        yield _status_row(key, None, FAILED, str(exc))
        return
    y = series.to_numpy()
    X = regular_exogenous(times, exogenous, series.index, settings)
    origins = settings.origins(len(y))
    if not origins:
        yield _status_row(key, None, TOO_SHORT, _too_short(len(y), settings))
        return
    for entry in settings.models:
        for window, origin in enumerate(origins):
            started = time.perf_counter()
            window_x = {} if X is None else {"X": X[:origin], "X_future": X[origin : origin + settings.horizon]}
            try:
                predicted = forecast_values(entry, y[:origin], settings, **window_x)["mean"]
            except Exception as exc:  # one model on one series: reported, never the end of the run
                yield _status_row(key, entry.name, FAILED, _error(exc), window=window)
                break
            row = _status_row(key, entry.name, OK, None, window=window)
            row.update(window_errors(y[origin : origin + settings.horizon], predicted, y[:origin], settings.season))
            row["seconds"] = time.perf_counter() - started
            yield row


def forecast(
    key: tuple,
    times: pd.Series,
    values: pd.Series,
    settings: SeriesSettings,
    exogenous: pd.DataFrame | None = None,
    future: pd.DataFrame | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per model and future time with the forecast and its interval bounds; a status row (time None)
    for a model that failed or a series too short to fit. ``future``: ``time`` and the exogenous columns at the
    points to forecast (a model that uses them fails on a series without them, the others go on)."""
    try:
        series = regular(times, values, settings)
    except ValueError as exc:
        yield _status_row(key, None, FAILED, str(exc))
        return
    if len(series) < settings.min_length:
        yield _status_row(key, None, TOO_SHORT, _too_short(len(series), settings))
        return
    future_times = pd.date_range(series.index[-1], periods=settings.horizon + 1, freq=settings.freq)[1:]
    X = regular_exogenous(times, exogenous, series.index, settings)
    for entry in settings.models:
        try:
            given = {}
            if X is not None and uses_exogenous(entry, settings):
                given = {"X": X, "X_future": future_exogenous(future, future_times, settings.exogenous)}
            out = forecast_values(entry, series.to_numpy(), settings, settings.levels, **given)
        except Exception as exc:
            yield _status_row(key, entry.name, FAILED, _error(exc))
            continue
        for step, at in enumerate(future_times):
            row = _status_row(key, entry.name, OK, None)
            row["time"] = at
            row["forecast"] = out["mean"][step]
            for level in settings.levels:
                row[f"lo_{level}"] = out[f"lo-{level}"][step]
                row[f"hi_{level}"] = out[f"hi-{level}"][step]
            yield row


def regular_rows(
    key: tuple, times: pd.Series, values: pd.Series, settings: SeriesSettings, exogenous: pd.DataFrame | None = None
) -> Iterator[dict[str, Any]]:
    """The series as it is fitted (regular, gaps filled), one row per point with its exogenous values; nothing
    for a series that cannot be fitted (off the grid, or shorter than ``min_length``)."""
    try:
        series = regular(times, values, settings)
    except ValueError:
        return
    if len(series) < settings.min_length:
        return
    X = regular_exogenous(times, exogenous, series.index, settings)
    for index, (at, value) in enumerate(series.items()):
        row = {"key": key, "time": at, "value": value}
        if X is not None:
            row.update(zip(settings.exogenous, X[index], strict=True))
        yield row


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
