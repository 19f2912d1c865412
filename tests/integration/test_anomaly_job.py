"""The bundled credit_default example end to end through the CLI: task anomaly, registry, predict, serve."""

from __future__ import annotations

import json

import mlflow
import pytest
from typer.testing import CliRunner

from sparkwright.cli import app

pytestmark = pytest.mark.slow

SAMPLE_ROWS = 3_000


@pytest.fixture(scope="module")
def default_run(spark, tmp_path_factory):
    """`sparkwright demo --example credit_default` on the first 3,000 card holders, in a workspace of its own."""
    import os

    from sparkwright.settings import get_settings
    from sparkwright.workspace import Workspace

    root = tmp_path_factory.mktemp("default") / "ws"
    workspace = Workspace.resolve(root)
    os.environ["SPARKWRIGHT_TRACKING_URI"] = workspace.tracking_uri
    get_settings.cache_clear()
    mlflow.set_tracking_uri(workspace.tracking_uri)
    mlflow.set_registry_uri(workspace.tracking_uri)
    result = CliRunner().invoke(
        app, ["demo", "--example", "credit_default", "--sample", str(SAMPLE_ROWS), "--workspace", str(root)],
        catch_exceptions=False,
    )  # fmt: skip
    yield result, workspace
    os.environ.pop("SPARKWRIGHT_TRACKING_URI", None)
    get_settings.cache_clear()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _leaderboard() -> list[dict]:
    experiment = mlflow.get_experiment_by_name("credit-default")
    [parent] = mlflow.search_runs(
        [experiment.experiment_id], filter_string="tags.mlflow.runName = 'credit-default-run'", output_format="list"
    )
    return json.loads(mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/leaderboard.json"))["leaderboard"]


def test_isolation_forests_rank_by_roc_auc_and_the_best_is_registered(default_run):
    result, _ = default_run
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Leaderboard (roc_auc, test set)" in out
    assert "Registered models:/credit-default/1 as challenger; promoted to champion" in out
    rows = _leaderboard()
    assert {r["model"] for r in rows} == {"baseline", "isolation_forest", "isolation_forest_512"}
    assert [r["roc_auc"] for r in rows] == sorted((r["roc_auc"] for r in rows), reverse=True)
    best = rows[0]
    assert best["type"] == "isolation_forest"
    assert best["roc_auc"] > 0.75 and best["pr_auc"] > 0.1  # 3.3% of rows defaulted: PR AUC of a random score
    for row in rows:
        assert row["flagged_share"] == pytest.approx(0.05, abs=0.02)
        assert 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        files = {f.path for f in mlflow.artifacts.list_artifacts(run_id=row["run_id"], artifact_path="plots")}
        assert "plots/score_histogram.png" in files


def test_flagged_rows_are_written_to_delta_with_keys_and_scores(default_run, spark):
    from sparkwright.data import read_table

    _, workspace = default_run
    flagged_table = read_table(spark, workspace.table_path("credit-default", "anomalies"))
    silver_table = read_table(spark, workspace.table_path("credit-default", "silver"))
    bronze_table = read_table(spark, workspace.table_path("credit-default", "bronze"))
    flagged, silver = flagged_table.toPandas(), silver_table.count()
    assert list(flagged.columns) == ["rownames", "default", "anomaly_score", "_model"]
    # The key keeps its source type (as a double it would no longer join back to its rows); the label its own.
    assert flagged_table.schema["rownames"].dataType == bronze_table.schema["rownames"].dataType
    assert flagged_table.schema["default"].dataType == silver_table.schema["default"].dataType
    assert len(flagged) == pytest.approx(0.05 * silver, rel=0.3)
    assert flagged["rownames"].is_unique
    # Known anomalies are far more common among the flagged rows than in the data (3.3%).
    assert (flagged["default"] == "Yes").mean() > 0.15


def test_champion_scores_source_rows_through_predict(default_run, spark, tmp_path):
    from sparkwright.data import read_table

    _, workspace = default_run
    source = workspace.root / "examples" / "credit_default" / "data" / "credit_default.csv"
    output = str(tmp_path / "scored")
    result = CliRunner().invoke(
        app,
        ["predict", "--model", "models:/credit-default@champion", "--input", str(source), "--output", output,
         "--workspace", str(workspace.root)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = read_table(spark, output)
    assert scored.count() == SAMPLE_ROWS
    assert {"prediction", "anomaly_score", "_model_version"} <= set(scored.columns)
    flags = {r.prediction for r in scored.select("prediction").distinct().collect()}
    assert flags == {0.0, 1.0}
    assert scored.where("anomaly_score <= 0 OR anomaly_score > 1").count() == 0


def test_served_champion_answers_scores_equal_to_sparks(default_run, spark):
    import pandas as pd
    from fastapi.testclient import TestClient

    from sparkwright.deploy.batch import load_spark_model
    from sparkwright.deploy.serve import create_app, load_served_model
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker

    _, workspace = default_run
    registry = Registry(Tracker(workspace.tracking_uri, workspace.artifacts))
    source = workspace.root / "examples" / "credit_default" / "data" / "credit_default.csv"
    rows = pd.read_csv(source).head(40)
    records = [
        {"student": r.student, "balance": float(r.balance), "income": float(r.income)} for r in rows.itertuples()
    ]
    loaded = load_spark_model(registry, "models:/credit-default@champion")
    expected = loaded.pipeline.transform(spark.createDataFrame(rows.drop(columns=["default"]))).toPandas()
    client = TestClient(create_app(load_served_model(registry, "models:/credit-default@champion")))
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scores"] == pytest.approx(list(expected["anomaly_score"]), rel=1e-12)
    assert body["predictions"] == list(expected["prediction"])


def test_a_stream_of_source_files_scores_as_batch(default_run, spark, tmp_path):
    import shutil

    from sparkwright.data import read_table
    from sparkwright.deploy.stream import start_scoring_stream, stream_spec
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker

    _, workspace = default_run
    registry = Registry(Tracker(workspace.tracking_uri, workspace.artifacts))
    source = workspace.root / "examples" / "credit_default" / "data" / "credit_default.csv"
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(source, landing / "part-0.csv")
    spec = stream_spec(str(landing), str(tmp_path / "streamed"))
    uri = "models:/credit-default@champion"
    start_scoring_stream(spark, registry, uri, spec, trigger="available-now").awaitTermination()
    streamed = read_table(spark, spec.output).toPandas()
    streamed = streamed.set_index(streamed["rownames"].astype(int)).sort_index()
    pipeline = registry_pipeline(registry, uri)
    expected = pipeline.transform(spark.read.csv(str(source), header=True, inferSchema=True)).toPandas()
    expected = expected.set_index(expected["rownames"].astype(int)).sort_index()
    assert len(streamed) == SAMPLE_ROWS
    assert streamed["anomaly_score"].tolist() == pytest.approx(expected["anomaly_score"].tolist(), rel=1e-12)
    assert streamed["prediction"].tolist() == expected["prediction"].tolist()


def registry_pipeline(registry, uri: str):
    from sparkwright.deploy.batch import load_spark_model

    return load_spark_model(registry, uri).pipeline
