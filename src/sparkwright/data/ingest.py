"""Ingest: a source into a bronze Delta table, with every rejected row kept in a rejects table.

The bronze table only changes when the input is good enough (``max_rejected_fraction``): a broken
export must not silently replace yesterday's good data, while the rejects table is written whenever
something was rejected, so the user can see what was wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from sparkwright.config.schema import SourceConfig
from sparkwright.data.lake import write_rejects, write_table
from sparkwright.data.sources import parse_source, split_parsed
from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What one ingest wrote: the bronze version and where every input row went."""

    table_path: str
    rejects_path: str
    version: int
    input_rows: int
    accepted_rows: int
    rejected_rows: int

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
) -> IngestResult:
    """Read ``source`` and overwrite the bronze table with its good rows, in one Delta commit.

    The rejects table (``_raw``, ``_reason``, ``_source``, ``_ingested_at``) is overwritten on every run
    that rejects rows or finds an earlier rejects table (see :func:`~sparkwright.data.lake.write_rejects`).

    Args:
        spark: The session.
        source: ``data.source`` of the project.
        table_path: Bronze Delta table.
        rejects_path: Rejects Delta table.
        max_rejected_fraction: Above this share of rejected rows, bronze is left untouched and the run stops.

    Returns:
        The bronze version written and the row counts (``input_rows == accepted_rows + rejected_rows``).

    Raises:
        ConfigError: Unknown format or declared column type.
        DataError: Missing or empty source, missing declared columns, too many rejected rows, or a bronze
            table that exists with another schema.
    """
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
        version = write_table(accepted, table_path)
    finally:
        frame.unpersist()
    result = IngestResult(table_path, rejects_path, version, input_rows, input_rows - rejected_rows, rejected_rows)
    log.info(
        "ingested %s: %d rows accepted, %d rejected -> %s (version %d)",
        source.path,
        result.accepted_rows,
        result.rejected_rows,
        table_path,
        version,
    )
    return result
