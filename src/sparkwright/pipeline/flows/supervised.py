"""Regression and classification: the baseline, the listed models (tuned where the project says so),
the budgeted search's winners and their ensemble, each fitted on the training split and scored on the
test split."""

from __future__ import annotations

from typing import Any

from sparkwright.config import ModelSpec, ProjectConfig
from sparkwright.pipeline.ensemble import blend_search_winners
from sparkwright.pipeline.flows.base import Flow, TrainingContext, TrainingOutcome, check_models
from sparkwright.pipeline.results import BASELINE, ModelResult
from sparkwright.pipeline.search import SearchOutcome, check_search, run_search
from sparkwright.pipeline.training import train_one
from sparkwright.pipeline.tuning import TuningResult, check_tune_spaces, tune_model


class SupervisedFlow(Flow):
    def check(self, config: ProjectConfig) -> None:
        """Every model type and its params, the tuning spaces and the search, against the task."""

        check_models(config)
        check_tune_spaces(config)
        check_search(config)

    def train(self, context: TrainingContext) -> TrainingOutcome:
        config, metric = context.config, context.config.selection_metric
        searched: SearchOutcome | None = None
        if config.search_settings is not None:
            budget = config.search_settings.budget_seconds
            with context.reporter.budget(f"Searching {budget:.0f}s across model families", budget) as update:
                searched = run_search(
                    context.tracker, context.experiment_id, context.parent_id, config, context.train, update
                )
            context.timings["search"] = searched.seconds
            context.reporter.info(_search_line(searched, metric))

        results: list[ModelResult] = []
        tuning: list[TuningResult] = []
        for spec in [ModelSpec(type=BASELINE), *config.models, *(searched.specs if searched else [])]:
            extra: dict[str, Any] = _search_params(searched, spec, metric)
            if config.tune is not None and spec.display_name in config.tune.space:
                # A progress bar rather than a stage spinner: one live display at a time.
                with context.reporter.trials(f"Tuning {spec.display_name}") as update:
                    tuned = tune_model(
                        context.tracker, context.experiment_id, context.parent_id, config, spec, context.train, update
                    )
                context.timings[f"tune:{spec.display_name}"] = tuned.seconds
                context.reporter.info(_tuning_line(tuned, metric))
                tuning.append(tuned)
                spec = spec.model_copy(update={"params": {**spec.params, **tuned.best_params}})
                extra = {"tuned_by_run": tuned.run_id, f"tune_cv_{metric}": tuned.best_score}
            with context.stage(f"train:{spec.display_name}", f"Training {spec.display_name}"):
                results.append(_train_one(context, spec, extra_params=extra))
        if searched is not None and config.search_settings.ensemble:
            with context.stage("ensemble", "Blending the search's best trials"):
                blended = blend_search_winners(config, searched, results, context.train)
                if blended is not None:
                    results.append(
                        _train_one(
                            context,
                            blended.model.spec,
                            extra_params={"ensemble_members": blended.description},
                            prefitted=(blended.model, blended.fit_seconds),
                        )
                    )
        return TrainingOutcome(models=results, tuning=tuning, search=searched)


def _train_one(context: TrainingContext, spec: ModelSpec, **kwargs: Any) -> ModelResult:
    return train_one(
        context.tracker,
        context.artifacts,
        context.experiment_id,
        context.parent_id,
        context.config,
        spec,
        context.train,
        context.test,
        context.silver,
        preparation=context.preparation,
        **kwargs,
    )


def _search_params(searched: SearchOutcome | None, spec: ModelSpec, metric: str) -> dict[str, Any]:
    """The search's record of a family's winner, logged on the refit model's run."""
    best = next((b for b in searched.families if b.spec is spec), None) if searched else None
    if best is None:
        return {}
    return {"search_run": searched.run_id, f"search_cv_{metric}": best.score, "search_trials": best.trials}


def _search_line(searched: SearchOutcome, metric: str) -> str:
    bests = ", ".join(f"{b.family} {b.score:.4f} ({b.trials} trials)" for b in searched.families)
    folds = f"{searched.folds}-fold CV" if searched.folds > 1 else "hold-out"
    where = "driver workers + Spark" if searched.on_driver else "Spark"
    return (
        f"✓ Searched {len(searched.trials)} trials in {searched.seconds:.0f}s ({folds}, {where}, stopped by "
        f"{searched.stopped_by}); best cross-validated {metric}: {bests}"
    )


def _tuning_line(tuned: TuningResult, metric: str) -> str:
    failed = f", {tuned.failed} failed" if tuned.failed else ""
    return (
        f"✓ Tuned {tuned.model}: {tuned.trials} trials{failed} ({tuned.method} {tuned.algorithm}, "
        f"{tuned.executor}, stopped by {tuned.stopped_by}); best cross-validated {metric} {tuned.best_score:.4f} "
        f"with {tuned.best_params} ({tuned.seconds:.1f}s)"
    )
