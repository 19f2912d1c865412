"""``monitor_model``: a registered model's scoring data against the exact rows it trained on.

The model's run names its training data (``silver_table`` at ``silver_version``) and its project file;
the reference rows are that table version's training split, made again with the run's own split. The
scoring rows go through the model's preparation (raw-shaped rows become the silver columns the model
learned from), so both sides are compared column by column in the same shape. Rows the preparation
refuses are counted, not compared.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.errors import ConfigError, ModelError
from sparkwright.monitor.drift import compare
from sparkwright.monitor.results import CATEGORICAL, NUMERIC, PREDICTION, MonitorResult
from sparkwright.monitor.thresholds import Thresholds, window_duration

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkwright.config import ProjectConfig
    from sparkwright.data.preparation import RowPreparation
    from sparkwright.deploy.batch import LoadedModel
    from sparkwright.monitor.results import Performance
    from sparkwright.registry import Registry

DEFAULT_TIME_COLUMN = "_scored_at"


def monitor_model(
    model: str,
    input: str,
    *,
    spark: SparkSession | None = None,
    workspace: str | os.PathLike[str] | None = None,
    labels: str | None = None,
    on: Sequence[str] = (),
    time_column: str = DEFAULT_TIME_COLUMN,
    window: str = "1d",
    metric: str | None = None,
    thresholds: Thresholds | None = None,
    bins: int = 10,
    max_levels: int = 50,
    report: str | os.PathLike[str] | None = None,
    results_table: str | None = None,
) -> MonitorResult:
    """Compare the scoring data of a registered model with its training data, and write the outputs.

    Per feature: PSI on the training quantile bins (numerics) or levels (categoricals), a chi-square test
    (categoricals), the change of the missing share, categories new to the model; the same for the
    predictions; with ``labels``, the task's metrics per time window against the training run's test
    metrics. The outputs: an MLflow run in the model's experiment (tagged with the model version, which
    is tagged back), one appended commit of the monitoring Delta table, and a self-contained HTML report.

    Example:
        >>> result = monitor_model("models:/hotel-rates@champion", "lake/hotel-rates/scored")
        >>> result.crossed, result.alerts, result.report

    Args:
        model: ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or a name (its latest version).
        input: The scoring data: a Delta table path (raw or silver rows, or a table ``sparkwright predict``
            wrote, whose ``prediction`` column is then used), or csv / parquet / json files.
        spark: The session (default: the active one, or a local one).
        workspace: Where the model registry lives and the outputs go (default: ``SPARKWRIGHT_WORKSPACE``).
        labels: A Delta table of outcomes (the label named as in training) joined to the input on ``on``.
        on: The key columns of that join.
        time_column: The column that places a labelled row in a window (from the input, else the labels).
        window: The window length, e.g. ``1d``, ``7d``, ``12h``.
        metric: The metric judged in each window (default: the project's ranking metric).
        thresholds: When a statistic counts as drift (default: :class:`Thresholds`).
        bins: Quantile bins per numeric column.
        max_levels: Training levels per categorical column with a bucket of their own.
        report: The HTML report's path (default ``<workspace>/reports/<model>/monitor-<time>-<run>.html``).
        results_table: The monitoring Delta table (default ``<workspace>/lake/<project>/monitoring``).

    Returns:
        The comparison and where its outputs went; ``result.crossed`` says whether a threshold was crossed.

    Raises:
        ConfigError: An invalid threshold, window or option combination.
        ModelError: Unknown model, or one without the training lineage of ``sparkwright run``.
        DataError: An unusable input or labels table (missing, lacking the model's columns, no rows).
    """
    thresholds = (thresholds or Thresholds()).check()
    spark_window = window_duration(window)
    if labels is not None and not on:
        raise ConfigError("labels need keys: give --on (on=[...]), the columns that join them to the input rows.")
    if on and labels is None:
        raise ConfigError("--on (on=) names the keys of a labels table; give the table with --labels (labels=).")
    started = datetime.now(UTC)
    from sparkwright.monitor.record import record
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(workspace)
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    if spark is None:  # before the model loads: loading a Spark model needs a session
        from sparkwright.session import get_session

        spark = get_session()
    job = _Job.load(registry, model, spark)
    scoring = job.read_input(input)
    # Labels first: a labels table that cannot be joined fails before the longer drift passes.
    performance = (
        job.performance(scoring, labels, list(on), time_column, spark_window, metric, thresholds)
        if labels is not None
        else None
    )
    result = replace(job.compare(scoring, started, thresholds, bins, max_levels), performance=performance)
    table = results_table or ws.table_path(job.config.name, "monitoring")
    folder = ws.root / "reports" / job.loaded.info.name
    return record(registry.tracker, job.spark, result, table, Path(report) if report else None, folder)


@dataclass(frozen=True)
class _Scoring:
    """The input as read once: its rows with predictions, where they came from, and its identity."""

    rows: DataFrame
    prediction_source: str
    input_id: str
    input_version: int | None
    malformed: int


@dataclass(frozen=True)
class _Job:
    """A model version with everything its monitoring reads: the pipeline, the project, the training rows."""

    spark: SparkSession
    loaded: LoadedModel
    config: ProjectConfig
    preparation: RowPreparation | None
    silver_table: str
    silver_version: int

    @classmethod
    def load(cls, registry: Registry, model: str, spark: SparkSession) -> _Job:
        from sparkwright.data.preparation import preparation_of
        from sparkwright.deploy.batch import load_spark_model

        loaded = load_spark_model(registry, model)
        info = loaded.info
        table, version = info.params.get("silver_table"), info.params.get("silver_version")
        if not table or version is None or not info.run_id:
            raise ModelError(
                f"{loaded.uri} has no training-data lineage (run params silver_table and silver_version); "
                "monitoring compares with the exact training rows, so it takes models trained by `sparkwright run`."
            )
        config = _project_of(registry, info.run_id, loaded.uri)
        return cls(spark, loaded, config, preparation_of(loaded.pipeline), table, int(version))

    @property
    def classes(self) -> list[str]:
        """A classifier's classes in probability order (the run's ``classes`` param); empty for regression."""
        return [c for c in self.loaded.info.params.get("classes", "").split(",") if c]

    # ---- the two sides -----------------------------------------------------------------------------------

    def read_input(self, source: str) -> _Scoring:
        """The input (a Delta table at its current version, or files) as silver columns with predictions.

        A table ``sparkwright predict`` wrote keeps its own ``prediction`` column; other rows are scored here.
        """
        from sparkwright.data import read_table, table_exists, table_version
        from sparkwright.deploy.batch import check_input_columns, read_input

        if table_exists(self.spark, source):
            version = table_version(self.spark, source)
            rows, input_id, malformed = read_table(self.spark, source, version), source, 0
        else:
            rows, rejected, input_id = read_input(self.spark, source, self.loaded.inputs)
            version, malformed = None, (rejected.count() if rejected is not None else 0)
        # Only the model's own columns are checked: a scored table also has prediction, _input, ...
        check_input_columns(self.loaded, [c for c in rows.columns if c in self.loaded.inputs])
        if "prediction" in rows.columns:
            prepared = self.preparation.apply(rows) if self.preparation else rows
            return _Scoring(prepared, "input", input_id, version, malformed)
        return _Scoring(self.loaded.pipeline.transform(rows), "model", input_id, version, malformed)

    def reference(self) -> DataFrame:
        """The training split of the silver table at the trained-on version, scored by the model."""
        from sparkwright.data import read_table
        from sparkwright.tasks import get_task

        silver = read_table(self.spark, self.silver_table, self.silver_version)
        config = self.config
        train, _ = get_task(config.task).split(config, silver, config.split.test_fraction, config.split.seed)
        return self._silver_model().transform(train)

    def _silver_model(self) -> Any:
        """The model without its row preparation: training rows are already silver-shaped."""
        if self.preparation is None:
            return self.loaded.pipeline
        from pyspark.ml import PipelineModel

        from sparkwright.data.preparation import RejectedRows

        stages = self.loaded.pipeline.stages
        if not isinstance(stages[-1], RejectedRows):
            raise ModelError(f"{self.loaded.uri} prepares rows but does not end with RejectedRows; retrain it.")
        return PipelineModel(stages=stages[1:-1])

    def features(self) -> tuple[list[str], list[str]]:
        """The model's input features (numeric, categorical) as its silver columns name them, indicators left out."""
        if self.preparation is not None:
            numeric = [c.name for c in self.preparation.columns if not c.categorical]
            categorical = [c.name for c in self.preparation.columns if c.categorical]
            return numeric, categorical
        from sparkwright.data.preparation import MISSING_SUFFIX

        params = self.loaded.info.params
        categorical = [c for c in params.get("categorical_features", "").split(",") if c]
        numeric = [c for c in params.get("numeric_features", "").split(",") if c]
        named = set(numeric) | set(categorical)
        indicators = {c for c in numeric if c.endswith(MISSING_SUFFIX) and c.removesuffix(MISSING_SUFFIX) in named}
        return [c for c in numeric if c not in indicators], categorical

    def prediction_columns(self, scored: DataFrame) -> dict[str, tuple[str, Column]]:
        """The compared prediction columns of ``scored`` by display name, each with its kind: a regression's
        prediction (numeric); a classifier's predicted class, and a binary one's positive-class probability."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType

        if self.config.task != "classification":
            return {"prediction": (NUMERIC, F.col("prediction"))}
        columns = {"prediction": (CATEGORICAL, F.col("prediction"))}
        if len(self.classes) == 2 and "probability" in scored.columns:
            probability = F.col("probability")
            if not isinstance(scored.schema["probability"].dataType, ArrayType):  # a model's output: a vector
                probability = vector_to_array(probability)
            columns[f"probability[{self.classes[1]}]"] = (NUMERIC, probability[1])
        return columns

    # ---- the comparisons ---------------------------------------------------------------------------------

    def compare(
        self, scoring: _Scoring, started: datetime, thresholds: Thresholds, bins: int, max_levels: int
    ) -> MonitorResult:
        """Every feature and prediction column of the input against the training rows, judged by ``thresholds``."""
        from sparkwright.data.preparation import REASON_COL

        numeric, categorical = self.features()
        reference, current = self.reference(), scoring.rows
        # A scored input's probability is an array, the model's a vector: each side gets its own expression.
        ours, theirs = self.prediction_columns(reference), self.prediction_columns(current)
        predicted = [name for name in ours if name in theirs]
        # Prediction columns get internal names: a feature may be called "prediction" too.
        internal = {name: f"__sw_monitor_{i}" for i, name in enumerate(predicted)}
        refused = [REASON_COL] if REASON_COL in current.columns else []
        features = _columns([*numeric, *categorical])
        prepared = self.preparation
        missing_level = prepared.missing_level if prepared else self.config.cleanse.categorical_missing
        compared = compare(
            reference.select(*features, *(ours[n][1].alias(internal[n]) for n in predicted)),
            current.select(*features, *(theirs[n][1].alias(internal[n]) for n in predicted), *refused),
            numeric=[*numeric, *(internal[n] for n in predicted if ours[n][0] == NUMERIC)],
            categorical=[*categorical, *(internal[n] for n in predicted if ours[n][0] == CATEGORICAL)],
            bins=bins,
            max_levels=max_levels,
            missing_level=missing_level,
            refused=REASON_COL,
        )
        shown = {column: name for name, column in internal.items()}
        drifts = [replace(d, crossed=thresholds.drift_crossed(d)) for d in compared.drifts]
        info = self.loaded.info
        return MonitorResult(
            model_uri=self.loaded.uri,
            model_name=info.name,
            model_version=info.version,
            training_run=info.run_id or "",
            project=self.config.name,
            task=self.config.task,
            input=scoring.input_id,
            input_version=scoring.input_version,
            reference_table=self.silver_table,
            reference_version=self.silver_version,
            reference_rows=compared.reference_rows,
            current_rows=compared.current_rows,
            refused_rows=compared.refused_rows,
            malformed_rows=scoring.malformed,
            features=[d for d in drifts if d.name not in shown],
            predictions=[replace(d, name=shown[d.name], role=PREDICTION) for d in drifts if d.name in shown],
            prediction_source=scoring.prediction_source,
            performance=None,
            thresholds=thresholds,
            started=started,
        )

    def performance(
        self,
        scoring: _Scoring,
        labels: str,
        keys: list[str],
        time_column: str,
        window: str,
        metric: str | None,
        thresholds: Thresholds,
    ) -> Performance:
        """The task's metrics of the labelled input rows per window, against the training run's test metrics."""
        from pyspark.sql import functions as F

        from sparkwright.data import read_table
        from sparkwright.data.preparation import REASON_COL
        from sparkwright.monitor.performance import performance_over_time
        from sparkwright.tasks import get_task

        task = get_task(self.config.task)
        metric = metric or self.config.selection_metric
        if metric not in task.spec.metrics:
            raise ConfigError(
                f"--metric {metric!r} is not a {task.name} metric; choose one of {', '.join(task.spec.metrics)}."
            )
        scored = scoring.rows
        if REASON_COL in scored.columns:
            scored = scored.where(F.col(REASON_COL).isNull())
        label = self.config.data.label or ""
        training = {m: v for m, v in self.loaded.info.metrics.items() if m in task.spec.metrics}
        return performance_over_time(
            scored.drop(label),  # a scored copy of the training data may carry the label: the labels table's wins
            read_table(self.spark, labels),
            labels_name=labels,
            keys=keys,
            label_col=label,
            time_column=time_column,
            window=window,
            task=task,
            classes=self.classes or None,
            training=training,
            metric=metric,
            thresholds=thresholds,
        )


def _project_of(registry: Any, run_id: str, uri: str) -> ProjectConfig:
    """The project file the model's run logged (``project.yaml``), validated again."""
    import yaml
    from mlflow.exceptions import MlflowException

    from sparkwright.config import parse_project
    from sparkwright.scratch import scratch_dir

    try:
        local = registry.tracker.client.download_artifacts(run_id, "project.yaml", str(scratch_dir("sparkwright-")))
    except (MlflowException, OSError) as exc:
        raise ModelError(
            f"the run {run_id} of {uri} has no project.yaml artifact; monitoring re-creates the training split "
            "from the project file, so it takes models trained by `sparkwright run`."
        ) from exc
    return parse_project(yaml.safe_load(Path(local).read_text(encoding="utf-8")))


def _columns(names: list[str]) -> list[Any]:
    from pyspark.sql import functions as F

    return [F.col("`" + n.replace("`", "``") + "`") for n in names]
