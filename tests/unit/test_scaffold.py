"""init's decisions from a source's facts, and the file it writes: valid for `validate`, commented with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparkwright.config import load_project
from sparkwright.errors import ConfigError
from sparkwright.scaffold import ColumnFacts, SourceFacts, project_name, propose_project, render_project
from sparkwright.scaffold.propose import LARGE_DATA_ROWS


def _num(name, distinct, *, integral=False, present=1000, spark_type=None):
    return ColumnFacts(name, spark_type or ("int" if integral else "double"), "numeric", integral, present, distinct)


def _text(name, distinct, present=1000):
    return ColumnFacts(name, "string", "categorical", False, present, distinct)


def _facts(columns, *, rows=1000, levels=(), unique=(), estimated=False, path="/data/Hotel Rates.csv"):
    return SourceFacts(path, "csv", rows, estimated, min(rows, 1000), 0, list(columns), list(levels), list(unique))


def test_a_numeric_label_with_many_values_is_regression_and_ids_constants_text_are_dropped():
    facts = _facts(
        [
            _num("rownames", 1000, integral=True),
            _num("price", 640),
            _num("lead_time", 300, integral=True),
            _text("country", 40),
            _text("hotel", 1),
            _text("comment", 900),
            ColumnFacts("arrival", "date", "datetime", False, 1000, 365),
        ],
        unique=["rownames"],
    )
    proposal = propose_project(facts, label="price")
    assert proposal.task.value == "regression"
    assert set(proposal.drop) == {"rownames", "hotel", "comment"}
    assert "identifier" in proposal.drop["rownames"] and "constant" in proposal.drop["hotel"]
    assert proposal.keys.value == ["rownames"]
    assert "arrival" in proposal.left_out
    assert proposal.search is not None and proposal.models is None
    assert proposal.name == "hotel-rates"


def test_a_label_of_few_integer_codes_is_classification_with_its_rarer_class_positive():
    facts = _facts([_num("x", 500), _num("default", 2, integral=True)], levels=[(0, 780), (1, 220)])
    proposal = propose_project(facts, label="default")
    assert proposal.task.value == "classification"
    assert proposal.classification["positive_class"].value == 1
    assert proposal.classification["class_weight"].value == "balanced"  # 22% < 30%
    assert proposal.classification["threshold"].value == "max_f1"


def test_a_balanced_string_label_gets_no_weights_and_task_can_be_forced():
    facts = _facts([_num("x", 500), _text("species", 3)], levels=[("a", 340), ("b", 330), ("c", 330)])
    proposal = propose_project(facts, label="species")
    assert proposal.task.value == "classification"
    assert proposal.classification == {}  # three classes: no positive class; none rare
    with pytest.raises(ConfigError, match="--task: regression needs a numeric label, but 'species' is string"):
        propose_project(facts, label="species", task="regression")
    with pytest.raises(ConfigError, match="init scaffolds regression and classification projects, got 'anomaly'"):
        propose_project(facts, label="species", task="anomaly")
    codes = _facts([_num("x", 500), _num("stars", 5, integral=True)], levels=[(i, 200) for i in range(1, 6)])
    assert propose_project(codes, label="stars", task="regression").task.value == "regression"


def test_large_data_lists_spark_ml_models_and_an_unproven_unique_column_is_only_suggested_as_key():
    facts = _facts([_num("id", 1000, integral=True), _num("y", 900)], rows=LARGE_DATA_ROWS + 1, estimated=True)
    proposal = propose_project(facts, label="y")
    assert proposal.search is None
    assert [m["type"] for m in proposal.models.value] == ["linear_regression", "gbt"]
    assert proposal.keys is None and proposal.unproven_keys == ["id"]
    assert "id" in proposal.drop


def test_an_empty_label_is_refused():
    facts = _facts([_num("x", 500), _num("y", 0, present=0)])
    with pytest.raises(ConfigError, match="--label: label column 'y' has no values in a sample of 1,000 rows"):
        propose_project(facts, label="y")


@pytest.mark.parametrize(
    ("path", "name"), [("/d/Hotel Rates.csv", "hotel-rates"), ("s3a://b/t/", "t"), ("/_.csv", "project")]
)
def test_project_names_are_valid(path, name):
    assert project_name(path) == name


def test_the_rendered_file_validates_and_says_why(tmp_path: Path):
    data = tmp_path / "data" / "churn.csv"
    data.parent.mkdir()
    data.write_text("id,churn,tenure\n")
    facts = _facts(
        [_num("id", 1000, integral=True), _text("churn", 2), _num("tenure", 70, integral=True)],
        levels=[("No", 730), ("Yes", 270)],
        unique=["id"],
        path=str(data),
    )
    target = tmp_path / "projects" / "churn.yaml"
    target.parent.mkdir()
    text = render_project(propose_project(facts, label="churn"), project_file=target, command="sparkwright init x")
    target.write_text(text)

    raw = yaml.safe_load(text)
    assert raw["data"]["source"]["path"] == "../data/churn.csv"  # relative to the project file
    assert raw["classification"]["positive_class"] == "Yes"  # a string, not YAML's boolean yes
    assert raw["data"]["source"]["schema"] == {"id": "int", "churn": "string", "tenure": "int"}
    config = load_project(target)
    assert config.task == "classification" and config.data.keys == ["id"] and config.data.drop == ["id"]
    assert config.selection_metric == "roc_auc"
    assert "# unique per row" in text and "the rarer class" in text and "Proposed by `sparkwright init x`" in text
    assert all(len(line) <= 120 for line in text.splitlines())
