"""Test-set metrics, computed in one Spark aggregation rather than one evaluator job per metric."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def regression_metrics(predictions: DataFrame, label_col: str, prediction_col: str = "prediction") -> dict[str, float]:
    """RMSE, MAE, MSE and R² of ``prediction_col`` against ``label_col``, in one pass over the data.

    R² follows scikit-learn: 1 - SSE / SST, and for a constant label 1.0 when every prediction is
    exact, else 0.0.

    Returns:
        ``{"rmse": ..., "mae": ..., "mse": ..., "r2": ...}``.

    Raises:
        DataError: A column is missing, the data is empty, or a label or prediction is null.
    """
    from pyspark.sql import functions as F

    missing = [c for c in (label_col, prediction_col) if c not in predictions.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the predictions; columns: {', '.join(predictions.columns)}.")
    label = F.col(f"`{label_col}`").cast("double")
    error = F.col(f"`{prediction_col}`").cast("double") - label
    row = predictions.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(error).alias("n"),
        F.sum(error * error).alias("sse"),
        F.sum(F.abs(error)).alias("sae"),
        # var_pop uses a numerically stable update, unlike sum(y^2) - n * mean^2.
        F.var_pop(label).alias("var"),
    ).first()
    if row["rows"] == 0:
        raise DataError("cannot compute metrics on empty predictions; the test split has no rows.")
    if row["n"] != row["rows"]:
        raise DataError(
            f"{row['rows'] - row['n']} of {row['rows']} rows have a null {label_col!r} or {prediction_col!r}; "
            "metrics need both on every row."
        )
    n, sse, sst = row["n"], row["sse"], row["var"] * row["n"]
    mse = sse / n
    r2 = 1.0 - sse / sst if sst > 0 else float(sse == 0)  # constant label: scikit-learn's convention
    return {"rmse": mse**0.5, "mae": row["sae"] / n, "mse": mse, "r2": r2}
