"""Cleanse: bronze -> silver with dedup, quarantine, filters, typing and missing-value indicators."""

from __future__ import annotations

import math

import pytest

from sparkwright.config import parse_project
from sparkwright.data import cleanse, feature_columns, lake, write_silver
from sparkwright.errors import ConfigError, DataError

SCHEMA = "id int, hotel string, nights int, price double, weekend boolean, arrival date"
ROWS = [
    (1, "A", 2, 100.0, True, None),
    (1, "A", 2, 100.0, True, None),  # exact duplicate
    (2, None, None, 80.0, False, None),
    (3, "", 3, None, None, None),
    (4, "B", 1, 0.0, True, None),
    (5, "C", 5, 250.0, None, None),
]


def _config(**overrides):
    raw = {
        "name": "p",
        "task": "regression",
        "data": {"source": {"path": "x.csv"}, "label": "price", "drop": ["id"]},
        "models": [{"type": "linear_regression"}],
    }
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    return parse_project(raw)


@pytest.fixture
def bronze(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def test_cleanse_dedups_quarantines_types_and_flags(bronze):
    result = cleanse(bronze, _config())
    report = result.report

    assert report["input_rows"] == 6
    assert report["duplicates_removed"] == 1
    assert report["rejected_rows"] == 1
    assert report["output_rows"] == 4
    assert report["filtered_rows"] == {}
    assert report["categorical_columns"] == ["hotel"]
    assert report["missing_indicator_columns"] == ["nights_missing", "weekend_missing"]
    assert report["numeric_columns"] == ["nights", "weekend", "nights_missing", "weekend_missing"]
    assert report["other_columns"] == ["arrival"]

    rejected = result.rejected.collect()
    assert [(r["hotel"], r["_reason"]) for r in rejected] == [("", "label 'price' is null")]

    df = result.df
    assert "id" not in df.columns
    types = dict(df.dtypes)
    assert (types["price"], types["nights"], types["weekend"], types["arrival"]) == (
        "double",
        "double",
        "double",
        "date",
    )
    rows = {r["price"]: r.asDict() for r in df.collect()}
    assert len(rows) == 4
    # Booleans become 0/1; a missing numeric stays null (imputed later, on the training split) and is flagged.
    assert rows[100.0]["weekend"] == 1.0 and rows[80.0]["weekend"] == 0.0
    assert rows[80.0]["nights"] is None and rows[80.0]["nights_missing"] == 1.0
    assert rows[100.0]["nights_missing"] == 0.0
    assert rows[80.0]["hotel"] == "missing"


def test_empty_string_category_becomes_missing_level(spark):
    df = spark.createDataFrame([("", 1.0), (None, 2.0), ("A", 3.0)], "hotel string, price double")
    config = _config(data={"drop": []}, cleanse={"categorical_missing": "unknown"})
    assert sorted(r.hotel for r in cleanse(df, config).df.collect()) == ["A", "unknown", "unknown"]


def test_log_label_quarantines_non_positive_labels(bronze):
    result = cleanse(bronze, _config(cleanse={"log_label": True}))
    reasons = sorted(r["_reason"] for r in result.rejected.collect())
    assert reasons == ["label 'price' is <= 0; log_label needs positive values", "label 'price' is null"]
    assert result.report["output_rows"] == 3
    assert min(r.price for r in result.df.collect()) > 0


def test_filters_are_counted_per_expression_and_may_use_dropped_columns(bronze):
    filters = ["price < 200", "id != 1"]
    result = cleanse(bronze, _config(cleanse={"filters": filters}))
    assert result.report["filtered_rows"] == {"price < 200": 1, "id != 1": 1}
    assert result.report["output_rows"] == 2
    assert sorted(r.price for r in result.df.collect()) == [0.0, 80.0]
    assert result.rejected.count() == 1  # filtered rows are not quarantined


def test_invalid_filter_is_a_config_error_with_its_path(bronze):
    with pytest.raises(ConfigError, match=r"cleanse\.filters\[0\]: 'price >' is not a valid Spark SQL condition"):
        cleanse(bronze, _config(cleanse={"filters": ["price >"]}))
    with pytest.raises(ConfigError, match=r"cleanse\.filters\[1\]: 'pirce > 0' is not a valid .*pirce"):
        cleanse(bronze, _config(cleanse={"filters": ["price > 0", "pirce > 0"]}))
    with pytest.raises(ConfigError, match=r"cleanse\.filters\[0\]: 'price \+ 1' gives values of type double"):
        cleanse(bronze, _config(cleanse={"filters": ["price + 1"]}))


def test_unknown_columns_are_data_errors_with_hints(bronze):
    with pytest.raises(DataError, match=r"data\.label: the label column 'prise' .* Did you mean 'price'\? Available"):
        cleanse(bronze, _config(data={"label": "prise"}))
    with pytest.raises(
        DataError, match=r"data\.drop: column 'nope' is not in the data\..*Available columns: id, hotel"
    ):
        cleanse(bronze, _config(data={"drop": ["nope"]}))
    with pytest.raises(DataError, match=r"data\.features: column 'nigths' .* Did you mean 'nights'\?"):
        cleanse(bronze, _config(data={"features": ["nigths"]}))
    with pytest.raises(DataError, match=r"the label 'hotel' has type string, but task 'regression' needs a numeric"):
        cleanse(bronze, _config(data={"label": "hotel", "drop": []}))


def test_features_keys_and_no_indicators(bronze):
    config = _config(data={"features": ["hotel", "nights"], "keys": ["id"]}, cleanse={"missing_indicators": False})
    result = cleanse(bronze, config)
    assert result.df.columns == ["id", "hotel", "nights", "price"]  # keys stay: they identify the rows
    assert result.report["duplicates_removed"] == 1
    assert result.report["missing_indicator_columns"] == []
    assert feature_columns(result.df, config) == (["hotel"], ["nights"])


def test_a_key_kept_in_silver_is_not_a_feature(bronze):
    config = _config(data={"drop": [], "keys": ["id"]}, cleanse={"missing_indicators": False})
    result = cleanse(bronze, config)
    assert "id" in result.df.columns
    categorical, numeric = feature_columns(result.df, config)
    assert "id" not in categorical + numeric and "nights" in numeric


def test_recommendation_ids_keep_their_type_and_their_gaps(spark):
    """Integer ids stay integers (ALS takes them as they are); a missing id stays null, not a category level."""
    rows = [(1, "a", 4), (2, None, 3), (None, "b", 5)]
    df = spark.createDataFrame(rows, "user bigint, item string, stars int")
    config = parse_project(
        {
            "name": "r",
            "task": "recommendation",
            "data": {"source": {"path": "x.csv"}, "user": "user", "item": "item", "rating": "stars"},
        }
    )
    silver = cleanse(df, config).df
    assert dict(silver.dtypes) == {"user": "bigint", "item": "string", "stars": "double"}
    assert sorted(silver.collect(), key=lambda r: r.stars) == [(2, None, 3.0), (1, "a", 4.0), (None, "b", 5.0)]


def test_nan_label_is_quarantined_and_nan_feature_flagged(spark):
    df = spark.createDataFrame([(1.0, float("nan")), (float("nan"), 2.0), (3.0, 4.0)], "x double, price double")
    result = cleanse(df, _config(data={"drop": []}))
    assert [r["_reason"] for r in result.rejected.collect()] == ["label 'price' is NaN"]
    rows = sorted(result.df.collect(), key=lambda r: r.price)
    assert math.isnan(rows[0].x) and rows[0].x_missing == 1.0 and rows[1].x_missing == 0.0


def test_write_silver_and_feature_columns(spark, bronze, workspace):
    config = _config()
    result = cleanse(bronze, config)
    silver, rejects = workspace.table_path("p", "silver"), workspace.table_path("p", "silver_rejects")

    assert write_silver(result, silver, rejects) == 0

    df = lake.read_table(spark, silver)
    assert df.count() == 4
    assert lake.read_table(spark, rejects).count() == 1
    categorical, numeric = feature_columns(df, config)
    assert categorical == ["hotel"]
    assert numeric == ["nights", "weekend", "nights_missing", "weekend_missing"]
