"""What each machine-learning task needs from a project file, known without starting Spark.

This is a task's contract, read by ``sparkwright validate``; what the task does at run time (split,
baseline, metrics, plots) is its module in ``sparkwright.tasks``. A new task is one entry here and one
module there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    """The contract of one task: its metrics (name -> higher is better), whether it needs a label, the
    project-file section of its own settings (None: it has none), and whether a project that lists no
    models gets the budgeted search across model families (``searchable``)."""

    name: str
    metrics: dict[str, bool] = field(default_factory=dict)
    default_metric: str = ""
    needs_label: bool = True
    numeric_label: bool = True
    section: str | None = None
    searchable: bool = True

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
        section="classification",
    ),
    # Ratings: RMSE / MAE of predicted ratings (explicit ALS only); top-k lists: precision / recall / NDCG /
    # MAP at recommendation.k against each user's held-out items. Explicit ratings rank by RMSE, implicit
    # feedback by NDCG@k (the recommendation section's default_metric).
    "recommendation": TaskSpec(
        name="recommendation",
        metrics={
            "rmse": False,
            "mae": False,
            "precision_at_k": True,
            "recall_at_k": True,
            "ndcg_at_k": True,
            "map_at_k": True,
        },
        default_metric="rmse",
        needs_label=False,
        section="recommendation",
        searchable=False,
    ),
}
