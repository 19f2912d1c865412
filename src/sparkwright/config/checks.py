"""Named cross-field checks, run after the schema has parsed the file.

Each check raises :class:`ConfigError` with the YAML path, what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches

from sparkwright.config.forecasting import check_forecasting
from sparkwright.config.recommendation import check_recommendation
from sparkwright.config.schema import ProjectConfig
from sparkwright.config.tasks import TASKS
from sparkwright.errors import ConfigError

Check = Callable[[ProjectConfig], None]


def did_you_mean(value: str, choices: list[str] | set[str]) -> str:
    """`` Did you mean 'x'?`` when a close match exists, else an empty string."""
    close = get_close_matches(value, sorted(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_task_known(config: ProjectConfig) -> None:
    if config.task not in TASKS:
        raise ConfigError(
            f"unknown task {config.task!r}; supported: {', '.join(sorted(TASKS))}."
            + did_you_mean(config.task, set(TASKS)),
            path="task",
        )


def check_metric_fits_task(config: ProjectConfig) -> None:
    metrics = TASKS[config.task].metrics
    if config.metric is not None and config.metric not in metrics:
        raise ConfigError(
            f"metric {config.metric!r} does not apply to task {config.task!r}; "
            f"choose one of: {', '.join(metrics)}." + did_you_mean(config.metric, set(metrics)),
            path="metric",
        )


def check_label(config: ProjectConfig) -> None:
    label = config.data.label
    if TASKS[config.task].needs_label and not label:
        raise ConfigError(f"task {config.task!r} needs a label column; add data.label: <column>.", "data.label")
    if label and label in config.data.drop:
        raise ConfigError(f"the label {label!r} is also listed in data.drop; remove it there.", "data.drop")
    if label and config.data.features and label in config.data.features:
        raise ConfigError(
            f"the label {label!r} cannot also be a feature; remove it from data.features.", "data.features"
        )


def check_log_label(config: ProjectConfig) -> None:
    if config.cleanse.log_label and not TASKS[config.task].numeric_label:
        raise ConfigError(
            f"log_label needs a numeric label, which task {config.task!r} does not have; remove it.",
            "cleanse.log_label",
        )


def check_model_names_unique(config: ProjectConfig) -> None:
    require_unique_names([spec.display_name for spec in config.models], "models", "model name")


def check_quality_names_unique(config: ProjectConfig) -> None:
    require_unique_names([rule.display_name for rule in config.quality], "quality", "rule name")


def require_unique_names(names: list[str], section: str, what: str) -> None:
    """Names key results (leaderboard rows, quarantine counts): two equal names would overwrite each other."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ConfigError(
                f"{what} {name!r} is used by {section}[{seen[name]}] too; give one of them a unique 'name:'.",
                f"{section}[{index}].name",
            )
        seen[name] = index


def check_spark_target(config: ProjectConfig) -> None:
    if config.spark.master and config.spark.remote:
        raise ConfigError(
            "give either spark.master (classic Spark) or spark.remote (Spark Connect), not both.", "spark"
        )


def check_ingest_mode(config: ProjectConfig) -> None:
    if config.data.ingest.mode == "merge" and not config.data.keys:
        raise ConfigError(
            "merge upserts rows by their key, but data.keys is empty; list the key columns in data.keys "
            "or use mode: overwrite / append.",
            "data.ingest.mode",
        )


def check_custom_steps(config: ProjectConfig) -> None:
    for index, step in enumerate(config.cleanse.steps):
        module, sep, function = step.partition(":")
        if not sep or not module or not function.isidentifier():
            raise ConfigError(
                f"a step is 'module:function' (e.g. my_project.cleaning:fix_prices), got {step!r}.",
                f"cleanse.steps[{index}]",
            )


def check_task_sections(config: ProjectConfig) -> None:
    """A task's own section (``classification: ...``) is given only with that task."""
    for name, spec in TASKS.items():
        if spec.section and name != config.task and getattr(config, spec.section, None) is not None:
            raise ConfigError(
                f"the {spec.section} section applies to task {name}, not {config.task!r}; remove it.",
                spec.section,
            )


def check_tune_targets(config: ProjectConfig) -> None:
    """Every model named in ``tune.space`` exists; optuna has no adaptive TPE."""
    if config.tune is None:
        return
    names = [spec.display_name for spec in config.models]
    for name in config.tune.space:
        if name not in names:
            raise ConfigError(
                f"tune.space names model {name!r}, which is not in models ({', '.join(names)})."
                + did_you_mean(name, names),
                f"tune.space.{name}",
            )
    if not config.tune.space:
        raise ConfigError("tune.space is empty; give at least one model's search space.", "tune.space")
    if config.tune.method == "optuna" and config.tune.algorithm == "atpe":
        raise ConfigError(
            "adaptive TPE is a hyperopt algorithm; with method: optuna use tpe or random.", "tune.algorithm"
        )


CHECKS: list[Check] = [
    check_task_known,
    check_metric_fits_task,
    check_label,
    check_log_label,
    check_model_names_unique,
    check_quality_names_unique,
    check_spark_target,
    check_ingest_mode,
    check_custom_steps,
    check_task_sections,
    check_tune_targets,
    check_recommendation,
    check_forecasting,
]


def run_checks(config: ProjectConfig) -> None:
    """Run every cross-field check in order; the first failure raises."""
    for check in CHECKS:
        check(config)
