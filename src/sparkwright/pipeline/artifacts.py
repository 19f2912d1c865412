"""Artifact logging on a worker thread, overlapping the next model's training."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sparkwright.tracking import Tracker


class ArtifactWriter:
    """Logs plots and model files on one worker thread while Spark trains the next model.

    Saving a model and rendering plots take seconds of mostly driver-side work per model; overlapping
    them with the next fit keeps the main job close to a hand-written script's time. A failure marks
    its run FAILED and is raised by :meth:`wait`.
    """

    def __init__(self, tracker: Tracker, *, inline: bool = False):
        """``inline``: write each task at once on the calling thread. Spark Connect needs it: a Connect session
        is active only on the thread that made it, and Spark ML's remote calls (saving a model) need one."""
        from concurrent.futures import ThreadPoolExecutor

        self._tracker = tracker
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkwright-artifacts")
        self._inline = inline
        self._futures: list[Future[None]] = []

    def submit(self, run_id: str, task: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                task()
            except BaseException:
                self._tracker.client.set_terminated(run_id, status="FAILED")
                raise

        if self._inline:
            guarded()
        else:
            self._futures.append(self._pool.submit(guarded))

    def wait(self) -> None:
        """Block until everything submitted is written; re-raise the first failure."""
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)
