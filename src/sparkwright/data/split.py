"""Seeded train/test split that does not depend on how the data is partitioned."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkwright.errors import DataError

_BUCKETS = 10_000


def split_train_test(
    df: DataFrame, *, test_fraction: float, seed: int, key_columns: list[str] | None = None
) -> tuple[DataFrame, DataFrame]:
    """Split rows by a seeded hash of their key (or of every column).

    ``randomSplit`` depends on partitioning, so re-reading the same Delta version on another cluster
    could move rows between train and test; a hash of the row's content does not.
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    columns = key_columns or df.columns
    bucket: Column = F.pmod(F.xxhash64(F.lit(seed), *[F.col(c) for c in columns]), F.lit(_BUCKETS))
    is_test = bucket < F.lit(round(test_fraction * _BUCKETS))
    return df.where(~is_test), df.where(is_test)
