"""The budgeted search's scheduler on plain Python objectives (no Spark): rounds, allocation, pruning, stops."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sparkwright.config.space import parse_space
from sparkwright.tune._budget import DEADLINE_KEY, FAMILY_KEY, PRUNE_KEY, Arm, budgeted_search

# Two families: "good" reaches loss 0 at x = 0.3, "poor" never gets below 1.
SPACE = parse_space({"x": {"uniform": [0, 1]}}, "space", "optuna")
ARMS = [Arm("poor", SPACE, {"x": 0.9}, local=False), Arm("good", SPACE, {"x": 0.9}, local=True)]


def folds_objective(params: dict) -> dict:
    """Three 'folds' whose losses depend on x; stops after the first when it is above the pruning threshold."""
    offset = 1.0 if params[FAMILY_KEY] == "poor" else 0.0
    losses = []
    for fold in range(3):
        if time.time() > params[DEADLINE_KEY]:
            break
        losses.append(offset + (params["x"] - 0.3) ** 2 + 0.01 * fold)
        threshold = params[PRUNE_KEY]
        if fold == 0 and threshold is not None and losses[0] > threshold:
            return {"loss": losses[0], "fold_losses": losses, "pruned": True}
    return {"loss": sum(losses) / len(losses), "fold_losses": losses, "pruned": False, "oof": [params["x"]]}


def slow_objective(params: dict) -> dict:
    time.sleep(0.3)
    return folds_objective(params)


def failing_objective(params: dict) -> dict:
    raise RuntimeError(f"no fit for {params[FAMILY_KEY]}")


def _run(**kwargs):
    options = {
        "local_objective": folds_objective,
        "driver_objective": folds_objective,
        "budget_seconds": 60,
        "max_trials": 14,
        "parallelism": 2,
        "seed": 7,
        **kwargs,
    }
    return budgeted_search(ARMS, **options)


def test_round_zero_tries_each_start_point_then_the_better_family_gets_more_trials():
    result = _run()
    first = result.trials[:2]
    assert [t.family for t in first] == ["poor", "good"] and all(t.params == {"x": 0.9} for t in first)
    later = [t.family for t in result.trials[2:]]
    assert later.count("good") >= 2 * later.count("poor") >= 2  # the loser keeps a foothold
    best = result.best_by_family()
    assert list(best) == ["good", "poor"]
    assert best["good"].loss < 0.1 < 1.0 <= best["poor"].loss
    assert best["good"].details["oof"] == [best["good"].params["x"]]
    assert result.stopped_by == "max_trials" and len(result.trials) == 14


def test_the_same_seed_gives_the_same_trials_and_another_seed_does_not():
    one, two, other = _run(), _run(), _run(seed=8)
    signature = [(t.family, t.params, t.loss, t.status) for t in one.trials]
    assert signature == [(t.family, t.params, t.loss, t.status) for t in two.trials]
    assert signature != [(t.family, t.params, t.loss, t.status) for t in other.trials]


def test_trials_worse_than_the_family_median_after_one_fold_are_pruned():
    result = _run(max_trials=40)
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned, "no trial was pruned"
    assert all(len(t.fold_losses) == 1 for t in pruned)
    assert all(len(t.fold_losses) == 3 for t in result.trials if t.status == "ok")


def test_a_tiny_budget_stops_on_time():
    started = time.perf_counter()
    result = _run(local_objective=slow_objective, driver_objective=slow_objective, budget_seconds=2, max_trials=None)
    elapsed = time.perf_counter() - started
    assert result.stopped_by == "budget"
    assert elapsed < 2 + 1.5  # the budget plus at most one slow fold in flight
    assert 2 <= len(result.trials) < 40
    assert result.best_by_family()  # something finished within the budget


def test_failed_trials_are_kept_with_their_error():
    result = _run(local_objective=failing_objective, driver_objective=failing_objective, max_trials=4)
    assert [t.status for t in result.trials] == ["failed"] * 4
    assert result.trials[0].error == "RuntimeError: no fit for poor"
    assert result.best_by_family() == {}


def test_no_family_is_an_error():
    with pytest.raises(ValueError, match="at least one family"):
        budgeted_search([], local_objective=None, driver_objective=None, budget_seconds=1)


def _slow_folds(payload: dict) -> dict:
    """Five 0.3-second folds through the search's own fold loop (which enforces the trial's time cap)."""
    from sparkwright.pipeline.local_tuning import FoldScore
    from sparkwright.pipeline.search import _run_folds

    def fold(index: int) -> FoldScore:
        time.sleep(0.3)
        return FoldScore(1.0 + index, np.zeros(1), {})

    return _run_folds(5, fold, 1.0, payload)


@pytest.mark.parametrize(
    ("budget", "statuses", "folds"), [(3, ["ok", "unfinished"], [5, 1]), (60, ["ok", "ok"], [5, 5])]
)
def test_a_later_trial_stops_before_a_fold_that_would_pass_its_share_of_the_budget(budget, statuses, folds):
    # A 3 s budget caps a trial after round 0 at 0.45 s: after one 0.3 s fold, a second would end past it.
    # The round-0 start point is exempt, so the family has a result however small the budget.
    slow = [Arm("slow", SPACE, {"x": 0.9}, local=False)]
    result = budgeted_search(
        slow, local_objective=None, driver_objective=_slow_folds, budget_seconds=budget, max_trials=2
    )
    assert [t.status for t in result.trials] == statuses
    assert [len(t.fold_losses) for t in result.trials] == folds
    assert [t.round for t in result.trials] == [0, 1]
    assert result.trials[-1].fold_losses == [1.0 + i for i in range(folds[-1])]
