"""Choosing a ``max_f1`` threshold on Spark predictions: sparkwright against two references, same process.

    .venv/bin/python benchmarks/bench_threshold.py [--rows 300 --rows 1000000] [--repeats 5]

sparkwright (:func:`sparkwright.models.best_f1_threshold`) buckets each probability by how many of the 99
candidates (0.01 ... 0.99) it reaches, in one small groupBy, and finds every candidate's F1 on the driver.
References: one conditional sum per candidate and outcome in a single aggregation (198 sums, what
sparkwright did before), and collecting the rows to scikit-learn's ``f1_score`` at each candidate (what a
notebook does; the driver must hold every row). All three must pick the same threshold.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sparkwright.models import best_f1_threshold
from sparkwright.models.threshold import CANDIDATES


def predictions(spark, rows: int):
    """``label, probability``: a positive class of about 30% whose probability is informative, not perfect."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    score = F.rand(7)
    label = F.when(F.rand(8) < score * 0.6, "yes").otherwise("no")
    return (
        spark.range(rows)
        .select(label.alias("label"), array_to_vector(F.array(1 - score, score)).alias("probability"))
        .cache()
    )


def one_sum_per_candidate(df) -> float:
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    rows = df.select((F.col("label") == "yes").cast("int").alias("y"), vector_to_array("probability")[1].alias("p"))
    sums = [F.sum("y").alias("positives")]
    for i, t in enumerate(CANDIDATES):
        sums += [F.sum(F.when(F.col("p") >= t, F.col("y"))).alias(f"tp{i}"),
                 F.sum(F.when(F.col("p") >= t, 1 - F.col("y"))).alias(f"fp{i}")]  # fmt: skip
    totals = rows.agg(*sums).first().asDict()
    positives, best, best_f1 = totals["positives"], 0.5, -1.0
    for i, t in sorted(enumerate(CANDIDATES), key=lambda item: abs(item[1] - 0.5)):
        tp, fp = totals[f"tp{i}"] or 0, totals[f"fp{i}"] or 0
        f1 = 2 * tp / (2 * tp + fp + (positives - tp)) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best


def collected_to_sklearn(df) -> float:
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F
    from sklearn.metrics import f1_score

    frame = df.select((F.col("label") == "yes").alias("y"), vector_to_array("probability")[1].alias("p")).toPandas()
    y, p = frame["y"].to_numpy(), frame["p"].to_numpy()
    scores = {t: f1_score(y, p >= t) for t in sorted(CANDIDATES, key=lambda t: abs(t - 0.5))}
    return max(scores, key=lambda t: (scores[t], -abs(t - 0.5)))


def main() -> None:
    from sparkwright.session import get_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="Rows of predictions (repeatable).")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spark = get_session(app_name="bench-threshold")
    ways = {
        "sparkwright (buckets)": lambda df: best_f1_threshold(df, "label", "yes"),
        "198 conditional sums": one_sum_per_candidate,
        "collect + scikit-learn": collected_to_sklearn,
    }
    for rows in args.rows or [300, 1_000_000]:
        df = predictions(spark, rows)
        df.count()
        for way in ways.values():  # warm-up: JIT, codegen caches
            way(df)
        seconds = {name: [] for name in ways}
        chosen = {}
        for _ in range(args.repeats):
            for name, way in ways.items():
                started = time.perf_counter()
                chosen[name] = way(df)
                seconds[name].append(time.perf_counter() - started)
        ours = statistics.median(seconds["sparkwright (buckets)"])
        print(f"\n{rows:,} rows, median of {args.repeats}:")
        for name in ways:
            median = statistics.median(seconds[name])
            print(f"  {name:24s} {median:7.3f} s  {median / ours:6.2f}x sparkwright's time  threshold {chosen[name]}")
        assert len(set(chosen.values())) == 1, f"the three disagree: {chosen}"
        df.unpersist()


if __name__ == "__main__":
    main()
