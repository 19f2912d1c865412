"""Test-set metrics, computed in Spark aggregations rather than one evaluator job per metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def regression_metrics(predictions: DataFrame, label_col: str, prediction_col: str = "prediction") -> dict[str, float]:
    """RMSE, MAE, MSE and R² of ``prediction_col`` against ``label_col``, in one pass over the data.

    R² follows scikit-learn: 1 - SSE / SST, and for a constant label 1.0 when every prediction is
    exact, else 0.0.

    Returns:
        ``{"rmse": ..., "mae": ..., "mse": ..., "r2": ...}``.

    Raises:
        DataError: A column is missing, the data is empty, or a label or prediction is null.
    """
    from pyspark.sql import functions as F

    _require_columns(predictions, [label_col, prediction_col])
    label = F.col(f"`{label_col}`").cast("double")
    error = F.col(f"`{prediction_col}`").cast("double") - label
    row = predictions.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(error).alias("n"),
        F.sum(error * error).alias("sse"),
        F.sum(F.abs(error)).alias("sae"),
        # var_pop uses a numerically stable update, unlike sum(y^2) - n * mean^2.
        F.var_pop(label).alias("var"),
    ).first()
    if row["rows"] == 0:
        raise DataError("cannot compute metrics on empty predictions; the test split has no rows.")
    if row["n"] != row["rows"]:
        raise DataError(
            f"{row['rows'] - row['n']} of {row['rows']} rows have a null {label_col!r} or {prediction_col!r}; "
            "metrics need both on every row."
        )
    n, sse, sst = row["n"], row["sse"], row["var"] * row["n"]
    mse = sse / n
    r2 = 1.0 - sse / sst if sst > 0 else float(sse == 0)  # constant label: scikit-learn's convention
    return {"rmse": mse**0.5, "mae": row["sae"] / n, "mse": mse, "r2": r2}


_EPSILON = 1e-15  # log loss clips probabilities as scikit-learn does


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts by (actual, predicted) class; rows are actual, columns predicted, both in ``classes`` order."""

    classes: list[str]
    counts: list[list[int]]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))


def confusion_matrix(
    predictions: DataFrame, label_col: str, classes: list[str], prediction_col: str = "prediction"
) -> ConfusionMatrix:
    """The confusion matrix in one Spark aggregation; labels are compared as Spark's string cast.

    Raises:
        DataError: A column is missing, the data is empty, or a label is not one of ``classes``.
    """
    from pyspark.sql import functions as F

    _require_columns(predictions, [label_col, prediction_col])
    grouped = predictions.groupBy(
        F.col(f"`{label_col}`").cast("string").alias("actual"),
        F.col(f"`{prediction_col}`").cast("string").alias("predicted"),
    ).count()
    index = {c: i for i, c in enumerate(classes)}
    counts = [[0] * len(classes) for _ in classes]
    unknown: set[str | None] = set()
    for row in grouped.collect():
        actual, predicted = index.get(row["actual"]), index.get(row["predicted"])
        if actual is None or predicted is None:
            unknown.add(row["actual"] if actual is None else row["predicted"])
            continue
        counts[actual][predicted] += row["count"]
    if unknown:
        raise DataError(
            f"values {sorted(map(str, unknown))} of {label_col!r} or {prediction_col!r} are not classes the model "
            f"was trained on ({classes}); the test data has a class the training data lacks."
        )
    matrix = ConfusionMatrix(classes, counts)
    if matrix.total == 0:
        raise DataError("cannot compute metrics on empty predictions; the test split has no rows.")
    return matrix


def classification_metrics(
    predictions: DataFrame,
    label_col: str,
    classes: list[str],
    prediction_col: str = "prediction",
    probability_col: str = "probability",
) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC AUC, PR AUC and log loss of a classifier's predictions.

    ``classes`` gives the order of the ``probability`` vector. Binary: precision / recall / F1 are
    those of the positive class, ``classes[-1]``. Multiclass: precision / recall / F1 are averaged
    weighted by support, ROC and PR AUC are averaged one-vs-rest (macro), as scikit-learn's
    ``average="weighted"`` and ``roc_auc_score(multi_class="ovr")`` do.

    Raises:
        DataError: See :func:`confusion_matrix`; also a missing probability column.
    """
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    _require_columns(predictions, [probability_col])
    matrix = confusion_matrix(predictions, label_col, classes, prediction_col)
    metrics = _rates(matrix)

    index_expr = F.lit(None).cast("int")
    for i, cls in enumerate(classes):
        index_expr = F.when(F.col(f"`{label_col}`").cast("string") == F.lit(cls), F.lit(i)).otherwise(index_expr)
    scored = predictions.select(
        index_expr.alias("y"), vector_to_array(F.col(f"`{probability_col}`")).alias("p")
    ).cache()
    try:
        true_p = F.greatest(F.least(F.element_at("p", F.col("y") + 1), F.lit(1 - _EPSILON)), F.lit(_EPSILON))
        metrics["log_loss"] = scored.agg(F.avg(-F.ln(true_p))).first()[0]
        positives = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
        roc, pr = [], []
        for k in positives:
            one_vs_rest = scored.select((F.col("y") == k).cast("double").alias("label"), F.col("p")[k].alias("score"))
            for name, sink in (("areaUnderROC", roc), ("areaUnderPR", pr)):
                evaluator = BinaryClassificationEvaluator(
                    rawPredictionCol="score", labelCol="label", metricName=name, numBins=0
                )
                sink.append(evaluator.evaluate(one_vs_rest))
        metrics["roc_auc"] = sum(roc) / len(roc)
        metrics["pr_auc"] = sum(pr) / len(pr)
    finally:
        scored.unpersist()
    order = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss")  # how leaderboards show them
    return {name: metrics[name] for name in order}


def _rates(matrix: ConfusionMatrix) -> dict[str, float]:
    """Accuracy and (positive-class or support-weighted) precision, recall and F1 from the counts."""
    counts, k, total = matrix.counts, len(matrix.classes), matrix.total
    per_class = []
    for c in range(k):
        tp = counts[c][c]
        predicted = sum(counts[r][c] for r in range(k))
        actual = sum(counts[c])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1, actual))
    accuracy = sum(counts[c][c] for c in range(k)) / total
    if k == 2:
        precision, recall, f1, _ = per_class[1]
    else:
        precision, recall, f1 = (sum(row[i] * row[3] for row in per_class) / total for i in range(3))
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def _require_columns(predictions: DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the predictions; columns: {', '.join(predictions.columns)}.")


def array_metric(task: str, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
    """One metric from driver-side arrays (tuning trials of single-node models run without Spark).

    Matches the Spark metrics above: classification takes class indices and a (rows, classes)
    probability matrix, binary scores are of class 1, multiclass precision / recall / F1 are
    support-weighted and AUCs one-vs-rest macro averages. PR AUC is average precision here (a step
    sum, where Spark integrates the curve with trapezoids): close, not identical.
    """
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(actual)
    p = np.asarray(prediction, dtype=float)
    if task == "regression":
        error = p - y.astype(float)
        mse = float(np.mean(error**2))
        values = {"mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(error)))}
        if metric == "r2":
            return float(m.r2_score(y, p))
        return values[metric]
    y = y.astype(int)
    proba = np.asarray(probability, dtype=float)
    binary = proba.shape[1] == 2
    average = "binary" if binary else "weighted"
    if metric == "accuracy":
        return float(m.accuracy_score(y, p))
    if metric in ("precision", "recall", "f1"):
        scorer = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[metric]
        return float(scorer(y, p.astype(int), average=average, zero_division=0))
    if metric == "log_loss":
        return float(m.log_loss(y, np.clip(proba, _EPSILON, 1 - _EPSILON), labels=list(range(proba.shape[1]))))
    if metric == "roc_auc":
        if binary:
            return float(m.roc_auc_score(y, proba[:, 1]))
        return float(m.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(range(proba.shape[1]))))
    if metric == "pr_auc":
        if binary:
            return float(m.average_precision_score(y, proba[:, 1]))
        onehot = np.eye(proba.shape[1])[y]
        return float(m.average_precision_score(onehot, proba, average="macro"))
    raise DataError(f"unknown metric {metric!r} for task {task!r}.")
