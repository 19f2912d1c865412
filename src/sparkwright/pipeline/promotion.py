"""Registering the best model: alias ``challenger`` always, ``champion`` only when it beats the current one."""

from __future__ import annotations

import logging

from sparkwright.config import ProjectConfig
from sparkwright.pipeline.results import BASELINE, RunResult
from sparkwright.registry import Registry
from sparkwright.tracking import CHALLENGER, CHAMPION, LoggedModel, Tracker

log = logging.getLogger(__name__)


def register_best(tracker: Tracker, config: ProjectConfig, result: RunResult) -> None:
    """Register the best model as ``challenger``; promote it to ``champion`` if it beats the current one."""
    best = result.best
    if best.type == BASELINE:
        log.warning("No model beat the baseline on %s; nothing was registered.", result.metric)
        return
    name = config.registered_model_name
    silver = result.tables["silver"]
    version = tracker.register(
        LoggedModel(run_id=best.run_id, model_uri=best.model_uri),
        name,
        tags={
            "source_table": silver.path,
            "source_version": silver.version,
            "metric": result.metric,
            result.metric: best.metrics[result.metric],
            "parent_run_id": result.parent_run_id,
        },
    )
    registry = Registry(tracker)  # alias changes go through it, so `models rollback` knows the history
    registry.set_alias(name, CHALLENGER, version)
    result.registered_model, result.registered_version = name, version
    champion = tracker.version_by_alias(name, CHAMPION)
    if champion is None:
        result.promoted = True
    elif config.registry is not None and config.registry.promote_if_better:
        current = tracker.run_metric(champion.run_id, result.metric) if champion.run_id else None
        new = best.metrics[result.metric]
        result.promoted = current is None or (new > current if result.higher_is_better else new < current)
    if result.promoted:
        registry.set_alias(name, CHAMPION, version)
    tracker.set_tags(
        result.parent_run_id, {"sparkwright.registered_version": version, "sparkwright.promoted": result.promoted}
    )
