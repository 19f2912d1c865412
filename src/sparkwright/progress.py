"""How far a long piece of work is: counts done of planned, an ETA, and Spark's own task counts.

The formatting is pure (a progress bar's text); :class:`SparkTasks` reads the task counts of the Spark jobs a
block of code starts from the driver's status tracker (classic sessions only: Spark Connect has none). Nothing
here prints: the CLI's reporter draws it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_GROUP_KEY = "spark.jobGroup.id"
_DESCRIPTION_KEY = "spark.job.description"


def eta_seconds(done: float, planned: float | None, elapsed: float) -> float | None:
    """Seconds left at the average pace so far; None until something is done or when the plan is unknown."""
    if not planned or done <= 0 or elapsed <= 0:
        return None
    return max(0.0, elapsed / done * (planned - done))


def format_duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``: short enough for a progress line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def progress_text(done: int, planned: int | None, unit: str, elapsed: float) -> str:
    """``7/30 trials, ETA 1m 20s``; ``7 trials`` while the plan is unknown; no ETA before the first is done."""
    counted = f"{done:,}/{planned:,} {unit}" if planned else f"{done:,} {unit}"
    eta = eta_seconds(done, planned, elapsed)
    if eta is None or (planned is not None and done >= planned):
        return counted
    return f"{counted}, ETA {format_duration(eta)}"


@dataclass(frozen=True)
class TaskCounts:
    """The tasks of the Spark jobs started so far in a watched block: done, planned, and jobs seen."""

    done: int
    planned: int
    jobs: int

    def text(self, elapsed: float) -> str:
        """``Spark tasks 12/40 (2 jobs), ETA 30s``: the ETA holds for the jobs known so far (a later action adds
        its own tasks)."""
        if not self.jobs:
            return "waiting for the first Spark job"
        jobs = f" ({self.jobs} jobs)" if self.jobs > 1 else ""
        counted = progress_text(self.done, self.planned, "Spark tasks", elapsed)
        head, _, eta = counted.partition(", ")
        return f"{head}{jobs}" + (f", {eta}" if eta else "")


class SparkTasks:
    """Tags the jobs this thread starts inside ``with`` with a job group and counts their tasks.

    Over Spark Connect (no SparkContext on the client) :attr:`available` is False and :meth:`counts` is None:
    the caller shows a spinner instead.
    """

    def __init__(self, spark: SparkSession, description: str):
        self._spark, self._description = spark, description
        self._group = f"sparkwright-{uuid.uuid4().hex[:12]}"
        self._context: Any = None
        self._previous: tuple[str | None, str | None] = (None, None)

    @property
    def available(self) -> bool:
        from sparkwright.session import is_connect

        return not is_connect(self._spark)

    def __enter__(self) -> SparkTasks:
        if self.available:
            self._context = self._spark.sparkContext
            self._previous = (
                self._context.getLocalProperty(_GROUP_KEY),
                self._context.getLocalProperty(_DESCRIPTION_KEY),
            )
            self._context.setJobGroup(self._group, self._description)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._context is not None:
            group, description = self._previous
            self._context.setLocalProperty(_GROUP_KEY, group)
            self._context.setLocalProperty(_DESCRIPTION_KEY, description)

    def counts(self) -> TaskCounts | None:
        """Tasks done and planned over every job of the block so far (read from another thread while it runs)."""
        if self._context is None:
            return None
        tracker = self._context.statusTracker()
        done = planned = jobs = 0
        for job_id in tracker.getJobIdsForGroup(self._group):
            job = tracker.getJobInfo(job_id)
            if job is None:
                continue
            jobs += 1
            stages = [s for s in (tracker.getStageInfo(i) for i in job.stageIds) if s is not None]
            job_done, job_planned = job_tasks(job.status, stages)
            done, planned = done + job_done, planned + job_planned
        return TaskCounts(done, planned, jobs)


def job_tasks(status: str, stages: list[Any]) -> tuple[int, int]:
    """(tasks done, tasks planned) of one job from its stages' ``numTasks`` / ``numCompletedTasks``.

    A stage whose output is already there (cached, or a shuffle an earlier job wrote) is listed but skipped: a
    finished job counts only the tasks that ran; a running job leaves out the stages that never started and
    come before one that did (stages run parents first, and parents have the lower ids).
    """
    if status != "RUNNING":
        ran = sum(s.numCompletedTasks for s in stages)
        return ran, ran
    started = [s.stageId for s in stages if s.numCompletedTasks or s.numActiveTasks or s.numFailedTasks]
    latest = max(started, default=-1)
    kept = [s for s in stages if s.stageId >= latest or s.stageId in started]
    return sum(s.numCompletedTasks for s in kept), sum(s.numTasks for s in kept)
