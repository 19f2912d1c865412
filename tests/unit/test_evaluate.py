"""Regression metrics against scikit-learn, computed independently on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from sparkwright.errors import DataError
from sparkwright.tasks.regression import regression_metrics


def _frame(spark, label, prediction):
    return spark.createDataFrame(
        [(float(y), float(p)) for y, p in zip(label, prediction, strict=True)], "y double, prediction double"
    )


def test_metrics_match_scikit_learn(spark):
    rng = np.random.default_rng(0)
    label = rng.normal(100, 20, 300)
    prediction = label + rng.normal(3, 10, 300)
    result = regression_metrics(_frame(spark, label, prediction), "y")
    assert result == pytest.approx(
        {
            "mse": metrics.mean_squared_error(label, prediction),
            "rmse": np.sqrt(metrics.mean_squared_error(label, prediction)),
            "mae": metrics.mean_absolute_error(label, prediction),
            "r2": metrics.r2_score(label, prediction),
        },
        rel=1e-9,
    )


def test_metrics_run_one_spark_job(spark):
    frame = _frame(spark, [1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    tracker = spark.sparkContext.statusTracker()
    group = "sparkwright-metrics-one-pass"
    spark.sparkContext.setJobGroup(group, "metrics")
    # Adaptive execution runs each shuffle stage as a job of its own; without it one pass is one job.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        regression_metrics(frame, "y")
    finally:
        spark.conf.unset("spark.sql.adaptive.enabled")
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert len(tracker.getJobIdsForGroup(group)) == 1


def test_constant_label_follows_scikit_learn(spark):
    assert regression_metrics(_frame(spark, [2.0, 2.0], [2.0, 2.0]), "y")["r2"] == 1.0
    assert regression_metrics(_frame(spark, [2.0, 2.0], [1.0, 3.0]), "y")["r2"] == 0.0


def test_empty_predictions_are_a_data_error(spark):
    empty = spark.createDataFrame([], "y double, prediction double")
    with pytest.raises(DataError, match="empty predictions"):
        regression_metrics(empty, "y")


def test_nulls_and_missing_columns_are_data_errors(spark):
    frame = spark.createDataFrame([(1.0, None), (2.0, 2.0)], "y double, prediction double")
    with pytest.raises(DataError, match="1 of 2 rows have a null 'y' or 'prediction'"):
        regression_metrics(frame, "y")
    with pytest.raises(DataError, match=r"columns \['label'\] are not in the predictions"):
        regression_metrics(frame, "label")
