"""`sparkwright init` on real data: a project file that `validate` accepts and `run` trains without edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.demo import materialise_example

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _csv(example: str, workspace, rows: int = 2_000) -> Path:
    """The example's CSV alone in a folder of its own (no project file next to it)."""
    project = materialise_example(example, workspace, sample_rows=rows)
    source = project.parent / "data" / f"{example}.csv"
    target = workspace.root / "incoming" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def test_init_then_run_trains_and_registers_hotel_rates_without_edits(spark, workspace, tmp_path):
    data = _csv("hotel_rates", workspace)
    project = tmp_path / "projects" / "hotel.yaml"
    result = invoke("init", data, "--label", "avg_price_per_room", "--output", project)
    assert result.exit_code == 0, result.output
    assert "Next: sparkwright run" in " ".join(result.output.split())

    raw = yaml.safe_load(project.read_text())
    assert raw["task"] == "regression" and raw["name"] == "hotel-rates"  # from the data's name
    assert (project.parent / raw["data"]["source"]["path"]).resolve() == data.resolve()  # relative to the file
    assert "rownames" in raw["data"]["drop"] and raw["data"]["keys"] == ["rownames"]
    assert raw["data"]["source"]["schema"]["avg_price_per_room"] == "double"
    assert raw["search"]["budget"] == "2m" and raw["metric"] == "rmse"
    assert invoke("validate", project).exit_code == 0

    run = invoke("run", project, "--workspace", workspace.root, "--budget", "20s")
    assert run.exit_code == 0, run.output
    assert "promoted to champion" in run.output
    client = MlflowClient(workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    champion = client.get_model_version_by_alias(raw["name"], "champion")
    rows = json.loads(next(workspace.root.rglob("leaderboard.json")).read_text())["leaderboard"]
    rmse = {row["model"]: row["rmse"] for row in rows}
    assert client.get_run(champion.run_id).data.metrics["rmse"] == min(rmse.values()) < rmse["baseline"]


def test_init_proposes_an_imbalanced_classification_with_its_positive_class_and_refuses_to_overwrite(
    spark, workspace, tmp_path
):
    data = _csv("wa_churn", workspace)
    project = tmp_path / "churn.yaml"
    assert invoke("init", data, "--label", "churn", "-o", project).exit_code == 0
    raw = yaml.safe_load(project.read_text())
    assert raw["task"] == "classification"
    assert raw["classification"] == {"positive_class": "Yes", "class_weight": "balanced", "threshold": "max_f1"}
    assert raw["data"]["keys"] == ["rownames"] and raw["metric"] == "roc_auc"
    assert invoke("validate", project).exit_code == 0

    written = project.read_text()
    again = invoke("init", data, "--label", "churn", "-o", project, "--task", "regression")
    assert again.exit_code == 2
    assert "churn.yaml already exists; pass --force to overwrite it" in " ".join(again.output.split())
    assert project.read_text() == written
    forced = invoke("init", data, "--label", "tenure", "-o", project, "--force")
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(project.read_text())["data"]["label"] == "tenure"

    wrong = invoke("init", data, "--label", "churned", "-o", tmp_path / "other.yaml")
    assert wrong.exit_code == 3
    assert "'churned' is not a column" in wrong.output and "did you mean 'churn'" in wrong.output.lower()
    assert not (tmp_path / "other.yaml").exists()


def test_init_reads_a_delta_table_without_declaring_its_types(spark, workspace, tmp_path):
    data = _csv("hotel_rates", workspace, rows=500)
    table = str(tmp_path / "hotel_delta")
    spark.read.option("header", True).option("inferSchema", True).csv(str(data)).write.format("delta").save(table)
    project = tmp_path / "from_delta.yaml"
    result = invoke("init", table, "--label", "avg_price_per_room", "-o", project)
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load(project.read_text())
    assert raw["data"]["source"]["format"] == "delta" and "schema" not in raw["data"]["source"]
    assert raw["name"] == "hotel-delta" and raw["task"] == "regression"
    assert invoke("validate", project).exit_code == 0
