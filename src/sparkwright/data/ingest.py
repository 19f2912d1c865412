"""Ingest: a source into a bronze Delta table, with every rejected row kept in a rejects table.

Three modes (``data.ingest.mode``): ``overwrite`` replaces bronze with the source; ``append`` adds the rows;
``merge`` upserts by ``data.keys``, so ingesting the same file twice changes nothing but the version number.
Each is one Delta commit, so a run killed mid-write leaves the previous version as it was.

The bronze table only changes when the input is good enough (``max_rejected_fraction``): a broken
export must not silently replace yesterday's good data, while the rejects table is written whenever
something was rejected, so the user can see what was wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pyspark.sql import functions as F

from sparkwright.config.schema import SourceConfig
from sparkwright.data.lake import merge_table, write_rejects, write_table
from sparkwright.data.sources import parse_source, split_parsed
from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

IngestMode = Literal["overwrite", "append", "merge"]


@dataclass(frozen=True)
class IngestResult:
    """What one ingest wrote: the bronze version and where every input row went."""

    table_path: str
    rejects_path: str
    version: int
    input_rows: int
    accepted_rows: int
    rejected_rows: int
    mode: IngestMode = "overwrite"

    def __post_init__(self) -> None:
        if self.input_rows != self.accepted_rows + self.rejected_rows:
            raise ValueError(
                f"row accounting is broken: {self.input_rows} input != {self.accepted_rows} accepted "
                f"+ {self.rejected_rows} rejected (this is a sparkwright bug)"
            )

    @property
    def rejected_fraction(self) -> float:
        return self.rejected_rows / self.input_rows if self.input_rows else 0.0


def ingest(
    spark: SparkSession,
    source: SourceConfig,
    table_path: str,
    rejects_path: str,
    *,
    max_rejected_fraction: float = 0.05,
    mode: IngestMode | None = None,
    keys: list[str] | None = None,
    evolve_schema: bool = False,
) -> IngestResult:
    """Read ``source`` and write its good rows to the bronze table, in one Delta commit.

    The rejects table (``_raw``, ``_reason``, ``_source``, ``_ingested_at``) is overwritten on every run
    that rejects rows or finds an earlier rejects table (see :func:`~sparkwright.data.lake.write_rejects`).

    Args:
        spark: The session.
        source: ``data.source`` of the project.
        table_path: Bronze Delta table.
        rejects_path: Rejects Delta table.
        max_rejected_fraction: Above this share of rejected rows, bronze is left untouched and the run stops.
        mode: ``overwrite``, ``append`` or ``merge`` (upsert by ``keys``); default ``merge`` when ``keys`` are
            given, else ``overwrite``.
        keys: Columns that identify a row (``data.keys``), used by ``merge``.
        evolve_schema: Let ``append``/``merge`` add new columns to bronze; missing or retyped columns always fail.

    Returns:
        The bronze version written and the row counts (``input_rows == accepted_rows + rejected_rows``).

    Raises:
        ConfigError: Unknown format or declared column type, an unknown mode, or merge without usable keys.
        DataError: Missing or empty source, missing declared columns, too many rejected rows, a bronze
            table that exists with another schema, or (merge) different rows with the same key in the source.
    """
    keys = list(keys or [])
    mode = mode or ("merge" if keys else "overwrite")
    if mode not in ("overwrite", "append", "merge"):
        raise ConfigError(f"data.ingest.mode: must be overwrite, append or merge, got {mode!r}.")
    if mode == "merge" and not keys:
        raise ConfigError("data.ingest.mode: merge needs data.keys, the columns that identify a row.")
    frame, columns = parse_source(spark, source)
    frame = frame.persist()  # counted, then written twice: parse the source once
    try:
        counts = frame.agg(F.count(F.lit(1)).alias("n"), F.count("_reason").alias("bad")).first()
        input_rows, rejected_rows = int(counts["n"]), int(counts["bad"])
        if input_rows == 0:
            raise DataError(f"source {source.path!r} has no data rows (only a header, or nothing to parse).")
        accepted, rejected = split_parsed(frame, columns, source.path)
        write_rejects(rejected.withColumn("_ingested_at", F.current_timestamp()), rejects_path, rows=rejected_rows)
        fraction = rejected_rows / input_rows
        if fraction > max_rejected_fraction:
            examples = [row["_reason"] for row in rejected.select("_reason").limit(3).collect()]
            raise DataError(
                f"{rejected_rows} of {input_rows} rows of {source.path!r} were rejected ({fraction:.1%}), more than "
                f"the limit of {max_rejected_fraction:.1%}; the bronze table {table_path!r} was not changed. "
                f"Examples: {'; '.join(examples)}. All rejected rows and reasons are in the Delta table "
                f"{rejects_path!r}. Fix the file, or raise data.max_rejected_fraction if these rows may be dropped."
            )
        if mode == "merge":
            unknown = [k for k in keys if k not in accepted.columns]
            if unknown:
                raise ConfigError(
                    f"data.keys: {', '.join(unknown)} not in the columns of {source.path!r} "
                    f"({', '.join(accepted.columns)})."
                )
            version = merge_table(accepted, table_path, keys, evolve_schema=evolve_schema)
        else:
            version = write_table(accepted, table_path, mode=mode, evolve_schema=evolve_schema)
    finally:
        frame.unpersist()
    result = IngestResult(
        table_path, rejects_path, version, input_rows, input_rows - rejected_rows, rejected_rows, mode
    )
    log.info(
        "ingested %s (%s): %d rows accepted, %d rejected -> %s (version %d)",
        source.path,
        mode,
        result.accepted_rows,
        result.rejected_rows,
        table_path,
        version,
    )
    return result
