"""Batch forecasting: ``sparkwright predict`` with a forecasting model, from rows that name series into Delta.

Each input row names a series by its key columns and may set a ``horizon`` (default: the run's); other
columns are ignored, so a table with many rows per series asks for each series once. A model fitted with
exogenous columns also reads the time and those columns: a series whose model uses them has one input row
per point to forecast, with their values. The output holds each
series' forecast rows (series columns, time, ``model``, ``forecast``, ``lo_<level>`` / ``hi_<level>``) with
the model's name, version and URI, the input and the time, written as any batch scoring output: a rerun for
the same input replaces its earlier rows in one Delta commit. A row naming a series the model was not
fitted on, with a horizon that is not a whole number from 1 to ``MAX_HORIZON``, or naming a series again
with another horizon, goes to ``<output>_rejects`` with its reason; the others are forecast.

The forecaster is broadcast (each Python worker unpickles it once) and the rows are grouped by series with
``applyInPandas``: the series are forecast on the executors, never collected to the driver.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sparkwright.data.preparation import REASON_COL
from sparkwright.deploy.batch import INPUT_COL, RAW_COL, BatchResult, read_input, write_scored
from sparkwright.deploy.forecaster import RegisteredForecaster, horizon_problem
from sparkwright.errors import DataError
from sparkwright.forecast.runtime import HORIZON_COL, series_key

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def forecast_batch(spark: SparkSession, loaded: RegisteredForecaster, source: str, output: str) -> BatchResult:
    """Forecast the series named by the rows of ``source`` into the Delta table ``output``.

    Raises:
        DataError: The input is missing or lacks a series column of the model.
    """
    from pyspark.sql import functions as F

    rows, rejected, input_id = read_input(spark, source, loaded.inputs)
    check_request_columns(loaded, rows.columns)
    ahead = [c for c in loaded.exogenous_columns if c in rows.columns]
    asked = [*loaded.series, *([HORIZON_COL] if HORIZON_COL in rows.columns else []), *ahead]
    columns = [F.col(f"`{c}`") for c in asked]
    requests = rows.select(*columns, F.to_json(F.struct(*columns)).alias(RAW_COL))
    shipped = _broadcast((loaded.forecaster, frozenset(loaded.forecaster.keys)))
    try:
        forecasts = _forecast_requests(requests, loaded, shipped)
        scored = forecasts.select(
            *[F.col(f"`{c}`") for c in forecasts.columns if c not in (REASON_COL, RAW_COL)],
            F.lit(loaded.name).alias("_model_name"),
            F.lit(int(loaded.version)).alias("_model_version"),
            F.lit(loaded.uri).alias("_model_uri"),
            F.lit(input_id).alias(INPUT_COL),
            F.current_timestamp().alias("_scored_at"),
            REASON_COL,
            RAW_COL,
        )
        written = write_scored(scored, rejected, output, input_id)
    finally:
        if hasattr(shipped, "unpersist"):
            shipped.unpersist()
    log.info("forecast %d rows of %s with %s into %s v%d", written.rows, input_id, loaded.uri, output, written.version)
    return BatchResult(
        loaded.uri, output, written.version, written.rows, written.rejected, written.rejects_table, input_id, True
    )


def check_request_columns(loaded: RegisteredForecaster, columns: list[str]) -> None:
    """Raises: DataError: ``columns`` lack a series column of the model (named, with what a row holds)."""
    missing = [c for c in loaded.series if c not in columns]
    if missing:
        raise DataError(
            f"the input lacks the series column(s) {missing} of the forecasting model {loaded.uri}; it takes "
            f"{loaded.describe()}."
        )


def _forecast_requests(requests: DataFrame, loaded: RegisteredForecaster, shipped: Any) -> DataFrame:
    """Per series: its forecast rows (``REASON_COL`` null), or its request rows with the reason they are refused."""
    import pandas as pd

    forecaster, keys, time_col = loaded.forecaster, list(loaded.series), loaded.forecaster.time
    ahead = [c for c in loaded.exogenous_columns if c in requests.columns]
    types = dict(requests.dtypes)
    bounds = [f"{side}_{level}" for level in forecaster.meta["levels"] for side in ("lo", "hi")]
    schema = ", ".join(
        [
            *[f"`{c}` {types[c]}" for c in keys],
            f"`{time_col}` timestamp",
            "model string",
            "forecast double",
            *[f"{b} double" for b in bounds],
            f"{REASON_COL} string",
            f"{RAW_COL} string",
        ]
    )
    names = [*keys, time_col, "model", "forecast", *bounds, REASON_COL, RAW_COL]

    def per_series(key: tuple, frame: pd.DataFrame) -> pd.DataFrame:
        from pyspark.broadcast import Broadcast

        model, known = shipped.value if isinstance(shipped, Broadcast) else shipped
        frame = frame.drop_duplicates(subset=[c for c in frame.columns if c != RAW_COL])
        reason = _refusal(series_key(key), frame, known, ahead)
        if reason is None:
            try:
                out = model.forecast(frame.drop(columns=[RAW_COL]))
            except Exception as exc:  # one series' failure is its row's reason, never the job's end
                reason = f"could not forecast series {series_key(key)}: {exc}"
            else:
                return out.assign(**{REASON_COL: None, RAW_COL: None}).reindex(columns=names)
        refused = frame[[*keys, RAW_COL]].assign(**{REASON_COL: reason}).reindex(columns=names)
        # All missing: typed as the schema says (Arrow cannot read an all-NaN float column as a string or time).
        refused[time_col] = pd.to_datetime(refused[time_col])
        refused["model"] = pd.Series(None, index=refused.index, dtype=object)
        return refused

    return requests.groupBy(*[f"`{c}`" for c in keys]).applyInPandas(per_series, schema)


def _refusal(key: tuple, frame: pd.DataFrame, known: frozenset, ahead: list[str]) -> str | None:
    """Why the request rows of one series cannot be answered, or None. With the time and exogenous columns
    (``ahead``) a series has one row per point to forecast; the forecaster checks them."""
    horizons = frame[HORIZON_COL].tolist() if HORIZON_COL in frame.columns else [None]
    if ahead and key in known:
        return None
    if len(frame) > 1:
        return f"series {key} is requested {len(frame)} times, with horizons {horizons}; request it once."
    if key not in known:
        return f"series {key} is not one the model was fitted on ({len(known)} series)."
    return horizon_problem(horizons[0])


def _broadcast(value: Any) -> Any:
    """A broadcast of ``value`` where a SparkContext exists; on Spark Connect the value itself (it travels in the
    function's closure)."""
    try:
        from pyspark import SparkContext

        context = SparkContext._active_spark_context
    except Exception:  # Spark Connect only: no SparkContext
        return value
    return context.broadcast(value) if context is not None else value
