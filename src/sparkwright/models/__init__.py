"""Model types by ``type`` string, fitting inside a feature Pipeline, and scoring."""

# Importing each built-in type's module registers it.
from sparkwright.models import (  # noqa: F401
    als,
    anomaly,
    baseline,
    clustering,
    forecasters,
    lightgbm_model,
    sklearn_model,
    spark_models,
    xgboost_model,
)
from sparkwright.models.anomaly import fit_detector
from sparkwright.models.base import ModelType, SparkModelType, Target
from sparkwright.models.ensemble import EnsembleModel, blend, ensemble_weights
from sparkwright.models.registry import get_model_type, model_types, register_model_type
from sparkwright.models.threshold import best_f1_threshold
from sparkwright.models.training import (
    PREDICTION_COL,
    PROBABILITY_COL,
    FittedModel,
    PreparedTraining,
    evaluate_model,
    fit_model,
    predict,
    prepare_training,
)

__all__ = [
    "PREDICTION_COL",
    "PROBABILITY_COL",
    "EnsembleModel",
    "FittedModel",
    "ModelType",
    "PreparedTraining",
    "SparkModelType",
    "Target",
    "best_f1_threshold",
    "blend",
    "ensemble_weights",
    "evaluate_model",
    "fit_detector",
    "fit_model",
    "get_model_type",
    "model_types",
    "predict",
    "prepare_training",
    "register_model_type",
]
