"""Row-local preparation: rows shaped like the source -> the silver columns a model's feature stages read.

One definition serves training and scoring. ``cleanse`` builds the silver feature columns with
:func:`silver_column` and :func:`indicator_column` and records in each silver column's metadata the type
the column had in the source and whether it was ever missing. :meth:`RowPreparation.for_model` reads that
back, adds the project's row-local rules (``quality`` rules and ``cleanse.filters`` on feature columns),
and the logged model starts with a :class:`PrepareRows` stage holding it: scoring applies exactly the
casts, the "missing" level, the missing indicators and the rules that training applied, to rows shaped
like the source data. A row a rule refuses keeps its place with a reason in :data:`REASON_COL`, and the
model's last stage (:class:`RejectedRows`) blanks its prediction, so no caller gets a silent guess.

What is not row-local stays out: de-duplication, ``unique`` rules, the label's checks, filters that read
the label or a dropped column, and custom ``cleanse.steps`` (arbitrary DataFrame code: a project with
steps keeps silver-shaped models, see :meth:`RowPreparation.for_model`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark import keyword_only
from pyspark.errors import AnalysisException
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NumericType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from sparkwright.data.lake import spark_message
from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkwright.config.schema import ProjectConfig

log = logging.getLogger(__name__)

MISSING_SUFFIX = "_missing"
# Column metadata cleanse writes on silver columns (Delta keeps it in the table schema).
SOURCE_TYPE_KEY = "sparkwright.source_type"
OPTIONAL_KEY = "sparkwright.optional"
INDICATOR_OF_KEY = "sparkwright.indicator_of"
INTERNAL = "__sw_"
# Why the preparation refused a row (null: it did not); internal, like every __sw_ column.
REASON_COL = f"{INTERNAL}reason"
FORMAT_VERSION = 1
# MLmodel metadata key saying which rows a logged model takes: "raw" (source-shaped) or "silver".
MODEL_INPUT_KEY = "sparkwright_input"


# ---- the column definitions shared by cleanse and the model ------------------------------------------


def silver_column(name: str, source_type: DataType, missing_level: str) -> Column:
    """A feature column as silver has it: numbers and booleans as double, a null or empty string as
    ``missing_level``; other types unchanged."""
    value = column(name)
    if isinstance(source_type, NumericType | BooleanType):
        return value.cast("double")
    if isinstance(source_type, StringType):
        return F.when(value.isNull() | (value == ""), F.lit(missing_level)).otherwise(value)
    return value


def indicator_column(name: str, source_type: DataType) -> Column:
    """``<name>_missing``: 1.0 where the source value is null (or NaN), else 0.0."""
    return is_missing(column(name), source_type).cast("double")


def is_missing(value: Column, data_type: DataType) -> Column:
    """Null, or NaN for float / double columns."""
    if isinstance(data_type, FloatType | DoubleType):
        return value.isNull() | F.isnan(value)
    return value.isNull()


def filter_condition(df: DataFrame, expression: str, index: int) -> Column:
    """A ``cleanse.filters`` entry as a null-safe boolean column (a null result removes the row, as SQL
    WHERE does).

    Raises:
        ConfigError: Not a valid Spark SQL condition on ``df`` (path ``cleanse.filters[index]``).
    """
    path = f"cleanse.filters[{index}]"
    try:
        condition = F.expr(expression)
        # Analyse now (Spark Connect is lazy), so the error names the filter rather than a later count.
        data_type = df.select(condition.alias("_check")).schema[0].dataType
    except AnalysisException as exc:  # ParseException is a subclass; Connect raises the same types
        raise ConfigError(
            f"{expression!r} is not a valid Spark SQL condition on the data: {spark_message(exc)}", path
        ) from exc
    if not isinstance(data_type, BooleanType):
        raise ConfigError(
            f"{expression!r} gives values of type {data_type.simpleString()}, not true/false; "
            "write a condition such as 'price > 0'.",
            path,
        )
    return F.coalesce(condition, F.lit(False))


def column(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


_NUMBERS = (ByteType(), ShortType(), IntegerType(), LongType(), FloatType(), DoubleType())
_SIMPLE_TYPES: dict[str, DataType] = {t.simpleString(): t for t in (*_NUMBERS, StringType(), BooleanType())}


def spark_type(name: str) -> DataType:
    """A feature column's Spark type from its ``simpleString`` (``int``, ``decimal(10,2)``, ...), without a JVM."""
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("decimal(") and name.endswith(")"):
        precision, scale = (int(part) for part in name[len("decimal(") : -1].split(","))
        return DecimalType(precision, scale)
    raise DataError(f"a model input of type {name!r}; feature columns are numbers, booleans or strings.")


def source_metadata(source_type: DataType, optional: bool) -> dict[str, Any]:
    """The metadata cleanse puts on a silver feature column."""
    return {SOURCE_TYPE_KEY: source_type.simpleString(), OPTIONAL_KEY: optional}


def in_source_type(name: str, silver: StructType) -> Column:
    """Silver column ``name`` cast back to its source type (silver holds numbers as doubles).

    For the row keys that output tables carry (flagged anomalies, cluster assignments): a key as a double would
    not join back to its source rows. Columns without a recorded source type are returned as they are.
    """
    source = silver[name].metadata.get(SOURCE_TYPE_KEY)
    value = F.col(f"`{name}`")
    return (value.cast(spark_type(source)) if source else value).alias(name)


# ---- what a model carries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputColumn:
    """A source column the model reads.

    Attributes:
        name: As in the source (and in silver).
        source_type: Its Spark type in the source, e.g. ``int``, ``double``, ``string``, ``boolean``.
        indicator: The model also reads ``<name>_missing``.
        optional: It was missing in some training rows, so a request may leave it out (or send null).
    """

    name: str
    source_type: str
    indicator: bool
    optional: bool

    @property
    def data_type(self) -> DataType:
        return spark_type(self.source_type)

    @property
    def categorical(self) -> bool:
        return self.source_type == "string"


@dataclass(frozen=True)
class RowCheck:
    """A row-local rule scoring applies: a ``quality`` rule (``rule`` is its project-file form) or a filter
    (``{"rule": "filter", "expression": ...}``). ``columns`` are the input columns it reads."""

    name: str
    rule: dict[str, Any]
    columns: list[str]


@dataclass(frozen=True)
class RowPreparation:
    """The row-local preparation a model applies to source-shaped rows (JSON-serialisable).

    Attributes:
        columns: The source columns the model reads.
        missing_level: The level a null or empty string becomes.
        checks: The row-local rules a row must pass.
        ignored: Source columns a row may carry that the model does not read (the label, dropped columns),
            so a row straight from the source is accepted; any other unknown column is still an error
            where inputs are checked strictly (REST).
    """

    columns: list[InputColumn]
    missing_level: str
    checks: list[RowCheck] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> str:
        return json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RowPreparation:
        raw = json.loads(text)
        if raw.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"this model's row preparation is format {raw.get('format_version')}; this sparkwright reads "
                f"format {FORMAT_VERSION}. Score it with the sparkwright version that trained it, or retrain."
            )
        return cls(
            columns=[InputColumn(**c) for c in raw["columns"]],
            missing_level=raw["missing_level"],
            checks=[RowCheck(**c) for c in raw["checks"]],
            ignored=raw["ignored"],
        )

    @classmethod
    def for_model(cls, spark: SparkSession, config: ProjectConfig, silver: StructType) -> RowPreparation | None:
        """The preparation for a model trained on ``silver``; None when its models must take silver rows.

        None when the project runs custom ``cleanse.steps`` (arbitrary DataFrame code, not known to be
        row-local) or when the silver table predates the source-type metadata; the reason is logged.
        """
        from sparkwright.data.cleanse import feature_columns

        if config.cleanse.steps:
            log.info("models take silver rows: cleanse.steps run code that scoring cannot be sure to repeat")
            return None
        categorical, numeric = feature_columns(silver, config)
        fields = {f.name: f for f in silver.fields}
        indicators = {fields[n].metadata.get(INDICATOR_OF_KEY) for n in numeric} - {None}
        # Keys are read too (optional), though never features: scored rows (a stream's, a REST batch's) keep their ids.
        keys = [k for k in config.data.keys if k in fields and SOURCE_TYPE_KEY in fields[k].metadata]
        inputs = [n for n in [*categorical, *numeric, *keys] if INDICATOR_OF_KEY not in fields[n].metadata]
        inputs = list(dict.fromkeys(inputs))
        unknown = [n for n in inputs if SOURCE_TYPE_KEY not in fields[n].metadata]
        if unknown:
            log.info("models take silver rows: silver columns %s carry no source type (an older table)", unknown)
            return None
        columns = [
            InputColumn(
                name,
                fields[name].metadata[SOURCE_TYPE_KEY],
                name in indicators,
                name in keys or bool(fields[name].metadata.get(OPTIONAL_KEY)),  # a key is never needed to score
            )
            for name in inputs
        ]
        read = {c.name for c in columns} | {n + MISSING_SUFFIX for n in indicators}
        ignored = [config.data.label, *config.data.drop, *(f.name for f in silver.fields if f.name not in read)]
        ignored = list(dict.fromkeys(name for name in ignored if name))
        preparation = cls(columns, config.cleanse.categorical_missing)
        return cls(columns, config.cleanse.categorical_missing, _row_checks(spark, config, preparation), ignored)

    # ---- Spark ----------------------------------------------------------------------------------------

    def input_schema(self) -> StructType:
        return StructType([StructField(c.name, c.data_type) for c in self.columns])

    def apply(self, df: DataFrame) -> DataFrame:
        """``df`` with the model's silver columns in place of the source ones, their indicators, and
        :data:`REASON_COL` (null, or why the row is refused). Other columns pass through.

        Raises:
            DataError: A column that was never missing in training is absent (optional ones may be).
        """
        df, reasons = self._typed(df)
        reasons += [F.when(fails, reason) for fails, reason in self._rule_columns(df)]
        joined = F.concat_ws("; ", *reasons) if reasons else F.lit("")
        prepared = df.withColumn(REASON_COL, F.when(joined != "", joined))
        indicators = [c for c in self.columns if c.indicator]
        # Replaced, or made again here (a silver row's own indicators): not passed through.
        made = {c.name for c in self.columns} | {c.name + MISSING_SUFFIX for c in indicators}
        originals = f"{INTERNAL}original_"
        return prepared.select(
            *[column(c) for c in prepared.columns if c not in made and not c.startswith(originals)],
            *[silver_column(c.name, c.data_type, self.missing_level).alias(c.name) for c in self.columns],
            *[indicator_column(c.name, c.data_type).alias(c.name + MISSING_SUFFIX) for c in indicators],
        )

    def _typed(self, df: DataFrame) -> tuple[DataFrame, list[Column]]:
        """The input columns in their source types, and why a value could not be converted.

        Absent optional columns become nulls; a column of another type is converted with ``try_cast``, and
        a value that does not convert is a reason to refuse the row, not a silent null.
        """
        required = [c.name for c in self.columns if c.name not in df.columns and not c.optional]
        if required:
            raise DataError(
                f"the input lacks columns {required}, which the model needs (they were never missing in its "
                f"training data); it reads {', '.join(self.input_names)}."
            )
        types = {f.name: f.dataType for f in df.schema.fields}
        reasons: list[Column] = []
        for c in self.columns:
            if c.name not in types:
                df = df.withColumn(c.name, F.lit(None).cast(c.data_type))
                continue
            if c.categorical and isinstance(types[c.name], StringType):
                # The missing level is how silver writes a missing value: a silver row is checked as its source
                # row was (a gap passes range / allowed_values / pattern and fails not_null).
                df = df.withColumn(c.name, F.when(column(c.name) != F.lit(self.missing_level), column(c.name)))
            if types[c.name] != c.data_type:
                original = f"{INTERNAL}original_{c.name}"
                df = df.withColumn(original, column(c.name))
                df = df.withColumn(c.name, column(original).try_cast(c.data_type))
                shown = F.concat(F.lit(f"{c.name} = "), column(original).cast("string"))
                unconverted = column(original).isNotNull() & column(c.name).isNull()
                reasons.append(F.when(unconverted, F.concat(shown, F.lit(f" is not a valid {c.source_type}"))))
        return df, reasons

    def _rule_columns(self, df: DataFrame) -> list[tuple[Column, Column]]:
        from sparkwright.data.quality import rule_failure

        out = []
        for index, check in enumerate(self.checks):
            if check.rule["rule"] == "filter":
                passes = filter_condition(df, check.rule["expression"], index)
                out.append((~passes, F.lit(f"filter {check.rule['expression']!r} is not true")))
            else:
                rule = quality_rule(check.rule)
                out.append(rule_failure(df.sparkSession, rule, index, df.schema[check.columns[0]].dataType))
        return out


def quality_rule(rule: dict[str, Any]) -> Any:
    """A quality rule back from its project-file form (as a :class:`RowCheck` keeps it)."""
    from pydantic import TypeAdapter

    from sparkwright.config.quality import QualityRule

    return TypeAdapter(QualityRule).validate_python(rule)


def _row_checks(spark: SparkSession, config: ProjectConfig, preparation: RowPreparation) -> list[RowCheck]:
    """The project's rules that read only the model's input columns, in project-file order."""
    from sparkwright.config.quality import UniqueRule

    inputs = set(preparation.input_names)
    checks = [
        RowCheck(rule.display_name, rule.model_dump(exclude_none=True), [rule.column])
        for rule in config.quality
        if not isinstance(rule, UniqueRule) and rule.column in inputs
    ]
    empty = spark.createDataFrame([], preparation.input_schema())
    for expression in config.cleanse.filters:
        columns = _columns_read(empty, expression)
        if columns is not None:
            checks.append(RowCheck(f"filter {expression}", {"rule": "filter", "expression": expression}, columns))
    return checks


def _columns_read(rows: DataFrame, expression: str) -> list[str] | None:
    """The input columns ``expression`` reads; None when it reads anything else (the label, a dropped column).

    Found by analysis alone (no job): the expression resolves on the input columns, and stops resolving
    without each column it reads.
    """

    def resolves(df: DataFrame) -> bool:
        try:
            df.select(F.expr(expression).alias("_check")).schema  # noqa: B018 - analysis only
        except AnalysisException:
            return False
        return True

    with _analysis_errors_unlogged():
        if not resolves(rows):
            return None
        return [name for name in rows.columns if not resolves(rows.drop(name))]


@contextmanager
def _analysis_errors_unlogged() -> Iterator[None]:
    """PySpark logs every analysis error at ERROR level (its query-context loggers); these probes expect them."""
    from pyspark.logger import PySparkLogger

    # Through PySparkLogger: a plain logging.getLogger would create them as plain loggers, which PySpark's
    # own calls (with keyword fields) would then break.
    loggers = [PySparkLogger.getLogger(name) for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    states = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, state in zip(loggers, states, strict=True):
            logger.disabled = state


# ---- the model's stages -----------------------------------------------------------------------------------


class PrepareRows(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """The first stage of a model that takes source-shaped rows: :meth:`RowPreparation.apply`."""

    preparation = Param(
        Params._dummy(), "preparation", "the RowPreparation as JSON", typeConverter=TypeConverters.toString
    )

    @keyword_only
    def __init__(self, *, preparation: str | None = None):
        super().__init__()
        kwargs = self._input_kwargs
        self._set(**kwargs)

    def getPreparation(self) -> RowPreparation:
        return RowPreparation.from_json(self.getOrDefault(self.preparation))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return self.getPreparation().apply(dataset)


class RejectedRows(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """The last stage of such a model: no prediction (nor probability) for a row the preparation refused."""

    outputCols = Param(
        Params._dummy(), "outputCols", "the columns blanked on refused rows", typeConverter=TypeConverters.toListString
    )

    @keyword_only
    def __init__(self, *, outputCols: list[str] | None = None):
        super().__init__()
        kwargs = self._input_kwargs
        self._set(**kwargs)

    def getOutputCols(self) -> list[str]:
        return self.getOrDefault(self.outputCols)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        refused = F.col(REASON_COL).isNotNull()
        for name in self.getOutputCols():
            if name in dataset.columns:
                dataset = dataset.withColumn(name, F.when(~refused, column(name)))
        return dataset


def with_preparation(model: Any, preparation: RowPreparation, outputs: list[str]) -> Any:
    """``model`` (a fitted PipelineModel on silver columns) as one that takes source-shaped rows:
    :class:`PrepareRows` first, :class:`RejectedRows` blanking ``outputs`` of refused rows last."""
    from pyspark.ml import PipelineModel

    return PipelineModel(
        stages=[PrepareRows(preparation=preparation.to_json()), *model.stages, RejectedRows(outputCols=outputs)]
    )


def preparation_of(model: Any) -> RowPreparation | None:
    """The preparation of a model that takes source-shaped rows; None for one that takes silver rows."""
    stages = getattr(model, "stages", [])
    first = stages[0] if stages else None
    return first.getPreparation() if isinstance(first, PrepareRows) else None


# MLflow signature type of a source column: every integer is "long" (pandas' int64 passes MLflow's check,
# which refuses int64 for an "integer" column), decimals are doubles.
_MLFLOW_TYPES = {"string": "string", "boolean": "boolean", "float": "float", "double": "double"}


def mlflow_type(source_type: str) -> str:
    if source_type in ("tinyint", "smallint", "int", "bigint"):
        return "long"
    return _MLFLOW_TYPES.get(source_type, "double")


def input_signature_schema(preparation: RowPreparation) -> Any:
    """The MLflow input schema of a model that takes source rows: each column's type, optional ones marked."""
    from mlflow.types import ColSpec, Schema

    return Schema([ColSpec(mlflow_type(c.source_type), c.name, required=not c.optional) for c in preparation.columns])


def source_rows(silver_rows: DataFrame, preparation: RowPreparation) -> DataFrame:
    """Silver rows back in the source's shape and types (an input example): indicators left out."""
    return silver_rows.select(*[column(c.name).cast(c.data_type).alias(c.name) for c in preparation.columns])
