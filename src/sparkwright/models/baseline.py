"""The baseline every candidate must beat: the training mean (regression) or most frequent class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator
from pyspark.ml.param.shared import HasLabelCol, HasPredictionCol

from sparkwright.errors import DataError
from sparkwright.features import INTERNAL_PREFIX
from sparkwright.models.base import ModelType, Target
from sparkwright.models.registry import register_model_type

if TYPE_CHECKING:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer
    from pyspark.sql import DataFrame

_CONSTANT = f"{INTERNAL_PREFIX}constant"


class MeanEstimator(Estimator, HasLabelCol, HasPredictionCol):
    """Learns the label mean; the fitted model is a ``SQLTransformer`` with the mean as a literal.

    A SQLTransformer is a Java stage, so the whole PipelineModel saves, loads and logs with
    ``mlflow.spark.log_model`` like any Spark ML model, with no Python class needed to load it.
    """

    def __init__(self, *, labelCol: str = "label", predictionCol: str = "prediction"):
        super().__init__()
        self._set(labelCol=labelCol, predictionCol=predictionCol)

    def _fit(self, dataset: DataFrame) -> SQLTransformer:
        from pyspark.ml.feature import SQLTransformer
        from pyspark.sql import functions as F

        label = self.getLabelCol()
        mean = dataset.agg(F.avg(F.col(label).cast("double"))).first()[0]
        if mean is None:
            raise DataError(f"cannot fit the baseline: label {label!r} has no non-null values in the training data.")
        # repr() is the shortest text that parses back to the same double.
        statement = f"SELECT *, CAST({float(mean)!r} AS DOUBLE) AS `{self.getPredictionCol()}` FROM __THIS__"
        return SQLTransformer(statement=statement)


def majority_class_estimator(target: Target) -> Pipeline:
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


@register_model_type
class Baseline(ModelType):
    """``type: baseline`` — no parameters; the project's threshold and class weights do not apply to it.

    With log_label it still averages the label in its own units.
    """

    name = "baseline"
    tasks = ("regression", "classification")
    fits_log_label = False
    uses_features = False

    def build(self, params: Mapping[str, Any], target: Target) -> MeanEstimator | Pipeline:
        self.validate_params(params)
        if target.is_classification:
            return majority_class_estimator(target)
        return MeanEstimator(labelCol=target.label_col, predictionCol=target.prediction_col)
