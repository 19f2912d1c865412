"""Data-quality rules (``quality:`` in a project file) evaluated in Spark: pass or quarantine each row.

Decisions, so that the quarantine table can be read without the code:

- A row is checked against EVERY rule. ``_rule`` lists the names of all the rules it breaks and
  ``_reason`` says why for each, both joined with ``"; "`` in rule order; ``counts`` counts the rows
  failing each rule on its own, so their sum can exceed ``quarantined_rows``.
- Missing values (null, and NaN in float/double columns) fail only ``not_null``; ``range``,
  ``allowed_values`` and ``pattern`` let them pass, so one gap is reported once, by the rule meant for it.
- ``unique`` quarantines EVERY row of a duplicated key, not all but one: which copy is right cannot be
  known, and keeping an arbitrary one would make the silver table depend on row order. Nulls in key
  columns compare equal (as in ``dropDuplicates``). It is a window count, one shuffle, no driver work.
- ``pattern`` is Spark's ``rlike`` (Java regex, matches anywhere: anchor with ``^...$``); non-string
  columns are checked on their string form.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, NumericType, StringType

from sparkwright.config.checks import did_you_mean, require_unique_names
from sparkwright.config.quality import AllowedValuesRule, NotNullRule, PatternRule, RangeRule, UniqueRule
from sparkwright.data.lake import spark_message
from sparkwright.data.preparation import column, is_missing
from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkwright.config.quality import QualityRule

log = logging.getLogger(__name__)

RULE_COLUMN = "_rule"
REASON_COLUMN = "_reason"


@dataclass(frozen=True)
class QualityResult:
    """Rows meeting every rule, quarantined rows (+ ``_rule``, ``_reason``) and failures per rule name."""

    passed: DataFrame
    quarantined: DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    total_rows: int = 0
    passed_rows: int = 0
    quarantined_rows: int = 0


def check_quality(df: DataFrame, rules: list[QualityRule]) -> QualityResult:
    """Evaluate ``rules`` on ``df`` and split it into passed and quarantined rows.

    All counts come from one aggregation job (each ``unique`` rule adds a window shuffle to it);
    ``passed`` and ``quarantined`` stay lazy and recompute ``df`` when written, so cache ``df`` first
    if it is expensive to compute. See the module docstring for how each rule treats missing values.

    Args:
        df: The rows to check, e.g. the bronze table.
        rules: ``config.quality``; index ``i`` of a rule is its YAML path ``quality[i]`` in errors.

    Returns:
        A :class:`QualityResult`; ``counts`` is keyed by each rule's ``display_name``.

    Raises:
        DataError: A rule names a column that is not in ``df``, a ``range`` rule is on a non-numeric
            column, allowed values do not fit the column type, or ``df`` already has ``_rule``/``_reason``.
        ConfigError: Two rules share a name (``quality[i].name``) or a regex is invalid (``quality[i].regex``).
    """
    _check_names(df, rules)
    types = {f.name: f.dataType for f in df.schema.fields}
    original = [column(c) for c in df.columns]

    checked = df
    fails: list[Column] = []
    reasons: list[Column] = []
    kept: list[Column] = []
    for index, rule in enumerate(rules):
        if isinstance(rule, UniqueRule):
            # A window count keeps every row and needs one shuffle by the key; nothing goes to the driver.
            count = F.count(F.lit(1)).over(Window.partitionBy(*map(column, rule.columns)))
            checked = checked.withColumn(f"__count{index}", count)
            kept.append(F.col(f"__count{index}"))
            fail, reason = _unique(rule, F.col(f"__count{index}"), types)
        else:
            fail, reason = rule_failure(df.sparkSession, rule, index, types[rule.column])
        fails.append(F.coalesce(fail, F.lit(False)))
        reasons.append(reason)

    checked = checked.select(*original, *kept, *[fail.alias(f"__fails{i}") for i, fail in enumerate(fails)])
    flags = [F.col(f"__fails{i}") for i in range(len(rules))]
    broken = _any(flags)
    aggregates = [F.count(F.lit(1)).alias("rows"), F.count(F.when(broken, 1)).alias("quarantined")]
    aggregates += [F.count(F.when(flag, 1)).alias(f"c{i}") for i, flag in enumerate(flags)]
    totals = checked.agg(*aggregates).first()

    passed = checked.where(~broken).select(*original)
    # Reasons are built after the filter, so only quarantined rows pay for the string work.
    names = [F.when(flag, F.lit(rule.display_name)) for flag, rule in zip(flags, rules, strict=True)]
    why = [F.when(flag, reason) for flag, reason in zip(flags, reasons, strict=True)]
    no_rules = F.lit(None).cast("string")
    quarantined = checked.where(broken).select(
        *original,
        (F.concat_ws("; ", *names) if rules else no_rules).alias(RULE_COLUMN),
        (F.concat_ws("; ", *why) if rules else no_rules).alias(REASON_COLUMN),
    )

    total, bad = int(totals["rows"]), int(totals["quarantined"])
    counts = {rule.display_name: int(totals[f"c{i}"]) for i, rule in enumerate(rules)}
    log.info("quality: %d of %d rows quarantined %s", bad, total, counts)
    return QualityResult(
        passed=passed,
        quarantined=quarantined,
        counts=counts,
        total_rows=total,
        passed_rows=total - bad,
        quarantined_rows=bad,
    )


# ------------------------------------------------------------------------------------------------ helpers


def _check_names(df: DataFrame, rules: list[QualityRule]) -> None:
    """Fail before any Spark job on unknown columns, clashing names and reserved output columns."""
    available = df.columns
    clashes = [c for c in (RULE_COLUMN, REASON_COLUMN) if c in available]
    if clashes:
        raise DataError(
            f"the data already has column(s) {', '.join(clashes)}, which the quality quarantine adds; rename them."
        )
    require_unique_names([rule.display_name for rule in rules], "quality", "rule name")
    for index, rule in enumerate(rules):
        columns = (
            [(f"quality[{index}].columns[{j}]", c) for j, c in enumerate(rule.columns)]
            if isinstance(rule, UniqueRule)
            else [(f"quality[{index}].column", rule.column)]
        )
        for path, name in columns:
            if name not in available:
                raise DataError(
                    f"{path}: rule {rule.display_name!r} checks column {name!r}, which is not in the data."
                    + did_you_mean(name, available)
                    + f" Available columns: {', '.join(available)}."
                )


def rule_failure(spark: SparkSession, rule: QualityRule, index: int, data_type: DataType) -> tuple[Column, Column]:
    """(fails, reason) of a single-column rule; ``fails`` may be null, which the caller reads as passing.

    Also what a model that takes source-shaped rows checks at scoring (``data.preparation``).
    """
    value = column(rule.column)
    shown = F.concat(F.lit(f"{rule.column} = "), _show(value, data_type))
    if isinstance(rule, NotNullRule):
        missing = is_missing(value, data_type)
        return missing, F.when(value.isNull(), F.lit(f"{rule.column} is null")).otherwise(
            F.lit(f"{rule.column} is NaN")
        )
    present = ~is_missing(value, data_type)
    if isinstance(rule, RangeRule):
        if not isinstance(data_type, NumericType):
            raise DataError(
                f"quality[{index}].column: range rule {rule.display_name!r} needs a numeric column, but "
                f"{rule.column!r} is {data_type.simpleString()}; use allowed_values or pattern instead."
            )
        outside = F.lit(False)
        if rule.min is not None:
            outside = outside | (value < F.lit(rule.min))
        if rule.max is not None:
            outside = outside | (value > F.lit(rule.max))
        low = "-inf" if rule.min is None else f"{rule.min:g}"
        high = "inf" if rule.max is None else f"{rule.max:g}"
        return present & outside, F.concat(shown, F.lit(f" is outside [{low}, {high}]"))
    if isinstance(rule, AllowedValuesRule):
        values = allowed_values(rule, index, data_type)
        listing = ", ".join(repr(v) for v in values)
        return present & ~value.isin(values), F.concat(shown, F.lit(f" is not one of {listing}"))
    if isinstance(rule, PatternRule):
        _check_regex(spark, rule.regex, f"quality[{index}].regex")
        text = value.cast("string")
        return present & ~text.rlike(rule.regex), F.concat(shown, F.lit(f" does not match {rule.regex!r}"))
    raise TypeError(f"unknown quality rule {rule!r}")  # pragma: no cover - the schema admits no other kind


def _unique(rule: UniqueRule, count: Column, types: dict[str, DataType]) -> tuple[Column, Column]:
    """(fails, reason) of a unique rule, e.g. ``(hotel, night) = ('A', 2) occurs 3 times``."""
    shown = [_show(column(c), types[c]) for c in rule.columns]
    if len(rule.columns) == 1:
        key = F.concat(F.lit(f"{rule.columns[0]} = "), shown[0])
    else:
        key = F.concat(F.lit(f"({', '.join(rule.columns)}) = ("), F.concat_ws(", ", *shown), F.lit(")"))
    return count > 1, F.concat(key, F.lit(" occurs "), count.cast("string"), F.lit(" times"))


def allowed_values(rule: AllowedValuesRule, index: int, data_type: DataType) -> list[Any]:
    """The rule's values in the column's type, so ``isin`` never casts the column (ANSI mode would fail)."""
    path = f"quality[{index}].values"
    if isinstance(data_type, StringType):
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in rule.values]
    wrong: list[Any] = []
    if isinstance(data_type, NumericType):
        wrong = [v for v in rule.values if isinstance(v, bool) or not isinstance(v, int | float)]
    elif isinstance(data_type, BooleanType):
        wrong = [v for v in rule.values if not isinstance(v, bool)]
    if wrong:
        raise DataError(
            f"{path}: rule {rule.display_name!r} lists {', '.join(map(repr, wrong))}, but column "
            f"{rule.column!r} is {data_type.simpleString()}; list values of that type."
        )
    return list(rule.values)


def _check_regex(spark: SparkSession, regex: str, path: str) -> None:
    """Compile ``regex`` as Java does now: Spark would only fail inside a task, with a stack trace."""
    jvm = getattr(spark, "_jvm", None)
    try:
        if jvm is not None:
            jvm.java.util.regex.Pattern.compile(regex)
        else:  # Spark Connect: no JVM here, so a one-row job compiles it on the server.
            spark.range(1).select(F.lit("").rlike(regex)).collect()
    except Exception as exc:
        raise ConfigError(f"{regex!r} is not a valid Java regular expression: {spark_message(exc)}", path) from exc


def _show(value: Column, data_type: DataType) -> Column:
    """The value as it appears in a reason: strings quoted, so an empty string is visible."""
    text = value.cast("string")
    if isinstance(data_type, StringType):
        text = F.concat(F.lit("'"), text, F.lit("'"))
    return F.coalesce(text, F.lit("null"))


def _any(flags: list[Column]) -> Column:
    result = F.lit(False)
    for flag in flags:
        result = result | flag
    return result
