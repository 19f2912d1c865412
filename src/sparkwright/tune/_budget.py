"""A time-budgeted search over several model families: cheap points first, more trials where they pay.

Each family (an :class:`Arm`) has its own space and its own seeded TPE sampler (optuna). The search runs in
rounds. Round 0 tries every family's low-cost starting point, so a result exists for each within seconds
(FLAML's cost-frugal start). Each later round ranks the families by their best loss and gives the family
at rank ``i`` ``max(1, 2 * parallelism / 2**i)`` trials: the budget flows to the families that win while
the others keep a foothold and can still overtake (FLAML spends on the learner with the lowest estimated
cost for improvement; this is a deterministic form of the same idea).

Inside a trial, folds are evaluated one after another and a trial whose first fold is worse than the
median first fold of its family's finished trials stops there (Optuna's median pruning, at fold
granularity). Trials of families that train on the driver's NumPy arrays run in parallel worker processes
(sparkwright's process executor); trials of families that are Spark jobs run on the driver meanwhile.

A round's results are told to the samplers in trial order, and the pruning thresholds are fixed at the
start of a round, so the sequence of trials depends only on the seed and the results: with ``max_trials``
the same seed gives the same leaderboard; with only a time budget a faster machine goes further down the
same sequence.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sparkwright.config.space import Distribution

FAMILY_KEY = "__family"
PRUNE_KEY = "__prune_above"
DEADLINE_KEY = "__deadline"
TRIAL_SECONDS_KEY = "__trial_seconds"
# After round 0, no trial may take more than this share of the budget: a round waits for its slowest trial,
# so one 300-tree forest on wide one-hot data would otherwise leave the other workers idle. Round 0's start
# points are exempt (only the deadline stops them): every family must get a result, however small the budget.
TRIAL_SHARE = 0.15

DetailedObjective = Callable[[dict[str, Any]], dict[str, Any]]
"""``objective(params) -> {"loss", "fold_losses", "pruned", ...}``; params carry the four keys above.

``DEADLINE_KEY`` is the search's deadline (epoch seconds) and ``TRIAL_SECONDS_KEY`` the trial's own time
cap (seconds from its start); an objective that evaluates folds stops between them at either and returns
what it has with ``unfinished: True``.
"""


@dataclass(frozen=True)
class Arm:
    """One model family of the search.

    Attributes:
        name: The family's name (``lightgbm``, ``linear`` ...).
        space: Its search space.
        start: The low-cost point tried first (a point of ``space``).
        local: True: the objective runs in a worker process on NumPy data; False: on the driver (Spark jobs).
    """

    name: str
    space: Mapping[str, Distribution]
    start: Mapping[str, Any]
    local: bool


@dataclass
class BudgetTrial:
    """One finished trial; ``details`` holds what the objective returned beyond the loss."""

    number: int
    round: int
    family: str
    params: dict[str, Any]
    loss: float | None
    fold_losses: list[float]
    status: str  # ok | pruned | unfinished (the budget ran out between folds) | failed
    seconds: float
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class BudgetResult:
    """Every trial in order, why the search stopped and how long it ran."""

    trials: list[BudgetTrial]
    stopped_by: str  # budget | max_trials
    seconds: float
    rounds: int

    def best_by_family(self) -> dict[str, BudgetTrial]:
        """Each family's best finished (not pruned) trial, best family first."""
        best: dict[str, BudgetTrial] = {}
        for trial in self.trials:
            if trial.status != "ok" or trial.loss is None:
                continue
            current = best.get(trial.family)
            if current is None or trial.loss < current.loss:  # type: ignore[operator]
                best[trial.family] = trial
        return dict(sorted(best.items(), key=lambda item: (item[1].loss, item[1].number)))


OnTrial = Callable[[BudgetTrial, "Progress"], None]


@dataclass(frozen=True)
class Progress:
    """What a progress bar shows after each trial."""

    done: int
    best_loss: float | None
    best_family: str | None
    seconds_left: float


def budgeted_search(
    arms: list[Arm],
    *,
    local_objective: DetailedObjective | None,
    driver_objective: DetailedObjective | None,
    budget_seconds: float,
    max_trials: int | None = None,
    parallelism: int = 2,
    seed: int = 42,
    on_trial: OnTrial | None = None,
) -> BudgetResult:
    """Search every arm's space within ``budget_seconds`` (and at most ``max_trials`` trials).

    Args:
        arms: The families, in the order used to break ties.
        local_objective: Runs the trials of ``local`` arms in worker processes (must pickle).
        driver_objective: Runs the other arms' trials on this thread.
        budget_seconds: No trial starts after this; running folds stop at the deadline too, and no trial
            runs past ``TRIAL_SHARE`` of it after round 0.
        max_trials: Cap on the number of trials.
        parallelism: Worker processes for local trials; also scales the trials per round.
        seed: Seeds every family's sampler (each family gets its own, derived from it).
        on_trial: Called after each trial with the trial and the search's progress.

    Returns:
        The trials in order; a trial that failed keeps its error.
    """
    from sparkwright.tune._executors import ProcessExecutor

    if not arms:
        raise ValueError("the budgeted search needs at least one family")
    started = time.perf_counter()
    deadline = time.time() + budget_seconds
    samplers = {arm.name: _FamilySampler(arm, seed + index) for index, arm in enumerate(arms)}
    pool = (
        ProcessExecutor(local_objective, parallelism, detailed=True)
        if local_objective is not None and any(arm.local for arm in arms)
        else None
    )
    trials: list[BudgetTrial] = []
    stopped_by = "budget"
    round_number = 0
    try:
        while True:
            planned = _plan_round(arms, trials, round_number, parallelism)
            if max_trials is not None:
                planned = planned[: max(0, max_trials - len(trials))]
            if not planned or time.time() >= deadline:
                stopped_by = "max_trials" if max_trials is not None and len(trials) >= max_trials else "budget"
                break
            thresholds = {arm.name: _median_first_fold(trials, arm.name) for arm in arms}
            trial_seconds = budget_seconds * (1.0 if round_number == 0 else TRIAL_SHARE)
            asked = [(arm, *samplers[arm.name].ask(round_number == 0)) for arm in planned]
            numbered = [(len(trials) + i, arm, token, params) for i, (arm, token, params) in enumerate(asked)]
            futures: dict[int, Future[Any]] = {}
            for number, arm, _token, params in numbered:
                if arm.local and pool is not None:
                    futures[number] = pool.submit(_payload(arm, params, thresholds[arm.name], deadline, trial_seconds))
            outcomes: dict[int, tuple[Any, ...]] = {}
            for number, arm, _token, params in numbered:
                if not arm.local:
                    outcomes[number] = _run_inline(
                        driver_objective,
                        _payload(arm, params, thresholds[arm.name], deadline, trial_seconds),
                        deadline,
                    )
            for number, future in futures.items():
                outcomes[number] = _result_of(future)
            for number, arm, token, params in numbered:
                trial = _trial(number, round_number, arm.name, params, outcomes[number])
                samplers[arm.name].tell(token, trial)
                trials.append(trial)
                if on_trial is not None:
                    on_trial(trial, _progress(trials, deadline))
            round_number += 1
    except BaseException:
        if pool is not None:
            pool.close(cancel=True)
        raise
    if pool is not None:
        pool.close()
    return BudgetResult(trials, stopped_by, time.perf_counter() - started, round_number)


def _plan_round(arms: list[Arm], trials: list[BudgetTrial], round_number: int, parallelism: int) -> list[Arm]:
    """Round 0: each arm once (its start point). Later: more trials for the arms with the best losses."""
    if round_number == 0:
        return list(arms)
    best = {arm.name: math.inf for arm in arms}
    for trial in trials:
        if trial.status == "ok" and trial.loss is not None:
            best[trial.family] = min(best[trial.family], trial.loss)
    order = sorted(range(len(arms)), key=lambda i: (best[arms[i].name], i))
    top = 2 * max(1, parallelism)
    plan: list[Arm] = []
    for rank, index in enumerate(order):
        plan += [arms[index]] * max(1, top >> rank)
    return plan


def _median_first_fold(trials: list[BudgetTrial], family: str) -> float | None:
    """The median first-fold loss of the family's finished trials (None before three exist)."""
    firsts = [t.fold_losses[0] for t in trials if t.family == family and t.status == "ok" and t.fold_losses]
    return statistics.median(firsts) if len(firsts) >= 3 else None


def _payload(
    arm: Arm, params: dict[str, Any], prune_above: float | None, deadline: float, trial_seconds: float
) -> dict[str, Any]:
    return {
        **params,
        FAMILY_KEY: arm.name,
        PRUNE_KEY: prune_above,
        DEADLINE_KEY: deadline,
        TRIAL_SECONDS_KEY: trial_seconds,
    }


def _run_inline(objective: DetailedObjective | None, payload: dict[str, Any], deadline: float) -> tuple[Any, ...]:
    from sparkwright.tune import _worker

    if objective is None:
        raise ValueError(f"family {payload[FAMILY_KEY]!r} runs on the driver but no driver objective was given")
    if time.time() >= deadline:
        now = time.time()
        return None, "the budget ran out before this trial started", now, now
    return _worker.evaluate_detailed(objective, payload)


def _result_of(future: Future[Any]) -> tuple[Any, ...]:
    try:
        return future.result()
    except Exception as exc:
        # The worker itself failed (killed, out of memory), not the objective.
        now = time.time()
        return None, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}", now, now


def _trial(number: int, round_number: int, family: str, params: dict[str, Any], outcome: tuple) -> BudgetTrial:
    details, error, began, ended = outcome
    if details is None:
        return BudgetTrial(number, round_number, family, params, None, [], "failed", ended - began, error)
    status = "unfinished" if details.get("unfinished") else "pruned" if details.get("pruned") else "ok"
    extra = {k: v for k, v in details.items() if k not in ("loss", "fold_losses", "pruned", "unfinished")}
    return BudgetTrial(
        number,
        round_number,
        family,
        params,
        float(details["loss"]),
        [float(x) for x in details.get("fold_losses", [])],
        status,
        ended - began,
        None,
        extra,
    )


def _progress(trials: list[BudgetTrial], deadline: float) -> Progress:
    ok = [t for t in trials if t.status == "ok" and t.loss is not None]
    best = min(ok, key=lambda t: (t.loss, t.number)) if ok else None
    return Progress(
        done=len(trials),
        best_loss=best.loss if best else None,
        best_family=best.family if best else None,
        seconds_left=max(0.0, deadline - time.time()),
    )


class _FamilySampler:
    """A family's own optuna study: its start point first, then seeded TPE."""

    def __init__(self, arm: Arm, seed: int):
        import optuna

        from sparkwright.tune import _spaces
        from sparkwright.tune._backends import _quiet

        self._quiet = _quiet
        with _quiet("optuna"):
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True, constant_liar=True)
            self._study = optuna.create_study(direction="minimize", sampler=sampler)
            self._study.enqueue_trial(_spaces.to_optuna_params(arm.space, dict(arm.start)))
        self._distributions = _spaces.to_optuna(arm.space)
        self._convert = _spaces.converter(arm.space)
        self._states = optuna.trial.TrialState

    def ask(self, first: bool) -> tuple[Any, dict[str, Any]]:
        with self._quiet("optuna"):
            trial = self._study.ask(self._distributions)
        return trial, self._convert(trial.params)

    def tell(self, token: Any, trial: BudgetTrial) -> None:
        with self._quiet("optuna"):
            if trial.status == "failed" or trial.loss is None:
                self._study.tell(token, state=self._states.FAIL)
            elif trial.status in ("pruned", "unfinished"):
                token.report(trial.loss, 0)
                self._study.tell(token, state=self._states.PRUNED)
            else:
                self._study.tell(token, trial.loss)
