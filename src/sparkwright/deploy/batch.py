"""Batch scoring: a registered model over a Delta table or files, into a Delta table, idempotently.

Each scored row carries the model's name, version and URI, the input it came from and the scoring
time. The output is written with ``replaceWhere`` on the input's identity in one Delta commit: a
rerun for the same input replaces its earlier result instead of adding a copy, and a job killed
mid-write leaves the output at its previous version (Delta commits are atomic).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError, ModelError
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

INPUT_COL = "_input"
# MLflow signature types -> Spark SQL types, for reading files with the model's own column types.
_SPARK_TYPES = {
    "string": "string",
    "long": "bigint",
    "integer": "int",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "datetime": "timestamp",
}


@dataclass(frozen=True)
class BatchResult:
    """What a batch scoring wrote: the output table's new version, rows scored and rejected."""

    model_uri: str
    output: str
    version: int
    rows: int
    rejected: int
    rejects_table: str | None
    input_id: str


@dataclass(frozen=True)
class LoadedModel:
    """A registered version with its Spark ML pipeline and its signature's input columns."""

    info: VersionInfo
    pipeline: Any
    inputs: dict[str, str]  # column -> Spark SQL type

    @property
    def uri(self) -> str:
        return f"models:/{self.info.name}/{self.info.version}"


def load_spark_model(registry: Registry, model: str) -> LoadedModel:
    """Resolve ``models:/name@alias`` / ``models:/name/version`` and load its Spark ML pipeline.

    Raises:
        ModelError: Unknown model, version or alias; or a model without the Spark flavour.
    """
    import mlflow.spark
    from mlflow.models import Model

    info = registry.resolve(parse_model_ref(model))
    local = registry.tracker.download_model(info.source)
    metadata = Model.load(str(local / "MLmodel"))
    if "spark" not in metadata.flavors:
        raise ModelError(
            f"models:/{info.name}/{info.version} has no Spark flavour (flavours: {', '.join(metadata.flavors)}); "
            "batch scoring takes models trained by sparkwright run."
        )
    schema = metadata.get_input_schema()
    inputs = (
        {c.name: _SPARK_TYPES.get(getattr(c.type, "name", str(c.type)), "string") for c in schema.inputs}
        if schema
        else {}
    )
    return LoadedModel(info, mlflow.spark.load_model(str(local)), inputs)


def read_input(spark: SparkSession, source: str, types: dict[str, str]) -> tuple[DataFrame, DataFrame | None, str]:
    """A Delta table (by path) or files (csv, parquet, json, read with the model's column types).

    Returns:
        ``(rows, rejected rows or None, input id)``; the id names the input in the output table.
    """
    from sparkwright.config import SourceConfig
    from sparkwright.data import read_source, read_table, table_exists, table_version

    if table_exists(spark, source):
        version = table_version(spark, source)
        return read_table(spark, source, version), None, source
    path = Path(source)
    if not path.exists():
        raise DataError(f"input {source!r} is neither a Delta table nor an existing file or folder.")
    source_config = SourceConfig(path=str(path.resolve()))
    present = set(_file_columns(spark, source_config))
    # Declare the model's types for the columns the file has; missing ones are reported by the caller.
    declared = {c: t for c, t in types.items() if c in present}
    accepted, rejected = read_source(spark, source_config.model_copy(update={"schema_": declared or None}))
    return accepted, rejected, str(path.resolve())


def _file_columns(spark: SparkSession, source: Any) -> list[str]:
    """The columns of a file input without inferring types (CSV: its header line only)."""
    from sparkwright.data.sources import resolve_format

    fmt = resolve_format(source)
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", "true")
    return reader.load(source.path).columns


def score_batch(spark: SparkSession, registry: Registry, model: str, source: str, output: str) -> BatchResult:
    """Score ``source`` with ``model`` into the Delta table ``output`` (replacing this input's earlier rows).

    Malformed file rows go to ``<output>_rejects`` with their reason; the rest are scored.

    Raises:
        ModelError: The model cannot be found or loaded.
        DataError: The input is missing, lacks columns the model needs, or already has a ``prediction``.
    """
    from pyspark.sql import functions as F

    from sparkwright.data import write_rejects, write_table

    loaded = load_spark_model(registry, model)
    rows, rejected, input_id = read_input(spark, source, loaded.inputs)
    missing = [c for c in loaded.inputs if c not in rows.columns]
    if missing:
        raise DataError(
            f"the input lacks columns the model {loaded.uri} takes: {missing}; it takes "
            f"{', '.join(loaded.inputs)} (a sparkwright silver table has them all)."
        )
    clashes = [c for c in ("prediction", "probability", INPUT_COL) if c in rows.columns]
    if clashes:
        raise DataError(f"the input already has column(s) {clashes}; drop or rename them before scoring.")
    scored = _with_outputs(loaded.pipeline.transform(rows))
    result = scored.select(
        *[F.col(f"`{c}`") for c in rows.columns],
        *[c for c in ("prediction", "probability") if c in scored.columns],
        F.lit(loaded.info.name).alias("_model_name"),
        F.lit(int(loaded.info.version)).alias("_model_version"),
        F.lit(loaded.uri).alias("_model_uri"),
        F.lit(input_id).alias(INPUT_COL),
        F.current_timestamp().alias("_scored_at"),
    ).cache()
    try:
        count = result.count()
        condition = f"{INPUT_COL} = '{_sql_text(input_id)}'"
        version = write_table(result, output, mode="overwrite", replace_where=condition)
    finally:
        result.unpersist()
    rejected_rows, rejects_table = 0, None
    if rejected is not None:
        rejected_rows = rejected.count()
        if rejected_rows:
            rejects_table = output.rstrip("/") + "_rejects"
            write_rejects(rejected.withColumn("_scored_at", F.current_timestamp()), rejects_table, rows=rejected_rows)
    log.info("scored %d rows of %s with %s into %s v%d", count, input_id, loaded.uri, output, version)
    return BatchResult(loaded.uri, output, version, count, rejected_rows, rejects_table, input_id)


def _with_outputs(scored: DataFrame) -> DataFrame:
    """Class probabilities as an array (Delta stores arrays; ML vectors are a Spark-only type)."""
    if "probability" not in scored.columns:
        return scored
    from pyspark.ml.functions import vector_to_array

    return scored.withColumn("probability", vector_to_array("probability"))


def _sql_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
