"""Cross-field checks of ``task: forecasting`` (data.time / series / label, the forecasting section).

Run by ``run_checks`` with the other named checks, so ``sparkwright validate`` reports them without Spark.
"""

from __future__ import annotations

from sparkwright.config.columns import check_distinct_kept, refuse_tuning
from sparkwright.config.schema import ProjectConfig
from sparkwright.errors import ConfigError


def check_forecasting(config: ProjectConfig) -> None:
    """The series columns are given with task forecasting only; there they name distinct, kept columns."""
    data = config.data
    if config.task != "forecasting":
        for key in ("time", "series"):
            if getattr(data, key):
                raise ConfigError(
                    f"data.{key} applies to task forecasting, not {config.task!r}; remove it.", f"data.{key}"
                )
        return
    if data.time is None:
        raise ConfigError(
            "task forecasting needs the time column; add data.time: <date or timestamp column>.", "data.time"
        )
    if data.label is None:
        raise ConfigError(
            "task forecasting needs the value to forecast; add data.label: <numeric column>.", "data.label"
        )
    if config.forecasting is None:
        raise ConfigError(
            "task forecasting needs a forecasting section with the horizon; add forecasting: {horizon: 12}.",
            "forecasting",
        )
    if config.forecasting.route and config.forecasting.backtest.windows < 2:
        raise ConfigError(
            "forecasting.route chooses each series' model on its earlier backtest windows and scores the choice on "
            "the later ones, so it needs at least 2 windows; set forecasting.backtest.windows: 3 (or route: false).",
            "forecasting.backtest.windows",
        )
    exogenous = [("forecasting.exogenous", c) for c in config.forecasting.exogenous]
    check_distinct_kept(
        config, [("time", data.time), ("label", data.label), *(("series", c) for c in data.series), *exogenous]
    )
    _check_exogenous(config)
    refuse_tuning(config)


def _check_exogenous(config: ProjectConfig) -> None:
    """Exogenous columns come with their future values, and future values with exogenous columns (that a model
    uses them is checked with the models: ``ForecastingFlow.check``)."""
    forecasting = config.forecasting
    assert forecasting is not None
    if forecasting.future is not None and not forecasting.exogenous:
        raise ConfigError(
            "forecasting.future gives the future values of exogenous columns; name them in forecasting.exogenous, "
            "or remove forecasting.future.",
            "forecasting.future",
        )
    if forecasting.exogenous and forecasting.future is None:
        raise ConfigError(
            "exogenous columns need their values for the points to forecast; add forecasting.future: {path: ...} "
            "with the series columns, data.time and " + ", ".join(forecasting.exogenous) + ".",
            "forecasting.future",
        )
