"""Evaluations as joblib tasks on joblib's Spark backend (``joblibspark``): ``tune.trials: joblib-spark``.

joblib's ``spark`` backend runs each batch of calls as a one-task Spark job on the active SparkSession,
``n_jobs`` jobs at a time, so the fits of a grid run on the executors of whatever cluster the session
is attached to (the local session's own cores in local mode).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from sparkwright.errors import ConfigError
from sparkwright.tune import _worker

PACKAGE = "joblibspark>=0.6,<1"


def require_joblibspark() -> None:
    """Check that joblibspark imports (its package only: no Spark is started).

    Raises:
        ConfigError: It does not; the message names the package to install and the alternative.
    """
    try:
        import joblibspark  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"trials: joblib-spark runs the fits through joblib's Spark backend, which needs the joblibspark "
            f"package, and it does not import ({exc}); install it with pip install '{PACKAGE}', or use "
            "trials: parallel.",
            "tune.trials",
        ) from None


def run_on_spark(
    calls: Sequence[tuple[Callable[[dict[str, Any]], Any], dict[str, Any]]], n_jobs: int
) -> list[_worker.Outcome]:
    """Run ``objective(params)`` for each call as joblib tasks on Spark; every call's outcome, in order.

    Each outcome is ``(loss, error, started, ended)``, as :func:`sparkwright.tune._worker.evaluate`
    returns it: a call that raises fails alone. The outcomes come back together when the last call ends
    (joblibspark cannot return them as they finish). ``n_jobs`` must be at least 2: joblib runs
    ``n_jobs=1`` sequentially on the calling thread, never in Spark.

    Raises:
        ConfigError: joblibspark does not import, or ``n_jobs`` < 2.
    """
    if n_jobs < 2:
        raise ConfigError(
            f"joblib runs n_jobs=1 on the driver, not in Spark; trials: joblib-spark needs parallelism >= 2, "
            f"got {n_jobs}.",
            "tune.parallelism",
        )
    require_joblibspark()
    from joblib import Parallel, delayed, parallel_config
    from joblibspark import register_spark

    register_spark()
    with warnings.catch_warnings():
        # joblibspark warns on every backend start that local mode (and, wrongly, any cluster) has no
        # stage-level scheduling; it runs one task per batch either way.
        warnings.filterwarnings("ignore", message=r".*stage-level scheduling", category=UserWarning)
        # pyspark's inheritable_thread_target, called by joblibspark without a session: job tags are not
        # copied to its threads, which joblibspark does not use (it sets its own job group).
        warnings.filterwarnings("ignore", message=r"Spark session is not provided", category=UserWarning)
        with parallel_config(backend="spark", n_jobs=n_jobs):
            return Parallel()(delayed(_worker.evaluate)(objective, params) for objective, params in calls)
