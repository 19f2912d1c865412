"""``task: recommendation``: users rate (or interact with) items; predict ratings and rank items per user.

The task owns what every recommender of the run shares: the columns (``RatingColumns``), the per-user
split, the metrics (RMSE / MAE of predicted ratings, and precision / recall / NDCG / MAP of top-k lists
through Spark's ``RankingEvaluator``) and the two baselines: a regularised bias model (global mean +
user and item biases) for ratings and the most popular items for top-k lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError
from sparkwright.tasks.regression import RegressionTask, regression_metrics

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from sparkwright.config import ProjectConfig

PREDICTION_COL = "prediction"
# Integer ids of users and items (StringIndexer, most frequent first), what ALS and the evaluator work on.
USER_INDEX = "_user_index"
ITEM_INDEX = "_item_index"
RATING_COL = "_rating"
# Top-k metric name -> RankingEvaluator metricName.
RANKING_METRICS = {
    "precision_at_k": "precisionAtK",
    "recall_at_k": "recallAtK",
    "ndcg_at_k": "ndcgAtK",
    "map_at_k": "meanAveragePrecisionAtK",
}
# Koren's damping of the biases: an item rated by few users stays near the global mean.
ITEM_BIAS_DAMPING = 10.0
USER_BIAS_DAMPING = 15.0


@dataclass(frozen=True)
class RatingColumns:
    """The project's rating columns (``data.user`` / ``item`` / ``rating`` / ``timestamp``) and its feedback kind."""

    user: str
    item: str
    rating: str | None
    timestamp: str | None
    implicit: bool

    @classmethod
    def of(cls, config: ProjectConfig) -> RatingColumns:
        data, settings = config.data, config.recommendation
        assert data.user is not None and data.item is not None, "checked by config.recommendation"
        return cls(data.user, data.item, data.rating, data.timestamp, bool(settings and settings.implicit))

    def ratings(self, df: DataFrame) -> DataFrame:
        """``user, item, _rating`` (+ timestamp) rows with no null id or rating (implicit without a rating: 1 each).

        Raises:
            DataError: A configured column is not in ``df``.
        """
        from pyspark.sql import functions as F

        for key in ("user", "item", "rating", "timestamp"):
            column = getattr(self, key)
            if column is not None and column not in df.columns:
                raise DataError(
                    f"data.{key}: column {column!r} is not in the data; columns: {', '.join(df.columns)}.",
                )
        rating = F.col(f"`{self.rating}`").cast("double") if self.rating else F.lit(1.0)
        extra = [F.col(f"`{self.timestamp}`")] if self.timestamp else []
        rows = df.select(F.col(f"`{self.user}`"), F.col(f"`{self.item}`"), rating.alias(RATING_COL), *extra)
        usable = F.col(f"`{self.user}`").isNotNull() & F.col(f"`{self.item}`").isNotNull()
        return rows.where(usable & F.col(RATING_COL).isNotNull() & ~F.isnan(RATING_COL))


class RecommendationTask(RegressionTask):
    """Explicit ratings are judged as a regression (held-out rows, plots); the split, the baseline and the
    metrics are its own."""

    name = "recommendation"

    def split(
        self, config: ProjectConfig, df: DataFrame, test_fraction: float, seed: int
    ) -> tuple[DataFrame, DataFrame]:
        """Hold out ``test_fraction`` of each user's ratings (rounded down): the latest by ``data.timestamp``
        when given, else a seeded random share. A user keeps at least one rating for training, and the
        models are judged on users they know, as a recommender is used."""
        columns = RatingColumns.of(config)
        return split_per_user(columns, columns.ratings(df), test_fraction, seed)

    def baseline(self, target: Any) -> BiasModel:
        """The regularised bias model (it reads the indexed columns, so ``target`` is not needed); fit it with
        :meth:`BiasModel.fit`. ``type: als`` fits the same model first and ALS on its residuals."""
        return BiasModel()

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> dict[str, float]:
        """RMSE and MAE of the predicted ratings (``prediction``) against ``label_col``."""
        scores = regression_metrics(predictions, label_col, PREDICTION_COL)
        return {"rmse": scores["rmse"], "mae": scores["mae"]}

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        import numpy as np

        error = np.asarray(prediction, dtype=float) - np.asarray(actual, dtype=float)
        if metric == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        if metric == "mae":
            return float(np.mean(np.abs(error)))
        raise DataError(f"metric {metric!r} is not computed from rating arrays; rmse and mae are.")


def split_per_user(
    columns: RatingColumns, rows: DataFrame, test_fraction: float, seed: int
) -> tuple[DataFrame, DataFrame]:
    """``(train, test)`` of ``rows`` (from :meth:`RatingColumns.ratings`), ``floor(n * test_fraction)`` of each user's
    ``n`` ratings held out. The order is by timestamp, ties (and everything, without one) by a seeded hash of
    the user and item, so the split does not depend on how Spark partitions the data."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    user = F.col(f"`{columns.user}`")
    shuffle = F.xxhash64(F.lit(seed), user, F.col(f"`{columns.item}`"))
    order = [F.col(f"`{columns.timestamp}`"), shuffle] if columns.timestamp else [shuffle]
    ranked = rows.withColumn("__position", F.row_number().over(Window.partitionBy(user).orderBy(*order)))
    ranked = ranked.withColumn("__ratings", F.count(F.lit(1)).over(Window.partitionBy(user)))
    held: Column = F.col("__position") > F.col("__ratings") - F.floor(F.col("__ratings") * F.lit(test_fraction))
    helpers = ["__position", "__ratings"]
    return ranked.where(~held).drop(*helpers), ranked.where(held).drop(*helpers)


def ranking_metrics(recommended: DataFrame, relevant: DataFrame, k: int) -> dict[str, float]:
    """Precision, recall, NDCG and MAP at ``k`` over every user of ``relevant``.

    Args:
        recommended: ``USER_INDEX`` and ``recommended`` (item indices as doubles, best first).
        relevant: ``USER_INDEX`` and ``relevant`` (the user's held-out item indices as doubles).

    Returns:
        ``{"precision_at_k": ..., "recall_at_k": ..., "ndcg_at_k": ..., "map_at_k": ...}``; a user without
        recommendations counts with an empty list (it scores 0), never drops out.
    """
    from pyspark.ml.evaluation import RankingEvaluator
    from pyspark.sql import functions as F

    joined = relevant.join(recommended, USER_INDEX, "left").select(
        F.coalesce("recommended", F.array().cast("array<double>")).alias("recommended"), "relevant"
    )
    joined = joined.cache()
    try:
        evaluator = RankingEvaluator(predictionCol="recommended", labelCol="relevant", k=k)
        return {
            name: float(evaluator.evaluate(joined, {evaluator.metricName: spark_name}))
            for name, spark_name in RANKING_METRICS.items()
        }
    finally:
        joined.unpersist()


def relevant_items(indexed_test: DataFrame) -> DataFrame:
    """``USER_INDEX, relevant``: each test user's held-out item indices (what a good top-k list contains)."""
    from pyspark.sql import functions as F

    return indexed_test.groupBy(USER_INDEX).agg(F.collect_set(F.col(ITEM_INDEX).cast("double")).alias("relevant"))


class BiasModel:
    """Global mean + regularised user and item biases: ``mu + b_u + b_i`` (Koren 2009, section 2.1).

    ``b_i = sum(r - mu) / (n_i + 10)`` and then ``b_u = sum(r - mu - b_i) / (n_u + 15)``: a user or item
    with few ratings keeps a bias near 0. An unknown user or item has bias 0. Its top-k list is the same
    for every user: the items with the highest bias.
    """

    def __init__(self) -> None:
        self.mean: float | None = None
        self.user_bias: DataFrame | None = None
        self.item_bias: DataFrame | None = None

    def fit(self, indexed_train: DataFrame) -> BiasModel:
        """Learn the biases from ``USER_INDEX, ITEM_INDEX, _rating`` rows."""
        from pyspark.sql import functions as F

        self.mean = float(indexed_train.agg(F.avg(RATING_COL)).first()[0])
        residual = F.col(RATING_COL) - F.lit(self.mean)
        self.item_bias = (
            indexed_train.groupBy(ITEM_INDEX)
            .agg((F.sum(residual) / (F.count(F.lit(1)) + ITEM_BIAS_DAMPING)).alias("b_i"))
            .cache()
        )
        with_item = indexed_train.join(self.item_bias, ITEM_INDEX)
        self.user_bias = (
            with_item.groupBy(USER_INDEX)
            .agg((F.sum(residual - F.col("b_i")) / (F.count(F.lit(1)) + USER_BIAS_DAMPING)).alias("b_u"))
            .cache()
        )
        return self

    def transform(self, indexed: DataFrame) -> DataFrame:
        """``indexed`` with ``prediction``: the biased mean, for any user and item (unknown ones get bias 0)."""
        from pyspark.sql import functions as F

        assert self.user_bias is not None and self.item_bias is not None, "fit first"
        joined = indexed.join(self.user_bias, USER_INDEX, "left").join(self.item_bias, ITEM_INDEX, "left")
        prediction = F.lit(self.mean) + F.coalesce("b_u", F.lit(0.0)) + F.coalesce("b_i", F.lit(0.0))
        return joined.withColumn(PREDICTION_COL, prediction).drop("b_u", "b_i")

    def residuals(self, indexed_train: DataFrame) -> DataFrame:
        """``indexed_train`` with ``_rating`` minus the biased mean: what ALS learns on top of the biases."""
        from pyspark.sql import functions as F

        scored = self.transform(indexed_train)
        return scored.withColumn(RATING_COL, F.col(RATING_COL) - F.col(PREDICTION_COL)).drop(PREDICTION_COL)

    def top_items(self, k: int) -> list[float]:
        """The ``k`` item indices with the highest bias (best first)."""
        from pyspark.sql import functions as F

        assert self.item_bias is not None, "fit first"
        rows = self.item_bias.orderBy(F.desc("b_i"), ITEM_INDEX).limit(k).collect()
        return [float(r[ITEM_INDEX]) for r in rows]

    def release(self) -> None:
        for frame in (self.user_bias, self.item_bias):
            if frame is not None:
                frame.unpersist()
