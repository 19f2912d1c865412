"""A table's profile computed in Spark: only aggregates (and one bounded sample) reach the driver.

Four scans, whatever the width of the table:

1. one ``agg`` with every per-column statistic (counts, missing, approximate distinct, min/max/mean/std,
   approximate quantiles);
2. one ``agg`` of sums of products of values centred on scan 1's means: every pairwise correlation (the
   textbook two-pass algorithm: cheap sums, numerically stable, no division by zero inside Spark);
3. one ``groupBy`` over an exploded ``(column, bucket, value)`` array that yields every numeric histogram
   and every categorical column's most frequent values (bins need the min/max of scan 1);
4. a bounded sample (at most ``sample_rows`` rows) of the label and its most correlated features.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# percentile_approx's default accuracy: relative rank error 1/10,000, memory O(accuracy) per column.
_ACCURACY = 10_000
_SCATTER_FEATURES = 4


@dataclass
class Histogram:
    """Equal-width bins: ``counts[i]`` values fall in ``[edges[i], edges[i + 1])`` (the last bin is closed)."""

    edges: list[float]
    counts: list[int]


@dataclass
class ColumnProfile:
    """Statistics of one column. ``count`` excludes missing values (null, and NaN for floating columns)."""

    name: str
    dtype: str
    kind: str  # numeric | categorical | datetime | other
    count: int
    missing: int
    distinct: int | None = None
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float | None] = field(default_factory=dict)
    histogram: Histogram | None = None
    top_values: list[tuple[str, int]] = field(default_factory=list)

    @property
    def missing_fraction(self) -> float:
        total = self.count + self.missing
        return self.missing / total if total else 0.0

    @property
    def median(self) -> float | None:
        return self.quantiles.get("50%")


@dataclass
class Correlation:
    """Pearson correlations; ``matrix[i][j]`` is None when a column is constant or has too few rows."""

    columns: list[str]
    matrix: list[list[float | None]]

    def get(self, a: str, b: str) -> float | None:
        return self.matrix[self.columns.index(a)][self.columns.index(b)]


@dataclass
class Profile:
    """The profile of a table, small enough to keep, log and render whatever the table's size."""

    rows: int
    columns: list[ColumnProfile]
    label: str | None = None
    correlation: Correlation | None = None
    label_correlations: list[tuple[str, float]] = field(default_factory=list)
    sample: dict[str, list[Any]] = field(default_factory=dict)
    settings: dict[str, int] = field(default_factory=dict)

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``.

        Raises:
            DataError: The table has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise DataError(f"the profile has no column {name!r}; columns: {', '.join(c.name for c in self.columns)}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN and infinities become None, tuples become lists)."""
        return _jsonable(asdict(self))


def profile_table(
    df: DataFrame,
    *,
    label: str | None = None,
    bins: int = 20,
    top_values: int = 10,
    max_correlation_columns: int = 30,
    sample_rows: int = 2_000,
    seed: int = 42,
) -> Profile:
    """Profile a Spark DataFrame in Spark, so tables larger than the driver's memory work.

    Args:
        df: The table.
        label: The column to predict: its distribution and its most correlated features get a section.
        bins: Equal-width histogram bins per numeric column.
        top_values: Most frequent values kept per categorical (string or boolean) column.
        max_correlation_columns: Numeric columns in the correlation matrix (the label first, then table order;
            constant columns are left out): the matrix costs ``n * (n - 1) / 2`` aggregates.
        sample_rows: Rows sampled for the label-against-feature scatter plots.
        seed: Seed of that sample.

    Returns:
        The profile (see :class:`Profile`).

    Raises:
        DataError: Invalid settings, or ``label`` is not a column.
    """
    _check(df, label, bins, top_values, max_correlation_columns, sample_rows)
    return _profile(df, label, bins, top_values, max_correlation_columns, sample_rows, seed)


def _check(df: DataFrame, label: str | None, bins: int, top: int, max_corr: int, sample_rows: int) -> None:
    if label is not None and label not in df.columns:
        raise DataError(f"label {label!r} is not a column of the table; columns: {', '.join(df.columns)}.")
    for name, value, low in (("bins", bins, 1), ("top_values", top, 1), ("max_correlation_columns", max_corr, 2)):
        if not isinstance(value, int) or value < low:
            raise DataError(f"{name} must be an integer >= {low}, got {value!r}.")
    if not isinstance(sample_rows, int) or sample_rows < 0:
        raise DataError(f"sample_rows must be an integer >= 0, got {sample_rows!r}.")


def _profile(
    df: DataFrame, label: str | None, bins: int, top: int, max_corr: int, sample_rows: int, seed: int
) -> Profile:
    from pyspark.sql import functions as F

    fields = [(f.name, f.dataType) for f in df.schema.fields]
    kinds = {name: _kind(dtype) for name, dtype in fields}
    numeric = [name for name, _ in fields if kinds[name] == "numeric"]
    categorical = [name for name, _ in fields if kinds[name] == "categorical"]

    # Scan 1: every per-column statistic in one aggregation.
    values = {name: _value(name, dtype, kinds[name]) for name, dtype in fields}
    exprs = [F.count(F.lit(1)).alias("rows")]
    for i, (name, dtype) in enumerate(fields):
        exprs += _stat_exprs(i, name, dtype, kinds[name], values[name])
    stats = df.agg(*exprs).first().asDict()
    rows = int(stats["rows"])
    columns = [_column(i, name, dtype, kinds[name], stats, rows) for i, (name, dtype) in enumerate(fields)]
    by_name = {c.name: c for c in columns}

    # Scan 2: the correlation matrix of the varying numeric columns (a constant one correlates with nothing).
    varying = [c for c in numeric if by_name[c].std]
    corr_columns = ([label] if label in varying else []) + [c for c in varying if c != label]
    correlation = _correlation(df, values, by_name, corr_columns[:max_corr]) if len(corr_columns) > 1 else None

    # Scan 3: histograms and top values from one shuffle of (column, bucket, value) keys.
    _distributions(df, values, by_name, numeric, categorical, bins, top)

    label_correlations: list[tuple[str, float]] = []
    if correlation is not None and label in correlation.columns:
        found = [(c, correlation.get(label, c)) for c in correlation.columns if c != label]
        label_correlations = sorted(((c, r) for c, r in found if r is not None), key=lambda cr: -abs(cr[1]))

    # Scan 4: a bounded sample for the label-against-feature scatter plots.
    sample: dict[str, list[Any]] = {}
    if label is not None and rows and sample_rows:
        shown = [c for c, _ in label_correlations[:_SCATTER_FEATURES]]
        sample = _sample(df, [label, *shown], values, rows, sample_rows, seed)

    settings = {"bins": bins, "top_values": top, "max_correlation_columns": max_corr, "sample_rows": sample_rows}
    return Profile(rows, columns, label, correlation, label_correlations, sample, settings)


def _kind(dtype: DataType) -> str:
    from pyspark.sql import types as T

    if isinstance(dtype, T.NumericType):
        return "numeric"
    if isinstance(dtype, T.StringType | T.BooleanType):
        return "categorical"
    if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "datetime"
    return "other"


def _value(name: str, dtype: DataType, kind: str) -> Column:
    """The column as analysed: numerics as double with NaN as null, categoricals as strings."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    col = F.col(f"`{name.replace('`', '``')}`")
    if kind == "numeric":
        as_double = col.cast("double")
        if isinstance(dtype, T.FloatType | T.DoubleType):
            return F.when(F.isnan(as_double), F.lit(None)).otherwise(as_double)
        return as_double
    if kind == "categorical":
        return col.cast("string")
    return col


def _stat_exprs(i: int, name: str, dtype: DataType, kind: str, value: Column) -> list[Column]:
    from pyspark.sql import functions as F

    exprs = [F.count(value).alias(f"c{i}_count")]
    if kind in ("numeric", "categorical", "datetime"):
        exprs.append(F.approx_count_distinct(value).alias(f"c{i}_distinct"))
    if kind == "numeric":
        exprs += [
            F.min(value).alias(f"c{i}_min"),
            F.max(value).alias(f"c{i}_max"),
            F.mean(value).alias(f"c{i}_mean"),
            F.stddev_samp(value).alias(f"c{i}_std"),
            F.percentile_approx(value, list(QUANTILES), _ACCURACY).alias(f"c{i}_q"),
        ]
    elif kind == "datetime":
        exprs += [F.min(value).cast("string").alias(f"c{i}_min"), F.max(value).cast("string").alias(f"c{i}_max")]
    return exprs


def _correlation(
    df: DataFrame, values: dict[str, Column], by_name: dict[str, ColumnProfile], names: list[str]
) -> Correlation:
    """Pearson's r of each pair on the rows where both are present, from sums of centred products.

    A pair of columns without missing values needs one sum (the rest comes from scan 1); a pair with missing
    values needs six, restricted to the rows where both are present.
    """
    from pyspark.sql import functions as F

    centred = {n: values[n] - F.lit(by_name[n].mean) for n in names}
    complete = {n: by_name[n].missing == 0 for n in names}
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]
    exprs = []
    for k, (a, b) in enumerate(pairs):
        x, y = centred[a], centred[b]
        if complete[a] and complete[b]:
            exprs.append(F.sum(x * y).alias(f"p{k}_xy"))
            continue
        both = values[a].isNotNull() & values[b].isNotNull()
        x, y = F.when(both, x), F.when(both, y)
        parts = {"n": F.count(x), "x": F.sum(x), "y": F.sum(y), "xx": F.sum(x * x), "yy": F.sum(y * y)}
        exprs += [expr.alias(f"p{k}_{part}") for part, expr in {**parts, "xy": F.sum(x * y)}.items()]
    sums = df.agg(*exprs).first().asDict()

    matrix: list[list[float | None]] = [[1.0 if a == b else None for b in names] for a in names]
    for k, (a, b) in enumerate(pairs):
        if complete[a] and complete[b]:
            n = by_name[a].count
            var_a, var_b = (by_name[a].std or 0.0) ** 2 * (n - 1), (by_name[b].std or 0.0) ** 2 * (n - 1)
            cov = _number(sums[f"p{k}_xy"])
        else:
            n = int(sums[f"p{k}_n"] or 0)
            sx, sy = _number(sums[f"p{k}_x"]) or 0.0, _number(sums[f"p{k}_y"]) or 0.0
            var_a = (_number(sums[f"p{k}_xx"]) or 0.0) - sx * sx / n if n else 0.0
            var_b = (_number(sums[f"p{k}_yy"]) or 0.0) - sy * sy / n if n else 0.0
            cov = (_number(sums[f"p{k}_xy"]) or 0.0) - sx * sy / n if n else None
        r = None
        if cov is not None and n > 1 and var_a > 0 and var_b > 0:
            r = max(-1.0, min(1.0, cov / math.sqrt(var_a * var_b)))
        i, j = names.index(a), names.index(b)
        matrix[i][j] = matrix[j][i] = r
    return Correlation(names, matrix)


def _column(i: int, name: str, dtype: DataType, kind: str, stats: dict[str, Any], rows: int) -> ColumnProfile:
    count = int(stats[f"c{i}_count"])
    column = ColumnProfile(name, dtype.simpleString(), kind, count, rows - count, stats.get(f"c{i}_distinct"))
    if kind == "numeric":
        column.min, column.max = _number(stats[f"c{i}_min"]), _number(stats[f"c{i}_max"])
        column.mean, column.std = _number(stats[f"c{i}_mean"]), _number(stats[f"c{i}_std"])
        quantiles = stats[f"c{i}_q"] or [None] * len(QUANTILES)
        column.quantiles = {_percent(q): _number(v) for q, v in zip(QUANTILES, quantiles, strict=True)}
    elif kind == "datetime":
        column.min, column.max = stats[f"c{i}_min"], stats[f"c{i}_max"]
    return column


def _distributions(
    df: DataFrame,
    values: dict[str, Column],
    by_name: dict[str, ColumnProfile],
    numeric: list[str],
    categorical: list[str],
    bins: int,
    top: int,
) -> None:
    """Fill histograms and top values from one aggregation keyed by (column index, bucket, value)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys, edges = [], {}
    for n, name in enumerate(numeric):
        low, high = by_name[name].min, by_name[name].max
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            continue  # no values, or infinities: equal-width bins are meaningless
        if high > low:
            step = (high - low) / bins
            edges[n] = [low + k * step for k in range(bins)] + [high]
        else:  # a constant column: one bin centred on its value
            step, low = 1.0, low - 0.5
            edges[n] = [low, low + 1.0]
        # least() skips nulls, so a missing value must stay null explicitly rather than land in the last bin.
        raw = F.floor((values[name] - F.lit(low)) / F.lit(step))
        bucket = F.when(values[name].isNotNull(), F.least(raw, F.lit(bins - 1))).cast("int")
        keys.append(F.struct(F.lit(n).alias("c"), bucket.alias("b"), F.lit(None).cast("string").alias("v")))
    offset = len(numeric)
    for n, name in enumerate(categorical):
        keys.append(F.struct(F.lit(offset + n).alias("c"), F.lit(None).cast("int").alias("b"), values[name].alias("v")))
    if not keys:
        return

    counted = (
        df.select(F.explode(F.array(*keys)).alias("k"))
        .select("k.*")
        .where(F.col("b").isNotNull() | F.col("v").isNotNull())
        .groupBy("c", "b", "v")
        .count()
    )
    # Every bin of every histogram, but only the `top` most frequent values of each categorical column.
    rank = F.row_number().over(Window.partitionBy("c").orderBy(F.desc("count"), F.asc("v")))
    kept = counted.withColumn("rank", rank).where((F.col("c") < offset) | (F.col("rank") <= top))
    result = kept.collect()

    counts: dict[int, list[int]] = {n: [0] * bins for n in edges}
    tops: dict[int, list[tuple[int, str, int]]] = {}
    for row in result:
        if row["c"] < offset:
            counts[row["c"]][row["b"]] += int(row["count"])
        else:
            tops.setdefault(row["c"] - offset, []).append((row["rank"], row["v"], int(row["count"])))
    for n, bin_edges in edges.items():
        by_name[numeric[n]].histogram = Histogram(bin_edges, counts[n][: len(bin_edges) - 1])
    for n, found in tops.items():
        by_name[categorical[n]].top_values = [(v, c) for _, v, c in sorted(found)]


def _sample(
    df: DataFrame, names: list[str], values: dict[str, Column], rows: int, size: int, seed: int
) -> dict[str, list[Any]]:
    from pyspark.sql import functions as F

    # Oversample a little so the limit, not the fraction's randomness, decides the size.
    fraction = min(1.0, 1.2 * size / rows)
    picked = df.select(*[values[n].alias(f"s{i}") for i, n in enumerate(names)]).where(F.col("s0").isNotNull())
    if fraction < 1.0:
        picked = picked.sample(fraction=fraction, seed=seed)
    found = picked.limit(size).collect()
    return {n: [row[f"s{i}"] for row in found] for i, n in enumerate(names)}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _percent(q: float) -> str:
    return f"{q * 100:g}%"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
