"""``search``: one entry point over two backends (hyperopt, optuna) and four trial executors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

from sparkwright.config.checks import did_you_mean
from sparkwright.config.space import Distribution, parse_space
from sparkwright.errors import ConfigError
from sparkwright.session import is_connect
from sparkwright.tune import _executors
from sparkwright.tune._backends import ALGORITHMS, make_backend
from sparkwright.tune._types import Objective, SearchResult, StopReason, Trial

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

METHODS = ("hyperopt", "optuna")
EXECUTORS = ("serial", "threads", "parallel", "spark")

OnTrial = Callable[[Trial], None]


def search(
    objective: Objective,
    space: Mapping[str, Any],
    *,
    method: str = "hyperopt",
    algorithm: str = "tpe",
    max_evals: int = 20,
    timeout_seconds: float | None = None,
    early_stop_after: int | None = None,
    parallelism: int = 1,
    trials: str = "serial",
    seed: int = 42,
    on_trial: OnTrial | None = None,
    spark: SparkSession | None = None,
) -> SearchResult:
    """Minimise ``objective`` over ``space``; a trial that raises is recorded as failed and the search goes on.

    Args:
        objective: ``objective(params) -> loss``; lower is better (negate a higher-is-better metric).
        space: Parameter -> distribution (``sparkwright.config.space``), or the project file's raw
            ``{param: spec}`` mapping, which is parsed for ``method``.
        method: ``hyperopt`` or ``optuna``.
        algorithm: ``random``, ``tpe`` or ``atpe`` (adaptive TPE, hyperopt only).
        max_evals: Trials at most.
        timeout_seconds: No trial starts after this many seconds; running trials finish (SparkTrials
            cancels them instead).
        early_stop_after: Stop after this many finished trials in a row that did not improve the best
            loss (a failed trial does not improve it).
        parallelism: Trials in flight at once (``threads``, ``parallel`` and ``spark``).
        trials: Where trials run. ``serial``: one after another on this thread, for objectives that are
            distributed themselves (a Spark ML fit). ``threads``: driver threads, for objectives that run
            Spark jobs or release the GIL. ``parallel``: sparkwright's parallel executor for single-node
            Python objectives: a pool of worker processes on this machine when the session is local (or
            there is none), one Spark job per trial on a cluster or Spark Connect. ``spark``: hyperopt's
            ``SparkTrials`` (classic Spark only).
        seed: Seeds the algorithm: the same seed proposes the same points (serially; in parallel, TPE's
            points depend on which trials have finished, random search's do not).
        on_trial: Called on the calling thread with each finished :class:`Trial`, in the order they finish.
        spark: The session for ``trials="spark"`` and ``parallel``'s choice of pool; default: the active one.

    Returns:
        Every trial, the best one and why the search stopped.

    Raises:
        ConfigError: An argument is invalid, or the space cannot run with ``method`` / ``trials`` (e.g.
            ``trials="spark"`` on Spark Connect; the message names the alternatives).

    Example:
        >>> result = search(lambda p: (p["x"] - 3) ** 2, {"x": {"uniform": [-10, 10]}}, max_evals=30)
        >>> result.best_params
    """
    _check_arguments(method, algorithm, max_evals, timeout_seconds, early_stop_after, parallelism, trials)
    parsed = _parsed(space, method)
    if trials == "serial" and parallelism > 1:
        log.info("trials: serial runs one trial at a time; parallelism %d is not used", parallelism)
    if trials == "spark":
        from sparkwright.tune._sparktrials import run_spark_trials

        return run_spark_trials(
            objective, parsed, algorithm, max_evals, timeout_seconds, early_stop_after, parallelism, seed,
            on_trial, spark,
        )  # fmt: skip
    # The executor first: worker processes start while the backend imports and builds its space.
    executor = _make_executor(objective, trials, min(parallelism, max_evals), spark)
    try:
        backend = make_backend(method, parsed, algorithm, seed)
    except BaseException:
        executor.close(cancel=True)
        raise
    result = _run(backend, executor, max_evals, timeout_seconds, early_stop_after, on_trial)
    return SearchResult(
        trials=result[0], stopped_by=result[1], seconds=result[2], method=method, algorithm=algorithm,
        executor=executor.name,
    )  # fmt: skip


def resolve_trials(trials: str, *, distributed: bool, parallelism: int = 1) -> str:
    """The executor for the project file's ``tune.trials``, where ``auto`` depends on the model.

    ``auto``: a distributed objective (each trial a Spark ML fit) runs ``serial``, or on ``threads`` when
    ``parallelism`` > 1 (Spark runs the concurrent fits' jobs side by side); a single-node objective
    (scikit-learn on the driver) runs ``parallel``. Any other value is returned as it is.

    Example:
        >>> resolve_trials("auto", distributed=False)
        'parallel'
    """
    if trials != "auto":
        return trials
    if not distributed:
        return "parallel"
    return "threads" if parallelism > 1 else "serial"


class NoProgress:
    """The early-stop rule: ``after`` finished trials in a row without a new best loss."""

    def __init__(self, after: int | None):
        self.after = after
        self.best = float("inf")
        self.stale = 0

    def update(self, loss: float | None) -> bool:
        """Count one finished trial; True when the search should stop."""
        if loss is not None and loss < self.best:
            self.best, self.stale = loss, 0
        else:
            self.stale += 1
        return self.after is not None and self.stale >= self.after


def _run(
    backend: Any,
    executor: _executors.Executor,
    max_evals: int,
    timeout_seconds: float | None,
    early_stop_after: int | None,
    on_trial: OnTrial | None,
) -> tuple[list[Trial], StopReason, float]:
    """The driver loop: keep ``capacity`` trials in flight, ask for a point only when a slot is free."""
    started = time.perf_counter()
    progress = NoProgress(early_stop_after)
    in_flight: dict[Future[Any], tuple[int, Any, dict[str, Any]]] = {}
    finished: list[Trial] = []
    stopped_by: StopReason = "max_evals"
    stopping = False
    launched = 0
    try:
        while True:
            while not stopping and launched < max_evals and len(in_flight) < executor.capacity:
                if timeout_seconds is not None and time.perf_counter() - started >= timeout_seconds:
                    stopping, stopped_by = True, "timeout"
                    break
                token, params = backend.ask()
                in_flight[executor.submit(params)] = (launched, token, params)
                launched += 1
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: in_flight[f][0]):
                number, token, params = in_flight.pop(future)
                trial = _trial(number, params, future)
                backend.tell(token, trial.loss)
                finished.append(trial)
                if on_trial is not None:
                    on_trial(trial)
                if progress.update(trial.loss) and not stopping:
                    stopping, stopped_by = True, "early_stop"
    except BaseException:
        executor.close(cancel=True)
        raise
    executor.close()
    return sorted(finished, key=lambda t: t.number), stopped_by, time.perf_counter() - started


def _trial(number: int, params: dict[str, Any], future: Future[Any]) -> Trial:
    try:
        loss, error, began, ended = future.result()
    except Exception as exc:
        # The worker itself failed (a process killed, a Spark job lost), not the objective.
        now = time.time()
        first_line = (str(exc).splitlines() or [""])[0]
        return Trial(number, params, None, "failed", 0.0, f"{type(exc).__name__}: {first_line}", now, now)
    status = "ok" if error is None else "failed"
    return Trial(number, params, loss, status, ended - began, error, began, ended)


def _make_executor(
    objective: Objective, trials: str, parallelism: int, spark: SparkSession | None
) -> _executors.Executor:
    if trials == "serial":
        return _executors.SerialExecutor(objective)
    if trials == "threads":
        return _executors.ThreadExecutor(objective, parallelism)
    spark = spark if spark is not None else _active_session()
    if spark is not None and is_connect(spark):
        # A Connect client has no SparkContext; its cluster runs the trials as mapInPandas jobs.
        return _executors.SparkJobExecutor(objective, parallelism, spark, connect=True)
    if spark is not None and not spark.sparkContext.master.startswith("local"):
        return _executors.SparkJobExecutor(objective, parallelism, spark, connect=False)
    return _executors.ProcessExecutor(objective, parallelism)


def _active_session() -> SparkSession | None:
    import sys

    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _parsed(space: Mapping[str, Any], method: str) -> dict[str, Distribution]:
    """A parsed space as it is (checked against optuna's limits), or a raw YAML mapping parsed for ``method``."""
    if space and all(isinstance(dist, Distribution) for dist in space.values()):
        parsed = dict(space)
        if method == "optuna":
            from sparkwright.tune._spaces import to_optuna

            to_optuna(parsed)  # raises for normal, which a space parsed for hyperopt may hold
        return parsed
    return parse_space(space, "space", method)


def _check_arguments(
    method: str,
    algorithm: str,
    max_evals: int,
    timeout_seconds: float | None,
    early_stop_after: int | None,
    parallelism: int,
    trials: str,
) -> None:
    for name, value, allowed in (
        ("method", method, METHODS),
        ("algorithm", algorithm, ALGORITHMS),
        ("trials", trials, EXECUTORS),
    ):
        if value not in allowed:
            raise ConfigError(
                f"{name} must be one of {', '.join(allowed)}, got {value!r}." + did_you_mean(str(value), set(allowed))
            )
    for name, number, minimum in (("max_evals", max_evals, 1), ("parallelism", parallelism, 1)):
        if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {number!r}.")
    if early_stop_after is not None and (not isinstance(early_stop_after, int) or early_stop_after < 1):
        raise ConfigError(f"early_stop_after must be an integer >= 1 or None, got {early_stop_after!r}.")
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise ConfigError(f"timeout_seconds must be > 0 or None, got {timeout_seconds!r}.")
    if method == "optuna" and algorithm == "atpe":
        raise ConfigError(
            "optuna has no adaptive TPE (atpe); use algorithm: tpe (optuna's TPESampler) or method: hyperopt."
        )
    if method == "optuna" and trials == "spark":
        raise ConfigError(
            "trials: spark is hyperopt's SparkTrials; with method: optuna use trials: parallel (or threads)."
        )
