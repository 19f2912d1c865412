"""The task modules: each one owns its split, baseline, metrics (Spark and arrays) and held-out arrays,
and agrees with the JVM-free contract in config.tasks."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pyspark.ml.linalg import Vectors

from sparkwright.config import TASKS as SPECS
from sparkwright.config import parse_project
from sparkwright.errors import ConfigError, DataError
from sparkwright.models.base import Target
from sparkwright.tasks import TASKS, get_task

_PROJECT = """
name: t
task: {task}
data: {{source: {{path: x.csv, format: csv}}, label: y, keys: [id]}}
"""


def _config(task: str, extra: str = ""):
    return parse_project(yaml.safe_load(_PROJECT.format(task=task) + extra))


def test_every_contract_has_a_task_module_and_back():
    assert set(TASKS) == set(SPECS)
    for name, task in TASKS.items():
        assert task.spec is SPECS[name]
    with pytest.raises(
        ConfigError,
        match=r"task: unknown task 'clusterin'; supported: anomaly, classification, clustering, forecasting, "
        r"recommendation",
    ):
        get_task("clusterin")


@pytest.fixture(scope="module")
def scored(spark):
    """200 scored binary rows with probabilities that rank the label imperfectly, and a regression column."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0.01, 0.99)
    value = rng.normal(10, 2, 200)
    rows = [
        (str(int(a)), float(a), str(int(b >= 0.5)), Vectors.dense([1 - b, b]), float(v), float(v + e))
        for a, b, v, e in zip(y, p1, value, rng.normal(0, 1, 200), strict=True)
    ]
    names = ["label", "label_index", "prediction", "probability", "v", "v_hat"]
    return spark.createDataFrame(rows, names).cache()


def test_spark_metrics_are_the_contract_and_the_array_metrics_agree(scored):
    classification = get_task("classification")
    got = classification.metrics(scored, "label", ["0", "1"])
    assert set(got) == set(SPECS["classification"].metrics)
    held = classification.held_out(scored, "label_index", 2)
    assert held.y.shape == (200,) and held.probability.shape == (200, 2)
    assert held.blendable is held.probability
    for metric in ("roc_auc", "f1", "accuracy", "precision", "recall", "log_loss"):
        assert classification.array_metric(metric, held.y, held.prediction, held.probability) == pytest.approx(
            got[metric], rel=1e-9
        ), metric

    regression = get_task("regression")
    frame = scored.select(scored.v.alias("y"), scored.v_hat.alias("prediction"))
    got = regression.metrics(frame, "y")
    assert set(got) == set(SPECS["regression"].metrics)
    held = regression.held_out(frame, "y")
    assert held.probability is None and held.blendable is held.prediction
    for metric in got:
        assert regression.array_metric(metric, held.y, held.prediction) == pytest.approx(got[metric], rel=1e-9)
    with pytest.raises(DataError, match=r"unknown metric 'auc' for task regression; choose one of \['mae'"):
        regression.array_metric("auc", held.y, held.prediction)


def test_classification_splits_keep_class_shares_and_regression_splits_do_not_look(spark):
    rows = [(i, "rare" if i % 10 == 0 else "common") for i in range(1000)]
    df = spark.createDataFrame(rows, "id int, y string")
    train, test = get_task("classification").split(_config("classification"), df, 0.2, seed=3)
    assert test.where("y = 'rare'").count() == 20 and test.count() == 200
    assert train.count() + test.count() == 1000
    assert get_task("classification").stratify_column(_config("classification")) == "y"
    assert get_task("regression").stratify_column(_config("regression")) is None
    again = get_task("regression").split(_config("regression"), df.repartition(5), 0.2, seed=3)[1]
    first = get_task("regression").split(_config("regression"), df, 0.2, seed=3)[1]
    assert sorted(r.id for r in again.collect()) == sorted(r.id for r in first.collect())


def test_baselines_predict_the_mean_and_the_most_frequent_class(spark):
    df = spark.createDataFrame([(1.0, 0.0), (2.0, 1.0), (6.0, 1.0)], "value double, label double")
    mean = (
        get_task("regression").baseline(Target("regression", "value", "features", "prediction")).fit(df).transform(df)
    )
    assert {r.prediction for r in mean.collect()} == {3.0}
    target = Target("classification", "label", "features", "prediction", "probability", "raw", num_classes=2)
    majority = get_task("classification").baseline(target).fit(df).transform(df).collect()
    assert {r.prediction for r in majority} == {1.0}
    assert majority[0].probability[1] == pytest.approx(2 / 3, abs=1e-6)


def test_trial_settings_fix_the_threshold_and_a_foreign_section_is_refused():
    config = _config("classification", "classification: {threshold: max_f1}\n")
    assert get_task("classification").fit_settings(config)["threshold"] == "max_f1"
    assert get_task("classification").fit_settings(config, trial=True)["threshold"] == 0.5
    assert get_task("regression").fit_settings(_config("regression"), trial=True) == {"threshold": None}
    with pytest.raises(ConfigError, match=r"classification: the classification section applies to task"):
        _config("regression", "classification: {}\n")
