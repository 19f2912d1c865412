"""Task forecasting in the project file: what `sparkwright validate` checks without a JVM."""

from __future__ import annotations

import pytest

from sparkwright.config import parse_project
from sparkwright.errors import ConfigError
from sparkwright.pipeline import validate_models


def _project(**changes) -> dict:
    project = {
        "name": "sales",
        "task": "forecasting",
        "data": {"source": {"path": "s.csv"}, "time": "month", "series": ["store"], "label": "units"},
        "forecasting": {"horizon": 6},
        "models": [{"type": "ets"}, {"type": "arima", "params": {"max_p": 2}}],
    }
    for key, value in changes.items():
        if key == "data":
            project["data"] = {**project["data"], **value}
        elif value is None:
            project.pop(key)
        else:
            project[key] = value
    return project


def test_a_valid_project_ranks_by_mase_with_defaults_from_the_frequency():
    config = parse_project(_project())
    validate_models(config)
    assert config.selection_metric == "mase"
    assert config.forecasting.levels == [80, 95] and config.forecasting.fill == "interpolate"
    assert config.forecasting.settings_for(12) == (24, 6)  # two seasons; a step of one horizon
    assert config.forecasting.settings_for(1) == (8, 6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data": {"time": None}}, r"^data\.time: task forecasting needs the time column"),
        ({"data": {"label": None}}, r"^data\.label: task 'forecasting' needs a label column"),
        ({"forecasting": None}, r"^forecasting: task forecasting needs a forecasting section with the horizon"),
        ({"data": {"series": ["month"]}}, r"^data\.series: data\.time and data\.series both name column 'month'"),
        ({"data": {"drop": ["store"]}}, r"^data\.drop: data\.series 'store' is also listed in data\.drop"),
        ({"forecasting": {"horizon": 6, "levels": [80, 100]}}, r"forecasting\.levels"),
        ({"tune": {"space": {"ets": {"alpha": {"uniform": [0, 1]}}}}}, r"^tune: task forecasting does not tune yet"),
        ({"task": "regression"}, r"^forecasting: the forecasting section applies to task forecasting"),
        ({"task": "regression", "forecasting": None}, r"^data\.time: data\.time applies to task forecasting"),
        (
            {"forecasting": {"horizon": 6, "exogenous": ["promo"]}},
            r"^forecasting\.future: exogenous columns need their values for the points to forecast; add forecasting\."
            r"future: \{path: \.\.\.\} with the series columns, data\.time and promo",
        ),
        (
            {"forecasting": {"horizon": 6, "future": {"path": "f.csv"}}},
            r"^forecasting\.future: forecasting\.future gives the future values of exogenous columns; name them",
        ),
        (
            {"forecasting": {"horizon": 6, "exogenous": ["store"], "future": {"path": "f.csv"}}},
            r"^forecasting\.exogenous: data\.series and forecasting\.exogenous both name column 'store'",
        ),
        (
            {"forecasting": {"horizon": 6, "route": True, "backtest": {"windows": 1}}},
            r"^forecasting\.backtest\.windows: forecasting\.route chooses .* needs at least 2 windows",
        ),
    ],
)
def test_project_file_errors_name_the_path_and_the_fix(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_project(_project(**changes))


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            [{"type": "random_forest"}],
            r"^models\[0\]\.type: model type 'random_forest' does not support task 'forecasting'",
        ),
        ([{"type": "ets", "params": {"season_length": 4}}], r"^models\[0\]\.params\.season_length: sparkwright sets"),
        ([{"type": "theta", "params": {"nope": 1}}], r"^models\[0\]\.params\.nope: theta \(AutoTheta\) takes none"),
    ],
)
def test_model_errors_are_found_without_spark(models, message):
    with pytest.raises(ConfigError, match=message):
        validate_models(parse_project(_project(models=models)))


def test_exogenous_columns_need_a_model_that_uses_them():
    config = parse_project(
        _project(
            forecasting={"horizon": 6, "exogenous": ["promo"], "future": {"path": "f.csv"}},
            models=[{"type": "ets"}, {"type": "theta"}],
        )
    )
    with pytest.raises(ConfigError, match=r"^forecasting\.exogenous: no listed model uses exogenous columns"):
        validate_models(config)
    validate_models(
        config.model_copy(update={"models": [*config.models, config.models[0].model_copy(update={"type": "arima"})]})
    )
