"""The same projects on a Spark standalone cluster (a master and two one-core workers on 127.0.0.1) and in
local mode: executors are separate JVMs with their own Python workers, sparkwright's code and the Delta jars
reach them, and deterministic models give the same metrics and predictions as in local mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cluster import start_cluster
from delta.tables import DeltaTable
from mlflow import MlflowClient
from per_group_outcome import per_group_outcome
from typer.testing import CliRunner

import sparkwright
from sparkwright.cli import app
from sparkwright.demo import materialise_example
from sparkwright.workspace import Workspace

pytestmark = pytest.mark.slow

SPARKWRIGHT = str(Path(sys.executable).with_name("sparkwright"))
# As a user would size a small cluster (docs/scale-out.md): few shuffle partitions and Delta snapshot partitions
# (Delta's 50 made this run 1.7x slower); executors take the workers' 2g with room to spare. The partitioning
# equals the local test session's (2 and 2): with as many partitions, both modes sum in the same order and draw
# the same per-partition bootstrap samples. With 4 the linear model differed from local mode by 1.4e-9 relative
# (partial sums merged in task completion order) and the forest grew other trees.
CLUSTER_CONF = [
    *("--conf", "spark.driver.host=127.0.0.1"),  # executors call the driver back there, whatever the hostname says
    *("--conf", "spark.sql.shuffle.partitions=2"),
    *("--conf", "spark.default.parallelism=2"),
    *("--conf", "spark.databricks.delta.snapshotPartitions=2"),
    *("--conf", "spark.executor.memory=1g"),
]
HOTEL_MODELS = [
    {"type": "linear_regression", "params": {"regParam": 0.01}},
    {"type": "decision_tree", "params": {"maxDepth": 6}},
    # A single-node model: fitted on the driver, scored on the executors in a pandas UDF.
    {"type": "sklearn", "params": {"estimator": "sklearn.linear_model.Ridge", "alpha": 1.0}},
]
CHURN_MODELS = [
    {"type": "logistic_regression", "params": {"regParam": 0.01}},
    {"type": "random_forest", "params": {"numTrees": 20, "maxDepth": 5}},
]
# A random forest's bootstrap samples are drawn per partition: a cluster that partitions the data otherwise grows
# other trees. Its metrics must agree within this (absolute, on 0..1 metrics); deterministic models to 1e-9.
FOREST_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("java") is None and os.environ.get("CI") != "true":
        pytest.skip("a standalone cluster needs Java")
    started = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()


def _project(root: Path, example: str, models: list[dict], *, explore: bool = False) -> Path:
    ws = Workspace.resolve(root)
    project = materialise_example(example, ws, sample_rows=2_000)
    raw = yaml.safe_load(project.read_text())
    raw.pop("search", None)
    raw.pop("tune", None)
    raw.update(models=models, explore={"enabled": explore}, workspace=str(ws.root))
    project.write_text(yaml.safe_dump(raw))
    return project


def _cli(*args: str) -> subprocess.CompletedProcess:
    completed = subprocess.run([SPARKWRIGHT, *args], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def _leaderboard(ws_root: Path) -> dict[str, dict[str, float]]:
    """Each model's test metrics from the run's leaderboard.json (the last run of the workspace)."""
    files = sorted((ws_root).rglob("leaderboard.json"), key=lambda p: p.stat().st_mtime)
    rows = json.loads(files[-1].read_text())["leaderboard"]
    return {row["model"]: {k: v for k, v in row.items() if isinstance(v, float)} for row in rows}


def _metrics_of(result) -> dict[str, dict[str, float]]:
    return {m.name: {k: v for k, v in m.metrics.items() if isinstance(v, float)} for m in result.models}


def _assert_same_metrics(cluster_board, local_board, tolerances=None):
    """Equal to 1e-9 relative, or within the model's absolute tolerance."""
    assert set(cluster_board) == set(local_board)
    for model, metrics in local_board.items():
        for name, value in metrics.items():
            if name in cluster_board[model]:
                expected = pytest.approx(value, rel=1e-9, abs=(tolerances or {}).get(model, 1e-12))
                assert cluster_board[model][name] == expected, (model, name)


def _new_executor_dirs(cluster, before: set[Path]) -> list[Path]:
    return [d for d in cluster.executor_dirs() if d not in before]


@pytest.fixture(scope="module")
def hotel_on_cluster(cluster, spark, tmp_path_factory):
    """hotel_rates run on the cluster through the CLI and in local mode through the API: (cluster ws, local result)."""
    root = tmp_path_factory.mktemp("hotel-cluster")
    before = set(cluster.executor_dirs())
    project = _project(root / "cluster", "hotel_rates", HOTEL_MODELS, explore=True)
    _cli("run", str(project), "--master", cluster.url, *CLUSTER_CONF)
    executors = _new_executor_dirs(cluster, before)
    local = sparkwright.run(_project(root / "local", "hotel_rates", HOTEL_MODELS), spark=spark)
    return Workspace.resolve(root / "cluster"), local, executors


def test_hotel_rates_on_the_cluster_matches_local_mode(hotel_on_cluster):
    ws, local, _ = hotel_on_cluster
    board = _leaderboard(ws.root)
    _assert_same_metrics(board, _metrics_of(local))
    assert {"linear_regression", "decision_tree", "sklearn", "baseline"} <= set(board)


def test_the_cluster_run_used_executors_on_both_workers_with_sparkwright_and_delta_shipped(hotel_on_cluster, cluster):
    _, _, executors = hotel_on_cluster
    workers = {d.parent.parent for d in executors}
    assert workers == set(cluster.worker_dirs), executors
    for executor in executors:
        assert list(executor.glob("sparkwright-*.zip")), f"sparkwright's code did not reach {executor}"
        assert list(executor.glob("io.delta_delta-spark*.jar")), f"the Delta jars did not reach {executor}"


def test_the_cluster_run_wrote_delta_tables_and_registered_from_the_driver(hotel_on_cluster, spark):
    ws, local, _ = hotel_on_cluster
    for table in ("bronze", "silver"):
        path = ws.table_path("hotel-rates", table)
        assert DeltaTable.isDeltaTable(spark, path), path
        rows = spark.read.format("delta").load(path).count()
        assert rows == spark.read.format("delta").load(local.tables[table].path).count() > 0
    client = MlflowClient(ws.tracking_uri, registry_uri=ws.tracking_uri)
    champion = client.get_model_version_by_alias("hotel-rates", "champion")
    assert client.get_run(champion.run_id).data.metrics["rmse"] == pytest.approx(local.best.metrics["rmse"], rel=1e-9)
    # Artifacts are written by the driver into the workspace (executors never see the tracking store).
    assert list((ws.artifacts).rglob("MLmodel"))
    report = ws.root / "reports" / "hotel-rates" / "profile.html"
    assert "avg_price_per_room" in report.read_text()  # the exploration report, profiled on the executors


def test_batch_scoring_on_the_cluster_equals_local_scoring(hotel_on_cluster, cluster, spark):
    ws, _, _ = hotel_on_cluster
    source = ws.root / "examples" / "hotel_rates" / "data" / "hotel_rates.csv"
    common = ["predict", "--model", "models:/hotel-rates@champion", "--input", str(source), "--workspace", str(ws.root)]
    _cli(*common, "--output", str(ws.root / "scored-cluster"), "--master", cluster.url, *CLUSTER_CONF)
    local_run = CliRunner().invoke(app, [*common, "--output", str(ws.root / "scored-local")])  # the local session
    assert local_run.exit_code == 0, local_run.output

    def scored(name):
        return {r["rownames"]: r["prediction"] for r in spark.read.format("delta").load(str(ws.root / name)).collect()}

    on_cluster, local = scored("scored-cluster"), scored("scored-local")
    assert len(on_cluster) == 2_000
    assert on_cluster.keys() == local.keys()
    assert all(on_cluster[k] == pytest.approx(local[k], rel=1e-9) for k in local)


def test_wa_churn_on_the_cluster_matches_local_mode(cluster, spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("churn-cluster")
    _cli("run", str(_project(root / "cluster", "wa_churn", CHURN_MODELS)), "--master", cluster.url, *CLUSTER_CONF)
    local = sparkwright.run(_project(root / "local", "wa_churn", CHURN_MODELS), spark=spark)
    board = _leaderboard(root / "cluster")
    _assert_same_metrics(board, _metrics_of(local), {"random_forest": FOREST_TOLERANCE})
    assert board["logistic_regression"]["roc_auc"] > 0.8


def test_per_group_training_and_udf_scoring_on_the_cluster_match_local_mode(cluster, spark, tmp_path):
    script = Path(__file__).with_name("per_group_outcome.py")
    before = set(cluster.executor_dirs())
    completed = subprocess.run(
        [sys.executable, str(script), cluster.url, str(tmp_path / "cluster")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(script.parent)},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    on_cluster = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {d.parent.parent for d in _new_executor_dirs(cluster, before)} == set(cluster.worker_dirs)

    local = per_group_outcome(spark, str(tmp_path / "local"))
    assert len(local["rmse"]) >= 40
    assert on_cluster["rmse"] == pytest.approx(local["rmse"], rel=1e-9)
    assert on_cluster["prediction_sums"] == pytest.approx(local["prediction_sums"], rel=1e-9)
