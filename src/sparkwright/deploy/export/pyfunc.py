"""An exported scorer as an MLflow pyfunc model, and ``export_model`` from a PipelineModel or an MLflow URI.

The pyfunc model is a "model from code" (no pickle; MLflow refuses to unpickle by default): its code is
``_pyfunc_model.py``, the scorer's runtime travels along as ``code/sparkwright_scorer.py`` and the scorer
itself as the ``scorer`` artifact (JSON + ``.npy``). Loading it needs MLflow, NumPy and pandas, plus
LightGBM or xgboost for the boosted-tree models, which score with their own library.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib.metadata import version as _version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.exporter import export_pipeline
from sparkwright.errors import ModelError, TrackingError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models import ModelSignature
    from pyspark.ml import PipelineModel

    from sparkwright.tracking import LoggedModel, Tracker

RUNTIME_MODULE = "sparkwright_scorer"
SCORER_ARTIFACT = "scorer"
PIP_REQUIREMENTS = [f"mlflow=={_version('mlflow')}", f"numpy=={_version('numpy')}", f"pandas=={_version('pandas')}"]

# Spark type -> MLflow column type of the signature. Every integer is "long": pandas' default int64 then
# passes MLflow's check, which refuses int64 for an "integer" (int32) column.
_MLFLOW_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "double": "double",
    "float": "float",
    "tinyint": "long",
    "smallint": "long",
    "int": "long",
    "bigint": "long",
}
# MLflow column type of a logged Spark model's signature -> Spark type.
_SPARK_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "double": "double",
    "float": "float",
    "integer": "int",
    "long": "bigint",
}


def save_pyfunc(
    scorer: rt.ExportedScorer, path: str | os.PathLike[str], input_example: pd.DataFrame | None = None
) -> Path:
    """Write ``scorer`` as an MLflow pyfunc model folder at ``path`` (must not exist or be empty).

    The signature's inputs are the scorer's raw input columns; its outputs ``prediction`` and, for a
    classifier, ``probability_0`` .. ``probability_<k-1>`` (class index order; ``classes`` in the model's
    metadata gives each index's label). ``input_example`` (a few input rows; the Spark model's own when
    exported from a logged model) is saved with it, as the MLflow UI and serving expect.

    Raises:
        TrackingError: MLflow could not write the model.
    """
    import mlflow.pyfunc

    target = Path(path)
    with tempfile.TemporaryDirectory(prefix="sparkwright-pyfunc-") as folder:
        runtime_copy = Path(folder) / f"{RUNTIME_MODULE}.py"
        shutil.copyfile(rt.__file__, runtime_copy)
        scorer_dir = scorer.save(Path(folder) / SCORER_ARTIFACT)
        try:
            mlflow.pyfunc.save_model(
                str(target),
                python_model=str(Path(__file__).with_name("_pyfunc_model.py")),
                artifacts={SCORER_ARTIFACT: str(scorer_dir)},
                code_paths=[str(runtime_copy)],
                signature=_signature(scorer),
                input_example=input_example,
                pip_requirements=requirements(scorer),
                metadata={"sparkwright_export": _metadata(scorer)},
            )
        except Exception as exc:
            raise TrackingError(f"MLflow could not save the exported model to {target}: {exc}") from exc
    return target


def requirements(scorer: rt.ExportedScorer) -> list[str]:
    """Pinned pip requirements of the exported model: :data:`PIP_REQUIREMENTS` plus what its steps import."""
    return [*PIP_REQUIREMENTS, *(f"{name}=={_version(name)}" for name in scorer.requirements)]


def export_model(
    source: str | PipelineModel,
    output_dir: str | os.PathLike[str],
    *,
    input_schema: Any = None,
    tracking_uri: str | None = None,
    prediction_col: str | None = None,
    work_dir: str | None = None,
) -> rt.ExportedScorer:
    """Export a Spark model to a pyfunc model folder that scores without Spark (``sparkwright export``).

    Args:
        source: A fitted ``PipelineModel``, or the URI of an MLflow Spark model (``models:/name@alias``,
            ``models:/name/3``, ``runs:/<id>/model`` or a local folder), loaded with ``mlflow.spark``
            (the active SparkSession is used).
        output_dir: The pyfunc model folder to write; must not exist or be empty.
        input_schema: The scorer's input columns (see :func:`export_pipeline`). Default for a URI: the
            logged model's signature. Required for a ``PipelineModel``.
        tracking_uri: The MLflow store to resolve ``models:/`` and ``runs:/`` URIs against (also its
            registry). Default: MLflow's own resolution (``MLFLOW_TRACKING_URI``).
        prediction_col, work_dir: As for :func:`export_pipeline`.

    Returns:
        The scorer written into ``output_dir``.

    Raises:
        UnsupportedStageError: The pipeline has a stage the exporter does not support.
        ModelError: No input schema, or columns that do not fit.
        TrackingError: The URI cannot be loaded, or the model cannot be written.
    """
    example = None
    if isinstance(source, str | os.PathLike):
        pipeline_model, signature_schema, example = _load_spark_model(str(source), tracking_uri)
        input_schema = input_schema if input_schema is not None else signature_schema
    else:
        pipeline_model = source
    if input_schema is None:
        raise ModelError(
            "input_schema is needed to export a PipelineModel: the columns the model gets at scoring time, "
            "e.g. test_df.drop(label).schema."
        )
    scorer = export_pipeline(pipeline_model, input_schema, prediction_col=prediction_col, work_dir=work_dir)
    save_pyfunc(scorer, output_dir, input_example=example)
    return scorer


def log_exported_model(
    tracker: Tracker, run_id: str, model_dir: str | os.PathLike[str], artifact_path: str = "exported_model"
) -> LoggedModel:
    """Upload a folder written by :func:`save_pyfunc` / :func:`export_model` as artifacts of run ``run_id``.

    ``mlflow.pyfunc.load_model`` then loads ``runs:/<run_id>/<artifact_path>``, and
    :meth:`Tracker.register` registers it like any logged model.
    """
    from sparkwright.tracking import LoggedModel, model_uri_of_run

    tracker.client.log_artifacts(run_id, str(model_dir), artifact_path)
    return LoggedModel(run_id=run_id, model_uri=model_uri_of_run(run_id, artifact_path))


def _load_spark_model(
    uri: str, tracking_uri: str | None
) -> tuple[PipelineModel, list[tuple[str, str]] | None, pd.DataFrame | None]:
    """The Spark model at ``uri``, its signature's inputs as (column, Spark type) and its input example."""
    import mlflow.artifacts
    import mlflow.spark
    import pandas as pd
    from mlflow.models import Model

    try:
        local = (
            uri
            if Path(uri).is_dir()
            else mlflow.artifacts.download_artifacts(
                artifact_uri=_registered_location(uri, tracking_uri),
                tracking_uri=tracking_uri,
                registry_uri=tracking_uri,
            )
        )
        model = mlflow.spark.load_model(local)
        logged = Model.load(local)
        signature = logged.signature
        example = logged.load_input_example(local)
    except Exception as exc:
        raise TrackingError(f"could not load the Spark model {uri}: {exc}") from exc
    schema = None
    if signature is not None and signature.inputs is not None:
        schema = []
        for spec in signature.inputs.inputs:
            type_name = getattr(spec.type, "name", str(spec.type))
            if type_name not in _SPARK_TYPES:
                raise ModelError(
                    f"input {spec.name!r} of {uri} has MLflow type {type_name}, which the scorer does not read."
                )
            schema.append((spec.name, _SPARK_TYPES[type_name]))
    return model, schema, example if isinstance(example, pd.DataFrame) else None


def _signature(scorer: rt.ExportedScorer) -> ModelSignature | None:
    """Inputs and outputs; None for a model that reads no column (the mean baseline): MLflow refuses empty inputs."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    if not scorer.inputs:
        return None
    inputs = Schema(
        [ColSpec(_MLFLOW_TYPES[i["type"]], i["name"], required=not i.get("optional")) for i in scorer.inputs]
    )
    prediction_type = _MLFLOW_TYPES.get(scorer.outputs["prediction_type"], "double")
    outputs = [ColSpec(prediction_type, scorer.outputs["prediction"])]
    outputs += [ColSpec("double", name) for name in _probability_columns(scorer)]
    if rt.REASON_OUTPUT in scorer.output_columns:
        outputs.append(ColSpec("string", rt.REASON_OUTPUT, required=False))
    return ModelSignature(inputs=inputs, outputs=Schema(outputs))


def _probability_columns(scorer: rt.ExportedScorer) -> list[str]:
    return [name for name in scorer.output_columns[1:] if name != rt.REASON_OUTPUT]


def _metadata(scorer: rt.ExportedScorer) -> dict[str, Any]:
    return {
        "format": rt.FORMAT,
        "format_version": rt.FORMAT_VERSION,
        "prediction": scorer.outputs["prediction"],
        "probability_columns": _probability_columns(scorer),
        "classes": scorer.classes,
        **scorer.metadata,
    }


def _registered_location(uri: str, tracking_uri: str | None) -> str:
    """Where a registered version's files are, for ``models:/name@alias`` and ``models:/name/3`` URIs.

    MLflow 3 looks such URIs up in its global registry, not in the ``registry_uri`` it is given, so with
    ``tracking_uri`` the version is resolved here, in that store. Other URIs are returned as they are.
    """
    from sparkwright.registry import Registry, parse_model_ref
    from sparkwright.tracking import Tracker

    if tracking_uri is None or not uri.startswith("models:/"):
        return uri
    try:
        ref = parse_model_ref(uri)
    except ModelError:
        return uri
    if ref.alias is None and ref.version is None:  # models:/<id> may name a logged model: MLflow resolves it
        return uri
    tracker = Tracker(tracking_uri)
    version = Registry(tracker).resolve(ref)
    return tracker.client.get_model_version_download_uri(version.name, version.version)
