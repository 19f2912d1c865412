"""What the main job returns: tables with their Delta versions, one result per model, the leaderboard."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.tracking import model_uri

if TYPE_CHECKING:
    from sparkwright.data import IngestResult
    from sparkwright.models import FittedModel
    from sparkwright.pipeline.search import SearchOutcome
    from sparkwright.pipeline.tuning import TuningResult

BASELINE = "baseline"


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
    threshold: float | None = None
    # The fitted pipeline, kept for the run's ensemble; not part of the leaderboard.
    fitted: FittedModel | None = field(default=None, repr=False, compare=False)


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
    ingest: IngestResult | None
    cleanse_report: dict[str, Any]
    models: list[ModelResult]
    registered_model: str | None = None
    registered_version: str | None = None
    promoted: bool = False
    report_path: Path | None = None
    # The run's one-page HTML summary (leaderboard, plots, registered version), also in the MLflow run.
    summary_path: Path | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    tuning: list[TuningResult] = field(default_factory=list)
    search: SearchOutcome | None = None
    # (metric, higher is better) of the "vs_baseline" column when it is not the ranking metric.
    gain: tuple[str, bool] | None = None

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
        """Rows best first, each with its metrics and its relative gain over the baseline on the ranking metric
        (or the task's ``gain`` metric: for clustering, the share of the total sum of squares explained)."""
        metric, higher = self.gain or (self.metric, self.higher_is_better)
        base = self.baseline.metrics[metric]
        rows = []
        for rank, model in enumerate(self.models, start=1):
            value = model.metrics[metric]
            gain = (value - base) if higher else (base - value)
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

    def tuning_leaderboard(self) -> list[dict[str, Any]]:
        """Every tuning trial of every model, best cross-validated score first (failed trials last)."""
        rows = [row for tuned in self.tuning for row in tuned.rows]
        ok = [r for r in rows if r["score"] is not None]
        ok.sort(key=lambda r: r["score"], reverse=self.higher_is_better)
        return [{"rank": i, **r} for i, r in enumerate(ok, start=1)] + [r for r in rows if r["score"] is None]


def lineage_params(tables: dict[str, TableRef]) -> dict[str, Any]:
    """``<table>_table`` and ``<table>_version`` params: where a run's data came from, exactly."""
    params: dict[str, Any] = {}
    for name, ref in tables.items():
        params[f"{name}_table"] = ref.path
        params[f"{name}_version"] = ref.version
    return params
