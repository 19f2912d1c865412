"""Grid search: every point x every fold, ``parallelism`` evaluations at a time on driver threads or Spark tasks.

Each evaluation is typically a Spark ML fit (Spark jobs), and Spark runs jobs from several driver
threads at once, so threads are the default pool: no pickling, the session is shared. Fits of
single-node models can instead go to Spark tasks through joblib's Spark backend (``joblib-spark``).
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sparkwright.config.space import Choice, Fixed, grid_points, parse_space
from sparkwright.errors import ConfigError
from sparkwright.session import share_with_threads
from sparkwright.tune import _worker

GRID_EXECUTORS = ("threads", "joblib-spark")


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid and its loss on each fold.

    Attributes:
        index: Position in the grid (the first parameter varies slowest).
        params: The point.
        fold_losses: Loss per fold; None where that fold failed.
        errors: ``ExceptionType: message`` per fold, None where it succeeded.
        seconds: Summed wall time of its folds.
    """

    index: int
    params: dict[str, Any]
    fold_losses: list[float | None]
    errors: list[str | None]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(loss is not None for loss in self.fold_losses)

    @property
    def mean(self) -> float | None:
        """Mean loss over the folds; None when any fold failed."""
        return statistics.fmean(self.fold_losses) if self.ok else None  # type: ignore[arg-type]

    @property
    def std(self) -> float | None:
        """Population standard deviation over the folds (0 for one fold); None when any fold failed."""
        return statistics.pstdev(self.fold_losses) if self.ok else None  # type: ignore[arg-type]


@dataclass(frozen=True)
class GridResult:
    points: list[GridPoint]
    folds: int
    seconds: float

    @property
    def best_point(self) -> GridPoint | None:
        """The lowest mean loss (the earliest point on ties); None when every point failed."""
        ok = [p for p in self.points if p.ok]
        return min(ok, key=lambda p: (p.mean, p.index)) if ok else None

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.best_point
        return dict(best.params) if best else None

    @property
    def best_loss(self) -> float:
        best = self.best_point
        return best.mean if best and best.mean is not None else math.inf


def grid_search(
    evaluate: Callable[[dict[str, Any], int], float],
    points: Mapping[str, Any] | Sequence[dict[str, Any]],
    *,
    folds: int = 1,
    parallelism: int = 1,
    on_result: Callable[[GridPoint], None] | None = None,
    executor: str = "threads",
) -> GridResult:
    """Evaluate every grid point on every fold; a failing evaluation is recorded and the grid goes on.

    Args:
        evaluate: ``evaluate(params, fold_index) -> loss`` (lower is better). With ``folds`` < 2 it is
            called once per point with fold 0 (a train / validation split).
        points: A grid space (``parse_space(..., method="grid")``) or the list of points itself.
        folds: k of k-fold cross-validation; 0 or 1 for a single split.
        parallelism: Evaluations at once.
        on_result: Called on the calling thread with each :class:`GridPoint` once all its folds are done.
        executor: ``threads``: driver threads (evaluations that run Spark jobs, or any callable).
            ``joblib-spark``: joblib tasks on joblib's Spark backend (``joblibspark``) on the active
            SparkSession, ``parallelism`` (>= 2) Spark tasks at a time; ``evaluate`` must be picklable
            and must not use the SparkSession (it runs on an executor).

    Returns:
        Per-point, per-fold losses with their mean and standard deviation, and the best point.

    Raises:
        ConfigError: An argument is invalid, or ``joblib-spark`` cannot run (joblibspark missing,
            parallelism 1).

    Example:
        >>> result = grid_search(lambda p, fold: (p["a"] - 2) ** 2 + fold, {"a": Choice((1, 2, 3))}, folds=3)
        >>> result.best_params
        {'a': 2}
    """
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ConfigError(f"parallelism must be an integer >= 1, got {parallelism!r}.")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0:
        raise ConfigError(f"folds must be an integer >= 0, got {folds!r}.")
    if executor not in GRID_EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(GRID_EXECUTORS)}, got {executor!r}.")
    grid = _grid(points)
    if not grid:
        raise ConfigError("the grid has no points.")
    n_folds = max(folds, 1)
    outcomes: dict[int, list[_worker.Outcome | None]] = {i: [None] * n_folds for i in range(len(grid))}
    remaining = {i: n_folds for i in range(len(grid))}
    done_points: list[GridPoint] = []
    started = time.perf_counter()
    tasks = [(i, fold) for i in range(len(grid)) for fold in range(n_folds)]
    run = _on_spark if executor == "joblib-spark" else _on_threads
    with contextlib.closing(run(evaluate, grid, tasks, parallelism)) as finished:
        for (index, fold), outcome in finished:
            outcomes[index][fold] = outcome
            remaining[index] -= 1
            if remaining[index] == 0:
                point = _point(index, grid[index], outcomes[index])
                done_points.append(point)
                if on_result is not None:
                    on_result(point)
    return GridResult(sorted(done_points, key=lambda p: p.index), n_folds, time.perf_counter() - started)


_Task = tuple[int, int]  # (point index, fold)


def _on_threads(
    evaluate: Callable[[dict[str, Any], int], float],
    grid: list[dict[str, Any]],
    tasks: list[_Task],
    parallelism: int,
) -> Iterator[tuple[_Task, _worker.Outcome]]:
    """Evaluations on driver threads, yielded as they finish."""
    pending = iter(tasks)
    pool = ThreadPoolExecutor(parallelism, thread_name_prefix="sparkwright-grid", initializer=share_with_threads())
    in_flight: dict[Future[_worker.Outcome], _Task] = {}
    try:
        while True:
            # Submit lazily: a failing on_result stops the grid without a queue of evaluations behind it.
            while len(in_flight) < parallelism and (task := next(pending, None)) is not None:
                index, fold = task
                in_flight[pool.submit(_worker.evaluate, _with_fold(evaluate, fold), grid[index])] = task
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: in_flight[f]):
                task = in_flight.pop(future)
                yield task, future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _on_spark(
    evaluate: Callable[[dict[str, Any], int], float],
    grid: list[dict[str, Any]],
    tasks: list[_Task],
    parallelism: int,
) -> Iterator[tuple[_Task, _worker.Outcome]]:
    """Evaluations as joblib tasks on Spark, yielded in task order once all have finished."""
    from sparkwright.tune._joblib import run_on_spark

    calls = [(_with_fold(evaluate, fold), grid[index]) for index, fold in tasks]
    yield from zip(tasks, run_on_spark(calls, parallelism), strict=True)


def _grid(points: Mapping[str, Any] | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(points, Mapping):
        return [dict(p) for p in points]
    if all(isinstance(d, Choice | Fixed) for d in points.values()):
        return grid_points(points)
    return grid_points(parse_space(points, "space", "grid"))


def _with_fold(evaluate: Callable[[dict[str, Any], int], float], fold: int) -> Callable[[dict[str, Any]], float]:
    return lambda params: evaluate(params, fold)


def _point(index: int, params: dict[str, Any], outcomes: list[_worker.Outcome | None]) -> GridPoint:
    complete = [o for o in outcomes if o is not None]
    return GridPoint(
        index=index,
        params=params,
        fold_losses=[o[0] for o in complete],
        errors=[o[1] for o in complete],
        seconds=sum(o[3] - o[2] for o in complete),
    )
