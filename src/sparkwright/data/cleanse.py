"""Cleanse: bronze rows -> a typed silver table that the feature stages can use directly.

Numeric values are NOT imputed here. The imputer (median by default) is fitted inside the Spark ML
Pipeline on the training split only; imputing here would compute the median over the test rows too
and leak them into training. What cleanse does instead is flag missing numeric values with
``<col>_missing`` indicator columns, which carry no statistics of the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DoubleType, FloatType, NumericType, StringType, StructType

from sparkwright.config.checks import did_you_mean
from sparkwright.config.schema import ProjectConfig
from sparkwright.data.lake import write_rejects, write_table
from sparkwright.data.preparation import (
    INDICATOR_OF_KEY,
    MISSING_SUFFIX,
    column,
    filter_condition,
    indicator_column,
    is_missing,
    silver_column,
    source_metadata,
)
from sparkwright.data.steps import apply_steps
from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanseResult:
    """The silver rows, the quarantined rows (with ``_reason``) and a report of what happened to the input."""

    df: DataFrame
    rejected: DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def cleanse(df: DataFrame, config: ProjectConfig) -> CleanseResult:
    """Turn bronze rows into silver rows, following ``config.data`` and ``config.cleanse``.

    Steps: run your own ``cleanse.steps`` first (see :mod:`sparkwright.data.steps`), so columns they add
    or derive are checked, kept, filtered on and typed like any other; check the columns; de-duplicate
    (exact duplicate records, or by ``data.keys``), done before
    ``data.drop`` so that rows differing only in a dropped id column are not merged; quarantine rows whose
    label is null, NaN or (with ``log_label``) <= 0; apply ``cleanse.filters``, which may use dropped columns
    (removed rows are counted per filter, not quarantined: they were filtered on purpose); keep the label
    and the features (``data.features``, else all but ``data.drop``); booleans and numbers become doubles
    (not the user and item ids of task recommendation: they keep their type), with ``<col>_missing``
    indicators for numeric features that have gaps;
    missing or empty strings become ``cleanse.categorical_missing``. Dates and timestamps are left as
    they are (``report["other_columns"]``). The feature columns are built by ``data.preparation``, the
    definitions a model's scoring repeats, and carry their source type in their metadata.

    The report's counts need two Spark jobs over ``df``; cache ``df`` first if it is expensive to compute.

    Raises:
        DataError: Unknown label / drop / feature / key column, a non-numeric label where the task needs
            a number, or a custom step raised or returned something other than a DataFrame.
        ConfigError: A filter is not a valid Spark SQL boolean expression (path ``cleanse.filters[i]``), or a
            custom step cannot be imported (path ``cleanse.steps[i]``).
    """
    if config.cleanse.steps:
        df = apply_steps(df, config.cleanse.steps)
    label = config.data.label
    columns = _select_columns(df, config)
    types = {f.name: f.dataType for f in df.schema.fields}
    if label and config.task_spec.numeric_label and not _is_numeric(types[label]):
        raise DataError(
            f"the label {label!r} has type {types[label].simpleString()}, but task {config.task!r} needs a "
            "numeric label; pick a numeric column for data.label or declare its type in data.source.schema."
        )

    input_rows = df.count()
    if config.cleanse.deduplicate:
        df = df.dropDuplicates(config.data.keys or None)
    # Filters see every bronze column, so a dropped column (e.g. a date) can still select rows.
    passes = [filter_condition(df, expression, index) for index, expression in enumerate(config.cleanse.filters)]
    reason = _quarantine_reason(label, types.get(label) if label else None, config.cleanse.log_label)
    df = df.withColumn("_reason", reason)

    # A user or item id (task recommendation) or a series key (task forecasting) names an entity: it keeps its
    # source type (movielens' integer ids stay integers, which ALS takes as they are) and a missing one stays
    # null (the task drops its rows).
    ids = {c for c in (config.data.user, config.data.item, *config.data.series) if c}
    features = [c for c in columns if c != label and c not in ids]
    numeric = [c for c in features if _is_numeric(types[c]) or isinstance(types[c], BooleanType)]
    categorical = [c for c in features if isinstance(types[c], StringType)]
    other = [c for c in features if c not in numeric and c not in categorical]

    # One job counts duplicates, quarantined rows, rows removed per filter and gaps per feature.
    kept = F.col("_reason").isNull()
    aggs = [F.count(F.lit(1)).alias("rows"), F.count("_reason").alias("rejected")]
    for index, condition in enumerate(passes):
        aggs.append(F.count(F.when(kept & ~condition, 1)).alias(f"f{index}"))
        kept = kept & condition
    aggs += [F.count(F.when(kept & is_missing(column(c), types[c]), 1)).alias(f"m{i}") for i, c in enumerate(numeric)]
    blank = [column(c).isNull() | (column(c) == "") for c in categorical]
    aggs += [F.count(F.when(kept & gap, 1)).alias(f"s{i}") for i, gap in enumerate(blank)]
    counts = df.agg(*aggs).first()

    rejected = df.where(F.col("_reason").isNotNull()).select(*[column(c) for c in columns], "_reason")
    silver = df.where(kept)
    with_gaps = [c for i, c in enumerate(numeric) if counts[f"m{i}"] > 0]
    optional = set(with_gaps) | {c for i, c in enumerate(categorical) if counts[f"s{i}"] > 0}
    indicators = [c + MISSING_SUFFIX for c in with_gaps] if config.cleanse.missing_indicators else []
    clashes = [name for name in indicators if name in columns]
    if clashes:
        raise DataError(
            f"cannot add missing-value indicators {', '.join(clashes)}: columns with these names already exist; "
            "rename them, or set cleanse.missing_indicators: false."
        )

    out: list[Column] = []
    for c in columns:
        if c in numeric or c in categorical:
            metadata = source_metadata(types[c], c in optional)
            out.append(silver_column(c, types[c], config.cleanse.categorical_missing).alias(c, metadata=metadata))
        elif c == label and _is_numeric(types[c]):
            out.append(column(c).cast("double").alias(c))
        else:
            out.append(column(c))
    if config.cleanse.missing_indicators:
        out += [
            indicator_column(c, types[c]).alias(c + MISSING_SUFFIX, metadata={INDICATOR_OF_KEY: c}) for c in with_gaps
        ]
    silver = silver.select(*out)

    filtered = {expression: int(counts[f"f{i}"]) for i, expression in enumerate(config.cleanse.filters)}
    after_dedup, rejected_rows = int(counts["rows"]), int(counts["rejected"])
    report = {
        "input_rows": input_rows,
        "duplicates_removed": input_rows - after_dedup,
        "rejected_rows": rejected_rows,
        "filtered_rows": filtered,
        "output_rows": after_dedup - rejected_rows - sum(filtered.values()),
        "missing_indicator_columns": indicators,
        "categorical_columns": categorical,
        "numeric_columns": numeric + indicators,
        "other_columns": other,
    }
    log.info("cleansed %d rows -> %d (%s)", input_rows, report["output_rows"], report)
    return CleanseResult(df=silver, rejected=rejected, report=report)


def write_silver(result: CleanseResult, table_path: str, rejects_path: str) -> int:
    """Overwrite the silver table and its rejects table; return the silver Delta version.

    The silver schema is enforced (see :func:`sparkwright.data.lake.write_table`); the rejects table
    follows :func:`sparkwright.data.lake.write_rejects`.
    """
    rejected = result.rejected.withColumn("_cleansed_at", F.current_timestamp())
    write_rejects(rejected, rejects_path, rows=result.report["rejected_rows"])
    return write_table(result.df, table_path)


def feature_columns(df: DataFrame | StructType, config: ProjectConfig) -> tuple[list[str], list[str]]:
    """The (categorical, numeric) feature columns of a silver DataFrame (or its schema), label and keys
    excluded (a key names a row; it says nothing about it).

    Categorical = string columns; numeric = numeric columns, missing-indicator columns included. With
    ``data.features`` set, only those features (and their indicators) count. Other types (dates) are left out.
    """
    not_features = {config.data.label, *config.data.keys}
    wanted = set(config.data.features) if config.data.features else None
    categorical: list[str] = []
    numeric: list[str] = []
    schema = df if isinstance(df, StructType) else df.schema
    for f in schema.fields:
        if f.name in not_features:
            continue
        base = f.name[: -len(MISSING_SUFFIX)] if f.name.endswith(MISSING_SUFFIX) else f.name
        if wanted is not None and f.name not in wanted and base not in wanted:
            continue
        if isinstance(f.dataType, StringType):
            categorical.append(f.name)
        elif _is_numeric(f.dataType) or isinstance(f.dataType, BooleanType):
            numeric.append(f.name)
    return categorical, numeric


# ------------------------------------------------------------------------------------------------ helpers


def _select_columns(df: DataFrame, config: ProjectConfig) -> list[str]:
    """The columns kept in silver, in input order, after checking every name the config mentions."""
    available = df.columns
    listing = ", ".join(available)
    label = config.data.label
    if label and label not in available:
        raise DataError(
            f"data.label: the label column {label!r} is not in the data."
            + did_you_mean(label, available)
            + f" Available columns: {listing}."
        )
    for key, names in (
        ("data.drop", config.data.drop),
        ("data.keys", config.data.keys),
        ("data.features", config.data.features or []),
    ):
        for name in names:
            if name not in available:
                raise DataError(
                    f"{key}: column {name!r} is not in the data."
                    + did_you_mean(name, available)
                    + f" Available columns: {listing}."
                )
    if config.data.features:
        # Keys stay beside the features: they identify the rows (split, scored and clustered rows).
        keep = {*config.data.features, *config.data.keys, *([label] if label else [])}
        return [c for c in available if c in keep]
    dropped = set(config.data.drop)
    return [c for c in available if c not in dropped]


def _quarantine_reason(label: str | None, label_type: DataType | None, log_label: bool) -> Column:
    """Why a row cannot be used for training, or null."""
    if not label:
        return F.lit(None).cast("string")
    value = column(label)
    reason = F.when(value.isNull(), F.lit(f"label {label!r} is null"))
    if isinstance(label_type, FloatType | DoubleType):
        reason = reason.when(F.isnan(value), F.lit(f"label {label!r} is NaN"))
    if log_label:
        reason = reason.when(value <= 0, F.lit(f"label {label!r} is <= 0; log_label needs positive values"))
    return reason


def _is_numeric(data_type: DataType) -> bool:
    return isinstance(data_type, NumericType)
