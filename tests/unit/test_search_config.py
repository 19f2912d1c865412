"""The search section and --budget: checked without Spark, with the YAML path and the fix."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.cli.main_job import with_budget
from sparkwright.config import SearchConfig, parse_project
from sparkwright.config.schema import DEFAULT_SEARCH_BUDGET, parse_duration
from sparkwright.errors import ConfigError
from sparkwright.pipeline import validate_models
from sparkwright.pipeline.families import FAMILIES, default_families


def _raw(**changes) -> dict:
    raw = {"name": "prices", "task": "regression", "data": {"source": {"path": "p.csv"}, "label": "price"}}
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2.5m", 150), (45, 45), (1.5, 1.5)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "m", "", "0s", -3, True])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_project_without_models_searches_with_the_default_budget():
    config = parse_project(_raw())
    assert config.models == [] and config.search is None
    assert config.search_settings == SearchConfig()
    assert config.search_settings.budget_seconds == parse_duration(DEFAULT_SEARCH_BUDGET)
    validate_models(config)


def test_a_project_with_models_and_no_search_section_does_not_search():
    assert parse_project(_raw(models=[{"type": "linear_regression"}])).search_settings is None


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"budget": "ten minutes"}, r"search\.budget: must be a duration such as 90s, 10m or 1h30m"),
        ({"families": ["lightgbn"]}, r"search\.families: unknown family 'lightgbn' \(did you mean 'lightgbm'\?\)"),
        ({"families": []}, r"search\.families: must be a non-empty list"),
        ({"folds": 0}, r"search\.folds: must be 'auto' or an integer >= 1"),
        ({"max_trials": 0}, r"search\.max_trials"),
        ({"budjet": "1m"}, r"search\.budjet"),
    ],
)
def test_bad_search_sections_name_the_field(search, message):
    with pytest.raises(ConfigError, match=message):
        parse_project(_raw(search=search))


def test_a_family_named_like_a_listed_model_is_refused():
    config = parse_project(_raw(models=[{"type": "linear_regression", "name": "linear"}], search={}))
    with pytest.raises(ConfigError, match=r"search\.families\[0\]: family 'linear' would clash"):
        validate_models(config.model_copy(update={"search": SearchConfig(families=["linear"])}))


def test_budget_flag_adds_or_overrides_the_search():
    listed = parse_project(_raw(models=[{"type": "linear_regression"}]))
    assert with_budget(listed, None) is listed
    searched = with_budget(listed, "45s")
    assert searched.search_settings.budget_seconds == 45 and searched.models == listed.models
    with pytest.raises(ConfigError, match=r"--budget: must be a duration"):
        with_budget(listed, "soon")


def test_every_family_has_a_form_for_each_task_and_defaults_depend_on_the_data_size():
    for family in FAMILIES.values():
        for form in (family.driver, family.cluster):
            if form is not None:
                assert set(form.types) == set(form.fixed) == {"regression", "classification"}
                assert set(form.start) <= set(form.space)
    assert "lightgbm" in default_families(fits_driver=True, rows=10_000)
    assert "gbt" not in default_families(fits_driver=True, rows=10_000)
    assert "lightgbm" not in default_families(fits_driver=False, rows=10_000_000)
    assert {"xgboost", "random_forest", "linear", "gbt"} <= set(default_families(fits_driver=False, rows=10_000_000))
    # scikit-learn's full-depth forests stop at 200K rows on the driver; boosted trees and linear go on.
    small, large = default_families(fits_driver=True, rows=200_000), default_families(fits_driver=True, rows=800_000)
    assert {"random_forest", "extra_trees"} <= set(small)
    assert set(small) - set(large) == {"random_forest", "extra_trees"}


def test_validate_reports_the_search(tmp_path):
    project = tmp_path / "p.yaml"
    project.write_text("name: prices\ntask: regression\ndata: {source: {path: p.csv}, label: price}\n")
    result = CliRunner().invoke(app, ["validate", str(project)])
    assert result.exit_code == 0, result.output
    assert f"a {DEFAULT_SEARCH_BUDGET} search across model families" in " ".join(result.output.split())


def test_a_boosted_winner_is_refit_on_every_row_with_the_rounds_its_folds_stopped_at():
    from sparkwright.pipeline.search import _refit_params
    from sparkwright.tune._budget import BudgetTrial

    config = parse_project(_raw())
    form = FAMILIES["lightgbm"].driver
    trial = BudgetTrial(
        3, 1, "lightgbm", {"num_leaves": 40}, 0.5, [0.5], "ok", 1.0, details={"best_iterations": [100, 120]}
    )
    params = _refit_params(form, config, trial)
    assert params["n_estimators"] == 121 and params["num_leaves"] == 40
    assert "early_stopping_rounds" not in params and "validation_fraction" not in params
    forest = _refit_params(
        FAMILIES["random_forest"].driver, config, BudgetTrial(0, 0, "random_forest", {}, 1.0, [], "ok", 1.0)
    )
    assert forest["estimator"] == "sklearn.ensemble.RandomForestRegressor"
