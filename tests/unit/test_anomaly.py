"""task: anomaly: the isolation forest and z-score detectors, their metrics, and the project-file checks."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from sparkwright.config import ModelSpec, parse_project
from sparkwright.errors import ConfigError, DataError
from sparkwright.models import fit_detector, predict
from sparkwright.pipeline.job import validate_models
from sparkwright.tasks.anomaly import anomaly_classes, anomaly_metrics

SCHEMA = "id int, kind string, x double, y double, label string"
CONTAMINATION = 0.05


def _rows(n: int, seed: int) -> list[tuple]:
    """A tight Gaussian cloud with 4% of rows far out of it (label 'bad'); the category says nothing."""
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.04
    x = np.where(bad, rng.uniform(5, 8, n) * rng.choice([-1, 1], n), rng.normal(0, 1, n))
    y = np.where(bad, rng.uniform(5, 8, n) * rng.choice([-1, 1], n), rng.normal(0, 1, n))
    kinds = rng.choice(["a", "b"], n)
    rows = zip(kinds, x, y, bad, strict=True)
    return [(i, k, float(a), float(b), "bad" if o else "ok") for i, (k, a, b, o) in enumerate(rows)]


@pytest.fixture(scope="module")
def train(spark):
    return spark.createDataFrame(_rows(1_000, seed=1), SCHEMA).cache()


@pytest.fixture(scope="module")
def test(spark):
    return spark.createDataFrame(_rows(500, seed=2), SCHEMA).cache()


def _fit(train, type_: str, params: dict | None = None):
    return fit_detector(
        train,
        ModelSpec(type=type_, params=params or {}),
        categorical=["kind"],
        numeric=["x", "y"],
        impute="median",
        contamination=CONTAMINATION,
        label_col="label",
        classes=["ok", "bad"],
    )


@pytest.mark.parametrize("type_", ["isolation_forest", "baseline"])
def test_detector_flags_the_contamination_share_and_finds_the_planted_anomalies(type_, train, test):
    fitted = _fit(train, type_)
    assert fitted.task == "anomaly" and fitted.classes == ["ok", "bad"]
    scored = predict(fitted, test)
    assert scored.columns == [*test.columns, "prediction", "anomaly_score"]
    flagged_in_train = predict(fitted, train).agg(F.avg("prediction")).first()[0]
    assert flagged_in_train == pytest.approx(CONTAMINATION, abs=0.005)
    metrics = anomaly_metrics(scored, "label", "bad")
    assert list(metrics) == ["roc_auc", "pr_auc", "precision", "recall", "f1", "flagged_share"]
    assert metrics["roc_auc"] > 0.95 and metrics["recall"] > 0.8


def test_isolation_forest_scores_as_scikit_learn_on_the_same_sample(train, test):
    from sklearn.ensemble import IsolationForest

    from sparkwright.models.driver_data import collect_to_driver

    fitted = _fit(train, "isolation_forest", {"n_estimators": 50})
    stages = fitted.pipeline_model.stages
    features = stages[-1].getFeaturesCol()
    prefix = type(fitted.pipeline_model)(stages=stages[:-1])
    X_train, _, _ = collect_to_driver(prefix.transform(train), features)
    X_test, _, _ = collect_to_driver(prefix.transform(test.orderBy("id")), features)
    expected = -IsolationForest(n_estimators=50, random_state=42).fit(X_train).score_samples(X_test)
    got = [r.anomaly_score for r in predict(fitted, test).orderBy("id").collect()]
    assert got == pytest.approx(expected.tolist(), rel=1e-12)
    assert fitted.threshold == pytest.approx(np.percentile(-stages[-1].estimator.score_samples(X_train), 95))


def test_metrics_without_a_label_are_the_flagged_share_only(train):
    scored = predict(_fit(train, "baseline"), train)
    assert anomaly_metrics(scored) == {"flagged_share": pytest.approx(CONTAMINATION, abs=0.005)}


def test_metrics_refuse_a_test_split_without_known_anomalies(train):
    scored = predict(_fit(train, "baseline"), train).where("label = 'ok'")
    with pytest.raises(DataError, match="the test split has no known anomalies"):
        anomaly_metrics(scored, "label", "bad")


def test_anomaly_classes_put_the_known_anomaly_last(spark, train):
    assert anomaly_classes(train, "label", None) == ["bad", "ok"]  # two values: the last in sorted order
    assert anomaly_classes(train, "label", "bad") == ["ok", "bad"]
    with pytest.raises(DataError, match=r"anomaly.anomaly_value 'fraud' is not a value of the label 'label'"):
        anomaly_classes(train, "label", "fraud")
    three = spark.createDataFrame([("a",), ("b",), ("c",)], "label string")
    with pytest.raises(DataError, match=r"has 3 values .* set anomaly.anomaly_value"):
        anomaly_classes(three, "label", None)


def _project(**changes) -> dict:
    raw = {
        "name": "fraud",
        "task": "anomaly",
        "data": {"source": {"path": "x.csv"}, "label": "label"},
        "models": [{"type": "isolation_forest", "params": {"n_estimators": 50}}],
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"models": []}, "models", "task anomaly trains the models you list"),
        ({"models": [{"type": "random_forest"}]}, r"models\[0\]\.type", "does not support task 'anomaly'"),
        ({"models": [{"type": "isolation_forest", "params": {"n_estimator": 5}}]}, r"models\[0\]\.params\.n_estimator",
         "unknown parameter for isolation_forest.*Did you mean 'n_estimators'"),
        ({"models": [{"type": "isolation_forest", "params": {"contamination": 0.1}}]},
         r"models\[0\]\.params\.contamination", "set anomaly.contamination instead"),
        ({"models": [{"type": "isolation_forest", "params": {"n_estimators": 0}}]},
         r"models\[0\]\.params\.n_estimators", "n_estimators"),
        ({"models": [{"type": "isolation_forest", "params": {"sample_rows": 1}}]},
         r"models\[0\]\.params\.sample_rows", "must be an integer >= 2"),
        ({"data": {"source": {"path": "x.csv"}}, "metric": "roc_auc"}, "metric",
         "compares scores with known anomalies; add data.label"),
        ({"data": {"source": {"path": "x.csv"}}, "anomaly": {"anomaly_value": "yes"}}, r"anomaly\.anomaly_value",
         "add data.label or remove it"),
        ({"tune": {"space": {"isolation_forest": {"n_estimators": [50, 100]}}}}, "tune", "does not tune yet"),
        ({"metric": "rmse"}, "metric", "does not apply to task 'anomaly'"),
    ],
)  # fmt: skip
def test_validate_names_the_path_and_the_fix_without_spark(changes, path, message):
    with pytest.raises(ConfigError, match=rf"^{path}: .*{message}"):
        validate_models(parse_project(_project(**changes)))


@pytest.mark.parametrize("contamination", [0, 0.6, "lots"])
def test_contamination_is_a_share_up_to_a_half(contamination):
    with pytest.raises(ConfigError, match=r"anomaly\.contamination"):
        parse_project(_project(anomaly={"contamination": contamination}))


def test_without_a_label_models_rank_in_listed_order():
    config = parse_project(_project(data={"source": {"path": "x.csv"}}))
    validate_models(config)
    assert config.selection_metric == "listed_order"
    assert parse_project(_project()).selection_metric == "roc_auc"
