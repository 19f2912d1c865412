"""Model diagnostic plots as matplotlib Figures, drawn off pyplot so threads and notebooks share no state.

Inputs are driver-side arrays: the caller samples a bounded number of rows first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sparkwright.errors import DataError

_POINT = {"s": 10, "alpha": 0.45, "color": "#1f77b4", "edgecolors": "none"}


def predicted_vs_actual(actual: Any, predicted: Any, title: str) -> Figure:
    """Scatter of predicted against actual values with the y = x line of a perfect model."""
    y, p = _pair(actual, predicted)
    fig = _figure(6.0, 6.0)
    ax = fig.add_subplot()
    ax.scatter(y, p, **_POINT)
    low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    pad = (high - low) * 0.03 or 1.0
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="#d62728", linewidth=1.2, label="perfect (y = x)")
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    rmse = float(np.sqrt(np.mean((p - y) ** 2)))
    ax.set_title(f"{title}\nn = {len(y):,}, RMSE = {rmse:.4g}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


def residuals(actual: Any, predicted: Any, title: str) -> Figure:
    """Residuals (actual - predicted) against predicted values, beside their histogram."""
    y, p = _pair(actual, predicted)
    resid = y - p
    fig = _figure(11.0, 4.5)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    left.scatter(p, resid, **_POINT)
    left.axhline(0.0, color="#d62728", linewidth=1.2)
    left.set_xlabel("predicted")
    left.set_ylabel("residual (actual - predicted)")
    left.grid(alpha=0.3)
    right.hist(resid, bins=min(50, max(10, len(resid) // 20)), color="#1f77b4", alpha=0.8)
    right.axvline(0.0, color="#d62728", linewidth=1.2)
    right.set_xlabel("residual")
    right.set_ylabel("rows")
    right.grid(alpha=0.3)
    fig.suptitle(f"{title}\nmean residual = {resid.mean():.4g}, std = {resid.std():.4g}", fontsize=11)
    return fig


def feature_importance(importances: Mapping[str, float], title: str, top: int = 20) -> Figure:
    """Horizontal bars of the ``top`` most important columns, largest at the top.

    Raises:
        DataError: ``importances`` is empty.
    """
    if not importances:
        raise DataError("no feature importances to plot.")
    ranked = sorted(importances.items(), key=lambda item: item[1], reverse=True)
    shown = ranked[:top][::-1]
    fig = _figure(7.0, max(2.5, 0.35 * len(shown) + 1.2))
    ax = fig.add_subplot()
    ax.barh([name for name, _ in shown], [value for _, value in shown], color="#1f77b4")
    ax.set_xlabel("importance")
    hidden = len(ranked) - len(shown)
    ax.set_title(title + (f" (top {len(shown)} of {len(ranked)})" if hidden else ""), fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    # An explicit Agg canvas: savefig works without pyplot picking a (GUI) backend for the process.
    FigureCanvasAgg(fig)
    return fig


def _pair(actual: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if y.size == 0:
        raise DataError("nothing to plot: no rows.")
    if y.shape != p.shape:
        raise DataError(f"{y.size} actual values but {p.size} predictions; they must pair up.")
    keep = np.isfinite(y) & np.isfinite(p)
    if not keep.any():
        raise DataError("nothing to plot: every actual or predicted value is missing or infinite.")
    return y[keep], p[keep]
