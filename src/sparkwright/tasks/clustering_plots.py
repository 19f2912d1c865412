"""Clustering plots: the k sweep (elbow, silhouette), clusters in two dimensions, and cluster profiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sparkwright.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


def elbow(ks: Sequence[int], wssse: Sequence[float], chosen: int, title: str) -> Figure:
    """Within-cluster sum of squares against k; the chosen k marked."""
    return _sweep(ks, wssse, chosen, "within-cluster sum of squares", f"{title}: elbow")


def silhouette(ks: Sequence[int], values: Sequence[float], chosen: int, title: str) -> Figure:
    """Silhouette against k (higher: tighter, better separated clusters); the chosen k marked."""
    return _sweep(ks, values, chosen, "silhouette (squared Euclidean)", f"{title}: silhouette")


def clusters_scatter(features: np.ndarray, clusters: np.ndarray, title: str) -> Figure:
    """The rows on their first two principal components, coloured by cluster."""
    if len(features) == 0:
        raise DataError("nothing to plot: no rows.")
    centred = features - features.mean(axis=0)
    # The right singular vectors are the principal axes; a one-feature input gets a flat second axis.
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:2].T
    if projected.shape[1] == 1:
        projected = np.hstack([projected, np.zeros_like(projected)])
    fig = _figure(6.5, 5.5)
    ax = fig.add_subplot()
    for cluster in np.unique(clusters):
        mask = clusters == cluster
        ax.scatter(projected[mask, 0], projected[mask, 1], s=10, alpha=0.5, edgecolors="none", label=str(cluster))
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(f"{title}: clusters (n = {len(features):,})", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(title="cluster", loc="best", fontsize=8, markerscale=2)
    return fig


def profiles(frame: pd.DataFrame, title: str) -> Figure:
    """Cluster sizes beside a heat map of each numeric mean, coloured by how far it lies from the other
    clusters' means (z-score across clusters) and labelled with the mean itself."""
    means = [c for c in frame.columns if c.startswith("mean_")]
    fig = _figure(max(7.0, 1.0 + 0.9 * len(means) + 3.0), 1.2 + 0.45 * len(frame))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, max(1, len(means)) * 0.9]})
    clusters = [str(c) for c in frame["cluster"]]
    left.barh(clusters, frame["rows"], color="#1f77b4")
    left.invert_yaxis()
    left.set_xlabel("rows")
    left.set_ylabel("cluster")
    if means:
        values = frame[means].to_numpy(float)
        spread = values.std(axis=0)
        z = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        right.imshow(z, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
        right.set_xticks(range(len(means)), [m[len("mean_") :] for m in means], rotation=45, ha="right", fontsize=8)
        right.set_yticks(range(len(clusters)), clusters)
        for (i, j), value in np.ndenumerate(values):
            right.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7)
    else:
        right.axis("off")
    fig.suptitle(f"{title}: cluster profiles (numeric means; colour: z-score across clusters)", fontsize=11)
    return fig


def _sweep(ks: Sequence[int], values: Sequence[float], chosen: int, ylabel: str, title: str) -> Figure:
    fig = _figure(6.5, 4.0)
    ax = fig.add_subplot()
    ax.plot(list(ks), list(values), marker="o", color="#1f77b4")
    ax.axvline(chosen, color="#d62728", linewidth=1.2, linestyle="--", label=f"chosen k = {chosen}")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(ks))
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return fig


def _figure(width: float, height: float) -> Any:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)  # savefig without pyplot choosing a (GUI) backend
    return fig
