"""The contract every model type meets, and the shared Spark ML implementation of it.

A model type is stateless: ``validate_params`` checks a project file's ``params`` without a JVM (the
``validate`` command never starts Spark), ``build`` makes an unfitted estimator, ``importances`` reads
a fitted stage. pyspark.ml estimators declare their ``Param`` objects, with type converters, as class
attributes, so names and types are checked straight from the class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from pyspark.ml import Estimator, Transformer

log = logging.getLogger(__name__)

# Columns and settings sparkwright wires itself; a user setting them would break the pipeline.
RESERVED_PARAMS = (
    "labelCol",
    "featuresCol",
    "predictionCol",
    "probabilityCol",
    "rawPredictionCol",
    "weightCol",
    "thresholds",
    "threshold",
)


@dataclass(frozen=True)
class Target:
    """What an estimator learns and which columns it reads and writes (all wired by sparkwright).

    For classification the label column holds the class index (0 .. num_classes-1, the positive class
    of a binary task is 1), the estimator writes the predicted index to ``prediction_col`` and the
    class probabilities, as a vector in index order, to ``probability_col``.

    Attributes:
        task: ``regression`` or ``classification``.
        label_col: The (possibly log-transformed or indexed) label.
        features_col: The assembled feature vector.
        prediction_col: Where the prediction (regression value or class index) goes.
        probability_col: Classification: the class-probability vector.
        raw_prediction_col: Classification: raw scores (Spark ML needs a name; not used downstream).
        weight_col: Per-row training weights (class weights), or None.
        num_classes: Classification: number of classes.
        threshold: Binary classification: predict class 1 when its probability is >= this.
        max_categories: Largest number of levels of an indexed categorical feature (trees need
            ``maxBins`` at least this large); 0 when categoricals are one-hot encoded.
    """

    task: str
    label_col: str
    features_col: str
    prediction_col: str
    probability_col: str | None = None
    raw_prediction_col: str | None = None
    weight_col: str | None = None
    num_classes: int | None = None
    threshold: float | None = None
    max_categories: int = 0

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"


# name -> (test, what it must be). Checked for every type that has the param.
_BOUNDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "maxDepth": (lambda v: v >= 0, "an integer >= 0"),
    "numTrees": (lambda v: v >= 1, "an integer >= 1"),
    "maxIter": (lambda v: v >= 0, "an integer >= 0"),
    "maxBins": (lambda v: v >= 2, "an integer >= 2"),
    "minInstancesPerNode": (lambda v: v >= 1, "an integer >= 1"),
    "minInfoGain": (lambda v: v >= 0, "a number >= 0"),
    "regParam": (lambda v: v >= 0, "a number >= 0"),
    "elasticNetParam": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "subsamplingRate": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "stepSize": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "tol": (lambda v: v >= 0, "a number >= 0"),
}


class ModelType:
    """One kind of model a project file can name by ``type``.

    Subclasses set ``name`` and ``tasks`` and implement :meth:`build`; Spark ML types derive from
    :class:`SparkModelType` instead, which implements everything from the estimator class.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = ("regression",)
    # False when the type must see the label in its own units even if the project trains on log(label).
    fits_log_label: ClassVar[bool] = True
    # False when the type ignores the features (the baseline): its pipeline then skips featurization.
    uses_features: ClassVar[bool] = True
    # False for trees: categoricals go in as indices with nominal metadata (split on levels natively).
    one_hot: ClassVar[bool] = True
    # True when one fit runs in one Python process (scikit-learn): tuning then runs trials in parallel.
    single_node: ClassVar[bool] = False

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "regression") -> None:
        """Check ``params`` without starting Spark.

        Raises:
            ConfigError: An unknown name, a wrong type or a value out of range; ``path`` prefixes the name.
        """
        if params:
            name = next(iter(params))
            raise ConfigError(f"model type {self.name!r} takes no parameters, got {name!r}.", f"{path}.{name}")

    def resolve_params(self, params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
        """The parameters actually used: defaults overlaid with ``params``, converted to their types."""
        return dict(params)

    def build(self, params: Mapping[str, Any], target: Target) -> Estimator:
        """An unfitted estimator configured with ``params`` (already validated) for ``target``."""
        raise NotImplementedError

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        """One importance per feature slot, or None when the model has none."""
        return None

    def training_summary(self, fitted_stage: Transformer) -> dict[str, float]:
        """Numbers about the fit, logged as metrics of the model's run (boosted types: rounds and trees kept)."""
        return {}

    def fit_local(
        self,
        params: Mapping[str, Any],
        task: str,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        categorical_slots: Sequence[int] = (),
        threads: int | None = None,
    ) -> Any:
        """Fit on NumPy arrays in this process (no Spark): tuning trials and the budgeted search run this.

        Args:
            params: The model's params as in the project file (validated).
            task: ``regression`` or ``classification`` (``y`` then holds class indices 0..k-1).
            X: Features, shape (rows, slots), as the assembled feature vector.
            y: The label (already log-transformed when the project trains on log(label)).
            sample_weight: Per-row weights, or None.
            categorical_slots: Slots of ``X`` that hold an indexed categorical (types with ``one_hot`` False).
            threads: Cap on the fit's threads (1 when trials run side by side); None: every core.

        Returns:
            A fitted estimator with scikit-learn's ``predict`` (and ``predict_proba``, ``classes_`` for a
            classifier), scored by :func:`sparkwright.models.sklearn_model.predict_local`.

        Raises:
            ModelError: The type trains in Spark only (see :attr:`fits_locally`).
        """
        raise ModelError(f"model type {self.name!r} trains in Spark only; it has no local (NumPy) fit.")

    def local_summary(self, estimator: Any) -> dict[str, float]:
        """What a :meth:`fit_local` estimator learnt about its own training (boosted: ``best_iteration``)."""
        return {}

    @property
    def fits_locally(self) -> bool:
        """Whether :meth:`fit_local` is implemented (the budgeted search then tries it on NumPy arrays)."""
        return type(self).fit_local is not ModelType.fit_local

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class SparkModelType(ModelType):
    """A model type backed by ``pyspark.ml`` estimator classes, one per task it supports."""

    estimators: ClassVar[dict[str, type[Estimator]]]
    defaults: ClassVar[dict[str, Any]] = {}
    # Allowed values of string params, where Spark only checks them at fit time.
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def estimator_for(cls, task: str) -> type[Estimator]:
        return cls.estimators[task]

    def choices_for(self, task: str) -> dict[str, tuple[str, ...]]:
        """Allowed values of string params for ``task``."""
        return self.choices

    @classmethod
    def param_names(cls, task: str = "regression") -> list[str]:
        """Params a user may set (the estimator's, minus the columns sparkwright wires)."""
        from pyspark.ml.param import Param

        estimator = cls.estimator_for(task)
        return sorted(
            n for n in dir(estimator) if isinstance(getattr(estimator, n), Param) and n not in RESERVED_PARAMS
        )

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "regression") -> None:
        self._convert(params, path, task)

    def resolve_params(self, params: Mapping[str, Any], task: str = "regression") -> dict[str, Any]:
        return self._convert({**self.defaults, **params}, "params", task)

    def build(self, params: Mapping[str, Any], target: Target) -> Estimator:
        estimator = self.estimator_for(target.task)()
        resolved = self.resolve_params(params, target.task)
        wired: dict[str, Any] = {
            "labelCol": target.label_col,
            "featuresCol": target.features_col,
            "predictionCol": target.prediction_col,
            "probabilityCol": target.probability_col,
            "rawPredictionCol": target.raw_prediction_col,
            "weightCol": target.weight_col,
        }
        if target.threshold is not None and target.num_classes == 2:
            # Spark predicts argmax(p / t): with t = [1 - x, x] that is class 1 exactly when p1 >= x.
            wired["thresholds"] = [1.0 - target.threshold, target.threshold]
        if target.max_categories and estimator.hasParam("maxBins"):
            max_bins = int(resolved.get("maxBins", estimator.getOrDefault("maxBins")))
            if max_bins < target.max_categories:
                log.warning(
                    "%s: maxBins raised from %d to %d, the number of levels of the largest categorical feature.",
                    self.name,
                    max_bins,
                    target.max_categories,
                )
                resolved["maxBins"] = target.max_categories
        # Constructors do not take every param (thresholds, weightCol): set them on the instance.
        estimator._set(**{k: v for k, v in wired.items() if v is not None and estimator.hasParam(k)}, **resolved)
        return estimator

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        if hasattr(fitted_stage, "featureImportances"):
            return [float(v) for v in fitted_stage.featureImportances.toArray()]
        if hasattr(fitted_stage, "coefficientMatrix") and getattr(fitted_stage, "numClasses", 2) > 2:
            # Multinomial: one row of coefficients per class; a feature matters by its total weight.
            return [float(v) for v in abs(fitted_stage.coefficientMatrix.toArray()).sum(axis=0)]
        if hasattr(fitted_stage, "coefficients"):
            return [abs(float(v)) for v in fitted_stage.coefficients.toArray()]
        return None

    def _convert(self, params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
        estimator = self.estimator_for(task)
        valid = self.param_names(task)
        out: dict[str, Any] = {}
        for name, value in params.items():
            where = f"{path}.{name}"
            if name in RESERVED_PARAMS:
                raise ConfigError(f"sparkwright sets {name} itself; remove it from params.", where)
            if name not in valid:
                raise ConfigError(
                    f"unknown parameter for {self.name!r}; valid: {', '.join(valid)}." + did_you_mean(name, valid),
                    where,
                )
            param = getattr(estimator, name)
            try:
                converted = param.typeConverter(value)
            except (TypeError, ValueError):
                raise ConfigError(f"must be {_kind(param.typeConverter)}, got {value!r}.", where) from None
            bound = _BOUNDS.get(name)
            if bound is not None and not bound[0](converted):
                raise ConfigError(f"must be {bound[1]}, got {value!r}.", where)
            allowed = self.choices_for(task).get(name)
            if allowed is not None and converted not in allowed:
                raise ConfigError(
                    f"must be one of {', '.join(allowed)}, got {value!r}." + did_you_mean(str(converted), allowed),
                    where,
                )
            out[name] = converted
        return out


def _kind(converter: Callable[[Any], Any]) -> str:
    """What a pyspark TypeConverter accepts, in words."""
    return {
        "toInt": "an integer",
        "toFloat": "a number",
        "toBoolean": "true or false",
        "toString": "a string",
        "toListFloat": "a list of numbers",
        "toListInt": "a list of integers",
        "toListString": "a list of strings",
    }.get(getattr(converter, "__name__", ""), "a valid value")
