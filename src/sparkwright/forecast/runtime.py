"""Forecast registered series without Spark: the runtime of the forecasting MLflow model.

This file needs only numpy, pandas and statsforecast. The forecasting pyfunc model carries a copy of it in
its ``code/`` folder as ``sparkwright_forecast``, so the model loads where sparkwright is not installed.

A forecaster folder holds ``forecaster.json`` (columns, frequency, levels, each series' model as a
statsforecast class and its keyword arguments) and ``history.parquet`` (each series' regular history, as
the run fitted it). A forecast refits the series' model on its history: statistical models fit a series in
milliseconds, and the answer is the one the run wrote to its forecasts table.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    from sparkwright.errors import DataError as _BaseError
except ImportError:  # inside a forecasting model loaded without sparkwright
    _BaseError = ValueError  # type: ignore[misc,assignment]

FORMAT_VERSION = 1
INDEX_FILE = "forecaster.json"
HISTORY_FILE = "history.parquet"
HORIZON_COL = "horizon"
_SHOWN = 20  # series listed by key in an error message


class UnknownSeriesError(_BaseError):  # type: ignore[misc,valid-type]
    """A request names series the model was not fitted on."""


def series_key(values: Any) -> tuple[Any, ...]:
    """A series' key as a tuple of plain Python values (numpy scalars unwrapped)."""
    items = values if isinstance(values, tuple | list) else (values,)
    return tuple(v.item() if isinstance(v, np.generic) else v for v in items)


class Forecaster:
    """Each series' history and model; :meth:`forecast` answers ``(series keys[, horizon])`` rows.

    Args:
        meta: ``{"series": [...], "time": ..., "value": ..., "freq": ..., "horizon": ..., "levels": [...],
            "models": [{"key": [...], "name": ..., "class": ..., "kwargs": {...}}]}``.
        history: ``series columns, time, value`` rows, each series regular and gap-filled.
    """

    def __init__(self, meta: Mapping[str, Any], history: pd.DataFrame):
        self.meta = dict(meta)
        self.series: list[str] = list(meta["series"])
        self.time, self.value = meta["time"], meta["value"]
        self._models = {series_key(m["key"]): m for m in meta["models"]}
        grouped = history.sort_values(self.time).groupby(self.series, sort=False) if self.series else None
        if grouped is None:
            self._history = {(): history.sort_values(self.time)}
        else:
            self._history = {series_key(k): frame for k, frame in grouped}

    def history_frame(self) -> pd.DataFrame:
        """Every series' history, one frame."""
        return pd.concat(list(self._history.values()), ignore_index=True)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / INDEX_FILE).write_text(json.dumps({"format": FORMAT_VERSION, **self.meta}, default=str))
        self.history_frame().to_parquet(folder / HISTORY_FILE, index=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Forecaster:
        folder = Path(folder)
        meta = json.loads((folder / INDEX_FILE).read_text())
        if meta.get("format") != FORMAT_VERSION:
            found = meta.get("format")
            raise _BaseError(f"{folder}: forecaster format {found!r}; this runtime reads {FORMAT_VERSION}.")
        return cls(meta, pd.read_parquet(folder / HISTORY_FILE))

    @property
    def keys(self) -> list[tuple[Any, ...]]:
        return list(self._models)

    def forecast(self, requests: pd.DataFrame) -> pd.DataFrame:
        """One row per requested series and future time: the series columns, the time, ``model``, ``forecast``
        and ``lo_<level>`` / ``hi_<level>``. A ``horizon`` column sets a series' horizon (default: the run's).
        A series whose model uses exogenous columns takes one request row per point to forecast, with the time
        and the exogenous values (its horizon is the number of rows).

        Raises:
            UnknownSeriesError: Series the model has no model for (listed), or a missing series column.
            ValueError: (sparkwright's DataError) exogenous values missing for a model that uses them.
        """
        missing = [c for c in self.series if c not in requests.columns]
        if missing:
            raise UnknownSeriesError(f"the requests lack series column(s) {missing}; send {self.series}.")
        wanted: dict[tuple[Any, ...], list[Any]] = {}
        for index, row in requests.iterrows():
            key = series_key([row[c] for c in self.series])
            horizon = row.get(HORIZON_COL, None) if HORIZON_COL in requests.columns else None
            given = int(horizon) if horizon is not None and not _is_nan(horizon) else int(self.meta["horizon"])
            wanted.setdefault(key, [given, []])[1].append(index)
        unknown = [k for k in wanted if k not in self._models]
        if unknown:
            shown = ", ".join(map(str, unknown[:_SHOWN])) + (" ..." if len(unknown) > _SHOWN else "")
            raise UnknownSeriesError(f"{len(unknown)} series the model was not fitted on: {shown}.")
        frames = [
            self._one(key, horizon, self._future(key, requests.loc[rows])) for key, (horizon, rows) in wanted.items()
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=self._columns())

    def _future(self, key: tuple[Any, ...], rows: pd.DataFrame) -> pd.DataFrame | None:
        """The request rows of a series whose model uses exogenous columns (time, values), else None."""
        exogenous = list(self.meta.get("exogenous", []))
        if not self._models[key].get("exogenous"):
            return None
        missing = [c for c in (self.time, *exogenous) if c not in rows.columns]
        if missing or rows[[self.time, *exogenous]].isna().to_numpy().any():
            raise _BaseError(
                f"series {key}: its model ({self._models[key]['name']}) uses exogenous columns; send one row per "
                f"point to forecast with {self.time!r} and the values of {exogenous}"
                + (f" (missing: {missing})." if missing else " (some are empty).")
            )
        return rows[[self.time, *exogenous]].sort_values(self.time)

    def _one(self, key: tuple[Any, ...], horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        import statsforecast.models

        entry, past = self._models[key], self._history[key]
        last = pd.Timestamp(past[self.time].iloc[-1])
        extra: dict[str, Any] = {}
        if future is not None:
            horizon = len(future)
            expected = pd.date_range(last, periods=horizon + 1, freq=self.meta["freq"])[1:]
            got = pd.DatetimeIndex(pd.to_datetime(future[self.time]))
            if not got.equals(expected):
                raise _BaseError(
                    f"series {key}: the exogenous rows must be the {horizon} points after {last.date()} "
                    f"({expected[0].date()} ... {expected[-1].date()}), one each; got {list(got.date)}."
                )
            exogenous = list(self.meta["exogenous"])
            extra = {"X": past[exogenous].to_numpy(float), "X_future": future[exogenous].to_numpy(float)}
        if horizon < 1:
            raise _BaseError(f"horizon must be at least 1, got {horizon} for series {key}.")
        model = getattr(statsforecast.models, entry["class"])(**entry["kwargs"])
        levels = list(self.meta["levels"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model.forecast(y=past[self.value].to_numpy(float), h=horizon, level=levels or None, **extra)
        times = pd.date_range(last, periods=horizon + 1, freq=self.meta["freq"])[1:]
        frame = pd.DataFrame({c: [v] * horizon for c, v in zip(self.series, key, strict=True)})
        frame[self.time] = times
        frame["model"] = entry["name"]
        frame["forecast"] = np.asarray(out["mean"], dtype=float)
        for level in levels:
            frame[f"lo_{level}"] = np.asarray(out[f"lo-{level}"], dtype=float)
            frame[f"hi_{level}"] = np.asarray(out[f"hi-{level}"], dtype=float)
        return frame

    def _columns(self) -> Sequence[str]:
        bounds = [f"{side}_{level}" for level in self.meta["levels"] for side in ("lo", "hi")]
        return [*self.series, self.time, "model", "forecast", *bounds]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
