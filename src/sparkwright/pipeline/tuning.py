"""The tune stage: search a model's space on the training split, log every trial, return the best params.

Grid search evaluates every point on k folds (or one train / validation split); hyperopt and optuna
sample points. Distributed models (Spark ML, xgboost.spark) fit each trial in Spark, one trial after
another (or on driver threads with ``parallelism`` > 1). Single-node models (``sklearn``) are
featurized once in Spark, collected, and tried in parallel worker processes (or SparkTrials), each
trial a plain scikit-learn fit. The caller refits the winner on the whole training split.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.errors import ConfigError, ModelError
from sparkwright.pipeline.folds import TrainingFolds
from sparkwright.pipeline.training import fit_for_project
from sparkwright.tracking import Tracker

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.config.space import Distribution


@dataclass
class TuningResult:
    """One model's search: its trials (best first in ``rows``), the best params and why it stopped.

    Attributes:
        model: The model's name in the project file.
        method, algorithm, executor: What ran the search.
        best_params: The winning point (merged over the model's own params by the caller).
        best_score: The winner's cross-validated (or validation) value of the ranking metric.
        trials, failed: Trials run, and how many of them failed.
        stopped_by: ``max_evals``, ``timeout``, ``early_stop`` or ``grid``.
        run_id: The MLflow run that holds the trials as nested runs.
        rows: One row per trial: number, params, score, fold scores, seconds, status, error.
    """

    model: str
    method: str
    algorithm: str
    executor: str
    best_params: dict[str, Any]
    best_score: float
    trials: int
    failed: int
    stopped_by: str
    seconds: float
    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def check_tune_spaces(config: ProjectConfig) -> None:
    """Parse every model's space and check its param names against the model type, without Spark."""
    from sparkwright.config.space import parse_space
    from sparkwright.models import get_model_type

    if config.tune is None:
        return
    specs = {spec.display_name: spec for spec in config.models}
    for name, raw in config.tune.space.items():
        path = f"tune.space.{name}"
        space = parse_space(raw, path, config.tune.method)
        model_type = get_model_type(specs[name].type, config.task)
        for param, distribution in space.items():
            # With the model's own params: an sklearn space is checked against its estimator, not the default one.
            own = {k: v for k, v in specs[name].params.items() if k not in space}
            model_type.validate_params({**own, param: _representative(distribution)}, path, config.task)
    if config.tune.trials == "joblib-spark":
        _check_joblib_spark(config, [specs[name] for name in config.tune.space])


def _check_joblib_spark(config: ProjectConfig, tuned: list[ModelSpec]) -> None:
    """``trials: joblib-spark`` ships a grid's single-node fits to Spark tasks through joblib: check it can."""
    from sparkwright.models import get_model_type
    from sparkwright.tune._joblib import require_joblibspark

    tune = config.tune
    assert tune is not None
    if tune.method != "grid":
        raise ConfigError(
            f"trials: joblib-spark runs a grid's point x fold fits as one joblib batch; method: {tune.method} "
            "proposes points one at a time from earlier results, which that batch cannot follow. Use "
            "method: grid, or trials: parallel (one Spark job per trial on a cluster).",
            "tune.trials",
        )
    for spec in tuned:
        model_type = get_model_type(spec.type, config.task)
        if not model_type.single_node:
            raise ConfigError(
                f"trials: joblib-spark sends single-node fits (type: sklearn, lightgbm) to Spark tasks, but model "
                f"{spec.display_name!r} (type: {spec.type}) is fitted through Spark itself (Spark ML / xgboost.spark), "
                "which cannot run inside a Spark task; use trials: auto (serial / threads run its grid), or tune only "
                "single-node models in this project's tune.space.",
                "tune.trials",
            )
    if tune.parallelism < 2:
        raise ConfigError(
            f"trials: joblib-spark needs parallelism >= 2 (joblib runs n_jobs=1 on the driver, not in Spark), got "
            f"{tune.parallelism}; set tune.parallelism to the Spark task slots to fill, e.g. the cluster's executor "
            "cores.",
            "tune.parallelism",
        )
    require_joblibspark()


def tune_model(
    tracker: Tracker,
    experiment_id: str,
    parent_id: str,
    config: ProjectConfig,
    spec: ModelSpec,
    train: DataFrame,
    on_trial: Callable[[int, int, float | None], None] | None = None,
) -> TuningResult:
    """Search ``spec``'s space on ``train`` and log each trial as a nested run of a ``tune:<model>`` run.

    Args:
        on_trial: Progress: called with (trials done, trials planned, best score so far).

    Raises:
        ModelError: Every trial failed (the first error is quoted).
    """
    from sparkwright.models import get_model_type

    tune = config.tune
    assert tune is not None
    metric = config.selection_metric
    sign = -1.0 if config.task_spec.higher_is_better(metric) else 1.0
    model_type = get_model_type(spec.type, config.task)
    folds = TrainingFolds.for_project(config, train, tune.folds, tune.seed, tune.validation_fraction)
    evaluate = (
        _local_evaluator(config, spec, folds, metric, sign)
        if model_type.single_node
        else _spark_evaluator(config, spec, folds, metric, sign)
    )
    try:
        return tune_with(
            tracker, experiment_id, parent_id, config, spec, evaluate, folds.count, model_type.single_node, on_trial
        )
    finally:
        folds.release()


def tune_with(
    tracker: Tracker,
    experiment_id: str,
    parent_id: str,
    config: ProjectConfig,
    spec: ModelSpec,
    evaluate: Callable[[dict[str, Any], int], tuple[float, list[float]]],
    n_folds: int,
    single_node: bool = False,
    on_trial: Callable[[int, int, float | None], None] | None = None,
) -> TuningResult:
    """Search ``spec``'s space with ``evaluate`` and log each trial as a nested run of a ``tune:<model>`` run.

    A task whose models do not fit through :func:`fit_for_project` (recommendation) brings its own
    ``evaluate(params, fold) -> (loss, fold scores)`` (fold -1: every fold; the loss is the mean score,
    negated when higher is better) and gets the same search, trial runs and leaderboard.

    Raises:
        ModelError: Every trial failed (the first error is quoted).
    """
    from sparkwright.config.space import grid_points, parse_space

    tune = config.tune
    assert tune is not None
    metric = config.selection_metric
    sign = -1.0 if config.task_spec.higher_is_better(metric) else 1.0
    space = parse_space(tune.space[spec.display_name], f"tune.space.{spec.display_name}", tune.method)
    planned = len(grid_points(space)) if tune.method == "grid" else tune.max_evals
    tags = {"sparkwright.model_type": spec.type, "sparkwright.tuning": tune.method}
    with tracker.run(experiment_id, f"tune:{spec.display_name}", parent_run_id=parent_id, tags=tags) as run_id:
        tracker.log_params(run_id, _search_params(config, metric, n_folds))
        logger = _TrialLogger(tracker, experiment_id, run_id, spec.display_name, metric, sign, planned, on_trial)
        started = time.perf_counter()
        result = _search(config, single_node, space, evaluate, n_folds, logger)
        if not logger.best_rows():
            first = next((r["error"] for r in logger.rows if r["error"]), "unknown error")
            raise ModelError(f"every tuning trial of {spec.display_name!r} failed; the first error: {first}")
        best = logger.best_rows()[0]
        tracker.log_metrics(run_id, {f"best_cv_{metric}": best["score"], "trials": len(logger.rows)})
        tracker.log_params(run_id, {f"best_{k}": v for k, v in best["params"].items()})
        tracker.log_dict(run_id, {"trials": logger.best_rows() + logger.failed_rows()}, "trials.json")
    return TuningResult(
        model=spec.display_name,
        method=tune.method,
        algorithm="grid" if tune.method == "grid" else tune.algorithm,
        executor=result["executor"],
        best_params=best["params"],
        best_score=best["score"],
        trials=len(logger.rows),
        failed=len(logger.failed_rows()),
        stopped_by=result["stopped_by"],
        seconds=time.perf_counter() - started,
        run_id=run_id,
        rows=logger.best_rows() + logger.failed_rows(),
    )


def _search(
    config: ProjectConfig,
    single_node: bool,
    space: dict[str, Distribution],
    evaluate: Callable[[dict[str, Any], int], tuple[float, list[float]]],
    n_folds: int,
    logger: _TrialLogger,
) -> dict[str, Any]:
    """Run the grid or the sampled search; trials are logged as they finish."""
    from sparkwright.tune import grid_search, resolve_trials, search

    tune = config.tune
    assert tune is not None
    if tune.method == "grid":
        executor = "joblib-spark" if tune.trials == "joblib-spark" else "threads"
        grid = grid_search(
            lambda params, fold: evaluate(params, fold)[0],
            space,
            folds=n_folds if n_folds > 1 else 1,
            parallelism=tune.parallelism,
            on_result=logger.grid_point,
            executor=executor,
        )
        return {"executor": f"{executor}({tune.parallelism})", "stopped_by": "grid", "seconds": grid.seconds}

    executor = resolve_trials(tune.trials, distributed=not single_node, parallelism=tune.parallelism)

    def objective(params: dict[str, Any]) -> float:
        loss, scores = evaluate(params, -1)
        logger.remember(params, scores)
        return loss

    if single_node:
        objective = _WorkerObjective(evaluate)  # type: ignore[assignment]
    result = search(
        objective,
        space,
        method=tune.method,
        algorithm=tune.algorithm,
        max_evals=tune.max_evals,
        timeout_seconds=tune.timeout_seconds,
        early_stop_after=tune.early_stop_after,
        parallelism=tune.parallelism,
        trials=executor,
        seed=tune.seed,
        on_trial=logger.trial,
    )
    return {"executor": result.executor, "stopped_by": result.stopped_by, "seconds": result.seconds}


class _WorkerObjective:
    """A picklable objective for worker processes: the mean loss over folds (fold scores stay there)."""

    def __init__(self, evaluate: Callable[[dict[str, Any], int], tuple[float, list[float]]]):
        self.evaluate = evaluate

    def __call__(self, params: dict[str, Any]) -> float:
        return self.evaluate(params, -1)[0]


def _spark_evaluator(
    config: ProjectConfig, spec: ModelSpec, folds: TrainingFolds, metric: str, sign: float
) -> Callable[[dict[str, Any], int], tuple[float, list[float]]]:
    """``evaluate(params, fold)``: fit in Spark on the other folds, score the fold; fold -1 means all folds."""
    from sparkwright.models import evaluate_model, predict

    def one(params: dict[str, Any], fold: int) -> float:
        trial_spec = spec.model_copy(update={"params": {**spec.params, **params}})
        fit_on, score_on = folds.pair(fold)
        fitted = fit_for_project(config, trial_spec, fit_on, choose_threshold=False)
        return evaluate_model(fitted, predict(fitted, score_on))[metric]

    def evaluate(params: dict[str, Any], fold: int) -> tuple[float, list[float]]:
        chosen = range(folds.count) if fold < 0 else [fold]
        scores = [one(params, f) for f in chosen]
        return sign * sum(scores) / len(scores), scores

    return evaluate


def _local_evaluator(
    config: ProjectConfig, spec: ModelSpec, folds: TrainingFolds, metric: str, sign: float
) -> Callable[[dict[str, Any], int], tuple[float, list[float]]]:
    """A picklable ``evaluate(params, fold)`` over NumPy copies of the featurized folds (no Spark inside)."""
    from sparkwright.pipeline.local_tuning import LocalEvaluator

    return LocalEvaluator.from_folds(config, spec, [folds.pair(f) for f in range(folds.count)], metric, sign)


class _TrialLogger:
    """Logs each finished trial as a nested MLflow run and keeps the rows of the tuning leaderboard."""

    def __init__(
        self,
        tracker: Tracker,
        experiment_id: str,
        run_id: str,
        model: str,
        metric: str,
        sign: float,
        planned: int,
        on_trial: Callable[[int, int, float | None], None] | None,
    ):
        self.tracker, self.experiment_id, self.run_id = tracker, experiment_id, run_id
        self.model, self.metric, self.sign, self.planned = model, metric, sign, planned
        self.on_trial = on_trial
        self.rows: list[dict[str, Any]] = []
        self._fold_scores: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def remember(self, params: dict[str, Any], scores: list[float]) -> None:
        with self._lock:
            self._fold_scores[repr(sorted(params.items()))] = scores

    def trial(self, trial: Any) -> None:
        with self._lock:
            folds = self._fold_scores.pop(repr(sorted(trial.params.items())), [])
        score = None if trial.loss is None else self.sign * trial.loss
        self._log(trial.number, trial.params, score, folds, trial.seconds, trial.status, trial.error)

    def grid_point(self, point: Any) -> None:
        scores = [None if loss is None else self.sign * loss for loss in point.fold_losses]
        error = next((e for e in point.errors if e), None)
        score = None if point.mean is None else self.sign * point.mean
        self._log(point.index, point.params, score, scores, point.seconds, "ok" if point.ok else "failed", error)

    def best_rows(self) -> list[dict[str, Any]]:
        ok = [r for r in self.rows if r["score"] is not None]
        return sorted(ok, key=lambda r: (self.sign * r["score"], r["trial"]))

    def failed_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["score"] is None]

    def _log(
        self,
        number: int,
        params: dict[str, Any],
        score: float | None,
        fold_scores: list[float | None],
        seconds: float,
        status: str,
        error: str | None,
    ) -> None:
        client = self.tracker.client
        run = client.create_run(
            self.experiment_id,
            run_name=f"{self.model}-trial-{number}",
            tags={"mlflow.parentRunId": self.run_id, "sparkwright.trial": str(number)},
        )
        trial_id = run.info.run_id
        self.tracker.log_params(trial_id, params)
        metrics: dict[str, float] = {"trial_seconds": seconds}
        if score is not None:
            metrics[f"cv_{self.metric}"] = score
        metrics.update({f"fold_{i}_{self.metric}": s for i, s in enumerate(fold_scores) if s is not None})
        self.tracker.log_metrics(trial_id, metrics)
        if error:
            self.tracker.set_tags(trial_id, {"sparkwright.error": error[:5000]})
        client.set_terminated(trial_id, status="FINISHED" if status == "ok" else "FAILED")
        self.rows.append(
            {
                "model": self.model,
                "trial": number,
                "params": dict(params),
                "score": score,
                "fold_scores": fold_scores,
                "seconds": seconds,
                "status": status,
                "error": error,
                "run_id": trial_id,
            }
        )
        if self.on_trial is not None:
            best = self.best_rows()
            self.on_trial(len(self.rows), self.planned, best[0]["score"] if best else None)


def _search_params(config: ProjectConfig, metric: str, n_folds: int) -> dict[str, Any]:
    tune = config.tune
    assert tune is not None
    return {
        "tune_method": tune.method,
        "tune_algorithm": tune.algorithm,
        "tune_max_evals": tune.max_evals,
        "tune_folds": n_folds,
        "tune_parallelism": tune.parallelism,
        "tune_trials": tune.trials,
        "tune_metric": metric,
        "tune_seed": tune.seed,
    }


def _representative(distribution: Distribution) -> Any:
    """A value of the distribution's kind, to check the param's name and type against the model."""
    from sparkwright.config import space

    if isinstance(distribution, space.Fixed):
        return distribution.value
    if isinstance(distribution, space.Choice):
        return distribution.options[0]
    if isinstance(distribution, space.Normal):
        return distribution.mu
    if isinstance(distribution, space.QUniform | space.QLogUniform) and distribution.integer:
        return int(distribution.low)
    if isinstance(distribution, space.Uniform | space.LogUniform | space.QUniform | space.QLogUniform):
        return distribution.low
    raise ConfigError(f"unknown distribution {distribution!r}.")
