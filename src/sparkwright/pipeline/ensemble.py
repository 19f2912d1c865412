"""The run's ensemble: the search's best trials, blended with weights fitted on their held-out predictions.

The candidates are each family's best few trials, not only its best: a larger library gives greedy
ensemble selection (Caruana) more to combine. The weights come from the candidates' out-of-fold (or
hold-out) predictions, never from the test set. A chosen candidate enters the blend refit on the whole
training split, as the families' winners are: a family's best trial is its leaderboard model already;
any other chosen trial is refit here. The blend then competes in the leaderboard like any model, so it is
registered only where it beats the best single model on the test set.

Why refits and not each trial's fold models (a "bag" of k models): a blend of k fold models per chosen
trial scored k times as many pandas UDFs in one Spark plan, each with its own Python workers (82 of
them to score three rows in the demo test); the refit keeps one member per chosen trial.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sparkwright.config import ProjectConfig
from sparkwright.pipeline.results import ModelResult
from sparkwright.pipeline.search import Candidate, SearchOutcome

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.models import FittedModel

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class Blend:
    """The blended model, its members' total fit seconds, and its chosen trials with their weights."""

    model: FittedModel
    fit_seconds: float
    chosen: list[tuple[Candidate, float]]

    @property
    def description(self) -> str:
        return ", ".join(f"{c.spec.display_name} {w:.2f}" for c, w in self.chosen)


def blend_search_winners(
    config: ProjectConfig, searched: SearchOutcome, results: list[ModelResult], train: DataFrame
) -> Blend | None:
    """The blend of the trials that greedy selection weights; None when fewer than two earn a weight.

    ``results`` holds the families' refit winners; other chosen trials are refit on ``train``.
    """
    from sparkwright.models import blend, ensemble_weights

    fitted = {result.name: result for result in results if result.fitted is not None}
    candidates = [c for c in searched.candidates if not c.best_of_family or c.family in fitted]
    if len(candidates) < 2 or searched.held_out_labels is None:
        log.info("ensemble: fewer than two candidates with held-out predictions; no blend.")
        return None
    weights = ensemble_weights(
        [c.predictions for c in candidates], searched.held_out_labels, task=config.task, metric=config.selection_metric
    )
    chosen = [(c, float(w)) for c, w in zip(candidates, weights, strict=True) if w > 0]
    if len(chosen) < 2:
        log.info("ensemble: the held-out predictions favour %s alone; no blend.", chosen[0][0].spec.display_name)
        return None
    members, seconds = [], 0.0
    for candidate, weight in chosen:
        if candidate.best_of_family:
            members.append(fitted[candidate.family].fitted)
            seconds += fitted[candidate.family].fit_seconds
        else:
            started = time.perf_counter()
            members.append(_refit(config, candidate, train))
            seconds += time.perf_counter() - started
        log.info("ensemble: %s, weight %.2f", candidate.spec.display_name, weight)
    threshold = _threshold(config, chosen, searched.held_out_labels)
    model = blend(members, [w for _, w in chosen], name=ENSEMBLE, threshold=threshold)
    return Blend(model, seconds, chosen)


def _refit(config: ProjectConfig, candidate: Candidate, train: DataFrame) -> FittedModel:
    """A chosen trial that is not its family's best, refit on the whole training split (threshold 0.5)."""
    from sparkwright.models import fit_model
    from sparkwright.pipeline.training import fit_settings

    return fit_model(train, candidate.spec, **fit_settings(config, train, trial=True))


def _threshold(config: ProjectConfig, chosen: list[tuple[Candidate, float]], labels: np.ndarray) -> float | None:
    """Binary only: the project's threshold, or ``max_f1`` chosen on the blended held-out probabilities."""
    if config.task != "classification":
        return None
    blended = sum(w * c.predictions for c, w in chosen)
    if blended.shape[1] != 2:
        return None
    setting = config.classification_settings.threshold
    if setting != "max_f1":
        return float(setting)
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels.astype(int), blended[:, 1])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5
