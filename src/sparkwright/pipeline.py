"""The main job: ingest -> cleanse -> split -> train + evaluate -> register, chained from a project file.

Every stage is a public function of its own module; this module only wires them together, tracks
them in MLflow and reports progress.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from sparkwright.config import ModelSpec, ProjectConfig, load_project, parse_project
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.tracking import CHALLENGER, CHAMPION, Tracker, model_uri, model_uri_of_run
from sparkwright.workspace import Workspace

if TYPE_CHECKING:
    from concurrent.futures import Future

    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from sparkwright.data import IngestResult

log = logging.getLogger(__name__)

BASELINE = "baseline"
PLOT_SAMPLE_ROWS = 5_000


class Reporter(Protocol):
    """Receives progress: the CLI draws it with Rich, a notebook gets nothing by default."""

    def stage(self, name: str, description: str) -> Any: ...

    def info(self, message: str) -> None: ...


class _SilentReporter:
    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[None]:
        yield

    def info(self, message: str) -> None:
        log.info(message)


@dataclass(frozen=True)
class TableRef:
    """A Delta table at a version: enough to re-read exactly the same data."""

    path: str
    version: int


@dataclass
class ModelResult:
    """One trained model: its tracking run, test metrics and logged model."""

    name: str
    type: str
    run_id: str
    metrics: dict[str, float]
    params: dict[str, Any]
    model_uri: str
    fit_seconds: float
    importances: dict[str, float] | None = None


@dataclass
class RunResult:
    """What ``run`` did: tracking ids, tables with versions, the leaderboard and the registered model."""

    project: str
    label: str
    metric: str
    higher_is_better: bool
    experiment_id: str
    parent_run_id: str
    workspace: Path
    tables: dict[str, TableRef]
    ingest: IngestResult
    cleanse_report: dict[str, Any]
    models: list[ModelResult]
    registered_model: str | None = None
    registered_version: str | None = None
    promoted: bool = False
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def baseline(self) -> ModelResult:
        return next(m for m in self.models if m.type == BASELINE)

    @property
    def best(self) -> ModelResult:
        return self.models[0]

    @property
    def model_uri(self) -> str | None:
        """``models:/<name>/<version>`` of the model registered by this run."""
        if self.registered_model and self.registered_version:
            return model_uri(self.registered_model, version=self.registered_version)
        return None

    def leaderboard(self) -> list[dict[str, Any]]:
        """Rows best first, each with its metrics and its gain over the baseline on the ranking metric."""
        base = self.baseline.metrics[self.metric]
        rows = []
        for rank, model in enumerate(self.models, start=1):
            value = model.metrics[self.metric]
            gain = (value - base) if self.higher_is_better else (base - value)
            rows.append(
                {
                    "rank": rank,
                    "model": model.name,
                    "type": model.type,
                    **model.metrics,
                    "vs_baseline": gain / abs(base) if base else math.nan,
                    "fit_seconds": model.fit_seconds,
                    "run_id": model.run_id,
                }
            )
        return rows


def run(
    project: str | os.PathLike[str] | ProjectConfig | dict[str, Any],
    *,
    spark: SparkSession | None = None,
    workspace: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run the main job for a project file (or an already-validated config).

    Example:
        >>> result = sparkwright.run("examples/hotel_rates.yaml")
        >>> result.best.name, result.best.metrics["rmse"], result.model_uri

    Raises:
        ConfigError: The project file is invalid.
        DataError: The data cannot be used (missing file, unknown column, too many malformed rows).
        ModelError: A model type or its parameters are invalid.
    """
    config = _as_config(project)
    reporter = reporter or _SilentReporter()
    ws = Workspace.resolve(workspace or config.workspace)
    validate_models(config)
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str, description: str) -> Iterator[None]:
        started = time.perf_counter()
        with reporter.stage(name, description):
            yield
        timings[name] = time.perf_counter() - started

    if spark is None:
        with stage("session", "Starting Spark"):
            spark = _session_for(config)
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    experiment_id = tracker.experiment_id(config.name)

    with tracker.run(experiment_id, f"{config.name}-run", tags={"sparkwright.task": config.task}) as parent_id:
        tracker.log_text(parent_id, project_file_text(config), "project.yaml")
        with stage("ingest", "Ingesting the source into the bronze table"):
            tables, ingest_result = _ingest(spark, config, ws)
        with stage("cleanse", "Cleansing into the silver table"):
            silver_ref, cleanse_report = _cleanse(spark, config, ws, tables["bronze"])
            tables["silver"] = silver_ref
        tracker.log_params(parent_id, _lineage_params(tables))
        tracker.log_delta_input(parent_id, silver_ref.path, silver_ref.version)
        tracker.log_dict(parent_id, cleanse_report, "cleanse_report.json")

        with stage("split", "Splitting train / test"):
            train, test, counts = _split(spark, config, silver_ref)
            tracker.log_params(parent_id, counts)

        results: list[ModelResult] = []
        specs = [ModelSpec(type=BASELINE), *config.models]
        with ArtifactWriter(tracker) as artifacts:
            for spec in specs:
                with stage(f"train:{spec.display_name}", f"Training {spec.display_name}"):
                    results.append(
                        _train_one(tracker, artifacts, experiment_id, parent_id, config, spec, train, test, silver_ref)
                    )
            with stage("artifacts", "Writing models and plots"):
                artifacts.wait()
        train.unpersist()
        test.unpersist()

        higher = config.task_spec.higher_is_better(config.selection_metric)
        results.sort(key=lambda m: m.metrics[config.selection_metric], reverse=higher)
        result = RunResult(
            project=config.name,
            label=config.data.label or "",
            metric=config.selection_metric,
            higher_is_better=higher,
            experiment_id=experiment_id,
            parent_run_id=parent_id,
            workspace=ws.root,
            tables=tables,
            ingest=ingest_result,
            cleanse_report=cleanse_report,
            models=results,
        )
        tracker.log_dict(parent_id, {"leaderboard": result.leaderboard()}, "leaderboard.json")
        tracker.log_metrics(parent_id, {f"best_{k}": v for k, v in result.best.metrics.items() if isinstance(v, float)})

        if config.registry is not None:
            with stage("register", "Registering the best model"):
                _register_best(tracker, config, result)
        result.stage_seconds = timings
        tracker.log_metrics(parent_id, {f"seconds_{k.replace(':', '_')}": v for k, v in timings.items()})
    return result


def project_file_text(config: ProjectConfig) -> str:
    """The validated project as YAML, defaults included: what the run actually used."""
    return yaml.safe_dump(config.model_dump(mode="json", by_alias=True), sort_keys=False)


def validate_models(config: ProjectConfig) -> None:
    """Check every model type and its params without starting Spark (``sparkwright validate``)."""
    from sparkwright.models import get_model_type

    for index, spec in enumerate(config.models):
        path = f"models[{index}]"
        try:
            model_type = get_model_type(spec.type, config.task)
        except ModelError as exc:
            raise ConfigError(str(exc), path=f"{path}.type") from None
        model_type.validate_params(spec.params, f"{path}.params")


def _as_config(project: str | os.PathLike[str] | ProjectConfig | dict[str, Any]) -> ProjectConfig:
    if isinstance(project, ProjectConfig):
        return project
    if isinstance(project, dict):
        return parse_project(project)
    return load_project(project)


def _session_for(config: ProjectConfig) -> SparkSession:
    from sparkwright.session import get_session

    return get_session(master=config.spark.master, remote=config.spark.remote, conf=config.spark.conf)


def _ingest(spark: SparkSession, config: ProjectConfig, ws: Workspace) -> tuple[dict[str, TableRef], IngestResult]:
    from sparkwright.data import ingest

    bronze = ws.table_path(config.name, "bronze")
    rejects = ws.table_path(config.name, "bronze_rejects")
    result = ingest(spark, config.data.source, bronze, rejects, max_rejected_fraction=config.data.max_rejected_fraction)
    return {"bronze": TableRef(bronze, result.version)}, result


def _cleanse(
    spark: SparkSession, config: ProjectConfig, ws: Workspace, bronze: TableRef
) -> tuple[TableRef, dict[str, Any]]:
    from sparkwright.data import cleanse, read_table, write_silver

    result = cleanse(read_table(spark, bronze.path, bronze.version), config)
    silver_path = ws.table_path(config.name, "silver")
    if result.report["output_rows"] == 0:
        raise DataError(
            f"cleansing left no rows for {silver_path} ({result.report}); check cleanse.filters and the label."
        )
    version = write_silver(result, silver_path, ws.table_path(config.name, "silver_rejects"))
    return TableRef(silver_path, version), dict(result.report)


def _split(spark: SparkSession, config: ProjectConfig, silver: TableRef) -> tuple[DataFrame, DataFrame, dict]:
    from sparkwright.data import read_table, split_train_test

    df = read_table(spark, silver.path, silver.version)
    train, test = split_train_test(
        df, test_fraction=config.split.test_fraction, seed=config.split.seed, key_columns=config.data.keys or None
    )
    train, test = train.cache(), test.cache()
    counts = {"train_rows": train.count(), "test_rows": test.count()}
    if not counts["train_rows"] or not counts["test_rows"]:
        raise DataError(
            f"the split left {counts['train_rows']} training and {counts['test_rows']} test rows; "
            "the data has too few rows for split.test_fraction="
            f"{config.split.test_fraction}."
        )
    return train, test, counts


class ArtifactWriter:
    """Logs plots and model files on one worker thread while Spark trains the next model.

    Saving a model and rendering plots take seconds of mostly driver-side work per model; overlapping
    them with the next fit keeps the main job close to a hand-written script's time. A failure marks
    its run FAILED and is raised by :meth:`wait`.
    """

    def __init__(self, tracker: Tracker):
        from concurrent.futures import ThreadPoolExecutor

        self._tracker = tracker
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkwright-artifacts")
        self._futures: list[Future[None]] = []

    def submit(self, run_id: str, task: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                task()
            except BaseException:
                self._tracker.client.set_terminated(run_id, status="FAILED")
                raise

        self._futures.append(self._pool.submit(guarded))

    def wait(self) -> None:
        """Block until everything submitted is written; re-raise the first failure."""
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)


def _train_one(
    tracker: Tracker,
    artifacts: ArtifactWriter,
    experiment_id: str,
    parent_id: str,
    config: ProjectConfig,
    spec: ModelSpec,
    train: DataFrame,
    test: DataFrame,
    silver: TableRef,
) -> ModelResult:
    """Fit one model inside its Pipeline, evaluate it on the test set and log it to a nested run."""
    from sparkwright.data import feature_columns
    from sparkwright.evaluate import regression_metrics
    from sparkwright.models import fit_model, predict

    label = config.data.label
    assert label is not None
    categorical, numeric = feature_columns(train, config)
    tags = {"sparkwright.model_type": spec.type, "sparkwright.source_table": silver.path}
    with tracker.run(experiment_id, spec.display_name, parent_run_id=parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, silver.path, silver.version)
        started = time.perf_counter()
        fitted = fit_model(
            train,
            spec,
            label_col=label,
            categorical=categorical,
            numeric=numeric,
            impute=config.cleanse.impute,
            log_label=config.cleanse.log_label,
        )
        fit_seconds = time.perf_counter() - started
        predictions = predict(fitted, test).cache()
        metrics = regression_metrics(predictions, label)
        sample = predictions.select(label, "prediction").limit(PLOT_SAMPLE_ROWS).toPandas()
        predictions.unpersist()
        tracker.log_params(
            run_id,
            {
                "model_type": spec.type,
                **{f"param_{k}": v for k, v in fitted.params.items()},
                **_lineage_params({"silver": silver}),
                "log_label": config.cleanse.log_label,
                "categorical_features": ",".join(categorical),
                "numeric_features": ",".join(numeric),
            },
        )
        tracker.log_metrics(run_id, {**metrics, "fit_seconds": fit_seconds})
        example = test.select(*categorical, *numeric).limit(5)
        project_yaml = project_file_text(config)

        def write_artifacts() -> None:
            tracker.log_text(run_id, project_yaml, "project.yaml")
            # Training-set metrics show over-fitting; nothing downstream waits for them.
            train_metrics = regression_metrics(predict(fitted, train), label)
            tracker.log_metrics(run_id, {f"train_{k}": v for k, v in train_metrics.items()})
            _log_plots(tracker, run_id, spec.display_name, sample, label, fitted.importances)
            tracker.log_spark_model(
                run_id,
                fitted.pipeline_model,
                input_example=example.toPandas(),
                predictions=predict(fitted, example).select("prediction").toPandas(),
            )

        artifacts.submit(run_id, write_artifacts)
    return ModelResult(
        name=spec.display_name,
        type=spec.type,
        run_id=run_id,
        metrics=metrics,
        params=dict(fitted.params),
        model_uri=model_uri_of_run(run_id),
        fit_seconds=fit_seconds,
        importances=fitted.importances,
    )


def _log_plots(
    tracker: Tracker,
    run_id: str,
    name: str,
    sample: pd.DataFrame,
    label: str,
    importances: dict[str, float] | None,
) -> None:
    from sparkwright import plots

    actual, predicted = sample[label].to_numpy(float), sample["prediction"].to_numpy(float)
    tracker.log_figure(
        run_id,
        plots.predicted_vs_actual(actual, predicted, f"{name}: predicted vs actual"),
        "plots/predicted_vs_actual.png",
    )
    tracker.log_figure(run_id, plots.residuals(actual, predicted, f"{name}: residuals"), "plots/residuals.png")
    if importances:
        tracker.log_figure(
            run_id, plots.feature_importance(importances, f"{name}: feature importance"), "plots/feature_importance.png"
        )
        tracker.log_dict(run_id, importances, "feature_importance.json")


def _register_best(tracker: Tracker, config: ProjectConfig, result: RunResult) -> None:
    """Register the best model as ``challenger``; promote it to ``champion`` if it beats the current one."""
    best = result.best
    if best.type == BASELINE:
        log.warning("No model beat the baseline on %s; nothing was registered.", result.metric)
        return
    name = config.registered_model_name
    silver = result.tables["silver"]
    from sparkwright.tracking import LoggedModel

    version = tracker.register(
        LoggedModel(run_id=best.run_id, model_uri=best.model_uri),
        name,
        tags={
            "source_table": silver.path,
            "source_version": silver.version,
            "metric": result.metric,
            result.metric: best.metrics[result.metric],
            "parent_run_id": result.parent_run_id,
        },
    )
    tracker.set_alias(name, CHALLENGER, version)
    result.registered_model, result.registered_version = name, version
    champion = tracker.version_by_alias(name, CHAMPION)
    if champion is None:
        result.promoted = True
    elif config.registry is not None and config.registry.promote_if_better:
        current = tracker.run_metric(champion.run_id, result.metric) if champion.run_id else None
        new = best.metrics[result.metric]
        result.promoted = current is None or (new > current if result.higher_is_better else new < current)
    if result.promoted:
        tracker.set_alias(name, CHAMPION, version)
    tracker.set_tags(
        result.parent_run_id, {"sparkwright.registered_version": version, "sparkwright.promoted": result.promoted}
    )


def _lineage_params(tables: dict[str, TableRef]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, ref in tables.items():
        params[f"{name}_table"] = ref.path
        params[f"{name}_version"] = ref.version
    return params
