"""Classification and tuning sections: checked at validate time, without Spark, with the YAML path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparkwright.config import parse_project
from sparkwright.errors import ConfigError
from sparkwright.pipeline import validate_models


def _raw(**changes) -> dict:
    raw = {
        "name": "churn",
        "task": "classification",
        "data": {"source": {"path": "churn.csv"}, "label": "left"},
        "models": [{"type": "random_forest"}, {"type": "logistic_regression", "name": "lr"}],
    }
    raw.update(changes)
    return raw


def _validate(raw: dict) -> None:
    validate_models(parse_project(raw))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"task": "regression", "models": [{"type": "linear_regression"}], "classification": {"threshold": 0.3}},
            r"^classification: the classification section applies to task classification, not 'regression'",
        ),
        ({"classification": {"threshold": 1.5}}, r"^classification\.threshold: must be a probability between 0 and 1"),
        (
            {"classification": {"threshold": "best"}},
            r"^classification\.threshold: must be a probability between 0 and 1 \(exclusive\) or 'max_f1', got 'best'",
        ),
        (
            {"classification": {"class_weight": "even"}},
            r"^classification\.class_weight: must be 'balanced' or a mapping \{class: weight\}, got 'even'",
        ),
        ({"metric": "rmse"}, r"^metric: metric 'rmse' does not apply to task 'classification'"),
        (
            {"models": [{"type": "linear_regression"}]},
            r"^models\[0\]\.type: model type 'linear_regression' does not support task 'classification'",
        ),
        (
            {"tune": {"space": {"random_forrest": {"maxDepth": {"quniform": [2, 8, 1]}}}}},
            r"^tune\.space\.random_forrest: tune\.space names model 'random_forrest', which is not in models .*"
            r"Did you mean 'random_forest'\?",
        ),
        (
            {"tune": {"space": {"random_forest": {"maxDepht": {"quniform": [2, 8, 1]}}}}},
            r"^tune\.space\.random_forest\.maxDepht: unknown parameter .* Did you mean 'maxDepth'\?",
        ),
        (
            {"tune": {"space": {"random_forest": {"maxDepth": {"quniform": [2, 8]}}}}},
            r"^tune\.space\.random_forest\.maxDepth: ",
        ),
        (
            {"tune": {"method": "grid", "space": {"lr": {"regParam": {"uniform": [0, 1]}}}}},
            r"^tune\.space\.lr\.regParam: ",
        ),
        (
            {"tune": {"method": "optuna", "algorithm": "atpe", "space": {"lr": {"regParam": {"uniform": [0, 1]}}}}},
            r"^tune\.algorithm: adaptive TPE is a hyperopt algorithm",
        ),
        ({"tune": {"space": {}}}, r"^tune\.space: tune\.space is empty"),
        ({"tune": {"max_evals": 0, "space": {"lr": {}}}}, r"^tune\.max_evals: "),
    ],
)
def test_bad_sections_name_the_path(changes, message):
    with pytest.raises(ConfigError, match=message):
        _validate(_raw(**changes))


def test_a_valid_classification_project_with_tuning_passes():
    _validate(
        _raw(
            classification={"positive_class": "yes", "threshold": "max_f1", "class_weight": {"yes": 3}},
            tune={
                "method": "hyperopt",
                "algorithm": "atpe",
                "space": {
                    "random_forest": {"maxDepth": {"quniform": [2, 12, 1]}, "numTrees": {"choice": [20, 50]}},
                    "lr": {"regParam": {"loguniform": [0.0001, 1]}, "elasticNetParam": {"uniform": [0, 1]}},
                },
            },
        )
    )


def test_validate_command_checks_tuning_without_spark(tmp_path):
    project = tmp_path / "p.yaml"
    project.write_text(
        textwrap.dedent(
            """
            name: churn
            task: classification
            data: {source: {path: churn.csv}, label: left}
            models: [{type: random_forest}]
            tune: {space: {random_forest: {numTrees: {quniform: [0, 10, 1]}}}}
            """
        )
    )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("sparkwright")), "validate", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "tune.space.random_forest.numTrees: must be an integer >= 1, got 0" in done.stderr


def test_a_tuned_sklearn_space_is_checked_against_the_models_own_estimator():
    ridge = [{"type": "sklearn", "params": {"estimator": "sklearn.linear_model.Ridge"}}]
    raw = _raw(task="regression", metric="rmse", models=ridge, tune={"space": {"sklearn": {"alpha": [0.1, 1.0]}}})
    raw["tune"]["method"] = "grid"
    _validate(raw)  # alpha is Ridge's (the default estimator, HistGradientBoosting, has none)
    raw["tune"]["space"]["sklearn"] = {"max_depth": [2, 4]}
    with pytest.raises(
        ConfigError, match=r"^tune\.space\.sklearn\.max_depth: unknown parameter for sklearn\.linear_model"
    ):
        _validate(raw)
