"""``type: lightgbm``: params checked without a JVM, native categoricals, Spark scoring equal to LightGBM's
own, the driver limit, early stopping (kept rounds, logged by the main job), determinism, weights,
fit_local and the MLflow round trip with the booster saved as text."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from functools import partial

import lightgbm
import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline
from vector_models import fit_type, vector_target

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.errors import ConfigError, ModelError
from sparkwright.features import build_feature_stages, categorical_slots
from sparkwright.models import fit_model, get_model_type, model_types, predict
from sparkwright.models.driver_data import collect_to_driver
from sparkwright.models.lightgbm_model import LightGBMModel, fit_local
from sparkwright.models.xgboost_model import DRIVER_MAX_CELLS

ROWS = 400
CATEGORICAL = ["city"]
NUMERIC = ["x1", "x2"]
_fit = partial(fit_type, "lightgbm")
SMALL = {"n_estimators": 30, "num_leaves": 8, "min_child_samples": 5}
# City effects out of the order StringIndexer gives the levels (by frequency): only splitting on sets of
# levels, not on the index as a number, fits them in few trees.
EFFECT = {"lisbon": 0.0, "porto": 6.0, "faro": -4.0, "braga": 5.0, "evora": -6.0}


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(list(EFFECT), rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    frame = pd.DataFrame({"city": city, "x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    signal = frame.city.map(EFFECT) + 2 * frame.x1 - frame.x2
    frame["y"] = signal + rng.normal(0, 0.5, rows)
    frame["price"] = np.exp(3 + 0.1 * frame.y)
    frame["binary"] = (signal + rng.normal(0, 1, rows) > 1).astype(float)
    frame["multi"] = np.digitize(signal, [-2, 2]).astype(float)
    frame["w"] = np.where(frame.x2 > 0.5, 20.0, 1.0)
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _frame(ROWS, seed=11)


@pytest.fixture(scope="module")
def data(spark, frame):
    """The rows as a tree type's estimator sees them: ``city`` one indexed slot (nominal), then x1, x2."""
    stages = build_feature_stages(CATEGORICAL, NUMERIC, impute="median", features_col="features", one_hot=False)
    rows = Pipeline(stages=stages).fit(spark.createDataFrame(frame)).transform(spark.createDataFrame(frame))
    return rows.cache()


@pytest.fixture(scope="module")
def arrays(data):
    """Features (city index, x1, x2), the labels and the weights as the driver collects them."""
    X, _, _ = collect_to_driver(data, "features")
    labels = data.select("y", "binary", "multi", "w").toPandas()
    return X, labels


@pytest.fixture(scope="module")
def regression(data):
    return _fit(data, SMALL, vector_target())


def _scored(model, data) -> pd.DataFrame:
    scored = model.transform(data)
    columns = ["prediction"] + (["probability"] if "probability" in scored.columns else [])
    out = scored.select(*columns).toPandas()
    if "probability" in out:
        out["probability"] = [v.toArray() for v in out.probability]
    return out


def test_registered_for_both_tasks_as_a_single_node_tree_type():
    assert "lightgbm" in model_types("regression") and "lightgbm" in model_types("classification")
    model_type = get_model_type("lightgbm")
    assert model_type.single_node and model_type.fits_locally and not model_type.one_hot


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_leafs": 8}, r"params\.num_leafs: unknown parameter for 'lightgbm'; valid: .* mean 'num_leaves'\?"),
        ({"num_leaves": 1}, r"params\.num_leaves: must be an integer >= 2, got 1"),
        ({"learning_rate": "fast"}, r"params\.learning_rate: must be a number > 0, got 'fast'"),
        ({"n_estimators": 2.5}, r"params\.n_estimators: must be an integer >= 1, got 2\.5"),
        ({"subsample": 0}, r"params\.subsample: must be a number in \(0, 1\], got 0"),
        ({"extra_trees": "yes"}, r"params\.extra_trees: must be true or false, got 'yes'"),
        ({"n_jobs": 2}, r"params\.n_jobs: not supported: sparkwright sets the threads"),
        ({"num_threads": 2}, r"params\.num_threads: not supported: sparkwright sets the threads"),
        ({"class_weight": "balanced"}, r"params\.class_weight: not supported: set classification\.class_weight"),
        (
            {"feature_fraction": 0.8},
            r"params\.feature_fraction: 'feature_fraction' is LightGBM's native name; "
            r"write it as 'colsample_bytree' here",
        ),
        ({"categorical_feature": [0]}, r"params\.categorical_feature: sparkwright sets categorical_feature itself"),
        ({"labelCol": "y"}, r"params\.labelCol: sparkwright sets labelCol itself"),
        ({"boosting_type": "gdbt"}, r"params\.boosting_type: must be one of gbdt, dart, rf, got 'gdbt'\. Did you mean"),
        ({"objective": "regresion"}, r"params\.objective: must be one of .* Did you mean 'regression'\?"),
        ({"monotone_constraints": [1, 2]}, r"params\.monotone_constraints: must be a list of -1, 0 or 1"),
        ({"early_stopping_rounds": 0}, r"params\.early_stopping_rounds: must be an integer >= 1, got 0"),
        (
            {"validation_fraction": 0.2},
            r"params\.validation_fraction: validation_fraction is the hold-out of early "
            r"stopping; add early_stopping_rounds or remove it",
        ),
        (
            {"boosting_type": "dart", "early_stopping_rounds": 5},
            r"params\.early_stopping_rounds: LightGBM has no "
            r"early stopping with boosting_type dart",
        ),
        ({"boosting_type": "rf"}, r"params\.boosting_type: boosting_type rf averages trees grown on samples"),
    ],
)
def test_bad_params_name_the_path_and_the_fix(params, message):
    with pytest.raises(ConfigError, match=message):
        get_model_type("lightgbm").validate_params(params, "models[0].params")


def test_classification_rejects_an_objective():
    with pytest.raises(ConfigError, match=r"params\.objective: sparkwright sets the objective from the number"):
        get_model_type("lightgbm", "classification").validate_params(
            {"objective": "binary"}, "models[0].params", "classification"
        )


def test_params_are_checked_without_starting_spark():
    code = textwrap.dedent(
        """
        import sys
        from sparkwright.models import get_model_type
        from sparkwright.errors import ConfigError
        get_model_type("lightgbm").validate_params({"num_leaves": 15, "objective": "huber", "max_bin": 63})
        try:
            get_model_type("lightgbm").validate_params({"num_leaf": 4}, "m.params")
        except ConfigError as exc:
            print(exc)
        from pyspark import SparkContext
        assert SparkContext._active_spark_context is None
        assert "py4j.java_gateway" not in sys.modules or SparkContext._gateway is None
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "m.params.num_leaf: 'num_leaf' is LightGBM's native name; write it as 'num_leaves' here." in result.stdout


def test_resolve_params_shows_the_defaults_used():
    resolved = get_model_type("lightgbm").resolve_params({"num_leaves": 15.0})
    assert resolved["num_leaves"] == 15 and isinstance(resolved["num_leaves"], int)
    assert resolved["n_estimators"] == 100 and resolved["learning_rate"] == 0.1
    assert resolved["random_state"] == 42 and resolved["deterministic"] and resolved["force_row_wise"]
    assert resolved["verbose"] == -1
    assert resolved["driver_max_cells"] == DRIVER_MAX_CELLS
    assert "validation_fraction" not in resolved
    stopping = get_model_type("lightgbm").resolve_params({"early_stopping_rounds": 5, "force_col_wise": True})
    assert stopping["validation_fraction"] == 0.1 and "force_row_wise" not in stopping


def test_categoricals_reach_lightgbm_as_categories(data, regression):
    assert categorical_slots(data, "features") == [0]
    booster = regression.estimator.booster
    assert booster.num_feature() == 3  # city is one slot, not one per level
    assert "[categorical_feature: 0]" in regression.estimator.model

    def splits(node):
        if "split_index" in node:
            yield node["split_feature"], node["decision_type"]
            yield from splits(node["left_child"])
            yield from splits(node["right_child"])

    found = {s for tree in booster.dump_model()["tree_info"] for s in splits(tree["tree_structure"])}
    assert (0, "==") in found  # splits on sets of cities
    assert all(kind == "<=" for feature, kind in found if feature != 0)

    importances = get_model_type("lightgbm").importances(regression)
    assert len(importances) == 3 and sum(importances) == pytest.approx(1.0)
    assert importances[0] > 0.3  # city's effect is the largest


def test_regression_in_spark_equals_lightgbm_itself(data, arrays, regression):
    X, labels = arrays
    native = fit_local(SMALL, "regression", X, labels.y.to_numpy(), categorical_slots=[0], threads=2)
    assert isinstance(native, lightgbm.LGBMRegressor)
    np.testing.assert_allclose(_scored(regression, data).prediction, native.predict(X), rtol=1e-12)
    rmse = np.sqrt(np.mean((native.predict(X) - labels.y) ** 2))
    assert rmse < 0.25 * labels.y.std()


def test_binary_probabilities_equal_lightgbm_and_the_threshold_decides(data, arrays):
    X, labels = arrays
    model = _fit(data, SMALL, vector_target("classification", "binary", num_classes=2, threshold=0.7))
    native = fit_local(SMALL, "classification", X, labels.binary.to_numpy(), categorical_slots=[0])
    scored = _scored(model, data)
    probabilities = np.stack(scored.probability)
    np.testing.assert_allclose(probabilities, native.predict_proba(X), rtol=1e-12)
    assert (scored.prediction == (probabilities[:, 1] >= 0.7)).all()
    assert 0 < scored.prediction.sum() < (probabilities[:, 1] >= 0.5).sum()


def test_multiclass_writes_one_probability_per_class_and_the_argmax(data, arrays):
    _, labels = arrays
    model = _fit(data, SMALL, vector_target("classification", "multi", num_classes=3))
    scored = _scored(model, data)
    probabilities = np.stack(scored.probability)
    assert probabilities.shape == (ROWS, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    assert (scored.prediction == probabilities.argmax(axis=1)).all()
    assert (scored.prediction == labels.multi).mean() > 0.85
    assert get_model_type("lightgbm").training_summary(model) == {"rounds_trained": 30.0, "trees": 90.0}


def test_weights_change_the_fit_as_in_lightgbm(data, arrays, regression):
    X, labels = arrays
    weighted = _fit(data, SMALL, vector_target(weight_col="w"))
    plain = _scored(regression, data).prediction.to_numpy()
    predictions = _scored(weighted, data).prediction.to_numpy()
    assert not np.allclose(plain, predictions, atol=1e-3)
    native = fit_local(SMALL, "regression", X, labels.y.to_numpy(), labels.w.to_numpy(), categorical_slots=[0])
    np.testing.assert_allclose(predictions, native.predict(X), rtol=1e-12)


def test_a_training_set_over_the_driver_limit_is_refused_before_collecting(data):
    with pytest.raises(
        ModelError,
        match=r"lightgbm trains on the driver, which takes at most 1,000 cells \(params\.driver_max_cells: rows x "
        r"feature slots\), but the training set has 400 rows x 3 slots = 1,200\. Raise driver_max_cells .* use a "
        r"type that trains distributed: xgboost with training: distributed, or gbt\.",
    ):
        _fit(data, {**SMALL, "driver_max_cells": 1_000}, vector_target())


def test_the_same_data_twice_gives_the_same_model(spark, frame):
    train = spark.createDataFrame(frame)
    fits = [
        fit_model(
            train,
            ModelSpec(type="lightgbm", params={"subsample": 0.7, "subsample_freq": 1, "n_estimators": 20}),
            label_col="y",
            categorical=CATEGORICAL,
            numeric=NUMERIC,
            impute="median",
        )
        for _ in range(2)
    ]
    first, second = (predict(f, train).select("prediction").toPandas().prediction.to_numpy() for f in fits)
    np.testing.assert_array_equal(first, second)
    boosters = [f.pipeline_model.stages[-1].estimator.model for f in fits]
    assert boosters[0] == boosters[1]


def test_fit_local_stops_early_on_arrays(arrays):
    X, labels = arrays
    params = {"n_estimators": 1000, "learning_rate": 0.3, "early_stopping_rounds": 5}
    model = get_model_type("lightgbm").fit_local(
        params, "regression", X, labels.y.to_numpy(), categorical_slots=[0], threads=1
    )
    assert 1 <= model.best_iteration_ < 200 and model.n_jobs == 1
    assert model.booster_.current_iteration() == model.best_iteration_  # only the rounds up to the best are kept


# ---- early stopping in the main job, and the logged model -----------------------------------------

CEILING = 2_000


@pytest.fixture(scope="module")
def trained_run(spark, frame, tmp_path_factory):
    """One lightgbm model of a project with early stopping, through the main job's train_one: its run and model."""
    from sparkwright.pipeline.artifacts import ArtifactWriter
    from sparkwright.pipeline.results import TableRef
    from sparkwright.pipeline.training import train_one
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    params = {"n_estimators": CEILING, "learning_rate": 0.2, "early_stopping_rounds": 10}
    config = ProjectConfig.model_validate(
        {
            "name": "lgb",
            "task": "regression",
            "data": {"source": {"path": "rates.csv", "format": "csv"}, "label": "price"},
            "cleanse": {"impute": "median", "log_label": True},
            "models": [{"type": "lightgbm", "params": params}],
        }
    )
    columns = [*CATEGORICAL, *NUMERIC, "price"]
    train = spark.createDataFrame(frame[columns]).cache()
    test = spark.createDataFrame(_frame(150, seed=12)[columns]).cache()
    ws = Workspace.resolve(tmp_path_factory.mktemp("lightgbm") / "ws")
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    experiment = tracker.experiment_id("lgb")
    artifacts = ArtifactWriter(tracker)
    with tracker.run(experiment, "job") as parent:
        result = train_one(
            tracker, artifacts, experiment, parent, config, config.models[0], train, test, TableRef("silver", 0)
        )
    artifacts.wait()
    return tracker, result, test


def test_early_stopping_keeps_fewer_rounds_and_the_run_logs_them(trained_run):
    tracker, result, _ = trained_run
    metrics = tracker.client.get_run(result.run_id).data.metrics
    assert 1 <= metrics["best_iteration"] < CEILING / 10
    assert metrics["rounds_trained"] == metrics["best_iteration"] + 10
    assert metrics["trees"] == metrics["best_iteration"]
    assert result.params["validation_fraction"] == 0.1 and result.params["n_estimators"] == CEILING


def test_the_logged_model_loads_back_and_scores_the_same(trained_run, tmp_path):
    import mlflow.artifacts
    import mlflow.pyfunc
    import mlflow.spark

    tracker, result, test = trained_run
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=result.model_uri, tracking_uri=tracker.tracking_uri, dst_path=str(tmp_path)
    )
    spark_model = mlflow.spark.load_model(local, dfs_tmpdir=str(tmp_path / "dfs"))
    stage = next(s for s in spark_model.stages if isinstance(s, LightGBMModel))
    assert (
        stage.estimator.summary["best_iteration"]
        == tracker.client.get_run(result.run_id).data.metrics["best_iteration"]
    )
    # The booster is saved as LightGBM's text model, which starts with its version line, not as a pickle.
    assert stage.estimator.model.startswith("tree\nversion=v4")

    inputs = test.select(*CATEGORICAL, *NUMERIC)
    spark_predictions = predict(spark_model, inputs).toPandas().prediction.to_numpy()
    assert 10 < spark_predictions.mean() < 60  # exp() of the log-price model: price units
    pyfunc_predictions = np.asarray(mlflow.pyfunc.load_model(local).predict(inputs.toPandas())).reshape(-1)
    np.testing.assert_allclose(pyfunc_predictions, spark_predictions, rtol=1e-12)
