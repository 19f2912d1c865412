"""What monitoring found: each column's drift, the model's performance over time, and the whole run.

Plain dataclasses, built from aggregates on the driver; :meth:`MonitorResult.rows` flattens a run into the
rows of the monitoring Delta table (one per column and statistic) and :meth:`MonitorResult.to_dict` into
JSON for the MLflow run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkwright.monitor.statistics import ChiSquare
    from sparkwright.monitor.thresholds import Thresholds

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FEATURE = "feature"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Bucket:
    """One bucket of a compared column: a quantile bin, a training level, or other / new / missing rows."""

    label: str
    reference: int
    current: int


@dataclass(frozen=True)
class Drift:
    """A column of the scoring data against the same column of the training rows.

    Attributes:
        name: The feature, or ``prediction`` / ``probability[<class>]``.
        kind: ``numeric`` (quantile bins of the training rows) or ``categorical`` (training levels).
        role: ``feature`` or ``prediction``.
        buckets: Reference and current counts, missing values last (their own bucket).
        edges: Numeric: the training quantiles that bound the bins (bin ``i`` holds ``edges[i-1] < x <= edges[i]``).
        psi: Population stability index over ``buckets``.
        chi_square: Categorical: the chi-square test over ``buckets``.
        null_rate_reference: Share of missing values (null, NaN, or the "missing" level) in training ...
        null_rate_current: ... and in the scoring rows.
        new_categories: Categorical: the most frequent values the training rows never had, with their counts.
        new_share: Share of the scoring rows with such a value.
        mean_reference: Numeric: mean of the present values in training ...
        mean_current: ... and in the scoring rows.
        crossed: The statistics past their threshold (``psi``, ``chi_square``, ``null_rate_change``,
            ``new_category_share``); empty when the column did not drift.
    """

    name: str
    kind: str
    role: str
    buckets: list[Bucket]
    edges: list[float]
    psi: float
    chi_square: ChiSquare | None
    null_rate_reference: float
    null_rate_current: float
    new_categories: list[tuple[str, int]] = field(default_factory=list)
    new_share: float = 0.0
    mean_reference: float | None = None
    mean_current: float | None = None
    crossed: tuple[str, ...] = ()

    @property
    def null_rate_change(self) -> float:
        return self.null_rate_current - self.null_rate_reference

    @property
    def drifted(self) -> bool:
        return bool(self.crossed)


@dataclass(frozen=True)
class Comparison:
    """Every compared column of two DataFrames, with the rows each side had."""

    reference_rows: int
    current_rows: int
    refused_rows: int
    drifts: list[Drift]


@dataclass(frozen=True)
class WindowMetrics:
    """The task's metrics on the labelled rows of one time window (``start`` None: all labelled rows).

    Attributes:
        drop: Relative worsening of the monitored metric against the training run's test value (positive: worse).
        crossed: ``drop`` is past the threshold and the window has enough rows to judge.
        note: Why a window was not judged (too few rows, or its metrics could not be computed).
    """

    start: datetime | None
    end: datetime | None
    rows: int
    metrics: dict[str, float]
    drop: float | None = None
    crossed: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Performance:
    """The model's metrics on scoring rows whose labels arrived, per time window and over all of them.

    Attributes:
        metric: The metric judged (the project's ranking metric unless another was asked for).
        higher_is_better: Its direction.
        training: The training run's test metrics, the yardstick.
        labels: The labels table; ``keys`` joined it to the scoring rows.
        time_column: The column that placed a row in a window; ``window`` the window length (e.g. ``1d``).
        labelled_rows: Scoring rows that found a label.
        omitted_windows: Older windows left out of ``windows`` (only the most recent are computed).
    """

    metric: str
    higher_is_better: bool
    training: dict[str, float]
    labels: str
    keys: list[str]
    time_column: str
    window: str
    labelled_rows: int
    overall: WindowMetrics
    windows: list[WindowMetrics]
    omitted_windows: int = 0

    @property
    def crossed(self) -> list[WindowMetrics]:
        """The windows, and the span of all labelled rows, where the metric dropped past the threshold."""
        return [w for w in [*self.windows, self.overall] if w.crossed]


@dataclass(frozen=True)
class MonitorResult:
    """One monitoring run of a model version on one input.

    Attributes:
        model_uri: ``models:/<name>/<version>``; ``training_run`` is the run that trained it.
        project: The project the model came from (it names the monitoring table's folder).
        input: The scoring data (a Delta table path or files); ``input_version`` its Delta version.
        reference_table: The silver table the model trained on, at ``reference_version``; the reference rows
            are its training split.
        current_rows: Scoring rows compared; ``refused_rows`` rows the model's preparation refused and
            ``malformed_rows`` unreadable file rows, both left out of the comparison.
        prediction_source: ``model`` (scored here) or ``input`` (the input's own ``prediction`` column).
        run_id, report, results_table, results_version: Where the outputs went.
    """

    model_uri: str
    model_name: str
    model_version: str
    training_run: str
    project: str
    task: str
    input: str
    input_version: int | None
    reference_table: str
    reference_version: int
    reference_rows: int
    current_rows: int
    refused_rows: int
    malformed_rows: int
    features: list[Drift]
    predictions: list[Drift]
    prediction_source: str
    performance: Performance | None
    thresholds: Thresholds
    started: datetime
    run_id: str | None = None
    report: Path | None = None
    results_table: str | None = None
    results_version: int | None = None

    @property
    def drifted_features(self) -> list[Drift]:
        return [d for d in self.features if d.drifted]

    @property
    def alerts(self) -> list[str]:
        """One line per threshold crossed; empty when nothing was."""
        columns = [*self.features, *self.predictions]
        lines = [f"{_title(d)}: {_describe(d, self.thresholds)}" for d in columns if d.drifted]
        if self.performance is not None:
            p = self.performance
            for w in p.crossed:
                where = (
                    f"over all {w.rows:,} labelled rows"
                    if w.start is None
                    else f"in the window from {w.start:%Y-%m-%d %H:%M}"
                )
                lines.append(
                    f"{p.metric} {w.metrics[p.metric]:.4g} {where} is {w.drop:.1%} worse than in training "
                    f"({p.training[p.metric]:.4g}; threshold {self.thresholds.metric_drop:.0%})"
                )
        return lines

    @property
    def crossed(self) -> bool:
        return bool(self.alerts)

    def rows(self) -> list[dict[str, Any]]:
        """The monitoring table's rows of this run: one per column (or window) and statistic."""
        t = self.thresholds
        base = {
            "monitored_at": self.started,
            "run_id": self.run_id,
            "model_name": self.model_name,
            "model_version": int(self.model_version),
            "input": self.input,
            "input_version": self.input_version,
            "reference_version": self.reference_version,
        }
        out: list[dict[str, Any]] = []

        def add(
            column: str,
            role: str,
            statistic: str,
            value: float | None,
            threshold: float | None = None,
            crossed: bool | None = None,
            **extra: Any,
        ) -> None:
            out.append(
                {
                    **base,
                    "column": column,
                    "role": role,
                    "statistic": statistic,
                    "value": _finite(value),
                    "threshold": _finite(threshold),
                    "crossed": crossed,
                    "window_start": None,
                    "window_end": None,
                    "rows": None,
                    **extra,
                }
            )

        add("", "input", "reference_rows", self.reference_rows, rows=self.reference_rows)
        add("", "input", "current_rows", self.current_rows, rows=self.current_rows)
        add("", "input", "refused_rows", self.refused_rows, rows=self.refused_rows)
        add("", "input", "malformed_rows", self.malformed_rows, rows=self.malformed_rows)
        for d in [*self.features, *self.predictions]:
            add(d.name, d.role, "psi", d.psi, threshold=t.psi, crossed="psi" in d.crossed)
            add(d.name, d.role, "null_rate_reference", d.null_rate_reference)
            add(d.name, d.role, "null_rate_current", d.null_rate_current)
            add(
                d.name,
                d.role,
                "null_rate_change",
                d.null_rate_change,
                threshold=t.null_rate_change,
                crossed="null_rate_change" in d.crossed,
            )
            if d.chi_square is not None:
                crossed = "chi_square" in d.crossed
                add(d.name, d.role, "chi_square_p_value", d.chi_square.p_value, threshold=t.p_value, crossed=crossed)
                add(d.name, d.role, "cramers_v", d.chi_square.effect, threshold=t.min_effect, crossed=crossed)
            if d.kind == CATEGORICAL:
                crossed = "new_category_share" in d.crossed
                add(d.name, d.role, "new_category_share", d.new_share, threshold=t.new_category_share, crossed=crossed)
        if self.performance is not None:
            p = self.performance
            for w in [p.overall, *p.windows]:
                span = {"window_start": w.start, "window_end": w.end, "rows": w.rows}
                for name, value in w.metrics.items():
                    judged = name == p.metric
                    add(
                        name,
                        "metric",
                        name,
                        value,
                        threshold=t.metric_drop if judged else None,
                        crossed=w.crossed if judged else None,
                        **span,
                    )
                if w.drop is not None:
                    add(
                        p.metric,
                        "metric",
                        f"{p.metric}_drop",
                        w.drop,
                        threshold=t.metric_drop,
                        crossed=w.crossed,
                        **span,
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO text, NaN as None)."""
        return _jsonable(asdict(self))


def _title(d: Drift) -> str:
    """``feature lead_time``; a prediction column by its own name (``prediction``, ``probability[Yes]``)."""
    return f"feature {d.name}" if d.role == FEATURE else d.name


def _describe(d: Drift, t: Thresholds) -> str:
    parts = []
    if "psi" in d.crossed:
        parts.append(f"PSI {d.psi:.3f} >= {t.psi}")
    if "chi_square" in d.crossed and d.chi_square is not None:
        parts.append(f"chi-square p {d.chi_square.p_value:.2g} < {t.p_value} with Cramér's V {d.chi_square.effect:.3f}")
    if "null_rate_change" in d.crossed:
        parts.append(f"missing {d.null_rate_reference:.1%} -> {d.null_rate_current:.1%}")
    if "new_category_share" in d.crossed:
        shown = ", ".join(repr(v) for v, _ in d.new_categories[:3])
        parts.append(f"{d.new_share:.1%} of rows have categories unseen in training ({shown})")
    return "; ".join(parts)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
