"""The frequency of a series (a pandas offset alias) and its season length, inferred from the timestamps or given."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sparkwright.errors import DataError

# Offset alias (as pandas infers it, its anchor dropped) -> observations per season.
SEASON_LENGTHS = {"h": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12, "QS": 4, "QE": 4, "YS": 1, "YE": 1}


def season_length(freq: str) -> int:
    """Observations per seasonal cycle of ``freq`` (1: no seasonality, e.g. yearly data)."""
    base = freq.split("-")[0].lstrip("0123456789") or freq
    return SEASON_LENGTHS.get(base, 1)


def infer_frequency(times: Sequence[pd.Timestamp]) -> str:
    """The offset alias of the regular spacing of ``times`` (sorted, distinct; gaps allowed), e.g. ``MS``.

    pandas' own inference needs a gap-free run; here the most common step is found first and the times are
    read as a regular series with that step, so a month or two missing does not change the answer.

    Raises:
        DataError: Fewer than 3 distinct times, or no regular spacing (say ``forecasting.frequency``).
    """
    index = pd.DatetimeIndex(sorted(set(times)))
    if len(index) < 3:
        raise DataError("cannot infer the frequency from fewer than 3 distinct times; set forecasting.frequency.")
    for run_start in range(len(index) - 2):
        freq = pd.infer_freq(index[run_start : run_start + 3])
        if freq is not None:
            grid = pd.date_range(index[0], index[-1], freq=freq)
            if index.isin(grid).all():
                return freq
    raise DataError(
        "the times have no regular spacing (daily, weekly, monthly, ...); set forecasting.frequency to a pandas "
        "offset alias such as D, W-SUN, MS or QS."
    )
