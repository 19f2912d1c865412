"""Model types by ``type`` string, fitting inside a feature Pipeline, and scoring."""

from sparkwright.models import baseline, spark_models  # noqa: F401  (register the built-in types)
from sparkwright.models.base import ModelType, SparkModelType, Target
from sparkwright.models.registry import get_model_type, model_types, register_model_type
from sparkwright.models.threshold import best_f1_threshold
from sparkwright.models.training import PREDICTION_COL, PROBABILITY_COL, FittedModel, evaluate_model, fit_model, predict

__all__ = [
    "PREDICTION_COL",
    "PROBABILITY_COL",
    "FittedModel",
    "ModelType",
    "SparkModelType",
    "Target",
    "best_f1_threshold",
    "evaluate_model",
    "fit_model",
    "get_model_type",
    "model_types",
    "predict",
    "register_model_type",
]
