"""``type: sklearn``: any scikit-learn estimator by import path, trained on the driver, scored in Spark.

The training set is counted first and refused before anything is collected when it has more rows than
``max_driver_rows`` (default ``SPARKWRIGHT_SKLEARN_MAX_ROWS``); otherwise the features, label and weights
reach the driver as one Arrow transfer, the estimator is fitted there, and the fitted :class:`SklearnModel`
scores in Spark through an iterator pandas UDF. It saves and loads as a Spark ML stage (params as JSON, the
estimator pickled), so ``mlflow.spark`` logs it like any other model.

:func:`fit_local` and :func:`predict_local` do the same fit and scoring on numpy arrays without Spark, for
tuning trials that run in parallel on the driver or on workers.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator, Model
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
    DefaultParamsWritable,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.models.base import RESERVED_PARAMS, ModelType, Target
from sparkwright.models.driver_data import collect_to_driver, few_partitions
from sparkwright.models.pickled import PickledEstimatorReader, PickledEstimatorWriter
from sparkwright.models.registry import register_model_type
from sparkwright.settings import get_settings

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame

DEFAULT_ESTIMATORS = {
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
}
# Set on estimators that take a random_state, unless params give one: two runs give the same model.
DEFAULT_SEED = 42
# Our params; every other key is a constructor param of the estimator.
_OWN = ("estimator", "max_driver_rows", "standardize")
_PARAM_NAME = re.compile(r"The '([^']+)' parameter")


def load_estimator_class(path: str, where: str = "params.estimator") -> type:
    """The class an import path such as ``sklearn.linear_model.Ridge`` names.

    Raises:
        ConfigError: The path does not import, or does not name an estimator class (one with fit and get_params).
    """
    if not isinstance(path, str) or "." not in path:
        raise ConfigError(
            f"must be an import path such as 'sklearn.ensemble.RandomForestRegressor', got {path!r}.", where
        )
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {path!r}: {exc}.", where) from None
    if not hasattr(module, name):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(f"cannot import {path!r}: {module_name} has no {name!r}." + did_you_mean(name, public), where)
    cls = getattr(module, name)
    if not isinstance(cls, type) or not all(hasattr(cls, m) for m in ("fit", "get_params", "set_params")):
        raise ConfigError(f"{path!r} is not a scikit-learn estimator class (it needs fit and get_params).", where)
    return cls


def make_estimator(params: Mapping[str, Any], task: str, path: str = "params") -> Any:
    """An unfitted estimator from project-file params (``estimator`` + constructor params), checked.

    Raises:
        ConfigError: Unknown import path, unknown or invalid constructor param, wrong kind of estimator for
            ``task``, or a classifier without ``predict_proba``.
    """
    from sklearn.base import is_classifier, is_regressor

    estimator_path = params.get("estimator") or DEFAULT_ESTIMATORS[task]
    cls = load_estimator_class(estimator_path, f"{path}.estimator")
    try:
        defaults = cls().get_params(deep=False)
    except TypeError as exc:
        raise ConfigError(
            f"{estimator_path} cannot be built from keyword params alone ({exc}); choose another estimator.",
            f"{path}.estimator",
        ) from None
    valid = sorted(defaults)
    kwargs: dict[str, Any] = {}
    for name, value in params.items():
        if name in _OWN:
            continue
        if name in RESERVED_PARAMS or name == "sample_weight":
            raise ConfigError(f"sparkwright sets {name} itself; remove it from params.", f"{path}.{name}")
        if name not in defaults:
            raise ConfigError(
                f"unknown parameter for {estimator_path}; valid: {', '.join(valid)}." + did_you_mean(name, valid),
                f"{path}.{name}",
            )
        kwargs[name] = value
    if "random_state" in defaults and "random_state" not in kwargs:
        kwargs["random_state"] = DEFAULT_SEED
    estimator = cls(**kwargs)
    if task == "classification" and is_regressor(estimator):
        raise ConfigError(
            f"{estimator_path} is a regressor; task classification needs a classifier, "
            f"e.g. {DEFAULT_ESTIMATORS['classification']}.",
            f"{path}.estimator",
        )
    if task == "regression" and is_classifier(estimator):
        raise ConfigError(
            f"{estimator_path} is a classifier; task regression needs a regressor, "
            f"e.g. {DEFAULT_ESTIMATORS['regression']}.",
            f"{path}.estimator",
        )
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except (TypeError, ValueError) as exc:
            match = _PARAM_NAME.search(str(exc))
            raise ConfigError(str(exc), f"{path}.{match.group(1)}" if match else path) from None
    _standardize(params, estimator, estimator_path, path)
    if task == "classification" and not hasattr(estimator, "predict_proba"):
        raise ConfigError(
            f"{estimator_path} has no predict_proba with these params; sparkwright needs class probabilities "
            "(ROC AUC, log loss, the threshold). Choose a classifier that has it (some need e.g. probability: true).",
            f"{path}.estimator",
        )
    return estimator


def fit_local(
    params: Mapping[str, Any],
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    threads: int | None = None,
) -> Any:
    """Fit the estimator ``params`` describe on arrays, in this process (no Spark needed).

    Args:
        params: As in the project file: ``estimator`` (import path; default HistGradientBoosting*) and its
            constructor params; ``standardize`` (linear models). ``max_driver_rows`` is ignored here.
        task: ``regression`` or ``classification``.
        X: Features, shape (rows, slots), as the assembled feature vector.
        y: The label; for classification the class index 0..k-1 (any numeric dtype).
        sample_weight: Per-row weights, or None.
        threads: Cap on the OpenMP / BLAS threads of the fit (1 for trials that run side by side);
            None: the libraries' default, every core.

    Returns:
        The fitted scikit-learn estimator.

    Raises:
        ConfigError: Bad params (see :func:`make_estimator`).
        ModelError: Weights given to an estimator whose fit takes no sample_weight.

    Example:
        >>> est = fit_local({"estimator": "sklearn.linear_model.Ridge", "alpha": 0.5}, "regression", X, y)
        >>> predictions, _ = predict_local(est, X_test)
    """
    from contextlib import nullcontext

    from sklearn.utils.validation import has_fit_parameter
    from threadpoolctl import threadpool_limits

    estimator = make_estimator(params, task)
    if task == "classification":
        y = y.astype("int64")
    weights = {}
    if sample_weight is not None:
        if not has_fit_parameter(estimator, "sample_weight"):
            raise ModelError(
                f"{type(estimator).__name__}.fit takes no sample_weight, which the project's class weights need; "
                "remove classification.class_weight or choose an estimator that accepts sample_weight."
            )
        weights["sample_weight"] = sample_weight
    scaling = _scaling(X) if _standardize(params, estimator) else None
    with threadpool_limits(threads) if threads else nullcontext():
        if scaling is None:
            return estimator.fit(X, y, **weights)
        mean, scale = scaling
        estimator.fit((X - mean) / scale, y, **weights)
    return _unscale(estimator, mean, scale)


def _standardize(params: Mapping[str, Any], estimator: Any, estimator_path: str = "", path: str = "params") -> bool:
    """``params.standardize``, checked: a boolean, and only for linear models (their coefficients are rescaled)."""
    value = params.get("standardize", False)
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {value!r}.", f"{path}.standardize")
    if value and not type(estimator).__module__.startswith("sklearn.linear_model"):
        raise ConfigError(
            f"standardize applies to linear models (sklearn.linear_model), not {estimator_path or type(estimator)}; "
            "remove it, or choose e.g. sklearn.linear_model.LogisticRegression or Ridge.",
            f"{path}.standardize",
        )
    return value


def _scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation (1 for a constant column)."""
    import numpy as np

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def _unscale(estimator: Any, mean: np.ndarray, scale: np.ndarray) -> Any:
    """Fold the standardization into the coefficients, so the model takes the raw features.

    The penalty then acts on the standardized scale (as Spark's ``standardization``), while scoring and
    export see a plain linear model: ``w . (x - m) / s + b == (w / s) . x + (b - (w / s) . m)``.
    """
    coef = estimator.coef_ / scale
    estimator.intercept_ = estimator.intercept_ - coef @ mean
    estimator.coef_ = coef
    return estimator


def predict_local(
    estimator: Any,
    X: np.ndarray,
    *,
    num_classes: int | None = None,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions (float64) and, for a classifier, class probabilities of a :func:`fit_local` estimator.

    For a classifier the predictions are class indices and the probabilities have ``num_classes`` columns
    in index order (default: the classes seen in training), a class absent from training getting 0. With
    two classes and ``threshold``, class 1 is predicted exactly when its probability is >= threshold;
    otherwise the most probable class.

    Returns:
        ``(predictions, probabilities)``; probabilities is None for a regressor.
    """
    import numpy as np
    from sklearn.base import is_classifier

    if not is_classifier(estimator):
        return np.asarray(estimator.predict(X), dtype="float64").reshape(-1), None
    raw = np.asarray(estimator.predict_proba(X), dtype="float64")
    classes = np.asarray(estimator.classes_).astype("int64")
    width = num_classes or int(classes.max()) + 1
    probabilities = np.zeros((raw.shape[0], width))
    probabilities[:, classes] = raw
    if threshold is not None and width == 2:
        predictions = (probabilities[:, 1] >= threshold).astype("float64")
    else:
        predictions = probabilities.argmax(axis=1).astype("float64")
    return predictions, probabilities


def ensure_fits_driver(dataset: DataFrame, params: Mapping[str, Any] | None = None) -> int:
    """Count the training rows and refuse, before anything is collected, more than the driver limit.

    Args:
        dataset: The training rows about to be collected.
        params: The model's params: ``max_driver_rows`` (default ``SPARKWRIGHT_SKLEARN_MAX_ROWS``) and
            ``estimator`` (named in the message).

    Returns:
        The number of rows.

    Raises:
        ModelError: More rows than the limit; the message names both and the ways out.
        DataError: No rows at all.
    """
    params = params or {}
    limit = _max_rows(params, "params")
    rows = few_partitions(dataset).count()
    if rows > limit:
        name = params.get("estimator") or "the scikit-learn estimator"
        raise ModelError(
            f"sklearn model {name} trains on the driver, which takes at most {limit:,} rows "
            f"(max_driver_rows), but the training set has {rows:,}. Raise params.max_driver_rows (or "
            "SPARKWRIGHT_SKLEARN_MAX_ROWS) if the driver has the memory, sample the data, or use a "
            "distributed type such as xgboost or random_forest."
        )
    if rows == 0:
        raise DataError("the training data is empty; check the filters and the split.")
    return rows


@register_model_type
class SklearnType(ModelType):
    """``type: sklearn``: ``estimator`` (an import path) and its constructor params; ``max_driver_rows``."""

    name = "sklearn"
    tasks = ("regression", "classification")
    single_node = True

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "regression") -> None:
        make_estimator(params, task, path)
        _max_rows(params, path)

    def resolve_params(self, params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
        estimator = make_estimator(params, task)
        return {
            "estimator": params.get("estimator") or DEFAULT_ESTIMATORS[task],
            "max_driver_rows": _max_rows(params, "params"),
            "standardize": bool(params.get("standardize", False)),
            **estimator.get_params(deep=False),
        }

    def build(self, params: Mapping[str, Any], target: Target) -> SklearnEstimator:
        estimator = make_estimator(params, target.task)
        defaults = type(estimator)().get_params(deep=False)
        # Only what differs from the class defaults: short, and JSON for the writer.
        explicit = {k: v for k, v in estimator.get_params(deep=False).items() if repr(v) != repr(defaults[k])}
        stage = SklearnEstimator(
            task=target.task,
            estimatorPath=params.get("estimator") or DEFAULT_ESTIMATORS[target.task],
            estimatorParams=explicit,
            maxDriverRows=_max_rows(params, "params"),
            standardize=bool(params.get("standardize", False)),
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
    ) -> Any:
        return fit_local(params, task, X, y, sample_weight, threads=threads)

    def importances(self, fitted_stage: Any) -> list[float] | None:
        """``feature_importances_`` (trees) or absolute ``coef_`` (linear models, summed over classes)."""
        import numpy as np

        if not isinstance(fitted_stage, SklearnModel) or fitted_stage.estimator is None:
            return None
        estimator = fitted_stage.estimator
        if hasattr(estimator, "feature_importances_"):
            return [float(v) for v in np.asarray(estimator.feature_importances_).reshape(-1)]
        if hasattr(estimator, "coef_"):
            coef = np.abs(np.asarray(estimator.coef_, dtype="float64"))
            return [float(v) for v in (coef.sum(axis=0) if coef.ndim == 2 else coef)]
        return None


def wire_target(stage: Any, target: Target) -> Any:
    """Set a driver-trained stage's classification columns, binary threshold and weight column from ``target``."""
    if target.is_classification:
        stage._set(probabilityCol=target.probability_col, numClasses=int(target.num_classes or 2))
        if target.threshold is not None and (target.num_classes or 2) == 2:
            stage._set(threshold=float(target.threshold))
    if target.weight_col is not None:
        stage._set(weightCol=target.weight_col)
    return stage


def _max_rows(params: Mapping[str, Any], path: str) -> int:
    value = params.get("max_driver_rows")
    if value is None:
        return get_settings().sklearn_max_rows
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be an integer >= 1, got {value!r}.", f"{path}.max_driver_rows")
    return value


class _SklearnParams(HasFeaturesCol, HasPredictionCol, HasProbabilityCol, HasThreshold):
    task = Param(Params._dummy(), "task", "regression or classification", TypeConverters.toString)
    numClasses = Param(Params._dummy(), "numClasses", "classification: number of classes", TypeConverters.toInt)


class SklearnEstimator(
    Estimator, _SklearnParams, HasLabelCol, HasWeightCol, DefaultParamsReadable, DefaultParamsWritable
):
    """Collects the training set to the driver (when it fits) and fits a scikit-learn estimator there."""

    estimatorPath = Param(Params._dummy(), "estimatorPath", "import path of the estimator", TypeConverters.toString)
    estimatorParams = Param(Params._dummy(), "estimatorParams", "constructor params", TypeConverters.identity)
    maxDriverRows = Param(Params._dummy(), "maxDriverRows", "most rows collected to the driver", TypeConverters.toInt)
    standardize = Param(Params._dummy(), "standardize", "linear: standardized fit", TypeConverters.toBoolean)

    def __init__(
        self,
        *,
        task: str = "regression",
        estimatorPath: str | None = None,
        estimatorParams: dict[str, Any] | None = None,
        maxDriverRows: int | None = None,
        standardize: bool = False,
        featuresCol: str = "features",
        labelCol: str = "label",
        predictionCol: str = "prediction",
    ):
        super().__init__()
        self._setDefault(estimatorParams={})
        self._set(
            task=task,
            estimatorPath=estimatorPath or DEFAULT_ESTIMATORS[task],
            estimatorParams=dict(estimatorParams or {}),
            maxDriverRows=maxDriverRows or get_settings().sklearn_max_rows,
            standardize=standardize,
            featuresCol=featuresCol,
            labelCol=labelCol,
            predictionCol=predictionCol,
        )

    def _fit(self, dataset: DataFrame) -> SklearnModel:
        path = self.getOrDefault(self.estimatorPath)
        ensure_fits_driver(dataset, {"estimator": path, "max_driver_rows": self.getOrDefault(self.maxDriverRows)})
        weight_col = self.getWeightCol() if self.isDefined(self.weightCol) and self.getWeightCol() else None
        X, y, weights = collect_to_driver(dataset, self.getFeaturesCol(), self.getLabelCol(), weight_col)
        task = self.getOrDefault(self.task)
        params = {"estimator": path, **self.getOrDefault(self.estimatorParams)}
        if self.isDefined(self.standardize) and self.getOrDefault(self.standardize):
            params["standardize"] = True
        fitted = fit_local(params, task, X, y, weights)
        model = SklearnModel(fitted)
        model._resetUid(self.uid)
        return self._copyValues(model)


class SklearnModel(Model, _SklearnParams, MLReadable, MLWritable):
    """A fitted scikit-learn estimator scored in Spark by an iterator pandas UDF.

    Writes ``predictionCol`` (the value, or the class index) and, for classification, ``probabilityCol``
    (a vector in class-index order).
    """

    def __init__(self, estimator: Any = None):
        super().__init__()
        self._setDefault(task="regression")
        self.estimator = estimator

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from collections.abc import Iterator

        import numpy as np
        import pandas as pd
        from pyspark import cloudpickle
        from pyspark.ml.functions import array_to_vector, vector_to_array
        from pyspark.sql import functions as F
        from pyspark.sql.functions import pandas_udf

        if self.estimator is None:
            raise ModelError("this SklearnModel holds no fitted estimator; fit or load it first.")
        payload = cloudpickle.dumps(self.estimator)
        classification = self.getOrDefault(self.task) == "classification"
        num_classes = self.getOrDefault(self.numClasses) if self.isDefined(self.numClasses) else None
        threshold = self.getThreshold() if self.isSet(self.threshold) else None
        task_cpus = int(dataset.sparkSession.conf.get("spark.task.cpus", "1") or 1)
        width = getattr(self.estimator, "n_features_in_", 0)

        def score(batches):
            from threadpoolctl import threadpool_limits

            # Unpickled once per task's batch iterator, not per batch.
            estimator = cloudpickle.loads(payload)
            # Each Spark task has its cores (spark.task.cpus, usually 1); OpenMP would take them all.
            with threadpool_limits(task_cpus):
                for batch in batches:
                    X = np.stack(batch.to_numpy()) if len(batch) else np.empty((0, width))
                    predictions, probabilities = predict_local(
                        estimator, X, num_classes=num_classes, threshold=threshold
                    )
                    if classification:
                        yield pd.DataFrame({"prediction": predictions, "probability": list(probabilities)})
                    else:
                        yield pd.Series(predictions)

        # Real types rather than strings: pandas_udf reads the hints to pick the iterator UDF kind.
        out_type = pd.DataFrame if classification else pd.Series
        score.__annotations__ = {"batches": Iterator[pd.Series], "return": Iterator[out_type]}
        schema = "prediction double, probability array<double>" if classification else "double"
        scored = pandas_udf(score, schema)(vector_to_array(F.col(self.getFeaturesCol())))
        if not classification:
            return dataset.withColumn(self.getPredictionCol(), scored)
        struct = "__sw_sklearn_scored"
        return (
            dataset.withColumn(struct, scored)
            .withColumn(self.getPredictionCol(), F.col(f"{struct}.prediction"))
            .withColumn(self.getProbabilityCol(), array_to_vector(F.col(f"{struct}.probability")))
            .drop(struct)
        )

    def write(self) -> MLWriter:
        return PickledEstimatorWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return PickledEstimatorReader(cls)
