"""The exported scorer's runtime and SQL parsing on their own: no Spark session needed.

Spark's exact behaviour is pinned here by values Spark 4.2 itself produced (casts of numbers to text,
``CategoricalSplit`` routing of out-of-range values); ``test_export.py`` compares against Spark end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sparkwright.deploy.export.runtime import (
    Column,
    ExportedScorer,
    ImputerStep,
    ScoringError,
    StringIndexerStep,
    TreeEnsembleStep,
    VectorAssemblerStep,
    _spark_argmax,
    _spark_softmax,
    input_column,
    java_double_text,
    label_as_number,
)
from sparkwright.deploy.export.sql import UnsupportedStatement, parse_statement
from sparkwright.errors import DataError

# CAST(x AS STRING) as Spark 4.2 on Java 17 wrote it (pairs: 0.0 and -0.0 are one dict key).
SPARK_TEXT = [
    (1.0, "1.0"),
    (0.1, "0.1"),
    (1e7, "1.0E7"),
    (9999999.0, "9999999.0"),
    (1e-3, "0.001"),
    (1e-4, "1.0E-4"),
    (0.00123, "0.00123"),
    (123456789.0, "1.23456789E8"),
    (1.5e300, "1.5E300"),
    (-0.0, "-0.0"),
    (0.0, "0.0"),
    (math.inf, "Infinity"),
    (-math.inf, "-Infinity"),
    (2.5, "2.5"),
    (1e22, "1.0E22"),
    (2 / 3, "0.6666666666666666"),
    (12345678.9, "1.23456789E7"),
]


@pytest.mark.parametrize(("value", "text"), SPARK_TEXT)
def test_java_double_text_matches_spark(value, text):
    assert java_double_text(value) == text
    number = label_as_number(text, "double")
    assert number == value and math.copysign(1.0, number) == math.copysign(1.0, value)


def test_label_as_number_accepts_only_spark_texts():
    assert math.copysign(1.0, label_as_number("-0.0", "double")) == -1.0
    # Java 17 writes some large doubles and many floats with more digits than the shortest: still matched.
    assert label_as_number("5.4422541418218416E16", "double") == 5.4422541418218416e16
    assert label_as_number("1.23456792E8", "float") == float(np.float32(123456792.0))
    for text in ("1", "1.50", "10000000.0", "1.0e7", "0.0001", " 1.0", "NaN", "abc"):
        assert label_as_number(text, "double") is None, text
    assert label_as_number("42", "int") == 42
    assert label_as_number("-7", "bigint") == -7
    for text in ("007", "1.0", "+3"):
        assert label_as_number(text, "int") is None, text


def test_string_indexer_matches_numbers_by_value_not_text():
    step = StringIndexerStep(
        {
            "columns": [
                {"input": "x", "output": "i", "labels": ["3.0", "1.0E-4", "-0.0", "x"], "input_type": "double"}
            ],
            "handle_invalid": "keep",
        }
    )
    frame = ExportedScorer([{"name": "x", "type": "double"}], [step], {"prediction": "i"}).transform(
        {"x": pd.Series([3.0, 1e-4, -0.0, 0.0, math.nan, None], dtype=object)}
    )
    assert list(frame["i"].values) == [0.0, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_string_indexer_error_names_the_value_and_is_a_data_error():
    step = StringIndexerStep(
        {"columns": [{"input": "x", "output": "i", "labels": ["1"], "input_type": "int"}], "handle_invalid": "error"}
    )
    scorer = ExportedScorer([{"name": "x", "type": "int"}], [step], {"prediction": "i"})
    with pytest.raises(ScoringError, match="Unseen label: 2") as raised:
        scorer.transform({"x": [1, 2]})
    assert isinstance(raised.value, DataError) and isinstance(raised.value, ValueError)
    with pytest.raises(ScoringError, match="has a null"):
        scorer.transform({"x": [1, None]})


def test_input_columns_keep_null_and_nan_apart():
    doubles = input_column(pd.Series([1.0, None, math.nan, pd.NA], dtype=object), "double", "x")
    assert list(doubles.null) == [False, True, False, True]
    assert math.isnan(doubles.values[2])
    floats = input_column(pd.Series([1.5, math.nan]), "double", "x")
    assert floats.null is None and math.isnan(floats.values[1])
    ints = input_column(pd.Series([1, None, math.nan], dtype=object), "int", "x")
    assert list(ints.null) == [False, True, True] and ints.values[0] == 1
    strings = input_column(pd.Series(["a", None, math.nan, 3]), "string", "x")
    assert list(strings.values) == ["a", None, None, "3"]
    nullable = input_column(pd.Series([1, None], dtype="Int64"), "bigint", "x")
    assert list(nullable.null) == [False, True] and nullable.values[0] == 1
    assert list(input_column(pd.Series([0.5, None], dtype="Float64"), "double", "x").null) == [False, True]
    big = 2**60 + 1
    assert input_column(pd.Series([big, None], dtype=object), "bigint", "x").values[0] == big
    with pytest.raises(ScoringError, match="whole numbers"):
        input_column(pd.Series([1.5]), "int", "x")
    with pytest.raises(ScoringError, match="must hold int values; got 'a'"):
        input_column(pd.Series(["a"]), "int", "x")
    with pytest.raises(ScoringError, match="must hold numbers"):
        input_column(pd.Series(["a"], dtype=object), "double", "x")


def test_imputer_replaces_null_and_missing_value_and_casts_back():
    step = ImputerStep({"columns": [{"input": "n", "output": "o", "surrogate": 2.7}], "missing_value": -1.0})
    scorer = ExportedScorer([{"name": "n", "type": "int"}], [step], {"prediction": "o"})
    assert list(scorer.transform({"n": [5, -1, None]})["o"].values) == [5, 2, 2]
    nan_step = ImputerStep({"columns": [{"input": "x", "output": "o", "surrogate": 0.5}], "missing_value": math.nan})
    scorer = ExportedScorer([{"name": "x", "type": "double"}], [nan_step], {"prediction": "o"})
    assert list(scorer.transform({"x": pd.Series([1.0, math.nan, None], dtype=object)})["o"].values) == [1.0, 0.5, 0.5]


def test_vector_assembler_handle_invalid():
    def assemble(how):
        step = VectorAssemblerStep({"inputs": ["a", "b"], "output": "v", "handle_invalid": how})
        inputs = [{"name": "a", "type": "double"}, {"name": "b", "type": "boolean"}]
        data = {"a": pd.Series([1.0, math.nan, None], dtype=object), "b": [True, False, True]}
        return ExportedScorer(inputs, [step], {"prediction": "v"}).transform(data)

    kept = assemble("keep")
    np.testing.assert_array_equal(kept["v"].values, [[1.0, 1.0], [np.nan, 0.0], [np.nan, 1.0]])
    skipped = assemble("skip")
    assert list(skipped.index) == [0] and skipped["v"].values.tolist() == [[1.0, 1.0]]
    with pytest.raises(ScoringError, match="Encountered null"):
        assemble("error")


def _one_split_tree(left_categories: list[int], num_categories: int) -> TreeEnsembleStep:
    """Root: categorical split on feature 0; left leaf predicts 1, right leaf 2."""
    left = np.zeros((1, num_categories), dtype=bool)
    left[0, left_categories] = True
    arrays = {
        "roots": np.array([0]),
        "feature": np.array([0, -1, -1]),
        "threshold": np.zeros(3),
        "left": np.array([1, -1, -1]),
        "right": np.array([2, -1, -1]),
        "categorical": np.array([True, False, False]),
        "num_categories": np.array([num_categories, 0, 0]),
        "category_row": np.array([0, -1, -1]),
        "left_categories": left,
        "value": np.array([0.0, 1.0, 2.0]),
    }
    params = {"features": "f", "prediction": "p", "num_features": 1, "task": "regression"}
    return TreeEnsembleStep({**params, "ensemble": "tree", "max_depth": 1}, arrays)


def test_categorical_split_routes_values_outside_the_categories_as_spark_does():
    """Spark's CategoricalSplit stores the smaller side: a value it does not know goes to the other side."""
    values = np.array([[0.0], [1.0], [2.0], [3.0], [7.0], [-1.0], [0.5], [np.nan]])
    stores_left = _one_split_tree([1], num_categories=4)  # 1 of 4 on the left: stores the left set
    assert list(stores_left._combine(stores_left._tree_predictions(values))) == [2, 1, 2, 2, 2, 2, 2, 2]
    stores_right = _one_split_tree([0, 1, 2], num_categories=4)  # 3 of 4 on the left: stores the right set
    assert list(stores_right._combine(stores_right._tree_predictions(values))) == [1, 1, 1, 2, 1, 1, 1, 1]


def test_spark_argmax_and_softmax_edge_cases():
    values = np.array([[1.0, 3.0, 3.0], [np.nan, 1.0, 2.0], [np.nan, np.nan, np.nan]])
    assert list(_spark_argmax(values)) == [1.0, 0.0, 0.0]  # first max; nothing beats a leading NaN
    assert list(_spark_argmax(values, start=-np.inf)) == [1.0, 2.0, 0.0]
    softmax = _spark_softmax(np.array([[0.0, np.inf, np.inf], [1000.0, 0.0, -1000.0]]))
    np.testing.assert_array_equal(softmax[0], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(softmax[1], [1.0, 0.0, 0.0])


def test_scorer_files_round_trip_and_refuse_other_formats(tmp_path):
    step = ImputerStep({"columns": [{"input": "x", "output": "o", "surrogate": 0.5}], "missing_value": math.nan})
    scorer = ExportedScorer([{"name": "x", "type": "double"}], [step], {"prediction": "o", "prediction_type": "double"})
    folder = scorer.save(tmp_path / "scorer")
    loaded = ExportedScorer.load(folder)
    pd.testing.assert_frame_equal(loaded.predict({"x": [1.0, None]}), scorer.predict({"x": [1.0, None]}))
    manifest = json.loads((folder / "scorer.json").read_text())
    (folder / "scorer.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ScoringError, match="version 99; this runtime reads"):
        ExportedScorer.load(folder)
    with pytest.raises(ScoringError, match="holds no exported scorer"):
        ExportedScorer.load(tmp_path / "nothing")


# ---- SQL ----------------------------------------------------------------------------------------


def test_parse_sparkwrights_statements():
    constant = parse_statement("SELECT *, CAST(123.25 AS DOUBLE) AS `prediction` FROM __THIS__")
    assert (constant.kind, constant.value, constant.output) == ("constant", 123.25, "prediction")
    assert parse_statement("SELECT *, CAST(1.5e-05 AS DOUBLE) AS `p` FROM __THIS__").value == 1.5e-05
    exp = parse_statement("SELECT *, EXP(`__sw_prediction_log`) AS `prediction` FROM __THIS__")
    assert (exp.kind, exp.input, exp.output) == ("exp", "__sw_prediction_log", "prediction")
    case = parse_statement(
        "SELECT *, CASE CAST(`idx` AS INT) WHEN 0 THEN CAST('No' AS string) "
        "WHEN 1 THEN CAST('Yes' AS string) END AS `prediction` FROM __THIS__"
    )
    assert (case.kind, case.input, case.labels, case.label_type) == (
        "index_to_label",
        "idx",
        {0: "No", 1: "Yes"},
        "string",
    )
    ints = parse_statement("SELECT *, CASE CAST(`i` AS INT) WHEN 0 THEN CAST('-3' AS bigint) END AS `p` FROM __THIS__")
    assert ints.labels == {0: -3}
    flags = parse_statement(
        "SELECT *, CASE CAST(`i` AS INT) WHEN 0 THEN CAST('false' AS boolean) "
        "WHEN 1 THEN CAST('true' AS boolean) END AS `p` FROM __THIS__"
    )
    assert flags.labels == {0: False, 1: True}


def test_parse_labels_escaped_as_sparkwright_escapes_them():
    """models/labels.py escapes backslashes and quotes with a backslash."""
    labels = ["it's", "back\\slash", 'quote"d', "`tick`"]
    escaped = ["'" + t.replace("\\", "\\\\").replace("'", "\\'") + "'" for t in labels]
    whens = " ".join(f"WHEN {i} THEN CAST({e} AS string)" for i, e in enumerate(escaped))
    parsed = parse_statement(f"SELECT *, CASE CAST(`a``b` AS INT) {whens} END AS `p` FROM __THIS__")
    assert parsed.labels == dict(enumerate(labels)) and parsed.input == "a`b"


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("SELECT *, nights * 2 AS n FROM __THIS__", "none of the supported forms"),
        ("SELECT *, EXP(`x`) AS `y` FROM __THIS__ WHERE x > 0", "none of the supported forms"),
        ("SELECT x, EXP(`x`) AS `y` FROM __THIS__", "none of the supported forms"),
        ("SELECT *, LOG(`x`) AS `y` FROM __THIS__", "none of the supported forms"),
        ("SELECT *, CASE CAST(`i` AS INT) WHEN 0 THEN CAST('2020-01-01' AS date) END AS `p` FROM __THIS__", "date"),
        ("SELECT *, CASE CAST(`i` AS INT) WHEN 0 THEN CAST('a\\nb' AS string) END AS `p` FROM __THIS__", "escape"),
        ("SELECT *, CASE CAST(`i` AS INT) WHEN 0 THEN CAST('x' AS int) END AS `p` FROM __THIS__", "does not give"),
    ],
)
def test_parse_refuses_other_statements(statement, reason):
    with pytest.raises(UnsupportedStatement, match=reason):
        parse_statement(statement)


def test_index_to_label_gives_null_for_an_index_without_label():
    from sparkwright.deploy.export.runtime import IndexToLabelStep

    step = IndexToLabelStep({"input": "i", "output": "p", "label_type": "int", "labels": {"0": 10, "1": 20}})
    frame = ExportedScorer([{"name": "i", "type": "double"}], [step], {"prediction": "p"}).transform(
        {"i": pd.Series([1.0, 0.0, 2.0, None], dtype=object)}
    )
    column: Column = frame["p"]
    assert list(column.values) == [20, 10, None, None] and list(column.null) == [False, False, True, True]


def test_exported_model_logged_to_a_run_loads_from_its_uri(workspace, tmp_path):
    """log_exported_model uploads the pyfunc folder; runs:/<id>/exported_model then loads anywhere."""
    import mlflow.pyfunc

    from sparkwright.deploy.export import log_exported_model, save_pyfunc
    from sparkwright.tracking import Tracker

    step = ImputerStep({"columns": [{"input": "x", "output": "o", "surrogate": 0.5}], "missing_value": math.nan})
    scorer = ExportedScorer([{"name": "x", "type": "double"}], [step], {"prediction": "o", "prediction_type": "double"})
    folder = save_pyfunc(scorer, tmp_path / "exported")
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    with tracker.run(tracker.experiment_id("export"), "export") as run_id:
        logged = log_exported_model(tracker, run_id, folder)
    assert logged.model_uri == f"runs:/{run_id}/exported_model"
    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    assert list(loaded.predict(pd.DataFrame({"x": [None, 2.0]}))["o"]) == [0.5, 2.0]
    assert tracker.register(logged, "exported-model") == "1"
