"""Model diagnostic plots as matplotlib Figures, drawn off pyplot so threads and notebooks share no state.

Inputs are driver-side arrays: the caller samples a bounded number of rows first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def confusion_matrix(classes: Sequence[str], counts: Sequence[Sequence[int]], title: str) -> Figure:
    """Counts by actual (rows) and predicted (columns) class, shaded by the share of each actual class."""
    matrix = np.asarray(counts, dtype=float)
    if matrix.size == 0 or matrix.shape != (len(classes), len(classes)):
        raise DataError(f"a confusion matrix needs {len(classes)} x {len(classes)} counts, got shape {matrix.shape}.")
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = max(4.5, 0.8 * len(classes) + 2.5)
    fig = _figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the actual class")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if shares[row, col] > 0.6 else "black"
        ax.text(col, row, f"{int(count):,}\n{shares[row, col]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(classes)), labels=list(classes), rotation=30 if len(classes) > 4 else 0)
    ax.set_yticks(range(len(classes)), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title}\nn = {int(matrix.sum()):,}, accuracy = {accuracy:.3f}", fontsize=11)
    return fig


def roc_curve(actual: Any, scores: Any, classes: Sequence[str], title: str) -> Figure:
    """ROC curve of the positive class (binary) or one curve per class against the rest, with AUCs."""
    from sklearn.metrics import auc
    from sklearn.metrics import roc_curve as curve

    fig = _figure(6.0, 6.0)
    ax = fig.add_subplot()
    for name, truth, score in _one_vs_rest(actual, scores, classes):
        fpr, tpr, _ = curve(truth, score)
        ax.plot(fpr, tpr, linewidth=1.6, label=f"{name} (AUC = {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1.0, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def precision_recall_curve(actual: Any, scores: Any, classes: Sequence[str], title: str) -> Figure:
    """Precision against recall of the positive class (or each class against the rest), with the base rate."""
    from sklearn.metrics import average_precision_score
    from sklearn.metrics import precision_recall_curve as curve

    fig = _figure(6.0, 6.0)
    ax = fig.add_subplot()
    for name, truth, score in _one_vs_rest(actual, scores, classes):
        precision, recall, _ = curve(truth, score)
        ap = average_precision_score(truth, score)
        line = ax.plot(recall, precision, linewidth=1.6, label=f"{name} (AP = {ap:.3f})")[0]
        ax.axhline(truth.mean(), color=line.get_color(), linestyle=":", linewidth=1.0)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{title}\n(dotted: the class's base rate)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return fig


def search_history(trials: Sequence[Mapping[str, Any]], metric: str, higher_is_better: bool = False) -> Figure:
    """Each trial's cross-validated score by elapsed search time, coloured by family, with each family's best so far.

    Args:
        trials: The budgeted search's trial rows (``family``, ``score``, ``seconds``, ``status``), in order.
    """
    fig = _figure(8.0, 4.8)
    ax = fig.add_subplot()
    families = list(dict.fromkeys(t["family"] for t in trials))
    colours = {family: f"C{i}" for i, family in enumerate(families)}
    for family in families:
        rows = [(i, t["score"]) for i, t in enumerate(trials) if t["family"] == family and t["status"] == "ok"]
        if not rows:
            continue
        x, y = np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=float)
        best = np.maximum.accumulate(y) if higher_is_better else np.minimum.accumulate(y)
        ax.scatter(x, y, s=14, alpha=0.5, color=colours[family], edgecolors="none")
        ax.step(x, best, where="post", color=colours[family], linewidth=1.6, label=f"{family} (best {best[-1]:.4g})")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"cross-validated {metric}")
    ax.set_title(f"Budgeted search: {len(trials)} trials", fontsize=11)
    ax.grid(alpha=0.3)
    if families:
        ax.legend(loc="best", fontsize=9)
    return fig


def leaderboard(
    models: Sequence[str], scores: Sequence[float], metric: str, higher_is_better: bool, baseline: str
) -> Figure:
    """Each model's test score as a bar, best at the top, the baseline's as a dashed line and its bar grey.

    Args:
        models, scores: In leaderboard order (best first); ``baseline`` names the baseline among them.

    Raises:
        DataError: No models, or names and scores that do not pair up.
    """
    if not models or len(models) != len(scores):
        raise DataError(f"a leaderboard needs one score per model, got {len(models)} models and {len(scores)} scores.")
    values = np.asarray(scores, dtype=float)
    fig = _figure(8.0, max(2.6, 0.45 * len(models) + 1.4))
    ax = fig.add_subplot()
    colours = ["#9ca3af" if name == baseline else "#1f77b4" for name in models]
    positions = np.arange(len(models))[::-1]  # best first, drawn at the top
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, labels=list(models))
    for y, value in zip(positions, values, strict=True):
        ax.annotate(f" {value:.4g}", (value, y), va="center", fontsize=9)
    if baseline in models:
        base = values[list(models).index(baseline)]
        ax.axvline(base, color="#d62728", linestyle="--", linewidth=1.2, label=f"baseline {base:.4g}")
        ax.legend(loc="lower right", fontsize=9)
    better = "higher is better →" if higher_is_better else "← lower is better"
    ax.set_xlabel(f"test {metric} ({better})")
    ax.set_title(f"Leaderboard: test {metric}", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.12)
    return fig


def tuning_history(losses: Sequence[float | None], metric: str, title: str, higher_is_better: bool = False) -> Figure:
    """Each trial's cross-validated score by trial number, with the best so far as a step line; failed trials
    (None) are marked on the axis.

    Raises:
        DataError: No trial succeeded.
    """
    values = np.array([np.nan if v is None else float(v) for v in losses], dtype=float)
    ok = np.isfinite(values)
    if not ok.any():
        raise DataError(f"{title}: no successful trial to plot.")
    trials = np.arange(1, len(values) + 1)
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.scatter(trials[ok], values[ok], s=18, alpha=0.6, color="#1f77b4", edgecolors="none", label="trial")
    filled = np.where(ok, values, -np.inf if higher_is_better else np.inf)
    best = np.maximum.accumulate(filled) if higher_is_better else np.minimum.accumulate(filled)
    shown = np.isfinite(best)
    ax.step(trials[shown], best[shown], where="post", color="#d62728", linewidth=1.6, label="best so far")
    if (~ok).any():
        low = float(np.nanmin(values))
        ax.scatter(trials[~ok], np.full((~ok).sum(), low), marker="x", color="grey", label="failed")
    better = "higher is better" if higher_is_better else "lower is better"
    ax.set_xlabel("trial")
    ax.set_ylabel(f"cross-validated {metric} ({better})")
    ax.set_title(f"{title}: {len(values)} trials, best {best[-1]:.4g}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return fig


def parallel_coordinates(
    trials: Sequence[Mapping[str, Any]], metric: str, title: str, higher_is_better: bool = False
) -> Figure:
    """One line per successful trial across one axis per param (scaled to its range), coloured by its score.

    A categorical param's values sit at ordinal positions (in order of appearance), labelled on its axis.

    Args:
        trials: Rows with ``params`` (a dict) and ``score`` (None for a failed trial, which is left out).

    Raises:
        DataError: No successful trial, or no params to draw.
    """
    rows = [t for t in trials if t.get("score") is not None and np.isfinite(float(t["score"]))]
    names = list(dict.fromkeys(name for t in rows for name in t["params"]))
    if not rows or not names:
        raise DataError(f"{title}: parallel coordinates need successful trials with params; got {len(rows)} trials.")
    columns, ticks = [], []
    for name in names:
        values = [t["params"].get(name) for t in rows]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None)
        if numeric:
            column = np.array([np.nan if v is None else float(v) for v in values])
            low, high = np.nanmin(column), np.nanmax(column)
            labels = [(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")]
        else:
            levels = list(dict.fromkeys(str(v) for v in values))
            column = np.array([float(levels.index(str(v))) for v in values])
            low, high = 0.0, float(max(len(levels) - 1, 1))
            labels = [((i - low) / (high - low), level) for i, level in enumerate(levels)]
        span = (high - low) or 1.0
        columns.append((column - low) / span if high > low else np.full(len(column), 0.5))
        ticks.append(labels)
    matrix = np.column_stack(columns)
    scores = np.array([float(t["score"]) for t in rows])
    fig = _figure(max(6.0, 1.6 * len(names) + 2.5), 4.8)
    ax = fig.add_subplot()
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cmap = colormaps["viridis" if higher_is_better else "viridis_r"]
    norm = Normalize(vmin=scores.min(), vmax=scores.max() if scores.max() > scores.min() else scores.min() + 1e-9)
    order = np.argsort(scores if higher_is_better else -scores)  # the best drawn last, on top
    x = np.arange(len(names))
    for i in order:
        ax.plot(x, matrix[i], color=cmap(norm(scores[i])), alpha=0.75, linewidth=1.3)
    for position, labels in zip(x, ticks, strict=True):
        ax.axvline(position, color="#444444", linewidth=0.8)
        for y, text in labels:
            ax.annotate(text, (position, y), xytext=(4, 0), textcoords="offset points", fontsize=8, va="center")
    ax.set_xticks(x, labels=names, rotation=20 if len(names) > 4 else 0)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(names) - 0.6)
    better = "higher is better" if higher_is_better else "lower is better"
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"cross-validated {metric} ({better})")
    ax.set_title(f"{title}: {len(rows)} trials, each param scaled to its range", fontsize=11)
    return fig


def score_histogram(scores: Any, actual: Any, threshold: float | None, title: str) -> Figure:
    """Histogram of anomaly scores, split into known anomalies and the rest when ``actual`` (1 / 0) is given,
    with the flag threshold as a vertical line."""
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        raise DataError(f"{title}: no scores to plot.")
    fig = _figure(7.0, 4.5)
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(values, bins=40)
    if actual is None:
        ax.hist(values, bins=bins, color="#1f77b4", alpha=0.8, label="rows")
    else:
        known = np.asarray(actual, dtype=float) == 1.0
        ax.hist(values[~known], bins=bins, color="#1f77b4", alpha=0.6, label=f"normal ({int((~known).sum()):,})")
        ax.hist(values[known], bins=bins, color="#d62728", alpha=0.7, label=f"known anomaly ({int(known.sum()):,})")
        ax.set_yscale("log")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label=f"flag threshold {threshold:.4g}")
    ax.set_xlabel("anomaly score (higher: more anomalous)")
    ax.set_ylabel("rows")
    ax.set_title(f"{title}\nn = {values.size:,}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return fig


def _one_vs_rest(actual: Any, scores: Any, classes: Sequence[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(class, is-that-class, its score) for the positive class of a binary task, or for every class.

    ``actual`` holds class indices, ``scores`` one probability column per class in ``classes`` order.
    """
    y = np.asarray(actual, dtype=int).ravel()
    p = np.asarray(scores, dtype=float).reshape(len(y), -1)
    if y.size == 0:
        raise DataError("nothing to plot: no rows.")
    if p.shape[1] != len(classes):
        raise DataError(f"{p.shape[1]} probability columns for {len(classes)} classes; they must match.")
    wanted = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
    return [(classes[k], (y == k).astype(int), p[:, k]) for k in wanted if 0 < (y == k).sum() < len(y)]


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


def forecasts(panels: Sequence[Mapping[str, Any]], levels: Sequence[int], title: str) -> Figure:
    """Small multiples, one per series: its history, the forecast and its prediction intervals (widest lightest).

    Args:
        panels: Each ``{"name", "history_time", "history", "time", "forecast", "lo_<level>", "hi_<level>"}``.

    Raises:
        DataError: ``panels`` is empty.
    """
    if not panels:
        raise DataError("no series to plot: every series failed or was too short.")
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    fig = _figure(5.0 * columns, 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        ax.plot(panel["history_time"], panel["history"], color="#444444", linewidth=1.0, label="history")
        for level, alpha in zip(sorted(levels, reverse=True), (0.18, 0.32, 0.46), strict=False):
            ax.fill_between(
                panel["time"],
                panel[f"lo_{level}"],
                panel[f"hi_{level}"],
                color="#1f77b4",
                alpha=alpha,
                linewidth=0,
                label=f"{level}% interval",
            )
        ax.plot(panel["time"], panel["forecast"], color="#1f77b4", linewidth=1.6, label="forecast")
        ax.set_title(str(panel["name"]), fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=11)
    return fig
