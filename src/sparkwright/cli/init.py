"""The ``init`` command: a project file proposed from a CSV, JSON, Parquet or Delta source."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from sparkwright.cli.common import MasterOption, VerboseOption, app, configure_logging, console, user_errors


class InitTask(StrEnum):
    """The tasks a label alone sets up."""

    regression = "regression"
    classification = "classification"


@app.command()
def init(
    data: Annotated[str, typer.Argument(help="A CSV, JSON or Parquet file or folder, or a Delta table.")],
    label: Annotated[str, typer.Option("--label", "-l", help="The column to predict.")],
    task: Annotated[
        InitTask | None, typer.Option("--task", help="Default: regression for a numeric label with many values.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Project file to write \\[default: ./<data name>.yaml].")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Project name \\[default: from the data's name].")] = None,
    source_format: Annotated[
        str | None, typer.Option("--format", help="Source format \\[default: from the path].")
    ] = None,
    sample_rows: Annotated[
        int, typer.Option("--sample-rows", min=100, help="Rows sampled to infer types and statistics.")
    ] = 20_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing project file.")] = False,
    master: MasterOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Propose a project file for DATA: types, task, dropped columns, keys and models, each with its reason."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.config import load_project
        from sparkwright.errors import ConfigError
        from sparkwright.pipeline import validate_models
        from sparkwright.scaffold import inspect_source, project_name, propose_project, render_project
        from sparkwright.session import get_session

        target = output or Path(f"{project_name(data).replace('-', '_')}.yaml")
        if target.exists() and not force:
            raise ConfigError(
                f"{target} already exists; pass --force to overwrite it, or --output another file.", "--output"
            )
        with console.status("Starting Spark ..."):
            spark = get_session(master=master)
        with console.status(f"Sampling {data} ..."):
            facts = inspect_source(spark, data, label=label, source_format=source_format, sample_rows=sample_rows)
        proposal = propose_project(facts, label=label, task=task.value if task else None, name=name)
        command = shlex.join(["sparkwright", "init", data, "--label", label, *(["--task", task.value] if task else [])])
        text = render_project(proposal, project_file=target, command=command)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        validate_models(load_project(target))  # what init writes, validate accepts
        _summary(proposal, target)


def _summary(proposal, target: Path) -> None:
    facts = proposal.facts
    rows = f"{'about ' if facts.rows_estimated else ''}{facts.rows:,}"
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("task", f"{proposal.task.value}: {proposal.task.reason}")
    for column, why in proposal.drop.items():
        table.add_row("drop", f"{column}: {why}")
    if proposal.keys is not None:
        table.add_row("keys", ", ".join(proposal.keys.value))
    for key, decision in proposal.classification.items():
        table.add_row(key, f"{decision.value}: {decision.reason}")
    models = proposal.models or proposal.search
    table.add_row("models", models.reason)
    console.print(f"[green]✓[/] {target} proposed for {facts.path} ({rows} rows, {len(facts.columns)} columns):")
    console.print(table)
    console.print(f"Next: [bold]sparkwright run {target}[/]", highlight=False)
