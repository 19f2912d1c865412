"""One model of the main job: fit inside its Pipeline, evaluate on the test set, log to a nested run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sparkwright.config import ModelSpec, ProjectConfig, project_file_text
from sparkwright.pipeline.artifacts import ArtifactWriter
from sparkwright.pipeline.results import ModelResult, TableRef, lineage_params
from sparkwright.tracking import Tracker, model_uri_of_run

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

PLOT_SAMPLE_ROWS = 5_000


def train_one(
    tracker: Tracker,
    artifacts: ArtifactWriter,
    experiment_id: str,
    parent_id: str,
    config: ProjectConfig,
    spec: ModelSpec,
    train: DataFrame,
    test: DataFrame,
    silver: TableRef,
) -> ModelResult:
    """Fit one model inside its Pipeline, evaluate it on the test set and log it to a nested run."""
    from sparkwright.data import feature_columns
    from sparkwright.evaluate import regression_metrics
    from sparkwright.models import fit_model, predict

    label = config.data.label
    assert label is not None
    categorical, numeric = feature_columns(train, config)
    tags = {"sparkwright.model_type": spec.type, "sparkwright.source_table": silver.path}
    with tracker.run(experiment_id, spec.display_name, parent_run_id=parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, silver.path, silver.version)
        started = time.perf_counter()
        fitted = fit_model(
            train,
            spec,
            label_col=label,
            categorical=categorical,
            numeric=numeric,
            impute=config.cleanse.impute,
            log_label=config.cleanse.log_label,
        )
        fit_seconds = time.perf_counter() - started
        predictions = predict(fitted, test).cache()
        metrics = regression_metrics(predictions, label)
        sample = predictions.select(label, "prediction").limit(PLOT_SAMPLE_ROWS).toPandas()
        predictions.unpersist()
        tracker.log_params(
            run_id,
            {
                "model_type": spec.type,
                **{f"param_{k}": v for k, v in fitted.params.items()},
                **lineage_params({"silver": silver}),
                "log_label": config.cleanse.log_label,
                "categorical_features": ",".join(categorical),
                "numeric_features": ",".join(numeric),
            },
        )
        tracker.log_metrics(run_id, {**metrics, "fit_seconds": fit_seconds})
        example = test.select(*categorical, *numeric).limit(5)
        project_yaml = project_file_text(config)

        def write_artifacts() -> None:
            tracker.log_text(run_id, project_yaml, "project.yaml")
            # Training-set metrics show over-fitting; nothing downstream waits for them.
            train_metrics = regression_metrics(predict(fitted, train), label)
            tracker.log_metrics(run_id, {f"train_{k}": v for k, v in train_metrics.items()})
            _log_plots(tracker, run_id, spec.display_name, sample, label, fitted.importances)
            tracker.log_spark_model(
                run_id,
                fitted.pipeline_model,
                input_example=example.toPandas(),
                predictions=predict(fitted, example).select("prediction").toPandas(),
            )

        artifacts.submit(run_id, write_artifacts)
    return ModelResult(
        name=spec.display_name,
        type=spec.type,
        run_id=run_id,
        metrics=metrics,
        params=dict(fitted.params),
        model_uri=model_uri_of_run(run_id),
        fit_seconds=fit_seconds,
        importances=fitted.importances,
    )


def _log_plots(
    tracker: Tracker,
    run_id: str,
    name: str,
    sample: pd.DataFrame,
    label: str,
    importances: dict[str, float] | None,
) -> None:
    from sparkwright import plots

    actual, predicted = sample[label].to_numpy(float), sample["prediction"].to_numpy(float)
    tracker.log_figure(
        run_id,
        plots.predicted_vs_actual(actual, predicted, f"{name}: predicted vs actual"),
        "plots/predicted_vs_actual.png",
    )
    tracker.log_figure(run_id, plots.residuals(actual, predicted, f"{name}: residuals"), "plots/residuals.png")
    if importances:
        tracker.log_figure(
            run_id, plots.feature_importance(importances, f"{name}: feature importance"), "plots/feature_importance.png"
        )
        tracker.log_dict(run_id, importances, "feature_importance.json")
