"""ETS on many series: sparkwright's forecasting engine against statsforecast's own parallel API and a
hand-written ``applyInPandas`` loop, the library choice (statsforecast vs statsmodels), and the backtest's
cost growth with the number of series.

    .venv/bin/python benchmarks/bench_forecasting.py [--series 1000] [--points 120] [--growth 100,1000,10000]
        [--growth-windows 2]

Data: synthetic monthly series (seeded NumPy): a level, a trend, a 12-month season and noise, each series its
own; the last 12 points of each are held out and judged by sMAPE.

1. **Fit + forecast ETS** (``AutoETS(season_length=12)``, horizon 12, 80% and 95% intervals) of every series:
   statsforecast's ``StatsForecast(..., n_jobs=2).forecast`` on one pandas frame (the library's own parallel
   API, 2 processes); sparkwright's ``forecast.engine.forecasts`` on a cached Spark DataFrame of the same rows
   (``local[2]``); a hand-written ``groupBy(...).applyInPandas`` that fits ``AutoETS`` per series. Each
   contender runs once untimed, then ``--repeats`` times alternating; medians compared.
2. **Library**: statsforecast's ``AutoETS`` against statsmodels' ``ETSModel`` (additive error, trend and
   season, fitted by maximum likelihood) on the first 100 series in one process: seconds per series, sMAPE.
3. **Backtest growth**: ``forecast.engine.backtests`` (seasonal naive + ETS, ``--growth-windows`` windows of 12)
   for each size in ``--growth``: seconds and seconds per series.

Prints the tables; writes benchmarks/results/forecasting.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HORIZON = 12
SEASON = 12


def synthetic(series: int, points: int, seed: int = 7) -> pd.DataFrame:
    """``unique_id, ds, y``: ``series`` monthly series of ``points`` points each."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    frames = []
    for i in range(series):
        level, trend, amplitude = rng.uniform(50, 500), rng.uniform(-0.5, 1.5), rng.uniform(5, 60)
        phase, noise = rng.uniform(0, 2 * np.pi), rng.uniform(2, 15)
        y = level + trend * t + amplitude * np.sin(2 * np.pi * t / SEASON + phase) + rng.normal(0, noise, points)
        frames.append(
            pd.DataFrame(
                {"unique_id": f"s{i:05d}", "ds": pd.date_range("2010-01-01", periods=points, freq="MS"), "y": y}
            )
        )
    return pd.concat(frames, ignore_index=True)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = frame.groupby("unique_id").cumcount(ascending=False) < HORIZON
    return frame[~last], frame[last]


def smape(actual: pd.DataFrame, forecast: pd.DataFrame, column: str) -> float:
    """Mean sMAPE (points) of ``forecast[column]`` against the held-out ``actual`` rows."""
    joined = actual.merge(forecast[["unique_id", "ds", column]], on=["unique_id", "ds"])
    assert len(joined) == len(actual), (len(joined), len(actual))
    a, f = joined["y"].to_numpy(), joined[column].to_numpy()
    return float(np.mean(200 * np.abs(f - a) / (np.abs(a) + np.abs(f))))


def run_statsforecast(train: pd.DataFrame) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    sf = StatsForecast(models=[AutoETS(season_length=SEASON)], freq="MS", n_jobs=2)
    out = sf.forecast(df=train, h=HORIZON, level=[80, 95])
    return out.reset_index() if "unique_id" not in out.columns else out


def series_settings(models: tuple, windows: int, levels: tuple) -> Any:
    """The engine's settings for the synthetic monthly series."""
    from sparkwright.forecast.series import SeriesSettings

    return SeriesSettings(
        freq="MS",
        season=SEASON,
        horizon=HORIZON,
        fill="interpolate",
        min_length=2 * SEASON,
        windows=windows,
        step=HORIZON,
        levels=levels,
        models=models,
    )


def run_sparkwright(spark_train) -> pd.DataFrame:
    from sparkwright.forecast.engine import SeriesColumns, forecasts
    from sparkwright.forecast.series import ModelEntry

    settings = series_settings((ModelEntry("ets", "ets"),), windows=1, levels=(80, 95))
    out = forecasts(spark_train, SeriesColumns("ds", ("unique_id",), "y"), settings).toPandas()
    return out.rename(columns={"forecast": "AutoETS"})


def run_hand_written(spark_train) -> pd.DataFrame:
    def fit(frame: pd.DataFrame) -> pd.DataFrame:
        from statsforecast.models import AutoETS

        frame = frame.sort_values("ds")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = AutoETS(season_length=SEASON).forecast(y=frame["y"].to_numpy(float), h=HORIZON, level=[80, 95])
        future = pd.date_range(frame["ds"].iloc[-1], periods=HORIZON + 1, freq="MS")[1:]
        result = pd.DataFrame({"unique_id": frame["unique_id"].iloc[0], "ds": future, "AutoETS": out["mean"]})
        for level in (80, 95):
            result[f"lo_{level}"], result[f"hi_{level}"] = out[f"lo-{level}"], out[f"hi-{level}"]
        return result

    schema = "unique_id string, ds timestamp, AutoETS double, lo_80 double, hi_80 double, lo_95 double, hi_95 double"
    return spark_train.groupBy("unique_id").applyInPandas(fit, schema).toPandas()


def library_choice(train: pd.DataFrame, test: pd.DataFrame, series: int = 100) -> dict:
    """statsforecast AutoETS vs statsmodels ETSModel, one process, on the first ``series`` series."""
    from statsforecast.models import AutoETS
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    ids = sorted(train["unique_id"].unique())[:series]
    results: dict[str, dict] = {}
    for name in ("statsforecast AutoETS", "statsmodels ETSModel (A,A,A)"):
        rows, started = [], time.perf_counter()
        for uid in ids:
            y = train.loc[train.unique_id == uid, "y"].to_numpy(float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if name.startswith("statsforecast"):
                    mean = AutoETS(season_length=SEASON).forecast(y=y, h=HORIZON)["mean"]
                else:
                    fitted = ETSModel(y, error="add", trend="add", seasonal="add", seasonal_periods=SEASON).fit(
                        disp=False
                    )
                    mean = fitted.forecast(HORIZON)
            future = pd.date_range(train.loc[train.unique_id == uid, "ds"].iloc[-1], periods=HORIZON + 1, freq="MS")[1:]
            rows.append(pd.DataFrame({"unique_id": uid, "ds": future, "f": mean}))
        seconds = time.perf_counter() - started
        held = test[test.unique_id.isin(ids)]
        results[name] = {"seconds_per_series": seconds / len(ids), "smape": smape(held, pd.concat(rows), "f")}
    return results


def backtest_growth(spark, sizes: list[int], points: int, windows: int) -> list[dict]:
    from sparkwright.forecast.engine import SeriesColumns, backtests
    from sparkwright.forecast.series import ModelEntry

    settings = series_settings(
        (ModelEntry("baseline", "seasonal_naive"), ModelEntry("ets", "ets")), windows=windows, levels=()
    )
    out = []
    for size in sizes:
        frame = spark.createDataFrame(synthetic(size, points, seed=11)).repartition(4).cache()
        frame.count()
        started = time.perf_counter()
        rows = backtests(frame, SeriesColumns("ds", ("unique_id",), "y"), settings).where("status = 'ok'").count()
        seconds = time.perf_counter() - started
        frame.unpersist()
        out.append({"series": size, "windows_fitted": rows, "seconds": seconds, "ms_per_series": 1000 * seconds / size})
        print(f"backtest {size:>6} series: {seconds:7.1f}s ({1000 * seconds / size:.1f} ms per series, {rows} windows)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--growth", default="100,1000,10000")
    parser.add_argument("--growth-windows", type=int, default=2, help="backtest windows in the growth runs")
    args = parser.parse_args()

    from sparkwright.session import get_session

    spark = get_session()
    train, test = split(synthetic(args.series, args.points))
    spark_train = spark.createDataFrame(train).repartition(4).cache()
    spark_train.count()
    contenders = {
        "statsforecast n_jobs=2": lambda: run_statsforecast(train),
        "sparkwright engine": lambda: run_sparkwright(spark_train),
        "hand-written applyInPandas": lambda: run_hand_written(spark_train),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    scores: dict[str, float] = {}
    for name, contender in contenders.items():  # warm-up: worker start, imports
        scores[name] = smape(test, contender(), "AutoETS")
    for repeat in range(args.repeats):
        order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        for name in order:
            started = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - started)
    reference = statistics.median(times["statsforecast n_jobs=2"])
    table = {
        name: {
            "median_seconds": statistics.median(t),
            "repeats": t,
            "ratio": statistics.median(t) / reference,
            "smape": scores[name],
        }
        for name, t in times.items()
    }
    print(f"ETS fit + forecast, {args.series} series x {args.points} points (horizon {HORIZON}, 80/95% intervals):")
    for name, row in table.items():
        print(f"  {name:28s} {row['median_seconds']:7.1f}s  {row['ratio']:.2f}x  sMAPE {row['smape']:.3f}")
    library = library_choice(train, test)
    for name, row in library.items():
        print(f"  {name:32s} {1000 * row['seconds_per_series']:7.1f} ms per series, sMAPE {row['smape']:.3f}")
    growth = backtest_growth(spark, [int(s) for s in args.growth.split(",") if s], args.points, args.growth_windows)
    out = {"args": vars(args), "ets": table, "library": library, "backtest_growth": growth}
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "forecasting.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
