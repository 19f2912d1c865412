"""Which store keeps the artifacts, and the database check `sparkwright server` makes before it starts."""

from __future__ import annotations

import re
import socket

import pytest
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.errors import ConfigError, TrackingError
from sparkwright.tracking import Tracker, check_backend_store


def test_a_local_store_puts_artifacts_in_the_workspace_and_a_server_keeps_its_own(tmp_path):
    local = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "mlartifacts")
    experiment = local.client.get_experiment(local.experiment_id("p"))
    assert experiment.artifact_location == (tmp_path / "mlartifacts" / "p").as_uri()
    assert local.experiment_id("p") == experiment.experiment_id  # found, not created twice
    assert not local.is_server
    assert Tracker("http://mlflow.team:5000", tmp_path).is_server
    assert not Tracker("postgresql://u@db/mlflow", tmp_path).is_server  # a database: the client writes artifacts


def test_the_database_check_masks_the_password_and_names_what_failed(tmp_path):
    assert check_backend_store(f"sqlite:///{tmp_path / 'db.sqlite'}").startswith("sqlite:///")
    with pytest.raises(
        ConfigError, match=re.escape("--backend-store-uri: 'db.example' is not a database URI; e.g. postgresql://")
    ):
        check_backend_store("db.example")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        TrackingError,
        match=rf"cannot connect to the tracking database postgresql://mlflow:\*\*\*@127.0.0.1:{port}/mlflow: .*refused",
    ):
        check_backend_store(f"postgresql://mlflow:secret@127.0.0.1:{port}/mlflow")


def test_server_refuses_an_unreachable_database_with_exit_code_5_before_starting(tmp_path):
    result = CliRunner().invoke(
        app,
        ["server", "--backend-store-uri", "postgresql://mlflow:secret@127.0.0.1:1/mlflow",
         "--artifacts-destination", str(tmp_path / "artifacts")],
    )  # fmt: skip
    assert result.exit_code == 5
    assert "cannot connect to the tracking database" in result.output and "secret" not in result.output
