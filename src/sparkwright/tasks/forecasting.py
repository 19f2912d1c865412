"""``task: forecasting``: many series, one model per series, judged by rolling-origin backtests.

The task owns what every forecaster of a run shares: the split (each series' last ``horizon`` points are
the test split: the last backtest window), the baseline (the seasonal naive forecast), the metrics and the
history + forecast plot.

MASE divides a window's MAE by the in-sample MAE of the seasonal naive forecast on the history the model
saw (Hyndman and Koehler 2006), so 1.0 is "as good as repeating last season" on any scale; sMAPE is the
symmetric percentage error in points (0-200). A window is kept as sums, so windows and series add up in
one Spark aggregation: RMSE and MAE over every forecast point, MASE and sMAPE as the mean of the windows'.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sparkwright.config import ModelSpec
from sparkwright.errors import DataError
from sparkwright.tasks.base import HeldOut, Task

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparkwright.config import ProjectConfig
    from sparkwright.tracking import Tracker

# Series drawn in a run's forecast plot.
PLOTTED_SERIES = 6
# The model type every forecaster is shown against; MASE's scale is its in-sample error.
BASELINE_TYPE = "seasonal_naive"
OK = "ok"


def window_errors(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int) -> dict[str, float]:
    """``points``, summed absolute and squared errors, the window's sMAPE and MASE. MASE scales by the seasonal
    naive's in-sample error (the naive's when the history is not longer than a season); NaN when the history
    is constant."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    error = forecast - actual
    denominator = np.abs(actual) + np.abs(forecast)
    ratios = np.where(denominator > 0, 2 * np.abs(error) / np.where(denominator > 0, denominator, 1), 0.0)
    history = np.asarray(history, dtype=float)
    lag = season if len(history) > season else 1
    steps = history[lag:] - history[:-lag]
    scale = float(np.mean(np.abs(steps))) if len(steps) else math.nan
    mae = float(np.mean(np.abs(error)))
    return {
        "points": float(len(actual)),
        "sae": float(np.sum(np.abs(error))),
        "sse": float(np.sum(error**2)),
        "smape": 100 * float(np.mean(ratios)),
        "mase": mae / scale if scale > 0 and math.isfinite(scale) else math.nan,
    }


def overall(points: float, sae: float, sse: float, smape_mean: float, mase_mean: float) -> dict[str, float]:
    """A model's scores from its windows' sums (``points``, ``sae``, ``sse``) and means (sMAPE, MASE)."""
    return {
        "mase": mase_mean,
        "smape": smape_mean,
        "rmse": math.sqrt(sse / points) if points else math.nan,
        "mae": sae / points if points else math.nan,
    }


def scores(backtested: DataFrame) -> dict[str, dict[str, float]]:
    """Each model's overall MASE, sMAPE, RMSE and MAE over every window of every series it fitted (rows of
    ``forecast.engine.backtests``: a window's ``points``, summed errors ``sae`` / ``sse``, ``smape``, ``mase``)."""
    from pyspark.sql import functions as F

    ok = backtested.where((F.col("status") == OK) & F.col("model").isNotNull())
    rows = ok.groupBy("model").agg(
        F.sum("points").alias("points"),
        F.sum("sae").alias("sae"),
        F.sum("sse").alias("sse"),
        *[F.avg(F.when(~F.isnan(name), F.col(name))).alias(name) for name in ("smape", "mase")],
    )
    nan = float("nan")
    return {
        r["model"]: overall(
            r["points"],
            r["sae"],
            r["sse"],
            nan if r["smape"] is None else r["smape"],
            nan if r["mase"] is None else r["mase"],
        )
        for r in rows.collect()
    }


class ForecastingTask(Task):
    name = "forecasting"

    def split(
        self, config: ProjectConfig, df: DataFrame, test_fraction: float, seed: int
    ) -> tuple[DataFrame, DataFrame]:
        """``(train, test)``: each series' last ``forecasting.horizon`` points are the test split (the last
        backtest window's targets); ``split.test_fraction`` and ``seed`` do not apply to a time order."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        assert config.forecasting is not None and config.data.time is not None, "checked by check_forecasting"
        keys = [F.col(f"`{c}`") for c in config.data.series]
        window = Window.partitionBy(*keys).orderBy(F.col(f"`{config.data.time}`").desc())
        ranked = df.withColumn("__from_end", F.row_number().over(window))
        held = F.col("__from_end") <= config.forecasting.horizon
        return ranked.where(~held).drop("__from_end"), ranked.where(held).drop("__from_end")

    def baseline(self, target: Any) -> ModelSpec:
        """The seasonal naive forecast (a per-series model, fitted with the others)."""
        return ModelSpec(name="baseline", type=BASELINE_TYPE)

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> dict[str, float]:
        """MASE, sMAPE, RMSE and MAE of one model's backtest windows (rows of ``forecast.engine.backtests``)."""
        models = scores(predictions)
        if len(models) != 1:
            raise DataError(f"metrics judge one model's backtests at a time; got {sorted(models) or 'none'}.")
        return next(iter(models.values()))

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        actual, prediction = np.asarray(actual, dtype=float), np.asarray(prediction, dtype=float)
        error = prediction - actual
        if metric == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        if metric == "mae":
            return float(np.mean(np.abs(error)))
        if metric == "smape":
            denominator = np.abs(actual) + np.abs(prediction)
            return 100 * float(
                np.mean(np.where(denominator > 0, 2 * np.abs(error) / np.maximum(denominator, 1e-300), 0))
            )
        raise DataError(f"metric {metric!r} needs each series' history (MASE); rmse, mae and smape come from arrays.")

    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None) -> HeldOut:
        raise DataError("forecasting is judged on backtest windows, not held-out rows; see forecast.engine.backtests.")

    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> Any:
        raise DataError("forecasting plots history + forecast per series; see ForecastingTask.forecast_panels.")

    def log_plots(
        self, tracker: Tracker, run_id: str, name: str, sample: Any, classes: list[str] | None = None
    ) -> None:
        """``sample``: ``(panels, levels)`` from :meth:`forecast_panels`."""
        from sparkwright import plots

        panels, levels = sample
        figure = plots.forecasts(panels, levels, f"{name}: history and forecast ({len(panels)} series)")
        tracker.log_figure(run_id, figure, "plots/forecasts.png")

    def forecast_panels(
        self, history: pd.DataFrame, forecast: pd.DataFrame, keys: list[str], time: str, value: str, levels: list[int]
    ) -> list[dict[str, Any]]:
        """The plot's series: the first :data:`PLOTTED_SERIES` (by key) that have a forecast, from the driver-side
        frames of their history and of one model's forecast rows."""
        panels = []
        for key, rows in forecast.groupby(keys, sort=True):
            if len(panels) == PLOTTED_SERIES:
                break
            key = key if isinstance(key, tuple) else (key,)
            past = history.loc[(history[keys] == list(key)).all(axis=1)].sort_values(time)
            rows = rows.sort_values(time)
            panel = {"name": " / ".join(map(str, key)), "history_time": past[time], "history": past[value]}
            panel.update(time=rows[time], forecast=rows["forecast"])
            panel.update({f"{side}_{level}": rows[f"{side}_{level}"] for level in levels for side in ("lo", "hi")})
            panels.append(panel)
        return panels
