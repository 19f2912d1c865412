"""Hyperparameter search, generic over the objective: hyperopt or optuna, serial, threaded, parallel or SparkTrials.

The caller (the main job, or a notebook) writes ``objective(params) -> loss``; this package proposes
points, runs them where ``trials`` says, and returns every trial with the best one. Grid search with
cross-validation is :func:`grid_search`. See ``docs/tuning.md``.

Names are imported on first use: a parallel executor's worker process imports only
``sparkwright.tune._worker`` and so starts in milliseconds.

Example:
    >>> from sparkwright.tune import search
    >>> result = search(lambda p: (p["x"] - 3) ** 2, {"x": {"uniform": [-10, 10]}}, algorithm="tpe", max_evals=40)
    >>> round(result.best_params["x"])
    3
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkwright.config.space import Distribution, grid_points, parse_space
    from sparkwright.tune._grid import GridPoint, GridResult, grid_search
    from sparkwright.tune._search import EXECUTORS, METHODS, NoProgress, resolve_trials, search
    from sparkwright.tune._types import Objective, SearchResult, StopReason, Trial

_EXPORTS: dict[str, str] = {
    "search": "sparkwright.tune._search",
    "EXECUTORS": "sparkwright.tune._search",
    "METHODS": "sparkwright.tune._search",
    "NoProgress": "sparkwright.tune._search",
    "resolve_trials": "sparkwright.tune._search",
    "SearchResult": "sparkwright.tune._types",
    "Trial": "sparkwright.tune._types",
    "Objective": "sparkwright.tune._types",
    "StopReason": "sparkwright.tune._types",
    "grid_search": "sparkwright.tune._grid",
    "GridPoint": "sparkwright.tune._grid",
    "GridResult": "sparkwright.tune._grid",
    "Distribution": "sparkwright.config.space",
    "parse_space": "sparkwright.config.space",
    "grid_points": "sparkwright.config.space",
}

__all__ = [
    "EXECUTORS",
    "METHODS",
    "Distribution",
    "GridPoint",
    "GridResult",
    "NoProgress",
    "Objective",
    "SearchResult",
    "StopReason",
    "Trial",
    "grid_points",
    "grid_search",
    "parse_space",
    "resolve_trials",
    "search",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparkwright.tune' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
