"""What a machine-learning task owns beyond its project-file contract: split, baseline, metrics and plots.

The contract (metric names and directions, whether a label is needed) is ``config.tasks.TaskSpec``,
checked without Spark. A :class:`Task` adds what the main job does differently per task; the pipeline,
the model fitting, the search and the ensemble ask the task instead of testing its name. A new task is a
new module with one subclass, listed in ``sparkwright.tasks.TASKS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.config.tasks import TASKS as SPECS
from sparkwright.config.tasks import TaskSpec
from sparkwright.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    from pyspark.ml import Estimator
    from pyspark.sql import DataFrame

    from sparkwright.config import ProjectConfig
    from sparkwright.tracking import Tracker

PLOT_SAMPLE_ROWS = 5_000


@dataclass(frozen=True)
class HeldOut:
    """A fold's held-out rows as arrays: ``y`` (class index or value), the predictions, and what an
    ensemble blends (class probabilities, or the predictions themselves)."""

    y: np.ndarray
    prediction: np.ndarray
    probability: np.ndarray | None

    @property
    def blendable(self) -> np.ndarray:
        return self.probability if self.probability is not None else self.prediction


class Task(ABC):
    """One task of the project file (``task: <name>``)."""

    name: str

    @property
    def spec(self) -> TaskSpec:
        return SPECS[self.name]

    def stratify_column(self, config: ProjectConfig) -> str | None:
        """The column splits and folds keep the shares of (None: plain hashed sampling)."""
        return None

    def split(
        self, config: ProjectConfig, df: DataFrame, test_fraction: float, seed: int
    ) -> tuple[DataFrame, DataFrame]:
        """A reproducible train / test split of ``df``, keyed by the project's keys where present (keys
        listed in ``data.drop`` are not in silver: each row's content identifies it instead)."""
        from sparkwright.data import split_train_test

        keys = [k for k in config.data.keys if k in df.columns]
        return split_train_test(
            df,
            test_fraction=test_fraction,
            seed=seed,
            key_columns=keys or None,
            stratify_by=self.stratify_column(config),
        )

    def fit_settings(self, config: ProjectConfig, *, trial: bool = False) -> dict[str, Any]:
        """The task's keyword arguments of ``models.fit_model`` (``trial``: for a tuning trial's fit)."""
        return {"threshold": None}

    @abstractmethod
    def baseline(self, target: Any) -> Estimator:
        """The estimator every model must beat, writing the columns ``target`` (a ``models.Target``) names."""

    @abstractmethod
    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None) -> dict[str, float]:
        """Every metric of the task on scored rows, computed in Spark aggregations."""

    @abstractmethod
    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        """One metric from driver-side arrays (tuning trials and blends run without Spark)."""

    @abstractmethod
    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None) -> HeldOut:
        """Collect a Spark fold's scored rows (label indexed for classification) as arrays."""

    @abstractmethod
    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None) -> Any:
        """What the model run's plots need, collected once from the test predictions (bounded)."""

    @abstractmethod
    def log_plots(self, tracker: Tracker, run_id: str, name: str, sample: Any, classes: list[str] | None) -> None:
        """Log the task's plots of one model run (``sample`` from :meth:`plot_sample`)."""


def require_columns(predictions: DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the predictions; columns: {', '.join(predictions.columns)}.")
