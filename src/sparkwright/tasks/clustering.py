"""``task: clustering``: no label; silhouette, within-cluster sum of squares and the share of the total
sum of squares explained; one cluster (k = 1) as the baseline; cluster profiles.

Metrics are measured on the assembled (standardised) feature vector the models cluster. The sum of
squares is that of the partition: each row's squared distance to the mean of its cluster among the
scored rows, so it needs no centres and means the same for k-means, bisecting k-means, a Gaussian
mixture and the baseline, whose partition is one cluster: its sum of squares is the total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError
from sparkwright.features import INTERNAL_PREFIX
from sparkwright.tasks.base import PLOT_SAMPLE_ROWS, HeldOut, Task, require_columns

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.sql import DataFrame

    from sparkwright.tracking import Tracker

FEATURES_COL = f"{INTERNAL_PREFIX}features"
PREDICTION_COL = "prediction"


class ClusteringTask(Task):
    name = "clustering"

    def baseline(self, target: Any) -> Pipeline:
        return one_cluster_estimator(target.prediction_col)

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> dict[str, float]:
        """``predictions`` must hold the feature vector (``FEATURES_COL``); there is no label."""
        return clustering_metrics(predictions, FEATURES_COL, PREDICTION_COL)

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        """``actual`` is the (rows, features) matrix, ``prediction`` the cluster of each row; the silhouette
        uses squared Euclidean distances, as Spark's ClusteringEvaluator does."""
        import numpy as np
        from sklearn.metrics import silhouette_score

        x = np.asarray(actual, dtype=float)
        labels = np.asarray(prediction).astype(int)
        if metric == "silhouette":
            return float(silhouette_score(x, labels, metric="sqeuclidean")) if len(np.unique(labels)) > 1 else 0.0
        wss = sum(float(((x[labels == c] - x[labels == c].mean(axis=0)) ** 2).sum()) for c in np.unique(labels))
        if metric == "wssse":
            return wss
        if metric == "explained":
            total = float(((x - x.mean(axis=0)) ** 2).sum())
            return 1.0 - wss / total if total > 0 else 0.0
        raise DataError(f"unknown metric {metric!r} for task clustering; choose one of {sorted(self.spec.metrics)}.")

    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None) -> HeldOut:
        raise DataError("task clustering has no label to hold out; it is not cross-validated or blended.")

    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None) -> pd.DataFrame:
        from pyspark.ml.functions import vector_to_array

        columns = [vector_to_array(FEATURES_COL).alias("features"), PREDICTION_COL]
        return predictions.select(*columns).limit(PLOT_SAMPLE_ROWS).toPandas()

    def log_plots(
        self, tracker: Tracker, run_id: str, name: str, sample: pd.DataFrame, classes: list[str] | None
    ) -> None:
        import numpy as np

        from sparkwright.tasks import clustering_plots

        features = np.vstack(sample["features"].to_numpy()) if len(sample) else np.empty((0, 2))
        figure = clustering_plots.clusters_scatter(features, sample[PREDICTION_COL].to_numpy(int), name)
        tracker.log_figure(run_id, figure, "plots/clusters.png")


def one_cluster_estimator(prediction_col: str = PREDICTION_COL) -> Pipeline:
    """k = 1: every row in cluster 0. Its sum of squares is the total one, its silhouette 0 by convention."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer

    return Pipeline(stages=[SQLTransformer(statement=f"SELECT *, 0 AS `{prediction_col}` FROM __THIS__")])


def clustering_metrics(
    scored: DataFrame, features_col: str = FEATURES_COL, prediction_col: str = PREDICTION_COL
) -> dict[str, float]:
    """Silhouette (squared Euclidean, Spark's ClusteringEvaluator), within-cluster sum of squares and the
    share of the total sum of squares it explains, in two passes over ``scored``.

    The silhouette of a single cluster is undefined; it is reported as 0 (no structure found).

    Returns:
        ``{"silhouette": ..., "explained": ..., "wssse": ...}``.

    Raises:
        DataError: A column is missing or ``scored`` is empty.
    """
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as F

    require_columns(scored, [features_col, prediction_col])
    summary = Summarizer.metrics("count", "variance")
    # Per cluster, sum of squares = (n - 1) * the sample variance summed over the features: stable, one pass.
    per_cluster = (
        scored.groupBy(prediction_col).agg(summary.summary(F.col(features_col)).alias("s")).select("s.*").collect()
    )
    if not per_cluster:
        raise DataError("cannot compute clustering metrics on empty predictions; the test split has no rows.")
    wss = sum((row["count"] - 1) * float(row["variance"].toArray().sum()) for row in per_cluster)
    total_row = scored.agg(summary.summary(F.col(features_col)).alias("s")).select("s.*").first()
    total = (total_row["count"] - 1) * float(total_row["variance"].toArray().sum())
    silhouette = 0.0
    if len(per_cluster) > 1:
        evaluator = ClusteringEvaluator(featuresCol=features_col, predictionCol=prediction_col, metricName="silhouette")
        silhouette = evaluator.evaluate(scored.withColumn(prediction_col, F.col(prediction_col).cast("double")))
    return {"silhouette": silhouette, "explained": 1.0 - wss / total if total > 0 else 0.0, "wssse": wss}


def cluster_profiles(
    assigned: DataFrame, categorical: list[str], numeric: list[str], *, top_levels: int = 3
) -> pd.DataFrame:
    """Per cluster: rows, share of rows, the mean of each numeric column (in its own units) and the most
    frequent levels of each categorical with their share in the cluster; one row per cluster.

    Raises:
        DataError: ``assigned`` has no ``prediction`` column or no rows.
    """
    import pandas as pd
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    require_columns(assigned, [PREDICTION_COL, *categorical, *numeric])
    means = [F.avg(F.col(f"`{c}`").cast("double")).alias(f"mean_{c}") for c in numeric]
    frame = assigned.groupBy(PREDICTION_COL).agg(F.count(F.lit(1)).alias("rows"), *means).toPandas()
    if frame.empty:
        raise DataError("cannot profile clusters: no rows were assigned.")
    frame = frame.rename(columns={PREDICTION_COL: "cluster"}).sort_values("cluster").reset_index(drop=True)
    frame.insert(2, "share", frame["rows"] / frame["rows"].sum())
    sizes = dict(zip(frame["cluster"], frame["rows"], strict=True))
    for column in categorical:
        counts = assigned.groupBy(PREDICTION_COL, F.col(f"`{column}`").alias("level")).count()
        rank = F.row_number().over(Window.partitionBy(PREDICTION_COL).orderBy(F.desc("count"), F.asc("level")))
        top = counts.withColumn("rank", rank).where(F.col("rank") <= top_levels).orderBy(PREDICTION_COL, "rank")
        levels: dict[int, list[str]] = {}
        for row in top.collect():
            share = row["count"] / sizes[row[PREDICTION_COL]]
            levels.setdefault(row[PREDICTION_COL], []).append(f"{row['level']} ({share:.0%})")
        frame[f"top_{column}"] = [", ".join(levels.get(c, [])) for c in frame["cluster"]]
    return pd.DataFrame(frame)


def choose_k(ks: list[int], silhouettes: list[float], wssse: list[float], rule: str = "silhouette") -> int:
    """The k of a sweep that ``rule`` picks.

    ``silhouette``: the highest silhouette (the smaller k on a tie). ``elbow``: the k whose sum of squares
    lies farthest below the straight line from the first to the last k, both axes scaled to [0, 1]
    (where adding clusters stops paying off); with fewer than three k, the smallest.

    Raises:
        DataError: The lists are empty or differ in length, or ``rule`` is unknown.
    """
    if not ks or len({len(ks), len(silhouettes), len(wssse)}) != 1:
        raise DataError(f"a k sweep needs one silhouette and one sum of squares per k; got {len(ks)} k.")
    if rule == "silhouette":
        return ks[max(range(len(ks)), key=lambda i: (silhouettes[i], -ks[i]))]
    if rule != "elbow":
        raise DataError(f"unknown rule {rule!r} to choose k; use silhouette or elbow.")
    if len(ks) < 3:
        return ks[0]
    low, span_k, span_w = wssse[-1], ks[-1] - ks[0], (wssse[0] - wssse[-1]) or 1.0
    # Scaled, the curve runs from (0, 1) to (1, 0); the chord between them is y = 1 - x.
    below = [(1 - (k - ks[0]) / span_k) - (w - low) / span_w for k, w in zip(ks, wssse, strict=True)]
    return ks[max(range(len(ks)), key=lambda i: (below[i], -ks[i]))]
