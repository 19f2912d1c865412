"""The search's and tuning's validation slice of the training split: drawn apart from the test split.

With one fold (large data) the search holds out ``validation_fraction`` of the training rows. Drawn with the
test split's hash and seed, that slice was empty (every row under the cut-off had gone to test), so every
trial failed on 0 rows; these tests keep the two draws independent.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from sparkwright.data import split_train_test
from sparkwright.pipeline.folds import TrainingFolds

SEED = 42


@pytest.fixture(scope="module")
def rows(spark):
    """4,000 rows with an id, a number and a two-class label."""
    return (
        spark.range(4000)
        .select(
            F.col("id").alias("customer_id"),
            (F.col("id") * 0.37 % 11).alias("x"),
            F.when(F.col("id") % 4 == 0, "yes").otherwise("no").alias("label"),
        )
        .cache()
    )


@pytest.mark.parametrize(
    ("keys", "stratify"), [(None, None), (["customer_id"], None), (None, "label")], ids=["content", "keys", "strata"]
)
def test_one_fold_holds_out_a_share_of_the_training_rows_with_the_split_seed(rows, keys, stratify):
    train, test = split_train_test(rows, test_fraction=0.2, seed=SEED, key_columns=keys, stratify_by=stratify)
    folds = TrainingFolds(train, folds=1, seed=SEED, validation_fraction=0.2, stratify_by=stratify, key_columns=keys)
    try:
        [(fit, validation)] = folds.pairs()
        train_ids = {r.customer_id for r in train.select("customer_id").collect()}
        fit_ids = {r.customer_id for r in fit.select("customer_id").collect()}
        validation_ids = {r.customer_id for r in validation.select("customer_id").collect()}
    finally:
        folds.release()

    assert fit_ids | validation_ids == train_ids
    assert not fit_ids & validation_ids
    assert 0.15 < len(validation_ids) / len(train_ids) < 0.25
    test_ids = {r.customer_id for r in test.select("customer_id").collect()}
    assert not validation_ids & test_ids


def test_a_salt_draws_other_rows_and_no_salt_keeps_the_split_reproducible(rows):
    first = split_train_test(rows, test_fraction=0.2, seed=SEED)[1]
    again = split_train_test(rows.repartition(5), test_fraction=0.2, seed=SEED)[1]
    salted = split_train_test(rows, test_fraction=0.2, seed=SEED, salt="validation")[1]

    def ids(df):
        return {r.customer_id for r in df.select("customer_id").collect()}

    assert ids(first) == ids(again)
    overlap = len(ids(first) & ids(salted)) / len(ids(first))
    assert overlap < 0.35  # independent draws of 20% share about 20% of their rows
