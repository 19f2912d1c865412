"""Each task's training flow inside the main job, by task name (see ``flows.base.Flow``)."""

from __future__ import annotations

from sparkwright.config.tasks import TASKS as SPECS
from sparkwright.errors import ConfigError
from sparkwright.pipeline.flows.anomaly import AnomalyFlow
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome
from sparkwright.pipeline.flows.clustering import ClusteringFlow
from sparkwright.pipeline.flows.forecasting import ForecastingFlow
from sparkwright.pipeline.flows.recommendation import RecommendationFlow
from sparkwright.pipeline.flows.supervised import SupervisedFlow

FLOWS: dict[str, Flow] = {
    "regression": SupervisedFlow(),
    "classification": SupervisedFlow(),
    "clustering": ClusteringFlow(),
    "anomaly": AnomalyFlow(),
    "recommendation": RecommendationFlow(),
    "forecasting": ForecastingFlow(),
}
assert set(FLOWS) == set(SPECS), "config.tasks lists the same tasks"


def get_flow(task: str) -> Flow:
    """The training flow of ``task``."""
    try:
        return FLOWS[task]
    except KeyError:
        raise ConfigError(f"unknown task {task!r}; supported: {', '.join(sorted(FLOWS))}.", "task") from None


__all__ = ["FLOWS", "Flow", "TrainingContext", "TrainingOutcome", "get_flow"]
