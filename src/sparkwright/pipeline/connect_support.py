"""What the main job can do over Spark Connect, in one list: the check at the start of a run and docs/scale-out.md
both read :data:`FEATURES`.

A Connect client has no SparkContext and no JVM in its process. Features that need one (xgboost.spark's barrier
jobs, hyperopt's SparkTrials, ALS factors built through the JVM), or Delta's Connect plugin (merge), are refused
before any work starts, with the alternative: the same project on classic Spark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkwright.errors import ConfigError

if TYPE_CHECKING:
    from sparkwright.config import ProjectConfig

CLASSIC_ALTERNATIVE = "run it on classic Spark instead: --master local[*] or --master spark://host:7077"


@dataclass(frozen=True)
class Feature:
    """One row of the support table.

    ``connect``: ``yes`` (verified over Connect by tests/integration/test_connect.py), ``no`` (refused at the
    start of a run; ``used_by`` tells whether a project uses it), or ``not verified``. ``cluster``: ``yes``
    (verified on a standalone cluster by tests/integration/test_cluster.py) or ``not verified``.
    """

    name: str
    connect: str
    cluster: str
    why: str = ""
    used_by: Callable[[ProjectConfig], str | None] | None = None


def _model_type(type_name: str) -> Callable[[ProjectConfig], str | None]:
    def used_by(config: ProjectConfig) -> str | None:
        return next((f"models[{i}].type" for i, m in enumerate(config.models) if m.type == type_name), None)

    return used_by


def _spark_trials(config: ProjectConfig) -> str | None:
    return "tune.trials" if config.tune is not None and config.tune.trials == "spark" else None


def _merge_ingest(config: ProjectConfig) -> str | None:
    mode = config.data.ingest.mode or ("merge" if config.data.keys else "overwrite")
    return "data.ingest.mode" if mode == "merge" else None


def _recommendation(config: ProjectConfig) -> str | None:
    return "task" if config.task == "recommendation" else None


FEATURES: tuple[Feature, ...] = (
    Feature("ingest a CSV source into the bronze Delta table", "yes", "yes"),
    Feature("cleanse into the silver Delta table (versions recorded in the run)", "yes", "yes"),
    Feature("other source formats, data-quality rules, append ingest", "not verified", "not verified"),
    Feature(
        "merge ingest (data.keys, data.ingest.mode: merge)",
        "no",
        "yes",
        "Delta's merge builder (DeltaTable) needs Delta's Connect server plugin, which does not resolve from "
        "Maven Central for Delta 4.4",
        _merge_ingest,
    ),
    Feature("seeded train / test split", "yes", "yes"),
    Feature("exploration report (explore.enabled)", "yes", "yes"),
    Feature("Spark ML models: linear_regression, decision_tree", "yes", "yes"),
    Feature("Spark ML models: logistic_regression (with its threshold selection), random_forest", "yes", "yes"),
    Feature("Spark ML models: gbt", "yes", "not verified"),
    Feature("Spark ML models: kmeans, bisecting_kmeans, gaussian_mixture", "not verified", "not verified"),
    Feature("single-node models (type: sklearn) scored on the executors in a pandas UDF", "yes", "yes"),
    Feature("evaluation, leaderboard, MLflow runs, registry with champion / challenger", "yes", "yes"),
    Feature(
        "budgeted search across model families (search:; tested over Connect: linear, lightgbm) and its ensemble",
        "yes",
        "not verified",
    ),
    Feature("tuning with trials: parallel / serial (sparkwright's executors)", "yes", "not verified"),
    Feature(
        "xgboost models (xgboost.spark)",
        "no",
        "not verified",
        "xgboost.spark trains in barrier-mode RDD jobs, which need a classic SparkContext (a Connect client has none)",
        _model_type("xgboost"),
    ),
    Feature(
        "tune.trials: spark (hyperopt's SparkTrials)",
        "no",
        "not verified",
        "SparkTrials starts its trials through a classic SparkContext (a Connect client has none)",
        _spark_trials,
    ),
    Feature(
        "recommendation (ALS)",
        "no",
        "not verified",
        "sparkwright builds the bias-adjusted ALS model through the JVM of a classic SparkContext (a Connect "
        "client has none)",
        _recommendation,
    ),
    Feature("batch scoring (sparkwright predict --master)", "no (no --remote option)", "yes"),
    Feature("one model per group (sparkwright.udf.train_per_group) and its routing model", "yes", "yes"),
)


def check_connect_support(config: ProjectConfig) -> None:
    """Refuse a project that uses a feature Spark Connect cannot run, before any work starts.

    Raises:
        ConfigError: At the first such feature: its YAML path, why it needs classic Spark, and the alternative.
    """
    for feature in FEATURES:
        where = feature.used_by(config) if feature.used_by is not None else None
        if where is not None:
            raise ConfigError(
                f"{feature.name} cannot run over Spark Connect: {feature.why}. "
                f"Remove it from the project, or {CLASSIC_ALTERNATIVE}.",
                where,
            )
