"""The run's ensemble: the search families' refit winners, blended with weights fitted on held-out predictions.

The weights come from the search's out-of-fold (or hold-out) predictions of each family's best trial, never
from the test set; the blend then competes in the leaderboard like any model, so it is registered only
where it beats the best single model on the test set.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from sparkwright.config import ProjectConfig
from sparkwright.pipeline.results import ModelResult
from sparkwright.pipeline.search import SearchOutcome

if TYPE_CHECKING:
    from sparkwright.models import FittedModel

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


def blend_search_winners(
    config: ProjectConfig, searched: SearchOutcome, results: list[ModelResult]
) -> tuple[FittedModel, float] | None:
    """The blended model and its members' total fit seconds; None when fewer than two members earn a weight."""
    from sparkwright.models import blend, ensemble_weights

    fitted = {result.name: result for result in results if result.fitted is not None}
    candidates = [b for b in searched.families if b.predictions is not None and b.family in fitted]
    if len(candidates) < 2 or searched.held_out_labels is None:
        log.info("ensemble: fewer than two families with held-out predictions; no blend.")
        return None
    task = config.task
    num_classes = len(fitted[candidates[0].family].fitted.classes or []) or None
    weights = ensemble_weights(
        [b.predictions for b in candidates],
        searched.held_out_labels,
        task=task,
        metric=config.selection_metric,
        num_classes=num_classes,
    )
    chosen = [(b, float(w)) for b, w in zip(candidates, weights, strict=True) if w > 0]
    if len(chosen) < 2:
        log.info("ensemble: the held-out predictions favour %s alone; no blend.", chosen[0][0].family)
        return None
    members = [fitted[b.family].fitted for b, _ in chosen]
    threshold = _threshold(config, chosen, searched.held_out_labels)
    model = blend(members, [w for _, w in chosen], name=ENSEMBLE, threshold=threshold)
    return model, sum(fitted[b.family].fit_seconds for b, _ in chosen)


def _threshold(config: ProjectConfig, chosen: list, labels: np.ndarray) -> float | None:
    """Binary only: the project's threshold, or ``max_f1`` chosen on the blended held-out probabilities."""
    if config.task != "classification":
        return None
    blended = sum(w * b.predictions for b, w in chosen)
    if blended.shape[1] != 2:
        return None
    setting = config.classification_settings.threshold
    if setting != "max_f1":
        return float(setting)
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels.astype(int), blended[:, 1])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5
