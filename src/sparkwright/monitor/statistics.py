"""The drift statistics, on counts the driver already has: population stability index and chi-square.

Both compare a reference distribution (the training rows) with a current one (the scoring rows) over the
same buckets: quantile bins of a numeric column, levels of a categorical one. Nothing here touches Spark:
:mod:`sparkwright.monitor.drift` brings the counts back, these functions turn them into numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sparkwright.errors import DataError

# A bucket's share is at least this before the logarithm: an empty bucket on one side would otherwise make
# PSI infinite. 1e-4 (0.01%) is the value most monitoring tools use; it caps one empty bucket's term at
# about share * ln(share / 1e-4).
PSI_EPSILON = 1e-4


def psi(reference: Sequence[int], current: Sequence[int], epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two histograms over the same buckets.

    ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` with ``r_i`` and ``c_i`` each side's share of bucket ``i``,
    each raised to at least ``epsilon``. It is symmetric and 0 for identical shares; below 0.1 is usually
    read as no shift, 0.1 to 0.2 as a moderate one, above 0.2 as a significant one.

    Raises:
        DataError: The histograms differ in length, or a side has no rows.
    """
    r_shares, c_shares = _shares(reference, current)
    total = 0.0
    for r, c in zip(r_shares, c_shares, strict=True):
        r, c = max(r, epsilon), max(c, epsilon)
        total += (c - r) * math.log(c / r)
    return total


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of homogeneity on a 2 x k table (reference and current counts per bucket).

    Attributes:
        statistic: The chi-square statistic.
        dof: Degrees of freedom, ``k - 1`` over the buckets that have rows on either side.
        p_value: Probability of a statistic this large if both sides came from one distribution.
        effect: Cramér's V, ``sqrt(statistic / n)``: the size of the difference, 0 to 1, whatever ``n`` is.
            On millions of rows any difference is "significant"; the effect says whether it matters.
    """

    statistic: float
    dof: int
    p_value: float
    effect: float


def chi_square(reference: Sequence[int], current: Sequence[int]) -> ChiSquare:
    """Chi-square test that ``reference`` and ``current`` counts come from the same categorical distribution.

    Buckets empty on both sides are left out; with fewer than two buckets left there is nothing to test
    (statistic 0, p-value 1).

    Raises:
        DataError: The histograms differ in length, or a side has no rows.
    """
    from scipy.stats import chi2_contingency

    _shares(reference, current)
    kept = [(r, c) for r, c in zip(reference, current, strict=True) if r + c > 0]
    if len(kept) < 2:
        return ChiSquare(0.0, 0, 1.0, 0.0)
    # Pearson's statistic (no continuity correction: with 2 buckets scipy would otherwise apply Yates').
    test = chi2_contingency([[r for r, _ in kept], [c for _, c in kept]], correction=False)
    n = sum(r + c for r, c in kept)
    statistic = float(test.statistic)
    return ChiSquare(statistic, int(test.dof), float(test.pvalue), math.sqrt(statistic / n))


def _shares(reference: Sequence[int], current: Sequence[int]) -> tuple[list[float], list[float]]:
    if len(reference) != len(current):
        raise DataError(f"histograms over different buckets: {len(reference)} reference, {len(current)} current.")
    n_ref, n_cur = sum(reference), sum(current)
    if n_ref <= 0 or n_cur <= 0:
        raise DataError(f"cannot compare distributions with {n_ref} reference and {n_cur} current rows.")
    return [r / n_ref for r in reference], [c / n_cur for c in current]
