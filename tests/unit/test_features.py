"""Feature stages: sparse vectors, no leakage of test data into imputation, names mapped back."""

from __future__ import annotations

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.linalg import SparseVector

from sparkwright.errors import ConfigError, DataError
from sparkwright.features import build_feature_stages, feature_names, importances_by_column

SCHEMA = "meal string, room_type string, lead_time double, lead_time_missing double, nights double"


@pytest.fixture(scope="module")
def train(spark):
    rows = [
        ("bed_and_breakfast" if i % 3 else "half_board", "suite" if i % 2 else "double", float(i % 10), 0.0, 2.0)
        for i in range(30)
    ]
    rows += [("self_catering", "double", None, 1.0, None)] * 3
    return spark.createDataFrame(rows, SCHEMA)


def _fit(train, categorical, numeric, **kwargs):
    return Pipeline(stages=build_feature_stages(categorical, numeric, **kwargs)).fit(train)


def test_stages_produce_a_sparse_vector_of_one_slot_per_level_and_numeric(train):
    model = _fit(train, ["meal", "room_type"], ["lead_time", "lead_time_missing", "nights"])
    rows = model.transform(train).select("features").collect()
    # 3 meal levels + 2 room levels (unseen levels encode as zeros) + 3 numeric columns.
    assert {row.features.size for row in rows} == {8}
    assert isinstance(rows[0].features, SparseVector)


def test_imputer_fills_with_the_training_median_not_the_scored_data(spark, train):
    model = _fit(train, [], ["lead_time", "nights"], impute="median")
    # Training lead_time is 0..9 repeated; Spark's median is approximate but within the training values.
    train_median = train.approxQuantile("lead_time", [0.5], 0.001)[0]
    test = spark.createDataFrame([(None, None), (1000.0, 1000.0), (2000.0, 3000.0)], "lead_time double, nights double")
    filled = model.transform(test).first().features.toArray().tolist()
    assert filled == [train_median, 2.0]


def test_empty_categorical_or_numeric_lists_work(train):
    only_categorical = _fit(train, ["meal"], [])
    only_numeric = _fit(train, [], ["nights"], impute="mean")
    assert only_categorical.transform(train).first().features.size == 3
    assert only_numeric.transform(train).first().features.size == 1


def test_no_imputation_fails_loudly_on_nulls(train):
    model = _fit(train, [], ["lead_time"], impute=None)
    with pytest.raises(Exception, match=r"(?i)null|NaN"):
        model.transform(train).collect()


@pytest.mark.parametrize(
    ("categorical", "numeric", "impute", "message"),
    [
        ([], [], "median", "no feature columns"),
        (["a"], ["a"], "median", "both categorical and numeric"),
        (["a"], [], "avg", "impute must be one of median, mean, mode"),
    ],
)
def test_bad_arguments_raise_config_error(categorical, numeric, impute, message):
    with pytest.raises(ConfigError, match=message):
        build_feature_stages(categorical, numeric, impute=impute)


def test_feature_names_and_importances_map_back_to_original_columns(train):
    model = _fit(train, ["meal", "room_type"], ["lead_time", "lead_time_missing", "nights"], features_col="vec")
    names = feature_names(model.transform(train), "vec")
    assert names == [
        "meal=bed_and_breakfast",
        "meal=half_board",
        "meal=self_catering",
        "room_type=double",
        "room_type=suite",
        "lead_time",
        "lead_time_missing",
        "nights",
    ]
    values = [0.1, 0.3, 0.0, 0.05, 0.05, 0.3, 0.15, 0.05]
    result = importances_by_column(values, names, ["meal", "room_type", "lead_time", "lead_time_missing", "nights"])
    assert list(result) == ["meal", "lead_time", "lead_time_missing", "room_type", "nights"]
    assert result["meal"] == pytest.approx(0.4)
    assert result["room_type"] == pytest.approx(0.1)


def test_importances_accept_raw_internal_names_and_check_lengths():
    names = ["__sw_ohe_meal_half_board", "__sw_imp_lead_time_missing", "__sw_imp_lead_time"]
    assert importances_by_column([1.0, 2.0, 4.0], names, ["meal", "lead_time", "lead_time_missing"]) == {
        "lead_time": 4.0,
        "lead_time_missing": 2.0,
        "meal": 1.0,
    }
    with pytest.raises(DataError, match="2 importances for 3 feature names"):
        importances_by_column([1.0, 2.0], names, ["meal"])


def test_feature_names_needs_assembler_metadata(train):
    with pytest.raises(DataError, match="no feature metadata"):
        feature_names(train.schema, "nights")
    with pytest.raises(DataError, match="'features' is not in the data"):
        feature_names(train)
