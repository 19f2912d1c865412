"""Tuning trials of single-node models: featurize each fold once in Spark, then fit in plain Python.

A :class:`LocalEvaluator` holds NumPy copies of the folds and pickles to worker processes (or Spark
tasks), so trials run in parallel without a Spark job each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class _Fold:
    X_fit: np.ndarray
    y_fit: np.ndarray
    w_fit: np.ndarray | None
    X_eval: np.ndarray
    y_eval: np.ndarray  # class index, or the label in its own units


@dataclass(frozen=True)
class FoldScore:
    """One fold of a trial: the metric, the held-out predictions (label units, or class probabilities), and
    what the fit reported about itself (``best_iteration`` after early stopping)."""

    score: float
    predictions: np.ndarray
    summary: dict[str, float]


@dataclass(frozen=True)
class LocalEvaluator:
    """``evaluate(params, fold) -> (loss, fold scores)`` for a single-node model type; fold -1: all folds.

    Attributes:
        base_params: The model's own params; a trial's params override them.
        model_type: The registered type whose ``fit_local`` each trial runs.
        task, metric: What is scored; ``sign`` turns the metric into a loss (-1 when higher is better).
        log_label: The model learns ln(label); predictions are exp()'d back before scoring.
        num_classes: Classification: the number of classes.
        categorical_slots: Feature slots holding an indexed categorical (types that take no one-hot).
    """

    folds: list[_Fold]
    model_type: str
    base_params: dict[str, Any]
    task: str
    metric: str
    sign: float
    log_label: bool
    num_classes: int | None
    categorical_slots: tuple[int, ...] = ()

    @classmethod
    def from_folds(
        cls,
        config: ProjectConfig,
        spec: ModelSpec,
        pairs: list[tuple[DataFrame, DataFrame]],
        metric: str,
        sign: float,
    ) -> LocalEvaluator:
        """Fit the feature stages on each fold's training part and collect both parts to the driver.

        Raises:
            ModelError: A fold is larger than the model's driver limit (``max_driver_rows``).
            DataError: A fold has no rows to fit on or to score on.
        """
        from sparkwright.features import categorical_slots
        from sparkwright.models import get_model_type, prepare_training
        from sparkwright.models.driver_data import collect_to_driver
        from sparkwright.models.sklearn_model import ensure_fits_driver
        from sparkwright.pipeline.training import fit_settings

        model_type = get_model_type(spec.type, config.task)
        folds, prepared = [], None
        for fit_on, score_on in pairs:
            settings = fit_settings(config, fit_on, trial=True)
            prepared = prepare_training(fit_on, model_type, **settings)
            target = prepared.target
            ensure_fits_driver(prepared.rows, spec.params)
            X_fit, y_fit, w_fit = collect_to_driver(
                prepared.rows, target.features_col, target.label_col, target.weight_col
            )
            scored = prepared.prefix.transform(score_on)
            eval_label = target.label_col if config.task == "classification" else settings["label_col"]
            X_eval, y_eval, _ = collect_to_driver(scored, target.features_col, eval_label)
            if not len(y_fit) or not len(y_eval):
                raise DataError(
                    f"fold {len(folds) + 1} of {len(pairs)} has {len(y_fit):,} rows to fit on and {len(y_eval):,} "
                    "to score on; the training split is too small for this many folds (search.folds, "
                    "tune.folds) or validation_fraction. Use fewer folds or more data."
                )
            folds.append(_Fold(X_fit, y_fit, w_fit, X_eval, y_eval))
        assert prepared is not None
        return cls(
            folds=folds,
            model_type=spec.type,
            base_params=dict(spec.params),
            task=config.task,
            metric=metric,
            sign=sign,
            log_label=prepared.target.label_col != settings["label_col"] and config.task == "regression",
            num_classes=prepared.target.num_classes,
            categorical_slots=tuple(categorical_slots(prepared.rows, prepared.target.features_col)),
        )

    def __call__(self, params: dict[str, Any], fold: int) -> tuple[float, list[float]]:
        chosen = range(len(self.folds)) if fold < 0 else [fold]
        scores = [self.fold_score(index, self.model_type, {**self.base_params, **params}).score for index in chosen]
        return self.sign * float(np.mean(scores)), scores

    def fold_score(self, index: int, model_type: str, params: dict[str, Any], threads: int | None = None) -> FoldScore:
        """Fit ``model_type`` with ``params`` on fold ``index``'s training part; score its held-out part."""
        from sparkwright.models import get_model_type
        from sparkwright.models.sklearn_model import predict_local
        from sparkwright.tasks import get_task

        data = self.folds[index]
        kind = get_model_type(model_type, self.task)
        estimator = kind.fit_local(
            params,
            self.task,
            data.X_fit,
            data.y_fit,
            data.w_fit,
            categorical_slots=self.categorical_slots,
            threads=threads,
        )
        threshold = 0.5 if self.num_classes == 2 else None
        prediction, probability = predict_local(
            estimator, data.X_eval, num_classes=self.num_classes, threshold=threshold
        )
        if self.log_label:
            prediction = np.exp(prediction)
        score = get_task(self.task).array_metric(self.metric, data.y_eval, prediction, probability)
        held_out = probability if probability is not None else prediction
        return FoldScore(score, held_out, kind.local_summary(estimator))

    @property
    def held_out_labels(self) -> np.ndarray:
        """Every fold's held-out labels in fold order (the order of concatenated held-out predictions)."""
        return np.concatenate([fold.y_eval for fold in self.folds])
