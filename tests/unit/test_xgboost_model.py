"""``type: xgboost``: params checked without a JVM, both training paths against native xgboost, the
threshold, weights, importances, early stopping, fit_local and the MLflow round trip."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from functools import partial

import numpy as np
import pandas as pd
import pytest
import xgboost
from pyspark.ml import Pipeline
from pyspark.ml.feature import VectorAssembler
from vector_models import FEATURES, fit_type, labelled_frame, vector_target

from sparkwright.errors import ConfigError
from sparkwright.models import Target, get_model_type, model_types
from sparkwright.models.xgboost_model import DRIVER_MAX_CELLS, XGBoostEstimator, find_xgboost_model, holdout_split

ROWS = 400
_fit = partial(fit_type, "xgboost")
# Few, shallow trees: the comparisons stay exact and the fits fast.
SMALL = {"n_estimators": 20, "max_depth": 3}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return labelled_frame(ROWS, seed=3)


@pytest.fixture(scope="module")
def data(spark, frame):
    assembler = VectorAssembler(inputCols=FEATURES, outputCol="features")
    return assembler.transform(spark.createDataFrame(frame)).cache()


def _scored(model, data) -> pd.DataFrame:
    columns = ["prediction"] + (["probability"] if "probability" in model.transform(data).columns else [])
    return model.transform(data).select(*columns).toPandas()


def _probabilities(scored: pd.DataFrame) -> np.ndarray:
    return np.stack([v.toArray() for v in scored.probability])


def test_registered_for_both_tasks():
    assert "xgboost" in model_types("regression")
    assert "xgboost" in model_types("classification")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_dept": 3}, r"params\.max_dept: unknown parameter for 'xgboost'.*Did you mean 'max_depth'\?"),
        ({"max_depth": "deep"}, r"params\.max_depth: must be an integer >= 0, got 'deep'"),
        ({"max_depth": 2.5}, r"params\.max_depth: must be an integer >= 0, got 2\.5"),
        ({"subsample": 1.5}, r"params\.subsample: must be a number in \(0, 1\], got 1\.5"),
        ({"n_estimators": True}, r"params\.n_estimators: must be an integer >= 1, got True"),
        ({"eta": 0.1}, r"params\.eta: 'eta' is xgboost's native name; write it as 'learning_rate'"),
        ({"n_jobs": 4}, r"params\.n_jobs: not supported: sparkwright sets the threads"),
        ({"training": "cluster"}, r"params\.training: must be one of auto, driver, distributed, got 'cluster'"),
        ({"tree_method": "exact"}, r"params\.tree_method: must be one of hist, approx, auto"),
        ({"labelCol": "x"}, r"params\.labelCol: sparkwright sets labelCol itself"),
        ({"weight_col": "x"}, r"params\.weight_col: sparkwright sets weight_col itself"),
        ({"objective": "reg:squarederor"}, r"Did you mean 'reg:squarederror'\?"),
        ({"enable_sparse_data_optim": True}, r"params\.enable_sparse_data_optim: .* needs missing: 0"),
        ({"early_stopping_rounds": 0}, r"params\.early_stopping_rounds: must be an integer >= 1, got 0"),
        (
            {"early_stopping_rounds": 5, "validation_fraction": 1.0},
            r"params\.validation_fraction: must be a number in \(0, 1\), got 1\.0",
        ),
        (
            {"validation_fraction": 0.2},
            r"params\.validation_fraction: validation_fraction is the hold-out of early stopping; add "
            r"early_stopping_rounds or remove it",
        ),
        ({"eval_set": []}, r"params\.eval_set: not supported: sparkwright holds out the validation set itself"),
    ],
)
def test_bad_params_name_the_path_and_the_fix(params, message):
    with pytest.raises(ConfigError, match=message):
        get_model_type("xgboost").validate_params(params, "models[0].params")


def test_classification_rejects_an_objective():
    with pytest.raises(ConfigError, match=r"sparkwright sets the objective from the number of classes"):
        get_model_type("xgboost", "classification").validate_params(
            {"objective": "binary:hinge"}, "models[0].params", "classification"
        )


def test_params_are_checked_without_starting_spark():
    code = textwrap.dedent(
        """
        import sys
        from sparkwright.models import get_model_type
        from sparkwright.errors import ConfigError
        get_model_type("xgboost").validate_params({"max_depth": 4, "missing": 0, "enable_sparse_data_optim": True})
        try:
            get_model_type("xgboost").validate_params({"max_depht": 4}, "m.params")
        except ConfigError as exc:
            print(exc)
        from pyspark import SparkContext
        assert SparkContext._active_spark_context is None
        assert "py4j.java_gateway" not in sys.modules or SparkContext._gateway is None
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "m.params.max_depht: unknown parameter" in result.stdout


def test_resolve_params_shows_the_defaults_used():
    resolved = get_model_type("xgboost").resolve_params({"max_depth": 3.0})
    assert resolved["max_depth"] == 3 and isinstance(resolved["max_depth"], int)
    assert resolved["n_estimators"] == 100
    assert resolved["training"] == "auto"
    assert resolved["driver_max_cells"] == DRIVER_MAX_CELLS
    assert resolved["random_state"] == 42
    assert "validation_fraction" not in resolved  # only shown when early stopping uses it
    assert get_model_type("xgboost").resolve_params({"early_stopping_rounds": 5})["validation_fraction"] == 0.1


class _Messages(logging.Handler):
    """Collects log messages where pytest's caplog cannot go (module-scoped fixtures)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _fit_logged(data, params: dict, target: Target):
    """The fitted model and what sparkwright.models.xgboost_model logged meanwhile."""
    logger = logging.getLogger("sparkwright.models.xgboost_model")
    handler, level = _Messages(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        model = _fit(data, params, target)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return model, " ".join(handler.messages)


@pytest.fixture(scope="module")
def on_driver(data):
    """A regression fit with empty params, which `auto` trains on the driver at this size."""
    return _fit_logged(data, {}, vector_target())


@pytest.fixture(scope="module")
def distributed(data):
    """A regression fit that `auto` sends to Spark workers (the data exceeds a tiny driver budget)."""
    return _fit_logged(data, {**SMALL, "driver_max_cells": 100}, vector_target())


def _native_regressor(frame: pd.DataFrame, params: dict | None = None, **fit) -> xgboost.XGBRegressor:
    """Native xgboost with sparkwright's defaults (100 trees, depth 6, learning rate 0.3, seed 42)."""
    params = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.3, "random_state": 42, **(params or {})}
    return xgboost.XGBRegressor(**params, tree_method="hist").fit(frame[FEATURES].to_numpy(), frame.y, **fit)


def test_driver_path_matches_native_xgboost_on_sparse_vectors(data, frame, on_driver):
    model, logged = on_driver
    assert f"training on the driver with 2 threads ({ROWS} rows x 4 features = 1,600 cells" in logged
    expected = _native_regressor(frame).predict(frame[FEATURES].to_numpy())
    np.testing.assert_allclose(_scored(model, data).prediction, expected, rtol=1e-5, atol=1e-5)


def test_auto_goes_distributed_past_the_driver_budget_and_is_as_good_as_native(data, frame, distributed):
    model, logged = distributed
    assert f"distributed on 2 Spark workers ({ROWS} rows x 4 features = 1,600 cells > driver_max_cells 100)" in logged
    predictions = _scored(model, data).prediction.to_numpy()
    native = xgboost.XGBRegressor(**SMALL, tree_method="hist").fit(frame[FEATURES].to_numpy(), frame.y)
    rmse = np.sqrt(np.mean((predictions - frame.y) ** 2))
    native_rmse = np.sqrt(np.mean((native.predict(frame[FEATURES].to_numpy()) - frame.y) ** 2))
    # Two workers merge their quantile sketches, so splits differ a little from a single process.
    assert rmse < native_rmse * 1.15
    assert np.corrcoef(predictions, frame.y)[0, 1] > 0.95


def test_binary_probabilities_match_native_and_the_threshold_decides(data, frame):
    model = _fit(data, SMALL, vector_target("classification", "binary", num_classes=2, threshold=0.9))
    native = xgboost.XGBClassifier(**SMALL, tree_method="hist", random_state=42)
    native.fit(frame[FEATURES].to_numpy(), frame.binary.astype(int))

    scored = _scored(model, data)
    probabilities = _probabilities(scored)
    np.testing.assert_allclose(probabilities, native.predict_proba(frame[FEATURES].to_numpy()), atol=1e-5)
    assert (scored.prediction == (probabilities[:, 1] >= 0.9)).all()
    # Fewer positives than xgboost's own argmax (threshold 0.5), but some.
    assert 0 < scored.prediction.sum() < (probabilities[:, 1] >= 0.5).sum()


def test_distributed_binary_classification_honours_the_threshold(data, frame):
    target = vector_target("classification", "binary", num_classes=2, threshold=0.8)
    model = _fit(data, {**SMALL, "training": "distributed"}, target)
    scored = _scored(model, data)
    probabilities = _probabilities(scored)
    assert (scored.prediction == (probabilities[:, 1] >= 0.8)).all()
    assert (probabilities.argmax(axis=1) == frame.binary).mean() > 0.85


def test_multiclass_writes_one_probability_per_class_and_the_argmax(data, frame):
    model = _fit(data, SMALL, vector_target("classification", "multi", num_classes=3))
    scored = _scored(model, data)
    probabilities = _probabilities(scored)
    assert probabilities.shape == (ROWS, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert (scored.prediction == probabilities.argmax(axis=1)).all()
    assert (scored.prediction == frame.multi).mean() > 0.85


def test_weights_change_the_fit_on_the_driver_as_in_native_xgboost(data, frame, on_driver):
    plain = _scored(on_driver[0], data).prediction.to_numpy()
    weighted = _scored(_fit(data, {}, vector_target(weight_col="w")), data).prediction.to_numpy()
    assert not np.allclose(plain, weighted, atol=1e-3)
    expected = _native_regressor(frame, sample_weight=frame.w).predict(frame[FEATURES].to_numpy())
    np.testing.assert_allclose(weighted, expected, rtol=1e-5, atol=1e-5)


def test_weights_change_the_fit_distributed(data, distributed):
    plain = _scored(distributed[0], data).prediction.to_numpy()
    weighted = _fit(data, {**SMALL, "training": "distributed"}, vector_target(weight_col="w"))
    assert not np.allclose(plain, _scored(weighted, data).prediction.to_numpy(), atol=1e-3)


def test_importances_are_gain_per_slot_and_sum_to_one(on_driver):
    values = get_model_type("xgboost").importances(on_driver[0])
    assert len(values) == len(FEATURES)
    assert sum(values) == pytest.approx(1.0)
    # 'a' (weight 2) carries most of the signal, 'c' none.
    assert max(values) == values[0] and values[2] < 0.05


def test_estimator_saves_and_loads_with_its_params(data, tmp_path):
    estimator = get_model_type("xgboost").build({"max_depth": 2, "training": "driver"}, vector_target())
    estimator.save(str(tmp_path / "estimator"))
    loaded = XGBoostEstimator.load(str(tmp_path / "estimator"))
    assert loaded.getOrDefault(loaded.xgbParams)["max_depth"] == 2
    assert loaded.getOrDefault(loaded.training) == "driver"


def test_mlflow_save_and_load_score_identically(data, frame, tmp_path):
    import mlflow.pyfunc
    import mlflow.spark

    from sparkwright.tracking import PIP_REQUIREMENTS

    # A classifier with its threshold stage (the most stages to save and load), from empty params.
    target = vector_target("classification", "binary", num_classes=2, threshold=0.7)
    model_type = get_model_type("xgboost", "classification")
    estimator = model_type.build(model_type.resolve_params({}, "classification"), target)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=FEATURES, outputCol="features"), estimator])
    raw = data.select(*FEATURES, "y", "binary")
    fitted = pipeline.fit(raw)
    expected = fitted.transform(raw).select("prediction").toPandas().prediction.to_numpy()

    path = str(tmp_path / "model")
    mlflow.spark.save_model(fitted, path, pip_requirements=PIP_REQUIREMENTS, dfs_tmpdir=str(tmp_path / "dfs"))
    loaded = mlflow.spark.load_model(path, dfs_tmpdir=str(tmp_path / "dfs-load"))
    reloaded = loaded.transform(raw).select("prediction").toPandas().prediction.to_numpy()
    np.testing.assert_array_equal(reloaded, expected)

    pyfunc = mlflow.pyfunc.load_model(path)
    predicted = np.asarray(pyfunc.predict(frame[FEATURES])).reshape(-1)
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)
    # The threshold stage was saved too.
    probabilities = np.stack([v.toArray() for v in loaded.transform(raw).select("probability").toPandas().probability])
    assert (reloaded == (probabilities[:, 1] >= 0.7)).all()


# ---- early stopping and fit_local -----------------------------------------------------------------

# A ceiling far above what the data needs: early stopping must end the fit well before it.
STOPPING = {"n_estimators": 500, "max_depth": 3, "early_stopping_rounds": 5}


@pytest.fixture(scope="module")
def stopped_on_driver(data):
    return _fit(data, {**STOPPING, "training": "driver"}, vector_target())


def test_early_stopping_on_the_driver_keeps_the_best_round_of_native_xgboost(data, frame, stopped_on_driver):
    summary = get_model_type("xgboost").training_summary(stopped_on_driver)
    assert 1 <= summary["best_iteration"] < 100
    assert summary["rounds_trained"] == summary["best_iteration"] + 5  # stopped 5 rounds after the best
    assert summary["trees"] == summary["best_iteration"]

    # Native xgboost on the same seeded 10% hold-out, early-stopped the same way.
    X = frame[FEATURES].to_numpy()
    fit, held = holdout_split(frame.y.to_numpy(), 0.1, 42, stratify=False)
    assert len(held) == ROWS // 10 and not set(fit) & set(held)
    native = xgboost.XGBRegressor(**STOPPING, tree_method="hist", random_state=42)
    native.fit(X[fit], frame.y[fit], eval_set=[(X[held], frame.y[held])], verbose=False)
    assert native.best_iteration + 1 == summary["best_iteration"]
    np.testing.assert_allclose(_scored(stopped_on_driver, data).prediction, native.predict(X), rtol=1e-5, atol=1e-5)


def test_an_early_stopped_model_saves_and_scores_with_its_best_round(data, stopped_on_driver, tmp_path):
    from pyspark.ml import PipelineModel

    # xgboost.spark refuses to save early_stopping_rounds without a validation column: none is left on it.
    PipelineModel([stopped_on_driver]).save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    np.testing.assert_array_equal(_scored(loaded, data).prediction, _scored(stopped_on_driver, data).prediction)
    assert get_model_type("xgboost").training_summary(loaded) == get_model_type("xgboost").training_summary(
        stopped_on_driver
    )


def test_early_stopping_distributed_uses_a_validation_column_and_the_best_round(data, frame):
    target = vector_target("classification", "binary", num_classes=2)
    model = _fit(data, {**STOPPING, "training": "distributed"}, target)
    summary = get_model_type("xgboost").training_summary(model)
    assert 1 <= summary["best_iteration"] < 100
    assert summary["rounds_trained"] == summary["best_iteration"] + 5
    booster = find_xgboost_model(model).get_booster()
    margins = booster.inplace_predict(
        frame[FEATURES].to_numpy(np.float32), iteration_range=(0, int(summary["best_iteration"])), predict_type="margin"
    )
    probabilities = _probabilities(_scored(model, data))
    np.testing.assert_allclose(probabilities[:, 1], 1 / (1 + np.exp(-margins)), rtol=1e-5)


def test_holdout_split_is_seeded_and_stratified():
    y = np.array([0] * 50 + [1] * 30 + [2] * 1)
    fit, held = holdout_split(y, 0.2, 7, stratify=True)
    assert np.bincount(y[held], minlength=3).tolist() == [10, 6, 0]  # a class of one row stays in the fit
    assert sorted([*fit, *held]) == list(range(len(y)))
    again = holdout_split(y, 0.2, 7, stratify=True)
    assert (again[1] == held).all() and not (holdout_split(y, 0.2, 8, stratify=True)[1] == held).all()


def test_fit_local_equals_the_driver_path_and_honours_threads(data, frame):
    model_type = get_model_type("xgboost", "classification")
    assert model_type.fits_locally and not model_type.single_node
    target = vector_target("classification", "multi", num_classes=3)
    spark_model = _fit(data, {**SMALL, "early_stopping_rounds": 3}, target)
    X = frame[FEATURES].to_numpy()
    local = model_type.fit_local(
        {**SMALL, "early_stopping_rounds": 3}, "classification", X, frame.multi.to_numpy(), threads=1
    )
    assert isinstance(local, xgboost.XGBClassifier) and local.n_jobs == 1
    assert local.best_iteration + 1 == model_type.training_summary(spark_model)["best_iteration"]
    np.testing.assert_allclose(local.predict_proba(X), _probabilities(_scored(spark_model, data)), atol=1e-6)
