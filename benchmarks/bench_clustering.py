"""``type: kmeans`` (sparkwright: Lloyd's iterations in Spark ML) against scikit-learn ``KMeans`` (k-means++,
n_init 3) on the same standardised data, in one process (issue 12, benchmark a).

    .venv/bin/python benchmarks/bench_clustering.py [--rows 1000000] [--features 20] [--k 8] [--init k-means++]

Synthetic data (numpy, seeded): ``k`` Gaussian blobs in ``features`` dimensions, columns on different
scales (so standardising matters). sparkwright gets it as a cached Spark DataFrame and runs its clustering
model path: the feature stages (imputer, assembler, ``StandardScaler``) fitted on the data, then k-means
with k fixed, ``initMode`` from ``--init`` (default: the type's default, k-means++ on a driver sample;
``k-means||`` for Spark's own start) and the default ``clustering.restarts: 3`` (three starts, the lowest
cost kept: the counterpart of ``n_init=3``). scikit-learn gets the same rows as a NumPy array,
standardises them with its ``StandardScaler`` and fits ``KMeans(n_clusters=k, init="k-means++", n_init=3)``
with its default threads.
Timed: from the raw rows to a fitted model, each side. Quality: each side's within-cluster sum of
squares on its own standardised vectors (Spark scales by the sample standard deviation, scikit-learn by
the population one: a factor of n / (n - 1) on the sum, 1e-6 here), and the agreement of the two
partitions (adjusted Rand index). Prints ratios to scikit-learn and writes benchmarks/results/clustering.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd


def blobs(rows: int, features: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` unit-variance blobs with centres in [-4, 4]^features, each column then scaled by 10^(0..3)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, (k, features))
    truth = rng.integers(0, k, rows)
    x = centres[truth] + rng.normal(0, 1.0, (rows, features))
    return x * (10.0 ** rng.integers(0, 4, features)), truth


def partition_wssse(x: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(((x[labels == c] - x[labels == c].mean(axis=0)) ** 2).sum() for c in np.unique(labels)))


def run_sparkwright(spark, frame: pd.DataFrame, k: int, seed: int, init: str) -> dict:
    from sparkwright.config import ClusteringConfig, ModelSpec
    from sparkwright.models.clustering import fit_clusterer, prepare_features
    from sparkwright.tasks.clustering import clustering_metrics

    df = spark.createDataFrame(frame.assign(row=np.arange(len(frame)))).repartition(2).cache()
    df.count()
    started = time.perf_counter()
    features = prepare_features(df, [], list(frame.columns), impute="median", standardize=True)
    restarts = ClusteringConfig().restarts  # the project default, as scikit-learn's n_init=3
    fitted = fit_clusterer(
        features, ModelSpec(type="kmeans", params={"seed": seed, "initMode": init}), k, restarts=restarts
    )
    seconds = time.perf_counter() - started
    assigned = fitted.assign(features.rows).cache()
    wssse = clustering_metrics(assigned)["wssse"]
    # The partition agreement needs each row's cluster in the input's order (repartition moved them).
    by_row = fitted.pipeline_model.transform(df).select("row", "prediction").toPandas().sort_values("row")
    labels = by_row["prediction"].to_numpy()
    iterations = fitted.iterations
    assigned.unpersist()
    features.rows.unpersist()
    df.unpersist()
    return {"seconds": seconds, "wssse": wssse, "iterations": iterations, "labels": labels}


def run_sklearn(x: np.ndarray, k: int, seed: int) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    scaled = StandardScaler().fit_transform(x)
    model = KMeans(n_clusters=k, init="k-means++", n_init=3, random_state=seed).fit(scaled)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "wssse": partition_wssse(scaled, model.labels_),
        "inertia": float(model.inertia_),
        "iterations": int(model.n_iter_),
        "labels": model.labels_,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--init", default="k-means++", choices=["k-means++", "k-means||", "random"])
    args = parser.parse_args()

    from sklearn.metrics import adjusted_rand_score

    from sparkwright.session import get_session

    x, truth = blobs(args.rows, args.features, args.k, args.seed)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(args.features)])
    spark = get_session(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"}, app_name="bench-clustering")
    load_before = os.getloadavg()[0]
    reference = run_sklearn(x, args.k, args.seed)
    print(f"scikit-learn done: {reference['seconds']:.1f} s, {reference['iterations']} iterations", flush=True)
    ours = run_sparkwright(spark, frame, args.k, args.seed, args.init)
    load_after = os.getloadavg()[0]

    gap = ours["wssse"] / reference["wssse"] - 1
    result = {
        "rows": args.rows,
        "features": args.features,
        "k": args.k,
        "init": args.init,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {load_before:.1f} -> {load_after:.1f}",
        "sklearn_seconds": reference["seconds"],
        "sparkwright_seconds": ours["seconds"],
        "time_ratio": ours["seconds"] / reference["seconds"],
        "sklearn_wssse": reference["wssse"],
        "sparkwright_wssse": ours["wssse"],
        "wssse_gap": gap,
        "within_1_percent": abs(gap) <= 0.01,
        "sklearn_iterations": reference["iterations"],
        "sparkwright_iterations": ours["iterations"],
        "partition_agreement_ari": adjusted_rand_score(reference["labels"], ours["labels"]),
        "sklearn_vs_truth_ari": adjusted_rand_score(truth, reference["labels"]),
    }
    print(f"{args.rows:,} rows x {args.features}, k = {args.k} ({result['machine']})")
    print(f"  scikit-learn KMeans (k-means++, n_init 3): {reference['seconds']:8.1f} s  wssse {reference['wssse']:.6g}")
    print(f"  sparkwright kmeans ({args.init}, local[2]): {ours['seconds']:8.1f} s  wssse {ours['wssse']:.6g}")
    print(f"  time ratio sparkwright / scikit-learn: {result['time_ratio']:.2f}x")
    print(
        f"  sum of squares: {gap:+.4%} vs scikit-learn ({'within' if result['within_1_percent'] else 'NOT within'} 1%)"
    )
    print(f"  partitions agree (adjusted Rand index): {result['partition_agreement_ari']:.4f}")
    print(f"  iterations: scikit-learn {reference['iterations']}, sparkwright {ours['iterations']}")
    out = Path(__file__).parent / "results" / "clustering.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
