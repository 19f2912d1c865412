"""Shared fixtures: one local SparkSession for the whole run, a fresh workspace and MLflow store per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession with Delta, started once (about 5-20 s) and stopped at the end."""
    from sparkwright.session import get_session

    session = get_session(
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "2",
        },
        app_name="sparkwright-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _mlflow_default_store(tmp_path_factory: pytest.TempPathFactory):
    """MLflow's default store is ./mlflow.db: keep anything that falls back to it out of the checkout."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path_factory.mktemp('mlflow-default') / 'mlflow.db'}"
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def _settings_read_per_test():
    """sparkwright reads SPARKWRIGHT_* once per process; a test that sets one must not leak it to the next."""
    from sparkwright.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty workspace whose MLflow store is a SQLite file of its own.

    MLflow's fluent API (used by tests to check what a user would see) points at it too.
    """
    import mlflow

    from sparkwright.workspace import Workspace

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SPARKWRIGHT_TRACKING_URI", raising=False)
    workspace = Workspace.resolve(tmp_path / "ws")
    uri = workspace.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield workspace
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
