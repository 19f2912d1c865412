"""``sparkwright monitor``: a registered model's scoring data against its training data; exit 6 on drift."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
)
from sparkwright.cli.tables import existing_input, existing_table, output_table

if TYPE_CHECKING:
    from sparkwright.monitor import MonitorResult

# A threshold was crossed (every output is written first): a scheduler or CI job can act on it.
THRESHOLD_CROSSED = 6


@app.command()
def monitor(
    model: ModelOption,
    input: Annotated[
        str,
        typer.Option(
            "--input",
            help="The scoring data: a Delta table (path or <project>/<table>; a `predict` output keeps its "
            "predictions) or csv/parquet/json files.",
        ),
    ],
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="A Delta table of outcomes (the label named as in training), joined on --on."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Key columns joining --labels to the input, e.g. id or id,day.")
    ] = None,
    time_column: Annotated[
        str, typer.Option("--time-column", help="Timestamp of a labelled row (input first, else labels).")
    ] = "_scored_at",
    window: Annotated[str, typer.Option("--window", help="Metric windows: 1d, 7d, 12h ...")] = "1d",
    metric: Annotated[
        str | None, typer.Option("--metric", help="Metric judged per window (default: the project's metric).")
    ] = None,
    psi: Annotated[float, typer.Option("--psi", help="PSI threshold (features and predictions).")] = 0.2,
    p_value: Annotated[
        float, typer.Option("--p-value", help="Chi-square p-value under which a categorical drifts ...")
    ] = 0.01,
    min_effect: Annotated[float, typer.Option("--min-effect", help="... when its Cramér's V is this large.")] = 0.1,
    null_rate_change: Annotated[
        float, typer.Option("--null-rate-change", help="Change of a feature's missing share (absolute).")
    ] = 0.05,
    new_category_share: Annotated[
        float, typer.Option("--new-category-share", help="Share of rows with a category unseen in training.")
    ] = 0.01,
    metric_drop: Annotated[
        float, typer.Option("--metric-drop", help="Relative worsening of the metric against training.")
    ] = 0.1,
    min_window_rows: Annotated[
        int, typer.Option("--min-window-rows", help="Labelled rows a window needs to be judged.")
    ] = 100,
    bins: Annotated[int, typer.Option("--bins", help="Quantile bins per numeric feature.")] = 10,
    max_levels: Annotated[
        int, typer.Option("--max-levels", help="Training levels per categorical with a bucket of their own.")
    ] = 50,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="HTML report (default: <workspace>/reports/<model>/monitor-<time>-<run>.html)."),
    ] = None,
    results: Annotated[
        str | None,
        typer.Option("--results", help="Monitoring Delta table (default: <project>/monitoring in the workspace)."),
    ] = None,
    workspace: WorkspaceOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Compare scoring data with the model's training data (drift, and metrics once labels arrive).

    Writes an HTML report, an MLflow run in the model's experiment and a row per statistic to the
    monitoring Delta table; exits with code 6 when a threshold is crossed.
    """
    configure_logging(verbose)
    with user_errors():
        from sparkwright.monitor import Thresholds, monitor_model, window_duration
        from sparkwright.session import get_session
        from sparkwright.workspace import Workspace

        thresholds = Thresholds(
            psi=psi,
            p_value=p_value,
            min_effect=min_effect,
            null_rate_change=null_rate_change,
            new_category_share=new_category_share,
            metric_drop=metric_drop,
            min_window_rows=min_window_rows,
        ).check()
        window_duration(window)  # checked before Spark starts, like the thresholds
        ws = Workspace.resolve(workspace)
        source = existing_input(input, workspace)
        labels_table = existing_table(labels, workspace) if labels else None
        keys = [k.strip() for k in (on or "").split(",") if k.strip()]
        with console.status("Monitoring ..."):
            spark = get_session(master=master, conf=parse_spark_conf(conf))
            result = monitor_model(
                model,
                source,
                spark=spark,
                workspace=ws.root,
                labels=labels_table,
                on=keys,
                time_column=time_column,
                window=window,
                metric=metric,
                thresholds=thresholds,
                bins=bins,
                max_levels=max_levels,
                report=report,
                results_table=output_table(results, ws) if results else None,
            )
        _print(result)
    if result.crossed:
        raise typer.Exit(THRESHOLD_CROSSED)


def _print(result: MonitorResult) -> None:
    from rich.table import Table

    title = f"{result.model_uri}: {result.current_rows:,} scoring rows against {result.reference_rows:,} training rows"
    table = Table(title=title)
    for header in ("column", "kind", "PSI", "chi² p", "missing", "new", ""):
        table.add_column(header, justify="left" if header in ("column", "kind", "") else "right")
    for d in sorted([*result.predictions, *result.features], key=lambda d: (d.role != "prediction", -d.psi)):
        p = "—" if d.chi_square is None else f"{d.chi_square.p_value:.2g}"
        new = f"{d.new_share:.1%}" if d.kind == "categorical" else "—"
        status = "[bold red]drift[/]" if d.drifted else "[green]ok[/]"
        missing = f"{d.null_rate_reference:.1%} → {d.null_rate_current:.1%}"
        name = d.name if d.role == "feature" else f"[bold]{d.name}[/]"
        table.add_row(name, d.kind, f"{d.psi:.4f}", p, missing, new, status)
    console.print(table)
    if result.refused_rows or result.malformed_rows:
        console.print(
            f"[yellow]{result.refused_rows:,} rows refused by the model's preparation and "
            f"{result.malformed_rows:,} malformed rows were left out.[/]"
        )
    if result.performance is not None:
        p = result.performance
        console.print(
            f"{p.labelled_rows:,} labelled rows, {len(p.windows)} windows of {p.window}; {p.metric} over all: "
            f"{p.overall.metrics.get(p.metric, float('nan')):.4g} (training {p.training[p.metric]:.4g})"
        )
    console.print(f"report   {result.report}", soft_wrap=True)
    console.print(f"results  {result.results_table} (version {result.results_version})", soft_wrap=True)
    console.print(f"MLflow   run {result.run_id}", soft_wrap=True)
    if result.crossed:
        console.print(f"[bold red]{len(result.alerts)} threshold(s) crossed[/] (exit code {THRESHOLD_CROSSED}):")
        for alert in result.alerts:
            console.print(f"  - {alert}", soft_wrap=True, highlight=False)
    else:
        console.print("[green]✓[/] no threshold crossed")
