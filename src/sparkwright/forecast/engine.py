"""The Spark side: every series backtested or forecast on the executors, one ``applyInPandas`` group per series,
the series spread evenly over every task slot (``models.partitions``).

The settings and models travel once in the function's closure; each group returns its rows with the series'
key columns, so the results are DataFrames the flow aggregates, writes to Delta and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkwright.errors import DataError
from sparkwright.forecast import series as one_series
from sparkwright.models.partitions import spread_groups

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparkwright.forecast.series import SeriesSettings

_STATUS = "model string, status string, message string"
_BACKTEST = f"{_STATUS}, window int, points double, sae double, sse double, smape double, mase double, seconds double"


@dataclass(frozen=True)
class SeriesColumns:
    """The project's ``data.time``, ``data.series`` (one or more key columns) and ``data.label``."""

    time: str
    series: tuple[str, ...]
    value: str

    def check(self, df: DataFrame) -> None:
        """Raises: DataError: a configured column is not in ``df``."""
        for key, names in (("time", [self.time]), ("series", list(self.series)), ("label", [self.value])):
            for name in names:
                if name not in df.columns:
                    raise DataError(
                        f"data.{key}: column {name!r} is not in the data; columns: {', '.join(df.columns)}."
                    )

    def key_schema(self, df: DataFrame) -> str:
        types = dict(df.dtypes)
        return ", ".join(f"`{c}` {types[c]}" for c in self.series)


def backtests(df: DataFrame, columns: SeriesColumns, settings: SeriesSettings) -> DataFrame:
    """One row per series, model and window (see :func:`sparkwright.forecast.series.backtest`)."""
    columns.check(df)
    schema = f"{columns.key_schema(df)}, {_BACKTEST}"
    return _per_series(df, columns, schema, lambda key, frame: one_series.backtest(key, *frame, settings))


def forecasts(df: DataFrame, columns: SeriesColumns, settings: SeriesSettings) -> DataFrame:
    """One row per series, model and future time, with the interval bounds ``lo_<level>`` / ``hi_<level>``."""
    columns.check(df)
    bounds = ", ".join(f"lo_{level} double, hi_{level} double" for level in settings.levels)
    schema = f"{columns.key_schema(df)}, {_STATUS}, `{columns.time}` timestamp, forecast double" + (
        f", {bounds}" if bounds else ""
    )
    return _per_series(df, columns, schema, lambda key, frame: one_series.forecast(key, *frame, settings))


def regular_history(df: DataFrame, columns: SeriesColumns, settings: SeriesSettings) -> DataFrame:
    """Every series that can be fitted as it is fitted: regular, gaps filled (``series columns, time, value``)."""
    columns.check(df)
    schema = f"{columns.key_schema(df)}, `{columns.time}` timestamp, `{columns.value}` double"

    def rows(key, frame):
        for row in one_series.regular_rows(key, *frame, settings):
            row[columns.value] = row.pop("value")
            yield row

    return _per_series(df, columns, schema, rows)


def _per_series(df: DataFrame, columns: SeriesColumns, schema: str, rows_of) -> DataFrame:
    import pandas as pd

    time_col, value_col, keys = columns.time, columns.value, list(columns.series)
    names = [f.strip().split(" ")[0].strip("`") for f in schema.split(",")]

    def per_group(key: tuple, frame: pd.DataFrame) -> pd.DataFrame:
        import statsforecast.models  # noqa: F401  (imported before any model is timed)

        frame = frame.dropna(subset=[time_col])
        rows = list(rows_of(key, (pd.to_datetime(frame[time_col]), frame[value_col])))
        if not rows:  # object columns: Arrow reads an empty one as any type (an empty float one it cannot)
            return pd.DataFrame({name: pd.Series([], dtype="object") for name in names})
        out = pd.DataFrame([{**dict(zip(keys, row.pop("key"), strict=True)), **row} for row in rows])
        out = out.rename(columns={"time": time_col}).reindex(columns=names)
        if time_col in out:  # all missing (a series with status rows only) reads as float otherwise
            out[time_col] = pd.to_datetime(out[time_col])
        return out

    selected = spread_groups(df.select(*[f"`{c}`" for c in (*keys, time_col, value_col)]), keys)
    return selected.groupBy(*[f"`{c}`" for c in keys]).applyInPandas(per_group, schema)
