"""The model's metrics once labels arrive: scoring rows joined to a labels table, per time window.

Each window's metrics are the task's own (``Task.metrics``, computed in Spark aggregations), compared with
the training run's test metrics. Only the labelled rows are kept (cached) while the windows are computed;
the driver receives one row per window and the metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sparkwright.errors import DataError
from sparkwright.monitor.results import Performance, WindowMetrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.monitor.thresholds import Thresholds
    from sparkwright.tasks import Task

# Windows computed, most recent first; older ones are counted in Performance.omitted_windows.
MAX_WINDOWS = 60
PREDICTION_COL = "prediction"
PROBABILITY_COL = "probability"
_WINDOW_COL = "__sw_window"


def performance_over_time(
    scored: DataFrame,
    labels: DataFrame,
    *,
    labels_name: str,
    keys: list[str],
    label_col: str,
    time_column: str,
    window: str,
    task: Task,
    classes: list[str] | None,
    training: dict[str, float],
    metric: str,
    thresholds: Thresholds,
) -> Performance:
    """The task's metrics of ``scored`` rows that have a label, per ``window`` of ``time_column``.

    Args:
        scored: Scoring rows with ``prediction`` (and a ``probability`` array or vector for classifiers).
        labels: Rows with ``keys`` and ``label_col``: the outcomes that arrived.
        labels_name: How to name ``labels`` in messages and results.
        keys: Columns that identify a row in both tables.
        label_col: The label, named as in training.
        time_column: A timestamp (or date) column of ``scored`` or, failing that, of ``labels``.
        window: Window length as Spark reads it (``1 day``; see ``thresholds.window_duration``).
        task: The model's task; its metrics are computed per window.
        classes: Classification: the classes in probability order.
        training: The training run's test metrics.
        metric: The metric judged against ``training``.
        thresholds: When a worse metric counts.

    Raises:
        DataError: A key, the label or the time column is missing, the labels table has several rows for one
            key, or the metric is not one the training run has.
    """
    _check(scored, labels, labels_name, keys, label_col, time_column, training, metric)
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    outputs = [c for c in (PREDICTION_COL, PROBABILITY_COL) if c in scored.columns]
    time_side = scored if time_column in scored.columns else labels
    left = scored.select(*keys, *outputs, *([time_column] if time_side is scored else []))
    right = labels.where(F.col(_quote(label_col)).isNotNull()).select(
        *keys, label_col, *([time_column] if time_side is labels else [])
    )
    joined = left.join(right, on=keys, how="inner")
    if PROBABILITY_COL in outputs and isinstance(scored.schema[PROBABILITY_COL].dataType, ArrayType):
        joined = joined.withColumn(PROBABILITY_COL, array_to_vector(PROBABILITY_COL))
    joined = joined.withColumn("__sw_span", F.window(F.col(_quote(time_column)).cast("timestamp"), window))
    joined = joined.select(
        "*",
        F.col("__sw_span.start").cast("long").alias(_WINDOW_COL),
        F.col("__sw_span.end").cast("long").alias("__sw_end"),
    ).cache()
    try:
        spans = joined.groupBy(_WINDOW_COL, "__sw_end").count().orderBy(F.desc(_WINDOW_COL)).collect()
        labelled = sum(row["count"] for row in spans)
        higher = task.spec.higher_is_better(metric)

        def judged(rows: DataFrame, count: int, start: int | None = None, end: int | None = None) -> WindowMetrics:
            start, end = _time(start), _time(end)
            try:
                values = task.metrics(rows, label_col, classes)
            except DataError as exc:
                return WindowMetrics(start, end, count, {}, note=f"metrics not computed: {exc}")
            drop = _drop(values[metric], training[metric], higher)
            note = None if count >= thresholds.min_window_rows else f"fewer than {thresholds.min_window_rows} rows"
            return WindowMetrics(start, end, count, values, drop, thresholds.metric_crossed(drop, count), note)

        overall = judged(joined, labelled) if labelled else WindowMetrics(None, None, 0, {}, note="no labelled rows")
        windows = [
            judged(
                joined.where(F.col(_WINDOW_COL) == row[_WINDOW_COL]), row["count"], row[_WINDOW_COL], row["__sw_end"]
            )
            for row in spans[:MAX_WINDOWS]
        ]
    finally:
        joined.unpersist()
    return Performance(
        metric=metric,
        higher_is_better=higher,
        training=dict(training),
        labels=labels_name,
        keys=list(keys),
        time_column=time_column,
        window=window,
        labelled_rows=labelled,
        overall=overall,
        windows=windows[::-1],
        omitted_windows=max(len(spans) - MAX_WINDOWS, 0),
    )


def _check(
    scored: DataFrame,
    labels: DataFrame,
    labels_name: str,
    keys: list[str],
    label_col: str,
    time_column: str,
    training: dict[str, float],
    metric: str,
) -> None:
    """Every column the join needs is there, the metric has a training value, and each key has one label."""
    if not keys:
        raise DataError("joining labels needs key columns: give --on key1,key2 (columns of both tables).")
    for side, df, wanted in (("scoring rows", scored, keys), ("labels table", labels, [*keys, label_col])):
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise DataError(
                f"the {side} ({labels_name if side == 'labels table' else 'input'}) lack columns {missing}; "
                f"they have {', '.join(df.columns)}."
                + (" The labels table needs the label named as in training." if label_col in missing else "")
            )
    if time_column not in scored.columns and time_column not in labels.columns:
        raise DataError(
            f"neither the input nor {labels_name} has the time column {time_column!r}; name one with --time-column "
            "(scored tables have _scored_at)."
        )
    if metric not in training:
        raise DataError(
            f"the training run has no test metric {metric!r} to compare with; it has {', '.join(sorted(training))}."
        )
    _require_unique_keys(labels, keys, labels_name)


def _require_unique_keys(labels: DataFrame, keys: list[str], name: str) -> None:
    """One label per key: a duplicated key would count its scoring row twice."""
    from sparkwright.data.lake import duplicated_keys

    examples = duplicated_keys(labels, keys)
    if examples:
        raise DataError(
            f"the labels table {name} has several rows for one key ({', '.join(keys)}), e.g. {examples}; "
            "keep one label per key, or add columns to --on."
        )


def _time(epoch_seconds: int | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(epoch_seconds, UTC)


def _drop(value: float, training: float, higher_is_better: bool) -> float:
    """How much worse ``value`` is than ``training``, relative to it (absolute when training is 0)."""
    worse = (training - value) if higher_is_better else (value - training)
    return worse / abs(training) if training else worse


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
