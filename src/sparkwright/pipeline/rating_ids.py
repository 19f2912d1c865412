"""How a user or item id column becomes the integer index ALS works on, and the recommender's rows.

Chosen per column from the training ids:
- **integer ids in ALS's range** (0 to 2^31 - 1, as movielens' are) are their own index: a cast, no job
  and no lookup per row, the way a hand-written ALS script uses them;
- **anything else** (strings, negative or larger integers) goes through a StringIndexer, most frequent first.

Either way the logged pipeline's stages (:func:`index_stages`) turn the source ids into indices, and an id not
seen in training gets an index ALS has no factors for (-1, or the indexer's extra one), so the model
answers it with its fallback. The Spark-free recommender numbers the known ids from 0, most frequent in
training first (its *rows*); for indexed ids a row and an index are the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyspark.ml import Transformer
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.sql import DataFrame

INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
# The largest id ALS takes (its ids are Java ints).
ALS_MAX_ID = 2**31 - 1
# The index of an integer id ALS cannot know (null, negative, beyond ALS_MAX_ID, not a number).
UNKNOWN_INDEX = -1


def fits_als(data_type: str, low: int | None, high: int | None) -> bool:
    """Whether ids of ``data_type`` spanning ``[low, high]`` in training can be ALS's indices as they are."""
    return data_type in INTEGER_TYPES and low is not None and high is not None and low >= 0 and high <= ALS_MAX_ID


@dataclass
class IdIndex:
    """One id column's way to ALS's index and to the recommender's rows.

    Attributes:
        column: The source column (``data.user`` or ``data.item``).
        output: The index column (``_user_index`` / ``_item_index``).
        train: The training rows, counted by id when the recommender's rows are first needed.
        indexer: The fitted StringIndexer; None when the ids are their own index (:attr:`expression`).
    """

    column: str
    output: str
    train: DataFrame
    indexer: StringIndexerModel | None

    @classmethod
    def fit(cls, column: str, output: str, train: DataFrame, *, as_is: bool) -> IdIndex:
        """``as_is``: the ids are their own index (see :func:`fits_als`); otherwise a StringIndexer is fitted."""
        from pyspark.ml.feature import StringIndexer

        if as_is:
            return cls(column, output, train, None)
        indexer = StringIndexer(
            inputCol=column, outputCol=output, handleInvalid="keep", stringOrderType="frequencyDesc"
        )
        return cls(column, output, train, indexer.fit(train))

    @property
    def as_is(self) -> bool:
        return self.indexer is None

    @property
    def expression(self) -> str:
        """The index of an id that is its own index, in Spark SQL: the id as an int, ``UNKNOWN_INDEX`` for what
        ALS cannot know (null, negative, beyond its range, not a number)."""
        source = f"`{self.column}`"
        known = f"CASE WHEN TRY_CAST({source} AS BIGINT) >= 0 THEN TRY_CAST({source} AS INT) END"
        return f"COALESCE({known}, {UNKNOWN_INDEX})"

    def transform(self, df: DataFrame) -> DataFrame:
        """``df`` with the index column."""
        from pyspark.sql import functions as F

        if self.indexer is not None:
            return self.indexer.transform(df)
        return df.withColumn(self.output, F.expr(self.expression))

    @cached_property
    def labels(self) -> list[str]:
        """The training ids as text (as StringIndexer writes them), most frequent first: row ``r``'s id."""
        from pyspark.sql import functions as F

        if self.indexer is not None:
            return list(self.indexer.labels)
        counts = self.train.groupBy(self.column).count().orderBy(F.desc("count"), self.column)
        return [str(r[0]) for r in counts.select(self.column).collect()]

    @cached_property
    def _ids(self) -> np.ndarray:
        """ALS's index of each row, for ids that are their own index."""
        return np.array([int(label) for label in self.labels], dtype=np.int64)

    @cached_property
    def _by_id(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids sorted, their rows)``: what :meth:`rows` searches."""
        order = np.argsort(self._ids, kind="stable")
        return self._ids[order], order

    def indices(self, rows: np.ndarray) -> np.ndarray:
        """ALS's index of each of ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        return self._ids[rows] if self.as_is else rows

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The recommender's row of each of ALS's ``indices``; -1 for an index of no training id."""
        indices = np.asarray(indices, dtype=np.int64)
        if not self.as_is:
            return np.where((indices >= 0) & (indices < len(self.labels)), indices, -1)
        ids, order = self._by_id
        if len(ids) == 0:
            return np.full(len(indices), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(ids, indices), len(ids) - 1)
        return np.where(ids[at] == indices, order[at], -1)


def index_stages(users: IdIndex, items: IdIndex) -> list[Transformer]:
    """The logged pipeline's stages from ids to indices: a StringIndexer per indexed column, and one SQL cast
    for the ids that are their own index (one stage for both: a SQLTransformer costs about 80 ms of planning
    per transform)."""
    from pyspark.ml.feature import SQLTransformer

    stages: list[Transformer] = [ids.indexer for ids in (users, items) if ids.indexer is not None]
    casts = [f"{ids.expression} AS `{ids.output}`" for ids in (users, items) if ids.as_is]
    if casts:
        stages.append(SQLTransformer(statement=f"SELECT *, {', '.join(casts)} FROM __THIS__"))
    return stages
