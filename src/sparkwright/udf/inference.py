"""Score single-node models over a Spark DataFrame with an iterator pandas UDF.

The model is serialised once on the driver and broadcast; each Python worker deserialises it on its first
batch and keeps it in a per-process cache (:mod:`sparkwright.udf._worker`), so a reused worker scores every
later batch, task and job of the same model without loading it again. Rows are regrouped into
``batch_size`` rows per model call: tree ensembles and pyfunc models have a per-call cost that small
batches pay over and over.

Models: a fitted scikit-learn estimator (or pipeline, or anything picklable with ``predict``), an xgboost
model (``XGBRegressor`` / ``XGBClassifier`` or a ``Booster``), or an MLflow pyfunc model given by URI
(``models:/name@alias``, ``models:/name/3``, ``runs:/<run_id>/model``) or local folder; URIs are resolved
and downloaded on the driver through the workspace's :class:`~sparkwright.tracking.Tracker`, so workers
need no access to the MLflow store.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd  # at run time: pandas_udf reads the type hints below

from sparkwright.errors import DataError, ModelError
from sparkwright.udf._worker import BOOSTER, ESTIMATOR, PYFUNC, ModelPayload, score_batches

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkwright.tracking import Tracker

DEFAULT_BATCH_SIZE = 100_000
ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"

# numpy dtype kind -> Spark SQL type of a prediction.
_SPARK_TYPE_OF_KIND = {"f": "double", "i": "bigint", "u": "bigint", "b": "boolean", "O": "string", "U": "string"}
# MLflow column type -> Spark SQL type.
_SPARK_TYPE_OF_MLFLOW = {
    "double": "double",
    "float": "float",
    "long": "bigint",
    "integer": "int",
    "boolean": "boolean",
    "string": "string",
}


@dataclass(frozen=True)
class PreparedModel:
    """A model made ready to ship to the workers, with what the driver knows about it.

    Attributes:
        payload: What the workers load (cache key, kind, serialised model).
        description: Human-readable name for messages (class name or URI).
        feature_columns: The columns the model was fitted on or its signature lists, if known.
        result_type: Spark SQL type of its predictions.
        classifier: Whether it can give class probabilities.
    """

    payload: ModelPayload
    description: str
    feature_columns: list[str] | None
    result_type: str
    classifier: bool


def prepare_model(model: Any, *, tracker: Tracker | None = None, threads_per_worker: int | None = 1) -> PreparedModel:
    """Serialise ``model`` for scoring in Python workers.

    Args:
        model: A fitted estimator (anything picklable with ``predict``), an ``xgboost.Booster``, or an
            MLflow pyfunc model as ``models:/...`` / ``runs:/...`` URI or local model folder.
        tracker: The MLflow store that URIs resolve against. Default: the workspace's
            (``SPARKWRIGHT_WORKSPACE``, ``SPARKWRIGHT_TRACKING_URI`` / ``MLFLOW_TRACKING_URI``).
        threads_per_worker: Threads a model may use in one worker (``n_jobs``, ``nthread``, OpenMP and BLAS
            pools); None leaves them as they are. Spark already runs one worker per core.

    Raises:
        ModelError: Not a fitted model; a URI that cannot be resolved; a Spark ML model (it scores in Spark).
    """
    if isinstance(model, str | os.PathLike):
        return _prepare_mlflow(str(model), tracker, threads_per_worker)
    if type(model).__module__.startswith("xgboost") and type(model).__name__ == "Booster":
        raw = bytes(model.save_raw(raw_format="ubj"))
        names = list(model.feature_names) if model.feature_names else None
        return PreparedModel(_payload(BOOSTER, raw, threads_per_worker), "xgboost Booster", names, "double", False)
    if not callable(getattr(model, "predict", None)):
        raise ModelError(
            f"cannot score a {type(model).__name__}: pass a fitted estimator with predict(), an xgboost Booster, "
            "or an MLflow model URI (models:/name@alias, models:/name/<version>, runs:/<run_id>/model)."
        )
    _require_fitted(model)
    from pyspark import cloudpickle

    raw = cloudpickle.dumps(model)
    names = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    result_type = "double"
    if classes is not None:
        import numpy as np

        result_type = _SPARK_TYPE_OF_KIND.get(np.asarray(classes).dtype.kind, "string")
    return PreparedModel(
        _payload(ESTIMATOR, raw, threads_per_worker),
        type(model).__name__,
        None if names is None else [str(n) for n in names],
        result_type,
        callable(getattr(model, "predict_proba", None)),
    )


def predict_udf(
    model: Any | PreparedModel,
    feature_columns: Sequence[str] | None = None,
    *,
    batch_size: int | None = DEFAULT_BATCH_SIZE,
    probability: bool = False,
    result_type: str | None = None,
    tracker: Tracker | None = None,
    threads_per_worker: int | None = 1,
) -> Callable[..., Column]:
    """An iterator pandas UDF (``Iterator[Tuple[pd.Series, ...]] -> Iterator[pd.Series]``) that scores ``model``.

    Call it on the feature columns, in order: ``udf(*feature_columns)``. Numeric features reach the model
    as one float64 matrix; other types, and every pyfunc model, get a pandas DataFrame with these names
    (a pyfunc model checks them against its signature).

    Example:
        >>> predict = predict_udf(model, ["x0", "x1"], batch_size=50_000)
        >>> df.withColumn("prediction", predict("x0", "x1"))

    Args:
        model: See :func:`prepare_model`; a :class:`PreparedModel` is used as it is.
        feature_columns: Names the model knows its inputs by; default the model's own.
        batch_size: Rows per model call; Arrow batches are regrouped to it. None: one call per Arrow batch.
        probability: Return ``struct<prediction, probability: array<double>>`` (classifiers).
        result_type: Spark SQL type of the prediction; default from the model (classes, signature, double).
        tracker, threads_per_worker: See :func:`prepare_model`.

    Raises:
        ModelError: As :func:`prepare_model`; ``probability`` for a model without probabilities; no feature
            names for a model that needs them.
        ValueError: ``batch_size`` below 1.
    """
    from pyspark.sql.functions import pandas_udf

    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}.")
    prepared = (
        model
        if isinstance(model, PreparedModel)
        else prepare_model(model, tracker=tracker, threads_per_worker=threads_per_worker)
    )
    if probability and not prepared.classifier:
        raise ModelError(f"{prepared.description} gives no class probabilities; score it without probability.")
    names = list(feature_columns) if feature_columns is not None else prepared.feature_columns
    if not names:
        raise ModelError(
            f"{prepared.description} does not name its input columns; pass feature_columns=[...] in the order "
            "it was fitted on."
        )
    kind = result_type or prepared.result_type
    returns = f"struct<prediction: {kind}, probability: array<double>>" if probability else kind
    payload = prepared.payload

    def predict(batches: Iterator[tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        yield from score_batches(
            payload, batches, names=names, batch_size=batch_size, probability=probability, result_type=kind
        )

    return pandas_udf(predict, returns)  # type: ignore[call-overload]


def score(
    df: DataFrame,
    model: Any | PreparedModel,
    feature_columns: Sequence[str] | None = None,
    *,
    output_col: str = "prediction",
    probability_col: str | None = None,
    batch_size: int | None = DEFAULT_BATCH_SIZE,
    result_type: str | None = None,
    tracker: Tracker | None = None,
    threads_per_worker: int | None = 1,
) -> DataFrame:
    """``df`` with the model's prediction in ``output_col`` (and class probabilities in ``probability_col``).

    Lazy like any transformation. The Arrow batch size is read when an action runs: wrap the action in
    :func:`arrow_batch_size` to change it (the model's ``batch_size`` holds either way).

    Example:
        >>> scored = score(df, "models:/churn@champion", probability_col="probability")
        >>> with arrow_batch_size(spark, 100_000):
        ...     scored.write.format("delta").save(path)

    Args:
        df: Rows to score.
        model: See :func:`prepare_model`.
        feature_columns: Columns the model takes, in order. Default: the model's own (``feature_names_in_``,
            the MLflow signature's inputs, the Booster's feature names).
        output_col: Column for the prediction.
        probability_col: Column for the class probabilities (``array<double>``, in the order of the
            model's ``classes_``); None for none.
        batch_size, result_type, tracker, threads_per_worker: See :func:`predict_udf`.

    Raises:
        DataError: Feature columns missing from ``df``, or output columns already in it.
        ModelError: As :func:`predict_udf`; no feature columns given for a model that does not name them.
    """
    from pyspark.sql import functions as F

    prepared = (
        model
        if isinstance(model, PreparedModel)
        else prepare_model(model, tracker=tracker, threads_per_worker=threads_per_worker)
    )
    features = list(feature_columns) if feature_columns is not None else prepared.feature_columns
    if not features:
        raise ModelError(
            f"{prepared.description} does not name its input columns; pass feature_columns=[...] in the order "
            "it was fitted on."
        )
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise DataError(f"the DataFrame lacks feature column(s) {missing}; it has {', '.join(df.columns)}.")
    if prepared.feature_columns and feature_columns is not None and list(features) != prepared.feature_columns:
        raise ModelError(
            f"{prepared.description} was fitted on columns {prepared.feature_columns}, not {list(features)}; "
            "pass them in that order (rename DataFrame columns if they are called differently)."
        )
    clashes = [c for c in (output_col, probability_col) if c and c in df.columns]
    if clashes:
        raise DataError(f"the DataFrame already has column(s) {clashes}; choose other output names or drop them.")
    udf = predict_udf(
        prepared, features, batch_size=batch_size, probability=probability_col is not None, result_type=result_type
    )
    scored = udf(*[F.col(f"`{c}`") for c in features])
    if probability_col is None:
        return df.withColumn(output_col, scored)
    tmp = "__sparkwright_scored"
    return (
        df.withColumn(tmp, scored)
        .withColumn(output_col, F.col(f"{tmp}.prediction"))
        .withColumn(probability_col, F.col(f"{tmp}.probability"))
        .drop(tmp)
    )


@contextmanager
def arrow_batch_size(spark: SparkSession, rows: int) -> Iterator[None]:
    """Set ``spark.sql.execution.arrow.maxRecordsPerBatch`` for the actions in the block, then restore it.

    Spark reads the setting when an action runs, not when a DataFrame is defined, so it must wrap the
    action (``write``, ``collect``, ``count``), not the call that built the scored DataFrame.
    """
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}.")
    previous = spark.conf.get(ARROW_BATCH_CONF, None)
    spark.conf.set(ARROW_BATCH_CONF, str(rows))
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(ARROW_BATCH_CONF)
        else:
            spark.conf.set(ARROW_BATCH_CONF, previous)


# ---- internals ----------------------------------------------------------------------------------


def _payload(kind: str, raw: bytes, threads: int | None) -> ModelPayload:
    """Broadcast the model where a SparkContext exists (a worker reads it on a cache miss only)."""
    key = f"{kind}-{hashlib.sha256(raw).hexdigest()}"
    data: Any = raw
    try:
        from pyspark import SparkContext

        context = SparkContext._active_spark_context
        if context is not None:
            data = context.broadcast(raw)
    except Exception:  # Spark Connect: no SparkContext; the bytes travel with the UDF
        data = raw
    return ModelPayload(key=key, kind=kind, data=data, threads=threads)


def _require_fitted(model: Any) -> None:
    try:
        from sklearn.base import BaseEstimator
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:
        return
    if isinstance(model, BaseEstimator):
        try:
            check_is_fitted(model)
        except NotFittedError as exc:
            raise ModelError(f"{type(model).__name__} is not fitted; call fit() before scoring with it.") from exc


def _prepare_mlflow(uri: str, tracker: Tracker | None, threads: int | None) -> PreparedModel:
    from mlflow.models import Model

    folder = _download(uri, tracker)
    try:
        metadata = Model.load(str(folder / "MLmodel"))
    except Exception as exc:
        raise ModelError(f"{uri} is not an MLflow model (no readable MLmodel file): {exc}") from exc
    pyfunc = metadata.flavors.get("python_function")
    if pyfunc is None:
        raise ModelError(f"{uri} has no python_function flavour (flavours: {', '.join(metadata.flavors)}).")
    if pyfunc.get("loader_module") == "mlflow.spark":
        raise ModelError(
            f"{uri} is a Spark ML model: it scores in Spark itself (`sparkwright predict`), or export it to a "
            "scorer without a JVM first (`sparkwright export`) and score that here."
        )
    inputs = metadata.get_input_schema()
    names = inputs.input_names() if inputs is not None and inputs.has_input_names() else None
    result_type = "double"
    outputs = metadata.get_output_schema()
    if outputs is not None and outputs.has_input_names():
        specs = {s.name: s for s in outputs.inputs}
        spec = specs.get("prediction") or outputs.inputs[0]
        result_type = _SPARK_TYPE_OF_MLFLOW.get(getattr(spec.type, "name", str(spec.type)), "double")
    classifier = (
        outputs is not None
        and outputs.has_input_names()
        and any(str(n).startswith("probability") for n in outputs.input_names())
    )
    raw = _zip_folder(folder)
    return PreparedModel(
        _payload(PYFUNC, raw, threads),
        uri,
        [str(n) for n in names] if names else None,
        result_type,
        bool(classifier),
    )


def _download(uri: str, tracker: Tracker | None) -> Path:
    """A local copy of the model folder: registry and run URIs through the tracker, local folders as they are."""
    local = Path(uri).expanduser()
    if local.is_dir():
        return local
    from sparkwright.registry import Registry, parse_model_ref

    tracker = tracker or _workspace_tracker()
    try:
        if uri.startswith("models:/"):
            info = Registry(tracker).resolve(parse_model_ref(uri))
            return tracker.download_model(info.source)
        return tracker.download_model(uri)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"could not fetch the model {uri} from {tracker.tracking_uri}: {exc}") from exc


def _workspace_tracker() -> Tracker:
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    workspace = Workspace.resolve()
    return Tracker(workspace.tracking_uri, workspace.artifacts)


def _zip_folder(folder: Path) -> bytes:
    """The model folder as one zip, entries in a fixed order with fixed times: same model, same bytes, same key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
