"""The data layer: sources -> bronze (ingest), bronze -> silver (cleanse), and Delta helpers (lake)."""

from sparkwright.data.cleanse import CleanseResult, cleanse, feature_columns, write_silver
from sparkwright.data.ingest import IngestResult, ingest
from sparkwright.data.lake import (
    read_table,
    restore_table,
    schema_differences,
    table_exists,
    table_history,
    table_version,
    write_table,
)
from sparkwright.data.sources import read_source, register_source, resolve_format, source_formats

__all__ = [
    "CleanseResult",
    "IngestResult",
    "cleanse",
    "feature_columns",
    "ingest",
    "read_source",
    "read_table",
    "register_source",
    "resolve_format",
    "restore_table",
    "schema_differences",
    "source_formats",
    "table_exists",
    "table_history",
    "table_version",
    "write_silver",
    "write_table",
]
