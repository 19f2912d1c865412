"""Spark ML regressors: one small class per ``type``, everything else comes from the estimator class."""

from __future__ import annotations

from typing import Any, ClassVar

from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, LinearRegression, RandomForestRegressor

from sparkwright.models.base import SparkModelType
from sparkwright.models.registry import register_model_type

# Fixed so that two runs of the same project file give the same model.
DEFAULT_SEED = 42

_TREE_CHOICES = {"impurity": ("variance",)}


@register_model_type
class LinearRegressionType(SparkModelType):
    """``type: linear_regression``; importances are absolute coefficients (in feature units)."""

    name = "linear_regression"
    estimator = LinearRegression
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "solver": ("auto", "normal", "l-bfgs"),
        "loss": ("squaredError", "huber"),
    }


@register_model_type
class DecisionTreeType(SparkModelType):
    """``type: decision_tree``."""

    name = "decision_tree"
    estimator = DecisionTreeRegressor
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}
    choices = _TREE_CHOICES


@register_model_type
class RandomForestType(SparkModelType):
    """``type: random_forest``; numTrees stays at Spark's default (20) unless params say otherwise."""

    name = "random_forest"
    estimator = RandomForestRegressor
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}
    choices = _TREE_CHOICES


@register_model_type
class GBTType(SparkModelType):
    """``type: gbt`` (gradient-boosted trees)."""

    name = "gbt"
    estimator = GBTRegressor
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {**_TREE_CHOICES, "lossType": ("squared", "absolute")}
