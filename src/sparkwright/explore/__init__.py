"""Exploration: a profile of a table computed in Spark, rendered as one self-contained HTML report."""

from sparkwright.explore.profile import QUANTILES, ColumnProfile, Correlation, Histogram, Profile, profile_table
from sparkwright.explore.report import render_page, render_report, write_report

__all__ = [
    "QUANTILES",
    "ColumnProfile",
    "Correlation",
    "Histogram",
    "Profile",
    "profile_table",
    "render_page",
    "render_report",
    "write_report",
]
