"""A team's tracking server: PostgreSQL + `sparkwright server`, and every client command through --tracking-uri.

The main job, registry moves, batch scoring and `serve` work against it; two runs at once from two processes both
land and leave the champion on the better one; the MLflow UI of the server shows the run and the aliases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from chromium import find_chromium, png_size, run_chromium
from mlflow import MlflowClient
from team_server import postgres_bin, start_postgres, start_tracking_server
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.demo import materialise_example
from sparkwright.workspace import Workspace

pytestmark = pytest.mark.slow
SPARKWRIGHT = str(Path(sys.executable).with_name("sparkwright"))
MODEL = "hotel-rates"


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """PostgreSQL in a temporary folder and the tracking server on it, for the whole module."""
    if postgres_bin() is None and os.environ.get("CI") != "true":
        pytest.skip("no PostgreSQL (Debian: apt-get install postgresql); .ci/run installs it, CI never skips")
    database = start_postgres()
    try:
        server = start_tracking_server(database.url, tmp_path_factory.mktemp("tracking-server"))
    except Exception:
        database.stop()
        raise
    yield server
    server.stop()
    database.stop()


def _project(root: Path, models: list[dict], name: str = MODEL) -> Path:
    ws = Workspace.resolve(root)
    project = materialise_example("hotel_rates", ws, sample_rows=2_000)
    raw = yaml.safe_load(project.read_text())
    raw.pop("search", None)
    raw.update(name=name, models=models, explore={"enabled": False}, workspace=str(ws.root))
    raw["register"] = {"name": name, "promote_if_better": True}
    project.write_text(yaml.safe_dump(raw))
    return project


def _invoke(server, *args):
    return CliRunner().invoke(app, ["--tracking-uri", server.url, *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(team, tmp_path_factory):
    """hotel_rates run once through `--tracking-uri`: (workspace root, project file)."""
    root = tmp_path_factory.mktemp("team-run")
    project = _project(root, [{"type": "linear_regression", "params": {"regParam": 0.01}}])
    try:
        result = _invoke(team, "run", project)
    finally:
        os.environ.pop("SPARKWRIGHT_TRACKING_URI", None)  # the flag sets it for the process; keep tests apart
    assert result.exit_code == 0, result.output
    return root, project


@pytest.fixture
def client(team, monkeypatch):
    monkeypatch.setenv("SPARKWRIGHT_TRACKING_URI", team.url)  # undone after the test, as the flag sets it too
    return MlflowClient(team.url, registry_uri=team.url)


def test_the_run_is_tracked_and_registered_on_the_server_with_artifacts_it_keeps(trained, team, client):
    root, _ = trained
    champion = client.get_model_version_by_alias(MODEL, "champion")
    run = client.get_run(champion.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["rmse"] > 0
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # served by the server, not a client's folder
    assert list(team.artifacts.rglob("MLmodel"))
    assert not (root / "mlflow.db").exists() and not (root / "mlartifacts").exists()


def test_registry_moves_batch_scoring_and_serve_go_through_the_server(trained, team, client, serve_process, spark):
    root, project = trained
    worse = _project(root / "again", [{"type": "decision_tree", "params": {"maxDepth": 1}}])
    assert _invoke(team, "run", worse).exit_code == 0
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"  # the worse one is challenger
    assert client.get_model_version_by_alias(MODEL, "challenger").version == "2"
    assert _invoke(team, "models", "promote", f"models:/{MODEL}@challenger").exit_code == 0
    assert client.get_model_version_by_alias(MODEL, "champion").version == "2"
    assert _invoke(team, "models", "rollback", f"models:/{MODEL}").exit_code == 0
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"

    source = project.parent / "data" / "hotel_rates.csv"
    scored = root / "scored"
    command = ["predict", "--model", f"models:/{MODEL}@champion", "--input", source, "--output", scored]
    result = _invoke(team, *command, "--workspace", root)
    assert result.exit_code == 0, result.output
    rows = spark.read.format("delta").load(str(scored)).toPandas()
    assert len(rows) == 2_000 and rows["prediction"].notna().all()

    server = serve_process(root, f"models:/{MODEL}@champion", env={"MLFLOW_TRACKING_URI": team.url})
    inputs = [field["name"] for field in httpx.get(f"{server.url}/metadata", timeout=30).json()["signature"]["inputs"]]
    records = json.loads(rows[inputs].head(3).to_json(orient="records"))
    response = httpx.post(f"{server.url}/predict", json={"records": records}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == pytest.approx(list(rows["prediction"].head(3)), rel=1e-9)


def test_two_runs_at_once_from_two_processes_both_land_and_the_better_one_is_champion(team, client, tmp_path):
    projects = [
        _project(tmp_path / "a", [{"type": "linear_regression", "params": {"regParam": 0.01}}], name="race"),
        _project(tmp_path / "b", [{"type": "decision_tree", "params": {"maxDepth": 2}}], name="race"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "SPARKWRIGHT_TRACKING_URI"}  # the flag alone says where
    runs = [
        subprocess.Popen([SPARKWRIGHT, "--tracking-uri", team.url, "run", str(p)], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for p in projects
    ]  # fmt: skip
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    versions = client.search_model_versions("name='race'")
    assert len(versions) == 2 and len({v.run_id for v in versions}) == 2
    rmse = {v.version: client.get_run(v.run_id).data.metrics["rmse"] for v in versions}
    assert client.get_model_version_by_alias("race", "champion").version == min(rmse, key=rmse.get)
    experiment = client.get_experiment_by_name("race")
    parents = client.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId IS NULL")
    assert sorted(r.info.status for r in parents) == ["FINISHED", "FINISHED"]


def test_the_mlflow_ui_of_the_server_shows_the_run_metrics_and_the_aliases(trained, team, client, tmp_path):
    chromium = find_chromium()
    champion = client.get_model_version_by_alias(MODEL, "champion")
    run = client.get_run(champion.run_id)
    pages = {
        "model": f"{team.url}/#/models/{MODEL}",
        "run": f"{team.url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}",
    }
    doms = {}
    for name, url in pages.items():
        shot = tmp_path / f"{name}.png"
        done = run_chromium(chromium, tmp_path, "--virtual-time-budget=30000", "--window-size=1400,1000",
                            f"--screenshot={shot}", url)  # fmt: skip
        assert shot.is_file(), done.stderr[-2000:]
        assert png_size(shot.read_bytes()) == (1400, 1000)
        dom = run_chromium(chromium, tmp_path, "--virtual-time-budget=30000", "--dump-dom", url)
        doms[name] = dom.stdout
    assert "champion" in doms["model"] and "challenger" in doms["model"]
    assert "Version 1" in doms["model"]
    assert "rmse" in doms["run"] and run.info.run_name in doms["run"]
    assert f"{run.data.metrics['rmse']:.4g}"[:5] in doms["run"]
