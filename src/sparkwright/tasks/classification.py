"""``task: classification``: binary or multiclass; class-probability metrics; the majority class as baseline.

Classes are ordered by value with the positive class last (``models.labels``); binary precision, recall
and F1 are those of the positive class, multiclass ones are support-weighted, and ROC / PR AUC are
averaged one-vs-rest. Splits and folds are stratified by the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError
from sparkwright.features import INTERNAL_PREFIX
from sparkwright.session import cached
from sparkwright.tasks.base import HeldOut, Task, require_columns

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.sql import DataFrame

    from sparkwright.config import ProjectConfig
    from sparkwright.tracking import Tracker

PREDICTION_COL = "prediction"
PROBABILITY_COL = "probability"
CURVE_SAMPLE_ROWS = 20_000
_EPSILON = 1e-15  # log loss clips probabilities as scikit-learn does
_CONSTANT = f"{INTERNAL_PREFIX}constant"


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts by (actual, predicted) class; rows are actual, columns predicted, both in ``classes`` order."""

    classes: list[str]
    counts: list[list[int]]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))


@dataclass(frozen=True)
class CurveSample:
    """The test predictions the plots need: the confusion matrix, and a bounded sample of probabilities."""

    confusion: ConfusionMatrix
    sample: pd.DataFrame


class ClassificationTask(Task):
    name = "classification"

    def stratify_column(self, config: ProjectConfig) -> str | None:
        return config.data.label

    def fit_settings(self, config: ProjectConfig, *, trial: bool = False) -> dict[str, Any]:
        classification = config.classification_settings
        return {
            "positive_class": classification.positive_class,
            "class_weight": classification.class_weight,
            # Trials compare models on probabilities; 0.5 saves each one a threshold search.
            "threshold": 0.5 if trial else classification.threshold,
        }

    def baseline(self, target: Any) -> Pipeline:
        return majority_class_estimator(target)

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None) -> dict[str, float]:
        if not classes:
            raise DataError("classification metrics need the model's classes; the model has none.")
        return classification_metrics(predictions, label_col, classes, PREDICTION_COL, PROBABILITY_COL)

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        """Class indices and a (rows, classes) probability matrix, as the Spark metrics.

        PR AUC is average precision here (a step sum, where Spark integrates the curve with trapezoids):
        close, not identical.
        """
        import numpy as np
        from sklearn import metrics as m

        y = np.asarray(actual).astype(int)
        p = np.asarray(prediction, dtype=float)
        proba = np.asarray(probability, dtype=float)
        binary = proba.shape[1] == 2
        labels = list(range(proba.shape[1]))
        if metric == "accuracy":
            return float(m.accuracy_score(y, p))
        if metric in ("precision", "recall", "f1"):
            scorer = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[metric]
            return float(scorer(y, p.astype(int), average="binary" if binary else "weighted", zero_division=0))
        if metric == "log_loss":
            return float(m.log_loss(y, np.clip(proba, _EPSILON, 1 - _EPSILON), labels=labels))
        if metric == "roc_auc":
            if binary:
                return float(m.roc_auc_score(y, proba[:, 1]))
            return float(m.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels))
        if metric == "pr_auc":
            if binary:
                return float(m.average_precision_score(y, proba[:, 1]))
            return float(m.average_precision_score(np.eye(proba.shape[1])[y], proba, average="macro"))
        raise DataError(
            f"unknown metric {metric!r} for task classification; choose one of {sorted(self.spec.metrics)}."
        )

    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None) -> HeldOut:
        import numpy as np
        from pyspark.ml.functions import vector_to_array

        frame = scored.select(label_col, vector_to_array(PROBABILITY_COL).alias("p")).toPandas()
        y = frame[label_col].to_numpy(int)
        probability = np.vstack(frame["p"].to_numpy()) if len(frame) else np.empty((0, num_classes or 2))
        prediction = (probability[:, 1] >= 0.5) if probability.shape[1] == 2 else probability.argmax(axis=1)
        return HeldOut(y, prediction.astype(float), probability)

    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None) -> CurveSample:
        from pyspark.ml.functions import vector_to_array

        confusion = confusion_matrix(predictions, label_col, classes or [])
        sample = (
            predictions.select(
                _class_index(label_col, classes or []).alias("actual"),
                vector_to_array(PROBABILITY_COL).alias("probability"),
            )
            .limit(CURVE_SAMPLE_ROWS)
            .toPandas()
        )
        return CurveSample(confusion, sample)

    def log_plots(
        self, tracker: Tracker, run_id: str, name: str, sample: CurveSample, classes: list[str] | None
    ) -> None:
        import numpy as np

        from sparkwright import plots

        classes = classes or []
        confusion = sample.confusion
        tracker.log_dict(run_id, {"classes": confusion.classes, "counts": confusion.counts}, "confusion_matrix.json")
        tracker.log_figure(
            run_id,
            plots.confusion_matrix(classes, confusion.counts, f"{name}: confusion matrix"),
            "plots/confusion.png",
        )
        frame = sample.sample
        actual = frame["actual"].to_numpy(int)
        scores = np.vstack(frame["probability"].to_numpy()) if len(frame) else np.empty((0, len(classes)))
        tracker.log_figure(run_id, plots.roc_curve(actual, scores, classes, f"{name}: ROC"), "plots/roc.png")
        tracker.log_figure(
            run_id,
            plots.precision_recall_curve(actual, scores, classes, f"{name}: precision-recall"),
            "plots/precision_recall.png",
        )


def _class_index(label_col: str, classes: list[str]) -> Any:
    """The label's index in ``classes`` (compared as Spark's string cast), null for any other value."""
    from pyspark.sql import functions as F

    index = F.lit(None).cast("int")
    for i, cls in enumerate(classes):
        index = F.when(F.col(f"`{label_col}`").cast("string") == F.lit(cls), F.lit(i)).otherwise(index)
    return index


def confusion_matrix(
    predictions: DataFrame, label_col: str, classes: list[str], prediction_col: str = "prediction"
) -> ConfusionMatrix:
    """The confusion matrix in one Spark aggregation; labels are compared as Spark's string cast.

    Raises:
        DataError: A column is missing, the data is empty, or a label is not one of ``classes``.
    """
    from pyspark.sql import functions as F

    require_columns(predictions, [label_col, prediction_col])
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

    require_columns(predictions, [probability_col])
    matrix = confusion_matrix(predictions, label_col, classes, prediction_col)
    metrics = _rates(matrix)
    scores = predictions.select(
        _class_index(label_col, classes).alias("y"), vector_to_array(F.col(f"`{probability_col}`")).alias("p")
    )
    with cached(scores) as scored:
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


def majority_class_estimator(target: Any) -> Pipeline:
    """An intercept-only logistic regression: its probabilities are the training class frequencies.

    With one all-zero feature the fitted intercepts are the log class priors, so the prediction is the
    most frequent class for every row and ROC AUC is 0.5; being Java stages, it saves and logs like any
    Spark model, probabilities included (log loss is the label's entropy).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import SQLTransformer, VectorAssembler

    vector = f"{_CONSTANT}_vector"
    return Pipeline(
        stages=[
            SQLTransformer(statement=f"SELECT *, CAST(0.0 AS DOUBLE) AS `{_CONSTANT}` FROM __THIS__"),
            VectorAssembler(inputCols=[_CONSTANT], outputCol=vector),
            LogisticRegression(
                featuresCol=vector,
                labelCol=target.label_col,
                predictionCol=target.prediction_col,
                probabilityCol=target.probability_col,
                rawPredictionCol=target.raw_prediction_col,
                family="binomial" if target.num_classes == 2 else "multinomial",
                regParam=0.0,
                standardization=False,
            ),
        ]
    )
