"""The tuning engine with real hyperopt and optuna: seeds, casting, stop rules, failures, executors, grid."""

from __future__ import annotations

import itertools
import math
import threading
import time

import numpy as np
import pytest

from sparkwright.config.space import parse_space
from sparkwright.errors import ConfigError
from sparkwright.tune import GridPoint, Trial, grid_search, resolve_trials, search

SPACE = {"x": {"uniform": [-10, 10]}, "depth": {"quniform": [2, 12, 1]}, "kind": {"choice": ["a", [1, 2]]}, "seed": 5}


def quadratic(params: dict) -> float:
    return (params["x"] - 3) ** 2 + (params["depth"] - 6) ** 2


def overlapping(trials: list[Trial]) -> bool:
    """Two trials ran at the same time: one started before another ended."""
    spans = sorted((t.started, t.ended) for t in trials)
    return any(later_start < earlier_end for (_, earlier_end), (later_start, _) in itertools.pairwise(spans))


def test_serial_hyperopt_proposes_exactly_what_fmin_proposes():
    from hyperopt import Trials, fmin, hp, tpe

    result = search(quadratic, SPACE, algorithm="tpe", max_evals=25, seed=7)
    reference = Trials()
    fmin(
        lambda p: (p["x"] - 3) ** 2 + (p["depth"] - 6) ** 2,
        {"x": hp.uniform("x", -10, 10), "depth": hp.quniform("depth", 2, 12, 1), "kind": hp.choice("kind", [0, 1])},
        algo=tpe.suggest, max_evals=25, trials=reference, rstate=np.random.default_rng(7), show_progressbar=False,
    )  # fmt: skip
    assert [t.params["x"] for t in result.trials] == [d["misc"]["vals"]["x"][0] for d in reference.trials]
    assert result.best_loss == pytest.approx(min(reference.losses()))


def test_params_are_converted_ints_options_and_fixed_values():
    result = search(quadratic, SPACE, algorithm="random", max_evals=30, seed=1)
    for trial in result.trials:
        depth = trial.params["depth"]
        assert type(depth) is int and 2 <= depth <= 12
        assert type(trial.params["x"]) is float
        assert trial.params["kind"] in ("a", [1, 2])
        assert trial.params["seed"] == 5
    assert {type(t.params["kind"]) for t in result.trials} == {str, list}


def test_float_q_values_are_rounded_to_the_step():
    result = search(lambda p: p["rate"], {"rate": {"quniform": [0.0, 0.5, 0.1]}}, algorithm="random", max_evals=20)
    assert {t.params["rate"] for t in result.trials} <= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    log_result = search(lambda p: p["n"], {"n": {"qloguniform": [16, 256, 16]}}, algorithm="random", max_evals=20)
    assert all(
        type(t.params["n"]) is int and t.params["n"] % 16 == 0 and 16 <= t.params["n"] <= 256 for t in log_result.trials
    )


@pytest.mark.parametrize(("method", "algorithm"), [("hyperopt", "random"), ("hyperopt", "tpe"), ("optuna", "tpe")])
def test_same_seed_same_points_other_seed_other_points(method, algorithm):
    def points(seed: int) -> list[dict]:
        return [
            t.params
            for t in search(quadratic, SPACE, method=method, algorithm=algorithm, max_evals=25, seed=seed).trials
        ]

    assert points(3) == points(3)
    assert points(3) != points(4)


def test_atpe_runs_and_its_seed_reproduces_without_touching_the_callers_random():
    import random

    import lightgbm  # noqa: F401  (its import draws from `random`)

    random.seed(123)
    np.random.seed(123)
    before = random.random(), np.random.random()
    random.seed(123)
    np.random.seed(123)
    first = search(quadratic, SPACE, algorithm="atpe", max_evals=3, seed=2)
    assert (random.random(), np.random.random()) == before
    second = search(quadratic, SPACE, algorithm="atpe", max_evals=3, seed=2)
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert first.algorithm == "atpe" and len(first.ok_trials) == 3


@pytest.mark.parametrize("method", ["hyperopt", "optuna"])
def test_tpe_converges_on_a_quadratic_better_than_random_search(method):
    def best_losses(algorithm: str) -> list[float]:
        return [
            search(lambda p: (p["x"] - 3) ** 2, {"x": {"uniform": [-10, 10]}}, method=method, algorithm=algorithm,
                   max_evals=50, seed=seed).best_loss
            for seed in range(3)
        ]  # fmt: skip

    tpe, random = best_losses("tpe"), best_losses("random")
    # Seeded, so deterministic: TPE is within 0.1 of x = 3 on every seed, and closer than random overall.
    assert max(tpe) < 0.01 and sum(tpe) < sum(random), (tpe, random)


def test_early_stop_after_n_trials_without_improvement():
    result = search(lambda p: 1.0, {"x": {"uniform": [0, 1]}}, max_evals=50, early_stop_after=5)
    # The first trial sets the best; five more do not improve it.
    assert (len(result.trials), result.stopped_by) == (6, "early_stop")


def test_early_stop_counts_failures_as_no_improvement_and_restarts_on_a_new_best():
    losses = iter([5.0, 4.0, None, 4.5, 3.0, 3.0, 3.5, 3.1, 9.0])

    def objective(params: dict) -> float:
        loss = next(losses)
        if loss is None:
            raise RuntimeError("boom")
        return loss

    result = search(objective, {"x": {"uniform": [0, 1]}}, max_evals=20, early_stop_after=3)
    assert [t.loss for t in result.trials] == [5.0, 4.0, None, 4.5, 3.0, 3.0, 3.5, 3.1]
    assert result.stopped_by == "early_stop"


def test_timeout_stops_starting_trials():
    started = time.time()
    result = search(
        lambda p: time.sleep(0.05) or p["x"], {"x": {"uniform": [0, 1]}}, max_evals=10_000, timeout_seconds=0.4
    )
    assert result.stopped_by == "timeout"
    assert 1 <= len(result.trials) < 10_000
    assert all(t.started - started < 0.4 + 0.05 for t in result.trials)


def test_max_evals_is_the_default_stop():
    result = search(quadratic, SPACE, max_evals=4)
    assert (len(result.trials), result.stopped_by) == (4, "max_evals")
    assert [t.number for t in result.trials] == [0, 1, 2, 3]


def test_failed_trials_are_recorded_and_the_search_goes_on():
    def objective(params: dict) -> float:
        if params["x"] < 0:
            raise ValueError("x must be positive")
        if params["x"] < 0.5:
            return math.nan
        return params["x"]

    result = search(objective, {"x": {"uniform": [-1, 2]}}, algorithm="random", max_evals=30, seed=0)
    assert len(result.trials) == 30
    raised = [t for t in result.failed_trials if t.params["x"] < 0]
    nan = [t for t in result.failed_trials if 0 <= t.params["x"] < 0.5]
    assert raised and all(t.error == "ValueError: x must be positive" and t.loss is None for t in raised)
    assert nan and all("non-finite loss (nan)" in t.error for t in nan)
    assert result.best_trial.ok and result.best_loss >= 0.5


def test_a_non_number_loss_fails_the_trial_and_all_failing_leaves_no_best():
    result = search(lambda p: "good", {"x": {"uniform": [0, 1]}}, max_evals=3)
    assert [t.status for t in result.trials] == ["failed"] * 3
    assert "must return a number (a loss), got str 'good'" in result.trials[0].error
    assert (result.best_trial, result.best_params, result.best_loss) == (None, None, math.inf)


def test_on_trial_runs_on_the_calling_thread_for_every_trial():
    seen: list[tuple[int, int]] = []
    search(
        quadratic,
        SPACE,
        max_evals=5,
        parallelism=2,
        trials="threads",
        on_trial=lambda t: seen.append((t.number, threading.get_ident())),
    )
    assert sorted(n for n, _ in seen) == [0, 1, 2, 3, 4]
    assert {ident for _, ident in seen} == {threading.get_ident()}


def test_an_error_in_on_trial_stops_the_search():
    def on_trial(trial: Trial) -> None:
        raise RuntimeError("tracking is down")

    with pytest.raises(RuntimeError, match="tracking is down"):
        search(quadratic, SPACE, max_evals=5, on_trial=on_trial)


def slow_objective(params: dict) -> float:
    time.sleep(0.3)
    return params["x"] ** 2


def test_parallel_executor_runs_trials_in_worker_processes_at_the_same_time():
    import os

    pids: list[int] = []
    result = search(
        lambda p: pids.append(os.getpid()) or slow_objective(p), {"x": {"uniform": [-1, 1]}},
        algorithm="tpe", max_evals=6, parallelism=2, trials="parallel", seed=0,
    )  # fmt: skip
    assert result.executor == "processes"
    assert len(result.ok_trials) == 6 and pids == []  # appended in the workers, not here
    assert overlapping(result.trials)


def test_parallel_random_search_proposes_the_serial_points():
    space = {"x": {"uniform": [-1, 1]}}
    parallel = search(slow_objective, space, algorithm="random", max_evals=4, parallelism=2, trials="parallel", seed=9)
    serial = search(slow_objective, space, algorithm="random", max_evals=4, seed=9)
    assert [t.params for t in parallel.trials] == [t.params for t in serial.trials]


def test_parallel_executor_records_a_failing_objective():
    def objective(params: dict) -> float:
        raise KeyError("missing column")

    result = search(objective, {"x": {"uniform": [0, 1]}}, max_evals=2, parallelism=2, trials="parallel")
    assert [t.error for t in result.trials] == ["KeyError: 'missing column'"] * 2


def test_parallel_executor_needs_a_picklable_objective():
    lock = threading.Lock()
    with pytest.raises(ConfigError, match=r"trials: parallel runs the objective in worker processes, so it must be "
                       r"picklable .*use trials: threads / serial"):  # fmt: skip
        search(
            lambda p: lock.locked() or p["x"], {"x": {"uniform": [0, 1]}}, max_evals=2, trials="parallel", parallelism=2
        )


def test_thread_executor_overlaps_trials():
    result = search(slow_objective, {"x": {"uniform": [-1, 1]}}, max_evals=4, parallelism=2, trials="threads")
    assert result.executor == "threads" and overlapping(result.trials)


@pytest.mark.parametrize("connect", [False, True], ids=["rdd", "mapInPandas"])
def test_cluster_path_runs_each_trial_as_a_spark_job(spark, connect):
    from sparkwright.tune import _executors
    from sparkwright.tune._backends import make_backend
    from sparkwright.tune._search import _run

    def objective(params: dict) -> float:
        if params["depth"] == 2:
            raise ValueError("too shallow")
        return params["x"] ** 2

    space = parse_space({"x": {"uniform": [-1, 1]}, "depth": {"quniform": [2, 4, 1]}}, "space")
    executor = _executors.SparkJobExecutor(objective, 2, spark, connect=connect)
    trials, stopped_by, _ = _run(make_backend("hyperopt", space, "random", 4), executor, 4, None, None, None)
    assert len(trials) == 4 and stopped_by == "max_evals"
    assert {t.status for t in trials} == {"ok", "failed"}
    for trial in trials:
        if trial.params["depth"] == 2:
            assert trial.error == "ValueError: too shallow"
        else:
            assert trial.loss == pytest.approx(trial.params["x"] ** 2)


def test_spark_trials_runs_with_the_session_and_records_failures(spark):
    def objective(params: dict) -> float:  # nested: Spark workers cannot import this test module
        if params["kind"] == "a":
            raise ValueError("kind a is not supported")
        return (params["x"] - 3) ** 2 + (params["depth"] - 6) ** 2

    seen: list[Trial] = []
    result = search(
        objective, SPACE, algorithm="tpe", max_evals=4, parallelism=2, trials="spark", spark=spark, seed=3,
        on_trial=seen.append,
    )  # fmt: skip
    assert result.executor == "sparktrials" and result.stopped_by == "max_evals"
    assert sorted(t.number for t in result.trials) == sorted(t.number for t in seen) == [0, 1, 2, 3]
    assert all(type(t.params["depth"]) is int for t in result.trials)
    failed = [t for t in result.trials if t.params["kind"] == "a"]
    assert failed and all(t.status == "failed" and t.error == "ValueError: kind a is not supported" for t in failed)
    assert result.ok_trials and result.best_loss == min(objective(t.params) for t in result.ok_trials)


def test_spark_trials_refuses_spark_connect_and_names_the_alternatives():
    from sparkwright.tune._sparktrials import run_spark_trials

    # Only the class's module matters to the check: a Connect session's lives in pyspark.sql.connect.
    connect_session = type("SparkSession", (), {"__module__": "pyspark.sql.connect.session"})()
    space = parse_space({"x": {"uniform": [0, 1]}}, "space")
    with pytest.raises(ConfigError, match=r"SparkTrials\) needs a classic SparkContext, and this session is Spark "
                       r"Connect.*use trials: parallel .* or method: optuna"):  # fmt: skip
        run_spark_trials(quadratic, space, "tpe", 2, None, None, 2, 0, None, connect_session)


def test_optuna_uses_the_same_space():
    space = {
        "x": {"uniform": [-10, 10]},
        "lr": {"loguniform": [0.001, 1]},
        "depth": {"quniform": [2, 12, 2]},
        "bins": {"qloguniform": [8, 256, 8]},
        "leaves": {"qloguniform": [2, 64, 1]},
        "kind": {"choice": ["a", [1, 2]]},
        "seed": 5,
    }
    result = search(lambda p: (p["x"] - 3) ** 2, space, method="optuna", algorithm="random", max_evals=20, seed=0)
    assert result.method == "optuna" and len(result.ok_trials) == 20
    for trial in result.trials:
        p = trial.params
        assert 0.001 <= p["lr"] <= 1 and type(p["depth"]) is int and p["depth"] % 2 == 0 and 2 <= p["depth"] <= 12
        assert type(p["bins"]) is int and p["bins"] % 8 == 0 and 8 <= p["bins"] <= 256
        assert type(p["leaves"]) is int and 2 <= p["leaves"] <= 64
        assert p["kind"] in ("a", [1, 2]) and p["seed"] == 5


def test_optuna_parallel_processes_and_stop_rules():
    result = search(
        slow_objective, {"x": {"uniform": [-1, 1]}}, method="optuna", max_evals=4, parallelism=2, trials="parallel"
    )
    assert result.executor == "processes" and overlapping(result.trials)
    stopped = search(lambda p: 1.0, {"x": {"uniform": [0, 1]}}, method="optuna", max_evals=50, early_stop_after=3)
    assert (len(stopped.trials), stopped.stopped_by) == (4, "early_stop")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"method": "optuna", "algorithm": "atpe"},
            r"optuna has no adaptive TPE \(atpe\); use algorithm: tpe .* or method: hyperopt",
        ),
        (
            {"method": "optuna", "trials": "spark"},
            r"trials: spark is hyperopt's SparkTrials; with method: optuna use trials: parallel",
        ),
        ({"method": "hyperpot"}, r"method must be one of hyperopt, optuna, got 'hyperpot'\. Did you mean 'hyperopt'\?"),
        ({"algorithm": "tpee"}, r"algorithm must be one of random, tpe, atpe, got 'tpee'\. Did you mean 'tpe'\?"),
        ({"trials": "paralel"}, r"trials must be one of serial, threads, parallel, spark.*Did you mean 'parallel'\?"),
        ({"max_evals": 0}, r"max_evals must be an integer >= 1, got 0"),
        ({"parallelism": 0}, r"parallelism must be an integer >= 1, got 0"),
        ({"early_stop_after": 0}, r"early_stop_after must be an integer >= 1 or None, got 0"),
        ({"timeout_seconds": -1}, r"timeout_seconds must be > 0 or None, got -1"),
    ],
)
def test_invalid_arguments_say_what_to_use(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        search(quadratic, SPACE, **kwargs)


def test_optuna_refuses_normal_from_a_parsed_space():
    space = parse_space({"x": {"normal": [0, 1]}}, "tune.space.m", method="hyperopt")
    with pytest.raises(ConfigError, match=r"x: normal has no optuna equivalent"):
        search(quadratic, space, method="optuna")


def test_grid_evaluates_every_point_on_every_fold_in_parallel():
    seen: list[GridPoint] = []
    spans: list[tuple[float, float]] = []

    def evaluate(params: dict, fold: int) -> float:
        began = time.time()
        time.sleep(0.05)
        spans.append((began, time.time()))
        if params["depth"] == 8 and fold == 1:
            raise RuntimeError("fold 1 broke")
        return (params["depth"] - 5) ** 2 + fold

    result = grid_search(evaluate, {"depth": [3, 5, 8], "seed": 1}, folds=3, parallelism=2, on_result=seen.append)
    assert [p.params for p in result.points] == [
        {"depth": 3, "seed": 1},
        {"depth": 5, "seed": 1},
        {"depth": 8, "seed": 1},
    ]
    assert result.points[1].fold_losses == [0.0, 1.0, 2.0]
    assert result.points[1].mean == pytest.approx(1.0) and result.points[1].std == pytest.approx(math.sqrt(2 / 3))
    broken = result.points[2]
    assert broken.fold_losses == [9.0, None, 11.0] and broken.errors[1] == "RuntimeError: fold 1 broke"
    assert (broken.ok, broken.mean, broken.std) == (False, None, None)
    assert result.best_params == {"depth": 5, "seed": 1} and result.best_loss == pytest.approx(1.0)
    assert sorted(p.index for p in seen) == [0, 1, 2]
    spans.sort()
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), "no two evaluations overlapped"


def test_grid_single_split_and_point_lists():
    calls: list[int] = []
    result = grid_search(lambda p, fold: calls.append(fold) or p["a"], [{"a": 2}, {"a": 1}], folds=0)
    assert calls == [0, 0] and result.folds == 1
    assert result.best_params == {"a": 1} and result.points[0].std == 0.0
    with pytest.raises(ConfigError, match=r"parallelism must be an integer >= 1, got 0"):
        grid_search(lambda p, fold: 0.0, [{"a": 1}], parallelism=0)


def test_auto_trials_follow_the_model_kind():
    assert resolve_trials("auto", distributed=True) == "serial"
    assert resolve_trials("auto", distributed=True, parallelism=3) == "threads"
    assert resolve_trials("auto", distributed=False, parallelism=3) == "parallel"
    assert resolve_trials("spark", distributed=False) == "spark"


def test_a_dead_worker_fails_its_trial_and_the_search_goes_on(tmp_path):
    marker = tmp_path / "died-once"

    def objective(params: dict) -> float:
        import os

        if not marker.exists():
            marker.touch()
            os._exit(3)  # a worker killed mid-trial (out of memory, a crash in native code)
        return params["x"]

    result = search(objective, {"x": {"uniform": [0, 1]}}, max_evals=4, parallelism=2, trials="parallel", seed=0)
    assert len(result.trials) == 4 and len(result.ok_trials) >= 2
    assert all(t.error and "Error" in t.error for t in result.failed_trials)


def test_the_next_search_replaces_a_worker_pool_that_a_dead_worker_broke():
    from sparkwright.tune._executors import ProcessExecutor

    def dies(params: dict) -> float:
        import os

        os._exit(3)

    first = ProcessExecutor(dies, 2)
    outcome = first.submit({"x": 1.0})
    with pytest.raises(Exception, match="terminated"):
        outcome.result(timeout=60)
    first.close()

    second = ProcessExecutor(lambda params: params["x"] * 2, 2)  # shares the broken pool's slot
    try:
        loss, error, *_ = second.submit({"x": 1.5}).result(timeout=60)
    finally:
        second.close()
    assert (loss, error) == (3.0, None)
