"""Small Delta Lake helpers: write one version, read any version, inspect and restore history.

Every write is a single Delta commit, so a job killed mid-write leaves the previous version readable.
All helpers use DataFrame / ``DeltaTable`` APIs that also work over Spark Connect.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import TYPE_CHECKING, Any, Literal

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import functions as F

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

WriteMode = Literal["overwrite", "append"]

# How many recent commits to search for a write's own commit.
_OWN_COMMIT_SEARCH = 50
_COMMIT_ATTEMPTS = 4
_COMMIT_CONFLICTS = (
    ConcurrentAppendException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)


def table_exists(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` holds a Delta table (a local folder without ``_delta_log`` is not one)."""
    local = local_path(path)
    if local is not None:
        return os.path.isdir(os.path.join(local, "_delta_log"))
    try:
        return bool(DeltaTable.isDeltaTable(spark, path))
    except AnalysisException:
        return False


def table_version(spark: SparkSession, path: str) -> int:
    """The latest version of the Delta table at ``path``.

    Raises:
        DataError: No Delta table exists there.
    """
    _require_table(spark, path)
    local = local_path(path)
    if local is not None:
        # Commit N is the file _delta_log/<N, 20 digits>.json: reading names is instant, a history query is a job.
        commits = [name[:-5] for name in os.listdir(os.path.join(local, "_delta_log")) if name.endswith(".json")]
        versions = [int(stem) for stem in commits if stem.isdigit()]
        if versions:
            return max(versions)
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def table_history(spark: SparkSession, path: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` commits of a table as dicts (version, timestamp, operation, parameters, metrics).

    Raises:
        DataError: No Delta table exists there.
    """
    _require_table(spark, path)
    rows = (
        DeltaTable.forPath(spark, path)
        .history(limit)
        .select("version", "timestamp", "operation", "operationParameters", "operationMetrics")
        .collect()
    )
    return [row.asDict(recursive=True) for row in rows]


def read_table(spark: SparkSession, path: str, version: int | None = None, timestamp: str | None = None) -> DataFrame:
    """Read the Delta table at ``path``, as of ``version`` or ``timestamp`` when given (time travel).

    Args:
        spark: The session.
        path: Table folder or URL.
        version: A commit number from :func:`table_history`.
        timestamp: A date or timestamp string (``2024-05-01`` or ``2024-05-01 12:00:00``); the table as it was
            then, i.e. the newest commit at or before it.

    Raises:
        DataError: No table exists there, both ``version`` and ``timestamp`` were given, or the version or
            timestamp is outside the table's history (the message gives the range that exists).
    """
    _require_table(spark, path)
    if version is not None and timestamp is not None:
        raise DataError(f"read Delta table {path!r} as of a version or a timestamp, not both.")
    reader = spark.read.format("delta")
    if version is None and timestamp is None:
        return reader.load(path)
    if version is not None:
        latest = table_version(spark, path)
        if not 0 <= version <= latest:
            raise DataError(f"Delta table {path!r} has versions 0..{latest}; version {version} does not exist.")
        option, value, what = "versionAsOf", str(version), f"version {version}"
    else:
        option, value, what = "timestampAsOf", str(timestamp), f"timestamp {timestamp!r}"
    try:
        df = reader.option(option, value).load(path)
        df.schema  # noqa: B018 - resolve now so a vacuumed version or a bad timestamp fails here, with context
    except (AnalysisException, IllegalArgumentException) as exc:
        raise DataError(
            f"cannot read Delta table {path!r} as of {what}: {spark_message(exc)} {_history_range(spark, path)}"
        ) from exc
    return df


def _history_range(spark: SparkSession, path: str) -> str:
    """``It has versions 0..N, committed <first> .. <last>.``: what a user can time-travel to."""
    rows = DeltaTable.forPath(spark, path).history().select("version", "timestamp").collect()
    if not rows:
        return ""
    first, last = min(rows, key=lambda r: r.version), max(rows, key=lambda r: r.version)
    return (
        f"It has versions {first.version}..{last.version}, committed {first.timestamp.isoformat(' ', 'milliseconds')} "
        f".. {last.timestamp.isoformat(' ', 'milliseconds')}."
    )


def write_table(
    df: DataFrame,
    path: str,
    *,
    mode: WriteMode = "overwrite",
    allow_schema_change: bool = False,
    evolve_schema: bool = False,
    replace_where: str | None = None,
) -> int:
    """Write ``df`` as a Delta table at ``path`` in one commit and return the new version.

    The schema of an existing table is never replaced silently: a model trained on one schema and
    scored on another fails far from the cause, so a differing schema stops here with the differences.
    Appends that lose a commit race to another writer are retried (a few times) on the new table state.

    Args:
        df: The rows to write.
        path: Table folder (local or any Hadoop-compatible URL).
        mode: ``overwrite`` replaces the rows (old versions stay readable); ``append`` adds rows.
        allow_schema_change: Replace the schema on overwrite (for diagnostic tables such as rejects).
        evolve_schema: On append, let ``df`` add columns (Delta ``mergeSchema``); missing or retyped
            columns still fail, because they would break readers of the existing rows.
        replace_where: With ``overwrite`` on an existing table, replace only the rows matching this SQL
            condition (all of ``df`` must match it): an idempotent rewrite of one slice, in one commit.

    Raises:
        DataError: The table exists with a different schema that the options do not allow.
    """
    if mode not in ("overwrite", "append"):
        raise ValueError(f"mode must be 'overwrite' or 'append', got {mode!r}")
    spark = df.sparkSession
    token = f"sparkwright-write-{uuid.uuid4().hex}"
    for attempt in range(1, _COMMIT_ATTEMPTS + 1):
        writer = df.write.format("delta").mode(mode).option("userMetadata", token)
        exists = table_exists(spark, path)
        if exists and replace_where is not None and mode == "overwrite":
            writer = writer.option("replaceWhere", replace_where)
        if exists:
            existing = spark.read.format("delta").load(path).schema
            if mode == "append":
                if check_compatible(existing, df.schema, path, evolve_schema=evolve_schema):
                    writer = writer.option("mergeSchema", "true")
            elif differences := schema_differences(existing, df.schema):
                if not allow_schema_change:
                    raise DataError(
                        f"Delta table {path!r} already exists with a different schema: {'; '.join(differences)}. "
                        "Delete the table folder (its history goes with it) or use another project name, "
                        "so the new data gets a table of its own."
                    )
                writer = writer.option("overwriteSchema", "true")
                log.info("replacing the schema of %s: %s", path, "; ".join(differences))
        try:
            writer.save(path)
            break
        except _COMMIT_CONFLICTS as exc:
            # Blind appends do not conflict in Delta; a race on the first commit or a concurrent schema change
            # can. The rows of the failed attempt were never committed, so writing again is safe.
            if mode != "append" or attempt == _COMMIT_ATTEMPTS:
                raise DataError(
                    f"could not commit to Delta table {path!r} after {attempt} attempt(s); another writer kept "
                    f"changing it: {spark_message(exc)}"
                ) from exc
            log.warning("commit conflict on %s (attempt %d), retrying: %s", path, attempt, spark_message(exc))
    return _own_commit_version(spark, path, token)


def _own_commit_version(spark: SparkSession, path: str, token: str) -> int:
    """The version of the commit that carries ``token``: with concurrent writers the latest may be another's."""
    local = local_path(path)
    if local is not None:
        log_dir = os.path.join(local, "_delta_log")
        versions = sorted(
            (int(name[:-5]) for name in os.listdir(log_dir) if name.endswith(".json") and name[:-5].isdigit()),
            reverse=True,
        )
        for version in versions[:_OWN_COMMIT_SEARCH]:
            with open(os.path.join(log_dir, f"{version:020d}.json"), encoding="utf-8") as commit:
                if token in commit.read():
                    return version
    found = (
        DeltaTable.forPath(spark, path)
        .history(_OWN_COMMIT_SEARCH)
        .where(F.col("userMetadata") == token)
        .select("version")
        .collect()
    )
    return int(found[0][0]) if found else table_version(spark, path)


def merge_table(df: DataFrame, path: str, keys: list[str], *, evolve_schema: bool = False) -> int:
    """Upsert ``df`` into the Delta table at ``path`` by ``keys`` in one commit; return the new version.

    Matched rows are updated (only when a value differs, so an unchanged row rewrites nothing), others are
    inserted; merging the same rows twice leaves the same rows. Keys match null-safely, so a null key
    does not insert a new copy on every run. Exact duplicate rows in ``df`` are collapsed; two different
    rows with one key are an error, since which one should win is the user's decision, not an accident
    of partition order. A missing table is created from ``df``.

    Raises:
        DataError: A key column is missing, ``df`` has conflicting rows for one key, or the schema differs
            in a way the options do not allow (see :func:`write_table`).
    """
    if not keys:
        raise DataError(f"merging into Delta table {path!r} needs key columns (data.keys) to match rows on.")
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise DataError(
            f"key column(s) {', '.join(missing)} are not in the data to merge into {path!r}; "
            f"its columns are {', '.join(df.columns)}."
        )
    spark = df.sparkSession
    source = df.dropDuplicates()
    _require_unique_keys(source, keys, path)
    if not table_exists(spark, path):
        return write_table(source, path)
    existing = spark.read.format("delta").load(path).schema
    added = check_compatible(existing, df.schema, path, evolve_schema=evolve_schema)
    on = " AND ".join(f"t.{_quote(k)} <=> s.{_quote(k)}" for k in keys)
    values = [c for c in df.columns if c not in keys and c in existing.fieldNames()]
    builder = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), on)
    if added or not values:
        builder = builder.whenMatchedUpdateAll()  # new columns must be filled on matched rows too
    else:
        changed = " OR ".join(f"NOT (t.{_quote(c)} <=> s.{_quote(c)})" for c in values)
        builder = builder.whenMatchedUpdateAll(condition=changed)
    builder = builder.whenNotMatchedInsertAll()
    if added:
        builder = builder.withSchemaEvolution()
    builder.execute()
    return table_version(spark, path)


def check_compatible(existing: StructType, incoming: StructType, path: str, *, evolve_schema: bool) -> bool:
    """Check that rows with schema ``incoming`` may be added to a table with schema ``existing``.

    Returns:
        Whether ``incoming`` adds columns (allowed only with ``evolve_schema``).

    Raises:
        DataError: Columns are missing or retyped, or added without ``evolve_schema``; lists the differences.
    """
    differences = schema_differences(existing, incoming)
    if not differences:
        return False
    added_only = all(d.startswith("added columns:") for d in differences)
    if added_only and evolve_schema:
        log.info("adding columns to %s: %s", path, "; ".join(differences))
        return True
    hint = (
        "Only added columns can evolve a table (data.ingest.evolve_schema: true); a missing or retyped column "
        "would break readers of the existing rows. Fix the source, or write with mode overwrite into a new table."
        if not added_only
        else "Set data.ingest.evolve_schema: true to add the new columns (existing rows get nulls)."
    )
    raise DataError(f"cannot add rows to Delta table {path!r}: the schema differs: {'; '.join(differences)}. {hint}")


def duplicated_keys(df: DataFrame, keys: list[str], examples: int = 3) -> str | None:
    """Up to ``examples`` keys that several rows of ``df`` share, as text (``id=3 (2 rows); ...``); None if none do."""
    clashes = df.groupBy(*keys).count().filter(F.col("count") > 1).limit(examples).collect()
    if not clashes:
        return None
    return "; ".join(", ".join(f"{k}={row[k]!r}" for k in keys) + f" ({row['count']} rows)" for row in clashes)


def _require_unique_keys(df: DataFrame, keys: list[str], path: str) -> None:
    examples = duplicated_keys(df, keys)
    if examples:
        raise DataError(
            f"the data to merge into {path!r} has different rows with the same key ({', '.join(keys)}), e.g. "
            f"{examples}. Keep one row per key in the source, or add a column to data.keys."
        )


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def write_rejects(rejected: DataFrame, path: str, *, rows: int) -> int | None:
    """Overwrite a rejects table with ``rejected`` (``rows`` of them); return its version.

    An empty rejects table is not created: it would cost a Delta commit to say nothing. An existing
    one is always overwritten, so rejects of an earlier run are never mistaken for this run's. The
    schema may change between runs (it mirrors the source), so it is replaced rather than enforced.
    """
    if rows == 0 and not table_exists(rejected.sparkSession, path):
        return None
    return write_table(rejected, path, allow_schema_change=True)


def restore_table(spark: SparkSession, path: str, version: int) -> int:
    """Make ``version`` the current state of the table again (a new commit) and return the new version.

    Raises:
        DataError: No table exists there, or the version is not in its history.
    """
    latest = table_version(spark, path)
    if not 0 <= version <= latest:
        raise DataError(f"Delta table {path!r} has versions 0..{latest}; cannot restore version {version}.")
    DeltaTable.forPath(spark, path).restoreToVersion(version)
    return table_version(spark, path)


def schema_differences(old: StructType, new: StructType) -> list[str]:
    """Human-readable column differences between two schemas (nullability is ignored)."""
    old_types = {f.name: f.dataType.simpleString() for f in old.fields}
    new_types = {f.name: f.dataType.simpleString() for f in new.fields}
    out = []
    added = [c for c in new_types if c not in old_types]
    missing = [c for c in old_types if c not in new_types]
    changed = [
        f"{c} {old_types[c]} -> {new_types[c]}" for c in new_types if c in old_types and old_types[c] != new_types[c]
    ]
    if added:
        out.append(f"added columns: {', '.join(added)}")
    if missing:
        out.append(f"missing columns: {', '.join(missing)}")
    if changed:
        out.append(f"changed types: {', '.join(changed)}")
    return out


def _require_table(spark: SparkSession, path: str) -> None:
    if not table_exists(spark, path):
        raise DataError(f"no Delta table at {path!r}; run the stage that writes it first (e.g. sparkwright ingest).")


def local_path(path: str) -> str | None:
    """The filesystem path for a local path or ``file:`` URL, else None (s3a://, hdfs://, ...)."""
    if path.startswith("file://"):
        return path[len("file://") :]
    if path.startswith("file:"):
        return path[len("file:") :]
    return None if "://" in path else path


def spark_message(exc: BaseException) -> str:
    """The first meaningful line of a Spark error (parse errors start with a blank line, then a plan follows)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
