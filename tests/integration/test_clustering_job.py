"""``task: clustering`` end to end through the CLI on the bundled penguins example: the run (leaderboard,
k sweep, assignments, profiles, report), the registered model scoring raw rows through predict, stream
and serve."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from typer.testing import CliRunner

from sparkwright.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def penguins(spark, tmp_path_factory):
    """The penguins example with a short k range, run once through ``sparkwright run``; k-means only, so the
    champion is a type ``serve`` can export (the other types are checked by the conformance test)."""
    from sparkwright.demo import materialise_example
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("clustering") / "ws")
    project = materialise_example("penguins", ws)
    raw = yaml.safe_load(project.read_text())
    raw["clustering"]["k"] = {"from": 2, "to": 4}
    raw["models"] = [{"type": "kmeans"}]
    raw["workspace"] = str(ws.root)
    project.write_text(yaml.safe_dump(raw))
    result = invoke("run", str(project))
    assert result.exit_code == 0, result.output
    return ws, project, result.output


def _client(ws) -> MlflowClient:
    return MlflowClient(tracking_uri=ws.tracking_uri, registry_uri=ws.tracking_uri)


def test_the_run_ranks_by_silhouette_against_one_cluster_and_registers_the_model(penguins):
    ws, _, out = penguins
    assert "Leaderboard (silhouette, test set)" in out
    assert "baseline" in out and "kmeans" in out
    assert "Registered models:/penguins/1" in out
    client = _client(ws)
    runs = {r.info.run_name: r for r in client.search_runs(client.get_experiment_by_name("penguins").experiment_id)}
    base, kmeans = runs["baseline"].data.metrics, runs["kmeans"].data.metrics
    assert base["explained"] == 0 and base["silhouette"] == 0
    # The leaderboard's "vs base" is the share of the total sum of squares explained, on the test split.
    assert kmeans["explained"] == pytest.approx(1 - kmeans["wssse"] / base["wssse"], rel=1e-9)
    assert 2 <= kmeans["k"] <= 4 and kmeans["silhouette"] > 0.3


def test_each_k_is_logged_as_a_metric_step_with_elbow_and_silhouette_plots(penguins):
    ws, _, _ = penguins
    client = _client(ws)
    run = next(r for r in client.search_runs([client.get_experiment_by_name("penguins").experiment_id])
               if r.info.run_name == "kmeans")  # fmt: skip
    history = client.get_metric_history(run.info.run_id, "train_silhouette")
    assert sorted(m.step for m in history) == [2, 3, 4]
    wssse = [m.value for m in sorted(client.get_metric_history(run.info.run_id, "train_wssse"), key=lambda m: m.step)]
    assert wssse == sorted(wssse, reverse=True)  # more clusters, a smaller sum of squares
    chosen = max(history, key=lambda m: m.value).step
    assert run.data.metrics["k"] == chosen and run.data.params["select_k"] == "silhouette"
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/elbow.png", "plots/silhouette.png", "plots/clusters.png"} <= plots


def test_every_row_gets_a_cluster_by_key_and_the_clusters_are_profiled(spark, penguins):
    ws, _, _ = penguins
    assigned = spark.read.format("delta").load(ws.table_path("penguins", "clusters"))
    assert assigned.columns == ["rownames", "cluster"]
    silver = spark.read.format("delta").load(ws.table_path("penguins", "silver"))
    assert assigned.count() == silver.count() == assigned.select("rownames").distinct().count()
    bronze = spark.read.format("delta").load(ws.table_path("penguins", "bronze"))
    assert assigned.schema["rownames"].dataType == bronze.schema["rownames"].dataType  # joins back to the source
    profiles = spark.read.format("delta").load(ws.table_path("penguins", "cluster_profiles")).toPandas()
    assert profiles["rows"].sum() == silver.count()
    assert {"mean_flipper_length_mm", "top_island", "top_sex"} <= set(profiles.columns)
    report = (ws.root / "reports" / "penguins" / "profile.html").read_text()
    assert '<section id="clusters">' in report and "top_island" in report


def test_the_registered_model_assigns_raw_rows_through_predict_stream_and_serve(spark, penguins, tmp_path):
    from sparkwright.deploy.serve import create_app, load_served_model
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker

    ws, project, _ = penguins
    source = project.parent / "data" / "penguins.csv"
    out = ws.table_path("scores", "penguins")
    result = invoke("predict", "--model", "models:/penguins@champion", "--input", str(source), "--output", out,
                    "--workspace", str(ws.root))  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = spark.read.format("delta").load(out)
    assigned = {
        r.rownames: r.cluster for r in spark.read.format("delta").load(ws.table_path("penguins", "clusters")).collect()
    }
    by_key = {int(r.rownames): r.prediction for r in scored.select("rownames", "prediction").collect()}
    # Raw source rows land in the same cluster as the run assigned to their silver form.
    assert all(by_key[int(k)] == c for k, c in assigned.items())

    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "part.csv").write_text(source.read_text())
    streamed = ws.table_path("scores", "penguins_stream")
    result = invoke("stream", "--model", "models:/penguins@champion", "--input", str(folder), "--output", streamed,
                    "--format", "csv", "--available-now", "--workspace", str(ws.root))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert spark.read.format("delta").load(streamed).count() == scored.count()

    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    served = load_served_model(registry, "models:/penguins@champion")
    records = scored.drop("prediction").limit(5).toPandas()
    body = {"records": json.loads(records[[c for c, _, _ in served.inputs]].to_json(orient="records"))}
    answer = TestClient(create_app(served)).post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [int(p) for p in scored.limit(5).toPandas()["prediction"]]
