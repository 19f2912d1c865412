"""Per-series routing: each series forecast by the model that backtested best on it.

The choice is honest about time. To score routing, window ``w`` of a series is forecast by the model with
the best mean error over that series' windows before ``w``, the way a forecaster who re-chooses every period
would have done; window 0 has nothing to choose on and is the baseline's. So the routed forecast is scored
on the same windows as every other model. The final
choice, which the forecasts and the registered model use, is made on every window.

A model is a candidate for a series only where it backtested every window up to the choice (one failure
rules it out) and forecast the window being scored (for the final choice: forecast the series), so a model
that fails leaves the series to the next best instead of to no forecast. Ties, and series where every candidate's error
is NaN (a constant history has no MASE), go to the model listed first: the seasonal naive baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sparkwright.tasks.forecasting import OK

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# The leaderboard's name for the routed forecast.
ROUTED = "routed"


def routed_backtests(backtested: DataFrame, keys: Sequence[str], metric: str, models: Sequence[str]) -> DataFrame:
    """Backtest rows of the routed forecast (model :data:`ROUTED`): for each series and window, the row of the
    model with the best mean ``metric`` on the series' earlier windows (the ``chosen`` column); window 0, with
    nothing before it, is the first listed model's (the baseline's)."""
    from pyspark.sql import functions as F

    ok = _ok(backtested, keys, metric)
    earlier = ok.alias("b")
    later = ok.select(*keys, F.col("window").alias("target")).distinct().alias("a")
    on = [F.col(f"a.`{k}`").eqNullSafe(F.col(f"b.`{k}`")) for k in keys] + [F.col("b.window") < F.col("a.target")]
    record = (
        later.join(earlier, on)
        .groupBy(*[F.col(f"a.`{k}`").alias(k) for k in keys], F.col("a.target").alias("window"), F.col("b.model"))
        .agg(F.count("*").alias("windows"), F.avg("score").alias("score"))
        .where(F.col("windows") == F.col("window"))  # every earlier window backtested
        .join(ok.select(*keys, "model", "window"), [*keys, "model", "window"], "left_semi")  # and this one
    )
    chosen = _best(record, [*keys, "window"], models).select(*keys, "window", "model")
    first = ok.where((F.col("window") == 0) & (F.col("model") == models[0])).select(*keys, "window", "model")
    chosen = chosen.unionByName(first)  # nothing to choose on yet: the model listed first (the baseline)
    rows = backtested.where(F.col("status") == OK).join(chosen, [*keys, "window", "model"], "left_semi")
    return rows.withColumn("chosen", F.col("model")).withColumn("model", F.lit(ROUTED))


def choose(
    backtested: DataFrame, forecasted: DataFrame, keys: Sequence[str], metric: str, models: Sequence[str]
) -> DataFrame:
    """One row per series: ``model`` (the choice), ``score`` (its mean ``metric`` over the windows), ``windows``;
    among the models that backtested every window of the series and forecast it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ok = _ok(backtested, keys, metric)
    per_model = ok.groupBy(*keys, "model").agg(F.count("*").alias("windows"), F.avg("score").alias("score"))
    most = Window.partitionBy(*[F.col(f"`{k}`") for k in keys])
    complete = per_model.withColumn("most", F.max("windows").over(most)).where("windows = most").drop("most")
    forecast = forecasted.where((F.col("status") == OK) & F.col("model").isNotNull()).select(*keys, "model").distinct()
    candidates = complete.join(forecast, [*keys, "model"], "left_semi")
    return _best(candidates, keys, models)


def routed_forecasts(forecasted: DataFrame, choice: DataFrame, keys: Sequence[str]) -> DataFrame:
    """The chosen model's forecast rows of every series, as model :data:`ROUTED` (the choice in ``chosen``)."""
    from pyspark.sql import functions as F

    rows = forecasted.where(F.col("status") == OK).join(choice.select(*keys, "model"), [*keys, "model"], "left_semi")
    return rows.withColumn("chosen", F.col("model")).withColumn("model", F.lit(ROUTED))


def _ok(backtested: DataFrame, keys: Sequence[str], metric: str) -> DataFrame:
    """``keys, model, window, score``: the windows each model backtested, NaN scores as null (ranked last)."""
    from pyspark.sql import functions as F

    score = F.when(~F.isnan(metric), F.col(metric))
    rows = backtested.where((F.col("status") == OK) & F.col("model").isNotNull())
    return rows.select(*keys, "model", "window", score.alias("score"))


def _best(candidates: DataFrame, by: Sequence[str], models: Sequence[str]) -> DataFrame:
    """The row of ``candidates`` with the lowest ``score`` per ``by`` (ties: the model listed first)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*[F.col(f"`{c}`") for c in by]).orderBy(F.col("score").asc_nulls_last(), _listed(models))
    return candidates.withColumn("rank", F.row_number().over(order)).where("rank = 1").drop("rank")


def _listed(models: Sequence[str]) -> Column:
    """A model's position in the project's list (the tie-break)."""
    from pyspark.sql import functions as F

    position = F.lit(len(models))
    for index, name in reversed(list(enumerate(models))):
        position = F.when(F.col("model") == name, F.lit(index)).otherwise(position)
    return position
