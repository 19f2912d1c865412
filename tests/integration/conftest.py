"""Fixtures for end-to-end runs: a small real example project in a fresh workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import sparkwright

SAMPLE_ROWS = 2_000
FAST_MODELS = [
    {"type": "linear_regression", "params": {"regParam": 0.01}},
    {"type": "decision_tree", "params": {"maxDepth": 6}},
]


@pytest.fixture
def hotel_project(workspace) -> Path:
    """The bundled hotel_rates project on its first 2,000 rows with two quick models and no exploration report
    (a test of the report turns it on with ``edit_project``); returns the file."""
    return _fast_hotel_project(workspace, explore=False)


def _fast_hotel_project(workspace, *, explore: bool) -> Path:
    from sparkwright.demo import materialise_example

    project_file = materialise_example("hotel_rates", workspace, sample_rows=SAMPLE_ROWS)
    raw = yaml.safe_load(project_file.read_text())
    raw["models"] = FAST_MODELS
    raw.pop("search", None)  # the example searches for 3 minutes; these tests train two quick models
    raw["cleanse"]["log_label"] = True  # and exercise the log-label back-transform
    raw["explore"] = {"enabled": explore}  # the profile costs seconds per run; most tests never read it
    raw["workspace"] = str(workspace.root)
    project_file.write_text(yaml.safe_dump(raw))
    return project_file


@pytest.fixture(scope="module")
def shared_hotel_run(spark, tmp_path_factory):
    """``hotel_project`` with its exploration report, run once per test module, for tests that only read what it
    wrote: (result, workspace)."""
    from sparkwright.settings import get_settings
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("hotel-run") / "ws")
    # The session's MLFLOW_TRACKING_URI (MLflow's default store, kept out of the checkout) would take the run
    # away from the workspace's own store, which the tests read (as `workspace` does for a test's own runs).
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("SPARKWRIGHT_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        result = sparkwright.run(_fast_hotel_project(ws, explore=True), spark=spark)
    get_settings.cache_clear()
    return result, ws


@pytest.fixture
def edit_project():
    """A function that rewrites top-level sections of a project file (a test's variation of the example)."""

    def edit(project_file: Path, **changes) -> Path:
        raw = yaml.safe_load(project_file.read_text())
        raw.update(changes)
        project_file.write_text(yaml.safe_dump(raw))
        return project_file

    return edit


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """A workspace (one per test module) where a hotel_rates sample was run: champion v1, silver written."""
    import mlflow

    from sparkwright.demo import materialise_example
    from sparkwright.settings import get_settings
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("batch") / "ws")
    os.environ["SPARKWRIGHT_TRACKING_URI"] = ws.tracking_uri
    get_settings.cache_clear()  # settings are read once per process: read them again with this variable
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.set_registry_uri(ws.tracking_uri)
    project = materialise_example("hotel_rates", ws, sample_rows=1_500)
    raw = yaml.safe_load(project.read_text())
    raw.update(models=[{"type": "linear_regression"}], explore={"enabled": False}, workspace=str(ws.root))
    raw.pop("search", None)
    project.write_text(yaml.safe_dump(raw))
    result = sparkwright.run(project, spark=spark)
    yield ws, result
    os.environ.pop("SPARKWRIGHT_TRACKING_URI", None)
    get_settings.cache_clear()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
