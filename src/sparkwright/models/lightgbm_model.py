"""``type: lightgbm``: LightGBM's gradient-boosted trees, trained on the driver, scored in Spark.

Like ``type: sklearn``, the training set is collected to the driver (one Arrow transfer) and fitted there by
LightGBM's scikit-learn API (``LGBMRegressor`` / ``LGBMClassifier``) with every driver core; a training set
of more than ``driver_max_cells`` rows x feature slots is refused before anything is collected. Categoricals
are not one-hot encoded: each is one indexed slot, passed to LightGBM as ``categorical_feature`` so it
splits on sets of levels natively.

The fitted stage, :class:`LightGBMModel`, is a :class:`~sparkwright.models.sklearn_model.SklearnModel`
(scored by its iterator pandas UDF) holding a :class:`LightGBMBooster`: the booster in LightGBM's own text
format, which is also what the stage saves (no pickle) and what the exported scorer loads.

With ``early_stopping_rounds`` a seeded ``validation_fraction`` of the training rows is held out (per class
for classification), ``n_estimators`` is the ceiling and only the rounds up to the best one are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasFeaturesCol,
    HasLabelCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasThreshold,
    HasWeightCol,
)
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsReader,
    DefaultParamsWritable,
    DefaultParamsWriter,
    MLReader,
    MLWriter,
)

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.features import categorical_slots as categorical_slots_of
from sparkwright.models.base import RESERVED_PARAMS, ModelType, Target
from sparkwright.models.driver_data import collect_to_driver, few_partitions
from sparkwright.models.registry import register_model_type
from sparkwright.models.sklearn_model import SklearnModel, wire_target
from sparkwright.models.xgboost_model import (  # the shared driver-training and param-check helpers
    DRIVER_MAX_CELLS,
    VALIDATION_FRACTION,
    _fraction,
    _non_negative,
    _positive,
    check_early_stopping,
    check_value,
    driver_cores,
    holdout_split,
    vector_width,
)

if TYPE_CHECKING:
    import lightgbm
    import numpy as np
    from pyspark.ml import Transformer
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

DEFAULT_SEED = 42
# Passed to LightGBM unless the project file says otherwise: the same data gives the same model, quietly.
_DEFAULTS: dict[str, Any] = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "random_state": DEFAULT_SEED,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
# Our own params: the driver limit and early stopping. Everything else goes to LightGBM.
_OWN = ("driver_max_cells", "early_stopping_rounds", "validation_fraction")
_BOOSTER_DIR = "booster"


def _unit(v: float) -> bool:
    return 0 <= v <= 1


_AT_LEAST_1 = (int, lambda v: v >= 1, "an integer >= 1")
_FRACTION = (float, _fraction, "a number in (0, 1]")
_NON_NEGATIVE = (float, _non_negative, "a number >= 0")
_BOOL = (bool, None, "true or false")
# name -> (kind, test or None, what it must be). The scikit-learn API's names first, then LightGBM's own
# params that its scikit-learn API passes through, then ours.
_CHECKS: dict[str, tuple[type, Any, str]] = {
    "n_estimators": _AT_LEAST_1,
    "learning_rate": (float, _positive, "a number > 0"),
    "num_leaves": (int, lambda v: v >= 2, "an integer >= 2"),
    "max_depth": (int, lambda v: v >= -1, "an integer >= -1 (-1: no limit)"),
    "min_child_samples": (int, _non_negative, "an integer >= 0"),
    "min_child_weight": _NON_NEGATIVE,
    "min_split_gain": _NON_NEGATIVE,
    "subsample": _FRACTION,
    "subsample_freq": (int, _non_negative, "an integer >= 0"),
    "colsample_bytree": _FRACTION,
    "reg_alpha": _NON_NEGATIVE,
    "reg_lambda": _NON_NEGATIVE,
    "subsample_for_bin": _AT_LEAST_1,
    "random_state": (int, None, "an integer"),
    "max_bin": (int, lambda v: v >= 2, "an integer >= 2"),
    "min_data_in_bin": _AT_LEAST_1,
    "feature_fraction_bynode": _FRACTION,
    "extra_trees": _BOOL,
    "path_smooth": _NON_NEGATIVE,
    "max_delta_step": (float, None, "a number (<= 0: no limit)"),
    "cat_smooth": _NON_NEGATIVE,
    "cat_l2": _NON_NEGATIVE,
    "max_cat_threshold": _AT_LEAST_1,
    "max_cat_to_onehot": _AT_LEAST_1,
    "min_data_per_group": _AT_LEAST_1,
    "use_missing": _BOOL,
    "zero_as_missing": _BOOL,
    "top_rate": _FRACTION,
    "other_rate": _FRACTION,
    "drop_rate": (float, _unit, "a number in [0, 1]"),
    "max_drop": (int, None, "an integer (<= 0: no limit)"),
    "skip_drop": (float, _unit, "a number in [0, 1]"),
    "alpha": (float, _positive, "a number > 0"),
    "fair_c": (float, _positive, "a number > 0"),
    "tweedie_variance_power": (float, lambda v: 1 <= v < 2, "a number in [1, 2)"),
    "deterministic": _BOOL,
    "force_row_wise": _BOOL,
    "force_col_wise": _BOOL,
    "verbose": (int, None, "an integer (-1: quiet)"),
    "driver_max_cells": _AT_LEAST_1,
    "early_stopping_rounds": _AT_LEAST_1,
    "validation_fraction": (float, lambda v: 0 < v < 1, "a number in (0, 1)"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "boosting_type": ("gbdt", "dart", "rf"),
    "data_sample_strategy": ("bagging", "goss"),
}
_REGRESSION_OBJECTIVES = (
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
)
# What sparkwright passes to the fit itself, in LightGBM's spelling.
_WIRED = {
    "categorical_feature",
    "feature_name",
    "sample_weight",
    "init_score",
    "eval_set",
    "eval_X",
    "eval_y",
    "eval_sample_weight",
    "eval_names",
    "callbacks",
    "init_model",
}
_THREADS = "sparkwright sets the threads: every driver core on the driver, fewer when tuning trials run side by side"
_REFUSED = {
    "n_jobs": _THREADS,
    "num_threads": _THREADS,
    "class_weight": "set classification.class_weight in the project file; it weights the rows of every type",
    "importance_type": "sparkwright reports each feature's total gain, scaled to sum to 1",
    "eval_metric": "early stopping watches the objective's own metric",
    "metric": "early stopping watches the objective's own metric",
}
# LightGBM's native names (and aliases) of the scikit-learn API's params: one spelling in project files.
_NATIVE_NAMES = {
    "num_iterations": "n_estimators",
    "num_iteration": "n_estimators",
    "num_boost_round": "n_estimators",
    "num_trees": "n_estimators",
    "num_rounds": "n_estimators",
    "n_iter": "n_estimators",
    "eta": "learning_rate",
    "shrinkage_rate": "learning_rate",
    "num_leaf": "num_leaves",
    "max_leaves": "num_leaves",
    "boosting": "boosting_type",
    "min_data_in_leaf": "min_child_samples",
    "min_sum_hessian_in_leaf": "min_child_weight",
    "min_gain_to_split": "min_split_gain",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "feature_fraction": "colsample_bytree",
    "lambda_l1": "reg_alpha",
    "lambda_l2": "reg_lambda",
    "lambda": "reg_lambda",
    "seed": "random_state",
    "random_seed": "random_state",
    "bin_construct_sample_cnt": "subsample_for_bin",
    "early_stopping_round": "early_stopping_rounds",
    "n_iter_no_change": "early_stopping_rounds",
    "verbosity": "verbose",
}


def _valid_names() -> list[str]:
    return sorted({*_CHECKS, *_CHOICES, "objective", "monotone_constraints"})


def _convert(params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
    """``params`` checked and converted, or a ConfigError naming ``path.<param>`` and the fix."""
    valid = _valid_names()
    out: dict[str, Any] = {}
    for name, value in params.items():
        where = f"{path}.{name}"
        if name in RESERVED_PARAMS or name in _WIRED:
            raise ConfigError(f"sparkwright sets {name} itself; remove it from params.", where)
        if name in _REFUSED:
            raise ConfigError(f"not supported: {_REFUSED[name]}; remove it from params.", where)
        if name in _NATIVE_NAMES:
            raise ConfigError(f"{name!r} is LightGBM's native name; write it as {_NATIVE_NAMES[name]!r} here.", where)
        if name == "objective":
            out[name] = _objective(value, where, task)
        elif name == "monotone_constraints":
            if not isinstance(value, list) or any(isinstance(v, bool) or v not in (-1, 0, 1) for v in value):
                raise ConfigError(f"must be a list of -1, 0 or 1, one per feature slot, got {value!r}.", where)
            out[name] = [int(v) for v in value]
        elif name in _CHOICES:
            if value not in _CHOICES[name]:
                allowed = _CHOICES[name]
                raise ConfigError(
                    f"must be one of {', '.join(allowed)}, got {value!r}." + did_you_mean(str(value), allowed), where
                )
            out[name] = value
        elif name in _CHECKS:
            out[name] = check_value(value, _CHECKS[name], where)
        else:
            raise ConfigError(
                f"unknown parameter for 'lightgbm'; valid: {', '.join(valid)}." + did_you_mean(name, valid), where
            )
    _check_combinations(out, path)
    return out


def _objective(value: Any, where: str, task: str) -> str:
    if task == "classification":
        raise ConfigError(
            "sparkwright sets the objective from the number of classes (binary or multiclass); remove it from params.",
            where,
        )
    if value not in _REGRESSION_OBJECTIVES:
        raise ConfigError(
            f"must be one of {', '.join(_REGRESSION_OBJECTIVES)}, got {value!r}."
            + did_you_mean(str(value), _REGRESSION_OBJECTIVES),
            where,
        )
    return value


def _check_combinations(params: Mapping[str, Any], path: str) -> None:
    """Cross-param checks LightGBM would otherwise fail on at fit time."""
    check_early_stopping(params, path)
    if params.get("boosting_type") == "dart" and params.get("early_stopping_rounds") is not None:
        raise ConfigError(
            "LightGBM has no early stopping with boosting_type dart (dropout changes earlier trees); "
            "remove early_stopping_rounds or use gbdt.",
            f"{path}.early_stopping_rounds",
        )
    if params.get("force_row_wise") and params.get("force_col_wise"):
        raise ConfigError("force_row_wise and force_col_wise exclude each other; set one.", f"{path}.force_col_wise")
    if params.get("boosting_type") == "rf":
        bagged = params.get("subsample_freq", 0) >= 1 and params.get("subsample", 1.0) < 1
        if not bagged and params.get("colsample_bytree", 1.0) >= 1:
            raise ConfigError(
                "boosting_type rf averages trees grown on samples: set subsample < 1 with subsample_freq >= 1, "
                "or colsample_bytree < 1.",
                f"{path}.boosting_type",
            )


def resolve_params(params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
    """The params actually used: sparkwright's defaults overlaid with ``params`` (checked)."""
    resolved = _convert(params, "params", task)
    defaults = dict(_DEFAULTS)
    if resolved.get("force_col_wise"):
        defaults.pop("force_row_wise")
    if resolved.get("early_stopping_rounds") is not None:
        defaults["validation_fraction"] = VALIDATION_FRACTION
    return {"driver_max_cells": DRIVER_MAX_CELLS, **defaults, **resolved}


def fit_local(
    params: Mapping[str, Any],
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    categorical_slots: Sequence[int] = (),
    threads: int | None = None,
) -> lightgbm.LGBMModel:
    """Fit ``LGBMRegressor`` / ``LGBMClassifier`` on arrays, in this process (no Spark needed).

    Args:
        params: As in the project file (``driver_max_cells`` is ignored here).
        task: ``regression`` or ``classification`` (``y`` holds class indices 0..k-1).
        X: Features, shape (rows, slots); categorical slots hold level indices.
        y: The label.
        sample_weight: Per-row weights, or None.
        categorical_slots: Slots of ``X`` LightGBM splits on as categories.
        threads: LightGBM's ``num_threads``; None: every core.

    Returns:
        The fitted LightGBM estimator; after early stopping it predicts with the best round.

    Raises:
        ConfigError: Bad params.
        DataError: Early stopping on too few rows to hold any out.
    """
    import lightgbm

    resolved = resolve_params(params, task)
    kwargs = {k: v for k, v in resolved.items() if k not in _OWN}
    if threads:
        kwargs["n_jobs"] = threads
    classification = task == "classification"
    model = (lightgbm.LGBMClassifier if classification else lightgbm.LGBMRegressor)(**kwargs)
    fit_params: dict[str, Any] = {"categorical_feature": [int(s) for s in categorical_slots] or "auto"}
    rounds = resolved.get("early_stopping_rounds")
    if rounds is not None:
        fit, held = holdout_split(y, resolved["validation_fraction"], resolved["random_state"], stratify=classification)
        fit_params.update(
            eval_X=(X[held],), eval_y=(y[held],), callbacks=[lightgbm.early_stopping(rounds, verbose=False)]
        )
        if sample_weight is not None:
            fit_params["eval_sample_weight"] = [sample_weight[held]]
            sample_weight = sample_weight[fit]
        X, y = X[fit], y[fit]
    return model.fit(X, y, sample_weight=sample_weight, **fit_params)


class LightGBMBooster:
    """A fitted LightGBM model with the part of scikit-learn's API that ``predict_local`` reads.

    It holds the booster as LightGBM's text model (``model_to_string``), which is what it pickles to and
    what :class:`LightGBMModel` saves; the booster itself is parsed on first use.

    Args:
        model: The booster's text.
        task: ``regression`` or ``classification``.
        classes: Classification: the class indices seen in training, in the order of LightGBM's outputs.
        summary: ``rounds_trained``, ``trees`` and, after early stopping, ``best_iteration``.
    """

    def __init__(self, model: str, task: str, classes: Sequence[int] = (), summary: Mapping[str, float] | None = None):
        import numpy as np

        self.model = model
        self.task = task
        self.classes_ = np.asarray(classes, dtype="int64")
        self.summary = dict(summary or {})
        self._booster: lightgbm.Booster | None = None

    @classmethod
    def from_fitted(cls, estimator: lightgbm.LGBMModel, task: str) -> LightGBMBooster:
        """The booster of a :func:`fit_local` estimator: the rounds up to the best one after early stopping."""
        booster = estimator.booster_
        # Without a round given, LightGBM writes the rounds up to the best iteration when there is one.
        model = booster.model_to_string()
        classes = estimator.classes_ if task == "classification" else ()
        # The validation set's metric, one value per round trained (empty without early stopping).
        history = next(iter(estimator.evals_result_.values()), {})
        rounds = len(next(iter(history.values()))) if history else booster.current_iteration()
        summary = {"rounds_trained": float(rounds)}
        if history:
            summary["best_iteration"] = float(estimator.best_iteration_)
        predictor = cls(model, task, [int(c) for c in classes], summary)
        predictor.summary["trees"] = float(predictor.booster.num_trees())
        return predictor

    @property
    def booster(self) -> lightgbm.Booster:
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self.model)
        return self._booster

    @property
    def n_features_in_(self) -> int:
        return int(self.booster.num_feature())

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Regression: the value; classification: the class of the largest probability."""
        if self.task != "classification":
            return self.booster.predict(X)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """One column per class of ``classes_``, as ``LGBMClassifier.predict_proba`` computes them."""
        import numpy as np

        raw = self.booster.predict(X)
        return raw if raw.ndim == 2 else np.vstack((1.0 - raw, raw)).transpose()

    def gain(self) -> np.ndarray:
        """Total gain of the splits on each feature slot."""
        return self.booster.feature_importance(importance_type="gain")

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import Tags, TargetTags

        kind = "classifier" if self.task == "classification" else "regressor"
        return Tags(estimator_type=kind, target_tags=TargetTags(required=True))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_booster": None}


def ensure_fits_driver(dataset: DataFrame, features_col: str, limit: int) -> tuple[int, int]:
    """Count the training rows and refuse, before anything is collected, more than ``limit`` cells.

    Returns:
        ``(rows, feature slots)``.

    Raises:
        ModelError: rows x slots over ``limit``; the message names the distributed alternatives.
        DataError: No rows at all.
    """
    rows = few_partitions(dataset).count()
    if rows == 0:
        raise DataError("the training data given to lightgbm is empty; check the filters and the split.")
    width = vector_width(dataset, features_col)
    if rows * width > limit:
        raise ModelError(
            f"lightgbm trains on the driver, which takes at most {limit:,} cells (params.driver_max_cells: rows x "
            f"feature slots), but the training set has {rows:,} rows x {width:,} slots = {rows * width:,}. Raise "
            "driver_max_cells if the driver has the memory, sample the data, or use a type that trains "
            "distributed: xgboost with training: distributed, or gbt."
        )
    return rows, width


@register_model_type
class LightGBMType(ModelType):
    """``type: lightgbm`` for regression and classification (binary and multiclass).

    Params are LightGBM's scikit-learn API names (``n_estimators``, ``num_leaves``, ``learning_rate``, ...),
    a few of LightGBM's own (``max_bin``, ``cat_smooth``, ``min_data_per_group``, ...), ``driver_max_cells``,
    ``early_stopping_rounds`` and ``validation_fraction``. Importances are each slot's total gain, scaled to
    sum to 1.
    """

    name = "lightgbm"
    tasks = ("regression", "classification")
    one_hot = False
    single_node = True

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "regression") -> None:
        _convert(params, path, task)

    def resolve_params(self, params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
        return resolve_params(params, task)

    def build(self, params: Mapping[str, Any], target: Target) -> LightGBMEstimator:
        resolved = resolve_params(params, target.task)
        stage = LightGBMEstimator(
            task=target.task,
            lgbParams={k: v for k, v in resolved.items() if k != "driver_max_cells"},
            driverMaxCells=resolved["driver_max_cells"],
            featuresCol=target.features_col,
            labelCol=target.label_col,
            predictionCol=target.prediction_col,
        )
        return wire_target(stage, target)

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
    ) -> lightgbm.LGBMModel:
        return fit_local(params, task, X, y, sample_weight, categorical_slots=categorical_slots, threads=threads)

    def local_summary(self, estimator: Any) -> dict[str, float]:
        best = getattr(estimator, "best_iteration_", None)
        return {"best_iteration": float(best)} if best else {}

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        if not isinstance(fitted_stage, LightGBMModel) or fitted_stage.estimator is None:
            return None
        gain = [float(v) for v in fitted_stage.estimator.gain()]
        total = sum(gain)
        return [v / total for v in gain] if total > 0 else gain

    def training_summary(self, fitted_stage: Transformer) -> dict[str, float]:
        if not isinstance(fitted_stage, LightGBMModel) or fitted_stage.estimator is None:
            return {}
        return dict(fitted_stage.estimator.summary)


class LightGBMEstimator(
    Estimator,
    HasFeaturesCol,
    HasLabelCol,
    HasPredictionCol,
    HasProbabilityCol,
    HasThreshold,
    HasWeightCol,
    DefaultParamsReadable,
    DefaultParamsWritable,
):
    """Collects the training set to the driver (when it fits) and fits LightGBM there; returns a LightGBMModel."""

    task = Param(Params._dummy(), "task", "regression or classification", TypeConverters.toString)
    numClasses = Param(Params._dummy(), "numClasses", "classification: number of classes", TypeConverters.toInt)
    lgbParams = Param(Params._dummy(), "lgbParams", "LightGBM params as in the project file", TypeConverters.identity)
    driverMaxCells = Param(
        Params._dummy(), "driverMaxCells", "most rows x feature slots collected to the driver", TypeConverters.toInt
    )

    def __init__(
        self,
        *,
        task: str = "regression",
        lgbParams: dict[str, Any] | None = None,
        driverMaxCells: int = DRIVER_MAX_CELLS,
        featuresCol: str = "features",
        labelCol: str = "label",
        predictionCol: str = "prediction",
    ):
        super().__init__()
        self._setDefault(lgbParams={}, driverMaxCells=DRIVER_MAX_CELLS)
        self._set(
            task=task,
            lgbParams=dict(lgbParams or {}),
            driverMaxCells=driverMaxCells,
            featuresCol=featuresCol,
            labelCol=labelCol,
            predictionCol=predictionCol,
        )

    def _fit(self, dataset: DataFrame) -> LightGBMModel:
        features, task = self.getFeaturesCol(), self.getOrDefault(self.task)
        limit = self.getOrDefault(self.driverMaxCells)
        rows, width = ensure_fits_driver(dataset, features, limit)
        slots = categorical_slots_of(dataset, features)
        threads = driver_cores(dataset.sparkSession)
        log.info(
            "lightgbm: training on the driver with %d threads (%d rows x %d features = %d cells <= driver_max_cells "
            "%d; %d categorical).",
            threads,
            rows,
            width,
            rows * width,
            limit,
            len(slots),
        )
        weight_col = self.getWeightCol() if self.isDefined(self.weightCol) and self.getWeightCol() else None
        X, y, weights = collect_to_driver(dataset, features, self.getLabelCol(), weight_col)
        fitted = fit_local(
            self.getOrDefault(self.lgbParams), task, X, y, weights, categorical_slots=slots, threads=threads
        )
        model = LightGBMModel(LightGBMBooster.from_fitted(fitted, task))
        model._resetUid(self.uid)
        return self._copyValues(model)


class LightGBMModel(SklearnModel):
    """A fitted LightGBM model scored in Spark like any :class:`SklearnModel`; saved as LightGBM's text model.

    ``estimator`` is a :class:`LightGBMBooster`.
    """

    def write(self) -> MLWriter:
        return _LightGBMModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _LightGBMModelReader()


class _LightGBMModelWriter(MLWriter):
    """``metadata/`` (params, classes and the fit summary as JSON) and ``booster/`` (the text model, one
    parquet row), written through Spark so the folder may be on any file system Spark writes to."""

    def __init__(self, instance: LightGBMModel):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        import os

        predictor = self.instance.estimator
        if predictor is None:
            raise ModelError("this LightGBMModel holds no fitted booster; fit or load it first.")
        spark = self.sparkSession
        extra = {"booster": _BOOSTER_DIR, "classes": predictor.classes_.tolist(), "summary": predictor.summary}
        DefaultParamsWriter.saveMetadata(self.instance, path, spark, extraMetadata=extra)
        spark.createDataFrame([(predictor.model,)], "model string").coalesce(1).write.parquet(
            os.path.join(path, _BOOSTER_DIR)
        )


class _LightGBMModelReader(MLReader):
    def load(self, path: str) -> LightGBMModel:
        import os

        spark = self.sparkSession
        metadata = DefaultParamsReader.loadMetadata(path, spark)
        model = LightGBMModel()
        DefaultParamsReader.getAndSetParams(model, metadata)
        text = spark.read.parquet(os.path.join(path, metadata.get("booster", _BOOSTER_DIR))).first()[0]
        task = model.getOrDefault(model.task)
        model.estimator = LightGBMBooster(text, task, metadata.get("classes", []), metadata.get("summary"))
        model._resetUid(metadata["uid"])
        return model
