"""``sparkwright predict``: batch scoring of a Delta table or files with a registered model, into Delta."""

from __future__ import annotations

from typing import Annotated

import typer

from sparkwright.cli.common import (
    ConfOption,
    MasterOption,
    ModelOption,
    RichReporter,
    VerboseOption,
    WorkspaceOption,
    app,
    configure_logging,
    console,
    parse_spark_conf,
    user_errors,
    workspace_registry,
)
from sparkwright.cli.tables import existing_input, output_table


@app.command()
def predict(
    model: ModelOption,
    input: Annotated[
        str, typer.Option("--input", help="A Delta table (path or <project>/<table>), or csv/parquet/json files.")
    ],
    output: Annotated[str, typer.Option("--output", help="The Delta table to write (path or <project>/<table>).")],
    workspace: WorkspaceOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Score a table or files with a registered model into a Delta table; a rerun replaces its earlier rows.

    With a forecasting model the rows name series (their key columns, optionally a horizon) and the output
    holds their forecasts.
    """
    configure_logging(verbose)
    with user_errors():
        from sparkwright.deploy.batch import delta_rows, score_batch
        from sparkwright.session import get_session

        ws, registry = workspace_registry(workspace)
        source = existing_input(input, workspace)
        target = output_table(output, ws)
        reporter = RichReporter()
        with console.status("Starting Spark ..."):
            spark = get_session(master=master, conf=parse_spark_conf(conf))
        rows = delta_rows(spark, source)
        what = f"{rows:,} rows of {source}" if rows is not None else source
        with reporter.spark_tasks("score", f"Scoring {what}", spark):
            result = score_batch(spark, registry, model, source, target)
        done = "forecast rows of the series in" if result.forecasts else "rows of"
        console.print(
            f"[green]✓[/] {result.rows:,} {done} {result.input_id} scored with {result.model_uri} into "
            f"{result.output} (version {result.version})",
            soft_wrap=True,
        )
        if result.rejected:
            console.print(
                f"[yellow]{result.rejected:,} row{'' if result.rejected == 1 else 's'} set aside[/] (malformed, or "
                f"refused by the model's rules) in "
                f"{result.rejects_table}, each with its reason",
                soft_wrap=True,
            )
