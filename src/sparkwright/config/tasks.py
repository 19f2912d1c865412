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
    # The metric that ranks models when the project has no label (None: the task always needs one).
    unlabelled_metric: str | None = None
    # The metric of the leaderboard's "vs baseline" column; default: the ranking metric.
    gain_metric: str | None = None
    # False: a project without models gets no budgeted search (the task has none).
    searchable: bool = True
    # What the leaderboard's metrics were measured on.
    judged_on: str = "test set"

    def higher_is_better(self, metric: str) -> bool:
        return self.metrics[metric]

    @property
    def gain(self) -> tuple[str, bool] | None:
        """``(gain_metric, higher is better)``; None when the leaderboard compares the ranking metric."""
        return (self.gain_metric, self.metrics[self.gain_metric]) if self.gain_metric else None


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
    # Isolation forest and its z-score baseline. With data.label (known anomalies) the label-based metrics
    # rank; without one nothing can be measured, so models keep the project file's order (listed_order 1
    # is the first listed model) and the first one is registered.
    "anomaly": TaskSpec(
        name="anomaly",
        metrics={
            "roc_auc": True,
            "pr_auc": True,
            "precision": True,
            "recall": True,
            "f1": True,
            "listed_order": False,
        },
        default_metric="roc_auc",
        needs_label=False,
        numeric_label=False,
        section="anomaly",
        unlabelled_metric="listed_order",
        searchable=False,
    ),
    # Silhouette ranks: it compares different k fairly, where the sum of squares always falls as k grows.
    # Against the baseline (k = 1, whose within-cluster sum of squares is the total) the leaderboard shows
    # the share of the total sum of squares a model explains: the fall in wssse.
    "clustering": TaskSpec(
        name="clustering",
        metrics={"silhouette": True, "explained": True, "wssse": False},
        default_metric="silhouette",
        needs_label=False,
        numeric_label=False,
        section="clustering",
        gain_metric="wssse",
        searchable=False,
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
    # One model per series, judged by rolling-origin backtests against the seasonal naive forecast: MASE
    # (scale-free: 1.0 is last season's values), sMAPE in points, RMSE and MAE over every forecast point.
    "forecasting": TaskSpec(
        name="forecasting",
        metrics={"mase": False, "smape": False, "rmse": False, "mae": False},
        default_metric="mase",
        section="forecasting",
        searchable=False,
        judged_on="backtest windows",
    ),
}
