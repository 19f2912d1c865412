"""The main job: ingest -> cleanse -> split -> train + evaluate -> register, chained from a project file.

Every stage is a public function of its own module; this module only wires them together, tracks
them in MLflow and reports progress.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sparkwright.config import ProjectConfig, load_project, parse_project, project_file_text
from sparkwright.errors import DataError
from sparkwright.pipeline.artifacts import ArtifactWriter
from sparkwright.pipeline.connect_support import check_connect_support
from sparkwright.pipeline.flows import TrainingContext, get_flow
from sparkwright.pipeline.promotion import register_best
from sparkwright.pipeline.results import RunResult, TableRef, lineage_params
from sparkwright.pipeline.run_report import write_run_summary
from sparkwright.session import is_connect
from sparkwright.tracking import Tracker
from sparkwright.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkwright.data import IngestResult
    from sparkwright.data.preparation import RowPreparation

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Receives progress: the CLI draws it with Rich, a notebook gets nothing by default."""

    def stage(self, name: str, description: str) -> Any: ...

    def trials(self, description: str) -> Any:
        """A context manager yielding ``update(done, planned, best)`` for a search's progress bar."""

    def budget(self, description: str, seconds: float) -> Any:
        """A context manager yielding ``update(progress)`` for a budgeted search (trials, best, time left)."""

    def spark_tasks(self, name: str, description: str, spark: SparkSession) -> Any:
        """A context manager around Spark work of a known size: the CLI shows its tasks done / planned and an ETA."""

    def info(self, message: str) -> None: ...


class _SilentReporter:
    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[None]:
        yield

    @contextmanager
    def trials(self, description: str) -> Iterator[Any]:
        yield lambda done, planned, best: log.info("%s: %d/%d trials, best %s", description, done, planned, best)

    @contextmanager
    def budget(self, description: str, seconds: float) -> Iterator[Any]:
        yield lambda progress: log.info(
            "%s: %d trials, best %s (%s), %.0fs left",
            description,
            progress.done,
            progress.best_loss,
            progress.best_family,
            progress.seconds_left,
        )

    @contextmanager
    def spark_tasks(self, name: str, description: str, spark: SparkSession) -> Iterator[None]:
        yield

    def info(self, message: str) -> None:
        log.info(message)


def run(
    project: str | os.PathLike[str] | ProjectConfig | dict[str, Any],
    *,
    spark: SparkSession | None = None,
    workspace: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    data_version: int | None = None,
) -> RunResult:
    """Run the main job for a project file (or an already-validated config).

    With ``data_version`` the ingest and cleanse stages are skipped and the models are trained on
    that version of the silver table: the exact data of an earlier run (its ``silver_version`` param),
    so deterministic models reproduce its metrics.

    Example:
        >>> result = sparkwright.run("examples/hotel_rates.yaml")
        >>> result.best.name, result.best.metrics["rmse"], result.model_uri

    Raises:
        ConfigError: The project file is invalid, or uses a feature Spark Connect cannot run on a Connect session.
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

    @contextmanager
    def spark_stage(name: str, description: str) -> Iterator[None]:
        started = time.perf_counter()
        with reporter.spark_tasks(name, description, spark):
            yield
        timings[name] = time.perf_counter() - started

    if spark is None:
        with stage("session", "Starting Spark"):
            spark = _session_for(config)
    if is_connect(spark):
        check_connect_support(config)
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    experiment_id = tracker.experiment_id(config.name)

    with tracker.run(experiment_id, f"{config.name}-run", tags={"sparkwright.task": config.task}) as parent_id:
        tracker.log_text(parent_id, project_file_text(config), "project.yaml")
        ingest_result: IngestResult | None = None
        if data_version is None:
            with stage("ingest", "Ingesting the source into the bronze table"):
                tables, ingest_result = _ingest(spark, config, ws)
            with stage("cleanse", "Cleansing into the silver table"):
                silver_ref, cleanse_report = _cleanse(spark, config, ws, tables["bronze"])
                tables["silver"] = silver_ref
        else:
            with stage("data", f"Reading silver version {data_version}"):
                silver_ref, cleanse_report = _pinned_silver(spark, config, ws, data_version)
                tables = {"silver": silver_ref}
            tracker.set_tags(parent_id, {"sparkwright.data_version": data_version})
        tracker.log_params(parent_id, lineage_params(tables))
        tracker.log_delta_input(parent_id, silver_ref.path, silver_ref.version)
        tracker.log_dict(parent_id, cleanse_report, "cleanse_report.json")
        if "quality" in cleanse_report:
            tracker.log_metrics(parent_id, {"quality_quarantined_rows": cleanse_report["quality"]["quarantined_rows"]})

        report_path = None
        if config.explore.enabled:
            with stage("explore", "Profiling the silver table"):
                report_path = _explore(spark, config, ws, tracker, parent_id, silver_ref, cleanse_report.get("quality"))

        with stage("split", "Splitting train / test"):
            train, test, counts = _split(spark, config, silver_ref)
            tracker.log_params(parent_id, counts)
        preparation = _preparation(spark, config, train)
        tracker.log_params(parent_id, {"model_input": "silver" if preparation is None else "raw"})

        flow = get_flow(config.task)
        with ArtifactWriter(tracker, inline=is_connect(spark)) as artifacts:
            context = TrainingContext(
                spark=spark,
                config=config,
                workspace=ws,
                tracker=tracker,
                artifacts=artifacts,
                experiment_id=experiment_id,
                parent_id=parent_id,
                train=train,
                test=test,
                silver=silver_ref,
                preparation=preparation,
                stage=stage,
                spark_stage=spark_stage,
                reporter=reporter,
                timings=timings,
                report_path=report_path,
            )
            outcome = flow.train(context)
            with stage("artifacts", "Writing models and plots"):
                artifacts.wait()
        train.unpersist()
        test.unpersist()

        higher = config.task_spec.higher_is_better(config.selection_metric)
        results = sorted(outcome.models, key=lambda m: m.metrics[config.selection_metric], reverse=higher)
        tables.update(outcome.tables)
        tuning = outcome.tuning
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
            report_path=report_path,
            tuning=tuning,
            search=outcome.search,
            gain=config.task_spec.gain,
        )
        tracker.log_dict(parent_id, {"leaderboard": result.leaderboard()}, "leaderboard.json")
        if tuning:
            tracker.log_dict(parent_id, {"trials": result.tuning_leaderboard()}, "tuning_leaderboard.json")
        tracker.log_metrics(parent_id, {f"best_{k}": v for k, v in result.best.metrics.items() if isinstance(v, float)})

        if config.registry is not None:
            with stage("register", "Registering the best model"):
                register_best(tracker, config, result)
        with stage("summary", "Writing the run summary"):
            result.summary_path = write_run_summary(tracker, result, config.task, _data_counts(result, counts))
        result.stage_seconds = timings
        tracker.log_metrics(parent_id, {f"seconds_{k.replace(':', '_')}": v for k, v in timings.items()})
    return result


def _data_counts(result: RunResult, split: dict[str, int]) -> dict[str, int]:
    """The row counts the summary shows, from the source to the split."""
    counts: dict[str, int] = {}
    if result.ingest is not None:
        counts.update(
            {
                "input rows": result.ingest.input_rows,
                "accepted": result.ingest.accepted_rows,
                "rejected at ingest": result.ingest.rejected_rows,
            }
        )
    if "output_rows" in result.cleanse_report:
        counts["after cleansing"] = int(result.cleanse_report["output_rows"])
    return {**counts, "train rows": split["train_rows"], "test rows": split["test_rows"]}


def validate_models(config: ProjectConfig) -> None:
    """Check the source format and the task's models, tuning and settings without starting Spark."""
    from sparkwright.data.sources import get_source_reader

    if config.data.source.format is not None:
        get_source_reader(config.data.source.format)  # the format names come from the source registry
    get_flow(config.task).check(config)


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
    result = ingest(
        spark,
        config.data.source,
        bronze,
        rejects,
        max_rejected_fraction=config.data.max_rejected_fraction,
        mode=config.data.ingest.mode,
        keys=config.data.keys or None,
        evolve_schema=config.data.ingest.evolve_schema,
    )
    return {"bronze": TableRef(bronze, result.version)}, result


def _cleanse(
    spark: SparkSession, config: ProjectConfig, ws: Workspace, bronze: TableRef
) -> tuple[TableRef, dict[str, Any]]:
    from sparkwright.data import cleanse, read_table, write_silver

    rows = read_table(spark, bronze.path, bronze.version)
    quality = None
    if config.quality:
        rows, quality = _check_quality(rows, config, ws)
    result = cleanse(rows, config)
    report = dict(result.report)
    if quality is not None:
        report["quality"] = quality
    silver_path = ws.table_path(config.name, "silver")
    if result.report["output_rows"] == 0:
        raise DataError(
            f"cleansing left no rows for {silver_path} ({result.report}); check cleanse.filters and the label."
        )
    version = write_silver(result, silver_path, ws.table_path(config.name, "silver_rejects"))
    return TableRef(silver_path, version), report


def _check_quality(rows: DataFrame, config: ProjectConfig, ws: Workspace) -> tuple[DataFrame, dict[str, Any]]:
    """Quarantine the bronze rows that break a ``quality`` rule; the rest go on to cleansing."""
    from pyspark.sql import functions as F

    from sparkwright.data import check_quality, write_rejects

    checked = check_quality(rows, config.quality)
    quarantine = ws.table_path(config.name, "quality_quarantine")
    write_rejects(
        checked.quarantined.withColumn("_checked_at", F.current_timestamp()), quarantine, rows=checked.quarantined_rows
    )
    summary = {
        "total_rows": checked.total_rows,
        "passed_rows": checked.passed_rows,
        "quarantined_rows": checked.quarantined_rows,
        "failures_by_rule": dict(checked.counts),
        "quarantine_table": quarantine,
    }
    return checked.passed, summary


def _explore(
    spark: SparkSession,
    config: ProjectConfig,
    ws: Workspace,
    tracker: Tracker,
    run_id: str,
    silver: TableRef,
    quality: dict[str, Any] | None,
) -> Path:
    """Profile the silver table in Spark; the HTML report goes to the workspace and to the MLflow run."""
    from sparkwright.data import read_table
    from sparkwright.explore import profile_table, render_report, write_report

    profile = profile_table(
        read_table(spark, silver.path, silver.version),
        label=config.data.label,
        bins=config.explore.bins,
        top_values=config.explore.top_values,
        max_correlation_columns=config.explore.max_correlation_columns,
    )
    html = render_report(profile, f"{config.name}: silver v{silver.version}", quality=quality)
    path = write_report(html, ws.root / "reports" / config.name / "profile.html")
    tracker.log_artifact(run_id, path, "explore")
    tracker.log_dict(run_id, profile.to_dict(), "explore/profile.json")
    return path


def _pinned_silver(
    spark: SparkSession, config: ProjectConfig, ws: Workspace, version: int
) -> tuple[TableRef, dict[str, Any]]:
    """The silver table at ``version``, checked to exist, for a retraining on exactly that data."""
    from sparkwright.data import read_table, table_exists, table_version

    path = ws.table_path(config.name, "silver")
    if not table_exists(spark, path):
        raise DataError(
            f"--data-version {version}: project {config.name!r} has no silver table at {path}; run it once "
            "without --data-version first."
        )
    latest = table_version(spark, path)
    if not 0 <= version <= latest:
        raise DataError(f"--data-version {version}: the silver table {path} has versions 0 to {latest}.")
    rows = read_table(spark, path, version).count()
    return TableRef(path, version), {"output_rows": rows, "data_version": version}


def _preparation(spark: SparkSession, config: ProjectConfig, train: DataFrame) -> RowPreparation | None:
    """What the logged models do to source-shaped rows; None: they take silver rows (see ``for_model``)."""
    from sparkwright.data.preparation import RowPreparation

    return RowPreparation.for_model(spark, config, train.schema)


def _split(spark: SparkSession, config: ProjectConfig, silver: TableRef) -> tuple[DataFrame, DataFrame, dict]:
    from sparkwright.data import read_table
    from sparkwright.tasks import get_task

    df = read_table(spark, silver.path, silver.version)
    # Keys listed in data.drop are not in silver; the row's content then identifies it instead.
    train, test = get_task(config.task).split(config, df, config.split.test_fraction, config.split.seed)
    train, test = train.cache(), test.cache()
    counts = {"train_rows": train.count(), "test_rows": test.count()}
    if not counts["train_rows"] or not counts["test_rows"]:
        raise DataError(
            f"the split left {counts['train_rows']} training and {counts['test_rows']} test rows; "
            "the data has too few rows for split.test_fraction="
            f"{config.split.test_fraction}."
        )
    return train, test, counts
