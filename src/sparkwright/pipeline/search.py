"""The search stage: one time-budgeted search across model families on the training split.

The families (``pipeline/families.py``) are searched together by ``sparkwright.tune._budget``: every
family's cheap start point first, then more trials for the families that win. When rows x feature slots
fit the driver, the folds are featurized once in Spark and collected, and the boosted and forest families
train on NumPy arrays in parallel worker processes; the linear family (and every family when the data
does not fit the driver) trains in Spark on the driver's thread. k-fold cross-validation on small data,
one hold-out split on large data.

The result names each family's best params (the caller refits them on the whole training split) and
keeps the held-out predictions of each family's best few trials: the ensemble's candidates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sparkwright.config import ModelSpec, ProjectConfig, SearchConfig
from sparkwright.config.space import parse_space
from sparkwright.errors import ConfigError, ModelError
from sparkwright.pipeline.families import FAMILIES, FamilyForm, default_families
from sparkwright.pipeline.folds import TrainingFolds
from sparkwright.pipeline.local_tuning import FoldScore, LocalEvaluator
from sparkwright.tracking import Tracker
from sparkwright.tune._budget import (
    DEADLINE_KEY,
    FAMILY_KEY,
    PRUNE_KEY,
    TRIAL_SECONDS_KEY,
    Arm,
    BudgetTrial,
    Progress,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

# rows x one-hot feature slots the driver takes (the xgboost driver path's default limit).
DRIVER_MAX_CELLS = 100_000_000
# Folds by training rows when `folds: auto`: small data gets more folds (less noisy scores, better blends).
_AUTO_FOLDS = ((20_000, 5), (200_000, 3))
# Held-out predictions kept for the ensemble only up to this many rows.
_MAX_BLEND_ROWS = 2_000_000
# The ensemble chooses among each family's best few trials, not only its best (measured on wa_churn: a
# larger library helps greedy selection; more than a few adds near-duplicates).
CANDIDATES_PER_FAMILY = 3


@dataclass
class FamilyBest:
    """A family's best trial: the spec to refit, its cross-validated score, what the family cost."""

    family: str
    spec: ModelSpec
    score: float
    trials: int
    seconds: float


@dataclass
class Candidate:
    """A trial the ensemble may choose: its refit spec and its held-out predictions.

    Attributes:
        best_of_family: True for the family's best trial, whose refit is the family's leaderboard model.
    """

    family: str
    trial: int
    spec: ModelSpec
    score: float
    predictions: np.ndarray = field(repr=False)
    best_of_family: bool = False


@dataclass
class SearchOutcome:
    """What the search found, best family first, and how it ran."""

    families: list[FamilyBest]
    trials: list[dict[str, Any]]
    stopped_by: str
    seconds: float
    folds: int
    on_driver: bool
    run_id: str
    held_out_labels: np.ndarray | None = field(default=None, repr=False)
    candidates: list[Candidate] = field(default_factory=list, repr=False)

    @property
    def specs(self) -> list[ModelSpec]:
        return [best.spec for best in self.families]


def check_search(config: ProjectConfig) -> None:
    """Check the search section against the task without Spark (``sparkwright validate``)."""
    from sparkwright.models import get_model_type

    settings = config.search_settings
    if settings is None:
        return
    names = [spec.display_name for spec in config.models]
    for index, family in enumerate(settings.families or []):
        if family in names:
            raise ConfigError(
                f"family {family!r} would clash with the model of the same name in models; rename that model.",
                f"search.families[{index}]",
            )
        for form in (FAMILIES[family].driver, FAMILIES[family].cluster):
            if form is not None:
                get_model_type(form.types[config.task], config.task)


def run_search(
    tracker: Tracker,
    experiment_id: str,
    parent_id: str,
    config: ProjectConfig,
    train: DataFrame,
    on_progress: Callable[[Progress], None] | None = None,
) -> SearchOutcome:
    """Search the families within the budget; log the trials to a ``search`` run under ``parent_id``.

    Raises:
        ModelError: No trial of any family succeeded (the first error is quoted).
    """
    settings = config.search_settings
    assert settings is not None
    metric = config.selection_metric
    sign = -1.0 if config.task_spec.higher_is_better(metric) else 1.0
    rows, slots = _size(config, train)
    on_driver = rows * slots <= DRIVER_MAX_CELLS and rows <= _max_driver_rows()
    folds_count = _fold_count(settings, rows)
    names = settings.families or default_families(on_driver, rows)
    forms = {name: form for name in names if (form := FAMILIES[name].form(on_driver)) is not None}
    skipped = sorted(set(names) - set(forms))
    if skipped:
        log.warning("search: %s cannot train on data this large (%s rows); searching the others.", skipped, rows)
    if not forms:
        raise ConfigError(
            f"none of the families {names} can train on {rows:,} rows x {slots:,} features; add xgboost, "
            "random_forest, linear or gbt to search.families.",
            "search.families",
        )
    tags = {"sparkwright.search": "budget"}
    with tracker.run(experiment_id, "search", parent_run_id=parent_id, tags=tags) as run_id:
        tracker.log_params(
            run_id,
            {
                "search_budget_seconds": settings.budget_seconds,
                "search_families": ",".join(forms),
                "search_folds": folds_count,
                "search_on_driver": on_driver,
                "search_metric": metric,
                "search_seed": settings.seed,
                "search_max_trials": settings.max_trials,
            },
        )
        folds = TrainingFolds.for_project(config, train, folds_count, settings.seed, settings.validation_fraction)
        try:
            result, evaluators = _search(config, settings, forms, folds, metric, sign, on_progress)
        finally:
            folds.release()
        outcome = _outcome(config, forms, result, evaluators, sign, folds_count, on_driver, run_id)
        _log(tracker, run_id, outcome, metric, sign)
    return outcome


def _search(
    config: ProjectConfig,
    settings: SearchConfig,
    forms: dict[str, FamilyForm],
    folds: TrainingFolds,
    metric: str,
    sign: float,
    on_progress: Callable[[Progress], None] | None,
) -> tuple[Any, dict[bool, LocalEvaluator]]:
    from sparkwright.models import get_model_type
    from sparkwright.tune._budget import budgeted_search

    pairs = folds.pairs()
    evaluators: dict[bool, LocalEvaluator] = {}
    local_forms = {name: form for name, form in forms.items() if form.local}
    for form in local_forms.values():
        one_hot = get_model_type(form.types[config.task], config.task).one_hot
        if one_hot not in evaluators:
            # Any type with this encoding prepares the folds; each trial then fits its own type on them.
            representative = ModelSpec(type="sklearn" if one_hot else "decision_tree")
            evaluators[one_hot] = LocalEvaluator.from_folds(config, representative, pairs, metric, sign)
    local = _LocalObjective(
        evaluators,
        {name: _local_plan(config, form) for name, form in local_forms.items()},
        sign,
    )
    driver = _DriverObjective(config, {name: f for name, f in forms.items() if not f.local}, pairs, sign, metric)
    arms = [
        Arm(
            name,
            parse_space(dict(form.space[config.task]), f"search.{name}", "optuna"),
            dict(form.start[config.task]),
            form.local,
        )
        for name, form in forms.items()
    ]
    parallelism = settings.parallelism or _driver_cores()

    def progress(trial: BudgetTrial, state: Progress) -> None:
        if on_progress is not None:
            on_progress(state)

    try:
        result = budgeted_search(
            arms,
            local_objective=local if local_forms else None,
            driver_objective=driver,
            budget_seconds=settings.budget_seconds,
            max_trials=settings.max_trials,
            parallelism=parallelism,
            seed=settings.seed,
            on_trial=progress,
        )
    finally:
        driver.release()
    return result, evaluators


def _local_plan(config: ProjectConfig, form: FamilyForm) -> tuple[str, dict[str, Any], bool]:
    from sparkwright.models import get_model_type

    model_type = form.types[config.task]
    return model_type, dict(form.fixed[config.task]), get_model_type(model_type, config.task).one_hot


class _LocalObjective:
    """A trial of a driver family in a worker process: fit fold after fold on NumPy, stop early when pruned.

    Picklable: the folds are NumPy arrays, the plans plain data.
    """

    def __init__(
        self, evaluators: dict[bool, LocalEvaluator], plans: dict[str, tuple[str, dict[str, Any], bool]], sign: float
    ):
        self.evaluators, self.plans, self.sign = evaluators, plans, sign

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in payload.items() if not k.startswith("__")}
        model_type, fixed, one_hot = self.plans[payload[FAMILY_KEY]]
        evaluator = self.evaluators[one_hot]
        return _run_folds(
            len(evaluator.folds),
            lambda index: evaluator.fold_score(index, model_type, {**fixed, **params}, threads=1),
            self.sign,
            payload,
        )


class _DriverObjective:
    """A trial of a Spark family on the driver: fit in Spark on each fold, score on NumPy like local trials.

    Each fold's feature stages are fitted once per model type and their output cached, so a trial fits
    only the estimator.
    """

    def __init__(
        self,
        config: ProjectConfig,
        forms: dict[str, FamilyForm],
        pairs: list[tuple[DataFrame, DataFrame]],
        sign: float,
        metric: str,
    ):
        self.config, self.forms, self.pairs, self.sign, self.metric = config, forms, pairs, sign, metric
        self._prepared: dict[tuple[int, str], tuple[Any, DataFrame]] = {}

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        family = payload[FAMILY_KEY]
        form = self.forms[family]
        params = {**form.fixed[self.config.task], **{k: v for k, v in payload.items() if not k.startswith("__")}}
        model_type = form.types[self.config.task]
        return _run_folds(len(self.pairs), lambda index: self._fold(model_type, params, index), self.sign, payload)

    def release(self) -> None:
        for prepared, scored in self._prepared.values():
            prepared.rows.unpersist()
            scored.unpersist()
        self._prepared.clear()

    def _fold(self, type_name: str, params: dict[str, Any], index: int) -> FoldScore:
        from pyspark.ml import PipelineModel

        from sparkwright.models import get_model_type
        from sparkwright.tasks import get_task

        model_type = get_model_type(type_name, self.config.task)
        prepared, score_rows = self._prepare(model_type, index)
        estimator = model_type.build(model_type.resolve_params(params, self.config.task), prepared.target)
        model = PipelineModel(stages=[estimator.fit(prepared.rows), *prepared.post_stages])
        task = get_task(self.config.task)
        target = prepared.target
        # Classification is scored on the indexed label; regression on the label in its own units.
        label = target.label_col if target.is_classification else self.config.data.label
        held = task.held_out(model.transform(score_rows), label, target.num_classes)
        score = task.array_metric(self.metric, held.y, held.prediction, held.probability)
        return FoldScore(score, held.blendable, {})

    def _prepare(self, model_type: Any, index: int) -> tuple[Any, DataFrame]:
        """The fold's fitted feature stages for this type, with the fit and held-out rows transformed and cached."""
        from sparkwright.models import prepare_training
        from sparkwright.pipeline.training import fit_settings

        key = (index, model_type.name)
        if key not in self._prepared:
            fit_on, score_on = self.pairs[index]
            settings = fit_settings(self.config, fit_on, trial=True)
            prepared = prepare_training(fit_on, model_type, **settings)
            prepared.rows.cache()
            self._prepared[key] = (prepared, prepared.prefix.transform(score_on).cache())
        return self._prepared[key]


def _run_folds(
    count: int, fold_score: Callable[[int], FoldScore], sign: float, payload: dict[str, Any]
) -> dict[str, Any]:
    """Score fold after fold; stop after the first past the pruning threshold, or before a fold that would end
    past the search's deadline or the trial's own time cap (judged by the folds so far)."""
    started = time.time()
    deadline = min(payload[DEADLINE_KEY], started + payload[TRIAL_SECONDS_KEY])
    losses, predictions, iterations = [], [], []
    for index in range(count):
        if index and time.time() + (time.time() - started) / index > deadline:
            # Recorded as unfinished (not failed): its folds so far tell the sampler where not to look.
            return {"loss": float(np.mean(losses)), "fold_losses": losses, "pruned": True, "unfinished": True}
        fold = fold_score(index)
        losses.append(sign * fold.score)
        predictions.append(fold.predictions)
        if "best_iteration" in fold.summary:
            iterations.append(fold.summary["best_iteration"])
        threshold = payload[PRUNE_KEY]
        if index == 0 and count > 1 and threshold is not None and losses[0] > threshold:
            return {"loss": losses[0], "fold_losses": losses, "pruned": True}
    return {
        "loss": float(np.mean(losses)),
        "fold_losses": losses,
        "pruned": False,
        "predictions": np.concatenate(predictions),
        "best_iterations": iterations,
    }


def _outcome(
    config: ProjectConfig,
    forms: dict[str, FamilyForm],
    result: Any,
    evaluators: dict[bool, LocalEvaluator],
    sign: float,
    folds: int,
    on_driver: bool,
    run_id: str,
) -> SearchOutcome:
    best = result.best_by_family()
    if not best:
        first = next((t.error for t in result.trials if t.error), "unknown error")
        raise ModelError(f"every trial of the budgeted search failed; the first error: {first}")
    labels = next(iter(evaluators.values())).held_out_labels if evaluators else None

    def blendable(trial: BudgetTrial) -> np.ndarray | None:
        predictions = trial.details.get("predictions")
        if labels is None or predictions is None or len(predictions) != len(labels) or len(labels) > _MAX_BLEND_ROWS:
            return None
        return predictions

    families, candidates = [], []
    for name, trial in best.items():
        form = forms[name]
        spent = [t for t in result.trials if t.family == name]
        ranked = sorted((t for t in spent if t.status == "ok" and t.loss is not None), key=lambda t: (t.loss, t.number))
        for ranked_trial in ranked[:CANDIDATES_PER_FAMILY]:
            held_out = blendable(ranked_trial)
            if held_out is not None:
                best_of_family = ranked_trial is trial
                spec = ModelSpec(
                    type=form.types[config.task],
                    name=name if best_of_family else f"{name}#{ranked_trial.number}",
                    params=_refit_params(form, config, ranked_trial),
                )
                candidates.append(
                    Candidate(name, ranked_trial.number, spec, sign * ranked_trial.loss, held_out, best_of_family)
                )
        families.append(
            FamilyBest(
                family=name,
                spec=ModelSpec(type=form.types[config.task], name=name, params=_refit_params(form, config, trial)),
                score=sign * trial.loss,
                trials=len(spent),
                seconds=sum(t.seconds for t in spent),
            )
        )
    rows = [
        {
            "trial": t.number,
            "round": t.round,
            "family": t.family,
            "params": t.params,
            "score": None if t.loss is None else sign * t.loss,
            "fold_scores": [sign * x for x in t.fold_losses],
            "status": t.status,
            "seconds": t.seconds,
            "error": t.error,
        }
        for t in result.trials
    ]
    return SearchOutcome(
        families, rows, result.stopped_by, result.seconds, folds, on_driver, run_id, labels, candidates
    )


def _refit_params(form: FamilyForm, config: ProjectConfig, trial: BudgetTrial) -> dict[str, Any]:
    """The winner's params for the refit on the whole training split.

    A boosted winner is refit without early stopping, on every training row, with the rounds its folds
    stopped at (their mean, plus 10% for the larger training set): the validation slice early stopping
    needs would otherwise be left out of the final model.
    """
    params = {**form.fixed[config.task], **trial.params}
    iterations = trial.details.get("best_iterations") or []
    if "early_stopping_rounds" in params and iterations:
        params.pop("early_stopping_rounds")
        params.pop("validation_fraction", None)
        params["n_estimators"] = max(1, round(float(np.mean(iterations)) * 1.1))
    return params


def _log(tracker: Tracker, run_id: str, outcome: SearchOutcome, metric: str, sign: float) -> None:
    from sparkwright import plots

    statuses = ("ok", "pruned", "unfinished", "failed")
    counts = {status: sum(1 for t in outcome.trials if t["status"] == status) for status in statuses}
    tracker.log_metrics(
        run_id,
        {
            "trials": len(outcome.trials),
            **{f"trials_{k}": v for k, v in counts.items()},
            "search_seconds": outcome.seconds,
            f"best_cv_{metric}": outcome.families[0].score,
            **{f"{best.family}_cv_{metric}": best.score for best in outcome.families},
        },
    )
    tracker.set_tags(run_id, {"sparkwright.stopped_by": outcome.stopped_by})
    tracker.log_dict(run_id, {"trials": outcome.trials}, "search_trials.json")
    figure = plots.search_history(outcome.trials, metric, higher_is_better=sign < 0)
    tracker.log_figure(run_id, figure, "plots/search_history.png")


def _size(config: ProjectConfig, train: DataFrame) -> tuple[int, int]:
    """Training rows and the one-hot feature width (numeric columns + categorical levels), in one pass."""
    from pyspark.sql import functions as F

    from sparkwright.data import feature_columns

    categorical, numeric = feature_columns(train, config)
    exprs = [F.count(F.lit(1)).alias("__rows")] + [
        F.approx_count_distinct(F.col(f"`{c}`")).alias(f"__levels_{i}") for i, c in enumerate(categorical)
    ]
    counts = train.agg(*exprs).first().asDict()
    rows = int(counts.pop("__rows"))
    return rows, len(numeric) + sum(int(v) for v in counts.values())


def _fold_count(settings: SearchConfig, rows: int) -> int:
    if settings.folds != "auto":
        return int(settings.folds)
    return next((folds for limit, folds in _AUTO_FOLDS if rows < limit), 1)


def _max_driver_rows() -> int:
    from sparkwright.settings import get_settings

    return get_settings().sklearn_max_rows


def _driver_cores() -> int:
    from pyspark.sql import SparkSession

    from sparkwright.models.xgboost_model import driver_cores

    spark = SparkSession.getActiveSession()
    if spark is None:
        return 1
    return driver_cores(spark)
