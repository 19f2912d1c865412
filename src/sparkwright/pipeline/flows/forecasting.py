"""Forecasting: every listed model and the seasonal naive baseline backtested on every series (rolling-origin
windows, on the executors), ranked by their overall scores; then each fits every series on its whole history
and forecasts ``horizon`` points with prediction intervals. The forecasts and the backtests are Delta tables,
the series that failed or were too short are counted and listed, and each model is a registered-able MLflow
model that forecasts its series without Spark."""

from __future__ import annotations

import time
from dataclasses import dataclass
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
ROUTING_TABLE = "routing"
FUTURE_REJECTS_TABLE = "future_rejects"
# Series named in the run's list of series that failed or were too short.
LISTED_PROBLEMS = 1000


class ForecastingFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """The listed models are forecasting model types with valid params, and one of them uses the exogenous
        columns if there are any (the rest: ``check_forecasting``)."""
        from sparkwright.errors import ConfigError
        from sparkwright.models.forecasters import takes_exogenous

        check_models(config)
        exogenous = config.forecasting.exogenous if config.forecasting else []
        if exogenous and not any(takes_exogenous(s.type) for s in config.models or DEFAULT_MODELS):
            raise ConfigError(
                "no listed model uses exogenous columns; add one that does (type: arima), or remove "
                "forecasting.exogenous.",
                "forecasting.exogenous",
            )

    def next_step(self, config: ProjectConfig, model_uri: str) -> str | None:
        keys = ", ".join(f"'{c}': [...]" for c in config.data.series)
        return (
            f"Forecast: mlflow.pyfunc.load_model('{model_uri}').predict(pandas.DataFrame({{{keys}}})) "
            "(add a 'horizon' column for another horizon); the run's forecasts are in the forecasts table. "
            f"In Spark: sparkwright predict --model {model_uri} --input <rows of {', '.join(config.data.series)}> "
            f"--output <table>; over REST: sparkwright serve --model {model_uri}."
        )

    def train(self, context: TrainingContext) -> TrainingOutcome:
        from sparkwright.forecast.engine import SeriesColumns

        config = context.config
        exogenous = tuple(config.forecasting.exogenous) if config.forecasting else ()
        columns = SeriesColumns(config.data.time or "", tuple(config.data.series), config.data.label or "", exogenous)
        history = context.train.unionByName(context.test)
        with context.stage("frequency", "Reading the series' frequency"):
            settings = _settings(config, history, columns)
        context.tracker.log_params(
            context.parent_id,
            {"frequency": settings.freq, "season_length": settings.season, "min_length": settings.min_length},
        )
        regular = _regular(history, columns, settings)
        per_series, global_models = _split_models(regular, columns, settings)
        with context.spark_stage("backtest", f"Backtesting {len(settings.models)} models on every series"):
            backtested, scores, problems = _backtest(context, history, columns, per_series, global_models)
        with context.spark_stage("forecast", f"Forecasting {settings.horizon} points of every series"):
            forecasted = _forecast(context, history, columns, per_series, global_models)
        routing = _route(context, backtested, forecasted, columns, settings, scores) if _routes(config) else None
        every = forecasted  # every model's forecast rows, the routed ones too
        if routing is not None:
            every = forecasted.unionByName(routing.forecasts, allowMissingColumns=True).drop("chosen")
        tables = {
            BACKTESTS_TABLE: _write(context, backtested, BACKTESTS_TABLE),
            FORECASTS_TABLE: _write(context, every.where("status = 'ok'").drop("status", "message"), FORECASTS_TABLE),
        }
        if routing is not None:
            tables[ROUTING_TABLE] = _write(context, routing.choice, ROUTING_TABLE)
        context.tracker.log_params(context.parent_id, lineage_params(tables))
        entries = [*settings.models, *([routing.entry] if routing is not None else [])]
        drawn: dict[str, list[dict[str, Any]]] = {}
        try:
            results = [
                _log_model(
                    context,
                    entry,
                    settings,
                    columns,
                    scores.get(entry.name),
                    every,
                    regular,
                    routing,
                    global_models,
                    drawn,
                )
                for entry in entries
            ]
        finally:
            for frame in (backtested, forecasted, regular, *([routing.choice] if routing is not None else [])):
                frame.unpersist()
            for model in global_models.values():
                model.unpersist()
        context.tracker.log_metrics(
            context.parent_id, {"series_failed": problems["failed"], "series_too_short": problems["too_short"]}
        )
        if context.report_path is not None:
            _report(context, results, drawn, settings, tables[FORECASTS_TABLE].path)
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
        exogenous=columns.exogenous,
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
    context: TrainingContext,
    history: DataFrame,
    columns: SeriesColumns,
    settings: SeriesSettings,
    global_models: dict[str, GlobalModel],
) -> DataFrame:
    from sparkwright.forecast.engine import forecasts

    forecasted = forecasts(history, columns, settings, _future(context, history, columns))
    for model in global_models.values():
        forecasted = forecasted.unionByName(model.forecasts())
    forecasted = forecasted.cache()
    forecasted.count()
    return forecasted


def _future(context: TrainingContext, history: DataFrame, columns: SeriesColumns) -> DataFrame | None:
    """The ``forecasting.future`` rows (the exogenous columns' values ahead), typed as the history's columns;
    rows the source cannot parse are set aside in its rejects table, as for the project's source."""
    from pyspark.sql import functions as F

    from sparkwright.data import read_source, write_rejects

    source = context.config.forecasting.future if context.config.forecasting else None
    if source is None:
        return None
    rows, rejected = read_source(context.spark, source)
    rejected_rows = rejected.count()
    write_rejects(rejected, context.workspace.table_path(context.config.name, FUTURE_REJECTS_TABLE), rows=rejected_rows)
    if rejected_rows:
        context.reporter.info(f"! {rejected_rows} rows of forecasting.future set aside in {FUTURE_REJECTS_TABLE}")
    types = dict(history.dtypes)
    columns.check(rows, future=True)
    named = [*columns.series, columns.time, *columns.exogenous]
    return rows.select(*[F.col(f"`{c}`").cast(types[c]).alias(c) for c in named])


def _regular(history: DataFrame, columns: SeriesColumns, settings: SeriesSettings) -> DataFrame:
    from sparkwright.forecast.engine import regular_history

    return regular_history(history, columns, settings).cache()


@dataclass(frozen=True)
class Routing:
    """The routed forecast: its leaderboard entry, each series' choice (cached) and the chosen forecasts."""

    entry: Any
    choice: DataFrame
    forecasts: DataFrame
    models: dict[str, Any]


def _routes(config: ProjectConfig) -> bool:
    return bool(config.forecasting and config.forecasting.route)


def _route(
    context: TrainingContext,
    backtested: DataFrame,
    forecasted: DataFrame,
    columns: SeriesColumns,
    settings: SeriesSettings,
    scores: dict[str, dict[str, float]],
) -> Routing:
    """Each series' best model by its backtest (``forecast.routing``); the routed forecast's scores join
    ``scores``, its choice per series is logged and counted per model."""
    from sparkwright.forecast.routing import ROUTED, choose, routed_backtests, routed_forecasts
    from sparkwright.forecast.series import ModelEntry
    from sparkwright.tasks.forecasting import scores as scores_of

    keys, metric = list(columns.series), context.config.selection_metric
    names = [entry.name for entry in settings.models]
    routed = scores_of(routed_backtests(backtested, keys, metric, names)).get(ROUTED)
    if routed is not None:
        scores[ROUTED] = routed
    choice = choose(backtested, forecasted, keys, metric, names).cache()
    counts = {r["model"]: r["count"] for r in choice.groupBy("model").count().collect()}
    context.reporter.info(
        "Routing by " + metric + ": " + ", ".join(f"{name} {counts[name]} series" for name in names if counts.get(name))
    )
    context.timings[f"backtest:{ROUTED}"] = sum(context.timings.get(f"backtest:{name}", 0.0) for name in names)
    return Routing(
        entry=ModelEntry(ROUTED, ROUTED),
        choice=choice,
        forecasts=routed_forecasts(forecasted, choice, keys),
        models={entry.name: entry for entry in settings.models},
    )


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
    routing: Routing | None,
    global_models: dict[str, GlobalModel],
    drawn: dict[str, list[dict[str, Any]]],
) -> ModelResult:
    """One model's nested run: params, backtest metrics, the history + forecast plot, and (not the baseline) its
    forecaster of every series it fitted (a global model's: its booster and feature spec)."""
    from pyspark.sql import functions as F

    from sparkwright.forecast.logged import log_forecast_model
    from sparkwright.forecast.runtime import Forecaster
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
            drawn[entry.name] = panels
        model_uri = ""
        if not is_baseline:
            if routing is not None and entry.name == routing.entry.name:
                chosen = {tuple(r[c] for c in columns.series): r["model"] for r in routing.choice.collect()}
                counts = {name: list(chosen.values()).count(name) for name in routing.models}
                tracker.log_dict(run_id, {"metric": context.config.selection_metric, "series": counts}, "routing.json")
            else:
                chosen = {tuple(r[c] for c in columns.series): entry.name for r in fitted.collect()}
            models = {**(routing.models if routing is not None else {}), entry.name: entry}
            used = {name: global_models[name] for name in set(chosen.values()) if name in global_models}
            meta = {
                "series": list(columns.series),
                "time": columns.time,
                "value": columns.value,
                "freq": settings.freq,
                "horizon": settings.horizon,
                "levels": list(settings.levels),
                "exogenous": list(settings.exogenous),
                "models": [
                    _series_model(key, models[name], settings, name in used)
                    for key, name in sorted(chosen.items(), key=str)
                ],
            }
            if used:
                meta["global_models"] = {name: model.runtime_spec() for name, model in used.items()}
            if entry.name in global_models:
                model = global_models[entry.name]
                tracker.log_params(run_id, {"lags": model.spec.lags, "intervals": model.interval_source})
            files = {model.booster_file: model.booster for model in used.values()}
            log_forecast_model(tracker, run_id, Forecaster(meta, history_rows, files))
            model_uri = model_uri_of_run(run_id)
    fit_seconds = context.timings.get(f"backtest:{entry.name}", time.perf_counter() - started)
    return ModelResult(entry.name, model_type, run_id, metrics, dict(entry.params), model_uri, fit_seconds)


def _report(
    context: TrainingContext,
    results: list[ModelResult],
    drawn: dict[str, list[dict[str, Any]]],
    settings: SeriesSettings,
    table: str,
) -> None:
    """The run's HTML report gets every model's backtest scores and the best model's history + forecast plot."""
    import math

    import pandas as pd

    from sparkwright import plots
    from sparkwright.pipeline.flows.report_sections import add_section, forecasts_section

    metric = context.config.selection_metric
    ranked = sorted(results, key=lambda r: (math.isnan(r.metrics.get(metric, math.nan)), r.metrics.get(metric)))
    best = next((r for r in ranked if r.name in drawn), None)
    if best is None:
        return
    names = list(context.config.task_spec.metrics)
    scores = pd.DataFrame([{"model": r.name, **{m: r.metrics.get(m, math.nan) for m in names}} for r in ranked])
    title = f"{best.name}: history and forecast ({len(drawn[best.name])} series)"
    figure = plots.forecasts(drawn[best.name], list(settings.levels), title)
    add_section(context.report_path, forecasts_section(scores, figure, best.name, table))
    context.tracker.log_artifact(context.parent_id, context.report_path, "explore")


def _series_model(key: tuple, entry: Any, settings: SeriesSettings, is_global: bool) -> dict[str, Any]:
    """What the registered forecaster stores to forecast series ``key`` with ``entry``'s model: refit a
    per-series model, or the global model's booster (``global_models`` of the forecaster)."""
    from sparkwright.forecast.runtime import GLOBAL_CLASS
    from sparkwright.forecast.series import uses_exogenous
    from sparkwright.models.forecasters import forecaster_type

    if is_global:
        return {"key": list(key), "name": entry.name, "class": GLOBAL_CLASS, "kwargs": {"model": entry.name}}
    class_name, kwargs = forecaster_type(entry.type).constructor(entry.params, settings.season)
    return {
        "key": list(key),
        "name": entry.name,
        "class": class_name,
        "kwargs": kwargs,
        "exogenous": uses_exogenous(entry, settings),
    }
