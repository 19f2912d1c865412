"""Seeded train/test splits and k-fold assignment that do not depend on how the data is partitioned.

``randomSplit`` depends on partitioning, so re-reading the same Delta version on another cluster
could move rows between train and test; a seeded hash of the row's content does not.

A split of rows that an earlier split already chose (a validation slice of the training rows) passes its
own ``salt``: with the same seed and no salt it would draw the very hashes the earlier split excluded, and
come back empty.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sparkwright.errors import DataError

_BUCKETS = 10_000


def split_train_test(
    df: DataFrame,
    *,
    test_fraction: float,
    seed: int,
    key_columns: list[str] | None = None,
    stratify_by: str | None = None,
    salt: str = "",
) -> tuple[DataFrame, DataFrame]:
    """Split rows by a seeded hash of their key (or of every column), salted by the split's purpose.

    With ``stratify_by`` (classification) each class is split on its own: the ``round(fraction * n)``
    rows of a class with the smallest hashes go to test, so both sides keep the class proportions exactly.
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    row_hash = _row_hash(df, seed, key_columns, salt)
    if stratify_by is None:
        is_test = F.pmod(row_hash, F.lit(_BUCKETS)) < F.lit(round(test_fraction * _BUCKETS))
        return df.where(~is_test), df.where(is_test)
    rank, size = _rank_in_class(row_hash, stratify_by)
    ranked = df.withColumn("__sw_rank", rank).withColumn("__sw_size", size)
    is_test = F.col("__sw_rank") <= F.round(F.col("__sw_size") * F.lit(test_fraction))
    return (
        ranked.where(~is_test).drop("__sw_rank", "__sw_size"),
        ranked.where(is_test).drop("__sw_rank", "__sw_size"),
    )


def assign_folds(
    df: DataFrame,
    folds: int,
    *,
    seed: int,
    fold_col: str,
    key_columns: list[str] | None = None,
    stratify_by: str | None = None,
) -> DataFrame:
    """``df`` with ``fold_col`` in 0..folds-1: by hash, or dealt round-robin within each class.

    Raises:
        DataError: ``folds`` < 2.
    """
    if folds < 2:
        raise DataError(f"k-fold cross-validation needs at least 2 folds, got {folds}.")
    row_hash = _row_hash(df, seed, key_columns)
    if stratify_by is None:
        return df.withColumn(fold_col, F.pmod(row_hash, F.lit(folds)).cast("int"))
    rank, _ = _rank_in_class(row_hash, stratify_by)
    return df.withColumn(fold_col, F.pmod(rank - 1, F.lit(folds)).cast("int"))


def _row_hash(df: DataFrame, seed: int, key_columns: list[str] | None, salt: str = "") -> Column:
    columns = [F.col(f"`{c}`") for c in key_columns or df.columns]
    # No salt hashes exactly as before salts existed, so earlier runs' train / test splits stay reproducible.
    return F.xxhash64(F.lit(seed), *([F.lit(salt)] if salt else []), *columns)


def _rank_in_class(row_hash: Column, stratify_by: str) -> tuple[Column, Column]:
    """1-based rank of a row by hash within its class, and the class size."""
    by_class = Window.partitionBy(F.col(f"`{stratify_by}`"))
    return F.row_number().over(by_class.orderBy(row_hash)), F.count(F.lit(1)).over(by_class)
