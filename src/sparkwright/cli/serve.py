"""``sparkwright serve``: real-time REST scoring of a registered model (FastAPI + uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated, Any

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
def serve(
    model: ModelOption,
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    token: Annotated[
        str | None,
        typer.Option(envvar="SPARKWRIGHT_SERVE_TOKEN", help="Require 'Authorization: Bearer TOKEN' (except /health)."),
    ] = None,
    max_body_bytes: Annotated[int, typer.Option(help="Refuse larger request bodies with 413.", min=1)] = 1_000_000,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes sharing the port, each with its own copy of the model "
            "(one process scores one request at a time).",
            min=1,
        ),
    ] = 1,
    workspace: WorkspaceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Serve a model over HTTP: POST /predict, GET /health, GET /metadata, OpenAPI docs at /docs."""
    configure_logging(verbose)
    with user_errors():
        import uvicorn

        from sparkwright.deploy.forecaster import load_forecaster
        from sparkwright.deploy.forecaster_app import create_forecaster_app
        from sparkwright.deploy.recommender_app import create_recommender_app
        from sparkwright.deploy.serve import WORKER_CONFIG_ENV, create_app, load_served_model, worker_config

        _, registry = workspace_registry(workspace)
        recommender = _recommender(registry, model, workers)
        if recommender is not None:
            console.print(
                f"Serving recommender models:/{recommender.name}/{recommender.version} on http://{host}:{port} "
                "(GET /recommend?user=ID&n=10, POST /predict; docs: /docs). Ctrl+C stops.",
                soft_wrap=True,
            )
            app_ = create_recommender_app(recommender, token=token, max_body_bytes=max_body_bytes)
            uvicorn.run(app_, host=host, port=port, log_level="info" if verbose else "warning", access_log=verbose)
            return
        processes = f" in {workers} processes" if workers > 1 else ""
        served: Any = load_forecaster(registry, model)
        if served is not None:
            console.print(
                f"Serving forecaster {served.uri} ({len(served.forecaster.keys):,} series) on http://{host}:{port}"
                f"{processes} (POST /predict, GET /forecast; docs: /docs). Ctrl+C stops.",
                soft_wrap=True,
            )
            create: Any = create_forecaster_app
        else:
            with console.status("Loading the model ..."):
                # Loaded here even with --workers: errors show before any worker starts, and a Spark model is
                # exported once, here, not by every worker.
                served = load_served_model(registry, model)
            how = " through its NumPy export (no Spark)" if served.details.get("exported") else ""
            console.print(
                f"Serving models:/{served.name}/{served.version}{how} on http://{host}:{port}{processes} "
                f"(docs: /docs{', bearer token required' if token else ''}). Ctrl+C stops.",
                soft_wrap=True,
            )
            create = create_app
    options = {"host": host, "port": port, "log_level": "info" if verbose else "warning", "access_log": verbose}
    if workers == 1:
        uvicorn.run(create(served, token=token, max_body_bytes=max_body_bytes), **options)
        return
    # uvicorn starts each worker by importing the app by name; the worker reads what to serve from here.
    os.environ[WORKER_CONFIG_ENV] = worker_config(registry, served, token=token, max_body_bytes=max_body_bytes)
    del served
    uvicorn.run("sparkwright.deploy.serve:worker_app", factory=True, workers=workers, **options)


def _recommender(registry: Any, model: str, workers: int) -> Any:
    """A recommendation model's Spark-free recommender (served by its own app, one process), else None."""
    from sparkwright.deploy.recommender import load_recommender
    from sparkwright.errors import ConfigError

    loaded = load_recommender(registry, model)
    if loaded is not None and workers > 1:
        raise ConfigError(
            "a recommender is served by one process (a NumPy product per request); drop --workers.", "--workers"
        )
    return loaded
