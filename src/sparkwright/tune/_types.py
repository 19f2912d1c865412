"""What a search returns: one :class:`Trial` per evaluated point and a :class:`SearchResult`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "failed", "cancelled"]
StopReason = Literal["max_evals", "timeout", "early_stop"]

Objective = Callable[[dict[str, Any]], float]
"""``objective(params) -> loss``: lower is better; may raise (the trial is then recorded as failed)."""


@dataclass(frozen=True)
class Trial:
    """One evaluated point of a search.

    Attributes:
        number: 0, 1, 2, ... in the order the trials were proposed.
        params: The point, converted to what the model takes (q-distributions with integer bounds are ints).
        loss: What the objective returned; None when the trial failed or was cancelled.
        status: ``ok``, ``failed`` (the objective raised or returned a non-finite loss) or ``cancelled``
            (SparkTrials cancelled it at the timeout or an early stop).
        seconds: Wall time of the objective call.
        error: ``ExceptionType: message`` when the trial failed, else None.
        started, ended: Wall-clock timestamps (``time.time()``) of the objective call, where it ran.
    """

    number: int
    params: dict[str, Any]
    loss: float | None
    status: Status
    seconds: float
    error: str | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class SearchResult:
    """All trials of a search, in proposal order, and why it stopped.

    Attributes:
        trials: Every trial, failed ones included.
        stopped_by: ``max_evals``, ``timeout`` or ``early_stop``.
        seconds: Wall time of the whole search.
        method, algorithm, executor: What ran it (``executor`` names the pool actually used, e.g.
            ``processes`` or ``spark-jobs`` for ``trials="parallel"``).
    """

    trials: list[Trial]
    stopped_by: StopReason
    seconds: float
    method: str = ""
    algorithm: str = ""
    executor: str = ""

    @property
    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    @property
    def best_trial(self) -> Trial | None:
        """The trial with the lowest loss (the earliest on ties); None when every trial failed."""
        ok = self.ok_trials
        return min(ok, key=lambda t: (t.loss, t.number)) if ok else None

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.best_trial
        return dict(best.params) if best else None

    @property
    def best_loss(self) -> float:
        best = self.best_trial
        return best.loss if best and best.loss is not None else math.inf

    @property
    def failed_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "failed"]
