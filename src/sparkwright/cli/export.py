"""``sparkwright export``: a registered Spark ML model as a scorer that needs no JVM (an MLflow pyfunc)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparkwright.cli.common import (
    ModelOption,
    VerboseOption,
    WorkspaceOption,
    app,
    configure_logging,
    console,
    user_errors,
    workspace_registry,
)


@app.command()
def export(
    model: ModelOption,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Folder to write \\[default: <workspace>/exports/<name>/v<version>]."),
    ] = None,
    workspace: WorkspaceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Export a Spark ML model to NumPy (no Spark at scoring time), log it to its run and tag its version."""
    configure_logging(verbose)
    with user_errors():
        from sparkwright.deploy.exported import export_version
        from sparkwright.registry import parse_model_ref
        from sparkwright.session import get_session

        ws, registry = workspace_registry(workspace)
        info = registry.resolve(parse_model_ref(model))
        folder = output or ws.root / "exports" / info.name / f"v{info.version}"
        with console.status("Exporting ..."):
            result = export_version(get_session(), registry, f"models:/{info.name}/{info.version}", folder)
        console.print(
            f"[green]✓[/] models:/{info.name}/{info.version} exported to {result.folder}; logged as "
            f"{result.logged_uri}. Load it without Spark: mlflow.pyfunc.load_model('{result.folder}').",
            soft_wrap=True,
        )
