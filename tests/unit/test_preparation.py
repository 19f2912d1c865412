"""Row preparation: the silver columns cleanse writes and a model's scoring repeats, from one definition."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sparkwright.config import parse_project
from sparkwright.data import cleanse
from sparkwright.data.preparation import (
    REASON_COL,
    PrepareRows,
    RejectedRows,
    RowPreparation,
    preparation_of,
    source_rows,
    with_preparation,
)
from sparkwright.errors import DataError

SCHEMA = "id int, hotel string, nights int, price double, rate float, weekend boolean, label double"
ROWS = [
    (1, "A", 2, 100.0, 1.5, True, 10.0),
    (2, None, None, 80.0, 2.5, False, 20.0),
    (3, "", 3, float("nan"), None, None, 30.0),
    (4, "B", 1, 0.5, 0.25, True, 40.0),
    (5, "C", 5, 250.0, 3.0, None, 50.0),
]


def _config(**overrides):
    raw = {
        "name": "p",
        "task": "regression",
        "data": {"source": {"path": "x.csv"}, "label": "label", "drop": ["id"]},
        "models": [{"type": "linear_regression"}],
        "quality": [
            {"rule": "range", "column": "nights", "min": 1, "max": 5},
            {"rule": "allowed_values", "column": "hotel", "values": ["A", "B", "C", ""]},
            {"rule": "unique", "columns": ["id"]},
        ],
        "cleanse": {"filters": ["label > 0", "price < 1000"]},
    }
    raw.update(overrides)
    return parse_project(raw)


@pytest.fixture
def bronze(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


@pytest.fixture
def silver(bronze):
    return cleanse(bronze, _config()).df


def test_cleanse_records_each_features_source_type_and_whether_it_was_ever_missing(silver):
    # Row 3 (the only gap in price and rate) fails the filter "price < 1000" (NaN is above every number).
    meta = {f.name: f.metadata for f in silver.schema.fields}
    assert meta["nights"] == {"sparkwright.source_type": "int", "sparkwright.optional": True}
    assert meta["hotel"] == {"sparkwright.source_type": "string", "sparkwright.optional": True}
    assert meta["rate"] == {"sparkwright.source_type": "float", "sparkwright.optional": False}
    assert meta["price"] == {"sparkwright.source_type": "double", "sparkwright.optional": False}
    assert meta["nights_missing"] == {"sparkwright.indicator_of": "nights"}
    assert "price_missing" not in meta and meta["label"] == {}


def test_the_preparation_takes_source_columns_with_the_row_local_rules_only(spark, silver):
    prep = RowPreparation.for_model(spark, _config(), silver.schema)
    assert [(c.name, c.source_type, c.indicator, c.optional) for c in prep.columns] == [
        ("hotel", "string", False, True),
        ("nights", "int", True, True),
        ("price", "double", False, False),
        ("rate", "float", False, False),
        ("weekend", "boolean", True, True),
    ]
    # unique is not row-local; "label > 0" reads the label, which scoring rows do not have.
    assert [(c.name, c.columns) for c in prep.checks] == [
        ("nights in [1, 5]", ["nights"]),
        ("hotel in allowed values", ["hotel"]),
        ("filter price < 1000", ["price"]),
    ]
    assert prep.ignored == ["label", "id"]  # a row straight from the source may carry them
    assert RowPreparation.from_json(prep.to_json()) == prep


def test_custom_steps_keep_models_on_silver_rows(spark, silver):
    config = _config(cleanse={"steps": ["steps_for_tests:add_total"]})
    assert RowPreparation.for_model(spark, config, silver.schema) is None


def test_source_rows_prepare_to_exactly_the_silver_rows(spark, bronze, silver):
    prep = RowPreparation.for_model(spark, _config(), silver.schema)
    prepared = prep.apply(bronze.drop("label"))
    expected = {r["id"]: r for r in bronze.select("id", "label").join(silver, "label").collect()}
    got = {r["id"]: r for r in prepared.collect()}
    assert set(expected) == {1, 2, 4, 5}
    assert got[3][REASON_COL] == "filter 'price < 1000' is not true"
    for key in expected:
        row = got[key]
        assert row[REASON_COL] is None
        for name in [c for c in silver.columns if c != "label"]:
            a, b = row[name], expected[key][name]
            assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), (key, name, a, b)


def test_silver_rows_prepare_to_themselves(spark, silver):
    # A model that takes source rows also takes silver rows (what older callers send): same values back.
    prep = RowPreparation.for_model(spark, _config(), silver.schema)
    features = silver.drop("label")
    again = prep.apply(features)
    assert sorted(again.columns) == sorted([*features.columns, REASON_COL])
    assert again.where(f"{REASON_COL} IS NOT NULL").count() == 0
    assert sorted(again.select(*features.columns).collect()) == sorted(features.collect())


def test_rows_a_rule_refuses_keep_their_place_with_every_reason(spark, silver):
    prep = RowPreparation.for_model(spark, _config(), silver.schema)
    rows = spark.createDataFrame(
        [("A", 9, 2000.0, 1.0, True), ("Z", 2, 1.0, 1.0, True), ("B", 2, 1.0, 1.0, False)],
        "hotel string, nights int, price double, rate float, weekend boolean",
    )
    reasons = [r[REASON_COL] for r in prep.apply(rows).collect()]
    assert reasons == [
        "nights = 9 is outside [1, 5]; filter 'price < 1000' is not true",
        "hotel = 'Z' is not one of 'A', 'B', 'C', ''",
        None,
    ]


def test_other_input_types_are_converted_and_a_value_that_does_not_convert_is_a_reason(spark, silver):
    prep = RowPreparation.for_model(spark, _config(), silver.schema)
    rows = spark.createDataFrame([("3", "1.5", 1.0), ("x", "2.0", 1.0)], "nights string, price string, rate double")
    out = prep.apply(rows).orderBy("price").collect()
    assert (out[0]["nights"], out[0]["price"], out[0][REASON_COL]) == (3.0, 1.5, None)
    assert out[1]["nights"] is None and out[1]["nights_missing"] == 1.0
    assert out[1][REASON_COL] == "nights = x is not a valid int"


def test_optional_columns_may_be_absent_and_required_ones_may_not(spark, bronze):
    config = _config(quality=[], cleanse={"filters": []})
    full = cleanse(bronze.where("id IN (1, 4)"), config).df  # hotel / nights never missing here
    prep = RowPreparation.for_model(spark, config, full.schema)
    assert {c.name: c.optional for c in prep.columns}["hotel"] is False
    with pytest.raises(DataError, match=r"lacks columns \['hotel', 'nights', 'price', 'rate'\].*never missing"):
        prep.apply(spark.createDataFrame([(True,)], "weekend boolean"))
    optional = RowPreparation.for_model(spark, _config(), cleanse(bronze, _config()).df.schema)
    out = optional.apply(spark.createDataFrame([(1.0, 2.0)], "price double, rate float")).first()
    assert out["hotel"] == "missing"
    assert (out["nights"], out["nights_missing"], out["weekend_missing"]) == (None, 1.0, 1.0)


@pytest.fixture
def raw_model(spark, bronze, silver):
    """A linear model on silver, wrapped to take source rows."""
    from sparkwright.data import feature_columns
    from sparkwright.models import fit_model

    config = _config()
    categorical, numeric = feature_columns(silver, config)
    spec = config.models[0]
    fitted = fit_model(silver, spec, label_col="label", categorical=categorical, numeric=numeric, impute="median")
    prep = RowPreparation.for_model(spark, config, silver.schema)
    return fitted, prep, with_preparation(fitted.pipeline_model, prep, ["prediction", "probability"])


def test_a_wrapped_model_scores_source_rows_as_the_silver_model_scores_silver_rows(
    spark, bronze, silver, raw_model, tmp_path
):
    from pyspark.ml import PipelineModel

    fitted, prep, model = raw_model
    path = str(tmp_path / "model")
    model.save(path)
    loaded = PipelineModel.load(path)
    assert preparation_of(loaded) == prep
    assert isinstance(loaded.stages[0], PrepareRows) and isinstance(loaded.stages[-1], RejectedRows)

    expected = fitted.pipeline_model.transform(silver).select("label", "prediction").collect()
    got = loaded.transform(bronze.where("id != 3")).select("label", "prediction").collect()
    assert sorted(got) == sorted(expected)

    schema = "hotel string, nights int, price double, rate float, weekend boolean"
    refused = spark.createDataFrame([("A", 9, 1.0, 1.0, True)], schema)
    row = loaded.transform(refused).first()
    assert row["prediction"] is None and row[REASON_COL] == "nights = 9 is outside [1, 5]"
    assert source_rows(silver, prep).schema.simpleString() == (
        "struct<hotel:string,nights:int,price:double,rate:float,weekend:boolean>"
    )


def test_the_export_prepares_and_refuses_exactly_as_spark(spark, raw_model):
    from sparkwright.deploy.export import export_pipeline

    model = raw_model[2]
    rows = [
        ("A", 2, 100.0, 1.5, True),
        (None, None, 80.0, 2.5, False),
        ("", 3, float("nan"), None, None),
        ("unseen", 1, 0.5, 0.25, True),
        ("A", 9, 2000.0, 1.0, True),
        ("Z", 7, 1.0, 1.0, False),
    ]
    df = spark.createDataFrame(rows, "hotel string, nights int, price double, rate float, weekend boolean")
    expected = model.transform(df).select("prediction", REASON_COL).toPandas()
    scorer = export_pipeline(model, df.schema)
    got = scorer.predict(df.toPandas())
    np.testing.assert_allclose(got["prediction"].astype(float), expected["prediction"].astype(float), rtol=1e-9)
    assert got["_reason"].tolist() == [None if pd.isna(r) else r for r in expected[REASON_COL]]
    # Optional columns may be left out of the input altogether.
    partial = scorer.predict(pd.DataFrame({"price": [10.0], "rate": [1.0]}))
    spark_partial = model.transform(spark.createDataFrame([(10.0, 1.0)], "price double, rate float")).first()
    assert partial["prediction"][0] == pytest.approx(spark_partial["prediction"], rel=1e-9)


FILTERS = [
    "price < 1000",
    "nights BETWEEN 2 AND 4 OR hotel IN ('A', 'B')",
    "NOT (price >= 100) AND nights IS NOT NULL",
    "price / nights > 20",
    "hotel NOT IN ('C', NULL)",
    "rate * 2 - 1 <> 2 OR hotel = ''",
    "`nights` = 3 OR price IS NULL",
]


@pytest.mark.parametrize("expression", FILTERS)
def test_the_exported_filters_keep_the_rows_spark_keeps(spark, expression):
    from sparkwright.data.preparation import InputColumn, RowCheck
    from sparkwright.deploy.export import runtime as rt

    rows = [
        ("A", 2, 100.0, 1.5),
        ("C", None, 80.0, 2.5),
        ("", 3, float("nan"), None),
        ("B", 1, 50.0, 1.5),
        (None, 4, None, 0.25),
        ("C", 5, 3000.0, 1.0),
    ]
    df = spark.createDataFrame(rows, "hotel string, nights int, price double, rate double")
    prep = RowPreparation(
        [
            InputColumn("hotel", "string", False, True),
            InputColumn("nights", "int", False, True),
            InputColumn("price", "double", False, True),
            InputColumn("rate", "double", False, True),
        ],
        "missing",
        [RowCheck(f"filter {expression}", {"rule": "filter", "expression": expression}, [])],
    )
    spark_refused = [r[REASON_COL] is not None for r in prep.apply(df).collect()]
    columns = {}
    for i, (name, spark_type) in enumerate(
        [("hotel", "string"), ("nights", "int"), ("price", "double"), ("rate", "double")]
    ):
        values = [row[i] for row in rows]
        null = np.array([v is None for v in values])
        if spark_type == "string":
            array = np.array(values, dtype=object)
        else:
            array = np.array([0 if v is None else v for v in values], dtype=np.float64)
        columns[name] = rt.Column(spark_type, array, null)
    kept = rt.SqlCondition(expression).evaluate(columns, len(rows))
    assert (~kept).tolist() == spark_refused


def test_a_filter_outside_the_exported_subset_is_refused_at_export(spark, bronze):
    from sparkwright.deploy.export import UnsupportedStageError, export_pipeline

    config = _config(quality=[], cleanse={"filters": ["length(hotel) < 3"]})
    silver = cleanse(bronze, config).df
    prep = RowPreparation.for_model(spark, config, silver.schema)
    model = with_preparation(_identity_model(), prep, ["prediction"])
    with pytest.raises(UnsupportedStageError, match=r"length\(hotel\) < 3.*Spark SQL subset"):
        export_pipeline(model, prep.input_schema(), prediction_col="hotel")


def _identity_model():
    from pyspark.ml import PipelineModel

    return PipelineModel(stages=[])
