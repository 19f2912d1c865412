"""Recommendation: two baselines (regularised biases for ratings, most popular items for top-k lists) and the
listed ALS models (tuned where the project says so), each judged on every user's held-out ratings; the best
ALS model's top-N items per user and users per item are written to Delta tables."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig, project_file_text
from sparkwright.config.schema import RecommendationConfig
from sparkwright.deploy.recommender import RECOMMENDER_DIR, RECOMMENDER_KEY, Recommender
from sparkwright.errors import ConfigError
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome, check_models
from sparkwright.pipeline.recommenders import (
    IndexedRatings,
    als_lists,
    judged_predictions,
    scoring_pipeline,
    top_n_tables,
)
from sparkwright.pipeline.results import BASELINE, ModelResult, TableRef, lineage_params
from sparkwright.tasks.recommendation import (
    ITEM_BIAS_DAMPING,
    RATING_COL,
    USER_BIAS_DAMPING,
    RatingColumns,
    ranking_metrics,
)
from sparkwright.tracking import model_uri_of_run

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.ml import PipelineModel
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame

    from sparkwright.pipeline.tuning import TuningResult

DEFAULT_MODEL = ModelSpec(type="als")
# Leaderboard names of the two baselines (both of type 'baseline': never registered).
BIAS_BASELINE = "baseline_biases"
POPULAR_BASELINE = "baseline_popular"


class RecommendationFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """Model types and params (ALS only), the tuning spaces; no budgeted search for this task."""
        from sparkwright.models.als import BIASES
        from sparkwright.pipeline.tuning import check_tune_spaces

        implicit = bool(config.recommendation and config.recommendation.implicit)
        if config.search is not None:
            raise ConfigError(
                "the budgeted search covers regression and classification; for recommendation list models "
                "(e.g. [{type: als, params: {rank: 10}}]) and tune them with a tune section.",
                "search",
            )
        check_models(config)
        for index, spec in enumerate(config.models):
            if implicit and spec.params.get(BIASES) is True:
                raise ConfigError(
                    "biases apply to explicit ratings; remove it (implicit feedback fits plain ALS).",
                    f"models[{index}].params.{BIASES}",
                )
        check_tune_spaces(config)

    def next_step(self, config: ProjectConfig, model_uri: str) -> str | None:
        return f"Recommend: sparkwright recommend --model {model_uri} --user <{config.data.user}> -n 10"

    def train(self, context: TrainingContext) -> TrainingOutcome:
        config = context.config
        settings = config.recommendation or RecommendationConfig()
        with context.stage("index", "Indexing users and items"):
            indexed = IndexedRatings.fit(RatingColumns.of(config), context.train, context.test)
        # Test ratings of a user or item unseen in training: no model's rating metrics include them.
        context.tracker.log_metrics(context.parent_id, {"cold_start_rows": indexed.cold_start_rows})
        try:
            results = [_bias_baseline(context, indexed, settings), _popular_baseline(context, indexed, settings)]
            fitted: dict[str, ALSModel] = {}
            tuning: list[TuningResult] = []
            for spec in config.models or [DEFAULT_MODEL]:
                extra: dict[str, Any] = {}
                if config.tune is not None and spec.display_name in config.tune.space:
                    tuned = _tune(context, indexed, spec)
                    tuning.append(tuned)
                    spec = spec.model_copy(update={"params": {**spec.params, **tuned.best_params}})
                    extra = {"tuned_by_run": tuned.run_id, f"tune_cv_{config.selection_metric}": tuned.best_score}
                with context.stage(f"train:{spec.display_name}", f"Training {spec.display_name}"):
                    result, als = _train_als(context, indexed, settings, spec, extra)
                results.append(result)
                fitted[result.name] = als
            tables = _write_tables(context, indexed, settings, results, fitted)
        finally:
            indexed.release()
        return TrainingOutcome(models=results, tuning=tuning, tables=tables)


def _bias_baseline(context: TrainingContext, indexed: IndexedRatings, settings: RecommendationConfig) -> ModelResult:
    """Global mean + regularised user and item biases; its top-k list: the items with the highest bias."""
    from sparkwright.tasks import get_task

    started = time.perf_counter()
    model = get_task("recommendation").baseline(indexed.columns).fit(indexed.train)
    fit_seconds = time.perf_counter() - started
    try:
        scored = None if settings.implicit else model.transform(indexed.rated)
        lists = indexed.same_lists(model.top_items(indexed.candidates(settings.k)), settings.k)
        metrics = _metrics(scored, lists, indexed, settings)
    finally:
        model.release()
    params = {"global_mean": model.mean, "item_damping": ITEM_BIAS_DAMPING, "user_damping": USER_BIAS_DAMPING}
    return _log_baseline(context, BIAS_BASELINE, metrics, params, fit_seconds)


def _popular_baseline(context: TrainingContext, indexed: IndexedRatings, settings: RecommendationConfig) -> ModelResult:
    """The most frequent training items for everyone; for ratings, the global mean."""
    from pyspark.sql import functions as F

    scored = None if settings.implicit else indexed.rated.withColumn("prediction", F.lit(indexed.mean))
    metrics = _metrics(scored, indexed.popular_lists(settings.k), indexed, settings)
    return _log_baseline(context, POPULAR_BASELINE, metrics, {"global_mean": indexed.mean}, 0.0)


def _log_baseline(
    context: TrainingContext, name: str, metrics: dict[str, float], params: dict[str, Any], fit_seconds: float
) -> ModelResult:
    """A baseline's nested run: params and metrics, no model (a baseline is never registered)."""
    tags = {"sparkwright.model_type": BASELINE, "sparkwright.source_table": context.silver.path}
    with context.tracker.run(context.experiment_id, name, parent_run_id=context.parent_id, tags=tags) as run_id:
        context.tracker.log_params(run_id, {"model_type": BASELINE, **params, **_common_params(context)})
        context.tracker.log_metrics(run_id, {**metrics, "fit_seconds": fit_seconds})
    return ModelResult(name, BASELINE, run_id, metrics, params, model_uri="", fit_seconds=fit_seconds)


def _train_als(
    context: TrainingContext,
    indexed: IndexedRatings,
    settings: RecommendationConfig,
    spec: ModelSpec,
    extra: dict[str, Any],
) -> tuple[ModelResult, ALSModel]:
    """Fit one ALS model, judge it, and log it with its Spark-free recommender to a nested run."""
    from sparkwright.models import get_model_type
    from sparkwright.tasks import get_task

    model_type = get_model_type(spec.type, "recommendation")
    tracker, columns = context.tracker, indexed.columns
    tags = {"sparkwright.model_type": spec.type, "sparkwright.source_table": context.silver.path}
    with tracker.run(context.experiment_id, spec.display_name, parent_run_id=context.parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, context.silver.path, context.silver.version)
        started = time.perf_counter()
        als = model_type.fit(spec.params, indexed.train, implicit=settings.implicit)
        fit_seconds = time.perf_counter() - started
        recommender = indexed.recommender(als)
        metrics, sample = _judge(als, recommender, indexed, settings)
        params = model_type.settings(spec.params, implicit=settings.implicit)
        logged_params = {f"param_{k}": v for k, v in params.items()}
        tracker.log_params(run_id, {"model_type": spec.type, **logged_params, **_common_params(context), **extra})
        tracker.log_metrics(run_id, {**metrics, "fit_seconds": fit_seconds})
        example = context.test.select(columns.user, columns.item).limit(5)
        pipeline = scoring_pipeline(indexed, als)

        def write_artifacts() -> None:
            _log_model(context, run_id, pipeline, example, recommender)
            if sample is not None:
                get_task("recommendation").log_plots(tracker, run_id, spec.display_name, sample)

        context.artifacts.submit(run_id, write_artifacts)
    result = ModelResult(spec.display_name, spec.type, run_id, metrics, params, model_uri_of_run(run_id), fit_seconds)
    return result, als


def _judge(
    als: ALSModel, recommender: Recommender, indexed: IndexedRatings, settings: RecommendationConfig
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """The metrics of a fitted ALS model on the test split (ratings: :func:`judged_predictions`, scored through
    the pipeline that is logged), and a sample of predicted vs actual ratings (explicit)."""
    from sparkwright.tasks import get_task

    lists = als_lists(recommender, indexed, settings.k)
    if settings.implicit:
        return _metrics(None, lists, indexed, settings), None
    scored = judged_predictions(indexed, als).cache()
    try:
        metrics = _metrics(scored, lists, indexed, settings)
        sample = get_task("recommendation").plot_sample(scored, RATING_COL)
    finally:
        scored.unpersist()
    return metrics, sample


def _metrics(
    scored: DataFrame | None, lists: DataFrame, indexed: IndexedRatings, settings: RecommendationConfig
) -> dict[str, float]:
    """Ranking metrics of ``lists`` against every test user's held-out items, plus RMSE / MAE of ``scored``
    (rows with ``prediction``) for explicit ratings."""
    from sparkwright.tasks import get_task

    metrics = ranking_metrics(lists, indexed.relevant, settings.k)
    if scored is not None:
        metrics.update(get_task("recommendation").metrics(scored, RATING_COL))
    return metrics


def _log_model(
    context: TrainingContext, run_id: str, pipeline: PipelineModel, example: DataFrame, recommender: Recommender
) -> None:
    """The scoring pipeline (Spark flavour: predict, stream) with the recommender in ``model/recommender``."""
    from sparkwright.data.preparation import MODEL_INPUT_KEY
    from sparkwright.scratch import scratch_dir

    context.tracker.log_text(run_id, project_file_text(context.config), "project.yaml")
    context.tracker.log_spark_model(
        run_id,
        pipeline,
        input_example=example.toPandas(),
        predictions=pipeline.transform(example).select("prediction").toPandas(),
        metadata={
            MODEL_INPUT_KEY: "silver",
            RECOMMENDER_KEY: {"user": recommender.user_col, "item": recommender.item_col},
        },
    )
    folder = recommender.save(scratch_dir("sparkwright-recommender-") / RECOMMENDER_DIR)
    context.tracker.client.log_artifacts(run_id, str(folder), f"model/{RECOMMENDER_DIR}")


def _write_tables(
    context: TrainingContext,
    indexed: IndexedRatings,
    settings: RecommendationConfig,
    results: list[ModelResult],
    fitted: dict[str, ALSModel],
) -> dict[str, TableRef]:
    """Top-N items per user and users per item of the best ALS model, each a Delta table."""
    from sparkwright.data import write_table

    config = context.config
    higher = config.task_spec.higher_is_better(config.selection_metric)
    best = sorted(
        (r for r in results if r.name in fitted), key=lambda r: r.metrics[config.selection_metric], reverse=higher
    )[0]
    tables: dict[str, TableRef] = {}
    with context.stage("recommendations", f"Writing top-{settings.top_n} tables of {best.name}"):
        by_user, by_item = top_n_tables(fitted[best.name], indexed, settings.top_n)
        for name, frame in (("recommendations_by_user", by_user), ("recommendations_by_item", by_item)):
            path = context.workspace.table_path(config.name, name)
            tables[name] = TableRef(path, write_table(frame, path, mode="overwrite", allow_schema_change=True))
    context.tracker.log_params(context.parent_id, {"recommendations_model": best.name, **lineage_params(tables)})
    return tables


def _tune(context: TrainingContext, indexed: IndexedRatings, spec: ModelSpec) -> TuningResult:
    """Search ``spec``'s space on one per-user hold-out of the training split (``tune.validation_fraction`` of
    each user's training ratings), judged like the final models on the selection metric."""
    from sparkwright.models import get_model_type
    from sparkwright.pipeline.tuning import tune_with
    from sparkwright.tasks.recommendation import split_per_user

    config = context.config
    tune, metric = config.tune, config.selection_metric
    assert tune is not None
    settings = config.recommendation or RecommendationConfig()
    sign = -1.0 if config.task_spec.higher_is_better(metric) else 1.0
    model_type = get_model_type(spec.type, "recommendation")
    fit_rows, validation = split_per_user(indexed.columns, context.train, tune.validation_fraction, tune.seed)
    folds = IndexedRatings.fit(indexed.columns, fit_rows, validation)

    def evaluate(params: dict[str, Any], fold: int) -> tuple[float, list[float]]:
        als = model_type.fit({**spec.params, **params}, folds.train, implicit=settings.implicit)
        recommender = folds.recommender(als)
        score = _judge(als, recommender, folds, settings)[0][metric]
        return sign * score, [score]

    try:
        with context.reporter.trials(f"Tuning {spec.display_name}") as update:
            tuned = tune_with(
                context.tracker, context.experiment_id, context.parent_id, config, spec, evaluate, 1, on_trial=update
            )
    finally:
        folds.release()
    context.timings[f"tune:{spec.display_name}"] = tuned.seconds
    context.reporter.info(
        f"✓ Tuned {spec.display_name}: {tuned.trials} trials ({tuned.method} {tuned.algorithm}); best validation "
        f"{metric} {tuned.best_score:.4f} with {tuned.best_params} ({tuned.seconds:.1f}s)"
    )
    return tuned


def _common_params(context: TrainingContext) -> dict[str, Any]:
    settings = context.config.recommendation or RecommendationConfig()
    return {
        **lineage_params({"silver": context.silver}),
        "implicit": settings.implicit,
        "k": settings.k,
        "user_col": context.config.data.user,
        "item_col": context.config.data.item,
    }
