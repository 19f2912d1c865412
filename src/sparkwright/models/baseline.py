"""The baseline every candidate must beat: predict the training mean of the label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator
from pyspark.ml.param.shared import HasLabelCol, HasPredictionCol

from sparkwright.errors import DataError
from sparkwright.models.base import ModelType
from sparkwright.models.registry import register_model_type

if TYPE_CHECKING:
    from pyspark.ml.feature import SQLTransformer
    from pyspark.sql import DataFrame


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


@register_model_type
class Baseline(ModelType):
    """``type: baseline`` — no parameters; with log_label it still averages the label in its own units."""

    name = "baseline"
    tasks = ("regression",)
    fits_log_label = False
    uses_features = False

    def build(
        self, params: Mapping[str, Any], *, label_col: str, features_col: str, prediction_col: str
    ) -> MeanEstimator:
        self.validate_params(params)
        return MeanEstimator(labelCol=label_col, predictionCol=prediction_col)
