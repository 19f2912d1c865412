"""The Spark side of the recommendation flow: indexed ratings, ALS scoring pipelines, top-k lists, top-N tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sparkwright.pipeline.rating_ids import INTEGER_TYPES, IdIndex, fits_als, index_stages
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
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame

    from sparkwright.deploy.recommender import Recommender


@dataclass
class IndexedRatings:
    """The split with integer user and item indices (:class:`IdIndex`: movielens-like integer ids as they are,
    other ids through a StringIndexer fitted on the training split), each test user's held-out items, and the
    training mean.

    Only what every fit needs runs a Spark job here (the mean and the ids' range, in one; the StringIndexers
    where ids are not integers). ``rated``, ``relevant``, ``seen`` and the counts are computed and cached on
    first use, so a fit judged on ratings alone (:func:`judged_predictions`) runs no job for them.
    """

    columns: RatingColumns
    users: IdIndex
    items: IdIndex
    train: DataFrame
    test: DataFrame
    mean: float
    _cached: list[DataFrame] = field(default_factory=list, repr=False)

    @classmethod
    def fit(cls, columns: RatingColumns, train: DataFrame, test: DataFrame) -> IndexedRatings:
        from pyspark.sql import functions as F

        cached: list[DataFrame] = []
        if columns.implicit:  # repeated interactions add up to one confidence per (user, item)
            train = train.groupBy(columns.user, columns.item).agg(F.sum(RATING_COL).alias(RATING_COL)).cache()
            cached.append(train)
        types = dict(train.dtypes)
        ranges = [
            agg(F.col(f"`{column}`")).alias(f"{name}_{column}")
            for column in (columns.user, columns.item)
            if types[column] in INTEGER_TYPES
            for name, agg in (("low", F.min), ("high", F.max))
        ]
        stats = train.agg(F.avg(RATING_COL).alias("mean"), *ranges).first().asDict()

        def index(column: str, output: str) -> IdIndex:
            as_is = fits_als(types[column], stats.get(f"low_{column}"), stats.get(f"high_{column}"))
            return IdIndex.fit(column, output, train, as_is=as_is)

        users, items = index(columns.user, USER_INDEX), index(columns.item, ITEM_INDEX)
        indexed_train = items.transform(users.transform(train))
        indexed_test = items.transform(users.transform(test))
        if not (users.as_is and items.as_is):  # a lookup per row: keep its result
            indexed_train, indexed_test = indexed_train.cache(), indexed_test.cache()
            cached += [indexed_train, indexed_test]
        return cls(columns, users, items, indexed_train, indexed_test, float(stats["mean"]), cached)

    @cached_property
    def rated(self) -> DataFrame:
        """The test ratings of users and items seen in training: what rating metrics judge, as Spark's
        ``coldStartStrategy="drop"`` would, so every model is judged on the same rows and no metric sees a NaN.
        ``cold_start_rows`` counts the others (they still count in the top-k metrics, as held-out items no
        model can recommend)."""
        rated = self.test
        for key in (USER_INDEX, ITEM_INDEX):
            rated = rated.join(self.train.select(key).distinct(), key, "left_semi")
        return self._keep(rated)

    @cached_property
    def relevant(self) -> DataFrame:
        """``USER_INDEX, relevant``: each test user's held-out items."""
        return self._keep(relevant_items(self.test))

    @cached_property
    def seen(self) -> DataFrame:
        """``USER_INDEX, seen``: each test user's training items. Every top-k list leaves them out (a recommender
        that repeats what the user rated is of no use, and the held-out items are never among them), so each
        model ranks ``k + max_seen`` candidates and keeps the first ``k`` unseen."""
        seen = seen_items(self.train, USER_INDEX, ITEM_INDEX)
        return self._keep(seen.join(self.relevant.select(USER_INDEX), USER_INDEX))

    def _keep(self, frame: DataFrame) -> DataFrame:
        self._cached.append(frame.cache())
        return frame

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
        return types[self.columns.user] in INTEGER_TYPES, types[self.columns.item] in INTEGER_TYPES

    @property
    def fallback_rating(self) -> float:
        """What the logged model predicts for an unknown user or item: the training mean rating (explicit), or
        no preference (implicit)."""
        return 0.0 if self.columns.implicit else self.mean

    @cached_property
    def seen_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(seen_start, seen_items)``: every training user's items as compressed sparse rows of the recommender's
        user and item rows (user row ``u``'s are ``seen_items[seen_start[u]:seen_start[u + 1]]``), what a
        recommender leaves out."""
        pairs = self.train.select(USER_INDEX, ITEM_INDEX).distinct().toPandas()
        users = self.users.rows(pairs[USER_INDEX].to_numpy(np.int64))
        items = self.items.rows(pairs[ITEM_INDEX].to_numpy(np.int64))
        order = np.lexsort((items, users))
        counts = np.bincount(users, minlength=len(self.users.labels))
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return start, items[order].astype(np.int32)

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
        top = self.items.indices(np.arange(min(self.candidates(k), len(self.items.labels))))
        return self.same_lists([float(i) for i in top], k)

    def same_lists(self, items: list[float], k: int) -> DataFrame:
        """``USER_INDEX, recommended``: the first ``k`` of ``items`` (item indices, best first) that each test
        user has not rated."""
        from pyspark.sql import functions as F

        lists = self.relevant.select(USER_INDEX, F.array(*[F.lit(i) for i in items]).alias("recommended"))
        return self.unseen(lists, k)

    def recommender(self, als: ALSModel) -> Recommender:
        """The Spark-free recommender of ``als`` fitted on these ratings: its factors collected to the driver by
        the rows of :class:`IdIndex` (most frequent first, so the first items are the most popular), the ids,
        the seen items and the fallback."""
        from sparkwright.deploy.recommender import POPULAR_ITEMS, Recommender

        def factors(frame: DataFrame, ids: IdIndex) -> np.ndarray:
            """``(rows, rank)`` float32; NaN rows for ids ALS learnt nothing about."""
            matrix = np.full((len(ids.labels), als.rank), np.nan, dtype=np.float32)
            collected = frame.toPandas()
            rows = ids.rows(collected["id"].to_numpy(np.int64))
            known = rows >= 0
            if known.any():
                matrix[rows[known]] = np.stack(collected["features"].to_numpy()[known])
            return matrix

        return Recommender(
            user_col=self.columns.user,
            item_col=self.columns.item,
            users=self.users.labels,
            items=self.items.labels,
            user_factors=factors(als.userFactors, self.users),
            item_factors=factors(als.itemFactors, self.items),
            popular=self.items.labels[:POPULAR_ITEMS],
            fallback_rating=self.fallback_rating,
            implicit=self.columns.implicit,
            seen_start=self.seen_rows[0],
            seen_items=self.seen_rows[1],
            integer_ids=self.integer_ids,
        )

    def release(self) -> None:
        for frame in self._cached:
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
    stages = [*index_stages(indexed.users, indexed.items), als, SQLTransformer(statement=statement)]
    return PipelineModel(stages=stages)


def judged_predictions(indexed: IndexedRatings, als: ALSModel) -> DataFrame:
    """The test ratings scored through the logged pipeline, those of users and items ``als`` has factors for:
    ``indexed.rated``'s rows (what Spark's ``coldStartStrategy="drop"`` keeps), found by the model itself, so
    judging an ALS model costs one pass over the test ids."""
    from pyspark.sql import functions as F

    from sparkwright.models.als import ALS_PREDICTION_COL

    scored = scoring_pipeline(indexed, als).transform(indexed.test.drop(USER_INDEX, ITEM_INDEX))
    return scored.where(~F.isnan(ALS_PREDICTION_COL))


def seen_items(indexed_train: DataFrame, key: str, other: str) -> DataFrame:
    """``key, seen``: the ``other`` indices (as doubles) each ``key`` has in training."""
    from pyspark.sql import functions as F

    return indexed_train.groupBy(key).agg(F.collect_set(F.col(other).cast("double")).alias("seen"))


def als_lists(recommender: Recommender, indexed: IndexedRatings, k: int) -> DataFrame:
    """``USER_INDEX, recommended``: the top ``k`` unseen item indices of every test user, ranked on the driver
    by the model's recommender (the same ranking ``recommend`` and REST serve). ALS's own
    ``recommendForUserSubset`` would have to rank ``k + max_seen`` items per user to leave the seen ones out:
    about 20 times slower on movielens than one matrix product of factors the recommender holds anyway."""
    users = np.array([int(r[USER_INDEX]) for r in indexed.relevant.select(USER_INDEX).collect()], dtype=np.int64)
    user_rows = indexed.users.rows(users)
    known = user_rows >= 0
    ranked = recommender.rank_rows(user_rows[known], k)
    rows = [
        (float(u), [float(i) for i in indexed.items.indices(top)])
        for u, (top, _) in zip(users[known], ranked, strict=True)
    ]
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
