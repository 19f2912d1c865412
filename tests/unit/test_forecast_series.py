"""Forecasting, one series at a time (pandas, no Spark): frequency, regular series and gap rules, backtest
windows, errors, and a model that fails or a series too short reported instead of ending the run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sparkwright.errors import DataError
from sparkwright.forecast.frequency import infer_frequency, season_length
from sparkwright.forecast.series import FAILED, TOO_SHORT, ModelEntry, SeriesSettings, backtest, forecast, regular
from sparkwright.tasks.forecasting import OK, window_errors


def _settings(**changes) -> SeriesSettings:
    values = {
        "freq": "MS",
        "season": 12,
        "horizon": 3,
        "fill": "interpolate",
        "min_length": 24,
        "windows": 2,
        "step": 3,
        "levels": (80, 95),
        "models": (ModelEntry("seasonal_naive", "seasonal_naive"), ModelEntry("ets", "ets")),
    }
    return SeriesSettings(**{**values, **changes})


def _monthly(n: int, start: str = "2010-01-01") -> tuple[pd.Series, pd.Series]:
    times = pd.Series(pd.date_range(start, periods=n, freq="MS"))
    values = pd.Series(100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 12) + np.arange(n) * 0.5)
    return times, values


def test_frequency_is_inferred_across_gaps_and_gives_the_season():
    times = list(pd.date_range("2000-01-01", periods=30, freq="MS").delete([1, 2, 17]))
    assert infer_frequency(times) == "MS" and season_length("MS") == 12
    assert season_length("W-SUN") == 52 and season_length("D") == 7 and season_length("YS") == 1
    with pytest.raises(DataError, match=r"forecasting\.frequency"):
        infer_frequency([pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-04"), pd.Timestamp("2000-01-06")])


@pytest.mark.parametrize(
    ("rule", "filled"),
    [("interpolate", [1.0, 2.0, 3.0, 4.0]), ("previous", [1.0, 1.0, 1.0, 4.0]), ("zero", [1.0, 0.0, 0.0, 4.0])],
)
def test_gaps_are_filled_by_the_stated_rule(rule, filled):
    times = pd.Series(pd.to_datetime(["2020-01-01", "2020-04-01"]))
    series = regular(times, pd.Series([1.0, 4.0]), _settings(fill=rule))
    assert list(series.index.month) == [1, 2, 3, 4] and list(series) == filled


def test_a_time_off_the_grid_is_refused_with_the_time():
    times = pd.Series(pd.to_datetime(["2020-01-01", "2020-02-01", "2020-02-15"]))
    with pytest.raises(ValueError, match=r"2020-02-15.*MS grid"):
        regular(times, pd.Series([1.0, 2.0, 3.0]), _settings())


def test_window_errors_match_their_definitions():
    history = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 8.0])  # season 2: |4-1|, |3-2|, |5-4|, |8-3| -> scale 2.5
    actual, predicted = np.array([10.0, 0.0]), np.array([8.0, 1.0])
    errors = window_errors(actual, predicted, history, season=2)
    assert errors["points"] == 2 and errors["sae"] == 3 and errors["sse"] == 5
    assert errors["mase"] == pytest.approx(1.5 / 2.5)
    assert errors["smape"] == pytest.approx(100 * (2 * 2 / 18 + 2 * 1 / 1) / 2)
    assert math.isnan(window_errors(actual, predicted, np.ones(6), season=2)["mase"])  # nothing to scale by


def test_backtest_windows_roll_forward_and_score_every_model():
    times, values = _monthly(40)
    settings = _settings()
    assert settings.origins(40) == [34, 37]
    rows = list(backtest(("a",), times, values, settings))
    assert [(r["model"], r["window"], r["status"]) for r in rows] == [
        ("seasonal_naive", 0, OK),
        ("seasonal_naive", 1, OK),
        ("ets", 0, OK),
        ("ets", 1, OK),
    ]
    naive = rows[1]  # forecasts months 37-39 with months 25-27
    y = values.to_numpy()
    assert naive["sae"] == pytest.approx(np.abs(y[37:40] - y[25:28]).sum())
    assert rows[3]["mase"] < naive["mase"]  # the trend ETS sees beats last season's values


def test_a_short_series_and_a_failing_model_are_reported_not_raised():
    times, values = _monthly(20)
    [short] = backtest(("b",), times, values, _settings())
    assert short["status"] == TOO_SHORT and short["model"] is None and "min_length = 24" in short["message"]
    # ETS refuses a history this short; the seasonal naive still forecasts it.
    tiny = _settings(min_length=4, season=1, horizon=2, windows=1)
    rows = list(backtest(("c",), *_monthly(7), tiny))
    assert [(r["model"], r["status"]) for r in rows] == [("seasonal_naive", OK), ("ets", FAILED)]
    assert "tiny datasets" in rows[1]["message"]


def test_forecasts_carry_both_intervals_from_the_end_of_the_series():
    times, values = _monthly(36)
    rows = [r for r in forecast(("a",), times, values, _settings()) if r["model"] == "ets"]
    assert [r["time"] for r in rows] == list(pd.date_range("2013-01-01", periods=3, freq="MS"))
    for r in rows:
        assert r["lo_95"] < r["lo_80"] < r["forecast"] < r["hi_80"] < r["hi_95"]
