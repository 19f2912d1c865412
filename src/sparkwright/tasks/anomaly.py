"""``task: anomaly``: an anomaly score per row, a flag at the contamination level, and the z-score baseline.

Every detector writes ``anomaly_score`` (higher: more anomalous) and ``prediction`` (1.0 flagged, 0.0
not). The flag threshold is the score that the ``anomaly.contamination`` share of the training rows
exceeds, as scikit-learn's ``IsolationForest(contamination=...)`` sets its ``offset_``.

The label is optional. With one, a fitted model's ``classes`` are the label's normal value(s) and, last,
the value of a known anomaly (as a binary classifier's positive class is last); then ROC AUC and PR AUC of
the score and precision, recall and F1 of the flag are measured. Without, only the flagged share is, and
models rank by their order in the project file (``listed_order``). Splits are stratified by the label,
so the rare anomalies are shared between train and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasPredictionCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable

from sparkwright.errors import DataError
from sparkwright.tasks.base import PLOT_SAMPLE_ROWS, HeldOut, Task, require_columns

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import Column, DataFrame

    from sparkwright.config import ProjectConfig
    from sparkwright.tracking import Tracker

PREDICTION_COL = "prediction"
SCORE_COL = "anomaly_score"


class AnomalyTask(Task):
    name = "anomaly"

    def stratify_column(self, config: ProjectConfig) -> str | None:
        return config.data.label

    def baseline(self, target: Any) -> ZScoreDetector:
        """Flag the rows furthest from the training mean: the root mean square of their features' z-scores."""
        return ZScoreDetector(featuresCol=target.features_col, predictionCol=target.prediction_col)

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> dict[str, float]:
        """``label_col`` is empty when the project has no label; ``classes[-1]`` is the known anomaly's value."""
        return anomaly_metrics(predictions, label_col or None, classes[-1] if classes else None)

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        """``actual`` 1 / 0, ``prediction`` the flags, ``probability`` the scores (as scikit-learn computes them)."""
        import numpy as np
        from sklearn import metrics as m

        y = np.asarray(actual).astype(int)
        flags = np.asarray(prediction).astype(int)
        if metric == "roc_auc":
            return float(m.roc_auc_score(y, probability))
        if metric == "pr_auc":
            return float(m.average_precision_score(y, probability))
        scorers = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}
        if metric in scorers:
            return float(scorers[metric](y, flags, zero_division=0))
        raise DataError(f"unknown metric {metric!r} for task anomaly; choose roc_auc, pr_auc, {', '.join(scorers)}.")

    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None = None) -> HeldOut:
        """``label_col`` holds 1.0 for a known anomaly, else 0.0; the scores travel as ``probability``."""
        frame = scored.select(label_col, PREDICTION_COL, SCORE_COL).toPandas()
        return HeldOut(
            frame[label_col].to_numpy(float), frame[PREDICTION_COL].to_numpy(float), frame[SCORE_COL].to_numpy(float)
        )

    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> ScoreSample:
        from pyspark.sql import functions as F

        columns = [F.col(SCORE_COL), F.col(PREDICTION_COL)]
        if label_col and classes:
            columns.append(is_anomaly(label_col, classes[-1]).alias("actual"))
        frame = predictions.select(*columns).limit(PLOT_SAMPLE_ROWS).toPandas()
        flagged = frame[frame[PREDICTION_COL] == 1.0][SCORE_COL]
        unflagged = frame[frame[PREDICTION_COL] == 0.0][SCORE_COL]
        # Between the highest unflagged and the lowest flagged score of the sample: where the flag starts.
        threshold = float(unflagged.max()) if len(unflagged) else (float(flagged.min()) if len(flagged) else None)
        return ScoreSample(frame, threshold)

    def log_plots(
        self, tracker: Tracker, run_id: str, name: str, sample: ScoreSample, classes: list[str] | None = None
    ) -> None:
        from sparkwright import plots

        frame = sample.frame
        actual = frame["actual"].to_numpy(float) if "actual" in frame else None
        figure = plots.score_histogram(
            frame[SCORE_COL].to_numpy(float), actual, sample.threshold, f"{name}: anomaly scores"
        )
        tracker.log_figure(run_id, figure, "plots/score_histogram.png")


@dataclass(frozen=True)
class ScoreSample:
    """A bounded sample of test scores (with the label as 1 / 0 when there is one) and the flag threshold."""

    frame: Any
    threshold: float | None


def is_anomaly(label_col: str, anomaly_value: str) -> Column:
    """1.0 where the label (as Spark's string cast) is ``anomaly_value``, else 0.0 (null labels are dropped by
    cleanse)."""
    from pyspark.sql import functions as F

    return (F.col(f"`{label_col}`").cast("string") == F.lit(anomaly_value)).cast("double")


def anomaly_classes(df: DataFrame, label_col: str, configured: Any) -> list[str]:
    """The label's values (as Spark's string cast), the known anomaly's last: ``configured``, or the last in
    sorted order of a label with exactly two values.

    Raises:
        DataError: ``configured`` is not a value of the label, or the label does not have two values.
    """
    from pyspark.sql import functions as F

    values = sorted(
        r[0] for r in df.select(F.col(f"`{label_col}`").cast("string")).distinct().limit(1001).collect() if r[0]
    )
    if configured is not None:
        wanted = str(configured).lower() if isinstance(configured, bool) else str(configured)
        if wanted not in values:
            raise DataError(
                f"anomaly.anomaly_value {configured!r} is not a value of the label {label_col!r} "
                f"(values: {', '.join(values[:20])}); set it to the value that marks a known anomaly."
            )
        return [*(v for v in values if v != wanted), wanted]
    if len(values) != 2:
        raise DataError(
            f"the label {label_col!r} has {len(values) if len(values) <= 1000 else 'over 1000'} values "
            f"({', '.join(values[:10])}), not two; set anomaly.anomaly_value to the one that marks a known anomaly."
        )
    return values


def anomaly_metrics(
    predictions: DataFrame, label_col: str | None = None, anomaly_value: str | None = None
) -> dict[str, float]:
    """The flagged share, and with a label (rows whose ``label_col`` is ``anomaly_value`` are known anomalies)
    ROC AUC and PR AUC of ``anomaly_score`` and precision, recall and F1 of the flag, in Spark aggregations.

    Raises:
        DataError: A column is missing or the data is empty.
    """
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    labelled = bool(label_col and anomaly_value is not None)
    require_columns(predictions, [PREDICTION_COL, SCORE_COL, *([label_col] if labelled else [])])
    flag = F.col(PREDICTION_COL)
    aggregates = [F.count(F.lit(1)).alias("rows"), F.sum(flag).alias("flagged")]
    if labelled:
        actual = is_anomaly(label_col, anomaly_value)
        aggregates += [F.sum(actual).alias("anomalies"), F.sum(actual * flag).alias("hits")]
    row = predictions.agg(*aggregates).first()
    if not row["rows"]:
        raise DataError("cannot compute metrics on empty predictions; the test split has no rows.")
    metrics = {"flagged_share": float(row["flagged"] or 0) / row["rows"]}
    if not labelled:
        return metrics
    if not row["anomalies"]:
        raise DataError(
            "the test split has no known anomalies, so ROC AUC and recall are undefined; use more rows or a "
            "larger split.test_fraction."
        )
    scored = predictions.select(actual.alias("label"), F.col(SCORE_COL).alias("score"))
    for name, metric in (("roc_auc", "areaUnderROC"), ("pr_auc", "areaUnderPR")):
        evaluator = BinaryClassificationEvaluator(rawPredictionCol="score", labelCol="label", metricName=metric)
        metrics[name] = evaluator.setNumBins(0).evaluate(scored)
    hits = float(row["hits"] or 0)
    precision = hits / row["flagged"] if row["flagged"] else 0.0
    recall = hits / row["anomalies"]
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    order = ("roc_auc", "pr_auc", "precision", "recall", "f1", "flagged_share")  # how leaderboards show them
    return {name: {**metrics, "precision": precision, "recall": recall, "f1": f1}[name] for name in order}


def score_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score that a ``contamination`` share of ``scores`` exceeds (scikit-learn's ``offset_``, negated)."""
    import numpy as np

    return float(np.percentile(scores, 100.0 * (1.0 - contamination)))


class DetectorParams(HasFeaturesCol, HasPredictionCol):
    """Columns and the contamination level every anomaly detector stage shares."""

    scoreCol = Param(Params._dummy(), "scoreCol", "score column (higher: more anomalous)", TypeConverters.toString)
    contamination = Param(Params._dummy(), "contamination", "share of training rows flagged", TypeConverters.toFloat)
    threshold = Param(Params._dummy(), "threshold", "flag rows whose score exceeds this", TypeConverters.toFloat)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(scoreCol=SCORE_COL, contamination=0.05)

    def getScoreCol(self) -> str:
        return self.getOrDefault(self.scoreCol)


class ZScoreDetector(Estimator, DetectorParams, DefaultParamsReadable, DefaultParamsWritable):
    """The anomaly baseline: score = the root mean square of a row's feature z-scores (mean and std from
    training), a distance from the mean in standard deviations. Not the largest |z|: on one-hot and indicator
    features that ties whole groups of rows at the threshold, and tied rows are all flagged or none."""

    def __init__(self, *, featuresCol: str = "features", predictionCol: str = PREDICTION_COL):
        super().__init__()
        self._set(featuresCol=featuresCol, predictionCol=predictionCol)

    def _fit(self, dataset: DataFrame) -> ZScoreModel:
        from pyspark.ml.stat import Summarizer
        from pyspark.sql import functions as F

        summary = dataset.select(Summarizer.metrics("mean", "std").summary(F.col(self.getFeaturesCol())).alias("s"))
        row = summary.first()
        if row is None or row["s"] is None:
            raise DataError("the training data is empty; check the filters and the split.")
        mean = [float(v) for v in row["s"]["mean"].toArray()]
        # A constant feature (std 0) says nothing about a row: it gets scale 1 and z-scores of 0 in training.
        scale = [float(v) if v > 0 else 1.0 for v in row["s"]["std"].toArray()]
        model = self._copyValues(ZScoreModel())
        model._set(mean=mean, scale=scale, threshold=0.0)
        scores = model._transform(dataset).select(model.getScoreCol())
        threshold = scores.agg(F.percentile(model.getScoreCol(), 1.0 - self.getOrDefault(self.contamination))).first()
        model._set(threshold=float(threshold[0]))
        model._resetUid(self.uid)
        return model


class ZScoreModel(Model, DetectorParams, DefaultParamsReadable, DefaultParamsWritable):
    """Scores a row by the root mean square of ``(x - mean) / std`` over its feature vector; Spark expressions only."""

    mean = Param(Params._dummy(), "mean", "training mean per feature slot", TypeConverters.toListFloat)
    scale = Param(Params._dummy(), "scale", "training std per feature slot (1 when 0)", TypeConverters.toListFloat)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        mean = F.array(*[F.lit(v) for v in self.getOrDefault(self.mean)])
        scale = F.array(*[F.lit(v) for v in self.getOrDefault(self.scale)])
        values = vector_to_array(F.col(self.getFeaturesCol()))
        squares = F.transform(values, lambda x, i: F.pow((x - mean[i]) / scale[i], 2))
        score = F.sqrt(F.aggregate(squares, F.lit(0.0), lambda acc, z2: acc + z2) / F.size(squares))
        threshold = self.getOrDefault(self.threshold)
        return dataset.withColumn(self.getScoreCol(), score).withColumn(
            self.getPredictionCol(), (F.col(self.getScoreCol()) > F.lit(threshold)).cast("double")
        )
