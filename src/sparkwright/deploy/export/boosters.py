"""Converters of the boosted-tree stages: sparkwright's ``LightGBMModel`` and xgboost.spark's models.

Their trees are not re-implemented in NumPy: the exported step keeps the library's own model file
(LightGBM's ``model_to_string`` text, xgboost's booster JSON; no pickle) and scores with the library, as
the Spark stage does, so the exported model needs ``lightgbm`` / ``xgboost`` installed (its requirements
say so). ``BinaryThreshold``, the stage sparkwright puts after a binary xgboost classifier, comes along.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import UnsupportedStageError, _converts

if TYPE_CHECKING:
    from sparkwright.deploy.export.converters import _Context


@_converts("LightGBMModel")
def _lightgbm(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    predictor = stage.estimator
    if predictor is None:
        raise UnsupportedStageError(f"{where} holds no fitted booster; fit or load it first.")
    features = stage.getFeaturesCol()
    context.features(where, features, predictor.n_features_in_)
    params: dict[str, Any] = {
        "stage": where,
        "features": features,
        "prediction": stage.getPredictionCol(),
        "num_features": predictor.n_features_in_,
    }
    if stage.getOrDefault(stage.task) == "classification":
        classes = [int(c) for c in predictor.classes_]
        # SklearnModel's width: numClasses, else the largest class seen in training + 1.
        num_classes = int(stage.getOrDefault(stage.numClasses)) if stage.isDefined(stage.numClasses) else None
        params.update(
            probability=stage.getProbabilityCol(),
            num_classes=num_classes or max(classes) + 1,
            classes=classes,
            threshold=float(stage.getThreshold()) if stage.isSet(stage.threshold) else None,
        )
        context.add(params["probability"], rt.VECTOR, params["num_classes"])
    context.add(params["prediction"], "double")
    return [rt.LightGBMStep(params, {"model": rt.model_bytes(predictor.model)})]


@_converts("SparkXGBRegressorModel", "SparkXGBClassifierModel")
def _xgboost(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    for name, why in (
        ("enable_sparse_data_optim", "it reads the vectors' inactive entries as missing"),
        ("features_cols", "it reads several feature columns instead of one vector"),
        ("base_margin_col", "it adds a per-row margin"),
        ("pred_contrib_col", "it writes per-feature contributions"),
    ):
        if stage.isDefined(name) and stage.getOrDefault(name):
            raise UnsupportedStageError(f"{where}: {name} is set, which the exporter does not reproduce ({why}).")
    if stage.getOrDefault("booster") == "gblinear":
        raise UnsupportedStageError(f"{where}: booster gblinear is not supported; gbtree and dart are.")
    booster = stage.get_booster()
    features = stage.getOrDefault(stage.featuresCol)
    context.features(where, features, booster.num_features())
    best = booster.attr("best_iteration")
    missing = float(stage.getOrDefault("missing"))
    params: dict[str, Any] = {
        "stage": where,
        "features": features,
        "prediction": stage.getOrDefault(stage.predictionCol),
        "num_features": booster.num_features(),
        # xgboost's range (0, n): the rounds up to the best one after early stopping; n = 0 is every round.
        "iterations": int(best) + 1 if best is not None else 0,
        "missing": None if math.isnan(missing) else missing,
    }
    if type(stage).__name__ == "SparkXGBClassifierModel":
        num_classes = int(getattr(stage._xgb_sklearn_model, "n_classes_", 2))
        params.update(
            raw=stage.getOrDefault(stage.rawPredictionCol),
            probability=stage.getOrDefault(stage.probabilityCol),
            num_classes=num_classes,
        )
        for name in (params["raw"], params["probability"]):
            if name:
                context.add(name, rt.VECTOR, num_classes)
    if params["prediction"]:
        context.add(params["prediction"], "double")
    return [rt.XGBoostStep(params, {"model": rt.model_bytes(booster.save_raw("json"))})]


@_converts("BinaryThreshold")
def _binary_threshold(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    probability = stage.getProbabilityCol()
    context.require(where, probability, (rt.VECTOR,))
    context.add(stage.getPredictionCol(), "double")
    params = {
        "stage": where,
        "probability": probability,
        "prediction": stage.getPredictionCol(),
        "threshold": float(stage.getThreshold()),
    }
    return [rt.BinaryThresholdStep(params)]
