"""What every command shares: the Typer app, consoles, common options, error handling and progress."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from sparkwright.errors import ConfigError, DataError, ModelError, SparkwrightError

if TYPE_CHECKING:
    from sparkwright.registry import Registry
    from sparkwright.workspace import Workspace

app = typer.Typer(
    name="sparkwright",
    help="Scalable machine learning on Apache Spark: Delta Lake data, Spark ML models, MLflow tracking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) is not cut to 80 columns: the leaderboard needs about 100.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)

EXIT_CODES: dict[type[SparkwrightError], int] = {ConfigError: 2, DataError: 3, ModelError: 4}


@app.callback()
def _global_options(
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow tracking store of every command, e.g. http://mlflow.team:5000 (a shared server) "
            "\\[default: SPARKWRIGHT_TRACKING_URI, else MLFLOW_TRACKING_URI, else SQLite in the workspace].",
        ),
    ] = None,
) -> None:
    """Scalable machine learning on Apache Spark: Delta Lake data, Spark ML models, MLflow tracking."""
    if tracking_uri:
        from sparkwright.settings import get_settings

        os.environ["SPARKWRIGHT_TRACKING_URI"] = tracking_uri  # also seen by the processes a command starts
        get_settings.cache_clear()


WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder \\[default: SPARKWRIGHT_WORKSPACE or ./sparkwright-workspace]."
    ),
]
MasterOption = Annotated[str | None, typer.Option("--master", help="Spark master URL, e.g. spark://host:7077.")]
RemoteOption = Annotated[str | None, typer.Option("--remote", help="Spark Connect URL, e.g. sc://host:15002.")]
ConfOption = Annotated[
    list[str] | None, typer.Option("--conf", help="Extra Spark conf KEY=VALUE (repeatable).", metavar="KEY=VALUE")
]
ModelOption = Annotated[str, typer.Option("--model", help="models:/<name>@<alias> or models:/<name>/<version>.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show sparkwright's INFO logs.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn sparkwright errors into one red line and a documented exit code (no traceback)."""
    try:
        yield
    except SparkwrightError as exc:
        code = next((c for kind, c in EXIT_CODES.items() if isinstance(exc, kind)), 5)
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None
    except Exception as exc:
        if not _is_spark_failure(exc):
            raise
        logging.getLogger(__name__).info("Spark failed", exc_info=exc)  # -v shows it
        err_console.print(
            f"[bold red]error:[/] Spark failed: {escape(spark_failure_summary(exc))} (Spark's log above has the "
            "details; -v adds the Python traceback)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(5) from None


def _is_spark_failure(exc: BaseException) -> bool:
    """A PySpark or Py4J exception, told by its module so that the CLI need not import pyspark."""
    return type(exc).__module__.split(".")[0] in {"pyspark", "py4j"}


def spark_failure_summary(exc: BaseException, limit: int = 400) -> str:
    """The first line of a Spark error that says what went wrong (not Py4J's "An error occurred while calling")."""
    lines = [line.strip().lstrip(": ") for line in str(exc).splitlines() if line.strip().lstrip(": ")]
    meaningful = [line for line in lines if not line.startswith("An error occurred while calling")]
    first = (meaningful or lines or [type(exc).__name__])[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


class RichReporter:
    """Shows one spinner per stage and a check mark with its duration when it ends."""

    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[None]:
        started = time.perf_counter()
        with console.status(f"{description} ..."):
            yield
        console.print(f"[green]✓[/] {description} [dim]({time.perf_counter() - started:.1f}s)[/]")

    @contextmanager
    def trials(self, description: str) -> Iterator[Callable[[int, int, float | None], None]]:
        """A progress bar over a search's trials: done / planned, the ETA at the pace so far, the best score."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from sparkwright.progress import progress_text

        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[state]}")]
        with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(description, total=None, state="starting")
            started = time.perf_counter()

            def update(done: int, planned: int, best: float | None) -> None:
                state = progress_text(done, planned, "trials", time.perf_counter() - started)
                shown = "" if best is None else f", best {best:.4g}"
                progress.update(task, completed=done, total=planned, state=state + shown)

            yield update

    @contextmanager
    def budget(self, description: str, seconds: float) -> Iterator[Callable[[Any], None]]:
        """A bar over the search's time budget: trials done, the best score and family so far, time left."""
        from rich.progress import BarColumn, Progress, TextColumn

        from sparkwright.progress import format_duration

        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[state]}")]
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(description, total=seconds, state="starting")

            def update(state: Any) -> None:
                best = "" if state.best_loss is None else f", best {abs(state.best_loss):.4g} ({state.best_family})"
                progress.update(
                    task,
                    completed=seconds - state.seconds_left,
                    state=f"{state.done} trials{best}, {format_duration(state.seconds_left)} left",
                )

            yield update

    @contextmanager
    def spark_tasks(self, name: str, description: str, spark: Any) -> Iterator[None]:
        """A bar over the tasks of the Spark jobs the block starts (done / planned, ETA), then a check mark.

        Over Spark Connect the client cannot see task counts: a spinner instead.
        """
        from sparkwright.progress import SparkTasks

        started = time.perf_counter()
        with SparkTasks(spark, description) as tasks:
            if not tasks.available:
                with console.status(f"{description} ..."):
                    yield
            else:
                with _TaskBar(description, tasks):
                    yield
        console.print(f"[green]✓[/] {description} [dim]({time.perf_counter() - started:.1f}s)[/]")

    def info(self, message: str) -> None:
        console.print(message)


class _TaskBar:
    """A transient Rich bar refreshed from :class:`~sparkwright.progress.SparkTasks` on a daemon thread."""

    _EVERY_SECONDS = 0.5

    def __init__(self, description: str, tasks: Any):
        import threading

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._tasks = tasks
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(description, total=None, state="starting")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="sparkwright-progress", daemon=True)

    def __enter__(self) -> _TaskBar:
        self._started = time.perf_counter()
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._progress.stop()

    def _poll(self) -> None:
        while not self._stop.wait(self._EVERY_SECONDS):
            try:
                counts = self._tasks.counts()
            except Exception:  # the status tracker is a convenience: a failed read must not fail the work
                return
            if counts is not None:
                state = counts.text(time.perf_counter() - self._started)
                self._progress.update(self._task, completed=counts.done, total=counts.planned or None, state=state)


def workspace_registry(workspace: Path | None) -> tuple[Workspace, Registry]:
    """The workspace and its model registry (MLflow only: no Spark starts)."""
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(workspace)
    return ws, Registry(Tracker(ws.tracking_uri, ws.artifacts))


def parse_spark_conf(pairs: list[str] | None) -> dict[str, str]:
    conf = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--conf expects KEY=VALUE, got {pair!r}; e.g. --conf spark.executor.memory=4g.")
        conf[key.strip()] = value.strip()
    return conf


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
