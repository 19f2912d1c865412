"""The training and forecast rows of a global forecasting model, computed in Spark windows.

Direct multi-horizon, stacked: each point o of a regular series is an origin, and each step s = 1..horizon
from it one row, whose target is y[o + s] and whose features are known at o: the last ``lags`` values, the
value one or more whole seasons before the target, the standard deviation of the last season, the step and
the target time's calendar (:data:`~.runtime.CALENDAR`). Values are divided by the series' level at o (the
mean absolute value of its last season), so one model serves series of any size: it learns ``y[o+s] /
level`` and a forecast is the prediction times the level. :func:`.runtime.global_features` computes the same
features of a series' last point in pandas, for the registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd  # at run time: pandas_udf reads the type hints of _shifted's function

from sparkwright.forecast.runtime import calendar_names

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from sparkwright.forecast.engine import SeriesColumns

# Columns of a stacked row besides the series keys (prefixed: a series column may be called "step").
FEATURES, LABEL, ACTUAL, LEVEL = "__features", "__label", "__actual", "__level"
ORIGIN, LENGTH, STEP, TARGET_TIME, COMPLETE = "__origin", "__length", "__step", "__target_time", "__complete"


@dataclass(frozen=True)
class FeatureSpec:
    """What a global model reads: ``lags`` past values, ``season`` points per cycle, level and spread over the
    last ``window`` points, the ``calendar`` features, steps 1..``horizon``. Stored in the registered model."""

    lags: int
    season: int
    horizon: int
    freq: str

    @property
    def window(self) -> int:
        """Points of the level and the spread: a season (two at least, for a standard deviation)."""
        return max(self.season, 2)

    @property
    def calendar(self) -> tuple[str, ...]:
        return calendar_names(self.freq)

    @property
    def past(self) -> int:
        """Past values (the origin's included) a complete row reads: the lags, and a season for the seasonal."""
        return max(self.lags, self.season, self.window)

    def names(self) -> list[str]:
        """The feature slots, in order."""
        lags = [f"lag_{j}" for j in range(self.lags)]
        return ["step", *lags, "seasonal", "std", *self.calendar]

    def as_dict(self) -> dict:
        return {
            "lags": self.lags,
            "season": self.season,
            "window": self.window,
            "horizon": self.horizon,
            "calendar": list(self.calendar),
            "features": self.names(),
        }


def stacked_rows(regular: DataFrame, columns: SeriesColumns, spec: FeatureSpec) -> DataFrame:
    """One row per series, origin and step: the series keys, :data:`ORIGIN` (the origin's position, from 0),
    :data:`LENGTH` (the series' points), :data:`STEP`, :data:`TARGET_TIME`, :data:`LEVEL`, :data:`FEATURES`
    (a vector), :data:`LABEL` (the scaled target, null past the series' end), :data:`ACTUAL` (the target)
    and :data:`COMPLETE` (every past value the features read exists: a row a model may train on).

    Args:
        regular: Each series regular and gap-filled (``forecast.engine.regular_history``).
    """
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = [F.col(f"`{c}`") for c in columns.series]
    y, time = F.col(f"`{columns.value}`"), F.col(f"`{columns.time}`")
    ordered = Window.partitionBy(*keys).orderBy(time)
    recent = ordered.rowsBetween(-(spec.window - 1), Window.currentRow)
    mean_abs = F.avg(F.abs(y)).over(recent)
    origins = regular.select(
        *keys,
        time,
        (F.row_number().over(ordered) - 1).alias(ORIGIN),
        F.count(F.lit(1)).over(Window.partitionBy(*keys)).alias(LENGTH),
        F.when(mean_abs > 0, mean_abs).otherwise(F.lit(1.0)).alias(LEVEL),
        F.stddev_samp(y).over(recent).alias("__std"),
        F.array(*[F.lag(y, j).over(ordered) for j in range(spec.past)]).alias("__past"),
        F.array(*[F.lead(y, s).over(ordered) for s in range(1, spec.horizon + 1)]).alias("__ahead"),
    )
    rows = origins.withColumn(STEP, F.explode(F.sequence(F.lit(1), F.lit(spec.horizon))))
    rows = rows.withColumn(TARGET_TIME, _shifted(time, F.col(STEP), spec.freq))
    level, step = F.col(LEVEL), F.col(STEP)

    def scaled(value: Column) -> Column:
        return F.coalesce(value / level, F.lit(float("nan")))

    past = F.col("__past")
    seasonal_back = (F.lit(spec.season) - step % F.lit(spec.season)) % F.lit(spec.season)
    calendar = {"month": F.month, "dayofweek": F.dayofweek, "hour": F.hour}
    slots = [
        step.cast("double"),
        *[scaled(past[j]) for j in range(spec.lags)],
        scaled(F.element_at(past, seasonal_back + 1)),
        scaled(F.col("__std")),
        *[calendar[name](F.col(TARGET_TIME)).cast("double") for name in spec.calendar],
    ]
    actual = F.element_at(F.col("__ahead"), step)
    return rows.select(
        *keys,
        ORIGIN,
        LENGTH,
        STEP,
        TARGET_TIME,
        LEVEL,
        array_to_vector(F.array(*slots)).alias(FEATURES),
        (actual / level).alias(LABEL),
        actual.alias(ACTUAL),
        (F.col(ORIGIN) >= spec.past - 1).alias(COMPLETE),
    )


def _shifted(time: Column, steps: Column, freq: str) -> Column:
    """``time`` plus ``steps`` periods of ``freq`` (the grid pandas' ``date_range`` makes), on the executors."""
    from pyspark.sql.functions import pandas_udf

    offset = pd.tseries.frequencies.to_offset(freq)

    @pandas_udf("timestamp")
    def shift(times: pd.Series, counts: pd.Series) -> pd.Series:
        out = pd.Series(pd.NaT, index=times.index, dtype=times.dtype)
        for count in counts.unique():
            at = counts == count
            out[at] = pd.DatetimeIndex(times[at]) + int(count) * offset
        return out

    return shift(time, steps)
