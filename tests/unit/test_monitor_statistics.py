"""The drift statistics on counts, the thresholds and the window option: no Spark needed."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chi2_contingency

from sparkwright.errors import ConfigError, DataError
from sparkwright.monitor import PSI_EPSILON, Bucket, ChiSquare, Drift, Thresholds, chi_square, psi, window_duration


def test_psi_matches_the_formula_by_hand():
    reference, current = [50, 30, 20], [30, 30, 40]
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0.0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi(reference, current) == pytest.approx(expected, rel=1e-15)
    assert psi(reference, reference) == 0.0
    assert psi(reference, current) == pytest.approx(psi(current, reference), rel=1e-15)  # symmetric


def test_psi_raises_an_empty_bucket_to_epsilon_on_either_side():
    # A bucket empty in training: its share is taken as 1e-4, so PSI is large but finite.
    value = psi([100, 0], [50, 50])
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - PSI_EPSILON) * math.log(0.5 / PSI_EPSILON)
    assert value == pytest.approx(expected, rel=1e-12)
    # Empty on both sides contributes nothing.
    assert psi([10, 0, 10], [10, 0, 10]) == 0.0


def test_psi_refuses_mismatched_or_empty_histograms():
    with pytest.raises(DataError, match="different buckets: 2 reference, 3 current"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match="0 reference and 3 current rows"):
        psi([0, 0], [1, 2])


def test_chi_square_is_pearsons_test_with_cramers_v():
    reference, current = [120, 60, 20], [80, 90, 30]
    found = chi_square(reference, current)
    expected = chi2_contingency([reference, current], correction=False)
    assert found.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert found.dof == 2
    assert found.effect == pytest.approx(math.sqrt(expected.statistic / 400), rel=1e-12)


def test_chi_square_leaves_out_buckets_empty_on_both_sides():
    assert chi_square([10, 0, 5], [8, 0, 9]) == chi_square([10, 5], [8, 9])
    assert chi_square([10, 0], [8, 0]) == ChiSquare(0.0, 0, 1.0, 0.0)  # one bucket: nothing to test


def _drift(**changes) -> Drift:
    base = {
        "name": "x",
        "kind": "categorical",
        "role": "feature",
        "buckets": [Bucket("a", 1, 1)],
        "edges": [],
        "psi": 0.01,
        "chi_square": ChiSquare(1.0, 1, 0.5, 0.01),
        "null_rate_reference": 0.01,
        "null_rate_current": 0.02,
    }
    return Drift(**{**base, **changes})


def test_thresholds_name_each_statistic_that_crosses():
    t = Thresholds()
    assert t.drift_crossed(_drift()) == ()
    assert t.drift_crossed(_drift(psi=0.2)) == ("psi",)
    # Significant but negligible (huge n): not drift; significant and large enough: drift.
    assert t.drift_crossed(_drift(chi_square=ChiSquare(50.0, 3, 1e-9, 0.05))) == ()
    assert t.drift_crossed(_drift(chi_square=ChiSquare(50.0, 3, 1e-9, 0.15))) == ("chi_square",)
    assert t.drift_crossed(_drift(null_rate_current=0.3)) == ("null_rate_change",)
    assert t.drift_crossed(_drift(null_rate_reference=0.3, null_rate_current=0.0)) == ("null_rate_change",)
    assert t.drift_crossed(_drift(new_share=0.02)) == ("new_category_share",)
    assert Thresholds(psi=0.005).drift_crossed(_drift()) == ("psi",)


def test_a_metric_window_counts_only_with_enough_rows():
    t = Thresholds(metric_drop=0.1, min_window_rows=50)
    assert t.metric_crossed(0.25, 50)
    assert not t.metric_crossed(0.25, 49)
    assert not t.metric_crossed(0.05, 500)
    assert not t.metric_crossed(None, 500)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"psi": 0}, r"--psi \(Thresholds.psi\) must be a number > 0, got 0; the default is 0.2"),
        ({"p_value": 2.0}, r"--p-value \(Thresholds.p_value\) is a share and must be at most 1, got 2.0"),
        ({"metric_drop": float("nan")}, r"--metric-drop .* must be a number > 0, got nan"),
        ({"min_window_rows": 0}, r"--min-window-rows \(Thresholds.min_window_rows\) must be an integer >= 1, got 0"),
        ({"null_rate_change": "high"}, r"--null-rate-change .* got 'high'"),
    ],
)
def test_invalid_thresholds_name_the_option_and_the_fix(changes, message):
    thresholds = Thresholds(**changes)  # inert: nothing is checked until the work starts
    with pytest.raises(ConfigError, match=message):
        thresholds.check()


def test_windows_are_days_or_hours():
    assert window_duration("1d") == "1 day"
    assert window_duration("7d") == "7 days"
    assert window_duration(" 12h ") == "12 hours"
    for bad in ("1w", "0d", "d", "1.5d", ""):
        with pytest.raises(ConfigError, match="--window must be a whole number of days or hours"):
            window_duration(bad)
