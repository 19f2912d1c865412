"""A global forecasting model (``type: gbt``): one xgboost model over every series, on the rows of
:mod:`.global_features`, trained with sparkwright's xgboost estimator (native xgboost on the driver, or
xgboost.spark, by data size).

Backtest: the per-series models' windows (:meth:`SeriesSettings.origins`, counted from each series' end): at
window origin O of each series the model is fitted on every row whose target comes before O, and forecasts
the series' next ``horizon`` points from O - 1. Its rows have the schema of ``forecast.engine.backtests`` and
the errors of ``tasks.forecasting.window_errors``. A series too short for any window is reported by the
per-series engine (the baseline always runs), so it has no row here.

Forecast: fitted on every row whose target is known, from each series' last point. The interval at a level
and step is the forecast +- the level's quantile of the backtest's absolute errors at that step, in units of
the series' level (split-conformal); without a backtest window, of the final model's in-sample errors.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from sparkwright.forecast.global_features import (
    ACTUAL,
    COMPLETE,
    FEATURES,
    LABEL,
    LENGTH,
    LEVEL,
    ORIGIN,
    STEP,
    TARGET_TIME,
    FeatureSpec,
    stacked_rows,
)
from sparkwright.tasks.forecasting import OK

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from sparkwright.forecast.engine import SeriesColumns
    from sparkwright.forecast.series import ModelEntry, SeriesSettings

_PREDICTION = "__prediction"
# Columns of the backtest's forecast rows (with ACTUAL, LEVEL and STEP): the window as the per-series engine
# numbers it, the window's origin (its first target's position), the forecast, the window's share of seconds.
WINDOW, ORIGIN_AT, FORECAST, SECONDS = "__window", "__origin_at", "__forecast", "seconds"
ERROR_COLUMNS = ("points", "sae", "sse", "smape", "mase", "seconds")
IN_SAMPLE, BACKTEST = "in-sample", "backtest"


class GlobalModel:
    """One ``gbt`` entry of a run: :meth:`backtests`, then :meth:`forecasts`, then :meth:`runtime_spec` and
    :attr:`booster` for the registered model.

    Args:
        regular: Each series regular and gap-filled (``forecast.engine.regular_history``).
    """

    def __init__(self, regular: DataFrame, columns: SeriesColumns, settings: SeriesSettings, entry: ModelEntry):
        from sparkwright.models import get_model_type

        self.columns, self.settings, self.entry = columns, settings, entry
        self.model_type = get_model_type(entry.type, "forecasting")
        lags = self.model_type.lags(entry.params, settings.season)
        self.spec = FeatureSpec(lags=lags, season=settings.season, horizon=settings.horizon, freq=settings.freq)
        self.regular = regular
        self.rows = stacked_rows(regular, columns, self.spec).cache()
        self._windows: list[DataFrame] = []  # each backtest window's forecasts, cached
        # level -> the half-width at each step, in units of the series' level
        self.widths: dict[int, list[float]] = {}
        self.interval_source = ""
        self.booster: bytes | None = None

    @property
    def keys(self) -> list[str]:
        return list(self.columns.series)

    def backtests(self) -> DataFrame:
        """One row per series and window (``forecast.engine.backtests``' schema); sets the interval widths."""
        from pyspark.sql import functions as F

        settings = self.settings
        predicted = []
        for g in range(settings.windows):
            origin = F.col(LENGTH) - F.lit(settings.horizon + settings.step * (settings.windows - 1 - g))
            scored = self.rows.where((F.col(ORIGIN) == origin - 1) & (origin >= settings.min_length))
            if scored.isEmpty():
                continue
            started = time.perf_counter()
            fitted = self._fit(
                self.rows.where(F.col(COMPLETE) & F.col(LABEL).isNotNull() & (F.col(ORIGIN) + F.col(STEP) < origin))
            )
            out = self._predict(fitted, scored).withColumn(WINDOW, self._window_number(g)).cache()
            self._windows.append(out)
            points = out.count()
            seconds = time.perf_counter() - started
            # Shared by the window's forecast points: a series' window sums to its share, all to the fit's time.
            predicted.append(out.withColumn(SECONDS, F.lit(seconds / points)).withColumn(ORIGIN_AT, origin))
        if not predicted:
            return self._empty_backtests()
        residuals = predicted[0]
        for frame in predicted[1:]:
            residuals = residuals.unionByName(frame)
        self._set_widths(residuals, BACKTEST)
        errors = window_errors_of(residuals, self.regular, self.columns, self.settings.season)
        return errors.select(
            *[F.col(f"`{c}`") for c in self.keys],
            *self._status(),
            "window",
            *ERROR_COLUMNS,
        )

    def forecasts(self) -> DataFrame:
        """Every series' next ``horizon`` points from its last (``forecast.engine.forecasts``' schema)."""
        from pyspark.sql import functions as F

        training = self.rows.where(F.col(COMPLETE) & F.col(LABEL).isNotNull())
        fitted = self._fit(training)
        if not self.widths:
            self._set_widths(self._predict(fitted, training), IN_SAMPLE)
        out = self._predict(fitted, self.rows.where(F.col(ORIGIN) == F.col(LENGTH) - 1))
        self.booster = bytes(_booster(fitted).save_raw("json"))
        level, forecast = F.col(LEVEL), F.col(FORECAST)
        bounds = []
        for value in self.settings.levels:
            half = F.element_at(F.array(*[F.lit(w) for w in self.widths[value]]), F.col(STEP)) * level
            bounds += [(forecast - half).alias(f"lo_{value}"), (forecast + half).alias(f"hi_{value}")]
        return out.select(
            *[F.col(f"`{c}`") for c in self.keys],
            *self._status(),
            F.col(TARGET_TIME).alias(self.columns.time),
            forecast.alias("forecast"),
            *bounds,
        )

    def runtime_spec(self) -> dict[str, Any]:
        """What the Spark-free runtime needs (``global_models`` of a forecaster's index)."""
        return {
            **self.spec.as_dict(),
            "booster": self.booster_file,
            "intervals": {str(level): widths for level, widths in self.widths.items()},
            "interval_source": self.interval_source,
        }

    @property
    def booster_file(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.entry.name) + ".xgb.json"

    def unpersist(self) -> None:
        for frame in (self.rows, *self._windows):
            frame.unpersist()

    def _fit(self, training: DataFrame) -> Any:
        from sparkwright.models.base import Target

        target = Target(task="regression", label_col=LABEL, features_col=FEATURES, prediction_col=_PREDICTION)
        return self.model_type.build(self.entry.params, target).fit(training)

    def _predict(self, fitted: Any, rows: DataFrame) -> DataFrame:
        """``rows`` with the forecast (the prediction times the level)."""
        from pyspark.sql import functions as F

        return fitted.transform(rows).withColumn(FORECAST, F.col(_PREDICTION) * F.col(LEVEL)).drop(FEATURES)

    def _window_number(self, g: int) -> Column:
        """Window ``g`` (of every window, oldest first) as the per-series engine numbers it for a series: among
        the windows its length allows."""
        from pyspark.sql import functions as F

        settings = self.settings
        left_out = [
            F.when(
                F.col(LENGTH) - (settings.horizon + settings.step * (settings.windows - 1 - w)) < settings.min_length, 1
            ).otherwise(0)
            for w in range(g)
        ]
        return F.lit(g) - sum(left_out, F.lit(0))

    def _set_widths(self, residuals: DataFrame, source: str) -> None:
        """Each level's quantile of |actual - forecast| / level at each step."""
        from pyspark.sql import functions as F

        levels = list(self.settings.levels)
        error = F.abs(F.col(ACTUAL) - F.col(FORECAST)) / F.col(LEVEL)
        rows = residuals.groupBy(STEP).agg(F.percentile(error, [level / 100 for level in levels]).alias("q")).collect()
        by_step = {r[STEP]: r["q"] for r in rows}
        self.widths = {
            level: [float(by_step[s][i]) if s in by_step else float("nan") for s in range(1, self.settings.horizon + 1)]
            for i, level in enumerate(levels)
        }
        self.interval_source = source

    def _status(self) -> list[Column]:
        from pyspark.sql import functions as F

        return [
            F.lit(self.entry.name).alias("model"),
            F.lit(OK).alias("status"),
            F.lit(None).cast("string").alias("message"),
        ]

    def _empty_backtests(self) -> DataFrame:
        """No series has a window: no rows (the per-series engine reports every series too short)."""
        from pyspark.sql import functions as F

        keys = [F.col(f"`{c}`") for c in self.keys]
        numbers = [F.lit(None).cast("double").alias(n) for n in ERROR_COLUMNS]
        return self.rows.select(*keys, *self._status(), F.lit(None).cast("int").alias("window"), *numbers).limit(0)


def window_errors_of(residuals: DataFrame, regular: DataFrame, columns: SeriesColumns, season: int) -> DataFrame:
    """Per series and window: ``window`` and the :data:`ERROR_COLUMNS` as ``tasks.forecasting.window_errors``
    computes them from the window's actuals, forecasts and the history before its origin.

    Args:
        residuals: The series keys, :data:`WINDOW`, :data:`ORIGIN_AT`, :data:`ACTUAL`, :data:`FORECAST` and
            :data:`SECONDS`, one row per forecast point.
        regular: Each series regular and gap-filled, for MASE's scale.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    actual, forecast = F.col(ACTUAL), F.col(FORECAST)
    error = forecast - actual
    denominator = F.abs(actual) + F.abs(forecast)
    ratio = F.when(denominator > 0, 2 * F.abs(error) / denominator).otherwise(F.lit(0.0))
    names = list(columns.series)
    keys = [f"`{c}`" for c in names]
    windows = residuals.groupBy(*keys, WINDOW, ORIGIN_AT).agg(
        F.count(F.lit(1)).cast("double").alias("points"),
        F.sum(F.abs(error)).alias("sae"),
        F.sum(error * error).alias("sse"),
        (100 * F.avg(ratio)).alias("smape"),
        F.sum(SECONDS).alias("seconds"),
    )
    # The seasonal naive's in-sample error on the history before the origin (the naive's within a season).
    ordered = Window.partitionBy(*keys).orderBy(f"`{columns.time}`")
    y = F.col(f"`{columns.value}`")
    history = regular.select(
        *keys,
        (F.row_number().over(ordered) - 1).alias("__i"),
        F.abs(y - F.lag(y, season).over(ordered)).alias("__seasonal_step"),
        F.abs(y - F.lag(y, 1).over(ordered)).alias("__step"),
    )
    step = F.when(F.col(ORIGIN_AT) > season, F.col("__seasonal_step")).otherwise(F.col("__step"))
    scales = (
        windows.select(*keys, WINDOW, ORIGIN_AT)
        .join(history, names)
        .where(F.col("__i") < F.col(ORIGIN_AT))
        .groupBy(*keys, WINDOW)
        .agg(F.avg(step).alias("__scale"))
    )
    scale = F.col("__scale")
    mase = F.when(scale > 0, F.col("sae") / F.col("points") / scale).otherwise(F.lit(float("nan")))
    return windows.join(scales, [*names, WINDOW]).select(
        *keys,
        F.col(WINDOW).cast("int").alias("window"),
        "points",
        "sae",
        "sse",
        "smape",
        mase.alias("mase"),
        "seconds",
    )


def _booster(fitted: Any) -> Any:
    from sparkwright.models.xgboost_model import find_xgboost_model

    return find_xgboost_model(fitted).get_booster()
