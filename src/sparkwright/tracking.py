"""A thin layer over ``MlflowClient``: runs, logging, model logging and the registry with aliases.

The rest of sparkwright talks to MLflow only through :class:`Tracker`, which never touches MLflow's
global ("fluent") state: several workspaces can be tracked from one process.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.errors import ConfigError, TrackingError
from sparkwright.scratch import scratch_dir

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema
    from pyspark.ml import PipelineModel

log = logging.getLogger(__name__)

# Given explicitly: inferring them makes MLflow load the model in a subprocess, i.e. start a second
# Spark session (about 15 s per logged model).
PIP_REQUIREMENTS = [f"pyspark=={_version('pyspark')}", f"mlflow=={_version('mlflow')}"]

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class LoggedModel:
    """Where a logged model lives (a ``runs:/<run_id>/<path>`` URI)."""

    run_id: str
    model_uri: str


class Tracker:
    """MLflow tracking and registry for one store.

    Args:
        tracking_uri: e.g. ``sqlite:///ws/mlflow.db`` or ``http://mlflow:5000``.
        artifact_root: Folder for artifacts of experiments this tracker creates (not on a tracking server).
    """

    def __init__(self, tracking_uri: str, artifact_root: str | os.PathLike[str] | None = None):
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root) if artifact_root else None
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient

            _quiet_mlflow()
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    # ---- experiments and runs -------------------------------------------------------------------

    @property
    def is_server(self) -> bool:
        """A tracking server (http, https, Databricks): it keeps artifacts where its ``--artifacts-destination``
        says, the same for every client; other stores (SQLite, a database URI, a folder) use ``artifact_root``."""
        return self.tracking_uri.startswith(("http://", "https://", "databricks"))

    def experiment_id(self, name: str) -> str:
        """The id of experiment ``name``, created if missing (artifacts in the workspace unless a server keeps
        them). Another process creating it at the same moment is no error: its experiment is used."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = (self.artifact_root / name).as_uri() if self.artifact_root and not self.is_server else None
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException:
            raced = self.client.get_experiment_by_name(name)
            if raced is None:
                raise
            return raced.experiment_id

    @contextmanager
    def run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[str]:
        """A run that ends FINISHED, or FAILED when the block raises. Yields the run id."""
        all_tags = dict(tags or {})
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(experiment_id, run_name=name, tags=all_tags)
        run_id = run.info.run_id
        try:
            yield run_id
        except BaseException:
            self.client.set_terminated(run_id, status="FAILED")
            raise
        self.client.set_terminated(run_id, status="FINISHED")

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), _short(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(items), 1000):  # MLflow takes at most 1,000 metrics per batch
            self.client.log_batch(run_id, metrics=items[start : start + 1000])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_dict(self, run_id: str, data: dict[str, Any], artifact_file: str) -> None:
        self.client.log_dict(run_id, data, artifact_file)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Figure, artifact_file: str) -> None:
        self.client.log_figure(run_id, figure, artifact_file, save_kwargs={"dpi": 110, "bbox_inches": "tight"})

    def log_artifact(self, run_id: str, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_delta_input(self, run_id: str, path: str, version: int, context: str = "training") -> None:
        """Record a Delta table at a version as the run's input dataset (lineage in the MLflow UI)."""
        from mlflow.data.delta_dataset_source import DeltaDatasetSource
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        dataset = MetaDataset(DeltaDatasetSource(path=path, delta_table_version=version), name=Path(path).name)
        self.client.log_inputs(
            run_id, [DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", context)])]
        )

    # ---- models ---------------------------------------------------------------------------------

    def log_spark_model(
        self,
        run_id: str,
        model: PipelineModel,
        *,
        input_example: pd.DataFrame,
        predictions: pd.DataFrame,
        artifact_path: str = "model",
        input_schema: Schema | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> LoggedModel:
        """Log a fitted PipelineModel with a signature (input columns -> prediction) and an example.

        ``input_schema`` replaces the inputs inferred from the example (to mark optional columns);
        ``metadata`` goes into the MLmodel file. The model is saved locally and uploaded as run artifacts
        through the client, so no MLflow global state (active run, tracking URI environment variable) is touched.
        """
        import mlflow.spark
        from mlflow.models import ModelSignature, infer_signature

        if input_schema is None:
            signature = infer_signature(input_example, predictions)
        else:  # the outputs as MLflow infers them; the inputs as given (optional columns marked)
            signature = ModelSignature(inputs=input_schema, outputs=infer_signature(predictions).inputs)
        with tempfile.TemporaryDirectory(prefix="sparkwright-model-") as folder:
            local = Path(folder) / artifact_path
            try:
                if _is_connect():
                    _save_connect_model(model, local, signature, input_example, metadata)
                else:
                    mlflow.spark.save_model(
                        model,
                        str(local),
                        signature=signature,
                        input_example=input_example,
                        pip_requirements=PIP_REQUIREMENTS,
                        dfs_tmpdir=str(Path(folder) / "dfs"),
                        metadata=dict(metadata) if metadata else None,
                    )
            except Exception as exc:
                raise TrackingError(f"MLflow could not save the model of run {run_id}: {exc}") from exc
            self.client.log_artifacts(run_id, str(local), artifact_path)
        return LoggedModel(run_id=run_id, model_uri=model_uri_of_run(run_id, artifact_path))

    def register(self, logged: LoggedModel, name: str, tags: Mapping[str, Any] | None = None) -> str:
        """Register a logged model as a new version of ``name``; returns the version number."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            try:
                self.client.create_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":  # another run registered it meanwhile: fine
                    raise
        version = self.client.create_model_version(
            name,
            source=logged.model_uri,
            run_id=logged.run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
        )
        return str(version.version)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version that carries ``alias``, or None when the model or alias does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None

    def load_pyfunc(self, name: str, alias: str = CHAMPION) -> PyFuncModel:
        """Load ``models:/<name>@<alias>`` of this store as a pyfunc model (files fetched through the client).

        Raises:
            TrackingError: No such model or alias.
        """
        import mlflow.pyfunc

        version = self.version_by_alias(name, alias)
        if version is None:
            raise TrackingError(f"no version of model {name!r} has alias {alias!r} in {self.tracking_uri}.")
        folder = str(scratch_dir("sparkwright-load-"))
        local = self.client.download_artifacts(version.run_id, "model", folder)
        return mlflow.pyfunc.load_model(local)

    def download_model(self, source: str) -> Path:
        """Fetch a logged model (``runs:/<run_id>/<path>`` or an artifact URI) into a temporary folder.

        The folder lives until the process exits (see :mod:`sparkwright.scratch`).
        """
        import mlflow.artifacts

        folder = str(scratch_dir("sparkwright-model-"))
        if source.startswith("runs:/"):
            run_id, _, path = source.removeprefix("runs:/").partition("/")
            return Path(self.client.download_artifacts(run_id, path or "model", folder))
        return Path(
            mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=folder, tracking_uri=self.tracking_uri)
        )

    def run_metric(self, run_id: str, metric: str) -> float | None:
        return self.client.get_run(run_id).data.metrics.get(metric)


def _is_connect() -> bool:
    from pyspark.sql.utils import is_remote

    return is_remote()


def _save_connect_model(
    model: PipelineModel,
    local: Path,
    signature: Any,
    input_example: pd.DataFrame,
    metadata: Mapping[str, Any] | None,
) -> None:
    """``mlflow.spark.save_model`` over Spark Connect, where MLflow's copy out of Spark's file system needs a JVM.

    The Connect server writes the model's ``sparkml`` folder itself, so it must share this folder's file
    system (a server on the same machine does); MLflow then writes the same flavour metadata around it as
    ``save_model`` does, and the model loads with ``mlflow.spark.load_model`` as any other.
    """
    import mlflow.spark
    from mlflow.models import Model

    local.mkdir(parents=True)
    model.write().overwrite().save(str(local / mlflow.spark._SPARK_MODEL_PATH_SUB))
    mlflow.spark._save_model_metadata(
        dst_dir=str(local),
        spark_model=model,
        mlflow_model=Model(metadata=dict(metadata) if metadata else None),
        conda_env=None,
        code_paths=None,
        signature=signature,
        input_example=input_example,
        pip_requirements=PIP_REQUIREMENTS,
    )


def check_backend_store(uri: str) -> str:
    """Connect once to a tracking server's database, so a wrong URI fails here with its reason and not in a
    server log. Returns the URI with its password masked, to print.

    Raises:
        ConfigError: ``uri`` is not a database URI.
        TrackingError: No driver for it (names the extra to install), or the database refuses the connection.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        url = make_url(uri)
    except ArgumentError:
        raise ConfigError(
            f"{uri!r} is not a database URI; e.g. postgresql://mlflow:PASSWORD@db.example:5432/mlflow.",
            "--backend-store-uri",
        ) from None
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise TrackingError(
            f"no database driver for {shown} ({exc}); for PostgreSQL install the team extra: "
            "pip install 'sparkwright[team]'."
        ) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise TrackingError(
            f"cannot connect to the tracking database {shown}: {reason}. Check that the database runs, that the "
            "user and password are right, and that this machine may connect to it."
        ) from None
    finally:
        engine.dispose()
    return shown


def model_uri(name: str, alias: str | None = None, version: str | None = None) -> str:
    """``models:/name@alias`` or ``models:/name/version``."""
    return f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"


def model_uri_of_run(run_id: str, artifact_path: str = "model") -> str:
    """``runs:/<run_id>/model``: where :meth:`Tracker.log_spark_model` puts a run's model."""
    return f"runs:/{run_id}/{artifact_path}"


def _short(value: Any) -> str:
    """MLflow params hold at most 6000 characters."""
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _quiet_mlflow() -> None:
    """MLflow's INFO logs (alembic migrations, 'Created version ...') are noise for a CLI user."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def pinned_requirement(package: str) -> str | None:
    """``package==<installed version>`` for a logged model's pip requirements; None when it is not installed."""
    try:
        return f"{package}=={_version(package)}"
    except PackageNotFoundError:
        return None
