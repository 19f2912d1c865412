"""What each machine-learning task needs from a project file, known without starting Spark.

A new task (classification, clustering, ...) is one more entry in ``TASKS``; config validation, the
pipeline and the leaderboard read everything task-specific from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    """The contract of one task: its metrics (name -> higher is better) and whether it needs a label."""

    name: str
    metrics: dict[str, bool] = field(default_factory=dict)
    default_metric: str = ""
    needs_label: bool = True
    numeric_label: bool = True

    def higher_is_better(self, metric: str) -> bool:
        return self.metrics[metric]


TASKS: dict[str, TaskSpec] = {
    "regression": TaskSpec(
        name="regression",
        metrics={"rmse": False, "mae": False, "r2": True, "mse": False},
        default_metric="rmse",
    ),
    # Binary: precision / recall / F1 of the positive class. Multiclass: their support-weighted means,
    # and ROC / PR AUC averaged one-vs-rest. ROC AUC ranks by default: it does not depend on the threshold.
    "classification": TaskSpec(
        name="classification",
        metrics={
            "roc_auc": True,
            "pr_auc": True,
            "f1": True,
            "accuracy": True,
            "precision": True,
            "recall": True,
            "log_loss": False,
        },
        default_metric="roc_auc",
        numeric_label=False,
    ),
}
