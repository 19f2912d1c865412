"""``monitor.compare`` in Spark: counts, PSI and chi-square against a NumPy / SciPy reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from sparkwright.errors import DataError
from sparkwright.monitor import PSI_EPSILON, compare


def numpy_psi(reference: np.ndarray, current: np.ndarray, edges: list[float]) -> float:
    """PSI as the docs define it, on the same edges: bin i holds edges[i-1] < x <= edges[i], NaN a bin of its own."""

    def shares(values: np.ndarray) -> np.ndarray:
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
        return np.append(counts, np.isnan(values).sum()) / len(values)

    r, c = np.maximum(shares(reference), PSI_EPSILON), np.maximum(shares(current), PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(11)
    n = 3_000
    reference = pd.DataFrame(
        {
            "x": rng.normal(0.0, 1.0, n),
            "steps": rng.integers(0, 4, n).astype(float),  # few values: coinciding quantiles, fewer bins
            "stable": rng.uniform(0, 1, n),
        }
    )
    current = pd.DataFrame(
        {
            "x": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.normal(0.6, 1.3, n)),
            "steps": rng.integers(0, 6, n).astype(float),
            "stable": rng.uniform(0, 1, n),
        }
    )
    return reference, current


def test_numeric_psi_equals_numpy_on_the_training_quantile_bins(spark, frames):
    reference, current = frames
    found = compare(
        spark.createDataFrame(reference),
        spark.createDataFrame(current),
        numeric=["x", "steps", "stable"],
        categorical=[],
    )
    assert (found.reference_rows, found.current_rows, found.refused_rows) == (3_000, 3_000, 0)
    by_name = {d.name: d for d in found.drifts}
    x = by_name["x"]
    # The edges are the training deciles (percentile_approx: within its rank error of the exact ones).
    assert len(x.edges) == 9
    ranks = [np.mean(reference["x"] <= e) for e in x.edges]
    assert ranks == pytest.approx([k / 10 for k in range(1, 10)], abs=2e-3)
    for d in by_name.values():
        expected = numpy_psi(reference[d.name].to_numpy(), current[d.name].to_numpy(), d.edges)
        assert d.psi == pytest.approx(expected, rel=1e-12, abs=1e-15), d.name
    assert by_name["steps"].edges == [0.0, 1.0, 2.0, 3.0]  # 10 deciles of 4 values: 5 bins
    assert [b.label for b in by_name["steps"].buckets] == ["≤ 0", "(0, 1]", "(1, 2]", "(2, 3]", "> 3", "(missing)"]
    assert x.null_rate_reference == 0.0 and x.null_rate_current == pytest.approx(np.isnan(current["x"]).mean())
    assert x.mean_current == pytest.approx(np.nanmean(current["x"]), rel=1e-9)
    assert x.psi > 0.2 and by_name["stable"].psi < 0.02
    assert x.chi_square is None and x.crossed == ()  # compare only measures; thresholds judge


def test_categorical_levels_other_new_and_missing_buckets(spark):
    reference = pd.DataFrame({"k": ["a"] * 400 + ["b"] * 300 + ["c"] * 200 + ["d"] * 100 + ["missing"] * 450})
    current = pd.DataFrame({"k": ["a"] * 300 + ["b"] * 300 + ["c"] * 100 + ["e"] * 250 + ["f"] * 50 + [None] * 40})
    found = compare(
        spark.createDataFrame(reference),
        spark.createDataFrame(current),
        numeric=[],
        categorical=["k"],
        max_levels=2,
        missing_level="missing",
    )
    (k,) = found.drifts
    buckets = [(b.label, b.reference, b.current) for b in k.buckets]
    assert buckets == [
        ("a", 400, 300),
        ("b", 300, 300),
        ("(other training levels)", 300, 100),
        ("(new in scoring)", 0, 300),
        ("(missing)", 450, 40),  # the most frequent "value", yet not a level: missing has its own bucket
    ]
    assert k.new_categories == [("e", 250), ("f", 50)]
    assert k.new_share == pytest.approx(300 / 1_040)
    assert k.null_rate_reference == pytest.approx(450 / 1_450) and k.null_rate_current == pytest.approx(40 / 1_040)
    table = [[b[1] for b in buckets], [b[2] for b in buckets]]
    expected = chi2_contingency(table, correction=False)
    assert k.chi_square.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert k.chi_square.statistic == pytest.approx(expected.statistic, rel=1e-12)
    r, c = np.array(table[0]) / 1_450, np.array(table[1]) / 1_040
    r, c = np.maximum(r, PSI_EPSILON), np.maximum(c, PSI_EPSILON)
    assert k.psi == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12)


def test_refused_rows_are_counted_not_compared(spark):
    reference = spark.createDataFrame(pd.DataFrame({"x": np.arange(100, dtype=float)}))
    rows = [(float(i), None) for i in range(100)] + [(1e9, "adults = 9 is out of range")] * 25
    current = spark.createDataFrame(rows, "x double, reason string")
    found = compare(reference, current, numeric=["x"], categorical=[], refused="reason")
    assert (found.current_rows, found.refused_rows) == (100, 25)
    assert found.drifts[0].psi == pytest.approx(0.0, abs=1e-12)  # the refused outliers are left out


def test_spark_jobs_do_not_grow_with_the_number_of_columns(spark):
    from pyspark.sql import functions as F

    def jobs_for(width: int) -> int:
        df = spark.range(500).select(
            *[(F.col("id") % (7 + i)).cast("double").alias(f"n{i}") for i in range(width)],
            *[F.concat(F.lit("v"), (F.col("id") % (3 + i)).cast("string")).alias(f"c{i}") for i in range(width)],
        )
        group = f"monitor-width-{width}"
        spark.sparkContext.setJobGroup(group, "test")
        try:
            compare(df, df, numeric=[f"n{i}" for i in range(width)], categorical=[f"c{i}" for i in range(width)])
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))

    assert jobs_for(12) == jobs_for(1)


def test_invalid_requests_name_the_problem(spark):
    df = spark.createDataFrame(pd.DataFrame({"x": [1.0, 2.0]}))
    wider = spark.createDataFrame(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    with pytest.raises(DataError, match=r"the current rows lack columns \['y'\]; they have x"):
        compare(wider, df, numeric=["x", "y"], categorical=[])
    with pytest.raises(DataError, match="bins must be an integer >= 2, got 1"):
        compare(df, df, numeric=["x"], categorical=[], bins=1)
    with pytest.raises(DataError, match=r"listed as both numeric and categorical"):
        compare(df, df, numeric=["x"], categorical=["x"])
    empty = df.where("x > 5")
    with pytest.raises(DataError, match="nothing to compare: 2 reference rows and 0 current rows"):
        compare(df, empty, numeric=["x"], categorical=[])
