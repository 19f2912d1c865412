"""Where a monitoring run's results go: an MLflow run, the monitoring Delta table, the HTML report.

The MLflow run lives in the model's experiment, tagged with the model name and version it watched; the
model version is tagged back with its latest monitoring run. The Delta table gets one appended commit
per run (Delta commits are atomic: a failed or concurrent run never leaves half its rows), so the table
holds every run's statistics over time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

    from sparkwright.monitor.results import MonitorResult
    from sparkwright.tracking import Tracker

# Tags on the model version: its latest monitoring run, whether it crossed a threshold, and when.
LAST_RUN_TAG = "sparkwright.monitor.last_run"
LAST_STATUS_TAG = "sparkwright.monitor.last_status"
LAST_TIME_TAG = "sparkwright.monitor.last_time"


def record(
    tracker: Tracker,
    spark: SparkSession,
    result: MonitorResult,
    table: str,
    report: Path | None,
    report_folder: Path,
) -> MonitorResult:
    """Write every output of ``result`` and return it with their locations filled in.

    Args:
        tracker: The model's MLflow store.
        spark: For the Delta append.
        result: What monitoring found.
        table: The monitoring Delta table (created by the first run).
        report: The report's path; None: ``report_folder/monitor-<UTC time>-<run id>.html``.
        report_folder: Where reports go by default.
    """
    from sparkwright.data import write_table
    from sparkwright.explore import write_report
    from sparkwright.monitor.report import render_monitor_report

    info = tracker.client.get_run(result.training_run).info
    status = "crossed" if result.crossed else "ok"
    tags = {
        "sparkwright.monitor.model": result.model_name,
        "sparkwright.monitor.model_version": result.model_version,
        "sparkwright.monitor.model_uri": result.model_uri,
        "sparkwright.monitor.training_run": result.training_run,
        "sparkwright.monitor.status": status,
    }
    name = f"monitor-{result.model_name}-v{result.model_version}"
    with tracker.run(info.experiment_id, name, tags=tags) as run_id:
        path = report or report_folder / f"monitor-{result.started:%Y%m%dT%H%M%SZ}-{run_id[:8]}.html"
        result = replace(result, run_id=run_id, report=path, results_table=table)
        rows = spark.createDataFrame(result.rows(), schema=results_schema())
        result = replace(result, results_version=write_table(rows, table, mode="append"))
        write_report(render_monitor_report(result), path)
        tracker.log_params(run_id, _params(result))
        tracker.log_metrics(run_id, _metrics(result))
        if result.performance is not None:
            for step, window in enumerate(result.performance.windows):
                tracker.log_metrics(run_id, {f"window.{k}": v for k, v in window.metrics.items()}, step=step)
        tracker.log_dict(run_id, result.to_dict(), "monitor.json")
        tracker.log_artifact(run_id, path, "monitor")
        client = tracker.client
        for tag, value in ((LAST_RUN_TAG, run_id), (LAST_STATUS_TAG, status), (LAST_TIME_TAG, _iso(result.started))):
            client.set_model_version_tag(result.model_name, result.model_version, tag, value)
    return result


def results_schema() -> StructType:
    """The monitoring table: one row per run, column (or window) and statistic (every field nullable, so a
    later sparkwright may add statistics without a NOT NULL constraint in the way)."""
    from pyspark.sql.types import (
        BooleanType,
        DoubleType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    return StructType(
        [
            StructField("monitored_at", TimestampType()),
            StructField("run_id", StringType()),
            StructField("model_name", StringType()),
            StructField("model_version", IntegerType()),
            StructField("input", StringType()),
            StructField("input_version", LongType()),
            StructField("reference_version", LongType()),
            StructField("column", StringType()),
            StructField("role", StringType()),
            StructField("statistic", StringType()),
            StructField("value", DoubleType()),
            StructField("threshold", DoubleType()),
            StructField("crossed", BooleanType()),
            StructField("window_start", TimestampType()),
            StructField("window_end", TimestampType()),
            StructField("rows", LongType()),
        ]
    )


def _params(result: MonitorResult) -> dict[str, Any]:
    t = result.thresholds
    params: dict[str, Any] = {
        "model_uri": result.model_uri,
        "input": result.input,
        "input_version": result.input_version,
        "reference_table": result.reference_table,
        "reference_version": result.reference_version,
        "prediction_source": result.prediction_source,
        "results_table": result.results_table,
        **{f"threshold_{k}": getattr(t, k) for k in t.__dataclass_fields__},
    }
    if result.performance is not None:
        p = result.performance
        params.update(
            labels=p.labels, keys=",".join(p.keys), time_column=p.time_column, window=p.window, metric=p.metric
        )
    return params


def _metrics(result: MonitorResult) -> dict[str, float]:
    metrics: dict[str, float] = {
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "refused_rows": result.refused_rows,
        "malformed_rows": result.malformed_rows,
        "drifted_features": len(result.drifted_features),
        "thresholds_crossed": len(result.alerts),
    }
    for d in [*result.features, *result.predictions]:
        name = _metric_name(d.name)
        metrics[f"psi.{name}"] = d.psi
        metrics[f"null_rate_change.{name}"] = d.null_rate_change
        if d.chi_square is not None:
            metrics[f"chi_square_p.{name}"] = d.chi_square.p_value
            metrics[f"cramers_v.{name}"] = d.chi_square.effect
            metrics[f"new_category_share.{name}"] = d.new_share
    if result.performance is not None:
        p = result.performance
        metrics["labelled_rows"] = p.labelled_rows
        metrics.update({f"labelled.{k}": v for k, v in p.overall.metrics.items()})
        metrics["windows_crossed"] = len(p.crossed)
    return metrics


def _metric_name(name: str) -> str:
    """MLflow metric names take letters, digits, ``_ - . /`` and spaces."""
    return re.sub(r"[^\w\-./ ]", "_", name)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
