"""``sparkwright stream``: Structured Streaming scoring of landing files or a Delta table into Delta."""

from __future__ import annotations

from typing import Annotated

import typer

from sparkwright.cli.common import (
    ConfOption,
    MasterOption,
    ModelOption,
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
def stream(
    model: ModelOption,
    input: Annotated[
        str, typer.Option("--input", help="A folder files land in (csv, json, parquet), or a Delta table.")
    ],
    output: Annotated[str, typer.Option("--output", help="The Delta table to append scored rows to.")],
    checkpoint: Annotated[
        str | None, typer.Option(help="Checkpoint folder (progress); default: <output>.checkpoint.")
    ] = None,
    source_format: Annotated[
        str | None, typer.Option("--format", help="csv, json, parquet or delta; default: from the folder.")
    ] = None,
    available_now: Annotated[
        bool, typer.Option("--available-now", help="Score what is there now, then stop (a batch-like run).")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks for new input.", min=0.1)] = 10.0,
    max_files_per_trigger: Annotated[int | None, typer.Option(help="Files per micro-batch.", min=1)] = None,
    workspace: WorkspaceOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Score new files (or new rows of a Delta table) as they arrive, exactly once, into a Delta table.

    Malformed rows go to <output>_rejects and the stream goes on. Stop it with Ctrl+C; restarting with
    the same checkpoint resumes where it stopped.
    """
    configure_logging(verbose)
    with user_errors():
        from sparkwright.deploy.stream import start_scoring_stream, stream_spec
        from sparkwright.session import get_session

        ws, registry = workspace_registry(workspace)
        spec = stream_spec(existing_input(input, workspace), output_table(output, ws), checkpoint, source_format)
        spark = get_session(master=master, conf=parse_spark_conf(conf))
        query = start_scoring_stream(
            spark,
            registry,
            model,
            spec,
            trigger="available-now" if available_now else "continuous",
            interval_seconds=interval,
            max_files_per_trigger=max_files_per_trigger,
        )
        console.print(
            f"Streaming {spec.source} ({spec.source_format}) into {spec.output}; rejects: {spec.rejects}; "
            f"checkpoint: {spec.checkpoint}." + ("" if available_now else " Ctrl+C stops."),
            soft_wrap=True,
        )
        from pyspark.errors import StreamingQueryException

        from sparkwright.errors import DataError

        try:
            query.awaitTermination()
        except KeyboardInterrupt:
            query.stop()
        except StreamingQueryException as exc:
            raise DataError(f"the stream stopped with an error: {exc}") from exc
        console.print(f"[green]✓[/] stream stopped; {spec.output} holds the scored rows.")
