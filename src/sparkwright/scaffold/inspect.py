"""What ``sparkwright init`` learns from a data source, in Spark, from a bounded sample.

The sample is drawn across the whole source (not its first rows: a file sorted by the label would otherwise
look like one class) and is at most ``sample_rows`` rows, so the statistics cost the same whatever the size.
Only the row count of a text file is estimated (from its bytes per line); Parquet and Delta tables count
from their metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkwright.config.schema import SourceConfig
from sparkwright.data.lake import local_path
from sparkwright.data.sources import parse_source, resolve_format, split_parsed

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Enough rows for distinct counts and class shares to be telling; small enough to aggregate in a second.
DEFAULT_SAMPLE_ROWS = 20_000
# Most frequent label values kept (classification levels, and the evidence for a numeric label's task).
LABEL_LEVELS_KEPT = 50
_TEXT_FORMATS = {"csv", "json"}
_HEAD_BYTES = 1 << 20
# Text files up to this size are counted (a second or two); larger ones are estimated from their head.
_COUNT_BYTES = 64 << 20


@dataclass(frozen=True)
class ColumnFacts:
    """One column as seen in the sample.

    Attributes:
        name: The column name (as the project will see it).
        spark_type: Spark SQL type name (``int``, ``double``, ``string`` ...).
        kind: numeric | categorical | datetime | other (what the features make of it).
        integral: An integer type (ids and class codes are integers).
        present: Non-missing values in the sample.
        distinct: Distinct non-missing values in the sample.
        minimum: Smallest value (numeric columns), else None.
        maximum: Largest value (numeric columns), else None.
    """

    name: str
    spark_type: str
    kind: str
    integral: bool
    present: int
    distinct: int
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class SourceFacts:
    """A source as seen in its sample.

    Attributes:
        path: The source path as given.
        format: Its registered source format.
        rows: Rows of the whole source: exact, or estimated when ``rows_estimated``.
        rows_estimated: True when ``rows`` comes from a text file's size.
        sample_rows: Rows in the sample the statistics come from.
        rejected_in_sample: Malformed rows met in the sample (they would be quarantined at ingest).
        columns: Each column's facts, in source order.
        label_levels: The label's most frequent values in the sample with their counts, most frequent first.
        unique_in_source: Columns checked unique and non-null over the whole source (candidate keys).
    """

    path: str
    format: str
    rows: int
    rows_estimated: bool
    sample_rows: int
    rejected_in_sample: int
    columns: list[ColumnFacts]
    label_levels: list[tuple[Any, int]] = field(default_factory=list)
    unique_in_source: list[str] = field(default_factory=list)

    def column(self, name: str) -> ColumnFacts:
        return next(c for c in self.columns if c.name == name)

    @property
    def sampled_everything(self) -> bool:
        return self.sample_rows >= self.rows and not self.rows_estimated


def inspect_source(
    spark: SparkSession,
    path: str,
    *,
    label: str,
    source_format: str | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    key_check_rows: int = 5_000_000,
    seed: int = 42,
) -> SourceFacts:
    """Read a bounded sample of ``path`` and describe its columns.

    Args:
        spark: The session.
        path: A CSV, JSON, Parquet file or folder, or a Delta table.
        label: The column to predict (its levels are counted).
        source_format: A registered source format; default: from the path.
        sample_rows: Most rows the statistics are computed on.
        key_check_rows: Sources up to this many rows get a full pass that proves a unique-looking integer or
            string column unique (a key); larger ones only get the sample's word, and no key is proposed.
        seed: Seed of the sample.

    Raises:
        DataError: The source is missing, unreadable, empty, or has no column ``label``.
        ConfigError: The format is unknown or cannot be told from the path.
    """
    from pyspark.sql import functions as F

    from sparkwright.config.checks import did_you_mean
    from sparkwright.errors import DataError

    fmt = resolve_format(SourceConfig(path=path, format=source_format))
    rows, estimated = _row_count(spark, path, fmt)
    if rows == 0:
        raise DataError(f"{path!r} has no data rows: there is nothing to learn a model from.")
    fraction = min(1.0, 1.2 * sample_rows / rows)
    options = {"samplingRatio": fraction} if fmt in _TEXT_FORMATS and fraction < 1 else {}
    parsed, columns = parse_source(spark, SourceConfig(path=path, format=fmt, options=options))
    if label not in columns:
        raise DataError(
            f"--label: {label!r} is not a column of {path}." + did_you_mean(label, columns) + f" Columns: "
            f"{', '.join(columns)}."
        )
    drawn = parsed.sample(fraction=fraction, seed=seed) if fraction < 1 else parsed
    sample = drawn.limit(sample_rows).cache()
    try:
        accepted, rejected = split_parsed(sample, columns, path)
        facts = _column_facts(accepted)
        sampled = accepted.count()
        levels = [
            (row[0], int(row[1]))
            for row in accepted.where(F.col(label).isNotNull())
            .groupBy(label)
            .count()
            .orderBy(F.desc("count"), F.asc(label))
            .limit(LABEL_LEVELS_KEPT)
            .collect()
        ]
        rejected_rows = rejected.count()
    finally:
        sample.unpersist()
    unique = _proven_unique(parsed, columns, facts, sampled, label, rows if rows <= key_check_rows else 0)
    return SourceFacts(path, fmt, rows, estimated, sampled, rejected_rows, facts, levels, unique)


def _row_count(spark: SparkSession, path: str, fmt: str) -> tuple[int, bool]:
    """``(rows, estimated)``: a large text file's rows from its size and the bytes per line of its head; a
    small one's, and other formats' (Parquet and Delta from metadata), counted."""
    local = local_path(path)
    if fmt in _TEXT_FORMATS and local is not None:
        files = _files(local)
        total = sum(os.path.getsize(f) for f in files)
        if total > _COUNT_BYTES:
            with open(files[0], "rb") as handle:
                head = handle.read(_HEAD_BYTES)
            return max(1, round(total * (head.count(b"\n") or 1) / len(head))), True
    parsed, _ = parse_source(spark, SourceConfig(path=path, format=fmt))
    return parsed.count(), False


def _files(local: str) -> list[str]:
    if os.path.isfile(local):
        return [local]
    found = []
    for folder, _, names in os.walk(local):
        found += [os.path.join(folder, n) for n in sorted(names) if not n.startswith(("_", "."))]
    return found


def _column_facts(df: DataFrame) -> list[ColumnFacts]:
    """Every column's counts in one aggregation over the (cached) sample."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    exprs = []
    for i, f in enumerate(df.schema.fields):
        value = F.col(f"`{f.name}`")
        if isinstance(f.dataType, T.FloatType | T.DoubleType):
            value = F.when(~F.isnan(value), value)
        exprs += [F.count(value).alias(f"p{i}"), F.count_distinct(value).alias(f"d{i}")]
        if isinstance(f.dataType, T.NumericType):
            exprs += [F.min(value).cast("double").alias(f"lo{i}"), F.max(value).cast("double").alias(f"hi{i}")]
    stats = df.agg(*exprs).first().asDict()
    return [
        ColumnFacts(
            name=f.name,
            spark_type=f.dataType.simpleString(),
            kind=_kind(f.dataType),
            integral=isinstance(f.dataType, T.IntegralType),
            present=int(stats[f"p{i}"]),
            distinct=int(stats[f"d{i}"]),
            minimum=stats.get(f"lo{i}"),
            maximum=stats.get(f"hi{i}"),
        )
        for i, f in enumerate(df.schema.fields)
    ]


def _kind(dtype: Any) -> str:
    from pyspark.sql import types as T

    if isinstance(dtype, T.NumericType | T.BooleanType):
        return "numeric"
    if isinstance(dtype, T.StringType):
        return "categorical"
    if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "datetime"
    return "other"


def _proven_unique(
    parsed: DataFrame, columns: list[str], facts: list[ColumnFacts], sampled: int, label: str, rows: int
) -> list[str]:
    """Integer or string columns unique and non-null in the sample, and then over the whole source (one
    pass); none when the source is too large for that pass (``rows`` 0)."""
    from pyspark.sql import functions as F

    candidates = [
        c.name
        for c in facts
        if c.name != label and (c.integral or c.kind == "categorical") and c.present == c.distinct == sampled > 1
    ]
    if not candidates or not rows:
        return []
    accepted, _ = split_parsed(parsed, columns, "")
    exprs = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(candidates):
        exprs += [F.count(F.col(f"`{name}`")).alias(f"p{i}"), F.count_distinct(F.col(f"`{name}`")).alias(f"d{i}")]
    stats = accepted.agg(*exprs).first().asDict()
    total = stats["rows"]
    return [name for i, name in enumerate(candidates) if stats[f"p{i}"] == stats[f"d{i}"] == total]
