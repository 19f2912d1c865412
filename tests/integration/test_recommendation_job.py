"""Task recommendation end to end on real Spark, Delta and MLflow: ``sparkwright run`` through the CLI, the
registered ALS model in ``predict``, ``stream``, ``recommend`` and the REST app, and the movielens demo.

The registry tests use synthetic ratings with a low-rank structure (string ids, 60 users x 80 items) that
ALS must find and the bias baseline cannot; the demo runs the bundled example on a slice of movielens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sparkwright.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _ratings(seed: int = 3) -> pd.DataFrame:
    """Each of 60 users rates 40 of 80 items: 3 + (user factors . item factors) + noise, on 1-5 stars."""
    rng = np.random.default_rng(seed)
    users, items = rng.normal(0, 1, (60, 2)), rng.normal(0, 1, (80, 2))
    rows = []
    for u in range(60):
        for i in rng.choice(80, 40, replace=False):
            stars = float(np.clip(np.round(3 + users[u] @ items[i] + rng.normal(0, 0.3)), 1, 5))
            rows.append((f"user-{u}", f"item-{i}", stars, 1_000 * u + int(i)))
    return pd.DataFrame(rows, columns=["who", "what", "stars", "at"])


@pytest.fixture(scope="module")
def registered(spark, tmp_path_factory):
    """The synthetic project run once through the CLI: (workspace path, project folder, CLI output).

    The module's tests share its MLflow store (the session default store is pointed elsewhere)."""
    folder = tmp_path_factory.mktemp("ratings")
    env = pytest.MonkeyPatch()
    env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'ws' / 'mlflow.db'}")
    _ratings().to_csv(folder / "ratings.csv", index=False)
    project = {
        "name": "ratings",
        "task": "recommendation",
        "data": {"source": {"path": "ratings.csv"}, "user": "who", "item": "what", "rating": "stars"},
        "explore": {"enabled": False},
        "recommendation": {"k": 5, "top_n": 3},
        "models": [{"type": "als", "params": {"rank": 3, "regParam": 0.05, "maxIter": 10}}],
        "workspace": str(folder / "ws"),
    }
    (folder / "project.yaml").write_text(yaml.safe_dump(project))
    result = invoke("run", str(folder / "project.yaml"))
    assert result.exit_code == 0, result.output
    yield folder / "ws", folder, result.output
    env.undo()


def test_run_ranks_als_above_both_baselines_and_registers_it(registered):
    import mlflow

    ws, _, output = registered
    assert "Leaderboard (rmse" in output
    uri = f"sqlite:///{ws / 'mlflow.db'}"
    # The registry too: a test that ran before may have left MLflow's global registry URI elsewhere.
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("ratings", "champion")
    metrics = client.get_run(champion.run_id).data.metrics
    runs = client.search_runs([client.get_experiment_by_name("ratings").experiment_id])
    by_name = {r.info.run_name: r.data.metrics for r in runs}
    assert metrics["rmse"] < 0.8 * by_name["baseline_biases"]["rmse"]
    assert metrics["rmse"] < by_name["baseline_popular"]["rmse"]
    for name in ("als", "baseline_biases", "baseline_popular"):
        for metric in ("rmse", "mae", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"):
            assert np.isfinite(by_name[name][metric]), (name, metric)


def test_top_n_tables_map_ids_back(registered, spark):
    ws, _, _ = registered
    by_user = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "recommendations_by_user"))
    by_item = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "recommendations_by_item"))
    assert by_user.columns == ["who", "rank", "what", "score"]
    assert by_item.columns == ["what", "rank", "who", "score"]
    assert by_user.count() == 60 * 3 and by_item.count() == 80 * 3
    assert {r.rank for r in by_user.select("rank").distinct().collect()} == {1, 2, 3}
    assert all(r.what.startswith("item-") for r in by_user.limit(10).collect())


def _training_pairs(spark, ws) -> set[tuple[str, str]]:
    """The (user, item) pairs of the run's training split, split again as the run did."""
    from sparkwright.config import load_project
    from sparkwright.tasks import get_task

    config = load_project(ws.parent / "project.yaml")
    silver = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "silver"))
    train, _ = get_task("recommendation").split(config, silver, config.split.test_fraction, config.split.seed)
    return {(r.who, r.what) for r in train.collect()}


def test_top_n_lists_leave_out_what_each_user_rated_in_training(registered, spark):
    ws, _, _ = registered
    rated = _training_pairs(spark, ws)
    by_user = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "recommendations_by_user")).collect()
    by_item = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "recommendations_by_item")).collect()
    assert by_user and not {(r.who, r.what) for r in by_user} & rated
    assert by_item and not {(r.who, r.what) for r in by_item} & rated


def test_recommend_cli_matches_the_table_and_falls_back_for_unknown_users(registered, spark):
    ws, _, _ = registered
    result = invoke(
        "recommend",
        "--model",
        "models:/ratings@champion",
        "--user",
        "user-4",
        "-n",
        "3",
        "--json",
        "--workspace",
        str(ws),
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    table = spark.read.format("delta").load(str(ws / "lake" / "ratings" / "recommendations_by_user"))
    expected = [r.what for r in table.where("who = 'user-4'").orderBy("rank").collect()]
    assert answer["source"] == "als"
    assert [p["item"] for p in answer["items"]] == expected
    unknown = json.loads(
        invoke(
            "recommend",
            "--model",
            "models:/ratings@champion",
            "--user",
            "new-user",
            "-n",
            "2",
            "--json",
            "--workspace",
            str(ws),
        ).output
    )
    assert unknown["source"] == "most_popular" and len(unknown["items"]) == 2
    shown = invoke("recommend", "--model", "models:/ratings@champion", "--user", "new-user", "--workspace", str(ws))
    assert "the most popular items (unknown user)" in shown.output


def test_predict_scores_pairs_with_a_fallback_for_unknown_ids(registered, spark):
    ws, folder, _ = registered
    pairs = [("user-1", "item-3"), ("user-1", "unheard-of"), ("stranger", "item-3")]
    spark.createDataFrame(pairs, "who string, what string").write.format("delta").save(str(folder / "pairs"))
    out = str(folder / "scored")
    result = invoke(
        "predict",
        "--model",
        "models:/ratings@champion",
        "--input",
        str(folder / "pairs"),
        "--output",
        out,
        "--workspace",
        str(ws),
    )
    assert result.exit_code == 0, result.output
    scored = {(r.who, r.what): r.prediction for r in spark.read.format("delta").load(out).collect()}
    mean = float(_ratings()["stars"].mean())
    assert scored[("user-1", "unheard-of")] == pytest.approx(scored[("stranger", "item-3")])
    assert abs(scored[("user-1", "unheard-of")] - mean) < 0.1  # the training mean (the train split's)
    assert 0 < scored[("user-1", "item-3")] < 7 and not np.isnan(scored[("user-1", "item-3")])


def test_predict_reads_a_csv_of_string_ids_and_keeps_malformed_rows_aside(registered, spark):
    """Every column of this input is a string, so the rejects hang on Spark's corrupt-record column alone."""
    ws, folder, _ = registered
    csv = folder / "pairs.csv"
    csv.write_text("who,what\nuser-1,item-3\nstranger,item-3\nuser-2,item-1,one field too many\n")
    out = str(folder / "scored_csv")
    result = invoke(
        "predict", "--model", "models:/ratings@champion", "--input", str(csv), "--output", out, "--workspace", str(ws)
    )
    assert result.exit_code == 0, result.output
    scored = spark.read.format("delta").load(out)
    assert sorted(r.who for r in scored.collect()) == ["stranger", "user-1"]
    rejects = spark.read.format("delta").load(out + "_rejects").collect()
    assert len(rejects) == 1 and "malformed record" in rejects[0]._reason


def test_stream_scores_pairs_landing_in_a_folder(registered, spark):
    from sparkwright.deploy.stream import start_scoring_stream, stream_spec
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    ws, folder, _ = registered
    landing = folder / "landing"
    landing.mkdir()
    pd.DataFrame({"who": ["user-2", "user-3"], "what": ["item-1", "item-2"]}).to_csv(landing / "a.csv", index=False)
    workspace = Workspace.resolve(ws)
    registry = Registry(Tracker(workspace.tracking_uri, workspace.artifacts))
    spec = stream_spec(str(landing), str(folder / "streamed"))
    query = start_scoring_stream(spark, registry, "models:/ratings@champion", spec, trigger="available-now")
    query.awaitTermination(300)
    rows = spark.read.format("delta").load(str(folder / "streamed")).collect()
    assert sorted(r.who for r in rows) == ["user-2", "user-3"]
    assert all(np.isfinite(r.prediction) for r in rows)


def test_rest_app_answers_recommend_and_predict(registered):
    from fastapi.testclient import TestClient

    from sparkwright.deploy.recommender import load_recommender
    from sparkwright.deploy.recommender_app import create_recommender_app
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    ws, _, _ = registered
    workspace = Workspace.resolve(ws)
    loaded = load_recommender(
        Registry(Tracker(workspace.tracking_uri, workspace.artifacts)), "models:/ratings@champion"
    )
    client = TestClient(create_recommender_app(loaded, token="s3cret"))
    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/recommend", params={"user": "user-4", "n": 3}).status_code == 401
    answer = client.get("/recommend", params={"user": "user-4", "n": 3}, headers=auth).json()
    assert answer == loaded.recommender.recommend("user-4", 3)
    assert client.get("/recommend", params={"user": "user-4", "n": 0}, headers=auth).status_code == 422
    body = {"records": [{"who": "user-4", "what": "item-1"}, {"who": "nobody", "what": "item-1"}]}
    predictions = client.post("/predict", json=body, headers=auth).json()["predictions"]
    assert predictions[1] == loaded.recommender.fallback_rating
    bad = client.post("/predict", json={"records": [{"who": "user-4"}]}, headers=auth)
    assert bad.status_code == 422 and "what" in bad.text


def test_demo_runs_the_movielens_example(spark, tmp_path):
    ws = tmp_path / "ws"
    result = invoke("demo", "--example", "movielens", "--sample", "3000", "--max-evals", "2", "--workspace", str(ws))
    assert result.exit_code == 0, result.output
    assert "baseline_biases" in result.output and "baseline_popular" in result.output
    assert "als_tuned" in result.output
    assert "Tuned als_tuned: 2 trials" in " ".join(result.output.split())
    # movielens' ids are integers that ALS takes as they are: the logged recommender still answers what the
    # top-N table says (on this sample no model beats the bias baseline, so none is registered: read the run's).
    table = spark.read.format("delta").load(str(ws / "lake" / "movielens" / "recommendations_by_user"))
    user = table.orderBy("userId").first().userId
    expected = [(r.movieId, r.score) for r in table.where(f"userId = {user}").orderBy("rank").collect()]
    answer = _table_model_recommender(ws).recommend(user, len(expected))
    assert answer["source"] == "als" and len(expected) == 10
    assert [p["score"] for p in answer["items"]] == pytest.approx([score for _, score in expected], abs=1e-4)
    # The same movies: those with equal scores (rated once, alike, so with the same factors) in either order.
    above_the_last = {movie for movie, score in expected if score > expected[-1][1] + 1e-4}
    assert above_the_last <= {p["item"] for p in answer["items"]} and len(above_the_last) >= 5


def _table_model_recommender(ws: Path):
    """The Spark-free recommender logged with the model the run wrote its top-N tables from."""
    import mlflow

    from sparkwright.deploy.recommender import RECOMMENDER_DIR, Recommender
    from sparkwright.workspace import Workspace

    client = mlflow.MlflowClient(Workspace.resolve(ws).tracking_uri)
    runs = client.search_runs(client.get_experiment_by_name("movielens").experiment_id.split())
    chosen = next(r.data.params["recommendations_model"] for r in runs if "recommendations_model" in r.data.params)
    run = next(r for r in runs if r.info.run_name == chosen)
    folder = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path=f"model/{RECOMMENDER_DIR}", tracking_uri=client.tracking_uri
    )
    return Recommender.load(folder)
