"""Cleansing steps that tests/unit/test_steps.py loads by 'steps_for_tests:<name>' (this folder is on sys.path)."""

from __future__ import annotations

import pandas as pd
import pyspark.pandas as ps
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def add_total(df: DataFrame) -> DataFrame:
    """A Spark step: derive a column."""
    return df.withColumn("total", F.col("price") * F.col("nights"))


def price_per_night(df: ps.DataFrame) -> ps.DataFrame:
    """A pandas-on-Spark step: fill gaps and compute a ratio with pandas code."""
    df["nights"] = df["nights"].fillna(1)
    df["per_night"] = df["price"] / df["nights"]
    return df


def indexed_by_id(df: ps.DataFrame) -> ps.DataFrame:
    """A pandas-on-Spark step that leaves a named index, which must survive as a column."""
    return df.set_index("id")


def to_pandas_on_spark(df):
    """An unannotated step that gets Spark and returns pandas-on-Spark."""
    return df.pandas_api()


def was_given(df):
    """Records which kind of DataFrame it was given, in a column."""
    return df.withColumn("given", F.lit(type(df).__module__))


def broken(df: DataFrame) -> DataFrame:
    raise ZeroDivisionError("no nights to divide by")


def unknown_column(df: DataFrame) -> DataFrame:
    return df.select("no_such_column")


def forgets_return(df: DataFrame) -> None:
    df.withColumn("x", F.lit(1))


def returns_pandas(df: DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"a": [1]})


NOT_A_FUNCTION = 3
