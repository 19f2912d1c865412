"""Source readers: raw files or tables -> typed rows plus rejected rows with a precise reason each.

Text formats (CSV, JSON) are read with every column as a string and a corrupt-record column, then each
column is converted with ``try_cast``. Spark's own typed reading would turn a bad value into a silent
null (PERMISSIVE) or fail the whole job (FAILFAST); this way a bad row is kept aside with the column,
the value and the expected type, and the good rows go on.

A new format is one function decorated with ``@register_source("name")``.

Column names: characters Delta cannot store in a column name (`` ,;{}()\\n\\t=``) are replaced with
``_`` (with a warning), so a file whose header has ``"room type"`` still loads, as ``room_type``.
A declared ``schema`` always uses the names as they appear in the file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.errors import AnalysisException
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructField, StructType

from sparkwright.config.checks import did_you_mean
from sparkwright.config.schema import SourceConfig
from sparkwright.data.lake import local_path, spark_message
from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"
REJECT_COLUMNS = ("_raw", "_reason", "_source")
_REASON, _RAW = "_reason", "_raw"
_DELTA_BAD_CHARS = re.compile(r"[ ,;{}()\n\t=]")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
# Bad rows must be kept aside, whatever "mode" the user's options ask for.
_PERMISSIVE = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
_COMPRESSION = {".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate"}


@dataclass(frozen=True)
class RawRead:
    """What a source reader hands back before type checks.

    Attributes:
        df: The file's columns as read (strings for text formats) plus any helper columns.
        targets: Column -> the type it must have, in output order.
        raw: Expression that rebuilds the raw record, stored in the rejects table.
        malformed: String expression, non-null (the reason) when the record itself could not be parsed.
    """

    df: DataFrame
    targets: dict[str, DataType]
    raw: Column
    malformed: Column | None = None


SourceReader = Callable[["SparkSession", SourceConfig, "dict[str, DataType] | None"], RawRead]
_READERS: dict[str, SourceReader] = {}


def register_source(name: str) -> Callable[[SourceReader], SourceReader]:
    """Register a reader for ``data.source.format: <name>``."""

    def decorate(reader: SourceReader) -> SourceReader:
        _READERS[name] = reader
        return reader

    return decorate


def source_formats() -> list[str]:
    """The registered format names."""
    return sorted(_READERS)


def get_source_reader(name: str) -> SourceReader:
    """The reader for a format, or a ConfigError listing the valid ones."""
    try:
        return _READERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown source format {name!r}; choose one of: {', '.join(source_formats())}."
            + did_you_mean(str(name), source_formats()),
            "data.source.format",
        ) from None


def resolve_format(source: SourceConfig) -> str:
    """``source.format``, else inferred from the path: extension, or a folder holding ``_delta_log``.

    Raises:
        ConfigError: The format cannot be inferred; names ``data.source.format`` and the choices.
    """
    if source.format:
        return source.format
    path = source.path.rstrip("/")
    local = local_path(path)
    if local is not None and os.path.isdir(local):
        if os.path.isdir(os.path.join(local, "_delta_log")):
            return "delta"
        names = sorted(n for n in os.listdir(local) if not n.startswith(("_", ".")))
        found = {_format_of(n) for n in names} - {None}
        if len(found) == 1:
            return found.pop()  # type: ignore[return-value]
    elif (fmt := _format_of(path)) is not None:
        return fmt
    raise ConfigError(
        f"cannot tell the format of {source.path!r} from its name; set it to one of: {', '.join(source_formats())}.",
        "data.source.format",
    )


def check_source_exists(source: SourceConfig) -> None:
    """Fail early, with the path, when a local source is missing or empty (remote paths are left to Spark).

    Raises:
        DataError: The path does not exist, or is a 0-byte file.
    """
    local = local_path(source.path)
    if local is None:
        return
    if not os.path.exists(local):
        raise DataError(f"source file {source.path!r} does not exist; check data.source.path.")
    if os.path.isfile(local) and os.path.getsize(local) == 0:
        raise DataError(f"source file {source.path!r} is empty (0 bytes): it has no data rows.")


def parse_source(spark: SparkSession, source: SourceConfig) -> tuple[DataFrame, list[str]]:
    """Read a source into one frame: the typed output columns plus ``_reason`` and ``_raw``.

    ``_reason`` is null for good rows; ``_raw`` is only filled for rejected ones. Callers that count and
    then split the rows should cache this frame so the file is parsed once.

    Returns:
        The frame and the names of its output (non-helper) columns.

    Raises:
        ConfigError: Unknown format or declared type.
        DataError: Missing file, or declared columns that the file does not have.
    """
    check_source_exists(source)
    reader = get_source_reader(resolve_format(source))
    declared = _declared_types(spark, source.schema_) if source.schema_ else None
    try:
        read = reader(spark, source, declared)
    except AnalysisException as exc:
        raise DataError(f"cannot read source {source.path!r}: {spark_message(exc)}") from exc
    return _check_types(read, source.path)


def read_source(spark: SparkSession, source: SourceConfig) -> tuple[DataFrame, DataFrame]:
    """Read a source as ``(accepted, rejected)``.

    ``accepted`` has the target schema; ``rejected`` has ``_raw`` (the record), ``_reason`` (e.g.
    ``column 'lead_time': 'abc' is not a valid int``) and ``_source`` (the path). Both are lazy; ``ingest``
    caches the parse so the source is read once.

    Raises:
        ConfigError: Unknown format or declared type.
        DataError: Missing file, or declared columns that the file does not have.
    """
    frame, columns = parse_source(spark, source)
    return split_parsed(frame, columns, source.path)


def split_parsed(frame: DataFrame, columns: list[str], path: str) -> tuple[DataFrame, DataFrame]:
    """Split a :func:`parse_source` frame into the accepted rows and the rejects."""
    accepted = frame.where(F.col(_REASON).isNull()).select(*[_col(c) for c in columns])
    rejected = frame.where(F.col(_REASON).isNotNull()).select(_RAW, _REASON, F.lit(path).alias("_source"))
    return accepted, rejected


# ---------------------------------------------------------------------------------------------- readers


@register_source("csv")
def _read_csv(spark: SparkSession, source: SourceConfig, declared: dict[str, DataType] | None) -> RawRead:
    options = {"header": "true", **_options(source)}
    header = spark.read.options(**options).csv(source.path).columns  # reads the first line only
    _check_declared(declared, header, source.path)
    targets: dict[str, DataType]
    if declared is not None and set(header) <= set(declared):
        targets = {c: declared[c] for c in header}
    else:
        inferred = spark.read.options(**{**options, "inferSchema": "true"}).csv(source.path).schema
        targets = {f.name: (declared or {}).get(f.name, f.dataType) for f in inferred.fields}
    schema = StructType([StructField(c, StringType()) for c in header] + [StructField(CORRUPT, StringType())])
    df = spark.read.options(**{**options, **_PERMISSIVE}).schema(schema).csv(source.path)
    sep = str(options.get("sep", options.get("delimiter", ",")))
    quote = str(options.get("quote", '"'))
    n_fields = F.size(F.split(F.col(CORRUPT), re.escape(sep), -1))
    malformed = F.when(
        F.col(CORRUPT).isNotNull(),
        F.when(
            n_fields != len(header),
            F.concat(F.lit(f"malformed record: expected {len(header)} fields, got "), n_fields.cast("string")),
        ).otherwise(F.lit(f"malformed record: cannot split into {len(header)} fields (check quoting)")),
    )
    rebuilt = F.concat_ws(sep, *[_csv_field(_col(c), sep, quote) for c in header])
    return RawRead(df, targets, F.coalesce(F.col(CORRUPT), rebuilt), malformed)


@register_source("json")
def _read_json(spark: SparkSession, source: SourceConfig, declared: dict[str, DataType] | None) -> RawRead:
    options = _options(source)
    inferred = [f for f in spark.read.options(**options).json(source.path).schema.fields if f.name != CORRUPT]
    found = [f.name for f in inferred]
    _check_declared(declared, found, source.path)
    targets = {f.name: (declared or {}).get(f.name, f.dataType) for f in inferred}
    # Scalars are read as their JSON text so a bad value can be named; nested values keep their type.
    fields = [StructField(f.name, f.dataType if _is_nested(f.dataType) else StringType()) for f in inferred]
    schema = StructType([*fields, StructField(CORRUPT, StringType())])
    df = spark.read.options(**{**options, **_PERMISSIVE}).schema(schema).json(source.path)
    malformed = F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed record: not a JSON object matching the columns"))
    raw = F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*[_col(c) for c in found]))) if found else F.col(CORRUPT)
    return RawRead(df, targets, raw, malformed)


@register_source("parquet")
def _read_parquet(spark: SparkSession, source: SourceConfig, declared: dict[str, DataType] | None) -> RawRead:
    return _typed_read(spark.read.options(**_options(source)).parquet(source.path), declared, source.path)


@register_source("delta")
def _read_delta(spark: SparkSession, source: SourceConfig, declared: dict[str, DataType] | None) -> RawRead:
    return _typed_read(spark.read.format("delta").options(**_options(source)).load(source.path), declared, source.path)


def _typed_read(df: DataFrame, declared: dict[str, DataType] | None, path: str) -> RawRead:
    """Self-describing formats: types are known; a declared schema is checked with the same try_cast."""
    _check_declared(declared, df.columns, path)
    targets = {f.name: (declared or {}).get(f.name, f.dataType) for f in df.schema.fields}
    return RawRead(df, targets, F.to_json(F.struct(*[_col(c) for c in df.columns])))


# ------------------------------------------------------------------------------------------------ helpers


def _check_types(read: RawRead, path: str) -> tuple[DataFrame, list[str]]:
    """Convert every column to its target type; the first column that fails names the row's reason."""
    current = {f.name: f.dataType for f in read.df.schema.fields}
    names = _safe_names(list(read.targets))
    typed: list[Column] = []
    failures: list[Column] = []
    for column, target in read.targets.items():
        value = _col(column)
        if current[column] == target:
            typed.append(value.alias(names[column]))
            continue
        converted = value.try_cast(target)
        typed.append(converted.alias(names[column]))
        failures.append(
            F.when(
                value.isNotNull() & converted.isNull(),
                F.concat(
                    F.lit(f"column {column!r}: '"),
                    F.substring(value.cast("string"), 1, 80),
                    F.lit(f"' is not a valid {target.simpleString()}"),
                ),
            )
        )
    checks = ([read.malformed] if read.malformed is not None else []) + failures
    reason = F.coalesce(*checks) if checks else F.lit(None).cast("string")
    frame = read.df.select(
        *typed,
        reason.alias(_REASON),
        F.when(reason.isNotNull(), read.raw).cast("string").alias(_RAW),
    )
    return frame, list(names.values())


def _declared_types(spark: SparkSession, schema: dict[str, str]) -> dict[str, DataType]:
    """Parse each declared type with Spark's own parser (so every Spark SQL type name works)."""
    out: dict[str, DataType] = {}
    for column, type_name in schema.items():
        try:
            out[column] = (
                spark.range(1).select(F.lit(None).cast("string").try_cast(type_name).alias("x")).schema[0].dataType
            )
        except AnalysisException as exc:  # ParseException is a subclass, in classic Spark and Spark Connect
            raise ConfigError(
                f"unknown Spark SQL type {type_name!r} for column {column!r}; use e.g. int, bigint, double, "
                f"string, boolean, date, timestamp, decimal(10,2). Spark said: {spark_message(exc)}",
                f"data.source.schema.{column}",
            ) from exc
    return out


def _check_declared(declared: dict[str, DataType] | None, found: list[str], path: str) -> None:
    if not declared:
        return
    missing = [c for c in declared if c not in found]
    if missing:
        raise DataError(
            f"data.source.schema declares columns that {path!r} does not have: {', '.join(missing)}. "
            f"Columns found: {', '.join(found) or '(none)'}. Fix the names in data.source.schema."
        )


def _safe_names(columns: list[str]) -> dict[str, str]:
    """Map each column to a name Delta can store, warning about every rename."""
    names = {c: _DELTA_BAD_CHARS.sub("_", c) for c in columns}
    renamed = {old: new for old, new in names.items() if old != new}
    if renamed:
        log.warning(
            "renamed columns Delta cannot store: %s", ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items())
        )
    clashes = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if clashes:
        raise DataError(
            f"columns {', '.join(clashes)} appear twice after replacing characters Delta cannot store "
            f"(' ,;{{}}()=' and tabs/newlines) with '_'; rename them in the source."
        )
    return names


def _options(source: SourceConfig) -> dict[str, str]:
    """Reader options as strings (YAML gives bools and numbers; Spark wants 'true' and '10')."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in source.options.items()}


def _format_of(name: str) -> str | None:
    root, ext = os.path.splitext(name.lower())
    if ext in _COMPRESSION:
        ext = os.path.splitext(root)[1]
    return _EXTENSIONS.get(ext)


def _csv_field(value: Column, sep: str, quote: str) -> Column:
    """A value as it would appear in a CSV line (quoted when it holds the separator or a quote)."""
    needs_quote = value.contains(sep) | value.contains(quote)
    quoted = F.concat(F.lit(quote), F.replace(value, F.lit(quote), F.lit(quote * 2)), F.lit(quote))
    return F.coalesce(F.when(needs_quote, quoted).otherwise(value), F.lit(""))


def _is_nested(data_type: DataType) -> bool:
    return isinstance(data_type, StructType | ArrayType | MapType)


def _col(name: str) -> Column:
    """A column by exact name, even when it contains dots or spaces."""
    return F.col("`" + name.replace("`", "``") + "`")
