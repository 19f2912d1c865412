"""The Spark side of the recommendation flow: indexed ratings, ALS scoring pipelines, top-k lists, top-N tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """

    columns: RatingColumns
    users: StringIndexerModel
    items: StringIndexerModel
    train: DataFrame
    test: DataFrame
    rated: DataFrame
    relevant: DataFrame
    mean: float
    cold_start_rows: int

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
        cold = indexed_test.count() - rated.count()
        return cls(
            columns, users, items, indexed_train, indexed_test, rated, relevant_items(indexed_test).cache(), mean, cold
        )

    @property
    def integer_ids(self) -> tuple[bool, bool]:
        types = dict(self.train.dtypes)
        return types[self.columns.user] in _INTEGER_TYPES, types[self.columns.item] in _INTEGER_TYPES

    @property
    def fallback_rating(self) -> float:
        """What the logged model predicts for an unknown user or item: the training mean rating (explicit), or
        no preference (implicit)."""
        return 0.0 if self.columns.implicit else self.mean

    def popular_lists(self, k: int) -> DataFrame:
        """``USER_INDEX, recommended``: the ``k`` most frequent training items for every test user."""
        from pyspark.sql import functions as F

        top = [F.lit(float(i)) for i in range(min(k, len(self.items.labels)))]
        return self.relevant.select(USER_INDEX, F.array(*top).alias("recommended"))

    def same_lists(self, items: list[float]) -> DataFrame:
        """``USER_INDEX, recommended``: one list of item indices for every test user."""
        from pyspark.sql import functions as F

        return self.relevant.select(USER_INDEX, F.array(*[F.lit(i) for i in items]).alias("recommended"))

    def release(self) -> None:
        for frame in (self.train, self.test, self.rated, self.relevant):
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


def als_lists(als: ALSModel, indexed: IndexedRatings, k: int) -> DataFrame:
    """``USER_INDEX, recommended``: ALS's top ``k`` item indices for every test user."""
    from pyspark.sql import functions as F

    lists = als.recommendForUserSubset(indexed.relevant.select(USER_INDEX), k)
    return lists.select(
        USER_INDEX, F.transform("recommendations", lambda r: r[ITEM_INDEX].cast("double")).alias("recommended")
    )


def top_n_tables(als: ALSModel, indexed: IndexedRatings, n: int) -> tuple[DataFrame, DataFrame]:
    """``(by user, by item)``: each user's ``n`` best items and each item's ``n`` most likely users, ranked from
    1, with the ALS score and the ids in their source type."""
    from pyspark.sql import functions as F

    columns = indexed.columns
    users = indexed.train.select(columns.user, USER_INDEX).distinct()
    items = indexed.train.select(columns.item, ITEM_INDEX).distinct()

    def ranked(lists: DataFrame, key: str, other: str) -> DataFrame:
        exploded = lists.select(key, F.posexplode("recommendations").alias("position", "pick"))
        return exploded.select(
            key,
            (F.col("position") + 1).alias("rank"),
            F.col(f"pick.{other}").alias(other),
            F.col("pick.rating").cast("double").alias("score"),
        )

    by_user = ranked(als.recommendForAllUsers(n), USER_INDEX, ITEM_INDEX)
    by_item = ranked(als.recommendForAllItems(n), ITEM_INDEX, USER_INDEX)
    by_user = by_user.join(users, USER_INDEX).join(items, ITEM_INDEX)
    by_item = by_item.join(items, ITEM_INDEX).join(users, USER_INDEX)
    return (
        by_user.select(columns.user, "rank", columns.item, "score"),
        by_item.select(columns.item, "rank", columns.user, "score"),
    )
