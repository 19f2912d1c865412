"""Scoring without Spark: the exported NumPy scorer against Spark's ``transform`` of the same fitted pipeline.

    .venv/bin/python benchmarks/bench_export.py [--train-rows 20000] [--batch-rows 10000] [--repeats 5]

Two pipelines on a hotel-rates-like mix of 6 categorical and 8 numeric columns (with gaps): a random forest
(40 trees, depth 10, categoricals as indices, as sparkwright builds trees) and a linear regression
(sparkwright's one-hot feature stages). Each is scored one row at a time and 10K rows at a time by

- the exported scorer (``ExportedScorer.predict``, pandas in and out) and its MLflow pyfunc model
  (``mlflow.pyfunc.load_model(...).predict``, which adds MLflow's schema check),
- Spark: ``createDataFrame(pandas) -> transform -> toPandas`` (pandas in and out, what a service holding
  pandas rows would run), and ``transform -> toPandas`` of an already cached Spark DataFrame.

Prints median seconds and the ratios Spark / exported; writes benchmarks/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.feature import Imputer, StringIndexer, VectorAssembler
from pyspark.ml.regression import LinearRegression, RandomForestRegressor

from sparkwright.deploy.export import export_pipeline, save_pyfunc
from sparkwright.features import build_feature_stages
from sparkwright.session import get_session

CATEGORICAL = {
    "hotel": ["city", "resort"],
    "meal": ["bed_and_breakfast", "half_board", "full_board", "room_only"],
    "room_type": list("ABCDEFG"),
    "market_segment": ["online", "offline", "direct", "corporate", "groups"],
    "channel": ["ta_to", "direct", "corporate"],
    "country": [f"c{i:02d}" for i in range(60)],
}
NUMERIC = [
    "lead_time",
    "weekend_nights",
    "week_nights",
    "adults",
    "children",
    "special_requests",
    "parking",
    "previous_cancellations",
]
LABEL = "avg_price_per_room"


def hotel_like(n: int, seed: int) -> pd.DataFrame:
    """Rows whose price depends on most columns; 5% of lead_time and children missing."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {name: rng.choice(levels, n) for name, levels in CATEGORICAL.items()}
    data["lead_time"] = rng.gamma(2.0, 40.0, n)
    data["weekend_nights"] = rng.integers(0, 4, n).astype(float)
    data["week_nights"] = rng.integers(0, 8, n).astype(float)
    data["adults"] = rng.integers(1, 4, n).astype(float)
    data["children"] = rng.integers(0, 3, n).astype(float)
    data["special_requests"] = rng.integers(0, 5, n).astype(float)
    data["parking"] = rng.integers(0, 2, n).astype(float)
    data["previous_cancellations"] = rng.poisson(0.1, n).astype(float)
    room = np.searchsorted(CATEGORICAL["room_type"], data["room_type"])
    country = np.array([int(c[1:]) for c in data["country"]])
    price = 70 + 12 * room + 25 * (data["hotel"] == "city") + 15 * (data["meal"] == "half_board") + (country % 7) * 4
    price = price + 0.1 * data["lead_time"] + 9 * data["adults"] + 6 * data["children"] + rng.normal(0, 10, n)
    data[LABEL] = price
    for name in ("lead_time", "children"):
        data[name] = np.where(rng.random(n) < 0.05, np.nan, data[name])
    return pd.DataFrame(data)


def pipelines() -> dict[str, Pipeline]:
    categorical, indexed = list(CATEGORICAL), [f"{c}_idx" for c in CATEGORICAL]
    imputed = [f"{c}_imp" for c in NUMERIC]
    forest = Pipeline(
        stages=[
            StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"),
            Imputer(inputCols=NUMERIC, outputCols=imputed, strategy="median"),
            VectorAssembler(inputCols=[*indexed, *imputed], outputCol="features"),
            RandomForestRegressor(labelCol=LABEL, numTrees=40, maxDepth=10, maxBins=64, seed=42),
        ]
    )
    linear = Pipeline(
        stages=[
            *build_feature_stages(categorical, NUMERIC, impute="median", features_col="features"),
            LinearRegression(labelCol=LABEL, regParam=0.01),
        ]
    )
    return {"random_forest": forest, "linear_regression": linear}


def timed(function: Callable[[], object], repeats: int) -> dict[str, float]:
    """Median, p90 and min seconds of ``repeats`` calls after one warm-up call."""
    function()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return {
        "median": statistics.median(seconds),
        "p90": seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))],
        "min": seconds[0],
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="Repeats of each Spark batch measurement.")
    args = parser.parse_args()

    spark = get_session()
    train_pdf = hotel_like(args.train_rows, seed=1)
    batch_pdf = hotel_like(args.batch_rows, seed=2).drop(columns=[LABEL])
    row_pdf = batch_pdf.iloc[:1]
    train = spark.createDataFrame(train_pdf).cache()
    batch = spark.createDataFrame(batch_pdf).cache()
    batch.count()

    report: dict[str, dict] = {}
    for name, pipeline in pipelines().items():
        started = time.perf_counter()
        model = pipeline.fit(train)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scorer = export_pipeline(model, batch.schema)
        export_seconds = time.perf_counter() - started
        folder = save_pyfunc(scorer, Path(tempfile.mkdtemp(prefix="bench-export-")) / "model")
        pyfunc = mlflow.pyfunc.load_model(str(folder))

        expected = model.transform(batch).select("prediction").toPandas()["prediction"].to_numpy()
        got = scorer.predict(batch_pdf)["prediction"].to_numpy()
        difference = float(np.max(np.abs(expected - got) / np.maximum(np.abs(expected), 1e-300)))

        def spark_pandas(pdf: pd.DataFrame, model=model) -> pd.DataFrame:
            return model.transform(spark.createDataFrame(pdf)).select("prediction").toPandas()

        def spark_cached(df, model=model) -> pd.DataFrame:
            return model.transform(df).select("prediction").toPandas()

        row_df = spark.createDataFrame(row_pdf).cache()
        row_df.count()
        timings = {
            "single_row": {
                "exported": timed(lambda s=scorer: s.predict(row_pdf), 300),
                "exported_pyfunc": timed(lambda p=pyfunc: p.predict(row_pdf), 300),
                "spark_from_pandas": timed(lambda: spark_pandas(row_pdf), 20),
                "spark_cached": timed(lambda df=row_df: spark_cached(df), 20),
            },
            f"{args.batch_rows}_rows": {
                "exported": timed(lambda s=scorer: s.predict(batch_pdf), 20),
                "exported_pyfunc": timed(lambda p=pyfunc: p.predict(batch_pdf), 20),
                "spark_from_pandas": timed(lambda: spark_pandas(batch_pdf), args.repeats),
                "spark_cached": timed(lambda: spark_cached(batch), args.repeats),
            },
        }
        report[name] = {
            "fit_seconds": fit_seconds,
            "export_seconds": export_seconds,
            "max_relative_difference": difference,
            "timings": timings,
        }
        print_model(name, report[name])

    out = Path(__file__).resolve().parent / "results" / "export.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"train_rows": args.train_rows, "batch_rows": args.batch_rows, **report}, indent=2))
    print(f"\nwrote {out}")


def print_model(name: str, result: dict) -> None:
    print(
        f"\n{name}: fit {result['fit_seconds']:.1f} s, export {result['export_seconds']:.2f} s, "
        f"max relative difference to Spark {result['max_relative_difference']:.1e}"
    )
    print(f"{'':12} {'exported ms':>12} {'pyfunc ms':>10} {'Spark+pandas ms':>16} {'Spark cached ms':>16}  ratios")
    for size, timings in result["timings"].items():
        exported = timings["exported"]["median"]
        cells = [
            timings[k]["median"] * 1000 for k in ("exported", "exported_pyfunc", "spark_from_pandas", "spark_cached")
        ]
        ratios = (
            f"Spark+pandas / exported {timings['spark_from_pandas']['median'] / exported:,.0f}x, "
            f"cached / exported {timings['spark_cached']['median'] / exported:,.0f}x"
        )
        print(f"{size:12} {cells[0]:12.2f} {cells[1]:10.2f} {cells[2]:16.1f} {cells[3]:16.1f}  {ratios}")


if __name__ == "__main__":
    main()
