"""``trials="spark"``: hyperopt's own ``SparkTrials``, for parity with hyperopt users' setups.

SparkTrials runs each trial as a one-task Spark job and polls for results once a second; sparkwright's
``trials="parallel"`` is usually faster (see BENCHMARKS.md). It needs a classic SparkContext: on Spark
Connect it is refused with the alternatives.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sparkwright.config.space import Distribution
from sparkwright.errors import ConfigError
from sparkwright.tune import _spaces
from sparkwright.tune._types import Objective, SearchResult, StopReason, Trial

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_ALTERNATIVES = (
    "use trials: parallel (sparkwright's parallel executor, which runs on Spark Connect too) or method: optuna"
)


def run_spark_trials(
    objective: Objective,
    space: Mapping[str, Distribution],
    algorithm: str,
    max_evals: int,
    timeout_seconds: float | None,
    early_stop_after: int | None,
    parallelism: int,
    seed: int,
    on_trial: Callable[[Trial], None] | None,
    spark: SparkSession | None,
) -> SearchResult:
    import numpy as np
    from hyperopt import atpe, fmin, rand, tpe
    from hyperopt.exceptions import AllTrialsFailed

    from sparkwright.session import is_connect
    from sparkwright.tune._backends import _quiet, _require_atpe_packages
    from sparkwright.tune._search import NoProgress, _active_session

    spark = spark if spark is not None else _active_session()
    if spark is None:
        raise ConfigError(
            f"trials: spark (hyperopt's SparkTrials) needs a SparkSession and none is active; {_ALTERNATIVES}."
        )
    if is_connect(spark):
        raise ConfigError(
            "trials: spark (hyperopt's SparkTrials) needs a classic SparkContext, and this session is Spark "
            f"Connect, which has none; {_ALTERNATIVES}."
        )
    if algorithm == "atpe":
        _require_atpe_packages()
    spark_trials = _new_spark_trials(spark, parallelism)
    convert = _spaces.converter(space)
    wrapped = _hyperopt_objective(objective, convert)
    algo = {"random": rand.suggest, "tpe": tpe.suggest, "atpe": atpe.suggest}[algorithm]

    # SparkTrials checks the early-stop function in its dispatcher thread each time a trial succeeds;
    # it is stateless here (recomputed from all finished trials in finishing order) for that reason.
    def early_stop(trials: Any, *_: Any) -> tuple[bool, list[Any]]:
        progress = NoProgress(early_stop_after)
        stop = False
        for doc in _finished_docs(trials):
            stop = progress.update(_outcome(doc)[0]) or stop
        return stop, []

    failure: list[BaseException] = []

    def run_fmin() -> None:
        try:
            with _quiet("hyperopt"), warnings.catch_warnings():
                # pyspark's note that SparkTrials' threads do not inherit job tags: nothing to act on.
                warnings.filterwarnings("ignore", message="Spark session is not provided")
                fmin(
                    wrapped, _spaces.to_hyperopt(space), algo=algo, max_evals=max_evals, timeout=timeout_seconds,
                    trials=spark_trials, rstate=np.random.default_rng(seed), max_queue_len=parallelism,
                    early_stop_fn=early_stop if early_stop_after else None, verbose=False, return_argmin=False,
                    show_progressbar=False,
                )  # fmt: skip
        except AllTrialsFailed:
            pass  # fmin's closing argmin; the failed trials are reported like any others
        except BaseException as exc:
            failure.append(exc)

    started = time.perf_counter()
    worker = threading.Thread(target=run_fmin, name="sparkwright-sparktrials", daemon=True)
    worker.start()
    reported: set[int] = set()
    trials_out: list[Trial] = []

    def report() -> None:
        for doc in _finished_docs(spark_trials):
            if doc["tid"] in reported:
                continue
            reported.add(doc["tid"])
            trial = _trial(doc, convert)
            trials_out.append(trial)
            if on_trial is not None:
                on_trial(trial)

    # on_trial runs here, on the calling thread, as trials finish.
    while worker.is_alive():
        worker.join(0.1)
        report()
    report()
    if failure:
        raise failure[0]
    reason = spark_trials.fmin_cancelled_reason or ""
    stopped_by: StopReason = "timeout" if "timeout" in reason else "early_stop" if "early" in reason else "max_evals"
    return SearchResult(
        trials=sorted(trials_out, key=lambda t: t.number), stopped_by=stopped_by,
        seconds=time.perf_counter() - started, method="hyperopt", algorithm=algorithm, executor="sparktrials",
    )  # fmt: skip


def _new_spark_trials(spark: SparkSession, parallelism: int) -> Any:
    from hyperopt import SparkTrials

    try:
        return SparkTrials(parallelism=parallelism, spark_session=spark)
    except Exception as exc:
        raise ConfigError(
            f"hyperopt's SparkTrials cannot run with this session ({type(exc).__name__}: {exc}); {_ALTERNATIVES}."
        ) from exc


def _hyperopt_objective(objective: Objective, convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Any:
    """The objective as SparkTrials calls it, on an executor: never raises; the outcome rides in the result.

    A closure over builtins only, so Spark pickles it by value.
    """

    def run(raw: Mapping[str, Any]) -> dict[str, Any]:
        import math
        import time

        started = time.time()
        try:
            loss = float(objective(convert(raw)))
            if not math.isfinite(loss):
                raise ValueError(f"the objective returned a non-finite loss ({loss})")
            error = None
        except Exception as exc:
            loss, error = None, f"{type(exc).__name__}: {exc}"
        outcome = [loss, error, started, time.time()]
        if error is None:
            return {"status": "ok", "loss": loss, "sparkwright": outcome}
        return {"status": "fail", "sparkwright": outcome}

    return run


def _finished_docs(trials: Any) -> list[dict[str, Any]]:
    """Done (ok or failed) and cancelled trials, in the order they finished."""
    from hyperopt import base

    final = (base.JOB_STATE_DONE, base.JOB_STATE_ERROR, base.JOB_STATE_CANCEL)
    docs = [doc for doc in list(trials._dynamic_trials) if doc["state"] in final]
    return sorted(docs, key=lambda doc: (_outcome(doc)[3], doc["tid"]))


def _outcome(doc: dict[str, Any]) -> list[Any]:
    outcome = (doc.get("result") or {}).get("sparkwright")
    if outcome is not None:
        return outcome
    error_type, message = (doc.get("misc") or {}).get("error") or ("", "cancelled")
    return [None, f"{error_type}: {message}".strip(": "), 0.0, 0.0]


def _trial(doc: dict[str, Any], convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Trial:
    from hyperopt import base

    raw = {name: values[0] for name, values in doc["misc"]["vals"].items() if values}
    loss, error, started, ended = _outcome(doc)
    status = "cancelled" if doc["state"] == base.JOB_STATE_CANCEL else "ok" if error is None else "failed"
    return Trial(doc["tid"], convert(raw), loss, status, max(0.0, ended - started), error, started, ended)
