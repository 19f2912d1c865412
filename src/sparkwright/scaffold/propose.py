"""From a source's facts to a project: the task, the columns to drop, the keys, the models. No Spark here.

Each decision carries the reason it was taken, which becomes a comment in the project file, so the file
explains itself to the person who edits it next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkwright.errors import ConfigError
from sparkwright.scaffold.inspect import ColumnFacts, SourceFacts

# Tasks that a label alone sets up; the others need settings that a CSV cannot suggest (docs/tasks.md).
SCAFFOLDED_TASKS = ("regression", "classification")
# A numeric label with at most this many distinct values is a class code (0/1, 1..5 stars), not a quantity.
MAX_CLASS_LEVELS = 20
# A string column with more distinct values than this share of the sample is text or an identifier: one-hot
# encoding it would give a feature per row.
NEAR_UNIQUE_SHARE = 0.5
NEAR_UNIQUE_MIN_LEVELS = 100
# A minority class under this share gets class weights and a tuned threshold.
IMBALANCED_SHARE = 0.3
# Above this many rows the data does not fit the driver's memory (single-node model families need it there):
# Spark ML models are listed instead of the budgeted search.
LARGE_DATA_ROWS = 5_000_000
SEARCH_BUDGET = "2m"
TEST_FRACTION = 0.2
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|rownames|index)$", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    """A value of the project with the reason behind it (a comment in the file)."""

    value: Any
    reason: str


@dataclass
class Proposal:
    """A project proposed for a source; :func:`sparkwright.scaffold.render.render_project` writes it out."""

    name: str
    source_path: str
    source_format: str
    schema: dict[str, str]
    label: str
    task: Decision
    drop: dict[str, str]  # column -> why
    keys: Decision | None
    unproven_keys: list[str]
    classification: dict[str, Decision] = field(default_factory=dict)
    models: Decision | None = None
    search: Decision | None = None
    metric: Decision | None = None
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why it is no feature (kept in silver)
    facts: SourceFacts | None = None


def propose_project(facts: SourceFacts, *, label: str, task: str | None = None, name: str | None = None) -> Proposal:
    """Propose a regression or classification project for ``facts``.

    Args:
        facts: What :func:`sparkwright.scaffold.inspect.inspect_source` found.
        label: The column to predict.
        task: ``regression`` or ``classification``; default: proposed from the label.
        name: Project (and registered model) name; default: from the source's file name.

    Raises:
        ConfigError: An unsupported task, a label that does not suit the task, or a label without values.
    """
    target = facts.column(label)
    if target.present == 0:
        raise ConfigError(f"label column {label!r} has no values in a sample of {facts.sample_rows:,} rows.", "--label")
    chosen = _task(target, task)
    drop = _drops(facts, label)
    unique = sorted(facts.unique_in_source, key=lambda c: not _ID_NAME.search(c))  # an id-like name first
    unproven = [
        c.name
        for c in facts.columns
        if c.name != label and c.name not in facts.unique_in_source and _looks_unique(c, facts.sample_rows)
    ]
    keys = None
    if unique:
        keys = Decision(
            [unique[0]],
            f"{unique[0]} is unique and never empty in all {facts.rows:,} rows: re-ingesting merges by it, "
            "so a rerun or an overlapping file adds no duplicates",
        )
    for column in unproven:
        drop.setdefault(column, "unique in the sample: an identifier, which says nothing about a row")
    proposal = Proposal(
        name=name or project_name(facts.path),
        source_path=facts.path,
        source_format=facts.format,
        schema={c.name: c.spark_type for c in facts.columns},
        label=label,
        task=chosen,
        drop=drop,
        keys=keys,
        unproven_keys=[] if keys else unproven,
        facts=facts,
    )
    if chosen.value == "classification":
        proposal.classification = _classification(facts, target)
    proposal.left_out = {
        c.name: f"a {c.spark_type} column: features are numbers, booleans and strings; derive parts of it "
        "(month, weekday) in a cleanse step to use it"
        for c in facts.columns
        if c.kind in {"datetime", "other"} and c.name not in drop and c.name != label
    }
    _models(proposal, facts)
    return proposal


def project_name(path: str) -> str:
    """A valid project name from a file or folder name: ``data/Hotel Rates.csv`` -> ``hotel-rates``."""
    stem = Path(path.rstrip("/")).name.split(".")[0]
    cleaned = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return cleaned or "project"


def _task(label: ColumnFacts, task: str | None) -> Decision:
    if task is not None:
        if task not in SCAFFOLDED_TASKS:
            raise ConfigError(
                f"init scaffolds {' and '.join(SCAFFOLDED_TASKS)} projects, got {task!r}; for the other tasks start "
                "from an example project (docs/tasks.md).",
                "--task",
            )
        if task == "regression" and label.kind != "numeric":
            raise ConfigError(
                f"regression needs a numeric label, but {label.name!r} is {label.spark_type}; use --task "
                "classification, or convert the column first.",
                "--task",
            )
        return Decision(task, "as asked (--task)")
    levels = f"{label.distinct:,} distinct value{'s' if label.distinct != 1 else ''}"
    if label.kind != "numeric":
        return Decision("classification", f"{label.name} is {label.spark_type} with {levels}")
    if label.distinct <= MAX_CLASS_LEVELS and (label.integral or label.spark_type == "boolean" or label.distinct == 2):
        return Decision(
            "classification", f"{label.name} is {label.spark_type} with only {levels}: class codes, not a quantity"
        )
    return Decision("regression", f"{label.name} is numeric ({label.spark_type}) with {levels} in the sample")


def _looks_unique(column: ColumnFacts, sample_rows: int) -> bool:
    return (column.integral or column.kind == "categorical") and column.present == column.distinct == sample_rows > 1


def _drops(facts: SourceFacts, label: str) -> dict[str, str]:
    drop: dict[str, str] = {}
    for column in facts.columns:
        if column.name == label:
            continue
        if column.present == 0:
            drop[column.name] = "empty in the sample"
        elif column.distinct == 1:
            drop[column.name] = "one value only: a constant says nothing about a row"
        elif column.name in facts.unique_in_source:
            drop[column.name] = "unique per row: an identifier, which says nothing about a row"
        elif (
            column.kind == "categorical"
            and column.distinct > NEAR_UNIQUE_MIN_LEVELS
            and column.distinct > NEAR_UNIQUE_SHARE * column.present
        ):
            drop[column.name] = (
                f"text with {column.distinct:,} distinct values in {column.present:,} rows: one-hot encoding it "
                "would make a feature of nearly every row"
            )
    return drop


def _classification(facts: SourceFacts, label: ColumnFacts) -> dict[str, Decision]:
    counts = facts.label_levels
    total = sum(n for _, n in counts) or 1
    rarest_value, rarest = counts[-1]
    share = rarest / total
    settings: dict[str, Decision] = {}
    shares = ", ".join(f"{value}: {n / total:.0%}" for value, n in counts[:6])
    if len(counts) == 2:
        settings["positive_class"] = Decision(
            rarest_value, f"the rarer class, usually the event to catch ({shares}); metrics are about it"
        )
    if share < IMBALANCED_SHARE:
        settings["class_weight"] = Decision("balanced", f"the rarest class is {share:.0%} of the rows: weigh it up")
        if len(counts) == 2:
            settings["threshold"] = Decision(
                "max_f1", "chosen on a validation slice of the training data, not 0.5, for an imbalanced label"
            )
    return settings


def _models(proposal: Proposal, facts: SourceFacts) -> None:
    regression = proposal.task.value == "regression"
    size = f"{'about ' if facts.rows_estimated else ''}{facts.rows:,} rows"
    if facts.rows > LARGE_DATA_ROWS:
        listed = (
            [
                {"type": "linear_regression", "params": {"regParam": 0.01}},
                {"type": "gbt", "params": {"maxIter": 20, "maxDepth": 5, "stepSize": 0.2}},
            ]
            if regression
            else [
                {"type": "logistic_regression", "params": {"regParam": 0.01}},
                {"type": "random_forest", "params": {"numTrees": 40, "maxDepth": 8}},
            ]
        )
        proposal.models = Decision(
            listed, f"{size}: more than the driver holds, so Spark ML models that train on the executors"
        )
    else:
        proposal.search = Decision(
            {"budget": SEARCH_BUDGET, "seed": 42},
            f"{size}: a {SEARCH_BUDGET} search across the model families suited to the size picks and tunes "
            "them; `sparkwright run FILE --budget 10m` searches longer",
        )
    default = "rmse" if regression else "roc_auc"
    why = "root mean squared error, in label units" if regression else "does not depend on the threshold"
    proposal.metric = Decision(default, why)
