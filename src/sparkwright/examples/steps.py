"""Cleanse steps of the bundled examples (``cleanse.steps: [sparkwright.examples.steps:<function>]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def month_start(df: DataFrame) -> DataFrame:
    """txhousing has ``year`` and ``month``: add ``month_start``, the first day of the month, as a date."""
    from pyspark.sql import functions as F

    return df.withColumn("month_start", F.make_date("year", "month", F.lit(1)))
