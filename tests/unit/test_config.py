"""Project-file validation: every error names the YAML path, what was expected and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sparkwright.config import load_project, parse_project, yaml_path
from sparkwright.errors import ConfigError

VALID = {
    "name": "hotel",
    "task": "regression",
    "data": {"source": {"path": "data/x.csv"}, "label": "price", "drop": ["id"]},
    "models": [{"type": "linear_regression"}, {"type": "random_forest", "params": {"numTrees": 20}}],
}


def with_change(path: str, value):
    """A copy of VALID with one dotted path set (``data.source.fromat``) or deleted (value=...)."""
    raw = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is ...:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


def test_valid_project_gets_defaults():
    config = parse_project(VALID)
    assert config.selection_metric == "rmse"
    assert config.split.test_fraction == 0.2
    assert config.cleanse.impute == "median"
    assert config.registered_model_name == "hotel"
    assert [m.display_name for m in config.models] == ["linear_regression", "random_forest"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("colour", "red", r"colour: unknown key 'colour'; valid keys here: name, task"),
        ("data.source.fromat", "csv", r"data\.source\.fromat: unknown key .* Did you mean 'format'\?"),
        ("models.1.params", "deep", r"models\[1\]\.params: input should be a valid dictionary"),
        ("models.0.tpye", "x", r"models\[0\]\.tpye: unknown key 'tpye'.* Did you mean 'type'\?"),
        ("split.test_fraction", "big", r"split\.test_fraction: .*valid number.*got 'big'"),
        ("split.test_fraction", 1.5, r"split\.test_fraction: input should be less than 1"),
        (
            "task",
            "regresion",
            r"task: unknown task 'regresion'; supported: anomaly, classification, clustering, forecasting, "
            r"recommendation, regression\. Did you mean 'regr",
        ),
        ("metric", "accuracy", r"metric: metric 'accuracy' does not apply to task 'regression'; choose one of"),
        ("data.label", ..., r"data\.label: task 'regression' needs a label column"),
        ("data.drop", ["price"], r"data\.drop: the label 'price' is also listed in data\.drop"),
        ("name", "bad name!", r"name: string should match pattern"),
        ("models", "linear", r"models: input should be a valid list"),
        ("data", ..., r"data: is required but missing; add it"),
    ],
)
def test_invalid_project_names_path_and_fix(path, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_project(with_change(path, value))


def test_source_formats_come_from_the_source_registry(monkeypatch):
    from sparkwright.data import sources
    from sparkwright.pipeline import validate_models

    assert {"csv", "parquet", "json", "delta"} <= set(sources.source_formats())
    with pytest.raises(ConfigError, match=r"data\.source\.format: unknown source format 'cvs'; choose one of: .*csv.*"
                       r"Did you mean 'csv'\?"):  # fmt: skip
        validate_models(parse_project(with_change("data.source.format", "cvs")))
    monkeypatch.setitem(sources._READERS, "xlsx-for-test", lambda spark, source, declared: None)
    validate_models(parse_project(with_change("data.source.format", "xlsx-for-test")))  # a new format is accepted


def test_duplicate_model_names_point_at_the_second():
    raw = with_change("models", [{"type": "gbt"}, {"type": "gbt"}])
    with pytest.raises(ConfigError, match=r"models\[1\]\.name: model name 'gbt' is used by models\[0\] too"):
        parse_project(raw)


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError, match="unknown key"):
        parse_project(with_change("extra", 1))


def test_load_project_resolves_data_path_against_the_file(tmp_path: Path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "p.yaml").write_text(yaml.safe_dump(VALID))
    config = load_project(folder / "p.yaml")
    assert config.data.source.path == str(folder / "data" / "x.csv")


def test_load_project_missing_file_and_bad_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"project file '.*nope\.yaml' does not exist"):
        load_project(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_project(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="a project must be a mapping"):
        load_project(scalar)


def test_yaml_path_formats_indexes():
    assert yaml_path(("models", 2, "params", "maxDepth")) == "models[2].params.maxDepth"
    assert yaml_path(("name",)) == "name"


def test_quality_rule_names_must_be_unique_so_counts_do_not_collide():
    raw = with_change("quality", [{"rule": "not_null", "column": "a"}, {"rule": "not_null", "column": "a"}])
    with pytest.raises(ConfigError, match=r"quality\[1\]\.name: rule name 'a not null' is used by quality\[0\] too"):
        parse_project(raw)


def test_merge_needs_keys_and_steps_need_module_and_function():
    with pytest.raises(ConfigError, match=r"data\.ingest\.mode: merge upserts rows by their key, but data\.keys"):
        parse_project(with_change("data.ingest", {"mode": "merge"}))
    with pytest.raises(ConfigError, match=r"cleanse\.steps\[0\]: a step is 'module:function'"):
        parse_project(with_change("cleanse", {"steps": ["just_a_module"]}))
