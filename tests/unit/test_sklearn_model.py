"""``type: sklearn``: import paths and params checked without a JVM, the driver-size refusal, Spark scoring
equal to plain scikit-learn, threshold, weights, fit_local / predict_local and the MLflow round trip."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from functools import partial

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import VectorAssembler
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from vector_models import FEATURES, fit_type, labelled_frame, vector_target

from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.models import get_model_type, model_types
from sparkwright.models.driver_data import collect_to_driver
from sparkwright.models.sklearn_model import fit_local, predict_local
from sparkwright.settings import get_settings

ROWS = 300
_fit = partial(fit_type, "sklearn")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return labelled_frame(ROWS, seed=5)


@pytest.fixture(scope="module")
def data(spark, frame):
    return VectorAssembler(inputCols=FEATURES, outputCol="features").transform(spark.createDataFrame(frame)).cache()


@pytest.fixture
def X(frame) -> np.ndarray:
    return frame[FEATURES].to_numpy()


def _scored(model, data, probability: bool = False) -> pd.DataFrame:
    scored = model.transform(data).select("prediction", *(["probability"] if probability else [])).toPandas()
    if probability:
        scored["probability"] = [v.toArray() for v in scored.probability]
    return scored


def test_registered_for_both_tasks_as_single_node():
    assert "sklearn" in model_types("regression") and "sklearn" in model_types("classification")
    assert get_model_type("sklearn").single_node


@pytest.mark.parametrize(
    ("params", "task", "message"),
    [
        (
            {"estimator": "sklearn.ensemble.RandomForrestRegressor"},
            "regression",
            r"params\.estimator: cannot import 'sklearn\.ensemble\.RandomForrestRegressor': sklearn\.ensemble has "
            r"no 'RandomForrestRegressor'\. Did you mean 'RandomForestRegressor'\?",
        ),
        (
            {"estimator": "sklearn.ensembl.RandomForestRegressor"},
            "regression",
            r"params\.estimator: cannot import 'sklearn\.ensembl\.RandomForestRegressor': No module named",
        ),
        ({"estimator": "Ridge"}, "regression", r"params\.estimator: must be an import path such as"),
        ({"estimator": "json.dumps"}, "regression", r"'json\.dumps' is not a scikit-learn estimator class"),
        ({"max_iters": 5}, "regression", r"params\.max_iters: unknown parameter .* Did you mean 'max_iter'\?"),
        (
            {"max_iter": 0},
            "regression",
            r"params\.max_iter: The 'max_iter' parameter of HistGradientBoostingRegressor must be an int in the "
            r"range \[1, inf\)\. Got 0 instead\.",
        ),
        (
            {"estimator": "sklearn.linear_model.Ridge"},
            "classification",
            r"params\.estimator: sklearn\.linear_model\.Ridge is a regressor; task classification needs a classifier",
        ),
        (
            {"estimator": "sklearn.linear_model.LogisticRegression"},
            "regression",
            r"is a classifier; task regression needs a regressor, e\.g\. sklearn\.ensemble\.HistGradientBoosting",
        ),
        ({"estimator": "sklearn.svm.SVC"}, "classification", r"sklearn\.svm\.SVC has no predict_proba"),
        ({"max_driver_rows": 0}, "regression", r"params\.max_driver_rows: must be an integer >= 1, got 0"),
        ({"labelCol": "y"}, "regression", r"params\.labelCol: sparkwright sets labelCol itself"),
        ({"standardize": True}, "regression", r"params\.standardize: standardize applies to linear models"),
        (
            {"estimator": "sklearn.linear_model.Ridge", "standardize": "yes"},
            "regression",
            r"params\.standardize: must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_params_name_the_path_and_the_fix(params, task, message):
    with pytest.raises(ConfigError, match=message):
        get_model_type("sklearn", task).validate_params(params, "models[0].params", task)


def test_an_estimator_option_that_enables_predict_proba_is_accepted():
    get_model_type("sklearn", "classification").validate_params(
        {"estimator": "sklearn.svm.SVC", "probability": True}, "params", "classification"
    )


def test_params_are_checked_without_starting_spark():
    code = textwrap.dedent(
        """
        from sparkwright.models import get_model_type
        from sparkwright.errors import ConfigError
        get_model_type("sklearn").validate_params({"estimator": "sklearn.linear_model.Ridge", "alpha": 2.0})
        try:
            get_model_type("sklearn").validate_params({"estimator": "sklearn.linear_model.Ridge", "alpah": 1}, "m")
        except ConfigError as exc:
            print(exc)
        from pyspark import SparkContext
        assert SparkContext._active_spark_context is None
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "m.alpah: unknown parameter for sklearn.linear_model.Ridge" in result.stdout
    assert "Did you mean 'alpha'?" in result.stdout


def test_resolve_params_shows_the_estimator_its_defaults_and_the_row_limit():
    resolved = get_model_type("sklearn").resolve_params({"max_iter": 50})
    assert resolved["estimator"] == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert resolved["max_iter"] == 50
    assert resolved["random_state"] == 42
    assert resolved["learning_rate"] == 0.1
    assert resolved["max_driver_rows"] == get_settings().sklearn_max_rows


def test_regression_in_spark_equals_plain_sklearn(data, frame, X):
    model = _fit(data, {"max_iter": 20}, vector_target())
    expected = HistGradientBoostingRegressor(max_iter=20, random_state=42).fit(X, frame.y).predict(X)
    np.testing.assert_allclose(_scored(model, data).prediction, expected, rtol=1e-9)


def test_binary_probabilities_equal_sklearn_and_the_threshold_decides(data, frame, X):
    model = _fit(data, {"max_iter": 20}, vector_target("classification", "binary", num_classes=2, threshold=0.9))
    expected = HistGradientBoostingClassifier(max_iter=20, random_state=42).fit(X, frame.binary).predict_proba(X)
    scored = _scored(model, data, probability=True)
    probabilities = np.stack(scored.probability)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-9)
    assert (scored.prediction == (probabilities[:, 1] >= 0.9)).all()
    assert 0 < scored.prediction.sum() < (probabilities[:, 1] >= 0.5).sum()


def test_multiclass_probabilities_in_class_index_order(data, frame):
    params = {"estimator": "sklearn.linear_model.LogisticRegression", "C": 10.0}
    model = _fit(data, params, vector_target("classification", "multi", num_classes=3))
    scored = _scored(model, data, probability=True)
    probabilities = np.stack(scored.probability)
    assert probabilities.shape == (ROWS, 3)
    assert (scored.prediction == probabilities.argmax(axis=1)).all()
    assert (scored.prediction == frame.multi).mean() > 0.85


def test_weights_are_passed_as_sample_weight(data, frame, X):
    params = {"estimator": "sklearn.linear_model.Ridge", "alpha": 1.0}
    weighted = _scored(_fit(data, params, vector_target(weight_col="w")), data).prediction.to_numpy()
    plain = Ridge(alpha=1.0).fit(X, frame.y).predict(X)
    expected = Ridge(alpha=1.0).fit(X, frame.y, sample_weight=frame.w).predict(X)
    np.testing.assert_allclose(weighted, expected, rtol=1e-9)
    assert not np.allclose(weighted, plain, atol=1e-3)


def test_weights_for_an_estimator_without_sample_weight_are_refused(data):
    params = {"estimator": "sklearn.neighbors.KNeighborsRegressor"}
    with pytest.raises(ModelError, match=r"KNeighborsRegressor\.fit takes no sample_weight"):
        _fit(data, params, vector_target(weight_col="w"))


def test_a_training_set_over_the_driver_limit_is_refused_with_the_fix(data):
    with pytest.raises(
        ModelError,
        match=r"trains on the driver, which takes at most 100 rows \(max_driver_rows\), but the training set has "
        rf"{ROWS}\. Raise params\.max_driver_rows \(or SPARKWRIGHT_SKLEARN_MAX_ROWS\)",
    ):
        _fit(data, {"max_driver_rows": 100}, vector_target())


def test_the_row_limit_defaults_to_the_setting(data, monkeypatch):
    monkeypatch.setenv("SPARKWRIGHT_SKLEARN_MAX_ROWS", "250")
    get_settings.cache_clear()
    try:
        assert get_model_type("sklearn").resolve_params({})["max_driver_rows"] == 250
        with pytest.raises(ModelError, match=rf"at most 250 rows .* has {ROWS}\."):
            _fit(data, {"estimator": "sklearn.linear_model.Ridge"}, vector_target())
    finally:
        monkeypatch.delenv("SPARKWRIGHT_SKLEARN_MAX_ROWS")
        get_settings.cache_clear()


def test_importances_from_trees_and_coefficients(data):
    model_type = get_model_type("sklearn")
    forest = _fit(data, {"estimator": "sklearn.ensemble.RandomForestRegressor", "n_estimators": 10}, vector_target())
    ridge = _fit(data, {"estimator": "sklearn.linear_model.Ridge"}, vector_target())
    tree_values = model_type.importances(forest)
    assert len(tree_values) == 4 and sum(tree_values) == pytest.approx(1.0)
    assert max(tree_values) == tree_values[0]
    np.testing.assert_allclose(model_type.importances(ridge), np.abs(ridge.estimator.coef_))
    knn = _fit(data, {"estimator": "sklearn.neighbors.KNeighborsRegressor"}, vector_target())
    assert model_type.importances(knn) is None


def test_collect_to_driver_scatters_sparse_and_dense_vectors(spark):
    from pyspark.ml.linalg import Vectors

    rows = [
        (Vectors.dense([1.0, 0.0, 3.0]), 1.0, 2.0),
        (Vectors.sparse(3, {1: 2.0}), 0.0, 1.0),
        (Vectors.sparse(3, {}), 2.0, 1.0),
        (Vectors.dense([0.0, 5.0, 0.0]), 3.0, 1.0),
    ]
    df = spark.createDataFrame(rows, ["features", "y", "w"]).coalesce(1)
    X, y, w = collect_to_driver(df, "features", "y", "w", dtype="float32")
    assert X.dtype == np.float32
    assert X.tolist() == [[1, 0, 3], [0, 2, 0], [0, 0, 0], [0, 5, 0]]
    assert y.tolist() == [1, 0, 2, 3] and w.tolist() == [2, 1, 1, 1]

    mixed = spark.createDataFrame([(Vectors.dense([1.0, 2.0]),), (Vectors.sparse(3, {0: 1.0}),)], ["features"])
    with pytest.raises(DataError, match=r"the feature vectors in 'features' differ in size"):
        collect_to_driver(mixed.coalesce(1), "features")
    # Dense vectors of lengths 3 and 1 hold 4 values, as two of length 2 would: still refused.
    uneven = spark.createDataFrame(
        [(Vectors.dense([1.0, 2.0]),), (Vectors.dense([1.0, 2.0, 3.0]),), (Vectors.dense([4.0]),)], ["features"]
    )
    with pytest.raises(DataError, match=r"differ in size"):
        collect_to_driver(uneven.coalesce(1), "features")


def test_fit_local_and_predict_local_work_without_spark(frame, X):
    params = {"estimator": "sklearn.linear_model.LogisticRegression", "max_iter": 500}
    # Class 1 never appears in training: its probability column is 0 and every row still gets 3 columns.
    label = np.where(frame.multi.to_numpy() == 1, 2.0, frame.multi.to_numpy())
    estimator = fit_local(params, "classification", X, label)
    predictions, probabilities = predict_local(estimator, X, num_classes=3)
    assert probabilities.shape == (ROWS, 3)
    assert (probabilities[:, 1] == 0).all()
    np.testing.assert_allclose(probabilities[:, [0, 2]], estimator.predict_proba(X))
    assert set(np.unique(predictions)) <= {0.0, 2.0}

    regressor = fit_local({"estimator": "sklearn.linear_model.Ridge"}, "regression", X, frame.y.to_numpy())
    values, none = predict_local(regressor, X)
    assert none is None
    np.testing.assert_allclose(values, Ridge(random_state=42).fit(X, frame.y).predict(X))


def test_standardize_fits_on_scaled_features_and_scores_raw_ones(data, frame, X):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # A column on a scale 1e4 times larger: without standardization the penalty would ignore it.
    X = X * np.array([1e4] + [1.0] * (X.shape[1] - 1))
    params = {"estimator": "sklearn.linear_model.LogisticRegression", "C": 0.05, "standardize": True}
    estimator = fit_local(params, "classification", X, frame.binary.to_numpy())
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.05)).fit(X, frame.binary)
    assert type(estimator) is LogisticRegression  # a plain linear model: scored and exported as one
    np.testing.assert_allclose(predict_local(estimator, X)[1], reference.predict_proba(X), rtol=1e-9, atol=1e-12)
    unscaled = fit_local({**params, "standardize": False}, "classification", X, frame.binary.to_numpy())
    assert np.abs(predict_local(unscaled, X)[1] - reference.predict_proba(X)).max() > 1e-3

    ridge = {"estimator": "sklearn.linear_model.Ridge", "alpha": 30.0, "standardize": True}
    model = _fit(data, ridge, vector_target())
    expected = make_pipeline(StandardScaler(), Ridge(alpha=30.0)).fit(frame[FEATURES], frame.y).predict(frame[FEATURES])
    np.testing.assert_allclose(_scored(model, data).prediction, expected, rtol=1e-9)


def test_mlflow_save_and_load_score_identically(data, frame, tmp_path):
    import mlflow.pyfunc
    import mlflow.spark

    from sparkwright.tracking import PIP_REQUIREMENTS

    target = vector_target("classification", "binary", num_classes=2, threshold=0.7)
    model_type = get_model_type("sklearn", "classification")
    params = {"estimator": "sklearn.linear_model.LogisticRegression"}
    estimator = model_type.build(model_type.resolve_params(params, "classification"), target)
    raw = data.select(*FEATURES, "binary")
    fitted = Pipeline(stages=[VectorAssembler(inputCols=FEATURES, outputCol="features"), estimator]).fit(raw)
    expected = _scored(fitted, raw, probability=True)

    path = str(tmp_path / "model")
    mlflow.spark.save_model(fitted, path, pip_requirements=PIP_REQUIREMENTS, dfs_tmpdir=str(tmp_path / "dfs"))
    loaded = mlflow.spark.load_model(path, dfs_tmpdir=str(tmp_path / "dfs-load"))
    reloaded = _scored(loaded, raw, probability=True)
    np.testing.assert_array_equal(reloaded.prediction, expected.prediction)
    np.testing.assert_array_equal(np.stack(reloaded.probability), np.stack(expected.probability))
    assert (reloaded.prediction == (np.stack(reloaded.probability)[:, 1] >= 0.7)).all()

    predicted = np.asarray(mlflow.pyfunc.load_model(path).predict(frame[FEATURES])).reshape(-1)
    np.testing.assert_array_equal(predicted, expected.prediction)
