"""What runs where a trial runs (a thread, a worker process): kept free of heavy imports.

A worker process imports only this module, so a process pool starts in a fraction of a second.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable
from typing import Any

Outcome = tuple[float | None, str | None, float, float]
"""(loss, error, started, ended): loss is None exactly when error is set."""

_installed: Callable[[dict[str, Any]], Any] | None = None
_installed_key: str | None = None


def evaluate(objective: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Outcome:
    """Call the objective once; an exception or a non-finite loss becomes an error string, never a raise."""
    started = time.time()
    try:
        loss, error = as_loss(objective(params)), None
    except Exception as exc:
        loss, error = None, f"{type(exc).__name__}: {exc}"
    return loss, error, started, time.time()


def evaluate_detailed(objective: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any]) -> tuple:
    """Like :func:`evaluate` for an objective that returns a dict with ``loss`` and more (the budgeted search).

    Returns ``(details, error, started, ended)``; details is None exactly when error is set.
    """
    started = time.time()
    try:
        details = objective(params)
        details["loss"] = as_loss(details.get("loss"))
        error = None
    except Exception as exc:
        details, error = None, f"{type(exc).__name__}: {exc}"
    return details, error, started, time.time()


def as_loss(value: Any) -> float:
    """The objective's return value as a finite float, or a ValueError that says what came back."""
    try:
        loss = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"the objective must return a number (a loss), got {type(value).__name__} {value!r}") from None
    if not math.isfinite(loss):
        raise ValueError(f"the objective returned a non-finite loss ({loss})")
    return loss


def ready() -> None:
    """A no-op task: submitting it makes a pool start its workers."""


def run_detailed_from_file(key: str, path: str, params: dict[str, Any]) -> tuple:
    """:func:`run_from_file` for a detailed objective (see :func:`evaluate_detailed`)."""
    _install(key, path)
    assert _installed is not None
    return evaluate_detailed(_installed, params)


def run_from_file(key: str, path: str, params: dict[str, Any]) -> Outcome:
    """Run one trial of search ``key`` in a worker process, loading its objective on the first one.

    Only the latest search's objective is kept, so a worker holds one copy of its data at most.
    """
    _install(key, path)
    assert _installed is not None
    return evaluate(_installed, params)


def _install(key: str, path: str) -> None:
    global _installed, _installed_key
    if _installed_key != key:
        _installed = None  # release the previous search's objective before loading the next
        with open(path, "rb") as file:
            _installed = pickle.load(file)
        _installed_key = key
