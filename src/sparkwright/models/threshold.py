"""Choosing a binary decision threshold on held-out probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Candidate thresholds 0.01, 0.02, ..., 0.99: finer steps would only fit the validation slice's noise.
CANDIDATES = [round(i / 100, 2) for i in range(1, 100)]


def best_f1_threshold(
    predictions: DataFrame, label_col: str, positive: str, probability_col: str = "probability"
) -> float:
    """The candidate threshold with the highest F1 of the ``positive`` class. Ties go to the threshold closest
    to 0.5.

    One small aggregation: a row's bucket is how many candidates its probability reaches (0 to 99); the
    positives and rows per bucket, summed from the top bucket down, give every candidate's true and false
    positives on the driver. (One conditional sum per candidate and count, 198 in all, took seconds to
    plan and compile for a few hundred rows.)

    Raises:
        DataError: The predictions have no row of the positive class.
    """
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    is_positive = F.col(f"`{label_col}`").cast("string") == F.lit(positive)
    score = vector_to_array(F.col(f"`{probability_col}`"))[1]
    rows = predictions.select(is_positive.cast("int").alias("y"), score.alias("p"))
    # floor(p * 100) is off by one where p * 100 rounds across an integer (0.29 * 100 = 28.999...): compare
    # with the candidate i / 100 itself, the same double as CANDIDATES[i - 1].
    first = F.floor(F.col("p") * 100)
    reached = (
        F.when(F.col("p") >= (first + 1) / 100, first + 1).when(F.col("p") < first / 100, first - 1).otherwise(first)
    )
    bucket = F.least(F.greatest(reached, F.lit(0)), F.lit(len(CANDIDATES)))
    counts = rows.groupBy(bucket.alias("bucket")).agg(F.sum("y").alias("positives"), F.count("p").alias("rows"))
    positives_in, rows_in = np.zeros(len(CANDIDATES) + 1), np.zeros(len(CANDIDATES) + 1)
    positives = 0
    for row in counts.collect():
        positives += row["positives"] or 0
        if row["bucket"] is not None:
            positives_in[int(row["bucket"])] += row["positives"] or 0
            rows_in[int(row["bucket"])] += row["rows"]
    if positives == 0:
        raise DataError(f"cannot choose a threshold: the validation rows have no {positive!r} in {label_col!r}.")
    # Candidate i (threshold CANDIDATES[i - 1]) flags the rows of buckets i and above.
    true_positives = np.cumsum(positives_in[::-1])[::-1]
    flagged = np.cumsum(rows_in[::-1])[::-1]
    best, best_f1 = 0.5, -1.0
    for i, t in sorted(enumerate(CANDIDATES, start=1), key=lambda item: abs(item[1] - 0.5)):
        tp, fp = true_positives[i], flagged[i] - true_positives[i]
        f1 = 2 * tp / (2 * tp + fp + (positives - tp)) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best
