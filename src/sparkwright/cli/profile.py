"""The ``profile`` command: an exploration report of a project's source or lake table."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sparkwright.cli.common import VerboseOption, WorkspaceOption, app, configure_logging, console, user_errors


class TableChoice(StrEnum):
    """What to profile: the raw source file, or one of the project's Delta tables."""

    source = "source"
    bronze = "bronze"
    silver = "silver"


@app.command()
def profile(
    project_file: Annotated[Path, typer.Argument(help="The project YAML file.")],
    workspace: WorkspaceOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Report file \\[default: <workspace>/reports/<project>/profile.html]."),
    ] = None,
    table: Annotated[
        TableChoice,
        typer.Option("--table", help="source: the data file's accepted rows; bronze/silver: the table a run wrote."),
    ] = TableChoice.source,
    verbose: VerboseOption = False,
) -> None:
    """Profile a project's data in Spark and write one self-contained HTML report."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.config import load_project
        from sparkwright.data import read_source, read_table, table_exists
        from sparkwright.errors import DataError
        from sparkwright.explore import profile_table, render_report, write_report
        from sparkwright.session import get_session
        from sparkwright.workspace import Workspace

        config = load_project(project_file)
        ws = Workspace.resolve(workspace or config.workspace)
        with console.status("Starting Spark ..."):
            spark = get_session(master=config.spark.master, remote=config.spark.remote, conf=config.spark.conf)
        if table is TableChoice.source:
            df, _ = read_source(spark, config.data.source)
            where = config.data.source.path
        else:
            where = ws.table_path(config.name, table.value)
            if not table_exists(spark, where):
                raise DataError(
                    f"there is no {table.value} table at {where}; run `sparkwright run {project_file}` first, "
                    "or profile the source (--table source)."
                )
            df = read_table(spark, where)
        label = config.data.label if config.data.label in df.columns else None
        settings = config.explore
        with console.status(f"Profiling {where} ..."):
            found = profile_table(
                df,
                label=label,
                bins=settings.bins,
                top_values=settings.top_values,
                max_correlation_columns=settings.max_correlation_columns,
            )
        html_text = render_report(found, f"{config.name}: {table.value}", subtitle=f"{found.rows:,} rows from {where}")
        path = write_report(html_text, output or ws.root / "reports" / config.name / "profile.html")
        console.print(f"[green]✓[/] Profile of {found.rows:,} rows x {len(found.columns)} columns written to")
        console.print(str(path), highlight=False, soft_wrap=True)
