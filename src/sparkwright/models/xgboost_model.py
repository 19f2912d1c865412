"""``type: xgboost``: gradient-boosted trees by xgboost, trained where it is fastest for the data size.

The fitted stage is always xgboost.spark's own model class (``SparkXGBRegressorModel`` /
``SparkXGBClassifierModel``), so scoring, saving and loading are xgboost.spark's whichever path trained it:

- ``driver``: the feature vectors go to the driver as one Arrow transfer into a float32 matrix, and native
  xgboost trains there with every core of the driver. A distributed fit adds a barrier stage, a shuffle to
  num_workers partitions, pandas batches copied into each worker's matrix and an allreduce per tree level:
  on 1M rows x 20 features and 2 cores it took about 2.4x native xgboost, the driver path 1.3-1.4x
  (BENCHMARKS.md).
- ``distributed``: ``SparkXGBRegressor`` / ``SparkXGBClassifier`` with one worker per task slot (a barrier
  stage needs all its tasks running at once); xgboost.spark repartitions to that many partitions.
- ``auto`` (default): ``driver`` when rows x feature slots fits ``driver_max_cells``, else ``distributed``.

Feature vectors are densified on both paths (the driver path scatters a sparse vector's non-zeros into a
zero matrix), so an implicit zero of a sparse vector is the value 0, as in the dense data native xgboost
sees; only ``missing`` (default NaN) marks a missing value. ``enable_sparse_data_optim: true`` instead
treats inactive entries as missing and needs ``missing: 0``.

With ``early_stopping_rounds`` a seeded ``validation_fraction`` of the training rows is held out (per class
for classification), ``n_estimators`` is the ceiling and scoring uses the best round. On the driver and in
:meth:`XGBoostType.fit_local` the hold-out is exact (:func:`holdout_split`); distributed, it is a seeded
random indicator column (``validation_indicator_col``), so each class gets that fraction in expectation.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasFeaturesCol,
    HasLabelCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasRawPredictionCol,
    HasThreshold,
    HasWeightCol,
)
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, DataError
from sparkwright.features import INTERNAL_PREFIX
from sparkwright.models.base import RESERVED_PARAMS, ModelType, Target
from sparkwright.models.driver_data import collect_to_driver, few_partitions, task_slots
from sparkwright.models.registry import register_model_type
from sparkwright.session import is_connect

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEFAULT_SEED = 42
# rows x feature slots trained on the driver by `training: auto`. 100M float32 cells are 400 MB, twice that
# while the Arrow batches are copied into the matrix, plus xgboost's quantised copy (1 byte a cell); the
# driver JVM passes the Arrow batches through on their way.
DRIVER_MAX_CELLS = 100_000_000
TRAINING_PATHS = ("auto", "driver", "distributed")
# Share of the training rows held out for early stopping, unless params say otherwise.
VALIDATION_FRACTION = 0.1
_VALIDATION_COL = f"{INTERNAL_PREFIX}xgb_validation"

# Shown in `resolve_params` and passed to xgboost unless the project file says otherwise.
_DEFAULTS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 6,
    "learning_rate": 0.3,
    "tree_method": "hist",
    "random_state": DEFAULT_SEED,
}
# Our own params: where to train, and the early-stopping hold-out. Everything else is xgboost's.
_OWN = {"training", "driver_max_cells", "num_workers", "validation_fraction"}
# xgboost.spark params that change how data reaches the workers.
_SPARK_PARAMS = {"enable_sparse_data_optim", "repartition_random_shuffle"}
# The column params sparkwright wires, in xgboost.spark's snake_case spelling, and other inputs it owns.
_WIRED = {
    "features_col",
    "label_col",
    "prediction_col",
    "probability_col",
    "raw_prediction_col",
    "weight_col",
    "sample_weight",
    "pred_contrib_col",
    "validation_indicator_col",
    "base_margin_col",
    "qid_col",
}
# xgboost params that cannot work here, with the reason.
_UNSUPPORTED = {
    "n_jobs": "sparkwright sets the threads: all driver cores on the driver path, spark.task.cpus per worker",
    "nthread": "sparkwright sets the threads: all driver cores on the driver path, spark.task.cpus per worker",
    "enable_categorical": "categoricals reach xgboost one-hot encoded",
    "feature_types": "categoricals reach xgboost one-hot encoded",
    "callbacks": "callbacks cannot be written in a project file",
    "eval_set": "sparkwright holds out the validation set itself (early_stopping_rounds, validation_fraction)",
}
# xgboost's native (learner) names, which the sklearn-style API spells differently.
_NATIVE_NAMES = {
    "eta": "learning_rate",
    "lambda": "reg_lambda",
    "alpha": "reg_alpha",
    "min_split_loss": "gamma",
    "seed": "random_state",
    "num_boost_round": "n_estimators",
    "max_bins": "max_bin",
}


def _positive(v: float) -> bool:
    return v > 0


def _non_negative(v: float) -> bool:
    return v >= 0


def _fraction(v: float) -> bool:
    return 0 < v <= 1


# name -> (kind, test or None, what it must be)
_CHECKS: dict[str, tuple[type, Any, str]] = {
    "n_estimators": (int, lambda v: v >= 1, "an integer >= 1"),
    "max_depth": (int, _non_negative, "an integer >= 0"),
    "max_leaves": (int, _non_negative, "an integer >= 0"),
    "max_bin": (int, lambda v: v >= 2, "an integer >= 2"),
    "num_parallel_tree": (int, lambda v: v >= 1, "an integer >= 1"),
    "random_state": (int, None, "an integer"),
    "verbosity": (int, lambda v: 0 <= v <= 3, "an integer in [0, 3]"),
    "learning_rate": (float, _positive, "a number > 0"),
    "gamma": (float, _non_negative, "a number >= 0"),
    "min_child_weight": (float, _non_negative, "a number >= 0"),
    "max_delta_step": (float, _non_negative, "a number >= 0"),
    "subsample": (float, _fraction, "a number in (0, 1]"),
    "colsample_bytree": (float, _fraction, "a number in (0, 1]"),
    "colsample_bylevel": (float, _fraction, "a number in (0, 1]"),
    "colsample_bynode": (float, _fraction, "a number in (0, 1]"),
    "reg_alpha": (float, _non_negative, "a number >= 0"),
    "reg_lambda": (float, _non_negative, "a number >= 0"),
    "scale_pos_weight": (float, _positive, "a number > 0"),
    "base_score": (float, None, "a number"),
    "missing": (float, None, "a number (.nan for NaN)"),
    "driver_max_cells": (int, lambda v: v >= 1, "an integer >= 1"),
    "num_workers": (int, lambda v: v >= 1, "an integer >= 1"),
    "early_stopping_rounds": (int, lambda v: v >= 1, "an integer >= 1"),
    "validation_fraction": (float, lambda v: 0 < v < 1, "a number in (0, 1)"),
    "enable_sparse_data_optim": (bool, None, "true or false"),
    "repartition_random_shuffle": (bool, None, "true or false"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "training": TRAINING_PATHS,
    # `exact` does not run distributed; `approx` and `hist` do, and give the same model on both paths.
    "tree_method": ("hist", "approx", "auto"),
    "grow_policy": ("depthwise", "lossguide"),
    # gblinear has no trees, so no gain importances.
    "booster": ("gbtree", "dart"),
    "sampling_method": ("uniform", "gradient_based"),
}
_REGRESSION_OBJECTIVES = (
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:quantileerror",
    "reg:gamma",
    "reg:tweedie",
    "count:poisson",
)


def _xgb_param_names() -> list[str]:
    """The xgboost constructor params (the same for the regressor and the classifier), minus unsupported ones."""
    from xgboost import XGBRegressor

    return sorted(set(XGBRegressor().get_params()) - set(_UNSUPPORTED) | _SPARK_PARAMS)


def check_value(value: Any, check: tuple[type, Any, str], where: str) -> Any:
    """``value`` converted to ``check``'s kind (int, float or bool) and tested, or a ConfigError at ``where``.

    Args:
        check: ``(kind, test or None, what it must be)``, e.g. ``(int, lambda v: v >= 1, "an integer >= 1")``.
    """
    kind, test, what = check
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"must be {what}, got {value!r}.", where)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"must be {what}, got {value!r}.", where)
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"must be {what}, got {value!r}.", where)
        value = int(value)
    else:
        value = float(value)
    if test is not None and (math.isnan(value) or not test(value)):
        raise ConfigError(f"must be {what}, got {value!r}.", where)
    return value


def check_early_stopping(params: Mapping[str, Any], path: str) -> None:
    """``validation_fraction`` only with ``early_stopping_rounds`` (shared by the boosted types)."""
    if "validation_fraction" in params and params.get("early_stopping_rounds") is None:
        raise ConfigError(
            "validation_fraction is the hold-out of early stopping; add early_stopping_rounds or remove it.",
            f"{path}.validation_fraction",
        )


def holdout_split(y: np.ndarray, fraction: float, seed: int, *, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(fit, validation)`` of a seeded hold-out for early stopping.

    With ``stratify`` each class gives ``round(fraction * its rows)`` rows, but always keeps one for the fit,
    so every class the fit sees is also in training (a class of one row stays out of the validation set).

    Raises:
        DataError: Too few rows to hold any out.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    held = []
    for rows in groups:
        take = min(round(len(rows) * fraction), len(rows) - 1)
        if take > 0:
            held.append(rng.permutation(rows)[:take])
    if not held:
        raise DataError(
            f"early stopping holds out validation_fraction {fraction} of the training rows, but {len(y)} rows "
            "leave none; raise validation_fraction or remove early_stopping_rounds."
        )
    validation = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), validation), validation


def _fit_with_holdout(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    early_stopping: bool,
    validation_fraction: float,
    seed: int,
    stratify: bool,
    **fit_params: Any,
) -> Any:
    """``model.fit`` (an xgboost sklearn-API model), on all rows or, with ``early_stopping``, minus a hold-out."""
    if not early_stopping:
        return model.fit(X, y, sample_weight=sample_weight, **fit_params)
    fit, held = holdout_split(y, validation_fraction, seed, stratify=stratify)
    weights = None if sample_weight is None else sample_weight[fit]
    eval_weights = None if sample_weight is None else [sample_weight[held]]
    return model.fit(
        X[fit],
        y[fit],
        sample_weight=weights,
        eval_set=[(X[held], y[held])],
        sample_weight_eval_set=eval_weights,
        **fit_params,
    )


def _booster_summary(booster: Any) -> dict[str, float]:
    """``rounds_trained``, ``trees`` scored with and, after early stopping, ``best_iteration`` (from 1)."""
    rounds = booster.num_boosted_rounds()
    if rounds == 0:
        return {}
    gradient_booster = json.loads(booster.save_config())["learner"]["gradient_booster"]
    model_param = gradient_booster.get("gbtree_model_param") or gradient_booster["gbtree"]["gbtree_model_param"]
    per_round = int(model_param["num_trees"]) // rounds
    best = booster.attr("best_iteration")
    used = int(best) + 1 if best is not None else rounds
    summary = {"rounds_trained": float(rounds), "trees": float(used * per_round)}
    if best is not None:
        summary["best_iteration"] = float(used)
    return summary


@register_model_type
class XGBoostType(ModelType):
    """``type: xgboost`` for regression and classification (binary and multiclass).

    Params are xgboost's scikit-learn-style names (``n_estimators``, ``max_depth``, ``learning_rate``,
    ``subsample``, ``early_stopping_rounds``, ...) plus ``training`` (``auto`` | ``driver`` | ``distributed``),
    ``driver_max_cells``, ``num_workers`` and ``validation_fraction``. Importances are each slot's total gain,
    scaled to sum to 1.
    """

    name = "xgboost"
    tasks = ("regression", "classification")

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "regression") -> None:
        self._convert(params, path, task)

    def resolve_params(self, params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
        resolved = self._convert(params, "params", task)
        if resolved.get("early_stopping_rounds") is not None:
            resolved = {"validation_fraction": VALIDATION_FRACTION, **resolved}
        return {"training": "auto", "driver_max_cells": DRIVER_MAX_CELLS, **_DEFAULTS, **resolved}

    def build(self, params: Mapping[str, Any], target: Target) -> XGBoostEstimator:
        resolved = self.resolve_params(params, target.task)
        xgb_params = {k: v for k, v in resolved.items() if k not in _OWN}
        columns: dict[str, Any] = {
            "featuresCol": target.features_col,
            "labelCol": target.label_col,
            "predictionCol": target.prediction_col,
        }
        if target.is_classification:
            columns["probabilityCol"] = target.probability_col
            columns["rawPredictionCol"] = target.raw_prediction_col
            if target.threshold is not None and (target.num_classes or 2) == 2:
                columns["threshold"] = float(target.threshold)
        if target.weight_col is not None:
            columns["weightCol"] = target.weight_col
        estimator = XGBoostEstimator(
            task=target.task,
            xgbParams=xgb_params,
            training=resolved["training"],
            driverMaxCells=resolved["driver_max_cells"],
            **columns,
        )
        if "num_workers" in resolved:
            estimator._set(numWorkers=resolved["num_workers"])
        if "validation_fraction" in resolved:
            estimator._set(validationFraction=resolved["validation_fraction"])
        return estimator

    def local_summary(self, estimator: Any) -> dict[str, float]:
        return _booster_summary(estimator.get_booster())

    def fit_local(
        self,
        params: Mapping[str, Any],
        task: str,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        categorical_slots: Sequence[int] = (),
        threads: int | None = None,
    ) -> Any:
        """Native ``XGBRegressor`` / ``XGBClassifier`` on one-hot arrays; ``threads`` is its ``n_jobs``."""
        import numpy as np
        from xgboost import XGBClassifier, XGBRegressor

        resolved = self.resolve_params(params, task)
        kwargs = {k: v for k, v in resolved.items() if k not in _OWN | _SPARK_PARAMS}
        if task == "classification":
            y = y.astype("int64")
            kwargs["objective"] = "binary:logistic" if np.unique(y).size <= 2 else "multi:softprob"
        model = (XGBClassifier if task == "classification" else XGBRegressor)(**kwargs, n_jobs=threads)
        return _fit_with_holdout(
            model,
            X,
            y,
            sample_weight,
            early_stopping=resolved.get("early_stopping_rounds") is not None,
            validation_fraction=resolved.get("validation_fraction", VALIDATION_FRACTION),
            seed=resolved["random_state"],
            stratify=task == "classification",
            verbose=False,
        )

    def training_summary(self, fitted_stage: Transformer) -> dict[str, float]:
        model = find_xgboost_model(fitted_stage)
        return {} if model is None else _booster_summary(model.get_booster())

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        model = find_xgboost_model(fitted_stage)
        if model is None:
            return None
        booster = model.get_booster()
        scores = booster.get_score(importance_type="total_gain")
        names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
        values = [float(scores.get(name, 0.0)) for name in names]
        total = sum(values)
        return [v / total for v in values] if total > 0 else values

    def _convert(self, params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
        valid = sorted({*_xgb_param_names(), *_OWN})
        out: dict[str, Any] = {}
        for name, value in params.items():
            where = f"{path}.{name}"
            if name in RESERVED_PARAMS or name in _WIRED:
                raise ConfigError(f"sparkwright sets {name} itself; remove it from params.", where)
            if name in _UNSUPPORTED:
                raise ConfigError(f"not supported: {_UNSUPPORTED[name]}; remove it from params.", where)
            if name in _NATIVE_NAMES:
                raise ConfigError(
                    f"{name!r} is xgboost's native name; write it as {_NATIVE_NAMES[name]!r} here.", where
                )
            if name == "objective":
                out[name] = self._objective(value, where, task)
                continue
            if name == "eval_metric":
                if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                    raise ConfigError(f"must be a metric name or a list of them, got {value!r}.", where)
                out[name] = value
                continue
            if name not in valid:
                raise ConfigError(
                    f"unknown parameter for 'xgboost'; valid: {', '.join(valid)}." + did_you_mean(name, valid), where
                )
            allowed = _CHOICES.get(name)
            if allowed is not None and value not in allowed:
                raise ConfigError(
                    f"must be one of {', '.join(allowed)}, got {value!r}." + did_you_mean(str(value), allowed), where
                )
            out[name] = check_value(value, _CHECKS[name], where) if name in _CHECKS else value
        check_early_stopping(out, path)
        if out.get("enable_sparse_data_optim") and out.get("missing") != 0:
            raise ConfigError(
                "enable_sparse_data_optim treats the zeros a sparse vector leaves out as missing, so it needs "
                "missing: 0; add it or drop enable_sparse_data_optim.",
                f"{path}.enable_sparse_data_optim",
            )
        return out

    @staticmethod
    def _objective(value: Any, where: str, task: str) -> str:
        if task == "classification":
            raise ConfigError(
                "sparkwright sets the objective from the number of classes (binary:logistic or "
                "multi:softprob); remove it from params.",
                where,
            )
        if value not in _REGRESSION_OBJECTIVES:
            raise ConfigError(
                f"must be one of {', '.join(_REGRESSION_OBJECTIVES)}, got {value!r}."
                + did_you_mean(str(value), _REGRESSION_OBJECTIVES),
                where,
            )
        return value


def find_xgboost_model(stage: Transformer) -> Any:
    """The xgboost.spark model in ``stage`` (itself, or a stage of a PipelineModel), or None."""
    from xgboost.spark.core import _SparkXGBModel

    if isinstance(stage, _SparkXGBModel):
        return stage
    for inner in getattr(stage, "stages", []):
        found = find_xgboost_model(inner)
        if found is not None:
            return found
    return None


class XGBoostEstimator(
    Estimator,
    HasFeaturesCol,
    HasLabelCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasRawPredictionCol,
    HasWeightCol,
    HasThreshold,
    DefaultParamsReadable,
    DefaultParamsWritable,
):
    """Fits xgboost on the driver or distributed (see the module docstring); returns xgboost.spark's model.

    For binary classification with ``threshold`` set, the result is a PipelineModel of the xgboost model
    and a :class:`BinaryThreshold` stage (xgboost.spark predicts the argmax class).
    """

    task = Param(Params._dummy(), "task", "regression or classification", TypeConverters.toString)
    xgbParams = Param(Params._dummy(), "xgbParams", "xgboost constructor params", TypeConverters.identity)
    training = Param(Params._dummy(), "training", "auto, driver or distributed", TypeConverters.toString)
    driverMaxCells = Param(
        Params._dummy(), "driverMaxCells", "auto trains on the driver up to rows x features", TypeConverters.toInt
    )
    numWorkers = Param(
        Params._dummy(), "numWorkers", "distributed workers; default: the task slots", TypeConverters.toInt
    )
    validationFraction = Param(
        Params._dummy(), "validationFraction", "early stopping: share of rows held out", TypeConverters.toFloat
    )

    def __init__(
        self,
        *,
        task: str = "regression",
        xgbParams: dict[str, Any] | None = None,
        training: str = "auto",
        driverMaxCells: int = DRIVER_MAX_CELLS,
        featuresCol: str = "features",
        labelCol: str = "label",
        predictionCol: str = "prediction",
        probabilityCol: str = "probability",
        rawPredictionCol: str = "rawPrediction",
        weightCol: str | None = None,
        threshold: float | None = None,
    ):
        super().__init__()
        self._setDefault(
            xgbParams={}, training="auto", driverMaxCells=DRIVER_MAX_CELLS, validationFraction=VALIDATION_FRACTION
        )
        self._set(
            task=task,
            xgbParams=dict(xgbParams or {}),
            training=training,
            driverMaxCells=driverMaxCells,
            featuresCol=featuresCol,
            labelCol=labelCol,
            predictionCol=predictionCol,
            probabilityCol=probabilityCol,
            rawPredictionCol=rawPredictionCol,
        )
        if weightCol is not None:
            self._set(weightCol=weightCol)
        if threshold is not None:
            self._set(threshold=threshold)

    def _fit(self, dataset: DataFrame) -> Transformer:
        from xgboost.spark.utils import get_logger

        training = self.getOrDefault(self.training)
        if training not in TRAINING_PATHS:
            raise ConfigError(f"training must be one of {', '.join(TRAINING_PATHS)}, got {training!r}.")
        features = self.getFeaturesCol()
        missing = [c for c in (features, self.getLabelCol(), self._weight_col()) if c and c not in dataset.columns]
        if missing:
            raise DataError(f"columns {missing} are not in the data given to xgboost; columns: {dataset.columns}.")
        # xgboost.spark logs every fit at INFO through a handler of its own; ours says which path ran.
        # Its logger stays as it was when someone configured it, or when our own logger is at DEBUG.
        xgb_log = get_logger("XGBoost-PySpark")
        if xgb_log.level == logging.INFO and not log.isEnabledFor(logging.DEBUG):
            xgb_log.setLevel(logging.WARNING)

        estimator = self._spark_estimator()
        if training == "distributed":
            model = self._fit_distributed(estimator, dataset, "training: distributed")
        elif training == "driver":
            model = self._fit_on_driver(estimator, dataset, "training: driver")
        else:
            rows = few_partitions(dataset).count()
            width = vector_width(dataset, features)
            if rows == 0:
                raise DataError("the training data given to xgboost is empty; check the filters and the split.")
            limit = self.getOrDefault(self.driverMaxCells)
            cells = rows * width
            size = f"{rows:,} rows x {width:,} features = {cells:,} cells"
            if cells <= limit:
                model = self._fit_on_driver(estimator, dataset, f"{size} <= driver_max_cells {limit:,}")
            else:
                model = self._fit_distributed(estimator, dataset, f"{size} > driver_max_cells {limit:,}")
        if self.isSet(self.threshold) and self.getOrDefault(self.task) == "classification":
            from pyspark.ml import PipelineModel

            if _num_classes(model) == 2:
                stage = BinaryThreshold(
                    probabilityCol=self.getProbabilityCol(),
                    predictionCol=self.getPredictionCol(),
                    threshold=self.getThreshold(),
                )
                return PipelineModel([model, stage])
        return model

    def _weight_col(self) -> str | None:
        if self.isDefined(self.weightCol) and self.getWeightCol():
            return self.getWeightCol()
        return None

    def _early_stopping_rounds(self) -> int | None:
        return self.getOrDefault(self.xgbParams).get("early_stopping_rounds")

    def _seed(self) -> int:
        return int(self.getOrDefault(self.xgbParams).get("random_state", DEFAULT_SEED))

    def _spark_estimator(self) -> Any:
        """The configured SparkXGBRegressor / SparkXGBClassifier (also the template of the driver path).

        Without ``early_stopping_rounds``: xgboost.spark refuses to save a model that has it but no
        validation column, which only the distributed path adds (the driver path holds out rows itself).
        """
        from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

        xgb_params = {k: v for k, v in self.getOrDefault(self.xgbParams).items() if k != "early_stopping_rounds"}
        kwargs: dict[str, Any] = {
            "features_col": self.getFeaturesCol(),
            "label_col": self.getLabelCol(),
            "prediction_col": self.getPredictionCol(),
            # Per-iteration training metrics on stderr otherwise.
            "verbose": False,
            **xgb_params,
        }
        if self._weight_col():
            kwargs["weight_col"] = self._weight_col()
        if self.getOrDefault(self.task) == "classification":
            kwargs["probability_col"] = self.getProbabilityCol()
            kwargs["raw_prediction_col"] = self.getRawPredictionCol()
            return SparkXGBClassifier(**kwargs)
        return SparkXGBRegressor(**kwargs)

    def _fit_on_driver(self, estimator: Any, dataset: DataFrame, why: str) -> Any:
        """Native xgboost on the driver's cores, wrapped in xgboost.spark's model class."""
        from xgboost.spark.summary import XGBoostTrainingSummary

        spark = dataset.sparkSession
        threads = driver_cores(spark)
        log.info("xgboost: training on the driver with %d threads (%s).", threads, why)
        started = time.perf_counter()
        X, y, weights = collect_to_driver(
            dataset, self.getFeaturesCol(), self.getLabelCol(), self._weight_col(), dtype="float32"
        )
        collected = time.perf_counter()
        if y.size == 0:
            raise DataError("the training data given to xgboost is empty; check the filters and the split.")
        # The same constructor params xgboost.spark rebuilds the model with when it loads it.
        params = estimator._gen_xgb_params_dict(gen_xgb_sklearn_estimator_param=True)
        if self.getOrDefault(self.task) == "classification":
            import numpy as np

            # SparkXGBClassifier leaves the objective unset (XGBClassifier would then fit a regression) and
            # picks it from the number of distinct labels at fit time; so does this path.
            params["objective"] = "binary:logistic" if np.unique(y).size <= 2 else "multi:softprob"
        fit_params = {k: v for k, v in estimator._gen_fit_params_dict().items() if v is not None}
        params["early_stopping_rounds"] = self._early_stopping_rounds()
        model = estimator._xgb_cls()(**params, n_jobs=threads)
        _fit_with_holdout(
            model,
            X,
            y,
            weights,
            early_stopping=params["early_stopping_rounds"] is not None,
            validation_fraction=self.getOrDefault(self.validationFraction),
            seed=self._seed(),
            stratify=self.getOrDefault(self.task) == "classification",
            **fit_params,
        )
        log.info(
            "xgboost: %d x %d collected in %.1fs, trained in %.1fs.",
            *X.shape,
            collected - started,
            time.perf_counter() - collected,
        )
        # Scored by Spark tasks afterwards, each with spark.task.cpus cores, as a distributed fit would be.
        model.set_params(n_jobs=_task_cpus(spark))
        fitted = estimator._create_pyspark_model(model, XGBoostTrainingSummary.from_metrics({}))
        fitted._resetUid(estimator.uid)
        return estimator._copyValues(fitted)

    def _fit_distributed(self, estimator: Any, dataset: DataFrame, why: str) -> Any:
        """xgboost.spark with one worker per task slot (a barrier stage runs all its tasks at once)."""
        spark = dataset.sparkSession
        workers = self.getOrDefault(self.numWorkers) if self.isDefined(self.numWorkers) else task_slots(spark)
        log.info("xgboost: training distributed on %d Spark workers (%s).", workers, why)
        # xgboost.spark selects the columns it reads, casts the vector to a float32 array and only then
        # repartitions to num_workers: a smaller shuffle than repartitioning the vectors beforehand.
        estimator._set(num_workers=workers)
        if self._early_stopping_rounds() is not None:
            from pyspark.sql import functions as F

            # Per row, so each class is held out at validation_fraction in expectation (no exact strata
            # without a shuffle); the seed makes it the same split on the same data.
            fraction = self.getOrDefault(self.validationFraction)
            dataset = dataset.withColumn(_VALIDATION_COL, F.rand(self._seed()) < F.lit(fraction))
            estimator._set(early_stopping_rounds=self._early_stopping_rounds(), validationIndicatorCol=_VALIDATION_COL)
        return estimator.fit(dataset)


def _num_classes(model: Any) -> int:
    return int(getattr(model._xgb_sklearn_model, "n_classes_", 2))


class BinaryThreshold(
    Transformer, HasProbabilityCol, HasPredictionCol, HasThreshold, DefaultParamsReadable, DefaultParamsWritable
):
    """Predict class 1 exactly when its probability is >= ``threshold`` (overwrites ``predictionCol``)."""

    def __init__(
        self, *, probabilityCol: str = "probability", predictionCol: str = "prediction", threshold: float = 0.5
    ):
        super().__init__()
        self._set(probabilityCol=probabilityCol, predictionCol=predictionCol, threshold=threshold)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        p1 = vector_to_array(F.col(self.getProbabilityCol()))[1]
        return dataset.withColumn(self.getPredictionCol(), F.when(p1 >= F.lit(self.getThreshold()), 1.0).otherwise(0.0))


def vector_width(dataset: DataFrame, features_col: str) -> int:
    """Slots of the feature vector: from VectorAssembler's metadata, else from the first row."""
    metadata = dataset.schema[features_col].metadata.get("ml_attr", {})
    if "num_attrs" in metadata:
        return int(metadata["num_attrs"])
    first = dataset.select(features_col).first()
    if first is None:
        raise DataError("the training data given to xgboost is empty; check the filters and the split.")
    return int(first[0].size)


def _local_cores(master: str) -> int | None:
    """Cores of a ``local[N]`` master (``local[*]``: all), None when not local."""
    if not (master == "local" or master.startswith("local[")):
        return None
    cpus = _machine_cores()
    if master == "local":
        return 1
    inside = master[master.find("[") + 1 : master.find("]")].split(",")[0] if "[" in master else "*"
    return cpus if inside == "*" else max(1, min(cpus, int(inside)))


def driver_cores(spark: SparkSession) -> int:
    """Threads the driver can train with: the local master's cores, or spark.driver.cores / this machine's.

    Over Spark Connect the data is collected into this client process, which trains on its own cores.
    """
    if is_connect(spark):
        return _machine_cores()
    master = spark.sparkContext.master
    local = _local_cores(master)
    if local is not None:
        return local
    configured = spark.sparkContext.getConf().get("spark.driver.cores")
    if configured:
        return max(1, int(configured))
    return _machine_cores()


def _machine_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _task_cpus(spark: SparkSession) -> int:
    return int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))
