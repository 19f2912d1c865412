"""The ``server`` command: a team's MLflow tracking server on a database, with artifacts it serves itself."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sparkwright.cli.common import app, console, user_errors


@app.command()
def server(
    backend_store_uri: Annotated[
        str,
        typer.Option(
            "--backend-store-uri",
            envvar="SPARKWRIGHT_SERVER_BACKEND_STORE_URI",
            help="Where runs and the registry live, e.g. postgresql://mlflow:PASSWORD@db:5432/mlflow.",
        ),
    ],
    artifacts_destination: Annotated[
        str,
        typer.Option(
            "--artifacts-destination",
            envvar="SPARKWRIGHT_SERVER_ARTIFACTS_DESTINATION",
            help="Where the server keeps artifacts (models, plots): a folder it can write, or s3://, gs://, ...",
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on; 0.0.0.0 for the whole team.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 5000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server worker processes.")] = 4,
    allowed_hosts: Annotated[
        str | None,
        typer.Option("--allowed-hosts", help="Host headers the server accepts, e.g. mlflow.team.example,10.0.0.5."),
    ] = None,
) -> None:
    """Start a tracking server for a team: runs and registry in a database, artifacts served over HTTP.

    Clients then use `--tracking-uri http://HOST:PORT` (or MLFLOW_TRACKING_URI); they need no access to the
    database or the artifact store. The database is checked before the server starts.
    """
    with user_errors():
        from sparkwright.tracking import check_backend_store

        shown = check_backend_store(backend_store_uri)
        if "://" not in artifacts_destination:
            artifacts_destination = os.path.abspath(artifacts_destination)
            os.makedirs(artifacts_destination, exist_ok=True)
        command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri]
        command += ["--serve-artifacts", "--artifacts-destination", artifacts_destination]
        command += ["--host", host, "--port", str(port), "--workers", str(workers)]
        command += ["--allowed-hosts", allowed_hosts] if allowed_hosts else []
        console.print(
            f"Tracking server on http://{host}:{port}, store {shown}, artifacts {artifacts_destination}.\n"
            f"Clients: sparkwright --tracking-uri http://{host}:{port} run project.yaml",
            highlight=False,
        )
        sys.stdout.flush()
    os.execv(sys.executable, command)  # mlflow becomes this process: signals and exit code are its own
