"""Ensembles: weights chosen by greedy selection, and a weighted blend of fitted models as one Spark ML model.

:func:`ensemble_weights` runs Caruana et al.'s ensemble selection (as auto-sklearn does) on out-of-fold or
validation predictions. :func:`blend` turns fitted models and their weights into one :class:`FittedModel`
whose pipeline is a single :class:`EnsembleModel` stage: it saves and loads as a Spark ML stage (members in
subfolders, weights and classes as metadata JSON), so ``mlflow.spark`` logs it, batch scoring runs it and
``sparkwright.deploy.export`` exports it like any other model.

Example:
    >>> weights = ensemble_weights([oof_rf, oof_lr], y_valid, task="regression", metric="rmse")
    >>> fitted = blend([rf, lr], weights)
    >>> predict(fitted, test_df)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import reduce
from operator import add
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml import Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter

from sparkwright.config import ModelSpec
from sparkwright.config.checks import did_you_mean
from sparkwright.config.tasks import TASKS
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.features import INTERNAL_PREFIX
from sparkwright.models.labels import index_to_label_stage
from sparkwright.models.training import PREDICTION_COL, PROBABILITY_COL, FittedModel

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

ENSEMBLE_TYPE = "ensemble"
DEFAULT_ROUNDS = 50  # auto-sklearn's ensemble_size
_MEMBER = f"{INTERNAL_PREFIX}ensemble_member_"
_BLENDED = f"{INTERNAL_PREFIX}ensemble_probability"
_INDEX = f"{INTERNAL_PREFIX}ensemble_index"
_MEMBERS_DIR = "members"


# ---- weights ------------------------------------------------------------------------------------


def ensemble_weights(
    predictions: Sequence[Any],
    y: Any,
    *,
    task: str,
    metric: str,
    num_classes: int | None = None,
    rounds: int = DEFAULT_ROUNDS,
) -> np.ndarray:
    """Greedy ensemble selection with replacement (Caruana et al., 2004), on held-out predictions.

    Each round adds the candidate whose inclusion gives the ensemble (the plain mean of the candidates
    selected so far, repeats included) the best ``metric``; the weights are the selection counts over
    ``rounds``. A candidate can be picked many times, so a strong model gets a large weight and a weak one
    that corrects it a small one. Ties go to the earlier candidate, so the result is deterministic.

    Args:
        predictions: One array per candidate model, on the same rows (out-of-fold or a validation split).
            Regression: predictions in label units, shape ``(n,)``. Classification: class probabilities in
            class-index order, shape ``(n, k)``.
        y: The true values (regression) or class indices ``0 .. k-1`` (classification), shape ``(n,)``.
        task: ``regression`` or ``classification``.
        metric: A metric of the task (``config.tasks.TASKS``), optimised in its own direction. Classification
            metrics that need a predicted class use the most probable one.
        num_classes: Classification: ``k``, checked against the probabilities (default: their width).
        rounds: How many selections to make (auto-sklearn's ``ensemble_size``).

    Returns:
        One weight per candidate, float64, summing to 1; unselected candidates get 0.

    Raises:
        ConfigError: Unknown task or metric, or ``rounds`` not an integer >= 1.
        DataError: No candidates, arrays of mismatched lengths or shapes, non-finite values, or class
            indices outside ``0 .. k-1``.

    Example:
        >>> ensemble_weights([p_rf, p_lr], y, task="classification", metric="log_loss")
        array([0.72, 0.28])
    """
    higher = _higher_is_better(task, metric)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"must be an integer >= 1, got {rounds!r}.", "rounds")
    stack, actual = _checked_predictions(predictions, y, task, num_classes)
    counts = np.zeros(len(stack), dtype=np.int64)
    total = np.zeros_like(stack[0])
    for size in range(1, rounds + 1):
        best, best_score = 0, math.nan
        for j, candidate in enumerate(stack):
            score = _score(task, metric, actual, (total + candidate) / size)
            if j == 0 or (score > best_score if higher else score < best_score):
                best, best_score = j, score
        counts[best] += 1
        total += stack[best]
    return counts / rounds


def _higher_is_better(task: str, metric: str) -> bool:
    if task not in TASKS:
        raise ConfigError(
            f"unknown task {task!r}; supported: {', '.join(sorted(TASKS))}." + did_you_mean(task, set(TASKS)), "task"
        )
    metrics = TASKS[task].metrics
    if metric not in metrics:
        raise ConfigError(
            f"unknown metric {metric!r} for task {task}; valid: {', '.join(metrics)}." + did_you_mean(metric, metrics),
            "metric",
        )
    return TASKS[task].higher_is_better(metric)


def _checked_predictions(
    predictions: Sequence[Any], y: Any, task: str, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The candidates stacked as float64 (m, n) or (m, n, k), and ``y`` (class indices as int64)."""
    if len(predictions) == 0:
        raise DataError("predictions is empty; give one array of held-out predictions per candidate model.")
    actual = np.asarray(y)
    if actual.ndim != 1 or len(actual) == 0:
        raise DataError(f"y must be a non-empty 1-D array of true values, got shape {actual.shape}.")
    n = len(actual)
    classification = task == "classification"
    width = num_classes
    arrays = []
    for i, candidate in enumerate(predictions):
        array = np.asarray(candidate, dtype=np.float64)
        if classification:
            width = width or (array.shape[1] if array.ndim == 2 else None)
            expected = (n, width)
            what = "class probabilities, shape (rows, classes)"
        else:
            expected = (n,)
            what = "predictions, shape (rows,)"
        if array.shape != expected:
            raise DataError(
                f"predictions[{i}] has shape {array.shape}, but y has {n} rows: each candidate needs {what} "
                f"= {expected}."
            )
        if not np.isfinite(array).all():
            raise DataError(f"predictions[{i}] has NaN or infinite values; held-out predictions must be finite.")
        arrays.append(array)
    if not classification:
        if not np.isfinite(actual.astype(np.float64)).all():
            raise DataError("y has NaN or infinite values; the true values must be finite.")
        return np.stack(arrays), actual.astype(np.float64)
    indices = actual.astype(np.float64)
    if not ((indices == np.trunc(indices)) & (indices >= 0) & (indices < width)).all():
        raise DataError(f"y must hold class indices 0 .. {width - 1} (the probabilities' column order).")
    return np.stack(arrays), indices.astype(np.int64)


def _score(task: str, metric: str, actual: np.ndarray, ensemble: np.ndarray) -> float:
    from sparkwright.tasks import get_task

    if task == "classification":
        return get_task(task).array_metric(metric, actual, ensemble.argmax(axis=1), ensemble)
    return get_task(task).array_metric(metric, actual, ensemble)


# ---- the Spark ML stage -------------------------------------------------------------------------


class EnsembleModel(Model, MLReadable, MLWritable):
    """Fitted member pipelines and their weights, scored as one Spark ML stage.

    ``transform`` runs each member on the input in turn (its output renamed to a private column, its
    internal ``__sw_`` columns dropped before the next member runs), all in one lazy projection chain, then
    writes ``prediction``: regression, the weighted mean of the members' predictions; classification, the
    weighted mean of their ``probability`` vectors (as ``probability``) and the class it gives (the most
    probable one, or for a binary task with ``threshold`` class 1 when its probability is >= threshold),
    mapped back to the label's own values and type as a single model's pipeline does.

    The constructor only stores its arguments; they are checked when the model scores or is saved.

    Args:
        members: The members' fitted pipelines (``FittedModel.pipeline_model``).
        weights: One per member, positive, summing to 1.
        task: ``regression`` or ``classification``.
        classes: Classification: the classes in probability order, the same for every member.
        threshold: Binary classification: the positive class's probability at or above which it is predicted.
        memberNames: The members' names, for messages and the exporter.
    """

    task = Param(Params._dummy(), "task", "regression or classification", TypeConverters.toString)
    weights = Param(Params._dummy(), "weights", "one weight per member, summing to 1", TypeConverters.toListFloat)
    classes = Param(Params._dummy(), "classes", "classification: classes in order", TypeConverters.toListString)
    threshold = Param(Params._dummy(), "threshold", "binary: probability threshold of class 1", TypeConverters.toFloat)
    memberNames = Param(Params._dummy(), "memberNames", "the members' names", TypeConverters.toListString)

    def __init__(
        self,
        members: Sequence[PipelineModel] | None = None,
        weights: Sequence[float] | None = None,
        *,
        task: str = "regression",
        classes: Sequence[str] | None = None,
        threshold: float | None = None,
        memberNames: Sequence[str] | None = None,
    ):
        super().__init__()
        self.members = list(members or [])
        self._setDefault(task="regression", weights=[], classes=[], memberNames=[])
        self._set(task=task, weights=list(weights or []), classes=list(classes or []))
        self._set(memberNames=list(memberNames or [f"member {i}" for i in range(len(self.members))]))
        if threshold is not None:
            self._set(threshold=threshold)

    def getTask(self) -> str:
        return self.getOrDefault(self.task)

    def getWeights(self) -> list[float]:
        return self.getOrDefault(self.weights)

    def getClasses(self) -> list[str]:
        return self.getOrDefault(self.classes)

    def getThreshold(self) -> float | None:
        return self.getOrDefault(self.threshold) if self.isSet(self.threshold) else None

    def getMemberNames(self) -> list[str]:
        return self.getOrDefault(self.memberNames)

    def check(self) -> None:
        """Refuse a state the ensemble cannot score: runs before every transform and save.

        Raises:
            ModelError: No members; weights, names and members of different lengths; weights not positive or
                not summing to 1; an unknown task; classes missing; a threshold not for a binary task.
        """
        members, weights, names = self.members, self.getWeights(), self.getMemberNames()
        task, classes, threshold = self.getTask(), self.getClasses(), self.getThreshold()
        if not members:
            raise ModelError("EnsembleModel.members is empty; an ensemble needs at least one member pipeline.")
        if len(weights) != len(members) or len(names) != len(members):
            raise ModelError(
                f"EnsembleModel has {len(members)} members, {len(weights)} weights and {len(names)} memberNames; "
                "give one of each per member."
            )
        if not all(math.isfinite(w) and w > 0 for w in weights) or abs(sum(weights) - 1) > 1e-9:
            raise ModelError(
                f"EnsembleModel.weights must be positive and sum to 1, got {weights}; blend() normalises them."
            )
        if task not in TASKS:
            raise ModelError(f"EnsembleModel.task must be one of {', '.join(sorted(TASKS))}, got {task!r}.")
        if task == "classification" and len(classes) < 2:
            raise ModelError(
                f"EnsembleModel.classes must list the 2 or more classes in probability order, got {classes}."
            )
        if threshold is not None and not (task == "classification" and len(classes) == 2 and 0 < threshold < 1):
            raise ModelError(
                f"EnsembleModel.threshold applies to binary classification and must be in (0, 1), got {threshold} "
                f"for task {task} with {len(classes)} classes; unset it."
            )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from pyspark.ml.functions import array_to_vector, vector_to_array
        from pyspark.sql import functions as F

        self.check()
        classification = self.getTask() == "classification"
        output = PROBABILITY_COL if classification else PREDICTION_COL
        kept = [F.col(f"`{c}`") for c in dataset.columns]
        scored, private, label = dataset, [], None
        for i, (member, name) in enumerate(zip(self.members, self.getMemberNames(), strict=True)):
            out = member.transform(scored)
            if output not in out.columns:
                raise ModelError(
                    f"ensemble member {i} ({name}) writes no {output!r} column; members must be sparkwright "
                    f"models of task {self.getTask()} (FittedModel.pipeline_model)."
                )
            if classification and label is None:
                label = out.schema[PREDICTION_COL]  # the label's own type, as the member maps it back
            column = vector_to_array(F.col(output)) if classification else F.col(output)
            private.append(f"{_MEMBER}{i}")
            scored = out.select(*kept, column.alias(private[-1]))
            kept.append(F.col(private[-1]))
        weights = self.getWeights()

        def weighted_mean(parts: list[Any]) -> Any:
            return reduce(add, [F.lit(float(w)) * part for w, part in zip(weights, parts, strict=True)])

        if not classification:
            return scored.withColumn(PREDICTION_COL, weighted_mean([F.col(p) for p in private])).drop(*private)
        classes = self.getClasses()
        blended = F.array(*[weighted_mean([F.col(p)[k] for p in private]) for k in range(len(classes))])
        scored = scored.withColumn(_BLENDED, blended)
        probability = F.col(_BLENDED)
        threshold = self.getThreshold()
        if threshold is not None:
            index = F.when(probability[1] >= F.lit(threshold), F.lit(1.0)).otherwise(F.lit(0.0))
        else:  # the first most probable class, as Spark's argmax
            index = (F.array_position(probability, F.array_max(probability)) - 1).cast("double")
        scored = scored.withColumn(_INDEX, index).withColumn(PROBABILITY_COL, array_to_vector(probability))
        scored = index_to_label_stage(classes, _INDEX, PREDICTION_COL, label).transform(scored)
        return scored.drop(*private, _BLENDED, _INDEX)

    def write(self) -> MLWriter:
        return _EnsembleWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _EnsembleReader()


class _EnsembleWriter(MLWriter):
    """``metadata/`` (task, weights, classes, threshold, names as JSON) and ``members/<i>/`` (each pipeline).

    Written through Spark so the folder can be on any file system Spark writes to (mlflow.spark saves
    through a DFS temporary folder).
    """

    def __init__(self, instance: EnsembleModel):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        self.instance.check()
        folders = [f"{_MEMBERS_DIR}/{i}" for i in range(len(self.instance.members))]
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession, extraMetadata={"members": folders})
        for member, folder in zip(self.instance.members, folders, strict=True):
            member.save(os.path.join(path, folder))


class _EnsembleReader(MLReader):
    def load(self, path: str) -> EnsembleModel:
        from pyspark.ml import PipelineModel

        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        model = EnsembleModel()
        DefaultParamsReader.getAndSetParams(model, metadata)
        model.members = [PipelineModel.load(os.path.join(path, folder)) for folder in metadata["members"]]
        model._resetUid(metadata["uid"])
        return model


# ---- the blended FittedModel --------------------------------------------------------------------


def blend(
    members: Sequence[FittedModel],
    weights: Sequence[float],
    *,
    name: str = ENSEMBLE_TYPE,
    threshold: float | None = None,
) -> FittedModel:
    """One :class:`FittedModel` scoring the weighted mean of ``members``' predictions (or probabilities).

    Weights are normalised to sum 1; members with weight 0 are left out. ``predict`` and ``evaluate_model``
    work on the result unchanged. Its ``importances`` are the weighted sum of the members' importances, each
    member's first scaled to shares summing to 1 (a linear model's absolute coefficients and a forest's
    impurity gains are in different units); members without importances add nothing.

    Args:
        members: Fitted models of one task and label (classification: the same classes in the same order).
        weights: One per member, >= 0, not all 0 (e.g. from :func:`ensemble_weights`).
        name: The ensemble's name (its ``ModelSpec(type="ensemble", name=name)``).
        threshold: Binary classification: predict the positive class when its blended probability is >= this.
            Default: the most probable class.

    Raises:
        ModelError: No members, a weight per member missing, negative or non-finite weights, all weights 0,
            members of different tasks, labels or classes, or a threshold outside (0, 1) or not for a binary task.

    Example:
        >>> fitted = blend([rf, lr], [0.7, 0.3], name="rf+lr")
        >>> evaluate_model(fitted, predict(fitted, test_df))
    """
    from pyspark.ml import PipelineModel

    chosen = _chosen_members(members, weights)
    first = chosen[0][0]
    binary = first.task == "classification" and len(first.classes or []) == 2
    if threshold is not None and not (binary and 0 < threshold < 1):
        raise ModelError(
            f"threshold must be a probability in (0, 1) for a binary classification ensemble, got {threshold!r} "
            f"for task {first.task} with {len(first.classes or [])} classes; remove threshold."
        )
    total = sum(w for _, w in chosen)
    normalised = [(m, w / total) for m, w in chosen]
    stage = EnsembleModel(
        [m.pipeline_model for m, _ in normalised],
        [w for _, w in normalised],
        task=first.task,
        classes=first.classes,
        threshold=threshold,
        memberNames=[m.name for m, _ in normalised],
    )
    return FittedModel(
        pipeline_model=PipelineModel(stages=[stage]),
        spec=ModelSpec(type=ENSEMBLE_TYPE, name=name),
        model_type=ENSEMBLE_TYPE,
        params={"members": [{"name": m.name, "type": m.model_type, "weight": w} for m, w in normalised]},
        label_col=first.label_col,
        log_label=False,
        importances=_importances(normalised),
        task=first.task,
        classes=first.classes,
        threshold=threshold,
    )


def _chosen_members(members: Sequence[FittedModel], weights: Sequence[float]) -> list[tuple[FittedModel, float]]:
    """The members with a weight > 0, checked to blend: one task, label and class order."""
    members, weights = list(members), [float(w) for w in weights]
    if not members:
        raise ModelError("members is empty; blend needs at least one fitted model.")
    if len(weights) != len(members):
        raise ModelError(f"{len(members)} members but {len(weights)} weights; give one weight per member.")
    bad = [w for w in weights if not (math.isfinite(w) and w >= 0)]
    if bad:
        raise ModelError(f"weights must be finite and >= 0, got {weights}.")
    chosen = [(m, w) for m, w in zip(members, weights, strict=True) if w > 0]
    if not chosen:
        raise ModelError("every weight is 0; give at least one member a positive weight.")
    first = chosen[0][0]
    for member, _ in chosen[1:]:
        for field, what in (("task", "task"), ("label_col", "label"), ("classes", "classes (in probability order)")):
            if getattr(member, field) != getattr(first, field):
                raise ModelError(
                    f"members {first.name!r} and {member.name!r} differ in {what}: {getattr(first, field)!r} vs "
                    f"{getattr(member, field)!r}; an ensemble blends models of one task, label and class order."
                )
    return chosen


def _importances(members: list[tuple[FittedModel, float]]) -> dict[str, float] | None:
    totals: dict[str, float] = {}
    for member, weight in members:
        if not member.importances:
            continue
        scale = sum(member.importances.values())
        for column, value in member.importances.items():
            totals[column] = totals.get(column, 0.0) + weight * (value / scale if scale > 0 else 0.0)
    if not totals:
        return None
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))
