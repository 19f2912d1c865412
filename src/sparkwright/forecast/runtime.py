"""Forecast registered series without Spark: the runtime of the forecasting MLflow model.

This file needs only numpy, pandas and statsforecast (and xgboost for a global model). The forecasting pyfunc
model carries a copy of it in its ``code/`` folder as ``sparkwright_forecast``, so the model loads where
sparkwright is not installed.

A forecaster folder holds ``forecaster.json`` (columns, frequency, levels, each series' model as a
statsforecast class and its keyword arguments) and ``history.parquet`` (each series' regular history, as
the run fitted it). A forecast refits the series' model on its history: statistical models fit a series in
milliseconds, and the answer is the one the run wrote to its forecasts table.

A series whose model is the global gradient-boosted one (class ``GlobalGBT``) is not refitted: the folder
also holds that model's booster (xgboost JSON), and :func:`global_features` computes the features of the
series' last point as ``sparkwright.forecast.global_features`` computed them in Spark for the run.
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

# 2: a folder may hold boosters of global models (``global_models`` in the index); 1 is read as it was.
FORMAT_VERSION = 2
READ_FORMATS = (1, 2)
INDEX_FILE = "forecaster.json"
HISTORY_FILE = "history.parquet"
HORIZON_COL = "horizon"
GLOBAL_CLASS = "GlobalGBT"
# Calendar features of a forecast's target time by frequency (offset alias without anchor or multiple);
# values as Spark's month(), dayofweek() (1 = Sunday) and hour().
CALENDAR = {
    "MS": ("month",),
    "ME": ("month",),
    "QS": ("month",),
    "QE": ("month",),
    "W": ("month",),
    "D": ("dayofweek", "month"),
    "B": ("dayofweek", "month"),
    "h": ("hour", "dayofweek"),
}
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
            "models": [{"key": [...], "name": ..., "class": ..., "kwargs": {...}}]}``; with a global model also
            ``"global_models": {name: spec}`` (see :func:`global_features`; ``spec["booster"]`` names its file)
            and its series' entries ``{"class": "GlobalGBT", "kwargs": {"model": name}}``.
        history: ``series columns, time, value`` rows, each series regular and gap-filled.
        files: The global models' boosters, xgboost JSON by file name.
    """

    def __init__(self, meta: Mapping[str, Any], history: pd.DataFrame, files: Mapping[str, bytes] | None = None):
        self.meta = dict(meta)
        self.files = dict(files or {})
        self._boosters: dict[str, Any] = {}
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
        for name, content in self.files.items():
            (folder / name).write_bytes(content)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Forecaster:
        folder = Path(folder)
        meta = json.loads((folder / INDEX_FILE).read_text())
        if meta.get("format") not in READ_FORMATS:
            found = meta.get("format")
            raise _BaseError(f"{folder}: forecaster format {found!r}; this runtime reads {READ_FORMATS}.")
        files = {
            spec["booster"]: (folder / spec["booster"]).read_bytes() for spec in meta.get("global_models", {}).values()
        }
        return cls(meta, pd.read_parquet(folder / HISTORY_FILE), files)

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
        levels = list(self.meta["levels"])
        times = pd.date_range(last, periods=horizon + 1, freq=self.meta["freq"])[1:]
        y = past[self.value].to_numpy(float)
        if entry["class"] == GLOBAL_CLASS:
            out = self._global(key, entry, y, times)
        else:
            import statsforecast.models

            model = getattr(statsforecast.models, entry["class"])(**entry["kwargs"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = model.forecast(y=y, h=horizon, level=levels or None, **extra)
        frame = pd.DataFrame({c: [v] * horizon for c, v in zip(self.series, key, strict=True)})
        frame[self.time] = times
        frame["model"] = entry["name"]
        frame["forecast"] = np.asarray(out["mean"], dtype=float)
        for level in levels:
            frame[f"lo_{level}"] = np.asarray(out[f"lo-{level}"], dtype=float)
            frame[f"hi_{level}"] = np.asarray(out[f"hi-{level}"], dtype=float)
        return frame

    def _global(self, key: tuple[Any, ...], entry: Mapping[str, Any], y: np.ndarray, times: pd.DatetimeIndex):
        """The global model's forecast of one series: ``{"mean": ..., "lo-80": ..., ...}`` like statsforecast's."""
        spec = self.meta["global_models"][entry["kwargs"]["model"]]
        if len(times) > spec["horizon"]:
            raise _BaseError(
                f"horizon {len(times)} for series {key}: model {entry['name']!r} learnt each step 1..{spec['horizon']} "
                f"on its own (a direct model); ask for at most {spec['horizon']}."
            )
        X, level = global_features(y, times, spec)
        booster = self._booster(spec["booster"])
        best = booster.attr("best_iteration")
        rounds = (0, int(best) + 1) if best is not None else (0, 0)
        mean = np.asarray(booster.inplace_predict(X, iteration_range=rounds), dtype=float) * level
        out = {"mean": mean}
        for name, widths in spec["intervals"].items():
            half = np.asarray(widths[: len(times)], dtype=float) * level
            out[f"lo-{name}"], out[f"hi-{name}"] = mean - half, mean + half
        return out

    def _booster(self, name: str) -> Any:
        if name not in self._boosters:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(self.files[name]))
            self._boosters[name] = booster
        return self._boosters[name]

    def _columns(self) -> Sequence[str]:
        bounds = [f"{side}_{level}" for level in self.meta["levels"] for side in ("lo", "hi")]
        return [*self.series, self.time, "model", "forecast", *bounds]


def calendar_names(freq: str) -> tuple[str, ...]:
    """The calendar features of frequency ``freq`` (none for a multiple such as ``2h`` or an unlisted one)."""
    base = freq.split("-")[0]
    return CALENDAR.get(base, ())


def calendar_values(times: pd.DatetimeIndex, names: Sequence[str]) -> list[np.ndarray]:
    """Each calendar feature of ``times``, numbered as Spark numbers them (``dayofweek``: 1 = Sunday)."""
    numbers = {
        "month": lambda: times.month,
        "hour": lambda: times.hour,
        "dayofweek": lambda: (times.dayofweek + 1) % 7 + 1,
    }
    return [np.asarray(numbers[name](), dtype=float) for name in names]


def global_features(y: np.ndarray, times: pd.DatetimeIndex, spec: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    """The feature rows of a global model's forecast of ``y`` from its last point, one row per step (the
    target ``times``), and the series' level; ``forecast = prediction * level``.

    A row is ``[step, y[o] / level, ..., y[o - lags + 1] / level, seasonal / level, std / level, calendar...]``
    with o the last point, ``seasonal`` the value one or more whole seasons before the target (the latest
    known at o), ``level`` the mean absolute value and ``std`` the standard deviation of the last
    ``window`` points (1 when the level is 0); a value before the series' start is NaN (missing to xgboost).

    Args:
        spec: ``{"lags": ..., "season": ..., "window": ..., "calendar": [...]}``.
    """
    lags, season, window = int(spec["lags"]), int(spec["season"]), int(spec["window"])
    o = len(y) - 1
    recent = y[max(0, o - window + 1) :]
    level = float(np.mean(np.abs(recent)))
    level = level if level > 0 else 1.0
    std = float(np.std(recent, ddof=1)) if len(recent) > 1 else math.nan

    def back(offset: int) -> float:
        return y[o - offset] / level if o - offset >= 0 else math.nan

    steps = np.arange(1, len(times) + 1)
    columns = [
        steps.astype(float),
        *[np.full(len(steps), back(j)) for j in range(lags)],
        np.array([back((season - s % season) % season) for s in steps]),
        np.full(len(steps), std / level),
        *calendar_values(times, spec["calendar"]),
    ]
    return np.column_stack(columns), level


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
