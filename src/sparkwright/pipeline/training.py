"""One model of the main job: fit inside its Pipeline, evaluate on the test set, log to a nested run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig, project_file_text
from sparkwright.pipeline.artifacts import ArtifactWriter
from sparkwright.pipeline.results import ModelResult, TableRef, lineage_params
from sparkwright.tracking import Tracker, model_uri_of_run

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparkwright.models import FittedModel

PLOT_SAMPLE_ROWS = 5_000
CURVE_SAMPLE_ROWS = 20_000
# Share of the training split held out to choose a 'max_f1' threshold (the model is then refit on all of it).
THRESHOLD_VALIDATION_FRACTION = 0.2


def fit_for_project(
    config: ProjectConfig, spec: ModelSpec, train: DataFrame, *, choose_threshold: bool = True
) -> FittedModel:
    """Fit ``spec`` on ``train`` with the project's features, cleansing and classification settings.

    A ``max_f1`` threshold is chosen on a stratified validation slice of ``train`` by a first fit on
    the rest; the returned model is refit on all of ``train`` with that threshold. Tuning trials pass
    ``choose_threshold=False`` and use 0.5 instead.
    """
    from sparkwright.data import split_train_test
    from sparkwright.models import best_f1_threshold, fit_model, predict

    kwargs = fit_settings(config, train)
    threshold = kwargs.pop("threshold")
    if threshold == "max_f1" and (spec.type == "baseline" or not choose_threshold):
        threshold = 0.5
    if threshold == "max_f1":
        fit_part, validation = split_train_test(
            train,
            test_fraction=THRESHOLD_VALIDATION_FRACTION,
            seed=config.split.seed + 1,
            stratify_by=kwargs["label_col"],
        )
        first = fit_model(fit_part, spec, threshold=0.5, **kwargs)
        classes = first.classes or []
        threshold = (
            best_f1_threshold(predict(first, validation), kwargs["label_col"], classes[-1])
            if len(classes) == 2
            else None
        )
    return fit_model(train, spec, threshold=threshold, **kwargs)


def fit_settings(config: ProjectConfig, train: DataFrame) -> dict[str, Any]:
    """The keyword arguments of :func:`sparkwright.models.fit_model` that the project file decides."""
    from sparkwright.data import feature_columns

    label = config.data.label
    assert label is not None
    categorical, numeric = feature_columns(train, config)
    settings: dict[str, Any] = {
        "label_col": label,
        "categorical": categorical,
        "numeric": numeric,
        "impute": config.cleanse.impute,
        "log_label": config.cleanse.log_label,
        "task": config.task,
        "threshold": None,
    }
    if config.task == "classification":
        classification = config.classification_settings
        settings.update(
            positive_class=classification.positive_class,
            class_weight=classification.class_weight,
            threshold=classification.threshold,
        )
    return settings


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
    *,
    extra_params: dict[str, Any] | None = None,
    prefitted: tuple[FittedModel, float] | None = None,
) -> ModelResult:
    """Fit one model inside its Pipeline, evaluate it on the test set and log it to a nested run.

    ``prefitted`` (a fitted model and its fit seconds) skips the fit: an ensemble of already fitted
    members is evaluated and logged like any model.
    """
    from sparkwright.data import feature_columns
    from sparkwright.models import evaluate_model, predict

    label = config.data.label
    assert label is not None
    categorical, numeric = feature_columns(train, config)
    tags = {"sparkwright.model_type": spec.type, "sparkwright.source_table": silver.path}
    with tracker.run(experiment_id, spec.display_name, parent_run_id=parent_id, tags=tags) as run_id:
        tracker.log_delta_input(run_id, silver.path, silver.version)
        if prefitted is None:
            started = time.perf_counter()
            fitted = fit_for_project(config, spec, train)
            fit_seconds = time.perf_counter() - started
        else:
            fitted, fit_seconds = prefitted
        predictions = predict(fitted, test).cache()
        metrics = evaluate_model(fitted, predictions)
        sample = _plot_sample(fitted, predictions)
        confusion = _confusion(fitted, predictions)
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
                **_classification_params(fitted),
                **(extra_params or {}),
            },
        )
        # The fit's own numbers (early stopping's best_iteration, trees kept), beside the test metrics.
        tracker.log_metrics(run_id, {**metrics, "fit_seconds": fit_seconds, **fitted.summary})
        example = test.select(*categorical, *numeric).limit(5)
        project_yaml = project_file_text(config)

        def write_artifacts() -> None:
            tracker.log_text(run_id, project_yaml, "project.yaml")
            # Training-set metrics show over-fitting; nothing downstream waits for them.
            train_metrics = evaluate_model(fitted, predict(fitted, train))
            tracker.log_metrics(run_id, {f"train_{k}": v for k, v in train_metrics.items()})
            _log_plots(tracker, run_id, spec.display_name, fitted, sample, confusion)
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
        threshold=fitted.threshold,
        fitted=fitted,
    )


def _classification_params(fitted: FittedModel) -> dict[str, Any]:
    if fitted.task != "classification":
        return {}
    params: dict[str, Any] = {"classes": ",".join(fitted.classes or [])}
    if fitted.threshold is not None:
        params["threshold"] = fitted.threshold
    return params


def _plot_sample(fitted: FittedModel, predictions: DataFrame) -> pd.DataFrame:
    """A bounded driver-side sample for the plots: label and prediction, or class index and probabilities."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    label = fitted.label_col
    if fitted.task != "classification":
        return predictions.select(label, "prediction").limit(PLOT_SAMPLE_ROWS).toPandas()
    index = F.lit(None).cast("int")
    for i, cls in enumerate(fitted.classes or []):
        index = F.when(F.col(f"`{label}`").cast("string") == F.lit(cls), F.lit(i)).otherwise(index)
    return (
        predictions.select(index.alias("actual"), vector_to_array("probability").alias("probability"))
        .limit(CURVE_SAMPLE_ROWS)
        .toPandas()
    )


def _confusion(fitted: FittedModel, predictions: DataFrame) -> Any:
    from sparkwright.evaluate import confusion_matrix

    if fitted.task != "classification":
        return None
    return confusion_matrix(predictions, fitted.label_col, fitted.classes or [])


def _log_plots(
    tracker: Tracker,
    run_id: str,
    name: str,
    fitted: FittedModel,
    sample: pd.DataFrame,
    confusion: Any,
) -> None:
    import numpy as np

    from sparkwright import plots

    if fitted.task == "classification":
        classes = fitted.classes or []
        tracker.log_dict(run_id, {"classes": confusion.classes, "counts": confusion.counts}, "confusion_matrix.json")
        tracker.log_figure(
            run_id,
            plots.confusion_matrix(classes, confusion.counts, f"{name}: confusion matrix"),
            "plots/confusion.png",
        )
        actual = sample["actual"].to_numpy(int)
        scores = np.vstack(sample["probability"].to_numpy()) if len(sample) else np.empty((0, len(classes)))
        tracker.log_figure(run_id, plots.roc_curve(actual, scores, classes, f"{name}: ROC"), "plots/roc.png")
        tracker.log_figure(
            run_id,
            plots.precision_recall_curve(actual, scores, classes, f"{name}: precision-recall"),
            "plots/precision_recall.png",
        )
    else:
        label = fitted.label_col
        actual, predicted = sample[label].to_numpy(float), sample["prediction"].to_numpy(float)
        tracker.log_figure(
            run_id,
            plots.predicted_vs_actual(actual, predicted, f"{name}: predicted vs actual"),
            "plots/predicted_vs_actual.png",
        )
        tracker.log_figure(run_id, plots.residuals(actual, predicted, f"{name}: residuals"), "plots/residuals.png")
    if fitted.importances:
        tracker.log_figure(
            run_id,
            plots.feature_importance(fitted.importances, f"{name}: feature importance"),
            "plots/feature_importance.png",
        )
        tracker.log_dict(run_id, fitted.importances, "feature_importance.json")
