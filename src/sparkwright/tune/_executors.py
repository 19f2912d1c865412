"""Where trials run: inline, in threads, in a process pool, or as Spark jobs.

Each executor takes ``submit(params) -> Future[Outcome]``; the search loop on the driver keeps at most
``capacity`` trials in flight and asks the algorithm for the next point only when one finishes, so TPE
sees every result that exists when it proposes (hyperopt's ``max_queue_len`` = parallelism).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from sparkwright.errors import ConfigError
from sparkwright.session import share_with_threads
from sparkwright.tune import _worker

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

ObjectiveFn = Callable[[dict[str, Any]], Any]


class Executor:
    """Runs one trial per ``submit``; ``capacity`` trials at most at a time."""

    name = ""

    def __init__(self, capacity: int):
        self.capacity = capacity

    def submit(self, params: dict[str, Any]) -> Future[_worker.Outcome]:
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        """Release workers; ``cancel`` drops trials not yet started (after an error on the driver)."""


class SerialExecutor(Executor):
    """On the calling thread, one at a time: for objectives that are themselves distributed (a Spark ML fit)."""

    name = "serial"

    def __init__(self, objective: ObjectiveFn):
        super().__init__(1)
        self._objective = objective

    def submit(self, params: dict[str, Any]) -> Future[_worker.Outcome]:
        future: Future[_worker.Outcome] = Future()
        future.set_result(_worker.evaluate(self._objective, params))
        return future


class ThreadExecutor(Executor):
    """Driver threads: right when each trial is Spark jobs (Spark runs jobs from several threads at once)
    or releases the GIL; CPU-bound Python objectives need :class:`ProcessExecutor`."""

    name = "threads"

    def __init__(self, objective: ObjectiveFn, parallelism: int):
        super().__init__(parallelism)
        self._objective = objective
        self._pool = ThreadPoolExecutor(
            parallelism, thread_name_prefix="sparkwright-trial", initializer=share_with_threads()
        )

    def submit(self, params: dict[str, Any]) -> Future[_worker.Outcome]:
        return self._pool.submit(_worker.evaluate, self._objective, params)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


class ProcessExecutor(Executor):
    """Worker processes on this machine: ``parallelism`` trials at a time, a few milliseconds of overhead each.

    Workers are loky processes (joblib's, which scikit-learn brings): fresh interpreters started by
    fork + exec, so they inherit neither the driver's JVM gateway nor its threads, and unlike
    multiprocessing's spawn they do not re-run the caller's ``__main__`` script. The pool is shared by the
    searches of one driver process (a run tunes one model after another) and a worker exits after
    ``IDLE_SECONDS`` without work, releasing the objective and the data it holds.

    Each search writes its objective once to a file (cloudpickle: closures and notebook functions work);
    a worker loads it on its first trial of that search and keeps it, so a trial ships only its params
    and returns (loss, error, start, end) through a pipe, with no polling.
    """

    name = "processes"
    IDLE_SECONDS = 60

    _pools: ClassVar[dict[int, Any]] = {}
    _pools_lock = threading.Lock()

    def __init__(self, objective: ObjectiveFn, parallelism: int, *, detailed: bool = False):
        super().__init__(parallelism)
        import cloudpickle

        # detailed: the objective returns a dict (the budgeted search), see _worker.evaluate_detailed.
        self._run = _worker.run_detailed_from_file if detailed else _worker.run_from_file

        try:
            payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ConfigError(
                f"trials: parallel runs the objective in worker processes, so it must be picklable "
                f"(cloudpickle), but pickling it failed: {type(exc).__name__}: {exc}. Make it a function "
                "of plain data (no SparkSession, locks or open connections), or use trials: threads / serial."
            ) from exc
        with tempfile.NamedTemporaryFile(prefix="sparkwright-objective-", suffix=".pkl", delete=False) as file:
            file.write(payload)
        self._objective_file = file.name
        self._key = uuid.uuid4().hex
        self._pool = self._shared_pool()

    def _shared_pool(self, replace_broken: bool = False) -> Any:
        from joblib.externals.loky import ProcessPoolExecutor
        from joblib.externals.loky.process_executor import BrokenProcessPool, ShutdownExecutorError

        with self._pools_lock:
            pool = self._pools.get(self.capacity)
            if pool is None or replace_broken:
                if pool is not None:
                    pool.shutdown(wait=False, kill_workers=True)
                pool = self._pools[self.capacity] = ProcessPoolExecutor(self.capacity, timeout=self.IDLE_SECONDS)
                # loky warns when a worker idles out while others still work (a long trial in a round):
                # that is the IDLE_SECONDS release working as meant, and the pool starts a new worker.
                warnings.filterwarnings("ignore", message="A worker stopped while some jobs", category=UserWarning)
                if len(self._pools) == 1:
                    atexit.register(_shutdown_pools)
        # Start the workers now (a no-op task): they boot while the driver prepares the first points.
        try:
            pool.submit(_worker.ready)
        except (BrokenProcessPool, ShutdownExecutorError):
            if replace_broken:
                raise
            # A worker of the shared pool died since the last search (killed, out of memory): start afresh.
            return self._shared_pool(replace_broken=True)
        return pool

    def submit(self, params: dict[str, Any]) -> Future[_worker.Outcome]:
        from joblib.externals.loky.process_executor import BrokenProcessPool, ShutdownExecutorError

        try:
            return self._pool.submit(self._run, self._key, self._objective_file, params)
        except (BrokenProcessPool, ShutdownExecutorError, RuntimeError):
            # A worker died (killed, out of memory): its trial is recorded as failed; start a new pool.
            log.warning("a tuning worker process died; starting a new pool")
            self._pool = self._shared_pool(replace_broken=True)
            return self._pool.submit(self._run, self._key, self._objective_file, params)

    def close(self, cancel: bool = False) -> None:
        if cancel:
            # Trials already running cannot be interrupted one by one: stop this pool's workers.
            self._shared_pool(replace_broken=True)
        with contextlib.suppress(OSError):
            os.unlink(self._objective_file)


def _shutdown_pools() -> None:
    for pool in ProcessExecutor._pools.values():
        pool.shutdown(wait=False, kill_workers=True)


class SparkJobExecutor(Executor):
    """One Spark job of one task per trial, ``parallelism`` jobs at a time from driver threads.

    For a cluster: trials run on the executors. On classic Spark the objective is broadcast once and
    unpickled once per Python worker; on Spark Connect it travels in each job's plan. A job returns only
    the outcome, so there is no polling: the driver learns of a finished trial when its job ends. The
    code that runs on executors is plain functions pickled by value: sparkwright need not be installed
    there (the objective's own imports must be).
    """

    name = "spark-jobs"

    def __init__(self, objective: ObjectiveFn, parallelism: int, spark: SparkSession, connect: bool):
        super().__init__(parallelism)
        from pyspark import cloudpickle

        self._spark = spark
        self._connect = connect
        try:
            payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ConfigError(
                f"trials: parallel on a cluster runs the objective on Spark executors, so it must be picklable, "
                f"but pickling it failed: {type(exc).__name__}: {exc}. Use trials: serial / threads instead."
            ) from exc
        self._run = _dataframe_job(spark, payload) if connect else _rdd_job(spark, payload)
        self._pool = ThreadPoolExecutor(
            parallelism, thread_name_prefix="sparkwright-trial-job", initializer=share_with_threads()
        )

    def submit(self, params: dict[str, Any]) -> Future[_worker.Outcome]:
        return self._pool.submit(self._run, params)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def _rdd_job(spark: SparkSession, payload: bytes) -> Callable[[dict[str, Any]], _worker.Outcome]:
    """Classic Spark: a one-partition RDD job per trial; the objective is a broadcast, unpickled once per worker."""
    context = spark.sparkContext
    broadcast = context.broadcast(payload)
    run_trial = _executor_side_trial()

    def run(params: dict[str, Any]) -> _worker.Outcome:
        def task(rows: Any) -> Any:
            for _ in rows:
                pass  # a worker that leaves its input unread is not reused: read it, keep the worker warm
            # The Broadcast object outlives the task in a reused Python worker: cache the objective on it.
            objective = getattr(broadcast, "_sparkwright_objective", None)
            if objective is None:
                objective = pickle.loads(broadcast.value)
                broadcast._sparkwright_objective = objective  # type: ignore[attr-defined]
            yield run_trial(objective, params)

        return tuple(context.parallelize([0], 1).mapPartitions(task).collect()[0])  # type: ignore[return-value]

    return run


def _dataframe_job(spark: SparkSession, payload: bytes) -> Callable[[dict[str, Any]], _worker.Outcome]:
    """Spark Connect (no SparkContext): a one-partition ``mapInPandas`` job per trial."""
    run_trial = _executor_side_trial()
    schema = "loss double, error string, started double, ended double"

    def run(params: dict[str, Any]) -> _worker.Outcome:
        def task(batches: Any) -> Any:
            import pandas as pd

            for _ in batches:
                pass
            # The objective travels in the job's plan, so it is unpickled once per trial.
            objective = pickle.loads(payload)
            loss, error, started, ended = run_trial(objective, params)
            yield pd.DataFrame({"loss": [loss], "error": [error], "started": [started], "ended": [ended]})

        row = spark.range(1, numPartitions=1).mapInPandas(task, schema).collect()[0]
        loss = None if row["loss"] is None else float(row["loss"])
        return loss, row["error"], float(row["started"]), float(row["ended"])

    return run


def _executor_side_trial() -> Callable[[Any, dict[str, Any]], _worker.Outcome]:
    """``_worker.evaluate`` as a closure, so Spark pickles it by value (sparkwright is not needed on executors)."""

    def run_trial(objective: Any, params: dict[str, Any]) -> _worker.Outcome:
        import math
        import time

        started = time.time()
        try:
            value = objective(params)
            try:
                loss = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"the objective must return a number (a loss), got {value!r}") from None
            if not math.isfinite(loss):
                raise ValueError(f"the objective returned a non-finite loss ({loss})")
            error = None
        except Exception as exc:
            loss, error = None, f"{type(exc).__name__}: {exc}"
        return loss, error, started, time.time()

    return run_trial
