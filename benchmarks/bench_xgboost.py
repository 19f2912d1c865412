"""``type: xgboost`` against native xgboost with 2 threads on the same data, in one process (issue 4a).

    .venv/bin/python benchmarks/bench_xgboost.py [--rows 1000000] [--features 20] [--repeats 2]

Synthetic data (numpy, seeded) is given to native ``xgboost.XGBRegressor`` / ``XGBClassifier``
(``n_jobs=2, tree_method="hist"``) as arrays and to the Spark contenders as a cached DataFrame with an
assembled feature vector: sparkwright's ``type: xgboost`` with ``training: auto`` (which picks the
driver path at this size) and ``training: distributed``, and plain ``xgboost.spark`` with
``num_workers=2`` as the reference. Same params everywhere: 100 trees, depth 6. Fit times alternate in
order across repeats (medians and minima reported); quality (RMSE, ROC AUC) is measured on a held-out
set. The machine may be shared: before each fit the script waits (up to --max-wait s) until other
processes take less than --quiet-share of the CPU, measures again (up to --retries times) when they took
more than twice that during the fit, and reports their share during each kept fit.
Prints ratios to native and writes benchmarks/results/xgboost.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from sklearn.metrics import roc_auc_score
from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

from proc_tree import descendants, process_table
from sparkwright.models import Target, get_model_type
from sparkwright.session import get_session

TREES, DEPTH = 100, 6
PARAMS = {"n_estimators": TREES, "max_depth": DEPTH}


class CpuMeter:
    """What share of the machine's CPU other processes (not this one, its JVM or its Python workers) take.

    The machine is shared: before each timed fit the benchmark waits, up to ``max_wait`` seconds, until
    others take less than ``quiet_share`` of the CPU for a second, and it records their share during
    the fit. Linux /proc only; elsewhere it measures nothing.
    """

    def __init__(self, quiet_share: float, max_wait: float):
        self.quiet_share = quiet_share
        self.max_wait = max_wait
        self.available = Path("/proc/stat").exists()

    @staticmethod
    def _system() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    @staticmethod
    def _own() -> int:
        """CPU jiffies of this process and all its descendants (utime + stime + children's)."""
        table = process_table()
        tree = {os.getpid(), *descendants(os.getpid(), table)}
        return sum(sum(int(v) for v in table[pid][2][11:15]) for pid in tree if pid in table)

    def snapshot(self) -> tuple[int, int, int]:
        if not self.available:
            return 0, 0, 0
        return (*self._system(), self._own())

    def others_share(self, start: tuple[int, int, int], end: tuple[int, int, int]) -> float:
        busy, total, own = (b - a for a, b in zip(start, end, strict=True))
        return max(0.0, (busy - own) / total) if total else 0.0

    def wait_until_quiet(self) -> float:
        """Seconds waited for the other processes to quieten (capped at max_wait)."""
        if not self.available:
            return 0.0
        started = time.perf_counter()
        while True:
            before = self.snapshot()
            time.sleep(1.0)
            if self.others_share(before, self.snapshot()) < self.quiet_share:
                return time.perf_counter() - started
            if time.perf_counter() - started > self.max_wait:
                return time.perf_counter() - started


def make_data(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features with interactions and a nonlinearity; a regression target and a binary label from it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    signal = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.5 * np.abs(X[:, 4]) + 0.3 * X[:, 5:10].sum(1)
    y = signal + rng.normal(0, 0.5, rows)
    binary = (signal + rng.logistic(0, 1, rows) > 0.5).astype(float)
    return X, y, binary


def to_spark(spark, X: np.ndarray, y: np.ndarray, binary: np.ndarray):
    names = [f"x{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names).assign(y=y, binary=binary)
    df = spark.createDataFrame(frame)
    df = VectorAssembler(inputCols=names, outputCol="features").transform(df).select("features", "y", "binary")
    df = df.cache()
    df.count()
    return df


def target(task: str) -> Target:
    if task == "regression":
        return Target(task=task, label_col="y", features_col="features", prediction_col="prediction")
    return Target(
        task=task,
        label_col="binary",
        features_col="features",
        prediction_col="prediction",
        probability_col="probability",
        raw_prediction_col="raw",
        num_classes=2,
        threshold=0.5,
    )


def quality_spark(model, test_df, task: str) -> float:
    if task == "regression":
        scored = model.transform(test_df).select("y", "prediction").toPandas()
        return float(np.sqrt(np.mean((scored.prediction - scored.y) ** 2)))
    scored = model.transform(test_df).select("binary", vector_to_array("probability")[1].alias("p1")).toPandas()
    return float(roc_auc_score(scored.binary, scored.p1))


def quality_native(model, X: np.ndarray, y: np.ndarray, binary: np.ndarray, task: str) -> float:
    if task == "regression":
        return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))
    return float(roc_auc_score(binary, model.predict_proba(X)[:, 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--test-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tasks", default="regression,classification")
    parser.add_argument("--skip-plain", action="store_true", help="Leave out plain xgboost.spark (the slowest).")
    parser.add_argument(
        "--quiet-share", type=float, default=0.1, help="Before each fit, wait until other processes use less CPU."
    )
    parser.add_argument("--max-wait", type=float, default=300, help="Longest wait for quiet, seconds.")
    parser.add_argument(
        "--retries", type=int, default=3, help="Measure again when others took over 2x --quiet-share during a fit."
    )
    args = parser.parse_args()

    # Shows which path `training: auto` chose, and why.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("sparkwright.models.xgboost_model").setLevel(logging.INFO)
    load_start = os.getloadavg()
    spark = get_session()
    X, y, binary = make_data(args.rows, args.features, seed=1)
    X_test, y_test, binary_test = make_data(args.test_rows, args.features, seed=2)
    train_df = to_spark(spark, X, y, binary)
    test_df = to_spark(spark, X_test, y_test, binary_test)
    print(
        f"{args.rows:,} rows x {args.features} features; Spark {spark.version} {spark.sparkContext.master}, "
        f"{train_df.rdd.getNumPartitions()} cached partitions; {os.cpu_count()} CPUs; "
        f"load average at start {load_start[0]:.2f}",
        flush=True,
    )

    def native(task: str):
        cls = xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier
        label = y if task == "regression" else binary
        return cls(**PARAMS, n_jobs=2, tree_method="hist", random_state=42).fit(X, label)

    def sparkwright_type(task: str, training: str):
        model_type = get_model_type("xgboost", task)
        params = model_type.resolve_params({**PARAMS, "training": training}, task)
        return model_type.build(params, target(task)).fit(train_df)

    def plain(task: str):
        cls = SparkXGBRegressor if task == "regression" else SparkXGBClassifier
        label = "y" if task == "regression" else "binary"
        return cls(features_col="features", label_col=label, num_workers=2, verbose=False, **PARAMS).fit(train_df)

    contenders = {
        "native xgboost (2 threads)": native,
        "sparkwright auto": lambda task: sparkwright_type(task, "auto"),
        "sparkwright distributed": lambda task: sparkwright_type(task, "distributed"),
    }
    if not args.skip_plain:
        contenders["plain xgboost.spark (2 workers)"] = plain

    # Warm the JVM, the Python workers and xgboost once, on a slice, for every contender.
    small = train_df.limit(20_000).cache()
    small.count()
    xgboost.XGBRegressor(n_estimators=5, n_jobs=2).fit(X[:20_000], y[:20_000])
    get_model_type("xgboost").build({"n_estimators": 5, "training": "distributed"}, target("regression")).fit(small)
    get_model_type("xgboost").build({"n_estimators": 5}, target("regression")).fit(small)

    meter = CpuMeter(args.quiet_share, args.max_wait)
    results: dict[str, dict] = {}
    discarded: dict[str, int] = {task: 0 for task in args.tasks.split(",")}
    for task in args.tasks.split(","):
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        others: dict[str, list[float]] = {name: [] for name in contenders}
        quality: dict[str, float] = {}
        for repeat in range(args.repeats):
            order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
            for name in order:
                for attempt in range(args.retries + 1):
                    waited = meter.wait_until_quiet()
                    before = meter.snapshot()
                    started = time.perf_counter()
                    model = contenders[name](task)
                    elapsed = time.perf_counter() - started
                    share = meter.others_share(before, meter.snapshot())
                    print(
                        f"{task} repeat {repeat} {name}: {elapsed:.1f}s (other processes {share:.0%} of the CPU; "
                        f"waited {waited:.0f}s for quiet)",
                        flush=True,
                    )
                    if share <= 2 * args.quiet_share or attempt == args.retries:
                        break
                    discarded[task] += 1
                    print("  discarded: other processes took too much CPU; measuring again", flush=True)
                seconds[name].append(elapsed)
                others[name].append(share)
                if name not in quality:
                    quality[name] = (
                        quality_native(model, X_test, y_test, binary_test, task)
                        if name.startswith("native")
                        else quality_spark(model, test_df, task)
                    )
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        base = medians["native xgboost (2 threads)"]
        results[task] = {
            "metric": "rmse" if task == "regression" else "roc_auc",
            "seconds": seconds,
            "other_processes_cpu_share": others,
            "discarded_measurements": discarded[task],
            "median_seconds": medians,
            "min_seconds": {name: min(values) for name, values in seconds.items()},
            "ratio_to_native": {name: value / base for name, value in medians.items()},
            "quality": quality,
        }

    load_end = os.getloadavg()
    print()
    for task, result in results.items():
        print(f"{task}: {'contender':34} {'median s':>9} {'x native':>9} {'min s':>7} {result['metric']:>9}")
        for name in contenders:
            print(
                f"{'':{len(task) + 2}}{name:34} {result['median_seconds'][name]:9.2f} "
                f"{result['ratio_to_native'][name]:9.2f} {result['min_seconds'][name]:7.2f} "
                f"{result['quality'][name]:9.4f}"
            )
        worst = max(max(values) for values in result["other_processes_cpu_share"].values())
        print(
            f"{'':{len(task) + 2}}other processes took at most {worst:.0%} of the CPU during a kept fit; "
            f"{result['discarded_measurements']} measurements discarded"
        )
    print(f"load average: start {load_start[0]:.2f}, end {load_end[0]:.2f} (1-minute)")

    out = Path(__file__).resolve().parent / "results" / "xgboost.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "features": args.features,
                "test_rows": args.test_rows,
                "repeats": args.repeats,
                "trees": TREES,
                "depth": DEPTH,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "xgboost": xgboost.__version__,
                "spark": spark.version,
                "load_average_start": load_start,
                "load_average_end": load_end,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    spark.stop()


if __name__ == "__main__":
    main()
