"""Structured Streaming scoring: files landing in a folder, or a Delta table read as a stream, into Delta.

Each micro-batch is scored with the registered Spark model and appended to the output table with
Delta's idempotent-write options (``txnAppId`` = the stream's id, ``txnVersion`` = the batch id): a
batch replayed after a crash (Spark re-runs the last uncommitted batch from the checkpoint) is
skipped by Delta instead of written twice, so the output holds every input row exactly once.
Rows that do not parse with the model's column types, or that the model's preparation refuses (a rule
of the project it was trained in), go to ``<output>_rejects`` with the raw record, the reason and the
file; the stream keeps running.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sparkwright.data.preparation import REASON_COL
from sparkwright.deploy.batch import RAW_COL, LoadedModel, check_input_columns, load_spark_model, score_frame
from sparkwright.errors import ConfigError, DataError
from sparkwright.registry import Registry

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

Trigger = Literal["available-now", "continuous"]
FILE_FORMATS = ("csv", "json", "parquet")
_CORRUPT = "_corrupt_record"


@dataclass(frozen=True)
class StreamSpec:
    """Where a scoring stream reads, writes and keeps its progress."""

    source: str
    output: str
    checkpoint: str
    source_format: str  # csv | json | parquet | delta

    @property
    def rejects(self) -> str:
        return self.output.rstrip("/") + "_rejects"

    @property
    def app_id(self) -> str:
        """Names the stream in Delta's idempotent writes: one per (output, checkpoint)."""
        return "sparkwright-" + hashlib.sha1(f"{self.output}|{self.checkpoint}".encode()).hexdigest()[:16]


def stream_spec(
    source: str, output: str, checkpoint: str | None = None, source_format: str | None = None
) -> StreamSpec:
    """Check the paths and infer the source format (a folder with ``_delta_log`` is a Delta table).

    Raises:
        DataError: The source folder does not exist.
        ConfigError: The format is unknown or cannot be inferred from the folder's files.
    """
    path = Path(source)
    if "://" not in source and not path.is_dir():
        raise DataError(f"stream input {source!r} is not a folder; give the folder files land in, or a Delta table.")
    fmt = source_format or _infer_format(path)
    if fmt not in (*FILE_FORMATS, "delta"):
        raise ConfigError(f"--format must be one of {', '.join((*FILE_FORMATS, 'delta'))}, got {fmt!r}.")
    return StreamSpec(source, output, checkpoint or output.rstrip("/") + ".checkpoint", fmt)


def start_scoring_stream(
    spark: SparkSession,
    registry: Registry,
    model: str,
    spec: StreamSpec,
    *,
    trigger: Trigger = "continuous",
    interval_seconds: float = 10.0,
    max_files_per_trigger: int | None = None,
) -> StreamingQuery:
    """Start scoring ``spec.source`` with ``model`` into ``spec.output``; returns the running query.

    ``available-now`` processes what is there and stops; ``continuous`` checks for new input every
    ``interval_seconds`` until stopped. Restarting with the same checkpoint resumes where it stopped.
    """
    loaded = load_spark_model(registry, model)
    stream = _read_stream(spark, spec, loaded, max_files_per_trigger)
    writer = stream.writeStream.foreachBatch(_BatchScorer(loaded, spec)).option("checkpointLocation", spec.checkpoint)
    if trigger == "available-now":
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{interval_seconds} seconds")
    return writer.queryName(f"sparkwright-score-{spec.app_id[-8:]}").start()


def _read_stream(spark: SparkSession, spec: StreamSpec, loaded: LoadedModel, max_files: int | None) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType, _parse_datatype_string

    reader = spark.readStream
    if max_files is not None:
        reader = reader.option("maxFilesPerTrigger", max_files)
    if spec.source_format == "delta":
        return reader.format("delta").load(spec.source).withColumn("_source", F.lit(spec.source))
    # CSV columns are positional: take their order from a file already there (the model's order if none);
    # columns the model does not take are read as text and carried through.
    columns = _csv_header(spark, spec.source) if spec.source_format == "csv" else None
    order = columns or list(loaded.inputs)
    types = {**dict.fromkeys(order, "string"), **loaded.inputs}
    fields = [StructField(c, _parse_datatype_string(types[c]), True) for c in order]
    schema = StructType([*fields, StructField(_CORRUPT, StringType(), True)])
    reader = reader.format(spec.source_format).schema(schema)
    if spec.source_format != "parquet":
        reader = reader.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT)
    if spec.source_format == "csv":
        reader = reader.option("header", "true")
    return reader.load(spec.source).withColumn("_source", F.col("_metadata.file_path"))


def _csv_header(spark: SparkSession, folder: str) -> list[str] | None:
    files = sorted(p for p in Path(folder).glob("*.csv") if p.is_file()) if "://" not in folder else []
    if not files:
        return None
    return spark.read.option("header", "true").csv(str(files[0])).columns


class _BatchScorer:
    """foreachBatch: split out malformed rows, score the rest, append both idempotently."""

    def __init__(self, loaded: LoadedModel, spec: StreamSpec):
        self.loaded, self.spec = loaded, spec

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        batch, scored = batch.cache(), None
        try:
            malformed = None
            good = batch
            if _CORRUPT in batch.columns:
                malformed = batch.where(F.col(_CORRUPT).isNotNull()).select(
                    F.col(_CORRUPT).alias("_raw"),
                    F.lit("malformed record: it does not parse with the model's column types").alias("_reason"),
                    F.col("_source"),
                    F.current_timestamp().alias("_rejected_at"),
                )
                good = batch.where(F.col(_CORRUPT).isNull()).drop(_CORRUPT)
            inputs = [c for c in good.columns if c != "_source"]
            try:
                check_input_columns(self.loaded, inputs)
            except DataError as exc:
                raise DataError(f"the stream's rows: {exc}") from None
            provenance = [
                F.col("_source"),
                F.lit(batch_id).cast("long").alias("_batch_id"),
                F.current_timestamp().alias("_scored_at"),
            ]
            scored = score_frame(self.loaded, good, inputs, provenance).cache()
            refused = scored.where(F.col(REASON_COL).isNotNull()).select(
                F.col(RAW_COL).alias("_raw"),
                F.col(REASON_COL).alias("_reason"),
                F.col("_source"),
                F.current_timestamp().alias("_rejected_at"),
            )
            # One append per table and batch: Delta skips a second write with the same txnVersion.
            rejects = refused if malformed is None else malformed.unionByName(refused)
            self._append(rejects, self.spec.rejects, batch_id, skip_empty=True)
            out = scored.where(F.col(REASON_COL).isNull()).drop(REASON_COL, RAW_COL)
            self._append(out, self.spec.output, batch_id)
        finally:
            batch.unpersist()
            if scored is not None:
                scored.unpersist()

    def _append(self, df: DataFrame, path: str, batch_id: int, *, skip_empty: bool = False) -> None:
        if skip_empty and df.isEmpty():
            return
        (
            df.write.format("delta")
            .mode("append")
            .option("txnAppId", self.spec.app_id)  # with txnVersion: a replayed batch is not written twice
            .option("txnVersion", batch_id)
            .save(path)
        )


def _infer_format(path: Path) -> str:
    if (path / "_delta_log").is_dir():
        return "delta"
    suffixes = {
        p.suffix.lstrip(".").lower() for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
    }
    known = suffixes & set(FILE_FORMATS)
    if len(known) == 1:
        return known.pop()
    raise ConfigError(
        f"cannot tell the format of the files in {path} (found {sorted(suffixes) or 'no files'}); "
        f"pass --format {' | '.join(FILE_FORMATS)}."
    )


def stream_status(query: Any) -> dict[str, Any]:
    """The last progress of a query, in the units a user reads: batches and rows."""
    progress = query.lastProgress or {}
    return {"batch": progress.get("batchId"), "rows": progress.get("numInputRows", 0)}
