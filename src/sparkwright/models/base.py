"""The contract every model type meets, and the shared Spark ML implementation of it.

A model type is stateless: ``validate_params`` checks a project file's ``params`` without a JVM (the
``validate`` command never starts Spark), ``build`` makes an unfitted estimator, ``importances`` reads
a fitted stage. pyspark.ml estimators declare their ``Param`` objects, with type converters, as class
attributes, so names and types are checked straight from the class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.ml import Estimator, Transformer

# Columns sparkwright wires itself; a user setting them would break the pipeline.
RESERVED_PARAMS = ("labelCol", "featuresCol", "predictionCol")

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

    def validate_params(self, params: Mapping[str, Any], path: str = "params") -> None:
        """Check ``params`` without starting Spark.

        Raises:
            ConfigError: An unknown name, a wrong type or a value out of range; ``path`` prefixes the name.
        """
        if params:
            name = next(iter(params))
            raise ConfigError(f"model type {self.name!r} takes no parameters, got {name!r}.", f"{path}.{name}")

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters actually used: defaults overlaid with ``params``, converted to their types."""
        return dict(params)

    def build(self, params: Mapping[str, Any], *, label_col: str, features_col: str, prediction_col: str) -> Estimator:
        """An unfitted estimator configured with ``params`` (already validated)."""
        raise NotImplementedError

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        """One importance per feature slot, or None when the model has none."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class SparkModelType(ModelType):
    """A model type backed by one ``pyspark.ml`` estimator class."""

    estimator: ClassVar[type[Estimator]]
    defaults: ClassVar[dict[str, Any]] = {}
    # Allowed values of string params, where Spark only checks them at fit time.
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def param_names(cls) -> list[str]:
        """Params a user may set (the estimator's, minus the columns sparkwright wires)."""
        from pyspark.ml.param import Param

        return sorted(
            n for n in dir(cls.estimator) if isinstance(getattr(cls.estimator, n), Param) and n not in RESERVED_PARAMS
        )

    def validate_params(self, params: Mapping[str, Any], path: str = "params") -> None:
        self._convert(params, path)

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._convert({**self.defaults, **params}, "params")

    def build(self, params: Mapping[str, Any], *, label_col: str, features_col: str, prediction_col: str) -> Estimator:
        return self.estimator(
            labelCol=label_col,
            featuresCol=features_col,
            predictionCol=prediction_col,
            **self.resolve_params(params),
        )

    def importances(self, fitted_stage: Transformer) -> list[float] | None:
        if hasattr(fitted_stage, "featureImportances"):
            return [float(v) for v in fitted_stage.featureImportances.toArray()]
        if hasattr(fitted_stage, "coefficients"):
            return [abs(float(v)) for v in fitted_stage.coefficients.toArray()]
        return None

    def _convert(self, params: Mapping[str, Any], path: str) -> dict[str, Any]:
        valid = self.param_names()
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
            param = getattr(self.estimator, name)
            try:
                converted = param.typeConverter(value)
            except (TypeError, ValueError):
                raise ConfigError(f"must be {_kind(param.typeConverter)}, got {value!r}.", where) from None
            bound = _BOUNDS.get(name)
            if bound is not None and not bound[0](converted):
                raise ConfigError(f"must be {bound[1]}, got {value!r}.", where)
            allowed = self.choices.get(name)
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
