"""``sparkwright lake``: a Delta table's history, its rows at any version, and restoring an old version.

A TABLE is a path (or URL) to a Delta table, or ``<project>/<table>`` inside the workspace, e.g.
``hotel-prices/bronze``. pyspark is imported inside the commands, so ``sparkwright --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from sparkwright.cli.common import WorkspaceOption, app, console, user_errors
from sparkwright.cli.tables import existing_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

lake_app = typer.Typer(no_args_is_help=True, help="Delta tables: history, time travel, restore.")
app.add_typer(lake_app, name="lake", help="Delta tables: history, time travel (show --version/--timestamp), restore.")

TableArgument = Annotated[
    str,
    typer.Argument(help="A Delta table: a path or URL, or <project>/<table> in the workspace (hotel-prices/bronze)."),
]
# Metrics worth a column: rows written by WRITE, MERGE, RESTORE, DELETE and UPDATE commits.
_METRICS = {
    "numOutputRows": "rows written",
    "numTargetRowsInserted": "inserted",
    "numTargetRowsUpdated": "updated",
    "numTargetRowsDeleted": "deleted",
    "numUpdatedRows": "updated",
    "numDeletedRows": "deleted",
    "numRestoredFiles": "files restored",
}


@lake_app.command("history")
def history_command(
    table: TableArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show the newest N commits.", min=1)] = 20,
    workspace: WorkspaceOption = None,
) -> None:
    """List a table's commits, newest first: version, time, operation and rows written."""
    with user_errors():
        from sparkwright.data import lake

        path = existing_table(table, workspace)
        commits = lake.table_history(_session(), path, limit=limit)
        out = Table(title=f"History of {path}", title_justify="left")
        for column in ("version", "timestamp", "operation", "mode", "metrics"):
            out.add_column(column, justify="right" if column == "version" else "left")
        for commit in commits:
            params = commit.get("operationParameters") or {}
            out.add_row(
                str(commit["version"]),
                f"{commit['timestamp']:%Y-%m-%d %H:%M:%S}",
                commit["operation"],
                params.get("mode", ""),
                _metrics_text(commit.get("operationMetrics") or {}),
            )
        console.print(out)


@lake_app.command("show")
def show_command(
    table: TableArgument,
    version: Annotated[int | None, typer.Option("--version", help="Show the table as of this version.", min=0)] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="Show the table as of this time, e.g. '2024-05-01 12:00:00'.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most N rows.", min=1)] = 20,
    workspace: WorkspaceOption = None,
) -> None:
    """Print a table's rows, now or as of an earlier version or time (time travel)."""
    with user_errors():
        from sparkwright.data import lake

        if version is not None and timestamp is not None:
            raise typer.BadParameter("give --version or --timestamp, not both.")
        path = existing_table(table, workspace)
        df = lake.read_table(_session(), path, version=version, timestamp=timestamp)
        rows = df.limit(limit).collect()
        when = f"version {version}" if version is not None else f"as of {timestamp}" if timestamp else "latest"
        out = Table(title=f"{path} ({when}; first {len(rows)} rows)", title_justify="left")
        for column in df.columns:
            out.add_column(column)
        for row in rows:
            out.add_row(*("" if value is None else str(value) for value in row))
        console.print(out)


@lake_app.command("restore")
def restore_command(
    table: TableArgument,
    version: Annotated[int, typer.Option("--version", help="The version to make current again.", min=0)],
    workspace: WorkspaceOption = None,
) -> None:
    """Make an earlier version current again, as a new commit (the history is kept)."""
    with user_errors():
        from sparkwright.data import lake

        path = existing_table(table, workspace)
        new_version = lake.restore_table(_session(), path, version)
        console.print(f"[green]✓[/] restored {path} to version {version}; it is now version {new_version}.")


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{label} {metrics[key]}" for key, label in _METRICS.items() if metrics.get(key) not in (None, ""))


def _session() -> SparkSession:
    from sparkwright.session import get_session

    return get_session()
