"""The tasks of the project file, each one module owning its split, baseline, metrics and plots.

``get_task(config.task)`` is how the rest of sparkwright does what differs per task; the JVM-free
contract of each task (metric names and directions) is ``config.tasks``.
"""

from __future__ import annotations

from sparkwright.config.tasks import TASKS as SPECS
from sparkwright.errors import ConfigError
from sparkwright.tasks.anomaly import AnomalyTask
from sparkwright.tasks.base import HeldOut, Task
from sparkwright.tasks.classification import ClassificationTask
from sparkwright.tasks.clustering import ClusteringTask
from sparkwright.tasks.forecasting import ForecastingTask
from sparkwright.tasks.recommendation import RecommendationTask
from sparkwright.tasks.regression import RegressionTask

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        RegressionTask(),
        ClassificationTask(),
        ClusteringTask(),
        AnomalyTask(),
        RecommendationTask(),
        ForecastingTask(),
    )
}
assert set(TASKS) == set(SPECS), "config.tasks lists the same tasks"


def get_task(name: str) -> Task:
    """The task ``name`` (``regression``, ``classification``)."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; supported: {', '.join(sorted(TASKS))}.", "task") from None


__all__ = ["TASKS", "HeldOut", "Task", "get_task"]
