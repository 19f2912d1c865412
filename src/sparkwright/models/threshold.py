"""Choosing a binary decision threshold on held-out probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Candidate thresholds 0.01, 0.02, ..., 0.99: finer steps would only fit the validation slice's noise.
CANDIDATES = [round(i / 100, 2) for i in range(1, 100)]


def best_f1_threshold(
    predictions: DataFrame, label_col: str, positive: str, probability_col: str = "probability"
) -> float:
    """The candidate threshold with the highest F1 of the ``positive`` class, in one Spark aggregation.

    Ties go to the threshold closest to 0.5.

    Raises:
        DataError: The predictions have no row of the positive class.
    """
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    is_positive = F.col(f"`{label_col}`").cast("string") == F.lit(positive)
    score = vector_to_array(F.col(f"`{probability_col}`"))[1]
    rows = predictions.select(is_positive.cast("int").alias("y"), score.alias("p"))
    sums = [F.sum("y").alias("positives")]
    for i, t in enumerate(CANDIDATES):
        sums += [
            F.sum(F.when(F.col("p") >= t, F.col("y"))).alias(f"tp{i}"),
            F.sum(F.when(F.col("p") >= t, 1 - F.col("y"))).alias(f"fp{i}"),
        ]
    totals = rows.agg(*sums).first().asDict()
    positives = totals["positives"] or 0
    if positives == 0:
        raise DataError(f"cannot choose a threshold: the validation rows have no {positive!r} in {label_col!r}.")
    best, best_f1 = 0.5, -1.0
    for i, t in sorted(enumerate(CANDIDATES), key=lambda item: abs(item[1] - 0.5)):
        tp, fp = totals[f"tp{i}"] or 0, totals[f"fp{i}"] or 0
        f1 = 2 * tp / (2 * tp + fp + (positives - tp)) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best
