"""Compare the columns of two DataFrames in Spark: only aggregates reach the driver.

Two passes (Spark jobs, which adaptive execution may split), whatever the number of columns, each over both
sides at once (a union tagged by side):

1. one ``groupBy(side, refused).agg(...)``: rows per side, refused rows, and per numeric column its mean and,
   on the reference side, the quantiles that become the bin edges (``percentile_approx``);
2. one ``groupBy(column, bucket)`` over an exploded ``(column, bucket)`` array: every numeric column's bin
   counts and every categorical column's level counts. Categoricals are bounded in Spark before they reach
   the driver: the ``max_levels`` most frequent training levels keep their own bucket, the remaining
   training levels share one, values the training rows never had share another (their most frequent
   examples come back by name), and missing values have their own.

The counts become PSI, chi-square and null rates in :mod:`sparkwright.monitor.statistics`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError
from sparkwright.monitor.results import CATEGORICAL, FEATURE, NUMERIC, Bucket, Comparison, Drift
from sparkwright.monitor.statistics import chi_square, psi

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# percentile_approx's accuracy: relative rank error 1/10,000 (the bins are the training deciles to that rank).
QUANTILE_ACCURACY = 10_000
# New categories named per column (the rest are counted in the "new" bucket).
NEW_EXAMPLES = 20
MISSING_BUCKET = "(missing)"
_SIDE, _REFUSED = "__sw_side", "__sw_refused"
_REFERENCE, _CURRENT = 0, 1


def compare(
    reference: DataFrame,
    current: DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    bins: int = 10,
    max_levels: int = 50,
    missing_level: str | None = None,
    refused: str | None = None,
) -> Comparison:
    """Compare each named column of ``current`` with the same column of ``reference``.

    Args:
        reference: The rows the model learned from.
        current: The rows it scores now.
        numeric: Columns binned on ``bins`` quantiles of ``reference`` (nulls and NaN: a bin of their own).
        categorical: Columns compared level by level (null, empty and ``missing_level``: missing).
        bins: Quantile bins per numeric column (fewer when quantiles coincide, e.g. a column of few values).
        max_levels: Training levels per categorical column with a bucket of their own.
        missing_level: The level that stands for a missing category (``cleanse.categorical_missing``).
        refused: A column of either side that is non-null on rows to leave out (counted, not compared).

    Returns:
        The row counts and one :class:`Drift` per column, numeric ones first, with ``crossed`` empty.

    Raises:
        DataError: A column is missing from a side, a setting is invalid, or a side has no rows to compare.
    """
    if not numeric and not categorical:
        raise DataError("nothing to compare: give at least one numeric or categorical column.")
    overlap = sorted(set(numeric) & set(categorical))
    if overlap:
        raise DataError(f"columns {overlap} are listed as both numeric and categorical; list each once.")
    for side, df in (("reference", reference), ("current", current)):
        missing = [c for c in [*numeric, *categorical] if c not in df.columns]
        if missing:
            raise DataError(f"the {side} rows lack columns {missing}; they have {', '.join(df.columns)}.")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise DataError(f"bins must be an integer >= 2, got {bins!r}; 10 (deciles) is usual.")
    if isinstance(max_levels, bool) or not isinstance(max_levels, int) or max_levels < 1:
        raise DataError(f"max_levels must be an integer >= 1, got {max_levels!r}.")
    return _compare(reference, current, numeric, categorical, bins, max_levels, missing_level, refused)


def _compare(
    reference: DataFrame,
    current: DataFrame,
    numeric: list[str],
    categorical: list[str],
    bins: int,
    max_levels: int,
    missing_level: str | None,
    refused: str | None,
) -> Comparison:
    both = _tagged(reference, _REFERENCE, numeric, categorical, missing_level, refused).unionByName(
        _tagged(current, _CURRENT, numeric, categorical, missing_level, refused)
    )
    summary = _summary(both, len(numeric), bins)
    reference_rows, current_rows = summary[_REFERENCE]["rows"], summary[_CURRENT]["rows"]
    refused_rows = summary[_CURRENT]["refused"]
    if not reference_rows or not current_rows:
        raise DataError(
            f"nothing to compare: {reference_rows} reference rows and {current_rows} current rows"
            + (f" ({refused_rows} refused by the model's preparation)" if refused_rows else "")
            + "."
        )
    edges = [_edges(summary[_REFERENCE]["quantiles"][i]) for i in range(len(numeric))]
    counts = _bucket_counts(both, edges, len(categorical), max_levels)
    drifts = [
        _numeric_drift(name, edges[i], counts.get(("n", i), {}), summary, i) for i, name in enumerate(numeric)
    ] + [_categorical_drift(name, counts.get(("c", j), {})) for j, name in enumerate(categorical)]
    return Comparison(reference_rows, current_rows, refused_rows, drifts)


# ---- Spark ------------------------------------------------------------------------------------------------


def _tagged(
    df: DataFrame,
    side: int,
    numeric: list[str],
    categorical: list[str],
    missing_level: str | None,
    refused: str | None,
) -> DataFrame:
    """The compared columns as ``n0..`` (double, NaN as null) and ``c0..`` (string, missing as null)."""
    from pyspark.sql import functions as F

    refused_flag = F.col(_quote(refused)).isNotNull() if refused and refused in df.columns else F.lit(False)
    columns = [F.lit(side).alias(_SIDE), refused_flag.alias(_REFUSED)]
    for i, name in enumerate(numeric):
        value = F.col(_quote(name)).cast("double")
        columns.append(F.when(~F.isnan(value), value).alias(f"n{i}"))
    for j, name in enumerate(categorical):
        value = F.col(_quote(name)).cast("string")
        missing = value.isNull() | (value == "")
        if missing_level is not None:
            missing = missing | (value == missing_level)
        columns.append(F.when(~missing, value).alias(f"c{j}"))
    return df.select(*columns)


def _summary(both: DataFrame, n_numeric: int, bins: int) -> dict[int, dict[str, Any]]:
    """Scan 1: per side, rows compared and refused, each numeric column's mean, the reference's bin quantiles."""
    from pyspark.sql import functions as F

    probabilities = [k / bins for k in range(1, bins)]
    is_reference = F.col(_SIDE) == _REFERENCE
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for i in range(n_numeric):
        value = F.col(f"n{i}")
        aggregates += [
            F.avg(value).alias(f"mean{i}"),
            # Only the reference side's quantiles are used: the current side's rows skip the sketch.
            F.percentile_approx(F.when(is_reference, value), probabilities, QUANTILE_ACCURACY).alias(f"q{i}"),
        ]
    found = both.groupBy(_SIDE, _REFUSED).agg(*aggregates).collect()
    out: dict[int, dict[str, Any]] = {
        side: {"rows": 0, "refused": 0, "means": [None] * n_numeric, "quantiles": [None] * n_numeric}
        for side in (_REFERENCE, _CURRENT)
    }
    for row in found:
        side = out[row[_SIDE]]
        if row[_REFUSED]:
            side["refused"] = row["rows"]
            continue
        side["rows"] = row["rows"]
        side["means"] = [row[f"mean{i}"] for i in range(n_numeric)]
        side["quantiles"] = [row[f"q{i}"] for i in range(n_numeric)]
    return out


def _bucket_counts(
    both: DataFrame, edges: list[list[float]], n_categorical: int, max_levels: int
) -> dict[tuple[str, int], dict[tuple[str, str | None], tuple[int, int]]]:
    """Scan 2: ``{("n"|"c", index): {(kind, key): (reference count, current count)}}``.

    ``kind`` is ``bin`` (key: the bin's index), ``level`` (key: the value), ``other`` (training levels past
    ``max_levels``), ``new`` (values the reference side never had), ``missing``, or ``example`` (a new
    value by name, counted in ``new`` too).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pairs = [F.struct(F.lit(f"n{i}").alias("f"), _bin(F.col(f"n{i}"), e).alias("key")) for i, e in enumerate(edges)]
    pairs += [F.struct(F.lit(f"c{j}").alias("f"), F.col(f"c{j}").alias("key")) for j in range(n_categorical)]
    is_current = (F.col(_SIDE) == _CURRENT).cast("long")
    counted = (
        both.where(~F.col(_REFUSED))
        .select(is_current.alias("cur"), F.explode(F.array(*pairs)).alias("p"))
        .groupBy(F.col("p.f").alias("f"), F.col("p.key").alias("key"))
        .agg(F.sum(1 - F.col("cur")).alias("ref"), F.sum("cur").alias("cur"))
    )
    # Missing values (a null key) rank last: they have their own bucket and must not take a level's place.
    by_frequency = Window.partitionBy("f").orderBy(F.col("key").isNull(), F.desc("ref"), F.desc("cur"), F.asc("key"))
    is_categorical = F.col("f").startswith("c")
    ranked = counted.withColumn(
        "kind",
        F.when(F.col("key").isNull(), F.lit("missing"))
        .when(~is_categorical, F.lit("bin"))
        .when((F.col("ref") > 0) & (F.row_number().over(by_frequency) <= max_levels), F.lit("level"))
        .when(F.col("ref") > 0, F.lit("other"))
        .otherwise(F.lit("new")),
    )
    kept = F.when(F.col("kind").isin("bin", "level"), F.col("key"))
    buckets = ranked.groupBy("f", "kind", kept.alias("key")).agg(F.sum("ref").alias("ref"), F.sum("cur").alias("cur"))
    most_seen = Window.partitionBy("f").orderBy(F.desc("cur"), F.asc("key"))
    examples = (
        ranked.where(F.col("kind") == "new")
        .withColumn("rank", F.row_number().over(most_seen))
        .where(F.col("rank") <= NEW_EXAMPLES)
        .select("f", F.lit("example").alias("kind"), "key", "ref", "cur")
    )
    out: dict[tuple[str, int], dict[tuple[str, str | None], tuple[int, int]]] = {}
    for row in buckets.unionByName(examples).collect():
        column = (row["f"][0], int(row["f"][1:]))
        out.setdefault(column, {})[(row["kind"], row["key"])] = (int(row["ref"]), int(row["cur"]))
    return out


def _bin(value: Column, edges: list[float]) -> Column:
    """The bin index of ``value`` as text: how many edges lie strictly below it (null stays null)."""
    from pyspark.sql import functions as F

    index: Column = F.lit(0)
    for edge in edges:
        index = index + (value > F.lit(edge)).cast("int")
    return F.when(value.isNotNull(), index.cast("string"))


# ---- driver: counts -> statistics ----------------------------------------------------------------------------


def _edges(quantiles: list[float | None] | None) -> list[float]:
    """Distinct, ordered bin edges (a column of few values has coinciding quantiles, hence fewer bins)."""
    return sorted({float(q) for q in quantiles or [] if q is not None})


def _numeric_drift(
    name: str,
    edges: list[float],
    counts: dict[tuple[str, str | None], tuple[int, int]],
    summary: dict[int, dict[str, Any]],
    index: int,
) -> Drift:
    labels = _bin_labels(edges)
    buckets = [Bucket(labels[b], *counts.get(("bin", str(b)), (0, 0))) for b in range(len(edges) + 1)]
    buckets.append(Bucket(MISSING_BUCKET, *counts.get(("missing", None), (0, 0))))
    return _drift(
        name,
        NUMERIC,
        buckets,
        edges=edges,
        mean_reference=summary[_REFERENCE]["means"][index],
        mean_current=summary[_CURRENT]["means"][index],
    )


def _categorical_drift(name: str, counts: dict[tuple[str, str | None], tuple[int, int]]) -> Drift:
    levels = sorted(
        ((key, ref, cur) for (kind, key), (ref, cur) in counts.items() if kind == "level"),
        key=lambda level: (-level[1], -level[2], str(level[0])),
    )
    buckets = [Bucket(str(key), ref, cur) for key, ref, cur in levels]
    buckets.append(Bucket("(other training levels)", *counts.get(("other", None), (0, 0))))
    new = counts.get(("new", None), (0, 0))
    buckets.append(Bucket("(new in scoring)", *new))
    buckets.append(Bucket(MISSING_BUCKET, *counts.get(("missing", None), (0, 0))))
    examples = sorted(
        ((str(key), cur) for (kind, key), (_, cur) in counts.items() if kind == "example"),
        key=lambda example: (-example[1], example[0]),
    )
    current_rows = sum(b.current for b in buckets)
    return _drift(
        name,
        CATEGORICAL,
        buckets,
        new_categories=examples,
        new_share=new[1] / current_rows if current_rows else 0.0,
    )


def _drift(name: str, kind: str, buckets: list[Bucket], **extra: Any) -> Drift:
    reference = [b.reference for b in buckets]
    current = [b.current for b in buckets]
    missing = buckets[-1]
    return Drift(
        name=name,
        kind=kind,
        role=FEATURE,
        buckets=buckets,
        edges=extra.pop("edges", []),
        psi=psi(reference, current),
        chi_square=chi_square(reference, current) if kind == CATEGORICAL else None,
        null_rate_reference=missing.reference / sum(reference),
        null_rate_current=missing.current / sum(current),
        **extra,
    )


def _bin_labels(edges: list[float]) -> list[str]:
    """``≤ a``, ``(a, b]``, ..., ``> z``, with as many digits as it takes to tell neighbouring edges apart."""
    if not edges:
        return ["all values"]
    digits = next((d for d in range(4, 17) if len({f"{e:.{d}g}" for e in edges}) == len(edges)), 17)
    text = [f"{e:.{digits}g}" for e in edges]
    return [f"≤ {text[0]}", *(f"({a}, {b}]" for a, b in itertools.pairwise(text)), f"> {text[-1]}"]


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
