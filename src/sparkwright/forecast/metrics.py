"""Forecast errors of one window of one series, and how windows add up to a model's overall scores.

MASE divides the window's MAE by the in-sample MAE of the seasonal naive forecast on the history the model
saw (Hyndman and Koehler 2006), so 1.0 is "as good as repeating last season" on any scale; sMAPE is the
symmetric percentage error in points (0-200). A window is kept as sums, so windows and series add up in
one Spark aggregation: RMSE and MAE over every forecast point, MASE and sMAPE as the mean of the windows'.
"""

from __future__ import annotations

import math

import numpy as np

# What each backtest window carries (summed or averaged across windows and series).
WINDOW_FIELDS = ("points", "sae", "sse", "smape", "mase")
METRICS = {"mase": False, "smape": False, "rmse": False, "mae": False}


def window_errors(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int) -> dict[str, float]:
    """``points``, summed absolute and squared errors, the window's sMAPE and MASE. MASE scales by the seasonal
    naive's in-sample error (the naive's when the history is not longer than a season); NaN when the history
    is constant."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    error = forecast - actual
    denominator = np.abs(actual) + np.abs(forecast)
    ratios = np.where(denominator > 0, 2 * np.abs(error) / np.where(denominator > 0, denominator, 1), 0.0)
    history = np.asarray(history, dtype=float)
    lag = season if len(history) > season else 1
    steps = history[lag:] - history[:-lag]
    scale = float(np.mean(np.abs(steps))) if len(steps) else math.nan
    mae = float(np.mean(np.abs(error)))
    return {
        "points": float(len(actual)),
        "sae": float(np.sum(np.abs(error))),
        "sse": float(np.sum(error**2)),
        "smape": 100 * float(np.mean(ratios)),
        "mase": mae / scale if scale > 0 and math.isfinite(scale) else math.nan,
    }


def overall(points: float, sae: float, sse: float, smape_mean: float, mase_mean: float) -> dict[str, float]:
    """A model's scores from its windows' sums (``points``, ``sae``, ``sse``) and means (sMAPE, MASE)."""
    return {
        "mase": mase_mean,
        "smape": smape_mean,
        "rmse": math.sqrt(sse / points) if points else math.nan,
        "mae": sae / points if points else math.nan,
    }
