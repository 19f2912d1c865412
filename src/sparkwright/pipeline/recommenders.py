"""The Spark side of the recommendation flow: indexed ratings, ALS scoring pipelines, top-k lists, top-N tables."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sparkwright.tasks.recommendation import (
    ITEM_INDEX,
    PREDICTION_COL,
    RATING_COL,
    USER_INDEX,
    RatingColumns,
    relevant_items,
)

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame

    from sparkwright.deploy.recommender import Recommender

_INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")


@dataclass
class IndexedRatings:
    """The split with integer user and item indices (fitted on the training split, most frequent first, an
    unseen id gets the extra index ``len(labels)``), each test user's held-out items, and the training mean.

    Attributes:
        rated: The test ratings of users and items seen in training: what rating metrics judge, as Spark's
            ``coldStartStrategy="drop"`` would, so every model is judged on the same rows and no metric sees
            a NaN. ``cold_start_rows`` counts the others (they still count in the top-k metrics, as held-out
            items no model can recommend).
        seen: ``USER_INDEX, seen``: each test user's training items. Every top-k list leaves them out (a
            recommender that repeats what the user rated is of no use, and the held-out items are never
            among them), so each model ranks ``k + max_seen`` candidates and keeps the first ``k`` unseen.

    What only the top-k lists need (``max_seen``, ``cold_start_rows``) is counted on first use, so a fit
    judged on ratings alone runs no Spark job for it.
    """

    columns: RatingColumns
    users: StringIndexerModel
    items: StringIndexerModel
    train: DataFrame
    test: DataFrame
    rated: DataFrame
    relevant: DataFrame
    seen: DataFrame
    mean: float

    @classmethod
    def fit(cls, columns: RatingColumns, train: DataFrame, test: DataFrame) -> IndexedRatings:
        from pyspark.ml.feature import StringIndexer
        from pyspark.sql import functions as F

        def indexer(column: str, output: str) -> StringIndexerModel:
            return StringIndexer(
                inputCol=column, outputCol=output, handleInvalid="keep", stringOrderType="frequencyDesc"
            ).fit(train)

        users, items = indexer(columns.user, USER_INDEX), indexer(columns.item, ITEM_INDEX)
        if columns.implicit:  # repeated interactions add up to one confidence per (user, item)
            train = train.groupBy(columns.user, columns.item).agg(F.sum(RATING_COL).alias(RATING_COL))
        indexed_train = items.transform(users.transform(train)).cache()
        indexed_test = items.transform(users.transform(test)).cache()
        known = (F.col(USER_INDEX) < len(users.labels)) & (F.col(ITEM_INDEX) < len(items.labels))
        rated = indexed_test.where(known).cache()
        mean = float(indexed_train.agg(F.avg(RATING_COL)).first()[0])
        relevant = relevant_items(indexed_test).cache()
        seen = seen_items(indexed_train, USER_INDEX, ITEM_INDEX).join(relevant.select(USER_INDEX), USER_INDEX).cache()
        return cls(columns, users, items, indexed_train, indexed_test, rated, relevant, seen, mean)

    @cached_property
    def cold_start_rows(self) -> int:
        """Test ratings of a user or item unseen in training (in the top-k metrics only)."""
        return self.test.count() - self.rated.count()

    @cached_property
    def max_seen(self) -> int:
        """The most training ratings of one user."""
        from pyspark.sql import functions as F

        return self.train.groupBy(USER_INDEX).count().agg(F.max("count")).first()[0] or 0

    @property
    def integer_ids(self) -> tuple[bool, bool]:
        types = dict(self.train.dtypes)
        return types[self.columns.user] in _INTEGER_TYPES, types[self.columns.item] in _INTEGER_TYPES

    @property
    def fallback_rating(self) -> float:
        """What the logged model predicts for an unknown user or item: the training mean rating (explicit), or
        no preference (implicit)."""
        return 0.0 if self.columns.implicit else self.mean

    @cached_property
    def seen_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(seen_start, seen_items)``: every training user's item indices as compressed sparse rows (user
        ``u``'s are ``seen_items[seen_start[u]:seen_start[u + 1]]``), what a recommender leaves out."""
        users = len(self.users.labels)
        pairs = self.train.select(USER_INDEX, ITEM_INDEX).distinct().toPandas()
        pairs = pairs[pairs[USER_INDEX] < users].sort_values([USER_INDEX, ITEM_INDEX])
        counts = np.bincount(pairs[USER_INDEX].to_numpy(int), minlength=users)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return start, pairs[ITEM_INDEX].to_numpy(np.int32)

    def candidates(self, k: int) -> int:
        """How many items a model ranks per user so that ``k`` remain once the user's seen items are left out."""
        return k + self.max_seen

    def unseen(self, lists: DataFrame, k: int) -> DataFrame:
        """``USER_INDEX, recommended``: the first ``k`` items of each list that the user did not rate in training
        (order kept)."""
        from pyspark.sql import functions as F

        seen = F.coalesce("seen", F.array().cast("array<double>"))
        joined = lists.join(self.seen, USER_INDEX, "left")
        return joined.select(USER_INDEX, F.slice(F.array_except("recommended", seen), 1, k).alias("recommended"))

    def popular_lists(self, k: int) -> DataFrame:
        """``USER_INDEX, recommended``: the ``k`` most frequent training items each test user has not rated."""
        return self.same_lists([float(i) for i in range(min(self.candidates(k), len(self.items.labels)))], k)

    def same_lists(self, items: list[float], k: int) -> DataFrame:
        """``USER_INDEX, recommended``: the first ``k`` of ``items`` (item indices, best first) that each test
        user has not rated."""
        from pyspark.sql import functions as F

        lists = self.relevant.select(USER_INDEX, F.array(*[F.lit(i) for i in items]).alias("recommended"))
        return self.unseen(lists, k)

    def recommender(self, als: ALSModel) -> Recommender:
        """The Spark-free recommender of ``als`` fitted on these ratings (ids, seen items, fallback)."""
        from sparkwright.deploy.recommender import Recommender

        return Recommender.from_fitted(
            self.users,
            self.items,
            als,
            self.seen_rows,
            fallback_rating=self.fallback_rating,
            implicit=self.columns.implicit,
            integer_ids=self.integer_ids,
        )

    def release(self) -> None:
        for frame in (self.train, self.test, self.rated, self.relevant, self.seen):
            frame.unpersist()


def scoring_pipeline(indexed: IndexedRatings, als: ALSModel) -> PipelineModel:
    """The logged model: ids -> indices -> ALS -> ``prediction``, the fallback rating where ALS has NaN (an
    unknown user or item), so a scored row always has a number. Every stage is a Java stage: the pipeline
    saves, loads and scores through ``mlflow.spark`` with no Python class."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import SQLTransformer

    from sparkwright.models.als import ALS_PREDICTION_COL

    raw = f"`{ALS_PREDICTION_COL}`"
    fallback = f"CAST({indexed.fallback_rating!r} AS DOUBLE)"
    statement = (
        f"SELECT *, CASE WHEN {raw} IS NULL OR isnan({raw}) THEN {fallback} ELSE CAST({raw} AS DOUBLE) END "
        f"AS `{PREDICTION_COL}` FROM __THIS__"
    )
    return PipelineModel(stages=[indexed.users, indexed.items, als, SQLTransformer(statement=statement)])


def seen_items(indexed_train: DataFrame, key: str, other: str) -> DataFrame:
    """``key, seen``: the ``other`` indices (as doubles) each ``key`` has in training."""
    from pyspark.sql import functions as F

    return indexed_train.groupBy(key).agg(F.collect_set(F.col(other).cast("double")).alias("seen"))


def als_lists(recommender: Recommender, indexed: IndexedRatings, k: int) -> DataFrame:
    """``USER_INDEX, recommended``: the top ``k`` unseen item indices of every test user, ranked on the driver
    by the model's recommender (the same ranking ``recommend`` and REST serve). ALS's own
    ``recommendForUserSubset`` would have to rank ``k + max_seen`` items per user to leave the seen ones out:
    about 20 times slower on movielens than one matrix product of factors the recommender holds anyway."""
    users = [int(r[USER_INDEX]) for r in indexed.relevant.select(USER_INDEX).collect()]
    known = np.array([u for u in users if u < len(recommender.users)], dtype=np.int64)
    ranked = recommender.rank_rows(known, k)
    rows = [(float(u), [float(i) for i in top]) for u, (top, _) in zip(known, ranked, strict=True)]
    spark = indexed.relevant.sparkSession
    return spark.createDataFrame(rows, f"{USER_INDEX} double, recommended array<double>")


def top_n_tables(als: ALSModel, indexed: IndexedRatings, n: int) -> tuple[DataFrame, DataFrame]:
    """``(by user, by item)``: each user's ``n`` best items and each item's ``n`` most likely users, ranked from
    1, with the ALS score and the ids in their source type. Pairs rated in training are left out of both."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = indexed.columns
    users = indexed.train.select(columns.user, USER_INDEX).distinct()
    items = indexed.train.select(columns.item, ITEM_INDEX).distinct()
    rated = indexed.train.select(USER_INDEX, ITEM_INDEX)

    def ranked(lists: DataFrame, key: str, other: str) -> DataFrame:
        exploded = lists.select(key, F.posexplode("recommendations").alias("position", "pick"))
        picks = exploded.select(
            key, "position", F.col(f"pick.{other}").alias(other), F.col("pick.rating").cast("double").alias("score")
        )
        picks = picks.join(rated, [USER_INDEX, ITEM_INDEX], "left_anti")
        rank = F.row_number().over(Window.partitionBy(key).orderBy("position"))
        return picks.withColumn("rank", rank).where(F.col("rank") <= n).drop("position")

    most = {
        key: indexed.train.groupBy(key).count().agg(F.max("count")).first()[0] or 0 for key in (USER_INDEX, ITEM_INDEX)
    }
    by_user = ranked(als.recommendForAllUsers(n + most[USER_INDEX]), USER_INDEX, ITEM_INDEX)
    by_item = ranked(als.recommendForAllItems(n + most[ITEM_INDEX]), ITEM_INDEX, USER_INDEX)
    by_user = by_user.join(users, USER_INDEX).join(items, ITEM_INDEX)
    by_item = by_item.join(items, ITEM_INDEX).join(users, USER_INDEX)
    return (
        by_user.select(columns.user, "rank", columns.item, "score"),
        by_item.select(columns.item, "rank", columns.user, "score"),
    )
