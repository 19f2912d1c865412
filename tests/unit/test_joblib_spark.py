"""``tune.trials: joblib-spark``: a grid's fits as joblib tasks on Spark, with the results of the other executors."""

from __future__ import annotations

import sys
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest

from sparkwright.config import parse_project
from sparkwright.errors import ConfigError
from sparkwright.pipeline import validate_models
from sparkwright.pipeline.folds import TrainingFolds
from sparkwright.pipeline.local_tuning import LocalEvaluator
from sparkwright.pipeline.tuning import tune_with
from sparkwright.tracking import Tracker
from sparkwright.tune import grid_search


def _marker_job(spark) -> int:
    """The id of a one-task job run now: Spark numbers jobs in order, so two markers bracket the jobs between."""
    context = spark.sparkContext
    group = f"marker-{uuid.uuid4().hex}"
    context.setJobGroup(group, "marker")
    try:
        context.parallelize([0], 1).count()
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    [job] = context.statusTracker().getJobIdsForGroup(group)
    return job


def _jobs_during(spark, action):
    """(action's result, the number of Spark jobs it ran)."""
    before = _marker_job(spark)
    result = action()
    return result, _marker_job(spark) - before - 1


def test_grid_fits_run_as_spark_tasks_and_a_failing_fold_fails_alone(spark):
    def evaluate(params: dict, fold: int) -> float:
        from pyspark import TaskContext

        if TaskContext.get() is None:
            raise RuntimeError("ran outside a Spark task")
        if params["a"] == 3 and fold == 2:
            raise ValueError("fold 2 broke")
        return (params["a"] - 2) ** 2 + fold

    result, jobs = _jobs_during(
        spark, lambda: grid_search(evaluate, {"a": [2, 3]}, folds=3, parallelism=2, executor="joblib-spark")
    )
    assert [p.fold_losses for p in result.points] == [[0.0, 1.0, 2.0], [1.0, 2.0, None]]
    assert result.points[1].errors == [None, None, "ValueError: fold 2 broke"]
    assert result.best_params == {"a": 2} and result.best_loss == pytest.approx(1.0)
    # joblib dispatches 2 x n_jobs batches before it grows them, one Spark job each.
    assert 4 <= jobs <= 6


def test_joblib_spark_needs_two_jobs():
    with pytest.raises(ConfigError, match=r"^tune\.parallelism: joblib runs n_jobs=1 on the driver, not in Spark"):
        grid_search(lambda p, fold: 0.0, [{"a": 1}], parallelism=1, executor="joblib-spark")
    with pytest.raises(ConfigError, match=r"executor must be one of threads, joblib-spark, got 'loky'"):
        grid_search(lambda p, fold: 0.0, [{"a": 1}], executor="loky")


def _raw(**tune) -> dict:
    return {
        "name": "ridge",
        "task": "regression",
        "data": {"source": {"path": "rows.csv"}, "label": "y"},
        "models": [{"type": "sklearn", "params": {"estimator": "sklearn.linear_model.Ridge"}}],
        "metric": "rmse",
        "tune": {
            "method": "grid",
            "folds": 3,
            "parallelism": 2,
            "space": {"sklearn": {"alpha": [0.1, 300.0]}},
            **tune,
        },
    }


@pytest.fixture(scope="module")
def folds(spark):
    """3 folds of 300 rows (y linear in x1..x3 plus noise), featurized once and collected as NumPy arrays."""
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.uniform(0, 5, n)})
    frame["y"] = 3 * frame.x1 - 2 * frame.x2 + 0.5 * frame.x3 + rng.normal(0, 0.5, n)
    config = parse_project(_raw())
    folds = TrainingFolds.for_project(config, spark.createDataFrame(frame), 3, 42, 0.2)
    try:
        return LocalEvaluator.from_folds(config, config.models[0], folds.pairs(), "rmse", 1.0)
    finally:
        folds.release()


def test_ridge_grid_through_joblib_spark_matches_the_threads_executor(spark, folds, workspace):
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    experiment = tracker.experiment_id("joblib-spark")
    results, jobs = {}, {}
    for trials in ("serial", "joblib-spark"):
        config = parse_project(_raw(trials=trials))
        validate_models(config)
        with tracker.run(experiment, trials) as parent:
            results[trials], jobs[trials] = _jobs_during(
                spark,
                lambda c=config, p=parent: tune_with(
                    tracker, experiment, p, c, c.models[0], folds, 3, single_node=True
                ),
            )
    local, remote = results["serial"], results["joblib-spark"]

    assert (local.executor, remote.executor) == ("threads(2)", "joblib-spark(2)")
    assert remote.best_params == local.best_params == {"alpha": 0.1}
    assert remote.best_score == pytest.approx(local.best_score, abs=1e-9)
    assert [(r["trial"], r["params"]) for r in remote.rows] == [(r["trial"], r["params"]) for r in local.rows]
    for mine, theirs in zip(remote.rows, local.rows, strict=True):
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-9)
        assert mine["fold_scores"] == pytest.approx(theirs["fold_scores"], abs=1e-9)
    assert _trial_metrics(remote.run_id) == pytest.approx(_trial_metrics(local.run_id), abs=1e-9)
    # The fits ran as Spark jobs (joblib dispatches 2 x n_jobs batches first), not on the driver.
    assert jobs["serial"] == 0 and jobs["joblib-spark"] >= 4


def _trial_metrics(run_id: str) -> dict[tuple[str, str], float]:
    """The trial runs' metrics (but their seconds) by (alpha, metric)."""
    runs = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run_id}'", search_all_experiments=True)
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"}
    return {
        (row["params.alpha"], k.removeprefix("metrics.")): v
        for _, row in runs.iterrows()
        for k, v in row.items()
        if k.startswith("metrics.") and "seconds" not in k
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"models": [{"type": "random_forest"}], "space": {"random_forest": {"maxDepth": [2, 4]}}},
            r"^tune\.trials: trials: joblib-spark sends single-node fits \(type: sklearn, lightgbm\) to Spark tasks, "
            r"but model 'random_forest' \(type: random_forest\) is fitted through Spark itself .* use trials: auto",
        ),
        (
            {"models": [{"type": "xgboost"}], "space": {"xgboost": {"max_depth": [2, 4]}}},
            r"^tune\.trials: .* model 'xgboost' \(type: xgboost\) is fitted through Spark itself",
        ),
        (
            {"method": "hyperopt", "space": {"sklearn": {"alpha": {"loguniform": [0.1, 10]}}}},
            r"^tune\.trials: trials: joblib-spark runs a grid's point x fold fits .* Use method: grid, or "
            r"trials: parallel",
        ),
        ({"parallelism": 1}, r"^tune\.parallelism: trials: joblib-spark needs parallelism >= 2 .* got 1"),
    ],
)
def test_validate_refuses_joblib_spark_where_it_cannot_run(changes, message):
    raw = _raw(trials="joblib-spark")
    if "models" in changes:
        raw["models"] = changes.pop("models")
    raw["tune"].update(changes)
    with pytest.raises(ConfigError, match=message):
        validate_models(parse_project(raw))


def test_validate_names_the_package_when_joblibspark_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "joblibspark", None)  # what `import joblibspark` sees when it is not installed
    with pytest.raises(
        ConfigError, match=r"^tune\.trials: .* needs the joblibspark package.* pip install 'joblibspark>=0.6,<1'"
    ):
        validate_models(parse_project(_raw(trials="joblib-spark")))
