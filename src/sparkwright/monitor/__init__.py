"""Model performance monitoring: scoring data against the exact rows a model trained on.

``monitor_model`` is what ``sparkwright monitor`` runs; ``compare`` is its Spark core, usable on any two
DataFrames; ``psi`` and ``chi_square`` are the statistics on counts.
"""

from sparkwright.monitor.drift import compare
from sparkwright.monitor.job import monitor_model
from sparkwright.monitor.results import Bucket, Comparison, Drift, MonitorResult, Performance, WindowMetrics
from sparkwright.monitor.statistics import PSI_EPSILON, ChiSquare, chi_square, psi
from sparkwright.monitor.thresholds import Thresholds, window_duration

__all__ = [
    "PSI_EPSILON",
    "Bucket",
    "ChiSquare",
    "Comparison",
    "Drift",
    "MonitorResult",
    "Performance",
    "Thresholds",
    "WindowMetrics",
    "chi_square",
    "compare",
    "monitor_model",
    "psi",
    "window_duration",
]
