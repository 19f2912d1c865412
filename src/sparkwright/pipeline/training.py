"""One model of the main job: fit inside its Pipeline, evaluate on the test set, log to a nested run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig, project_file_text
from sparkwright.pipeline.artifacts import ArtifactWriter
from sparkwright.pipeline.results import ModelResult, TableRef, lineage_params
from sparkwright.tracking import Tracker, model_uri_of_run

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.data.preparation import RowPreparation
    from sparkwright.models import FittedModel

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
            seed=config.split.seed,
            stratify_by=kwargs["label_col"],
            salt="threshold",
        )
        first = fit_model(fit_part, spec, threshold=0.5, **kwargs)
        classes = first.classes or []
        threshold = (
            best_f1_threshold(predict(first, validation), kwargs["label_col"], classes[-1])
            if len(classes) == 2
            else None
        )
    return fit_model(train, spec, threshold=threshold, **kwargs)


def fit_settings(config: ProjectConfig, train: DataFrame, *, trial: bool = False) -> dict[str, Any]:
    """The keyword arguments of :func:`sparkwright.models.fit_model` that the project file decides.

    ``trial``: for a tuning trial's fit (classification: threshold 0.5, no threshold search).
    """
    from sparkwright.data import feature_columns
    from sparkwright.tasks import get_task

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
        **get_task(config.task).fit_settings(config, trial=trial),
    }
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
    preparation: RowPreparation | None = None,
) -> ModelResult:
    """Fit one model inside its Pipeline, evaluate it on the test set and log it to a nested run.

    ``prefitted`` (a fitted model and its fit seconds) skips the fit: an ensemble of already fitted
    members is evaluated and logged like any model. With ``preparation`` the logged model takes rows
    shaped like the source (it prepares them as cleanse did); without, silver rows.
    """
    from sparkwright.data import feature_columns
    from sparkwright.models import evaluate_model, predict
    from sparkwright.models.training import OUTPUT_COLS
    from sparkwright.tasks import get_task

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
        sample = get_task(fitted.task).plot_sample(predictions, fitted.label_col, fitted.classes)
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
        features = [*categorical, *numeric]
        logged = LoggedForm.of(fitted.pipeline_model, test, features, preparation, list(OUTPUT_COLS))
        project_yaml = project_file_text(config)

        def write_artifacts() -> None:
            tracker.log_text(run_id, project_yaml, "project.yaml")
            # Training-set metrics show over-fitting; nothing downstream waits for them.
            train_metrics = evaluate_model(fitted, predict(fitted, train))
            tracker.log_metrics(run_id, {f"train_{k}": v for k, v in train_metrics.items()})
            _log_plots(tracker, run_id, spec.display_name, fitted, sample)
            logged.log(tracker, run_id)

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


@dataclass(frozen=True)
class LoggedForm:
    """What is logged for a fitted model: the pipeline, a few input rows, the signature's inputs, which rows."""

    model: Any
    example: DataFrame
    input_schema: Any
    takes: str

    @classmethod
    def of(
        cls,
        pipeline_model: Any,
        silver_rows: DataFrame,
        features: list[str],
        preparation: RowPreparation | None,
        outputs: list[str],
    ) -> LoggedForm:
        """The pipeline taking source-shaped rows (prepared as cleanse did, ``outputs`` kept) where the
        project allows, else silver rows of ``features``."""
        from sparkwright.data.preparation import input_signature_schema, source_rows, with_preparation

        if preparation is None:
            return cls(pipeline_model, silver_rows.select(*features).limit(5), None, "silver")
        return cls(
            with_preparation(pipeline_model, preparation, outputs),
            source_rows(silver_rows, preparation).limit(5),
            input_signature_schema(preparation),
            "raw",
        )

    def log(self, tracker: Tracker, run_id: str) -> None:
        """The model with its input example, its predictions on it, its signature and what rows it takes."""
        from sparkwright.data.preparation import MODEL_INPUT_KEY
        from sparkwright.models import predict

        tracker.log_spark_model(
            run_id,
            self.model,
            input_example=self.example.toPandas(),
            predictions=predict(self.model, self.example).select("prediction").toPandas(),
            input_schema=self.input_schema,
            metadata={MODEL_INPUT_KEY: self.takes},
        )


def _classification_params(fitted: FittedModel) -> dict[str, Any]:
    if fitted.classes is None:
        return {}
    params: dict[str, Any] = {"classes": ",".join(fitted.classes or [])}
    if fitted.threshold is not None:
        params["threshold"] = fitted.threshold
    return params


def _log_plots(tracker: Tracker, run_id: str, name: str, fitted: FittedModel, sample: Any) -> None:
    from sparkwright import plots
    from sparkwright.tasks import get_task

    get_task(fitted.task).log_plots(tracker, run_id, name, sample, fitted.classes)
    if fitted.importances:
        tracker.log_figure(
            run_id,
            plots.feature_importance(fitted.importances, f"{name}: feature importance"),
            "plots/feature_importance.png",
        )
        tracker.log_dict(run_id, fitted.importances, "feature_importance.json")
