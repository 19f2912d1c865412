"""Model types: one conformance test over every registered type, params checks, log_label, the registry."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pyspark.sql import functions as F

from sparkwright.config import ModelSpec
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.models import (
    ModelType,
    fit_model,
    get_model_type,
    model_types,
    predict,
    register_model_type,
)
from sparkwright.models import registry as registry_module
from sparkwright.tasks.regression import regression_metrics

CATEGORICAL = ["meal", "room_type"]
NUMERIC = ["lead_time", "lead_time_missing", "nights"]
LABEL = "price"
SCHEMA = f"meal string, room_type string, lead_time double, lead_time_missing double, nights double, {LABEL} double"


def _rows(n: int, seed: int) -> list[tuple]:
    """Hotel-like rows whose price depends on every feature; 10% of lead_time is null."""
    rng = np.random.default_rng(seed)
    meals = rng.choice(["bed_and_breakfast", "half_board", "self_catering"], n)
    rooms = rng.choice(["double", "suite"], n)
    lead = rng.uniform(0, 100, n)
    nights = rng.integers(1, 8, n).astype(float)
    price = 60 + 40 * (meals == "half_board") + 30 * (rooms == "suite") + 0.8 * lead + 4 * nights + rng.normal(0, 5, n)
    null = rng.random(n) < 0.1
    return [
        (m, r, None if z else float(x), float(z), float(k), float(y))
        for m, r, x, z, k, y in zip(meals, rooms, lead, null, nights, price, strict=True)
    ]


@pytest.fixture(scope="module")
def train(spark):
    return spark.createDataFrame(_rows(400, seed=1), SCHEMA).cache()


@pytest.fixture(scope="module")
def test(spark):
    return spark.createDataFrame(_rows(150, seed=2), SCHEMA).cache()


def _fit(train_df, type_: str, params: dict | None = None, *, log_label: bool = False, impute="median"):
    return fit_model(
        train_df,
        ModelSpec(type=type_, params=params or {}),
        label_col=LABEL,
        categorical=CATEGORICAL,
        numeric=NUMERIC,
        impute=impute,
        log_label=log_label,
    )


@pytest.fixture(scope="module")
def baseline_rmse(train, test):
    return regression_metrics(predict(_fit(train, "baseline"), test), LABEL)["rmse"]


def test_built_in_types_are_registered_per_task():
    assert {"baseline", "decision_tree", "gbt", "linear_regression", "random_forest"} <= set(model_types("regression"))
    assert {"baseline", "decision_tree", "gbt", "logistic_regression", "random_forest"} <= set(
        model_types("classification")
    )
    assert "logistic_regression" not in model_types("regression")


def test_baseline_predicts_the_training_mean(train, test):
    mean = train.agg(F.avg(LABEL)).first()[0]
    predictions = {r.prediction for r in predict(_fit(train, "baseline"), test).collect()}
    assert len(predictions) == 1
    assert predictions.pop() == pytest.approx(mean, rel=1e-12)


def test_spark_defaults_and_params_actually_used(train):
    fitted = _fit(train, "random_forest", {"maxDepth": 4.0})
    assert fitted.params == {"seed": 42, "maxDepth": 4}
    forest = fitted.pipeline_model.stages[-1]
    assert forest.getNumTrees == 20
    assert forest.getOrDefault("maxDepth") == 4


@pytest.mark.parametrize("type_", ["linear_regression", "random_forest", "baseline"])
def test_log_label_predicts_in_label_units(type_, train, test):
    fitted = _fit(train, type_, log_label=True)
    scored = predict(fitted, test)
    label_mean, prediction_mean = scored.agg(F.avg(LABEL), F.avg("prediction")).first()
    assert prediction_mean == pytest.approx(label_mean, rel=0.1)
    assert prediction_mean > 10 * math.log(label_mean)
    assert fitted.log_label is (type_ != "baseline")


def test_log_label_needs_a_positive_label(spark, train):
    with pytest.raises(DataError, match="log_label needs label 'price' > 0"):
        _fit(train.withColumn(LABEL, F.col(LABEL) - 1000), "linear_regression", log_label=True)


def test_no_imputation_with_nulls_is_a_clear_error(train):
    with pytest.raises(DataError, match=r"numeric columns \['lead_time'\] have nulls and impute is null"):
        _fit(train, "linear_regression", impute=None)


def test_missing_columns_are_a_clear_error(train):
    with pytest.raises(DataError, match=r"columns \['nights'\] are not in the training data"):
        _fit(train.drop("nights"), "decision_tree")


@pytest.mark.parametrize(
    ("type_", "params", "message"),
    [
        ("random_forest", {"maxDepth": "deep"}, r"^params\.maxDepth: must be an integer, got 'deep'\."),
        ("random_forest", {"maxDepht": 3}, r"^params\.maxDepht: unknown parameter .* Did you mean 'maxDepth'\?"),
        ("random_forest", {"numTrees": 0}, r"^params\.numTrees: must be an integer >= 1, got 0\."),
        ("random_forest", {"subsamplingRate": 0}, r"subsamplingRate: must be a number in \(0, 1\]"),
        ("decision_tree", {"maxDepth": -1}, r"maxDepth: must be an integer >= 0, got -1"),
        ("linear_regression", {"elasticNetParam": 1.5}, r"elasticNetParam: must be a number in \[0, 1\]"),
        ("linear_regression", {"regParam": -0.1}, r"regParam: must be a number >= 0"),
        ("linear_regression", {"maxIter": True}, r"maxIter: must be an integer, got True"),
        ("linear_regression", {"solver": "lbfgs"}, r"solver: must be one of .* Did you mean 'l-bfgs'\?"),
        ("gbt", {"labelCol": "y"}, r"^params\.labelCol: sparkwright sets labelCol itself"),
        ("gbt", {"lossType": "huber"}, r"lossType: must be one of squared, absolute"),
        ("baseline", {"maxDepth": 3}, r"^params\.maxDepth: model type 'baseline' takes no parameters"),
    ],
)
def test_bad_params_are_config_errors_with_the_yaml_path(type_, params, message):
    with pytest.raises(ConfigError, match=message):
        get_model_type(type_).validate_params(params)


def test_fit_model_reports_bad_params_under_the_model_name(train):
    with pytest.raises(ConfigError, match=r"^deep_forest\.params\.maxDepth: must be an integer"):
        fit_model(
            train,
            ModelSpec(type="random_forest", name="deep_forest", params={"maxDepth": "deep"}),
            label_col=LABEL,
            categorical=CATEGORICAL,
            numeric=NUMERIC,
            impute="median",
            log_label=False,
        )


def test_validate_params_needs_no_spark_session():
    code = textwrap.dedent(
        """
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
        from sparkwright.errors import ConfigError
        from sparkwright.models import get_model_type
        try:
            get_model_type("random_forest").validate_params({"maxDepth": "deep"}, "models[2].params")
        except ConfigError as exc:
            print(exc)
        get_model_type("gbt").validate_params({"maxDepth": 3, "stepSize": 0.1}, "models[0].params")
        print("session:", SparkSession.getActiveSession())
        print("context:", SparkContext._active_spark_context)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "models[2].params.maxDepth: must be an integer, got 'deep'." in out
    assert "session: None" in out
    assert "context: None" in out


def test_unknown_type_lists_valid_types_and_suggests_one():
    with pytest.raises(ModelError, match=r"unknown model type 'random_forrest'.*linear_regression.*'random_forest'\?"):
        get_model_type("random_forrest")
    with pytest.raises(ModelError, match="does not support task 'clustering'"):
        get_model_type("gbt", task="clustering")


def test_a_new_type_is_one_registered_class(monkeypatch):
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))

    @register_model_type
    class Constant(ModelType):
        name = "constant"

    assert "constant" in model_types("regression")
    assert isinstance(get_model_type("constant"), Constant)
    with pytest.raises(ModelError, match="already registered"):
        register_model_type(type("Other", (ModelType,), {"name": "constant"}))
