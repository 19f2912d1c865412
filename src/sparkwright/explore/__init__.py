"""Exploration: a profile of a table computed in Spark, rendered as one self-contained HTML report."""
