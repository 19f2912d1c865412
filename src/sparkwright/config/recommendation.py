"""Cross-field checks of ``task: recommendation`` (data.user / item / rating / timestamp, implicit feedback).

Run by ``run_checks`` with the other named checks, so ``sparkwright validate`` reports them without Spark.
"""

from __future__ import annotations

from sparkwright.config.columns import check_distinct_kept
from sparkwright.config.schema import ProjectConfig
from sparkwright.errors import ConfigError

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
# Metrics of predicted ratings: they need explicit ratings (an implicit count is not a rating to predict).
RATING_METRICS = ("rmse", "mae")


def check_recommendation(config: ProjectConfig) -> None:
    """The rating columns are given with task recommendation only, and name distinct columns there."""
    data = config.data
    if config.task != "recommendation":
        for key in RATING_COLUMNS:
            if getattr(data, key) is not None:
                raise ConfigError(
                    f"data.{key} applies to task recommendation, not {config.task!r}; remove it.", f"data.{key}"
                )
        return
    settings = config.recommendation
    implicit = settings is not None and settings.implicit
    for key in ("user", "item") if implicit else ("user", "item", "rating"):
        if getattr(data, key) is None:
            hint = " (or recommendation.implicit: true for interactions without a rating)" if key == "rating" else ""
            message = f"task recommendation needs the {key} column; add data.{key}: <column>{hint}."
            raise ConfigError(message, f"data.{key}")
    if data.label is not None:
        raise ConfigError(
            f"task recommendation predicts data.rating, not a label; move {data.label!r} to data.rating and remove "
            "data.label.",
            "data.label",
        )
    check_distinct_kept(config, [(key, getattr(data, key)) for key in RATING_COLUMNS if getattr(data, key) is not None])
    if implicit and config.metric in RATING_METRICS:
        raise ConfigError(
            f"metric {config.metric!r} judges predicted ratings, which implicit feedback does not have; choose one of "
            "precision_at_k, recall_at_k, ndcg_at_k, map_at_k.",
            "metric",
        )
