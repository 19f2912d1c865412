"""Custom cleansing steps: loading 'module:function', Spark and pandas-on-Spark steps, errors naming the step."""

from __future__ import annotations

import warnings

import pytest

from sparkwright.config import parse_project
from sparkwright.data import apply_steps, cleanse, load_step
from sparkwright.errors import ConfigError, DataError

SCHEMA = "id int, hotel string, nights int, price double"
ROWS = [(1, "A", 2, 100.0), (2, "B", None, 80.0), (3, "C", 4, 60.0)]


@pytest.fixture
def rooms(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def _rows(df, *columns):
    return [tuple(r[c] for c in columns) for r in df.orderBy("id").collect()]


def test_spark_step_derives_a_column(rooms):
    out = apply_steps(rooms, ["steps_for_tests:add_total"])

    assert out.columns == ["id", "hotel", "nights", "price", "total"]
    assert _rows(out, "id", "total") == [(1, 200.0), (2, None), (3, 240.0)]


def test_pandas_on_spark_step_fills_and_computes_a_ratio(rooms):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas-on-Spark index warnings leak to the user
        out = apply_steps(rooms, ["steps_for_tests:price_per_night"])

    assert type(out).__module__.startswith("pyspark.sql")
    assert out.columns == ["id", "hotel", "nights", "price", "per_night"]  # the default index is dropped
    assert _rows(out, "id", "nights", "per_night") == [(1, 2, 50.0), (2, 1, 80.0), (3, 4, 15.0)]


def test_steps_chain_in_order(rooms):
    out = apply_steps(rooms, ["steps_for_tests:add_total", "steps_for_tests:price_per_night"])

    assert _rows(out, "id", "total", "per_night") == [(1, 200.0, 50.0), (2, None, 80.0), (3, 240.0, 15.0)]


def test_named_index_of_a_pandas_on_spark_result_is_kept_as_a_column(rooms):
    out = apply_steps(rooms, ["steps_for_tests:indexed_by_id"])

    assert sorted(out.columns) == ["hotel", "id", "nights", "price"]
    assert _rows(out, "id", "hotel") == [(1, "A"), (2, "B"), (3, "C")]


def test_unannotated_step_gets_spark_and_may_return_pandas_on_spark(rooms):
    given = apply_steps(rooms, ["steps_for_tests:was_given"]).first()["given"]
    converted = apply_steps(rooms, ["steps_for_tests:to_pandas_on_spark"])

    assert given.startswith("pyspark.sql")
    assert type(converted).__module__.startswith("pyspark.sql")
    assert converted.count() == 3


def test_failing_step_is_named_and_chained(rooms):
    with pytest.raises(
        DataError, match=r"cleanse\.steps\[1\] steps_for_tests:broken failed: ZeroDivisionError: no nights"
    ) as info:
        apply_steps(rooms, ["steps_for_tests:add_total", "steps_for_tests:broken"])

    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_spark_analysis_error_in_a_step_names_the_step(rooms):
    with pytest.raises(DataError, match=r"cleanse\.steps\[0\] steps_for_tests:unknown_column failed: .*no_such_column"):
        apply_steps(rooms, ["steps_for_tests:unknown_column"])


def test_step_returning_none_says_so(rooms):
    with pytest.raises(DataError, match=r"steps_for_tests:forgets_return returned None; .*'return df'"):
        apply_steps(rooms, ["steps_for_tests:forgets_return"])


def test_step_returning_pandas_names_the_type(rooms):
    with pytest.raises(DataError, match=r"returned a pandas\.core\.frame\.DataFrame; .*pyspark\.pandas\.DataFrame"):
        apply_steps(rooms, ["steps_for_tests:returns_pandas"])


def test_missing_module_is_a_config_error_with_a_fix(rooms):
    with pytest.raises(
        ConfigError, match=r"cleanse\.steps\[1\]: cannot import module 'no_such_mod'.*PYTHONPATH"
    ) as info:
        apply_steps(rooms, ["steps_for_tests:add_total", "no_such_mod:fix"])

    assert info.value.path == "cleanse.steps[1]"


def test_all_steps_load_before_any_runs(rooms):
    # The broken step would raise DataError if it ran; the missing function is found first.
    with pytest.raises(ConfigError, match=r"has no function 'add_totl'\. Did you mean 'add_total'\?"):
        apply_steps(rooms, ["steps_for_tests:broken", "steps_for_tests:add_totl"])


def test_load_step_errors():
    assert load_step("steps_for_tests:add_total").__name__ == "add_total"
    with pytest.raises(ConfigError, match=r"cleanse\.steps\[2\]: a step is 'module:function'"):
        load_step("steps_for_tests.add_total", index=2)
    with pytest.raises(ConfigError, match=r"'steps_for_tests:NOT_A_FUNCTION' is not a function \(it is a int\)"):
        load_step("steps_for_tests:NOT_A_FUNCTION")


def test_module_that_fails_on_import_is_reported(tmp_path, monkeypatch):
    (tmp_path / "raises_on_import.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "bad_syntax.py").write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ConfigError, match=r"importing module 'raises_on_import' .* failed: .*no_such_dependency_xyz"):
        load_step("raises_on_import:fix", index=0)
    with pytest.raises(ConfigError, match=r"importing module 'bad_syntax' .* failed: SyntaxError"):
        load_step("bad_syntax:f", index=0)


def test_cleanse_runs_steps_first_so_derived_columns_are_features_and_filterable(rooms):
    config = parse_project(
        {
            "name": "p",
            "task": "regression",
            "data": {"source": {"path": "x.csv"}, "label": "price", "drop": ["id"]},
            "cleanse": {"steps": ["steps_for_tests:price_per_night"], "filters": ["per_night < 70"]},
            "models": [{"type": "linear_regression"}],
        }
    )

    result = cleanse(rooms, config)

    assert result.report["filtered_rows"] == {"per_night < 70": 1}
    assert "per_night" in result.report["numeric_columns"]
    assert sorted(r["per_night"] for r in result.df.collect()) == [15.0, 50.0]
