"""Small Delta Lake helpers: write one version, read any version, inspect and restore history.

Every write is a single Delta commit, so a job killed mid-write leaves the previous version readable.
All helpers use DataFrame / ``DeltaTable`` APIs that also work over Spark Connect.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Literal

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

WriteMode = Literal["overwrite", "append"]


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


def read_table(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    """Read the Delta table at ``path``, at ``version`` when given (time travel).

    Raises:
        DataError: No table exists there, or the version is not in its history.
    """
    _require_table(spark, path)
    reader = spark.read.format("delta")
    if version is None:
        return reader.load(path)
    latest = table_version(spark, path)
    if not 0 <= version <= latest:
        raise DataError(f"Delta table {path!r} has versions 0..{latest}; version {version} does not exist.")
    try:
        df = reader.option("versionAsOf", version).load(path)
        df.schema  # noqa: B018 - resolve now so a vacuumed version fails here, with context
    except AnalysisException as exc:
        raise DataError(f"cannot read version {version} of Delta table {path!r}: {spark_message(exc)}") from exc
    return df


def write_table(
    df: DataFrame,
    path: str,
    *,
    mode: WriteMode = "overwrite",
    allow_schema_change: bool = False,
) -> int:
    """Write ``df`` as a Delta table at ``path`` in one commit and return the new version.

    The schema of an existing table is never replaced silently: a model trained on one schema and
    scored on another fails far from the cause, so a differing schema stops here with the differences.

    Args:
        df: The rows to write.
        path: Table folder (local or any Hadoop-compatible URL).
        mode: ``overwrite`` replaces the rows (old versions stay readable); ``append`` adds rows.
        allow_schema_change: Replace the schema on overwrite (for diagnostic tables such as rejects).

    Raises:
        DataError: The table exists with a different schema and ``allow_schema_change`` is false.
    """
    if mode not in ("overwrite", "append"):
        raise ValueError(f"mode must be 'overwrite' or 'append', got {mode!r}")
    spark = df.sparkSession
    writer = df.write.format("delta").mode(mode)
    if table_exists(spark, path):
        existing = spark.read.format("delta").load(path).schema
        differences = schema_differences(existing, df.schema)
        if differences:
            if not (allow_schema_change and mode == "overwrite"):
                raise DataError(
                    f"Delta table {path!r} already exists with a different schema: {'; '.join(differences)}. "
                    "Delete the table folder (its history goes with it) or use another project name, "
                    "so the new data gets a table of its own."
                )
            writer = writer.option("overwriteSchema", "true")
            log.info("replacing the schema of %s: %s", path, "; ".join(differences))
    writer.save(path)
    return table_version(spark, path)


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
