"""Forecasting: every listed model and the seasonal naive baseline backtested on every series (rolling-origin
windows, on the executors), ranked by their overall scores; then each fits every series on its whole history
and forecasts ``horizon`` points with prediction intervals. The forecasts and the backtests are Delta tables,
the series that failed or were too short are counted and listed, and each model is a registered-able MLflow
model that forecasts its series without Spark."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome, check_models
from sparkwright.pipeline.results import BASELINE, ModelResult, TableRef, lineage_params

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.forecast.engine import SeriesColumns
    from sparkwright.forecast.global_model import GlobalModel
    from sparkwright.forecast.series import SeriesSettings

# Without a models list: exponential smoothing and Theta (ARIMA's order search is slower; list it to try it).
DEFAULT_MODELS = (ModelSpec(type="ets"), ModelSpec(type="theta"))
FORECASTS_TABLE = "forecasts"
BACKTESTS_TABLE = "backtests"
# Series named in the run's list of series that failed or were too short.
LISTED_PROBLEMS = 1000


class ForecastingFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """The listed models are forecasting model types with valid params (the rest: ``check_forecasting``)."""
        check_models(config)

    def next_step(self, config: ProjectConfig, model_uri: str) -> str | None:
        keys = ", ".join(f"'{c}': [...]" for c in config.data.series)
        return (
            f"Forecast: mlflow.pyfunc.load_model('{model_uri}').predict(pandas.DataFrame({{{keys}}})) "
            "(add a 'horizon' column for another horizon); the run's forecasts are in the forecasts table."
        )

    def train(self, context: TrainingContext) -> TrainingOutcome:
        from sparkwright.forecast.engine import SeriesColumns

        config = context.config
        columns = SeriesColumns(config.data.time or "", tuple(config.data.series), config.data.label or "")
        history = context.train.unionByName(context.test)
        with context.stage("frequency", "Reading the series' frequency"):
            settings = _settings(config, history, columns)
        context.tracker.log_params(
            context.parent_id,
            {"frequency": settings.freq, "season_length": settings.season, "min_length": settings.min_length},
        )
        regular = _regular(history, columns, settings)
        per_series, global_models = _split_models(regular, columns, settings)
        with context.stage("backtest", f"Backtesting {len(settings.models)} models on every series"):
            backtested, scores, problems = _backtest(context, history, columns, per_series, global_models)
        with context.stage("forecast", f"Forecasting {settings.horizon} points of every series"):
            forecasted = _forecast(history, columns, per_series, global_models)
        tables = {
            BACKTESTS_TABLE: _write(context, backtested, BACKTESTS_TABLE),
            FORECASTS_TABLE: _write(
                context, forecasted.where("status = 'ok'").drop("status", "message"), FORECASTS_TABLE
            ),
        }
        context.tracker.log_params(context.parent_id, lineage_params(tables))
        try:
            results = [
                _log_model(
                    context,
                    entry,
                    settings,
                    columns,
                    scores.get(entry.name),
                    forecasted,
                    regular,
                    global_models.get(entry.name),
                )
                for entry in settings.models
            ]
        finally:
            for frame in (backtested, forecasted, regular):
                frame.unpersist()
            for model in global_models.values():
                model.unpersist()
        context.tracker.log_metrics(
            context.parent_id, {"series_failed": problems["failed"], "series_too_short": problems["too_short"]}
        )
        return TrainingOutcome(models=results, tables=tables)


def _settings(config: ProjectConfig, history: DataFrame, columns: SeriesColumns) -> SeriesSettings:
    """The run's series settings: the frequency (given, or inferred from the distinct times), season, windows."""
    from sparkwright.forecast.frequency import infer_frequency, season_length
    from sparkwright.forecast.series import ModelEntry, SeriesSettings
    from sparkwright.tasks.forecasting import BASELINE_TYPE

    forecasting = config.forecasting
    assert forecasting is not None, "checked by check_forecasting"
    freq = forecasting.frequency
    if freq is None:
        times = [r[0] for r in history.select(columns.time).distinct().limit(1_000_000).collect()]
        freq = infer_frequency([t for t in times if t is not None])
    season = forecasting.season_length or season_length(freq)
    min_length, step = forecasting.settings_for(season)
    specs = [ModelSpec(name=BASELINE, type=BASELINE_TYPE), *(config.models or DEFAULT_MODELS)]
    return SeriesSettings(
        freq=freq,
        season=season,
        horizon=forecasting.horizon,
        fill=forecasting.fill,
        min_length=min_length,
        windows=forecasting.backtest.windows,
        step=step,
        levels=tuple(forecasting.levels),
        models=tuple(ModelEntry(spec.display_name, spec.type, dict(spec.params)) for spec in specs),
    )


def _split_models(
    regular: DataFrame, columns: SeriesColumns, settings: SeriesSettings
) -> tuple[SeriesSettings, dict[str, GlobalModel]]:
    """The settings of the models fitted per series (the baseline among them), and the global models by name."""
    from dataclasses import replace

    from sparkwright.forecast.global_model import GlobalModel
    from sparkwright.models.forecasters import is_global

    global_models = {
        entry.name: GlobalModel(regular, columns, settings, entry) for entry in settings.models if is_global(entry.type)
    }
    return replace(settings, models=tuple(e for e in settings.models if e.name not in global_models)), global_models


def _backtest(
    context: TrainingContext,
    history: DataFrame,
    columns: SeriesColumns,
    settings: SeriesSettings,
    global_models: dict[str, GlobalModel],
) -> tuple[DataFrame, dict[str, dict[str, float]], dict[str, int]]:
    """The backtest rows of the per-series models and of the global ones (cached), each model's scores, and the
    count of series that failed or were too short (listed with their errors in ``series_problems.json`` of the
    parent run)."""
    from pyspark.sql import functions as F

    from sparkwright.forecast.engine import backtests
    from sparkwright.forecast.series import FAILED, TOO_SHORT
    from sparkwright.tasks.forecasting import scores

    backtested = backtests(history, columns, settings)
    for model in global_models.values():
        backtested = backtested.unionByName(model.backtests())
    backtested = backtested.cache()
    problems = backtested.where(F.col("status").isin(FAILED, TOO_SHORT))
    listed = [
        {**{c: r[c] for c in columns.series}, "model": r["model"], "status": r["status"], "message": r["message"]}
        for r in problems.limit(LISTED_PROBLEMS).collect()
    ]
    counts = {
        status: problems.where(F.col("status") == status).select(*columns.series).distinct().count()
        for status in (FAILED, TOO_SHORT)
    }
    context.tracker.log_dict(context.parent_id, {"series": listed, **counts}, "series_problems.json")
    for name, count in counts.items():
        if count:
            context.reporter.info(f"! {count} series {name.replace('_', ' ')}: see series_problems.json of the run")
    seconds = {
        r["model"]: r["seconds"] for r in backtested.groupBy("model").agg(F.sum("seconds").alias("seconds")).collect()
    }
    context.timings.update({f"backtest:{name}": value for name, value in seconds.items() if name})
    return backtested, scores(backtested), {"failed": counts[FAILED], "too_short": counts[TOO_SHORT]}


def _forecast(
    history: DataFrame, columns: SeriesColumns, settings: SeriesSettings, global_models: dict[str, GlobalModel]
) -> DataFrame:
    from sparkwright.forecast.engine import forecasts

    forecasted = forecasts(history, columns, settings)
    for model in global_models.values():
        forecasted = forecasted.unionByName(model.forecasts())
    forecasted = forecasted.cache()
    forecasted.count()
    return forecasted


def _regular(history: DataFrame, columns: SeriesColumns, settings: SeriesSettings) -> DataFrame:
    from sparkwright.forecast.engine import regular_history

    return regular_history(history, columns, settings).cache()


def _write(context: TrainingContext, frame: DataFrame, name: str) -> TableRef:
    from sparkwright.data import write_table

    path = context.workspace.table_path(context.config.name, name)
    return TableRef(path, write_table(frame, path, mode="overwrite", allow_schema_change=True))


def _log_model(
    context: TrainingContext,
    entry: Any,
    settings: SeriesSettings,
    columns: SeriesColumns,
    metrics: dict[str, float] | None,
    forecasted: DataFrame,
    regular: DataFrame,
    global_model: GlobalModel | None,
) -> ModelResult:
    """One model's nested run: params, backtest metrics, the history + forecast plot, and (not the baseline) its
    forecaster of every series it fitted (a global model's: its booster and feature spec)."""
    from pyspark.sql import functions as F

    from sparkwright.forecast.logged import log_forecast_model
    from sparkwright.forecast.runtime import GLOBAL_CLASS, Forecaster
    from sparkwright.models.forecasters import forecaster_type
    from sparkwright.tasks import get_task
    from sparkwright.tracking import model_uri_of_run

    metrics = metrics or {name: float("nan") for name in context.config.task_spec.metrics}
    tracker, is_baseline = context.tracker, entry.name == BASELINE
    model_type = BASELINE if is_baseline else entry.type
    tags = {"sparkwright.model_type": model_type, "sparkwright.source_table": context.silver.path}
    started = time.perf_counter()
    with tracker.run(context.experiment_id, entry.name, parent_run_id=context.parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, context.silver.path, context.silver.version)
        params = {
            "model_type": model_type,
            "forecaster": entry.type,
            **{f"param_{k}": v for k, v in entry.params.items()},
        }
        tracker.log_params(run_id, params)
        tracker.log_metrics(run_id, metrics)
        mine = forecasted.where((F.col("model") == entry.name) & (F.col("status") == "ok")).drop("status", "message")
        fitted = mine.select(*columns.series).distinct()
        keys = [f"`{c}`" for c in columns.series]
        series_history = regular.join(fitted, list(columns.series), "left_semi") if columns.series else regular
        history_rows = series_history.orderBy(*keys, f"`{columns.time}`").toPandas()
        task = get_task("forecasting")
        panels = task.forecast_panels(
            history_rows, mine.toPandas(), list(columns.series), columns.time, columns.value, list(settings.levels)
        )
        if panels:
            task.log_plots(tracker, run_id, entry.name, (panels, list(settings.levels)))
        model_uri = ""
        if not is_baseline:
            files: dict[str, bytes] = {}
            if global_model is None:
                class_name, kwargs = forecaster_type(entry.type).constructor(entry.params, settings.season)
            else:
                class_name, kwargs = GLOBAL_CLASS, {"model": entry.name}
                assert global_model.booster is not None, "fitted by _forecast"
                files[global_model.booster_file] = global_model.booster
            meta = {
                "series": list(columns.series),
                "time": columns.time,
                "value": columns.value,
                "freq": settings.freq,
                "horizon": settings.horizon,
                "levels": list(settings.levels),
                "models": [
                    {"key": [r[c] for c in columns.series], "name": entry.name, "class": class_name, "kwargs": kwargs}
                    for r in fitted.collect()
                ],
            }
            if global_model is not None:
                meta["global_models"] = {entry.name: global_model.runtime_spec()}
                tracker.log_params(run_id, {"lags": global_model.spec.lags, "intervals": global_model.interval_source})
            log_forecast_model(tracker, run_id, Forecaster(meta, history_rows, files))
            model_uri = model_uri_of_run(run_id)
    fit_seconds = context.timings.get(f"backtest:{entry.name}", time.perf_counter() - started)
    return ModelResult(entry.name, model_type, run_id, metrics, dict(entry.params), model_uri, fit_seconds)
