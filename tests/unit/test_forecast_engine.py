"""Forecasting on Spark: every series backtested and forecast on the executors, a failing and a short series
reported with their keys, and the models scored over every window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparkwright.forecast.engine import SeriesColumns, backtests, forecasts
from sparkwright.forecast.series import ModelEntry, SeriesSettings
from sparkwright.tasks.forecasting import scores

SETTINGS = SeriesSettings(
    freq="MS",
    season=12,
    horizon=3,
    fill="interpolate",
    min_length=24,
    windows=2,
    step=3,
    levels=(80, 95),
    models=(ModelEntry("seasonal_naive", "seasonal_naive"), ModelEntry("theta", "theta")),
)


@pytest.fixture(scope="module")
def monthly(spark):
    """Three stores: 'a' and 'b' seasonal with a trend (b missing two months), 'short' 12 months, 'odd' with a
    time off the monthly grid."""
    rows = []
    for store, n in (("a", 40), ("b", 40), ("short", 12), ("odd", 30)):
        for t, at in enumerate(pd.date_range("2015-01-01", periods=n, freq="MS")):
            if store == "b" and t in (10, 11):
                continue
            rows.append(
                (
                    store,
                    at + pd.Timedelta(days=3 if store == "odd" and t == 5 else 0),
                    50 + 5 * np.sin(t * np.pi / 6) + t,
                )
            )
    return spark.createDataFrame(pd.DataFrame(rows, columns=["store", "month", "units"]))


def test_backtests_report_every_series_and_score_the_models(monthly):
    columns = SeriesColumns("month", ("store",), "units")
    rows = backtests(monthly, columns, SETTINGS).collect()
    status = {(r.store, r.model, r.window): r.status for r in rows}
    assert {k: v for k, v in status.items() if k[0] in ("a", "b")} == {
        (s, m, w): "ok" for s in ("a", "b") for m in ("seasonal_naive", "theta") for w in (0, 1)
    }
    assert status[("short", None, None)] == "too_short"
    odd = next(r for r in rows if r.store == "odd")
    assert odd.status == "failed" and "2015-06-04" in odd.message
    scored = scores(backtests(monthly, columns, SETTINGS))
    assert set(scored) == {"seasonal_naive", "theta"}
    assert scored["theta"]["mase"] < scored["seasonal_naive"]["mase"]  # the trend


def test_forecasts_are_keyed_by_series_and_time(monthly):
    columns = SeriesColumns("month", ("store",), "units")
    out = forecasts(monthly, columns, SETTINGS).where("status = 'ok'").toPandas()
    assert sorted(out.store.unique()) == ["a", "b"]
    a = out[(out.store == "a") & (out.model == "theta")].sort_values("month")
    assert list(a.month) == list(pd.date_range("2018-05-01", periods=3, freq="MS"))
    assert (a.lo_95 < a.forecast).all() and (a.forecast < a.hi_95).all()


def test_regular_history_is_what_the_models_fit(monthly):
    """Gaps filled ('b' misses two months), and nothing for the series that cannot be fitted."""
    from sparkwright.forecast.engine import regular_history

    columns = SeriesColumns("month", ("store",), "units")
    rows = regular_history(monthly, columns, SETTINGS).toPandas()
    assert sorted(rows.store.unique()) == ["a", "b"] and (rows.groupby("store").size() == 40).all()
    b = rows[rows.store == "b"].sort_values("month").units.to_numpy()
    assert b[10] == pytest.approx(b[9] + (b[12] - b[9]) / 3)  # interpolated


def test_series_are_spread_over_every_task_slot_and_grouped_without_another_shuffle(spark):
    """A small input would otherwise be coalesced into one partition by adaptive execution: one core fits
    every series while the others idle."""
    from pyspark.sql import functions as F

    from sparkwright.models.driver_data import task_slots
    from sparkwright.models.partitions import PARTITIONS_PER_SLOT, spread_groups

    frame = spark.createDataFrame([(f"s{i:03d}", float(t)) for i in range(60) for t in range(5)], "k string, v double")
    spread = spread_groups(frame, ["k"])
    partitions = task_slots(spark) * PARTITIONS_PER_SLOT
    assert spread.rdd.getNumPartitions() == partitions
    placed = spread.select("k", F.spark_partition_id().alias("p")).distinct().toPandas()
    assert placed.groupby("k")["p"].nunique().max() == 1  # a series' points stay in one partition
    per_partition = placed.groupby("p")["k"].count()
    assert len(per_partition) == partitions and per_partition.max() <= 2 * per_partition.min()

    grouped = spread.groupBy("k").applyInPandas(lambda f: f.head(1), "k string, v double")
    plan = grouped._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1, plan  # groupBy reuses the range partitioning
    assert grouped.count() == 60
