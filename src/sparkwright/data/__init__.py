"""The data layer: sources -> bronze (ingest), bronze -> silver (cleanse), and Delta helpers (lake)."""

from sparkwright.data.cleanse import CleanseResult, cleanse, feature_columns, write_silver
from sparkwright.data.ingest import IngestResult, ingest
from sparkwright.data.lake import (
    check_compatible,
    merge_table,
    read_table,
    restore_table,
    schema_differences,
    table_exists,
    table_history,
    table_version,
    write_rejects,
    write_table,
)
from sparkwright.data.quality import QualityResult, check_quality
from sparkwright.data.sources import read_source, register_source, resolve_format, source_formats
from sparkwright.data.split import assign_folds, split_train_test
from sparkwright.data.steps import apply_steps, load_step

__all__ = [
    "CleanseResult",
    "IngestResult",
    "QualityResult",
    "apply_steps",
    "assign_folds",
    "check_compatible",
    "check_quality",
    "cleanse",
    "feature_columns",
    "ingest",
    "load_step",
    "merge_table",
    "read_source",
    "read_table",
    "register_source",
    "resolve_format",
    "restore_table",
    "schema_differences",
    "source_formats",
    "split_train_test",
    "table_exists",
    "table_history",
    "table_version",
    "write_rejects",
    "write_silver",
    "write_table",
]
