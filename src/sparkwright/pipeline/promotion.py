"""Registering the best model: alias ``challenger`` always, ``champion`` only when it beats the current one."""

from __future__ import annotations

import logging
import time

from sparkwright.config import ProjectConfig
from sparkwright.pipeline.results import BASELINE, RunResult
from sparkwright.registry import Registry
from sparkwright.tracking import CHALLENGER, CHAMPION, LoggedModel, Tracker

log = logging.getLogger(__name__)

# Two runs of one project at once on a shared tracking store may both read the old champion and both promote:
# the later write would win whatever its metric. So after promoting, a run looks again at these pauses (seconds)
# and takes the alias back from a worse version; the worse run, looking too, leaves a better one in place.
SETTLE_PAUSES = (0.5, 1.5)


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
        result.promoted = current is None or _beats(new, current, result.higher_is_better)
    if result.promoted:
        registry.set_alias(name, CHAMPION, version)
        if _shared(tracker):
            _settle_champion(tracker, registry, name, version, result.metric, best.metrics[result.metric], result)
    tracker.set_tags(
        result.parent_run_id, {"sparkwright.registered_version": version, "sparkwright.promoted": result.promoted}
    )


def _beats(new: float, current: float, higher_is_better: bool) -> bool:
    return new > current if higher_is_better else new < current


def _shared(tracker: Tracker) -> bool:
    """A store other processes write to at the same time (a server or a database), not the workspace's SQLite."""
    return not tracker.tracking_uri.startswith(("sqlite:", "file:")) and "://" in tracker.tracking_uri


def _settle_champion(
    tracker: Tracker, registry: Registry, name: str, version: str, metric: str, value: float, result: RunResult
) -> None:
    """Take ``champion`` back from a worse version that a concurrent run promoted on a stale read."""
    for pause in SETTLE_PAUSES:
        time.sleep(pause)
        holder = tracker.version_by_alias(name, CHAMPION)
        if holder is None or str(holder.version) == version or not holder.run_id:
            continue
        theirs = tracker.run_metric(holder.run_id, metric)
        if theirs is not None and _beats(value, theirs, result.higher_is_better):
            log.warning("Version %s of %s held champion with a worse %s; taking it back.", holder.version, name, metric)
            registry.set_alias(name, CHAMPION, version)
