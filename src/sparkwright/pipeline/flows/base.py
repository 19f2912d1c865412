"""What the main job hands a task's training flow, and what the flow hands back.

The main job is the same for every task up to the split (ingest, cleanse, explore, split) and after the
models (leaderboard, registry, report). What happens in between (which models, how they are tuned,
what each is scored on, which extra tables and plots come out) is the task's :class:`Flow`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkwright.config import ProjectConfig
    from sparkwright.data.preparation import RowPreparation
    from sparkwright.pipeline.artifacts import ArtifactWriter
    from sparkwright.pipeline.results import ModelResult, TableRef
    from sparkwright.pipeline.search import SearchOutcome
    from sparkwright.pipeline.tuning import TuningResult
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace


@dataclass
class TrainingContext:
    """Everything a flow may use: the run's tracking, its data and how to report progress.

    Attributes:
        stage: ``stage(name, description)``, a context manager that shows a spinner and times the stage.
        spark_stage: The same for Spark work of a known size: the CLI shows its Spark tasks done / planned and
            an ETA instead of a spinner.
        reporter: The run's progress reporter (progress bars for searches, one-line notes).
        timings: Stage name -> seconds; a flow adds what ``stage`` does not time (a search's own seconds).
        preparation: What the logged models do to source-shaped rows (None: they take silver rows).
        report_path: The run's HTML report, written before training (None: explore is off); a flow may add
            a section to it.
    """

    spark: SparkSession
    config: ProjectConfig
    workspace: Workspace
    tracker: Tracker
    artifacts: ArtifactWriter
    experiment_id: str
    parent_id: str
    train: DataFrame
    test: DataFrame
    silver: TableRef
    preparation: RowPreparation | None
    stage: Callable[[str, str], AbstractContextManager[None]]
    spark_stage: Callable[[str, str], AbstractContextManager[None]]
    reporter: Any
    timings: dict[str, float]
    report_path: Path | None = None


@dataclass
class TrainingOutcome:
    """The models a flow trained (the baseline among them), ranked later by the task's metric, and what
    else it found or wrote."""

    models: list[ModelResult]
    tuning: list[TuningResult] = field(default_factory=list)
    search: SearchOutcome | None = None
    tables: dict[str, TableRef] = field(default_factory=dict)


class Flow(ABC):
    """How one kind of task trains and evaluates its models inside the main job."""

    @abstractmethod
    def check(self, config: ProjectConfig) -> None:
        """Check the project's models, tuning and task settings without Spark (``sparkwright validate``).

        Raises:
            ConfigError: Names the YAML path and the fix.
        """

    @abstractmethod
    def train(self, context: TrainingContext) -> TrainingOutcome:
        """Train, evaluate and log the models (each a nested MLflow run under ``context.parent_id``)."""

    def next_step(self, config: ProjectConfig, model_uri: str) -> str | None:
        """What to try with the registered model after a demo, when the task has more to show than scores."""
        return None


def check_models(config: ProjectConfig) -> None:
    """Each listed model's type serves the project's task and its params are valid.

    Raises:
        ConfigError: Path ``models[i].type`` or ``models[i].params.<param>``.
    """
    from sparkwright.errors import ConfigError, ModelError
    from sparkwright.models import get_model_type

    for index, spec in enumerate(config.models):
        try:
            model_type = get_model_type(spec.type, config.task)
        except ModelError as exc:
            raise ConfigError(str(exc), path=f"models[{index}].type") from None
        model_type.validate_params(spec.params, f"models[{index}].params", config.task)
