"""Fitted Spark ML stages -> runtime steps, one converter per stage class, reading the fitted state on the driver.

Converters are registered by the stage's class name; an unknown stage is refused with the list of known
ones. While converting, the columns each stage reads are checked (present, right type, vector sizes) the
way Spark's ``transformSchema`` would, so a scorer that exports also runs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.sql import SQL_FORMS, UnsupportedStatement, parse_statement
from sparkwright.deploy.export.trees import read_trees
from sparkwright.errors import ModelError

if TYPE_CHECKING:
    from pyspark.ml import Transformer

log = logging.getLogger(__name__)

NUMBER = rt.NUMERIC_TYPES
MODEL_KINDS = (
    "linear_regression",
    "logistic_regression",
    "trees",
    rt.LightGBMStep.kind,
    rt.XGBoostStep.kind,
    rt.IsolationForestStep.kind,
    rt.KMeansStep.kind,
    rt.GaussianMixtureStep.kind,
)
SQL_KINDS = ("sql_constant", "sql_exp", "sql_index_to_label")


class UnsupportedStageError(ModelError):
    """A stage (or a setting of one) the exporter cannot turn into NumPy; the message lists what it can."""


@dataclass
class _Col:
    type: str
    size: int | None = None


Converter = Callable[[Any, "_Context", str], list[rt.Step]]
_CONVERTERS: dict[str, Converter] = {}


def _converts(*class_names: str) -> Callable[[Converter], Converter]:
    def register(function: Converter) -> Converter:
        for name in class_names:
            _CONVERTERS[name] = function
        return function

    return register


def supported_stages() -> list[str]:
    """Class names of the stages the exporter converts (plus ``PipelineModel``, whose stages it walks)."""
    return sorted([*_CONVERTERS, "PipelineModel"])


class _Context:
    """The columns available at the current stage: name -> Spark type (and size, for vectors)."""

    def __init__(self, inputs: Sequence[tuple[str, str]], work_dir: str | None):
        self.columns = {name: _Col(spark_type) for name, spark_type in inputs}
        self.work_dir = work_dir

    def require(self, where: str, name: str, types: Sequence[str]) -> _Col:
        column = self.columns.get(name)
        if column is None:
            raise ModelError(
                f"{where} reads column {name!r}, which is neither an input column nor made by an earlier stage; "
                f"available: {', '.join(self.columns)}."
            )
        if column.type not in types:
            raise ModelError(f"{where} reads column {name!r} of type {column.type}; it needs {' or '.join(types)}.")
        return column

    def features(self, where: str, name: str, num_features: int) -> None:
        column = self.require(where, name, (rt.VECTOR,))
        if column.size is not None and column.size != num_features:
            raise ModelError(f"{where} expects {num_features} features, but {name!r} has {column.size}.")

    def add(self, name: str, spark_type: str, size: int | None = None) -> None:
        self.columns[name] = _Col(spark_type, size)


def convert_stages(stages: Sequence[Transformer], inputs: Sequence[tuple[str, str]], work_dir: str | None):
    """Convert ``stages`` (already flattened) in order; returns the steps and the final column types.

    Raises:
        UnsupportedStageError: A stage with no converter, or a setting the converter does not reproduce.
        ModelError: A stage reads a column that is missing or of the wrong type.
    """
    context = _Context(inputs, work_dir)
    steps: list[rt.Step] = []
    for position, stage in enumerate(stages):
        name = type(stage).__name__
        where = f"stage {position} ({name} {getattr(stage, 'uid', '')})"
        convert = _CONVERTERS.get(name)
        if convert is None:
            raise UnsupportedStageError(
                f"{where} cannot be exported: {name} is not supported. "
                f"Supported stages: {', '.join(supported_stages())}."
            )
        steps += convert(stage, context, where)
    return steps, {name: (column.type, column.size) for name, column in context.columns.items()}


# ---- feature stages -----------------------------------------------------------------------------


def _in_out(stage: Any) -> tuple[list[str], list[str]]:
    """``inputCols``/``outputCols`` or ``inputCol``/``outputCol``, whichever the stage uses."""
    if stage.isSet("inputCols"):
        return list(stage.getInputCols()), list(stage.getOutputCols())
    return [stage.getInputCol()], [stage.getOutputCol()]


def _handle_invalid(stage: Any, where: str, allowed: Sequence[str]) -> str:
    how = stage.getHandleInvalid()
    if how not in allowed:
        raise UnsupportedStageError(
            f"{where}: handleInvalid={how!r} is not supported; supported: {', '.join(allowed)}."
        )
    return how


@_converts("StringIndexerModel")
def _string_indexer(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    how = _handle_invalid(stage, where, ("keep", "error", "skip"))
    columns = []
    for source, target, labels in zip(*_in_out(stage), stage.labelsArray, strict=True):
        if source not in context.columns:
            # Spark skips an indexer whose input is absent (the label indexer of a classifier at scoring).
            log.info("%s: input column %r is not an input; skipped, as Spark skips it.", where, source)
            continue
        column = context.require(where, source, ("string", *NUMBER))
        columns.append({"input": source, "output": target, "labels": list(labels), "input_type": column.type})
        context.add(target, "double")
    if not columns:
        return []
    return [rt.StringIndexerStep({"stage": where, "columns": columns, "handle_invalid": how})]


@_converts("OneHotEncoderModel")
def _one_hot_encoder(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    how = _handle_invalid(stage, where, ("keep", "error"))
    drop_last = bool(stage.getDropLast())
    columns = []
    for source, target, size in zip(*_in_out(stage), stage.categorySizes, strict=True):
        context.require(where, source, NUMBER)
        columns.append({"input": source, "output": target, "size": int(size)})
        context.add(target, rt.VECTOR, int(size) + (how == "keep") - drop_last)
    return [rt.OneHotEncoderStep({"stage": where, "columns": columns, "drop_last": drop_last, "handle_invalid": how})]


@_converts("ImputerModel")
def _imputer(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    surrogates = stage.surrogateDF.collect()[0].asDict()
    columns = []
    for source, target in zip(*_in_out(stage), strict=True):
        column = context.require(where, source, NUMBER)
        columns.append({"input": source, "output": target, "surrogate": float(surrogates[source])})
        context.add(target, column.type)
    missing = float(stage.getMissingValue())
    return [rt.ImputerStep({"stage": where, "columns": columns, "missing_value": missing})]


@_converts("VectorAssembler")
def _vector_assembler(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    how = _handle_invalid(stage, where, ("keep", "error", "skip"))
    inputs = list(stage.getInputCols())
    size = 0
    for name in inputs:
        column = context.require(where, name, ("boolean", *NUMBER, rt.VECTOR))
        if column.type == rt.VECTOR and column.size is None:
            raise UnsupportedStageError(f"{where}: the size of vector column {name!r} is unknown.")
        size += column.size if column.type == rt.VECTOR else 1
    context.add(stage.getOutputCol(), rt.VECTOR, size)
    return [
        rt.VectorAssemblerStep(
            {"stage": where, "inputs": inputs, "output": stage.getOutputCol(), "handle_invalid": how}
        )
    ]


@_converts("StandardScalerModel")
def _standard_scaler(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    source = stage.getInputCol()
    column = context.require(where, source, (rt.VECTOR,))
    mean, std = stage.mean.toArray().astype(np.float64), stage.std.toArray().astype(np.float64)
    if column.size is not None and column.size != len(std):
        raise ModelError(f"{where} was fitted on {len(std)} slots, but {source!r} has {column.size}.")
    context.add(stage.getOutputCol(), rt.VECTOR, len(std))
    params = {
        "stage": where,
        "input": source,
        "output": stage.getOutputCol(),
        "with_mean": bool(stage.getWithMean()),
        "with_std": bool(stage.getWithStd()),
    }
    return [rt.StandardScalerStep(params, {"mean": mean, "std": std})]


@_converts("SQLTransformer")
def _sql(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    statement = stage.getStatement()
    try:
        parsed = parse_statement(statement)
    except UnsupportedStatement as exc:
        raise UnsupportedStageError(
            f"{where}: the statement {statement!r} cannot be exported ({exc}). Only sparkwright's own statements "
            f"are supported: {' | '.join(SQL_FORMS)}."
        ) from None
    if parsed.kind == "constant":
        context.add(parsed.output, "double")
        return [rt.ConstantStep({"stage": where, "output": parsed.output, "value": parsed.value})]
    context.require(where, parsed.input, NUMBER)
    if parsed.kind == "exp":
        context.add(parsed.output, "double")
        return [rt.ExpStep({"stage": where, "input": parsed.input, "output": parsed.output})]
    context.add(parsed.output, parsed.label_type)
    params = {
        "stage": where,
        "input": parsed.input,
        "output": parsed.output,
        "label_type": parsed.label_type,
        "labels": {str(k): v for k, v in parsed.labels.items()},
    }
    return [rt.IndexToLabelStep(params)]


# ---- models -------------------------------------------------------------------------------------


def _model_columns(stage: Any, context: _Context, where: str, num_classes: int | None) -> dict[str, Any]:
    """The features check and the output columns of a model (empty names switch an output off, as in Spark)."""
    features = stage.getFeaturesCol()
    context.features(where, features, int(stage.numFeatures))
    for unsupported in ("leafCol", "varianceCol"):
        if stage.hasParam(unsupported) and stage.isDefined(unsupported) and stage.getOrDefault(unsupported):
            raise UnsupportedStageError(f"{where}: {unsupported} is set; the exporter does not write it. Unset it.")
    params: dict[str, Any] = {
        "stage": where,
        "features": features,
        "prediction": stage.getPredictionCol(),
        "num_features": int(stage.numFeatures),
    }
    if params["prediction"]:
        context.add(params["prediction"], "double")
    if num_classes is not None:
        params["raw"] = stage.getRawPredictionCol()
        params["probability"] = stage.getProbabilityCol()
        params["num_classes"] = num_classes
        params["thresholds"] = _thresholds(stage)
        for name in (params["raw"], params["probability"]):
            if name:
                context.add(name, rt.VECTOR, num_classes)
    return params


def _thresholds(stage: Any) -> list[float] | None:
    java = stage._java_obj
    if not java.isDefined(java.thresholds()):
        return None
    return [float(t) for t in java.getThresholds()]


@_converts("LinearRegressionModel")
def _linear_regression(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    params = _model_columns(stage, context, where, None)
    params["intercept"] = float(stage.intercept)
    return [rt.LinearRegressionStep(params, {"coefficients": stage.coefficients.toArray().astype(np.float64)})]


@_converts("LogisticRegressionModel")
def _logistic_regression(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    coefficients = stage.coefficientMatrix.toArray().astype(np.float64)
    multinomial = coefficients.shape[0] > 1
    num_classes = int(stage.numClasses)
    params = _model_columns(stage, context, where, num_classes if multinomial else 2)
    params["multinomial"] = multinomial
    if not multinomial:
        # LogisticRegressionModel._binaryThresholds: the probability threshold and its margin.
        t = float(stage._java_obj.getThreshold())
        margin = -math.inf if t == 0.0 else math.inf if t == 1.0 else math.log(t / (1.0 - t))
        params["binary_thresholds"] = [t, margin]
    arrays = {"coefficients": coefficients, "intercepts": stage.interceptVector.toArray().astype(np.float64)}
    return [rt.LogisticRegressionStep(params, arrays)]


_TREE_MODELS = {
    "DecisionTreeRegressionModel": ("regression", "tree"),
    "DecisionTreeClassificationModel": ("classification", "tree"),
    "RandomForestRegressionModel": ("regression", "forest"),
    "RandomForestClassificationModel": ("classification", "forest"),
    "GBTRegressionModel": ("regression", "boosted"),
    "GBTClassificationModel": ("classification", "boosted"),
}


@_converts(*_TREE_MODELS)
def _trees(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    task, ensemble = _TREE_MODELS[type(stage).__name__]
    num_classes = int(stage.numClasses) if task == "classification" else None
    params = _model_columns(stage, context, where, num_classes)
    trees = read_trees(stage, work_dir=context.work_dir)
    params.update(task=task, ensemble=ensemble, max_depth=trees.max_depth)
    arrays = dict(trees.arrays)
    if ensemble == "boosted":
        arrays["tree_weights"] = np.asarray(stage.treeWeights, dtype=np.float64)
    if task == "regression" or ensemble == "boosted":
        arrays.pop("stats")
    return [rt.TreeEnsembleStep(params, arrays)]


@_converts("KMeansModel")
def _kmeans(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    if stage.getDistanceMeasure() != "euclidean":
        raise UnsupportedStageError(f"{where}: distanceMeasure={stage.getDistanceMeasure()!r}; only euclidean exports.")
    centers = np.vstack([np.asarray(c, dtype=np.float64) for c in stage.clusterCenters()])
    features, prediction = stage.getFeaturesCol(), stage.getPredictionCol()
    context.features(where, features, centers.shape[1])
    context.add(prediction, "int")
    params = {"stage": where, "features": features, "prediction": prediction, "num_features": int(centers.shape[1])}
    return [rt.KMeansStep(params, {"centers": centers})]


@_converts("GaussianMixtureModel")
def _gaussian_mixture(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    gaussians = stage.gaussians
    means = np.vstack([g.mean.toArray() for g in gaussians]).astype(np.float64)
    covariances = np.stack([g.cov.toArray() for g in gaussians]).astype(np.float64)
    features, prediction, probability = stage.getFeaturesCol(), stage.getPredictionCol(), stage.getProbabilityCol()
    context.features(where, features, means.shape[1])
    context.add(prediction, "int")
    if probability:
        context.add(probability, rt.VECTOR, len(means))
    params = {
        "stage": where,
        "features": features,
        "prediction": prediction,
        "probability": probability,
        "num_classes": len(means),
        "num_features": int(means.shape[1]),
    }
    arrays = {"weights": np.asarray(stage.weights, dtype=np.float64), "means": means, "covariances": covariances}
    return [rt.GaussianMixtureStep(params, arrays)]


def schema_columns(schema: Any) -> list[tuple[str, str]]:
    """``(name, Spark type)`` pairs from a StructType, a DataFrame, a mapping or a list of pairs.

    Raises:
        ModelError: Something else.
    """
    schema = getattr(schema, "schema", schema)
    if hasattr(schema, "fields"):
        return [(f.name, _type_name(f.dataType)) for f in schema.fields]
    if isinstance(schema, Mapping):
        return [(str(k), str(v)) for k, v in schema.items()]
    try:
        return [(str(name), str(spark_type)) for name, spark_type in schema]
    except (TypeError, ValueError):
        raise ModelError(
            "input_schema must be a Spark StructType or DataFrame, a {column: type} mapping or (column, type) pairs; "
            f"got {type(schema).__name__}."
        ) from None


def _type_name(data_type: Any) -> str:
    from pyspark.ml.linalg import VectorUDT

    return rt.VECTOR if isinstance(data_type, VectorUDT) else data_type.simpleString()


# The converters of LightGBMModel and xgboost.spark's models; last, as that module imports this one.
from sparkwright.deploy.export import anomaly as _anomaly  # noqa: E402, F401  (IsolationForestModel)
from sparkwright.deploy.export import boosters as _boosters  # noqa: E402, F401

# Registers the EnsembleModel converter; last, because that module builds on the names above.
from sparkwright.deploy.export import ensemble as _ensemble  # noqa: E402, F401
from sparkwright.deploy.export import preparation as _preparation  # noqa: E402, F401  (PrepareRows, RejectedRows)
from sparkwright.deploy.export import sklearn_models as _sklearn_models  # noqa: E402, F401  (registers SklearnModel)
