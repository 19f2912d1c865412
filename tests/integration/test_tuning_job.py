"""The tune stage through the main job: grid + k-fold CV, hyperopt and optuna, trials logged, winner refit."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

import sparkwright

pytestmark = pytest.mark.slow


@pytest.fixture
def churn_like_csv(tmp_path):
    """400 rows whose binary label depends on two features (and on nothing else)."""
    rng = np.random.default_rng(7)
    n = 400
    plan = rng.choice(["basic", "plus", "premium"], n)
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 120, n)
    risk = (plan == "basic") * 1.5 - tenure / 24 + charges / 60 + rng.normal(0, 0.6, n)
    frame = pd.DataFrame(
        {"id": range(n), "plan": plan, "tenure": tenure, "charges": charges, "left": np.where(risk > 0.8, "yes", "no")}
    )
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    return path


def _project(csv, workspace, tune: dict, models: list[dict] | None = None) -> dict:
    return {
        "name": "tuning",
        "task": "classification",
        "data": {"source": {"path": str(csv)}, "label": "left", "drop": ["id"]},
        "explore": {"enabled": False},
        "classification": {"positive_class": "yes"},
        "models": models or [{"type": "decision_tree"}],
        "tune": tune,
        "metric": "roc_auc",
        "workspace": str(workspace.root),
    }


def _trial_runs(result, model: str) -> list:
    tuned = next(t for t in result.tuning if t.model == model)
    runs = mlflow.search_runs(
        [result.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{tuned.run_id}'", output_format="list"
    )
    return sorted(runs, key=lambda r: int(r.data.tags["sparkwright.trial"]))


def test_grid_search_with_k_fold_logs_every_fold_and_refits_the_winner(spark, churn_like_csv, workspace):
    tune = {"method": "grid", "folds": 3, "parallelism": 2, "space": {"decision_tree": {"maxDepth": [1, 3, 5]}}}
    result = sparkwright.run(_project(churn_like_csv, workspace, tune), spark=spark)

    [tuned] = result.tuning
    assert (tuned.method, tuned.trials, tuned.failed, tuned.stopped_by) == ("grid", 3, 0, "grid")
    runs = _trial_runs(result, "decision_tree")
    assert [int(r.data.params["maxDepth"]) for r in runs] == [1, 3, 5]
    for run in runs:
        folds = [run.data.metrics[f"fold_{i}_roc_auc"] for i in range(3)]
        assert run.data.metrics["cv_roc_auc"] == pytest.approx(np.mean(folds))
        assert len(set(folds)) > 1  # three different validation folds
    best_run = max(runs, key=lambda r: r.data.metrics["cv_roc_auc"])
    assert tuned.best_params == {"maxDepth": int(best_run.data.params["maxDepth"])}
    assert tuned.best_score == pytest.approx(best_run.data.metrics["cv_roc_auc"])

    # The winner is refit on the whole training split, and that model is the one on the leaderboard.
    final = next(m for m in result.models if m.name == "decision_tree")
    assert final.params["maxDepth"] == tuned.best_params["maxDepth"]
    assert mlflow.get_run(final.run_id).data.params["tuned_by_run"] == tuned.run_id
    assert final.metrics["roc_auc"] > result.baseline.metrics["roc_auc"]

    board = json.loads(mlflow.artifacts.load_text(f"runs:/{result.parent_run_id}/tuning_leaderboard.json"))["trials"]
    assert [row["rank"] for row in board] == [1, 2, 3]
    assert board[0]["score"] == pytest.approx(tuned.best_score)


def test_hyperopt_records_failed_trials_and_stops_early(spark, churn_like_csv, workspace):
    # minInstancesPerNode 0 is invalid for Spark: those trials fail, and the search goes on.
    space = {"decision_tree": {"maxDepth": {"quniform": [1, 6, 1]}, "minInstancesPerNode": {"choice": [1, 0]}}}
    tune = {"method": "hyperopt", "algorithm": "random", "max_evals": 30, "early_stop_after": 3, "folds": 0}
    result = sparkwright.run(_project(churn_like_csv, workspace, {**tune, "space": space}), spark=spark)

    [tuned] = result.tuning
    assert tuned.stopped_by == "early_stop"
    assert tuned.trials < 30
    runs = _trial_runs(result, "decision_tree")
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed, "a trial with minInstancesPerNode=0 should have failed"
    assert all(r.data.params["minInstancesPerNode"] == "0" for r in failed)
    assert "minInstancesPerNode" in failed[0].data.tags["sparkwright.error"]
    assert tuned.best_params["minInstancesPerNode"] == 1
    assert all(isinstance(row["params"]["maxDepth"], int) for row in tuned.rows)

    # The pictures of the search, on the parent run and in its summary page.
    client = mlflow.MlflowClient(workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    plots = {a.path for a in client.list_artifacts(result.parent_run_id, "plots")}
    # Parallel coordinates need two successful trials (random search: at least 4 trials ran, some failed).
    parallel = {"parallel_decision_tree"} if sum(r["score"] is not None for r in tuned.rows) >= 2 else set()
    expected = {"leaderboard", "tuning_history_decision_tree", *parallel}
    assert plots == {f"plots/{name}.png" for name in expected}
    page = result.summary_path.read_text(encoding="utf-8")
    assert page.count("<img ") == len(expected) and "Tuning decision_tree: trial history" in page


def test_optuna_backend_tunes_two_models_with_one_leaderboard(spark, churn_like_csv, workspace):
    space = {
        "decision_tree": {"maxDepth": {"quniform": [1, 6, 1]}},
        "logistic_regression": {"regParam": {"loguniform": [0.0001, 1.0]}},
    }
    tune = {"method": "optuna", "algorithm": "tpe", "max_evals": 3, "folds": 2, "space": space}
    models = [{"type": "decision_tree"}, {"type": "logistic_regression"}]
    result = sparkwright.run(_project(churn_like_csv, workspace, tune, models), spark=spark)

    assert {t.model: (t.method, t.trials) for t in result.tuning} == {
        "decision_tree": ("optuna", 3),
        "logistic_regression": ("optuna", 3),
    }
    board = result.tuning_leaderboard()
    assert len(board) == 6 and {row["model"] for row in board} == {"decision_tree", "logistic_regression"}
    scores = [row["score"] for row in board]
    assert scores == sorted(scores, reverse=True)
    regs = [row["params"]["regParam"] for row in board if row["model"] == "logistic_regression"]
    assert all(0.0001 <= r <= 1.0 for r in regs)


def test_single_node_models_are_tried_in_parallel_worker_processes(spark, churn_like_csv, workspace):
    models = [
        {"type": "sklearn", "params": {"estimator": "sklearn.ensemble.RandomForestClassifier", "n_estimators": 20}}
    ]
    space = {"sklearn": {"max_depth": {"quniform": [2, 8, 1]}, "min_samples_leaf": {"choice": [1, 5, 20]}}}
    tune = {"method": "hyperopt", "algorithm": "tpe", "max_evals": 6, "parallelism": 2, "folds": 2, "space": space}
    result = sparkwright.run(_project(churn_like_csv, workspace, tune, models), spark=spark)

    [tuned] = result.tuning
    assert tuned.trials == 6 and tuned.failed == 0
    assert tuned.executor.startswith(("processes", "spark-jobs"))
    runs = _trial_runs(result, "sklearn")
    assert len(runs) == 6 and all(0.5 < r.data.metrics["cv_roc_auc"] <= 1 for r in runs)
    final = next(m for m in result.models if m.name == "sklearn")
    assert final.params["max_depth"] == tuned.best_params["max_depth"]
    assert final.params["n_estimators"] == 20  # the model's own params stay under the tuned ones
    assert final.metrics["roc_auc"] > result.baseline.metrics["roc_auc"] + 0.2
