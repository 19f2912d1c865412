"""k-means started from k-means++ centres found on a driver sample, refined by Lloyd's iterations in Spark.

Why: on well-separated groups about half of Spark's k-means|| starts stop in a local optimum (two centres
in one group, one centre across two), 28-66% above the best sum of squares (BENCHMARKS.md, issue 12a);
scikit-learn's greedy k-means++ on a sample of the rows finds the groups, and Lloyd's iterations over
every row in Spark then move the centres to the full data's means. Each iteration is one pass: Spark's
own ``KMeansModel`` assigns the rows, one aggregation gives each cluster's mean. The result is an ordinary
``KMeansModel``, so export, ``predict``, ``stream`` and ``serve`` treat it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sparkwright.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.ml import Transformer
    from pyspark.ml.clustering import KMeans, KMeansModel
    from pyspark.sql import DataFrame

# At most this many rows, and this many numbers, leave Spark for the driver's k-means++.
SAMPLE_ROWS = 100_000
SAMPLE_CELLS = 10_000_000
# k-means++ starts on the sample, the lowest sum of squares kept: one greedy start can still join two
# groups (1 in 4 on the benchmark's blobs), and a start on 100,000 rows costs a fraction of a Spark pass.
LOCAL_STARTS = 10


@dataclass(frozen=True)
class ClusterFit:
    """A fitted clustering estimator, what it minimised on the training rows (lower is better) and its passes."""

    model: Transformer
    cost: float
    iterations: int


def fit_seeded_kmeans(estimator: KMeans, rows: DataFrame, row_count: int) -> ClusterFit:
    """Fit ``estimator``'s k, seed, maxIter and tol on ``rows`` (cached vectors), starting from k-means++
    centres picked on a driver sample; stops when no centre moves more than tol (Spark's own rule).

    When the sample is every row, the local fit already is the answer: its centres become the model with
    no Spark iteration (a small table then costs one model build per start, not one per pass).
    """
    features_col, prediction_col = estimator.getFeaturesCol(), estimator.getPredictionCol()
    local, whole = _local_kmeans(rows, features_col, row_count, estimator)
    if whole:
        return ClusterFit(
            _model_with_centres(estimator, rows, local.cluster_centers_), float(local.inertia_), int(local.n_iter_)
        )
    model, cost, iterations = _model_with_centres(estimator, rows, local.cluster_centers_), float("nan"), 0
    while iterations < estimator.getMaxIter():
        iterations += 1
        means, cost = _cluster_means(model.transform(rows), features_col, prediction_col)
        previous = np.array(model.clusterCenters())
        moved = [np.sum((means[i] - previous[i]) ** 2) for i in means]
        model = _model_with_centres(estimator, rows, np.array([means.get(i, c) for i, c in enumerate(previous)]))
        if max(moved, default=0.0) <= estimator.getTol() ** 2:
            break
    return ClusterFit(model, cost, iterations)


def _local_kmeans(rows: DataFrame, features_col: str, row_count: int, estimator: KMeans) -> tuple[Any, bool]:
    """scikit-learn's k-means (best of ``LOCAL_STARTS`` k-means++ starts) on a sample of ``rows``, and whether
    the sample is all of them."""
    from pyspark.ml.functions import vector_to_array
    from sklearn.cluster import KMeans as LocalKMeans

    k, seed = estimator.getK(), estimator.getSeed()
    width = rows.first()[features_col].size
    limit = max(k, min(SAMPLE_ROWS, SAMPLE_CELLS // max(width, 1)))
    whole = row_count <= limit
    # About `limit` rows from every partition alike; the cap only trims the sample's random excess.
    sample = rows if whole else rows.sample(fraction=limit / row_count, seed=seed)
    vectors = sample.limit(limit).select(vector_to_array(features_col).alias("v")).toPandas()["v"]
    x = np.stack(vectors.to_numpy())
    distinct = len(np.unique(x, axis=0))
    if distinct < k:
        raise ConfigError(
            f"k = {k} clusters, but the training rows have only {distinct} distinct feature vectors; "
            "set a smaller clustering.k or use more rows.",
            "clustering.k",
        )
    local = LocalKMeans(
        n_clusters=k, init="k-means++", n_init=LOCAL_STARTS, max_iter=estimator.getMaxIter(), random_state=seed % 2**32
    )
    return local.fit(x), whole


def _model_with_centres(estimator: KMeans, rows: DataFrame, centres: np.ndarray) -> KMeansModel:
    """A ``KMeansModel`` whose centres are exactly ``centres``: Spark's random start on the centres alone
    picks all k of them, and each is then the mean of its own cluster of one."""
    from pyspark.ml.linalg import Vectors

    frame = rows.sparkSession.createDataFrame(
        [(Vectors.dense(c),) for c in np.unique(centres, axis=0)], [estimator.getFeaturesCol()]
    )
    return estimator.copy().setInitMode("random").setMaxIter(1).fit(frame)


def _cluster_means(assigned: DataFrame, features_col: str, prediction_col: str) -> tuple[dict[int, np.ndarray], float]:
    """Each non-empty cluster's mean, and the sum of squares of the rows around their cluster's mean."""
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as F

    summary = Summarizer.metrics("count", "mean", "variance")
    stats = assigned.groupBy(prediction_col).agg(summary.summary(F.col(features_col)).alias("s")).collect()
    means = {int(row[prediction_col]): row["s"]["mean"].toArray() for row in stats}
    cost = sum((row["s"]["count"] - 1) * float(row["s"]["variance"].toArray().sum()) for row in stats)
    return means, cost
