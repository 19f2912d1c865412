"""When monitoring raises the alarm: the thresholds, their defaults, and the window length of ``--window``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from sparkwright.errors import ConfigError

if TYPE_CHECKING:
    from sparkwright.monitor.results import Drift


@dataclass(frozen=True)
class Thresholds:
    """The levels past which a statistic counts as drift (``sparkwright monitor`` then exits with code 6).

    Attributes:
        psi: Population stability index of a feature or of the predictions; 0.2 is the usual level of a
            significant shift.
        p_value: A categorical's chi-square test flags drift below this p-value ...
        min_effect: ... and only when Cramér's V is at least this: on millions of rows a negligible
            difference is still "significant", so the size of the difference decides too (0.1: a small effect).
        null_rate_change: Absolute change of a feature's share of missing values (0.05: 5 points).
        new_category_share: Share of the scoring rows whose category the model never saw in training.
        metric_drop: Relative worsening of the monitored metric in a labelled window against the training
            run's test metric (0.1: 10% worse, e.g. RMSE 100 -> 110 or ROC AUC 0.80 -> 0.72).
        min_window_rows: Labelled rows a window needs before its metric is judged (fewer: shown, not judged).
    """

    psi: float = 0.2
    p_value: float = 0.01
    min_effect: float = 0.1
    null_rate_change: float = 0.05
    new_category_share: float = 0.01
    metric_drop: float = 0.1
    min_window_rows: int = 100

    def check(self) -> Thresholds:
        """Return self when every threshold is usable.

        Raises:
            ConfigError: Names the threshold, its CLI option, what it must be and what was given.
        """
        for field in fields(self):
            value = getattr(self, field.name)
            option = "--" + field.name.replace("_", "-")
            if field.name == "min_window_rows":
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ConfigError(f"{option} (Thresholds.{field.name}) must be an integer >= 1, got {value!r}.")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(
                    f"{option} (Thresholds.{field.name}) must be a number > 0, got {value!r}; "
                    f"the default is {field.default}."
                )
            if field.name in ("p_value", "min_effect", "null_rate_change", "new_category_share") and value > 1:
                raise ConfigError(
                    f"{option} (Thresholds.{field.name}) is a share and must be at most 1, got {value!r}; "
                    f"the default is {field.default}."
                )
        return self

    def drift_crossed(self, drift: Drift) -> tuple[str, ...]:
        """The statistics of ``drift`` past their threshold, by name (empty: no drift)."""
        crossed = []
        if drift.psi >= self.psi:
            crossed.append("psi")
        test = drift.chi_square
        if test is not None and test.p_value < self.p_value and test.effect >= self.min_effect:
            crossed.append("chi_square")
        if abs(drift.null_rate_change) >= self.null_rate_change:
            crossed.append("null_rate_change")
        if drift.new_share >= self.new_category_share:
            crossed.append("new_category_share")
        return tuple(crossed)

    def metric_crossed(self, drop: float | None, rows: int) -> bool:
        """Whether a window's relative metric ``drop`` (positive: worse) counts, given its labelled ``rows``."""
        return drop is not None and rows >= self.min_window_rows and drop > self.metric_drop


_WINDOW = re.compile(r"^\s*(\d+)\s*([dh])\s*$")
_UNITS = {"d": "day", "h": "hour"}


def window_duration(text: str) -> str:
    """``7d`` / ``12h`` -> Spark's interval text (``7 days``, ``12 hours``).

    Raises:
        ConfigError: Anything but a positive whole number of days or hours.
    """
    match = _WINDOW.match(text or "")
    if not match or int(match[1]) == 0:
        raise ConfigError(f"--window must be a whole number of days or hours such as 1d, 7d or 12h, got {text!r}.")
    count, unit = int(match[1]), _UNITS[match[2]]
    return f"{count} {unit}{'s' if count > 1 else ''}"
