"""The main job end to end through the Python API, on real Spark, Delta and MLflow."""

from __future__ import annotations

import re

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

import sparkwright
from sparkwright.data import read_table

pytestmark = pytest.mark.slow


def mlflow_client(workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)


@pytest.fixture
def first_run(spark, hotel_project, workspace):
    return sparkwright.run(hotel_project, spark=spark)


@pytest.fixture
def shared_run(shared_hotel_run, monkeypatch):
    """The module's shared run, with MLflow's fluent API pointed at its store for this test."""
    result, ws = shared_hotel_run
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.set_registry_uri(ws.tracking_uri)
    yield result, ws
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_best_model_beats_baseline_and_becomes_champion(shared_run, spark):
    result, workspace = shared_run
    assert result.baseline.type == "baseline"
    assert result.best.type != "baseline"
    assert result.best.metrics["rmse"] < result.baseline.metrics["rmse"]
    assert {m.name for m in result.models} == {"baseline", "linear_regression", "decision_tree"}
    assert result.leaderboard()[0]["vs_baseline"] > 0
    assert result.ingest.input_rows == result.ingest.accepted_rows + result.ingest.rejected_rows == 2000

    client = mlflow_client(workspace)
    champion = client.get_model_version_by_alias("hotel-rates", "champion")
    challenger = client.get_model_version_by_alias("hotel-rates", "challenger")
    assert str(champion.version) == str(challenger.version) == result.registered_version
    assert champion.run_id == result.best.run_id
    assert champion.tags["source_table"] == result.tables["silver"].path
    assert champion.tags["source_version"] == str(result.tables["silver"].version)


def test_champion_loads_as_pyfunc_and_matches_spark(shared_run, spark):
    _, workspace = shared_run
    # The champion takes rows as the source file has them (no indicators, no "missing" level, ints as ints).
    source = pd.read_csv(workspace.root / "examples" / "hotel_rates" / "data" / "hotel_rates.csv").head(20)
    model = mlflow.pyfunc.load_model("models:/hotel-rates@champion")
    inputs = [c.name for c in model.metadata.get_input_schema().inputs]
    assert not any(name.endswith("_missing") for name in inputs) and "rownames" not in inputs
    rows = source.dropna()
    pyfunc_predictions = pd.Series(model.predict(rows[inputs])).to_numpy(float)

    spark_model = mlflow.spark.load_model("models:/hotel-rates@champion")
    spark_predictions = spark_model.transform(spark.createDataFrame(rows)).select("prediction").toPandas()
    assert pyfunc_predictions == pytest.approx(spark_predictions["prediction"].to_numpy(float), rel=1e-9)
    # log_label: predictions come back in price units, not log-price.
    assert 20 < pyfunc_predictions.mean() < 1000


def test_runs_are_nested_with_lineage_metrics_and_artifacts(shared_run):
    first_run, workspace = shared_run
    client = mlflow_client(workspace)
    children = client.search_runs(
        [first_run.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{first_run.parent_run_id}'"
    )
    assert {r.info.run_name for r in children} == {"baseline", "linear_regression", "decision_tree"}
    tree = next(r for r in children if r.info.run_name == "decision_tree")
    assert tree.info.status == "FINISHED"
    assert tree.data.params["silver_version"] == str(first_run.tables["silver"].version)
    assert tree.data.params["param_maxDepth"] == "6"
    assert set(tree.data.metrics) >= {"rmse", "mae", "r2", "train_rmse"}
    artifacts = {a.path for a in client.list_artifacts(tree.info.run_id, "plots")}
    assert artifacts == {
        "plots/predicted_vs_actual.png",
        "plots/residuals.png",
        "plots/feature_importance.png",
    }
    assert "project.yaml" in {a.path for a in client.list_artifacts(tree.info.run_id)}
    importances = mlflow.artifacts.load_dict(f"runs:/{tree.info.run_id}/feature_importance.json")
    assert "lead_time" in importances  # named by original column, not by vector index
    parent = client.get_run(first_run.parent_run_id)
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"project.yaml", "leaderboard.json"}
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "explore")} == {
        "explore/profile.html",
        "explore/profile.json",
    }
    profile = mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/explore/profile.json")
    assert profile["rows"] == 2000 and profile["label"] == "avg_price_per_room"
    assert (workspace.root / "reports" / "hotel-rates" / "profile.html").is_file()
    assert parent.inputs.dataset_inputs[0].dataset.source_type == "delta_table"


def test_the_run_logs_its_pictures_and_a_summary_page(shared_run):
    result, workspace = shared_run
    client = mlflow_client(workspace)
    assert {a.path for a in client.list_artifacts(result.parent_run_id, "plots")} == {"plots/leaderboard.png"}
    assert result.summary_path == workspace.root / "reports" / "hotel-rates" / "run-summary.html"
    assert "run-summary.html" in {a.path for a in client.list_artifacts(result.parent_run_id)}
    logged = mlflow.artifacts.load_text(f"runs:/{result.parent_run_id}/run-summary.html")
    assert logged == result.summary_path.read_text(encoding="utf-8")
    silver = result.tables["silver"]
    assert f"<code>{silver.path}</code></td><td class='num'>{silver.version}</td>" in logged
    assert f"<code>{result.model_uri}</code>, aliases: <code>challenger</code>, <code>champion</code>" in logged


def test_the_summary_page_opens_in_a_browser(shared_run, tmp_path):
    from chromium import find_chromium, png_size, run_chromium

    result, _ = shared_run
    chromium = find_chromium()
    page = result.summary_path.as_uri()
    done = run_chromium(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", page)
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stdout[:2000]
    # Every plot decoded (the page's load script counts images with naturalWidth > 0).
    assert 'data-images-ok="1"' in body.group(0) and 'data-images-total="1"' in body.group(0), body.group(0)
    table = done.stdout.split('id="leaderboard-table"')[1].split("</table>")[0]
    models = re.findall(r"<tr[^>]*><td class=\"num\">\d+</td><td>([^<]+)</td>", table)
    assert models == [m.name for m in result.models]
    assert '<tr class="baseline">' in table

    shot = tmp_path / "summary.png"
    done = run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", page)
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1280, 1600)
    assert len(data) > 60_000  # a blank page compresses to a few KB; text, tables and a plot do not


def test_second_run_registers_challenger_and_keeps_a_better_champion(first_run, spark, hotel_project, workspace):
    second = sparkwright.run(hotel_project, spark=spark)
    client = mlflow_client(workspace)
    assert second.registered_version == str(int(first_run.registered_version) + 1)
    assert str(client.get_model_version_by_alias("hotel-rates", "challenger").version) == second.registered_version
    # Same data, same seed: the new model is not strictly better, so the champion stays.
    assert second.best.metrics["rmse"] == pytest.approx(first_run.best.metrics["rmse"], rel=1e-6)
    assert second.promoted is False
    assert str(client.get_model_version_by_alias("hotel-rates", "champion").version) == first_run.registered_version
    # Re-ingesting the same file writes a new version with the same rows: nothing is duplicated.
    assert second.tables["bronze"].version == first_run.tables["bronze"].version + 1
    assert read_table(spark, second.tables["bronze"].path).count() == 2000


def test_data_version_retrains_on_exactly_that_data(first_run, spark, hotel_project, workspace):
    # New data arrives: the source loses its last 500 rows, so silver moves to a new version.
    csv = hotel_project.parent / "data" / "hotel_rates.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-500]) + "\n")
    changed = sparkwright.run(hotel_project, spark=spark)
    assert changed.tables["silver"].version == first_run.tables["silver"].version + 1
    assert changed.best.metrics["rmse"] != pytest.approx(first_run.best.metrics["rmse"], rel=1e-9)

    again = sparkwright.run(hotel_project, spark=spark, data_version=first_run.tables["silver"].version)
    assert again.ingest is None
    assert again.tables == {"silver": first_run.tables["silver"]}
    for before, after in zip(
        sorted(first_run.models, key=lambda m: m.name), sorted(again.models, key=lambda m: m.name), strict=True
    ):
        assert after.metrics == pytest.approx(before.metrics, rel=1e-9), before.name
    run = mlflow_client(workspace).get_run(again.parent_run_id)
    assert run.data.tags["sparkwright.data_version"] == str(first_run.tables["silver"].version)
    assert run.data.params["silver_version"] == str(first_run.tables["silver"].version)

    with pytest.raises(sparkwright.DataError, match=r"--data-version 7: the silver table .* has versions 0 to 1"):
        sparkwright.run(hotel_project, spark=spark, data_version=7)


def test_reingest_with_keys_merges_without_duplicates(spark, hotel_project, workspace, edit_project):
    from sparkwright.data import table_history

    data = {
        "source": {"path": "data/hotel_rates.csv"},
        "label": "avg_price_per_room",
        "drop": ["arrival_date"],
        "keys": ["rownames"],
    }
    edit_project(hotel_project, data=data, models=[{"type": "linear_regression"}])
    first = sparkwright.run(hotel_project, spark=spark)
    second = sparkwright.run(hotel_project, spark=spark)
    assert (first.ingest.mode, second.ingest.mode) == ("merge", "merge")
    assert second.tables["bronze"].version == first.tables["bronze"].version + 1
    bronze = second.tables["bronze"].path
    assert read_table(spark, bronze).count() == 2000
    assert read_table(spark, bronze).select("rownames").distinct().count() == 2000
    last = table_history(spark, bronze, limit=1)[0]
    assert last["operation"] == "MERGE"
    assert last["operationMetrics"]["numTargetRowsInserted"] == "0"


def test_stages_chain_in_memory_as_in_a_notebook(spark, hotel_project):
    """The README's Python API walk-through: every stage DataFrame in, DataFrame out, no table between."""
    config = sparkwright.load_project(hotel_project)
    accepted, rejected = sparkwright.read_source(spark, config.data.source)
    cleansed = sparkwright.cleanse(accepted, config)
    train, test = sparkwright.split_train_test(cleansed.df, test_fraction=0.2, seed=42)
    categorical, numeric = sparkwright.feature_columns(cleansed.df, config)
    fitted = sparkwright.fit_model(
        train,
        config.models[0],
        label_col=config.data.label,
        categorical=categorical,
        numeric=numeric,
        impute="median",
        log_label=True,
    )
    metrics = sparkwright.regression_metrics(sparkwright.predict(fitted, test), config.data.label)
    assert rejected.count() == 0 and cleansed.report["output_rows"] == 2000
    assert metrics["r2"] > 0.5
    assert "lead_time" in fitted.importances
