"""Spark ML models: one small class per ``type``; everything else comes from the estimator classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.classification import (
    DecisionTreeClassifier,
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, LinearRegression, RandomForestRegressor

from sparkwright.errors import ModelError
from sparkwright.models.base import SparkModelType, Target
from sparkwright.models.registry import register_model_type

# Fixed so that two runs of the same project file give the same model.
DEFAULT_SEED = 42

_IMPURITY = {"regression": ("variance",), "classification": ("gini", "entropy")}


@register_model_type
class LinearRegressionType(SparkModelType):
    """``type: linear_regression``; importances are absolute coefficients (in feature units)."""

    name = "linear_regression"
    estimators: ClassVar[dict[str, type]] = {"regression": LinearRegression}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "solver": ("auto", "normal", "l-bfgs"),
        "loss": ("squaredError", "huber"),
    }


@register_model_type
class LogisticRegressionType(SparkModelType):
    """``type: logistic_regression``, binary or multinomial; importances are absolute coefficients."""

    name = "logistic_regression"
    tasks = ("classification",)
    estimators: ClassVar[dict[str, type]] = {"classification": LogisticRegression}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"family": ("auto", "binomial", "multinomial")}


class _TreeType(SparkModelType):
    """Trees split on categorical levels directly, so their categoricals are indexed, not one-hot encoded."""

    tasks = ("regression", "classification")
    one_hot = False
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}

    def choices_for(self, task: str) -> dict[str, tuple[str, ...]]:
        return {**self.choices, "impurity": _IMPURITY[task]}


@register_model_type
class DecisionTreeType(_TreeType):
    """``type: decision_tree``."""

    name = "decision_tree"
    estimators: ClassVar[dict[str, type]] = {
        "regression": DecisionTreeRegressor,
        "classification": DecisionTreeClassifier,
    }


@register_model_type
class RandomForestType(_TreeType):
    """``type: random_forest``; numTrees stays at Spark's default (20) unless params say otherwise."""

    name = "random_forest"
    estimators: ClassVar[dict[str, type]] = {
        "regression": RandomForestRegressor,
        "classification": RandomForestClassifier,
    }


@register_model_type
class GBTType(_TreeType):
    """``type: gbt`` (gradient-boosted trees); Spark's GBT classifies two classes only."""

    name = "gbt"
    estimators: ClassVar[dict[str, type]] = {"regression": GBTRegressor, "classification": GBTClassifier}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"lossType": ("squared", "absolute", "logistic")}

    def build(self, params: Mapping[str, Any], target: Target) -> Any:
        if target.is_classification and (target.num_classes or 0) > 2:
            raise ModelError(
                f"gbt classifies two classes only, but the label has {target.num_classes}; "
                "use xgboost, random_forest or logistic_regression for multiclass."
            )
        return super().build(params, target)
