"""Clustering: one cluster (k = 1) as the baseline, then each listed model swept over ``clustering.k``
with k chosen per model, scored on the test split; the best model assigns every row to a cluster
(a Delta table keyed like the data) and its clusters are profiled (a table, a plot, a report section)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig, project_file_text
from sparkwright.errors import ConfigError
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome, check_models
from sparkwright.pipeline.results import BASELINE, ModelResult, TableRef, lineage_params
from sparkwright.tracking import model_uri_of_run

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparkwright.models.clustering import ClusteringFeatures, FittedClusterer

TASK = "clustering"
CLUSTER_COL = "cluster"


@dataclass(frozen=True)
class SweepPoint:
    """One k of a model's sweep, measured on the training rows."""

    k: int
    silhouette: float
    wssse: float
    explained: float


class ClusteringFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """No label, no search or tuning; at least one clustering model type, with valid params."""
        if config.data.label:
            raise ConfigError(
                f"task clustering uses no label; remove data.label (to keep {config.data.label!r} out of the "
                "features, list it in data.drop).",
                "data.label",
            )
        for section in ("search", "tune"):
            if getattr(config, section) is not None:
                raise ConfigError(
                    f"task clustering has no {section}: its models are swept over clustering.k instead; "
                    f"remove the {section} section.",
                    section,
                )
        if not config.models:
            raise ConfigError(
                "task clustering needs models to sweep over k; add e.g. models: [{type: kmeans}, "
                "{type: bisecting_kmeans}, {type: gaussian_mixture}].",
                "models",
            )
        check_models(config)

    def train(self, context: TrainingContext) -> TrainingOutcome:
        from sparkwright.data import feature_columns
        from sparkwright.models.clustering import FEATURES_COL, prepare_features

        config, settings = context.config, context.config.clustering_settings
        categorical, numeric = feature_columns(context.train, config)
        with context.stage("features", "Preparing the clustering features"):
            features = prepare_features(
                context.train, categorical, numeric, impute=config.cleanse.impute, standardize=settings.standardize
            )
            test = features.transform(context.test).select(FEATURES_COL).cache()
        fitted: dict[str, FittedClusterer] = {}
        try:
            results = [_baseline(context, test)]
            for spec in config.models:
                ks = settings.k_values
                what = f"k = {ks[0]}" if len(ks) == 1 else f"k = {ks[0]}..{ks[-1]}"
                with context.stage(f"train:{spec.display_name}", f"Training {spec.display_name} ({what})"):
                    result, fitted[spec.display_name] = _train_model(context, spec, features, test)
                results.append(result)
        finally:
            features.rows.unpersist()
            test.unpersist()
        higher = config.task_spec.higher_is_better(config.selection_metric)
        models = [r for r in results if r.type != BASELINE]
        best = sorted(models, key=lambda m: m.metrics[config.selection_metric], reverse=higher)[0]
        with context.stage("assign", f"Assigning every row to a cluster of {best.name}"):
            tables = _assign_and_profile(context, best, fitted[best.name], categorical, numeric)
        return TrainingOutcome(models=results, tables=tables)


def _baseline(context: TrainingContext, test: DataFrame) -> ModelResult:
    """k = 1 on the test rows: its sum of squares is the total, the yardstick of every model."""
    from sparkwright.tasks.clustering import clustering_metrics, one_cluster_estimator

    started = time.perf_counter()
    scored = one_cluster_estimator().fit(test).transform(test)
    metrics = clustering_metrics(scored)
    seconds = time.perf_counter() - started
    tags = {"sparkwright.model_type": BASELINE, "sparkwright.source_table": context.silver.path}
    with context.tracker.run(context.experiment_id, BASELINE, parent_run_id=context.parent_id, tags=tags) as run_id:
        params = {"model_type": BASELINE, "k": 1, **lineage_params({"silver": context.silver})}
        context.tracker.log_params(run_id, params)
        context.tracker.log_metrics(run_id, {**metrics, "k": 1})
    return ModelResult(BASELINE, BASELINE, run_id, {**metrics, "k": 1}, {"k": 1}, model_uri_of_run(run_id), seconds)


def _train_model(
    context: TrainingContext, spec: ModelSpec, features: ClusteringFeatures, test: DataFrame
) -> tuple[ModelResult, FittedClusterer]:
    """Sweep k on the training rows, keep the k the project's rule picks, score it on the test rows, log it."""
    from sparkwright.models import PREDICTION_COL, PROBABILITY_COL
    from sparkwright.models.clustering import fit_clusterer
    from sparkwright.pipeline.training import LoggedForm
    from sparkwright.tasks import get_task
    from sparkwright.tasks.clustering import choose_k, clustering_metrics

    config, tracker, settings = context.config, context.tracker, context.config.clustering_settings
    tags = {"sparkwright.model_type": spec.type, "sparkwright.source_table": context.silver.path}
    with tracker.run(context.experiment_id, spec.display_name, parent_run_id=context.parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, context.silver.path, context.silver.version)
        started = time.perf_counter()
        sweep: list[SweepPoint] = []
        fits: dict[int, FittedClusterer] = {}
        for k in settings.k_values:
            fits[k] = fit_clusterer(features, spec, k, restarts=settings.restarts)
            measured = clustering_metrics(fits[k].assign(features.rows))
            sweep.append(SweepPoint(k, measured["silhouette"], measured["wssse"], measured["explained"]))
            # One MLflow metric step per k: the UI draws the sweep as a curve.
            tracker.log_metrics(run_id, {f"train_{name}": value for name, value in measured.items()}, step=k)
        fit_seconds = time.perf_counter() - started
        ks = [p.k for p in sweep]
        chosen = choose_k(ks, [p.silhouette for p in sweep], [p.wssse for p in sweep], settings.select_k)
        fitted = fits[chosen]
        scored = fitted.assign(test).cache()
        metrics = clustering_metrics(scored)
        task = get_task(TASK)
        sample = task.plot_sample(scored, "", None)
        scored.unpersist()
        tracker.log_params(
            run_id,
            {
                "model_type": spec.type,
                "k": chosen,
                "k_tried": ",".join(map(str, ks)),
                "select_k": settings.select_k,
                "standardize": settings.standardize,
                "restarts": settings.restarts,
                **{f"param_{k}": v for k, v in fitted.params.items()},
                **lineage_params({"silver": context.silver}),
                "categorical_features": ",".join(features.categorical),
                "numeric_features": ",".join(features.numeric),
            },
        )
        tracker.log_metrics(run_id, {**metrics, "k": chosen, "fit_seconds": fit_seconds})
        logged = LoggedForm.of(
            fitted.pipeline_model,
            context.test,
            [*features.categorical, *features.numeric],
            context.preparation,
            [PREDICTION_COL, PROBABILITY_COL],
        )
        project_yaml = project_file_text(config)
        name = spec.display_name

        def write_artifacts() -> None:
            from sparkwright.tasks import clustering_plots

            tracker.log_text(run_id, project_yaml, "project.yaml")
            tracker.log_dict(run_id, {"chosen_k": chosen, "sweep": [p.__dict__ for p in sweep]}, "k_sweep.json")
            elbow = clustering_plots.elbow(ks, [p.wssse for p in sweep], chosen, name)
            tracker.log_figure(run_id, elbow, "plots/elbow.png")
            silhouette = clustering_plots.silhouette(ks, [p.silhouette for p in sweep], chosen, name)
            tracker.log_figure(run_id, silhouette, "plots/silhouette.png")
            task.log_plots(tracker, run_id, name, sample, None)
            logged.log(tracker, run_id)

        context.artifacts.submit(run_id, write_artifacts)
    result = ModelResult(
        name=name,
        type=spec.type,
        run_id=run_id,
        metrics={**metrics, "k": chosen},
        params={**fitted.params, "k": chosen},
        model_uri=model_uri_of_run(run_id),
        fit_seconds=fit_seconds,
    )
    return result, fitted


def _assign_and_profile(
    context: TrainingContext, best: ModelResult, fitted: FittedClusterer, categorical: list[str], numeric: list[str]
) -> dict[str, TableRef]:
    """Every silver row's cluster into a Delta table (keys + cluster), and the clusters' profiles."""
    from pyspark.sql import functions as F

    from sparkwright.data import write_table
    from sparkwright.data.preparation import in_source_type
    from sparkwright.tasks import clustering_plots
    from sparkwright.tasks.clustering import PREDICTION_COL, cluster_profiles

    config, tracker, ws = context.config, context.tracker, context.workspace
    rows = context.train.unionByName(context.test)
    assigned = fitted.pipeline_model.transform(rows).withColumn(CLUSTER_COL, F.col(PREDICTION_COL).cast("int"))
    keys = [k for k in config.data.keys if k in rows.columns] or [c for c in rows.columns if not c.startswith("__sw_")]
    assignments_path = ws.table_path(config.name, "clusters")
    version = write_table(
        assigned.select(*[in_source_type(k, rows.schema) for k in keys], CLUSTER_COL),
        assignments_path,
        allow_schema_change=True,
    )
    profiles = cluster_profiles(
        assigned.select(*categorical, *numeric, PREDICTION_COL),
        categorical,
        numeric,
        top_levels=config.clustering_settings.top_levels,
    )
    profiles_path = ws.table_path(config.name, "cluster_profiles")
    profiles_version = write_table(context.spark.createDataFrame(profiles), profiles_path, allow_schema_change=True)
    figure = clustering_plots.profiles(profiles, best.name)
    tracker.log_figure(context.parent_id, figure, "plots/cluster_profiles.png")
    tracker.log_dict(context.parent_id, {"model": best.name, "profiles": _records(profiles)}, "cluster_profiles.json")
    tracker.log_params(context.parent_id, {"clustered_by": best.name, "clusters": int(best.metrics["k"])})
    if context.report_path is not None:
        from sparkwright.pipeline.flows.report_sections import add_section, profiles_section

        section = profiles_section(profiles, figure, best.name, int(best.metrics["k"]), assignments_path)
        add_section(context.report_path, section)
        tracker.log_artifact(context.parent_id, context.report_path, "explore")
    return {
        "clusters": TableRef(assignments_path, version),
        "cluster_profiles": TableRef(profiles_path, profiles_version),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]
