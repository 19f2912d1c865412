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

from sparkwright.data.preparation import REASON_COL
from sparkwright.errors import DataError, ModelError
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

INPUT_COL = "_input"
# The input row as it came, carried through the model (which prepares the input columns in place).
_INPUT_STRUCT = "__sw_input"
RAW_COL = "__sw_raw"
# What a model may write (models.training.OUTPUT_COLS), kept in the output table in this order.
MODEL_OUTPUTS = ("prediction", "probability", "anomaly_score")
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
    """What a batch scoring wrote: the output table's new version, rows scored and rejected.

    Attributes:
        forecasts: The rows are forecasts (a forecasting model: one row per series and future time).
    """

    model_uri: str
    output: str
    version: int
    rows: int
    rejected: int
    rejects_table: str | None
    input_id: str
    forecasts: bool = False


@dataclass(frozen=True)
class LoadedModel:
    """A registered version with its Spark ML pipeline and its signature's input columns.

    Attributes:
        inputs: Column -> Spark SQL type, in signature order.
        optional: The input columns a row may lack (the model prepares them as missing).
        takes: ``raw`` (source-shaped rows, prepared by the model) or ``silver`` (an older model).
    """

    info: VersionInfo
    pipeline: Any
    inputs: dict[str, str]
    optional: frozenset[str] = frozenset()
    takes: str = "silver"

    @property
    def uri(self) -> str:
        return f"models:/{self.info.name}/{self.info.version}"

    @property
    def required(self) -> list[str]:
        return [c for c in self.inputs if c not in self.optional]


def load_spark_model(registry: Registry, model: str) -> LoadedModel:
    """Resolve ``models:/name@alias`` / ``models:/name/version`` and load its Spark ML pipeline.

    Raises:
        ModelError: Unknown model, version or alias; or a model without the Spark flavour.
    """
    info = registry.resolve(parse_model_ref(model))
    return _spark_model_in(info, registry.tracker.download_model(info.source))


def _spark_model_in(info: VersionInfo, local: Path) -> LoadedModel:
    import mlflow.spark
    from mlflow.models import Model

    metadata = Model.load(str(local / "MLmodel"))
    if "spark" not in metadata.flavors:
        raise ModelError(
            f"models:/{info.name}/{info.version} has no Spark flavour (flavours: {', '.join(metadata.flavors)}); "
            "batch scoring takes models trained by sparkwright run."
        )
    from sparkwright.data.preparation import MODEL_INPUT_KEY

    inputs, optional = signature_inputs(metadata)
    takes = (metadata.metadata or {}).get(MODEL_INPUT_KEY, "silver")
    return LoadedModel(info, mlflow.spark.load_model(str(local)), inputs, optional, takes)


def signature_inputs(metadata: Any) -> tuple[dict[str, str], frozenset[str]]:
    """An MLflow model's input columns (name -> Spark SQL type, in signature order) and the optional ones."""
    schema = metadata.get_input_schema()
    columns = schema.inputs if schema else []
    inputs = {c.name: _SPARK_TYPES.get(getattr(c.type, "name", str(c.type)), "string") for c in columns}
    return inputs, frozenset(c.name for c in columns if not c.required)


def read_input(spark: SparkSession, source: str, types: dict[str, str]) -> tuple[DataFrame, DataFrame | None, str]:
    """A Delta table (by path) or files (csv, parquet, json, read with the model's column types).

    Returns:
        ``(rows, rejected rows or None, input id)``; the id names the input in the output table. The
        rejected rows of a file input are cached: unpersist them when done.
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
    # When every column is read as a string no cast can fail, so a row's reject reason comes from the
    # corrupt-record column alone and counting the rejects scans a CSV / JSON file for that column only,
    # which Spark refuses (UNSUPPORTED_FEATURE.QUERY_ONLY_CORRUPT_RECORD_COLUMN). Its remedy: cache the
    # parsed rows. The rejects are few and carry the whole record, so they are cached here (the caller
    # unpersists them); the accepted rows are always read with their columns by the scoring.
    rejected = rejected.cache()
    rejected.count()
    return accepted, rejected, str(path.resolve())


def delta_rows(spark: SparkSession, source: str) -> int | None:
    """The rows of a Delta table input, to say how many will be scored; None for files (counting them would read
    them once more). Delta answers a plain count from its log's per-file statistics, without a scan."""
    from sparkwright.data import read_table, table_exists, table_version

    if not table_exists(spark, source):
        return None
    return read_table(spark, source, table_version(spark, source)).count()


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

    Malformed file rows go to ``<output>_rejects`` with their reason; the rest are scored. A forecasting model
    forecasts the series its rows name instead (:func:`sparkwright.deploy.forecast_batch.forecast_batch`).

    Raises:
        ModelError: The model cannot be found or loaded.
        DataError: The input is missing, lacks columns the model needs, or already has a ``prediction``.
    """
    from pyspark.sql import functions as F

    from sparkwright.deploy.forecast_batch import forecast_batch
    from sparkwright.deploy.forecaster import forecaster_in

    info = registry.resolve(parse_model_ref(model))
    local = registry.tracker.download_model(info.source)
    forecaster = forecaster_in(info, local)
    if forecaster is not None:
        return forecast_batch(spark, forecaster, source, output)
    loaded = _spark_model_in(info, local)
    rows, rejected, input_id = read_input(spark, source, loaded.inputs)
    check_input_columns(loaded, rows.columns)
    provenance = [F.lit(input_id).alias(INPUT_COL), F.current_timestamp().alias("_scored_at")]
    result = write_scored(score_frame(loaded, rows, rows.columns, provenance), rejected, output, input_id)
    log.info("scored %d rows of %s with %s into %s v%d", result.rows, input_id, loaded.uri, output, result.version)
    return BatchResult(loaded.uri, output, result.version, result.rows, result.rejected, result.rejects_table, input_id)


@dataclass(frozen=True)
class Written:
    """What :func:`write_scored` wrote."""

    version: int
    rows: int
    rejected: int
    rejects_table: str | None


def write_scored(scored: DataFrame, rejected: DataFrame | None, output: str, input_id: str) -> Written:
    """Write the rows of ``scored`` without a ``REASON_COL`` to ``output``, replacing the earlier rows of
    ``input_id`` in one commit, and the refused ones (with the malformed file rows ``rejected``, which this
    unpersists) to ``<output>_rejects`` with their reasons."""
    from pyspark.sql import functions as F

    from sparkwright.data import write_rejects, write_table

    scored = scored.cache()
    try:
        accepted = scored.where(F.col(REASON_COL).isNull()).drop(REASON_COL, RAW_COL)
        count = accepted.count()
        condition = f"{INPUT_COL} = '{_sql_text(input_id)}'"
        version = write_table(accepted, output, mode="overwrite", replace_where=condition)
        refused = scored.where(F.col(REASON_COL).isNotNull()).select(
            F.col(RAW_COL).alias("_raw"), F.col(REASON_COL).alias("_reason"), F.lit(input_id).alias("_source")
        )
        if rejected is not None:
            refused = rejected.unionByName(refused)
        rejected_rows, rejects_table = refused.count(), None
        if rejected_rows:
            rejects_table = output.rstrip("/") + "_rejects"
            write_rejects(refused.withColumn("_scored_at", F.current_timestamp()), rejects_table, rows=rejected_rows)
    finally:
        scored.unpersist()
        if rejected is not None:
            rejected.unpersist()
    return Written(version, count, rejected_rows, rejects_table)


def check_input_columns(loaded: LoadedModel, columns: list[str]) -> None:
    """Refuse, before any Spark job, an input that lacks a required column or already has an output column.

    Raises:
        DataError: Names the missing or clashing columns and what the model takes.
    """
    missing = [c for c in loaded.required if c not in columns]
    if missing:
        shape = "rows shaped like its source data" if loaded.takes == "raw" else "silver rows"
        optional = f"; optional: {', '.join(sorted(loaded.optional))}" if loaded.optional else ""
        raise DataError(
            f"the input lacks columns the model {loaded.uri} needs: {missing}; it takes {shape} with "
            f"{', '.join(loaded.inputs)}{optional}."
        )
    clashes = [c for c in (*MODEL_OUTPUTS, INPUT_COL, REASON_COL, RAW_COL) if c in columns]
    if clashes:
        raise DataError(f"the input already has column(s) {clashes}; drop or rename them before scoring.")


def score_frame(loaded: LoadedModel, rows: DataFrame, inputs: list[str], provenance: list[Column]) -> DataFrame:
    """Score ``rows``: its ``inputs`` columns as given, the model's outputs, the model's name, version and
    URI, then ``provenance`` (columns over ``rows``), and for each row the reason the model refused it
    (``REASON_COL``, null for scored rows) with the row as JSON (``RAW_COL``)."""
    from pyspark.sql import functions as F

    # The model prepares its input columns in place; the output keeps the values as they came.
    packed = rows.withColumn(_INPUT_STRUCT, F.struct(*[F.col(f"`{c}`") for c in inputs]))
    scored = _with_outputs(loaded.pipeline.transform(packed))
    reason = F.col(REASON_COL) if REASON_COL in scored.columns else F.lit(None).cast("string")
    return scored.select(
        *[F.col(f"{_INPUT_STRUCT}.`{c}`").alias(c) for c in inputs],
        *[c for c in MODEL_OUTPUTS if c in scored.columns],
        F.lit(loaded.info.name).alias("_model_name"),
        F.lit(int(loaded.info.version)).alias("_model_version"),
        F.lit(loaded.uri).alias("_model_uri"),
        *provenance,
        reason.alias(REASON_COL),
        F.to_json(F.col(_INPUT_STRUCT)).alias(RAW_COL),
    )


def _with_outputs(scored: DataFrame) -> DataFrame:
    """Class probabilities as an array (Delta stores arrays; ML vectors are a Spark-only type); null stays
    null (a row the model refused)."""
    if "probability" not in scored.columns:
        return scored
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    probability = F.col("probability")
    return scored.withColumn("probability", F.when(probability.isNotNull(), vector_to_array(probability)))


def _sql_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
