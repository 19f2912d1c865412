"""Anomaly detection: the listed detectors and the z-score baseline, each fitted on the training split
(the label, when there is one, never seen by a fit) and measured on the test split; then the best one
scores the whole silver table and its flagged rows go to a Delta table with their keys and scores."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.config.columns import refuse_tuning
from sparkwright.errors import ConfigError
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome, check_models
from sparkwright.pipeline.results import BASELINE, ModelResult, TableRef
from sparkwright.pipeline.training import train_one

if TYPE_CHECKING:
    from sparkwright.models import FittedModel

FLAGGED_TABLE = "anomalies"


class AnomalyFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """Models that detect anomalies (at least one), no tuning or search, label-based metrics only with a label."""

        if not config.models:
            raise ConfigError(
                "task anomaly trains the models you list; add e.g. models: [{type: isolation_forest}].", "models"
            )
        check_models(config)
        refuse_tuning(config)
        unlabelled = config.task_spec.unlabelled_metric
        if not config.data.label:
            if config.metric and config.metric != unlabelled:
                raise ConfigError(
                    f"metric {config.metric!r} compares scores with known anomalies; add data.label: <column that "
                    f"marks them>, or remove metric (without a label models rank by {unlabelled}).",
                    "metric",
                )
            if config.anomaly is not None and config.anomaly.anomaly_value is not None:
                raise ConfigError(
                    "anomaly.anomaly_value names a value of data.label, which is not set; add data.label or remove it.",
                    "anomaly.anomaly_value",
                )

    def train(self, context: TrainingContext) -> TrainingOutcome:
        from sparkwright.data import feature_columns
        from sparkwright.models import fit_detector
        from sparkwright.tasks.anomaly import anomaly_classes

        config = context.config
        settings = config.anomaly_settings
        label = config.data.label
        classes = anomaly_classes(context.train, label, settings.anomaly_value) if label else None
        categorical, numeric = feature_columns(context.train, config)
        specs = [ModelSpec(type=BASELINE), *config.models]
        results: list[ModelResult] = []
        for position, spec in enumerate(specs):
            with context.stage(f"train:{spec.display_name}", f"Training {spec.display_name}"):
                started = time.perf_counter()
                fitted = fit_detector(
                    context.train,
                    spec,
                    categorical=categorical,
                    numeric=numeric,
                    impute=config.cleanse.impute,
                    contamination=settings.contamination,
                    label_col=label,
                    classes=classes,
                )
                result = train_one(
                    context.tracker,
                    context.artifacts,
                    context.experiment_id,
                    context.parent_id,
                    config,
                    spec,
                    context.train,
                    context.test,
                    context.silver,
                    preparation=context.preparation,
                    prefitted=(fitted, time.perf_counter() - started),
                    extra_params={"contamination": settings.contamination},
                )
            if not label:
                # Nothing to measure: the project file's order ranks (the baseline after every listed model).
                order = len(specs) if spec.type == BASELINE else position
                result.metrics[config.task_spec.unlabelled_metric] = float(order)
                context.tracker.log_metrics(result.run_id, {config.task_spec.unlabelled_metric: float(order)})
            results.append(result)
        tables = {}
        if settings.flagged_table:
            with context.stage("flag", "Writing the best model's flagged rows"):
                tables[FLAGGED_TABLE] = _write_flagged(context, _best(config, results))
        return TrainingOutcome(models=results, tables=tables)


def _best(config: ProjectConfig, results: list[ModelResult]) -> ModelResult:
    """The model the leaderboard ranks first (the main job ranks the same way after the flow)."""
    metric = config.selection_metric
    higher = config.task_spec.higher_is_better(metric)
    return sorted(results, key=lambda m: m.metrics[metric], reverse=higher)[0]


def _write_flagged(context: TrainingContext, best: ModelResult) -> TableRef:
    """Score every silver row with ``best`` and write the flagged ones, most anomalous first: the row keys
    (or, without keys, the whole row), the label when there is one, the score and the model that flagged it."""
    from pyspark.sql import functions as F

    from sparkwright.data import read_table, write_table
    from sparkwright.data.preparation import in_source_type
    from sparkwright.models import predict
    from sparkwright.tasks.anomaly import PREDICTION_COL, SCORE_COL

    config = context.config
    fitted: FittedModel = best.fitted
    silver = read_table(context.spark, context.silver.path, context.silver.version)
    keys = [k for k in config.data.keys if k in silver.columns] or [c for c in silver.columns]
    label = [config.data.label] if config.data.label and config.data.label not in keys else []
    flagged = (
        predict(fitted, silver)
        .where(F.col(PREDICTION_COL) == 1.0)
        .select(
            *[in_source_type(c, silver.schema) for c in [*keys, *label]], SCORE_COL, F.lit(best.name).alias("_model")
        )
        .orderBy(F.col(SCORE_COL).desc())
    )
    path = context.workspace.table_path(config.name, FLAGGED_TABLE)
    version = write_table(flagged, path, mode="overwrite", allow_schema_change=True)
    rows = read_table(context.spark, path, version).count()
    context.reporter.info(f"✓ {best.name} flagged {rows:,} silver rows (anomaly.contamination share) into {path}")
    context.tracker.log_params(context.parent_id, {"flagged_table": path, "flagged_version": version})
    return TableRef(path, version)
