"""Data-quality rules evaluated in Spark: exact failures per rule, reasons, and errors naming the YAML path."""

from __future__ import annotations

import pytest

from sparkwright.config import AllowedValuesRule, NotNullRule, PatternRule, RangeRule, UniqueRule, parse_project
from sparkwright.data import check_quality
from sparkwright.errors import ConfigError, DataError

SCHEMA = "id int, hotel string, adults int, price double, code string"
ROWS = [
    (1, "A", 2, 100.0, "AB12"),
    (2, "B", 40, 80.0, "CD34"),  # adults out of range
    (3, None, 1, float("nan"), "xx"),  # hotel null, price NaN, code does not match
    (4, "Z", None, 50.0, None),  # hotel not allowed; null adults / code pass range and pattern
    (4, "A", 3, 60.0, "EF56"),  # id 4 again
    (5, "A", 2, -1.0, "GH78"),  # price below 0; (hotel, adults) = (A, 2) again
]
CODE = "^[A-Z]{2}[0-9]{2}$"


@pytest.fixture
def bronze(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def _quarantined(result):
    """(id, _rule, _reason) of the quarantined rows, ordered by id then rule."""
    return sorted((r["id"], r["_rule"], r["_reason"]) for r in result.quarantined.collect())


def _passed_ids(result):
    return sorted(r["id"] for r in result.passed.collect())


def test_not_null_catches_null_and_nan(bronze):
    rules = [NotNullRule(rule="not_null", column="price"), NotNullRule(rule="not_null", column="hotel")]
    result = check_quality(bronze, rules)

    assert result.counts == {"price not null": 1, "hotel not null": 1}
    assert _quarantined(result) == [(3, "price not null; hotel not null", "price is NaN; hotel is null")]
    assert (result.total_rows, result.passed_rows, result.quarantined_rows) == (6, 5, 1)


def test_range_is_inclusive_and_lets_missing_values_pass(bronze):
    rules = [RangeRule(rule="range", column="adults", min=1, max=3, name="adults")]
    result = check_quality(bronze, rules)

    assert result.counts == {"adults": 1}
    assert _quarantined(result) == [(2, "adults", "adults = 40 is outside [1, 3]")]
    assert _passed_ids(result) == [1, 3, 4, 4, 5]  # 1 and 3 are the bounds; id 4 has a null


def test_range_with_one_bound_on_a_double_column(bronze):
    result = check_quality(bronze, [RangeRule(rule="range", column="price", min=0)])

    assert result.counts == {"price in [0, inf]": 1}  # the NaN price passes: not_null reports it
    assert _quarantined(result) == [(5, "price in [0, inf]", "price = -1.0 is outside [0, inf]")]


def test_allowed_values(bronze):
    result = check_quality(bronze, [AllowedValuesRule(rule="allowed_values", column="hotel", values=["A", "B", "C"])])

    assert result.counts == {"hotel in allowed values": 1}
    assert _quarantined(result) == [(4, "hotel in allowed values", "hotel = 'Z' is not one of 'A', 'B', 'C'")]


def test_allowed_numeric_values(bronze):
    result = check_quality(bronze, [AllowedValuesRule(rule="allowed_values", column="adults", values=[1, 2, 3])])

    assert _quarantined(result) == [(2, "adults in allowed values", "adults = 40 is not one of 1, 2, 3")]


def test_unique_quarantines_every_row_of_a_duplicated_key(bronze):
    result = check_quality(bronze, [UniqueRule(rule="unique", columns=["id"])])

    assert result.counts == {"id unique": 2}
    assert _quarantined(result) == [(4, "id unique", "id = 4 occurs 2 times")] * 2
    assert _passed_ids(result) == [1, 2, 3, 5]
    assert result.passed.columns == ["id", "hotel", "adults", "price", "code"]


def test_unique_over_two_columns(bronze):
    result = check_quality(bronze, [UniqueRule(rule="unique", columns=["hotel", "adults"], name="room")])

    assert result.counts == {"room": 2}
    assert _quarantined(result) == [
        (1, "room", "(hotel, adults) = ('A', 2) occurs 2 times"),
        (5, "room", "(hotel, adults) = ('A', 2) occurs 2 times"),
    ]


def test_pattern_uses_java_regex_and_lets_null_pass(bronze):
    result = check_quality(bronze, [PatternRule(rule="pattern", column="code", regex=CODE, name="code")])

    assert result.counts == {"code": 1}
    assert _quarantined(result) == [(3, "code", f"code = 'xx' does not match '{CODE}'")]


def test_rules_combined_from_a_project_file(bronze):
    config = parse_project(
        {
            "name": "p",
            "task": "regression",
            "data": {"source": {"path": "x.csv"}, "label": "price"},
            "models": [{"type": "linear_regression"}],
            "quality": [
                {"rule": "not_null", "column": "price"},
                {"rule": "range", "column": "adults", "min": 0, "max": 10},
                {"rule": "allowed_values", "column": "hotel", "values": ["A", "B"]},
                {"rule": "unique", "columns": ["id"]},
                {"rule": "pattern", "column": "code", "regex": CODE, "name": "code format"},
                {"rule": "range", "column": "price", "min": 0},
            ],
        }
    )
    result = check_quality(bronze, config.quality)

    assert result.counts == {
        "price not null": 1,
        "adults in [0, 10]": 1,
        "hotel in allowed values": 1,
        "id unique": 2,
        "code format": 1,
        "price in [0, inf]": 1,
    }
    assert (result.total_rows, result.passed_rows, result.quarantined_rows) == (6, 1, 5)
    assert _passed_ids(result) == [1]
    assert _quarantined(result) == [
        (2, "adults in [0, 10]", "adults = 40 is outside [0, 10]"),
        (3, "price not null; code format", f"price is NaN; code = 'xx' does not match '{CODE}'"),
        (4, "hotel in allowed values; id unique", "hotel = 'Z' is not one of 'A', 'B'; id = 4 occurs 2 times"),
        (4, "id unique", "id = 4 occurs 2 times"),
        (5, "price in [0, inf]", "price = -1.0 is outside [0, inf]"),
    ]
    assert result.quarantined.columns == ["id", "hotel", "adults", "price", "code", "_rule", "_reason"]


def test_no_rules_passes_everything(bronze):
    result = check_quality(bronze, [])

    assert (result.total_rows, result.passed_rows, result.quarantined_rows, result.counts) == (6, 6, 0, {})
    assert result.quarantined.count() == 0


def test_counts_take_the_same_number_of_jobs_for_one_rule_or_many(spark, bronze):
    def jobs(rules):
        group = f"quality-{len(rules)}"
        spark.sparkContext.setJobGroup(group, group)
        try:
            check_quality(bronze, rules)
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))

    many = [
        NotNullRule(rule="not_null", column="price"),
        RangeRule(rule="range", column="adults", max=10),
        AllowedValuesRule(rule="allowed_values", column="hotel", values=["A"]),
        PatternRule(rule="pattern", column="code", regex=CODE),
        NotNullRule(rule="not_null", column="hotel"),
    ]
    one = jobs(many[:1])
    assert one >= 1
    assert jobs(many) == one


def test_invalid_regex_names_the_rule_path(bronze):
    rules = [NotNullRule(rule="not_null", column="id"), PatternRule(rule="pattern", column="code", regex="[a-")]
    with pytest.raises(
        ConfigError, match=r"quality\[1\]\.regex: '\[a-' is not a valid Java regular expression: Illegal"
    ):
        check_quality(bronze, rules)


def test_unknown_column_names_rule_column_and_suggestion(bronze):
    rules = [NotNullRule(rule="not_null", column="id"), RangeRule(rule="range", column="adultz", max=3)]
    with pytest.raises(
        DataError,
        match=r"quality\[1\]\.column: rule 'adultz in \[-inf, 3\]' checks column 'adultz', which is not in the data\. "
        r"Did you mean 'adults'\? Available columns: id, hotel",
    ):
        check_quality(bronze, rules)
    with pytest.raises(DataError, match=r"quality\[0\]\.columns\[1\]: rule 'id, nigths unique' .*'nigths'"):
        check_quality(bronze, [UniqueRule(rule="unique", columns=["id", "nigths"])])


def test_rules_that_do_not_fit_the_data(bronze):
    with pytest.raises(DataError, match=r"quality\[0\]\.column: range rule 'hotel in \[0, inf\]' needs a numeric"):
        check_quality(bronze, [RangeRule(rule="range", column="hotel", min=0)])
    with pytest.raises(DataError, match=r"quality\[0\]\.values: .* lists 'two', but column 'adults' is int"):
        check_quality(bronze, [AllowedValuesRule(rule="allowed_values", column="adults", values=[1, "two"])])
    with pytest.raises(ConfigError, match=r"quality\[1\]\.name: rule name 'id not null' is used by quality\[0\] too"):
        check_quality(bronze, [NotNullRule(rule="not_null", column="id")] * 2)


def test_existing_rule_or_reason_column_is_refused(bronze):
    with pytest.raises(DataError, match=r"already has column\(s\) _reason, which the quality quarantine adds"):
        check_quality(bronze.withColumnRenamed("code", "_reason"), [])
