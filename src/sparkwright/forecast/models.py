"""The per-series model types of ``task: forecasting``, from statsforecast.

statsforecast over statsmodels: its ETS, ARIMA and Theta are the same state-space and automatic-order
methods, written for many short series (compiled, no Python loop per observation), and they return
prediction intervals at any level from one call (BENCHMARKS.md has the comparison this choice rests on).

``arima``'s automatic order search is bounded by default (p, q <= 3; seasonal P, Q <= 1; stepwise): the
unbounded search costs seconds per series, and on monthly data the larger orders rarely win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sparkwright.errors import ConfigError

BASELINE = "seasonal_naive"
ARIMA_DEFAULTS = {"max_p": 3, "max_q": 3, "max_P": 1, "max_Q": 1, "stepwise": True, "approximation": True}


def _naive(season: int, params: Mapping[str, Any]) -> Any:
    from statsforecast.models import Naive

    return Naive(**params)


def _seasonal_naive(season: int, params: Mapping[str, Any]) -> Any:
    from statsforecast.models import SeasonalNaive

    return SeasonalNaive(season_length=season, **params)


def _ets(season: int, params: Mapping[str, Any]) -> Any:
    from statsforecast.models import AutoETS

    return AutoETS(season_length=season, **params)


def _arima(season: int, params: Mapping[str, Any]) -> Any:
    from statsforecast.models import AutoARIMA

    return AutoARIMA(season_length=season, **{**ARIMA_DEFAULTS, **params})


def _theta(season: int, params: Mapping[str, Any]) -> Any:
    from statsforecast.models import AutoTheta

    return AutoTheta(season_length=season, **params)


BUILDERS: dict[str, Callable[[int, Mapping[str, Any]], Any]] = {
    "naive": _naive,
    "seasonal_naive": _seasonal_naive,
    "ets": _ets,
    "arima": _arima,
    "theta": _theta,
}


def build(type_: str, params: Mapping[str, Any], season: int) -> Any:
    """A fresh model of ``type_`` with ``params`` (statsforecast's keyword arguments) for ``season``.

    Raises:
        ConfigError: Unknown type, or params the model does not take (path ``models[i]``-relative).
    """
    try:
        builder = BUILDERS[type_]
    except KeyError:
        raise ConfigError(f"unknown forecasting model type {type_!r}; one of {', '.join(BUILDERS)}.", "type") from None
    try:
        return builder(season, params)
    except TypeError as exc:
        raise ConfigError(f"{type_}: {exc}", "params") from None
