"""The global gradient-boosted forecaster (``type: gbt``): its lag, seasonal and calendar features computed in
Spark windows, its backtest errors as ``window_errors`` computes them, and the registered model's Spark-free
forecasts equal to the run's."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sparkwright.errors import ConfigError
from sparkwright.forecast.engine import SeriesColumns, backtests, regular_history
from sparkwright.forecast.global_features import (
    ACTUAL,
    COMPLETE,
    FEATURES,
    LABEL,
    LEVEL,
    ORIGIN,
    STEP,
    TARGET_TIME,
    FeatureSpec,
    stacked_rows,
)
from sparkwright.forecast.global_model import (
    FORECAST,
    ORIGIN_AT,
    SECONDS,
    WINDOW,
    GlobalModel,
    window_errors_of,
)
from sparkwright.forecast.runtime import GLOBAL_CLASS, Forecaster, global_features
from sparkwright.forecast.series import ModelEntry, SeriesSettings
from sparkwright.models import get_model_type
from sparkwright.tasks.forecasting import window_errors

COLUMNS = SeriesColumns("month", ("store",), "units")
GBT = ModelEntry("gbt", "gbt", {"n_estimators": 30, "max_depth": 3})
SETTINGS = SeriesSettings(
    freq="MS",
    season=12,
    horizon=3,
    fill="interpolate",
    min_length=24,
    windows=2,
    step=3,
    levels=(80, 95),
    models=(ModelEntry("seasonal_naive", "seasonal_naive"), GBT),
)


def test_gbt_is_the_forecasting_global_type_and_checks_its_params():
    assert type(get_model_type("gbt", "regression")).__name__ != type(get_model_type("gbt", "forecasting")).__name__
    gbt = get_model_type("gbt", "forecasting")
    gbt.validate_params({"lags": 6, "n_estimators": 50, "max_depth": 4, "learning_rate": 0.05})
    assert [gbt.lags({}, 12), gbt.lags({}, 1), gbt.lags({}, 168), gbt.lags({"lags": 5}, 12)] == [24, 2, 48, 5]
    with pytest.raises(ConfigError, match=r"models\[1\]\.params\.lags: must be an integer >= 1, got 0"):
        gbt.validate_params({"lags": 0}, "models[1].params")
    with pytest.raises(ConfigError, match=r"max_depht.*max_depth"):
        gbt.validate_params({"max_depht": 3}, "models[1].params")


def test_features_follow_their_definition(spark):
    """y = 1, 2, ..., 20 monthly; lags 3, season 4, horizon 5 (step 5 reads two seasons back)."""
    times = pd.date_range("2015-01-01", periods=20, freq="MS")
    y = np.arange(1.0, 21.0)
    regular = spark.createDataFrame(pd.DataFrame({"store": "a", "month": times, "units": y}))
    spec = FeatureSpec(lags=3, season=4, horizon=5, freq="MS")
    assert spec.names() == ["step", "lag_0", "lag_1", "lag_2", "seasonal", "std", "month"]
    rows = {(r[ORIGIN], r[STEP]): r for r in stacked_rows(regular, COLUMNS, spec).collect()}
    assert len(rows) == 20 * 5
    row = rows[(9, 5)]  # origin y[9] = 10, target y[14] = 15 in March 2016
    level = np.mean([7, 8, 9, 10])
    expected = [5, 10 / level, 9 / level, 8 / level, 7 / level, np.std([7, 8, 9, 10], ddof=1) / level, 3]
    assert row[FEATURES].toArray() == pytest.approx(expected)
    assert row[LEVEL] == pytest.approx(level) and row[LABEL] == pytest.approx(15 / level) and row[ACTUAL] == 15
    assert row[TARGET_TIME] == pd.Timestamp("2016-03-01") and row[COMPLETE]
    seasonal = rows[(9, 2)][FEATURES].toArray()[4]  # target y[11], a season before: y[7] = 8
    assert seasonal == pytest.approx(8 / level)
    young = rows[(1, 1)]  # two points seen: lag_2 before the start, level over what there is
    assert math.isnan(young[FEATURES].toArray()[3]) and young[LEVEL] == pytest.approx(1.5) and not young[COMPLETE]
    assert rows[(19, 1)][LABEL] is None  # past the end: a forecast row
    # The runtime computes the same rows from the history up to the origin.
    X, runtime_level = global_features(y[:10], pd.date_range("2015-11-01", periods=5, freq="MS"), spec.as_dict())
    spark_rows = np.array([rows[(9, s)][FEATURES].toArray() for s in range(1, 6)])
    assert runtime_level == pytest.approx(level)
    np.testing.assert_allclose(X, spark_rows, rtol=1e-12)


def test_window_errors_equal_the_per_series_definition(spark):
    """Two series, three windows: one whose history is within a season (the naive's scale), one constant (NaN)."""
    rng = np.random.default_rng(3)
    history = {"a": 100 + rng.normal(0, 5, 30), "b": np.full(30, 7.0)}
    regular = spark.createDataFrame(
        pd.DataFrame(
            [
                (store, at, float(v))
                for store, ys in history.items()
                for at, v in zip(pd.date_range("2015-01-01", periods=30, freq="MS"), ys, strict=True)
            ],
            columns=["store", "month", "units"],
        )
    )
    windows = [("a", 0, 10), ("a", 1, 20), ("b", 0, 25)]  # (store, window, origin); a's first within a season
    residuals, expected = [], {}
    for store, window, origin in windows:
        actual = history[store][origin : origin + 3]
        forecast = actual + rng.normal(0, 3, 3)
        forecast[0] = -actual[0] if store == "a" else forecast[0]  # a sign flip in sMAPE
        expected[(store, window)] = window_errors(actual, forecast, history[store][:origin], 12)
        residuals += [(store, window, origin, float(a), float(f), 0.5) for a, f in zip(actual, forecast, strict=True)]
    frame = spark.createDataFrame(residuals, ["store", WINDOW, ORIGIN_AT, ACTUAL, FORECAST, SECONDS])
    rows = window_errors_of(frame, regular, COLUMNS, 12).collect()
    assert len(rows) == 3
    for row in rows:
        want = expected[(row.store, row.window)]
        for name in ("points", "sae", "sse", "smape"):
            assert row[name] == pytest.approx(want[name], rel=1e-12)
        assert (math.isnan(row.mase) and math.isnan(want["mase"])) or row.mase == pytest.approx(want["mase"], rel=1e-12)
        assert row.seconds == pytest.approx(1.5)
    assert math.isnan(next(r for r in rows if r.store == "b").mase)


@pytest.fixture(scope="module")
def fitted(spark):
    """Stores of different sizes and lengths (c: one window only); the gbt backtested and forecast."""
    rows = []
    for store, n, scale in (("a", 48, 50.0), ("b", 60, 5000.0), ("c", 28, 1.0)):
        for t, at in enumerate(pd.date_range("2015-01-01", periods=n, freq="MS")):
            rows.append((store, at, scale * (10 + 3 * np.sin(t * np.pi / 6) + 0.2 * t)))
    history = spark.createDataFrame(pd.DataFrame(rows, columns=["store", "month", "units"]))
    regular = regular_history(history, COLUMNS, SETTINGS).cache()
    model = GlobalModel(regular, COLUMNS, SETTINGS, GBT)
    backtested = model.backtests().toPandas()
    forecasted = model.forecasts().toPandas()
    yield history, regular, model, backtested, forecasted
    model.unpersist()
    regular.unpersist()


def test_backtest_rows_are_the_per_series_engines(fitted):
    history, _regular, _model, backtested, _ = fitted
    per_series = backtests(history, COLUMNS, replace(SETTINGS, models=SETTINGS.models[:1]))
    per_series = per_series.toPandas()
    assert list(backtested.columns) == list(per_series.columns)
    assert (
        set(zip(backtested.store, backtested.window, strict=True))
        == set(zip(per_series.store, per_series.window, strict=True))
        == {("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0)}
    )
    assert (backtested.status == "ok").all() and (backtested.points == 3).all() and backtested.mase.notna().all()
    assert (backtested.model == "gbt").all() and (backtested.seconds > 0).all()


def test_forecasts_have_nested_intervals_from_the_backtest(fitted):
    _, _, model, _, forecasted = fitted
    assert model.interval_source == "backtest" and set(model.widths) == {80, 95}
    assert all(w80 <= w95 for w80, w95 in zip(model.widths[80], model.widths[95], strict=True))
    a = forecasted[forecasted.store == "a"].sort_values("month")
    assert list(a.month) == list(pd.date_range("2019-01-01", periods=3, freq="MS"))
    assert (forecasted.lo_95 <= forecasted.lo_80).all() and (forecasted.lo_80 <= forecasted.forecast).all()
    assert (forecasted.forecast <= forecasted.hi_80).all() and (forecasted.hi_80 <= forecasted.hi_95).all()
    b = forecasted[forecasted.store == "b"].forecast
    assert b.between(5000 * 5, 5000 * 40).all()  # on b's scale, though one model serves every store


def test_runtime_forecasts_equal_the_spark_forecasts(fitted, tmp_path):
    _, regular, model, _, forecasted = fitted
    meta = {
        "series": ["store"],
        "time": "month",
        "value": "units",
        "freq": "MS",
        "horizon": 3,
        "levels": [80, 95],
        "models": [{"key": [s], "name": "gbt", "class": GLOBAL_CLASS, "kwargs": {"model": "gbt"}} for s in "abc"],
        "global_models": {"gbt": model.runtime_spec()},
    }
    saved = Forecaster(meta, regular.toPandas(), {model.booster_file: model.booster}).save(tmp_path / "f")
    answer = Forecaster.load(saved).forecast(pd.DataFrame({"store": ["a", "b", "c"]}))
    merged = answer.merge(forecasted, on=["store", "month"], suffixes=("", "_spark"))
    assert len(merged) == 9 and (merged.model == "gbt").all()
    for name in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        assert merged[name].to_numpy() == pytest.approx(merged[f"{name}_spark"].to_numpy(), rel=1e-6)
    assert len(Forecaster.load(saved).forecast(pd.DataFrame({"store": ["b"], "horizon": [2]}))) == 2
    with pytest.raises(ValueError, match="ask for at most 3"):
        Forecaster.load(saved).forecast(pd.DataFrame({"store": ["b"], "horizon": [4]}))


def test_without_backtest_windows_the_intervals_come_from_in_sample_errors(fitted):
    """min_length above every series' length before a window: no backtest rows, in-sample widths."""
    _, regular, _, _, _ = fitted
    short = replace(SETTINGS, min_length=100)
    model = GlobalModel(regular, COLUMNS, short, GBT)
    try:
        assert model.backtests().count() == 0
        forecasted = model.forecasts().toPandas()
        assert model.interval_source == "in-sample" and len(forecasted) == 9
        assert (forecasted.lo_95 <= forecasted.forecast).all() and (forecasted.forecast <= forecasted.hi_95).all()
    finally:
        model.unpersist()
