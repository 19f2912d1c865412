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


def run_from_file(key: str, path: str, params: dict[str, Any]) -> Outcome:
    """Run one trial of search ``key`` in a worker process, loading its objective on the first one.

    Only the latest search's objective is kept, so a worker holds one copy of its data at most.
    """
    global _installed, _installed_key
    if _installed_key != key:
        _installed = None  # release the previous search's objective before loading the next
        with open(path, "rb") as file:
            _installed = pickle.load(file)
        _installed_key = key
    assert _installed is not None
    return evaluate(_installed, params)
