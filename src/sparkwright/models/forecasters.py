"""The model types of ``task: forecasting``: per-series ones from statsforecast, and one global one (``gbt``).

statsforecast over statsmodels: its ETS, ARIMA and Theta are the same state-space and automatic-order
methods, written for many short series (compiled, no Python loop per observation), and they return
prediction intervals at any level from one call (BENCHMARKS.md has the comparison this choice rests on).

Each type names a statsforecast class; its ``params`` are that class's keyword arguments, except
``season_length``, which sparkwright sets from the series' frequency. ``arima``'s automatic order search is
bounded by default (p, q <= 3; seasonal P, Q <= 1; stepwise, approximated): the unbounded search costs
seconds per series, and on monthly data the larger orders rarely win.

``gbt`` is not fitted per series: one xgboost model learns from every series at once, on lag, seasonal and
calendar features (``sparkwright.forecast.global_model``); its params are ``lags`` and xgboost's.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from sparkwright.errors import ConfigError
from sparkwright.models.base import ModelType, Target
from sparkwright.models.registry import register_model_type
from sparkwright.tasks.forecasting import BASELINE_TYPE

SEASON = "season_length"


class ForecasterType(ModelType):
    """A statsforecast model fitted per series (``build_forecaster``), not a Spark estimator."""

    tasks: ClassVar[tuple[str, ...]] = ("forecasting",)
    uses_features: ClassVar[bool] = False
    statsforecast_class: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    # Fits on the project's exogenous columns (forecasting.exogenous) as regressors.
    takes_exogenous: ClassVar[bool] = False

    def _class(self) -> type:
        return getattr(importlib.import_module("statsforecast.models"), self.statsforecast_class)

    def param_names(self) -> list[str]:
        """The keyword arguments ``params`` may set (the class's, but ``season_length``)."""
        signature = inspect.signature(self._class().__init__)
        return sorted(n for n in signature.parameters if n not in ("self", SEASON, "alias", "prediction_intervals"))

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "forecasting") -> None:
        """Raises: ConfigError: a name the class does not take (``season_length`` is sparkwright's), or a value
        it refuses."""
        for name in params:
            if name == SEASON:
                raise ConfigError(
                    "sparkwright sets season_length from the frequency (forecasting.season_length to change it); "
                    "remove it.",
                    f"{path}.{name}",
                )
            if name not in self.param_names():
                raise ConfigError(
                    f"{self.name} ({self.statsforecast_class}) takes none of {name!r}; its params: "
                    f"{', '.join(self.param_names()) or 'none'}.",
                    f"{path}.{name}",
                )
        try:
            self.build_forecaster(params, 12)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: {exc}", path) from None

    def resolve_params(self, params: Mapping[str, Any], task: str = "forecasting") -> dict[str, Any]:
        return {**self.defaults, **params}

    def constructor(self, params: Mapping[str, Any], season: int) -> tuple[str, dict[str, Any]]:
        """``(statsforecast class name, keyword arguments)`` of a model for series of ``season`` points per cycle:
        what a fit builds, and what the registered model stores to build it again without sparkwright."""
        seasonal = SEASON in inspect.signature(self._class().__init__).parameters
        return self.statsforecast_class, {**({SEASON: season} if seasonal else {}), **self.resolve_params(params)}

    def build_forecaster(self, params: Mapping[str, Any], season: int) -> Any:
        """A fresh statsforecast model for one series of ``season`` observations per cycle."""
        name, kwargs = self.constructor(params, season)
        return getattr(importlib.import_module("statsforecast.models"), name)(**kwargs)


@register_model_type
class NaiveForecaster(ForecasterType):
    """The last value, repeated."""

    name = "naive"
    statsforecast_class = "Naive"


@register_model_type
class SeasonalNaiveForecaster(ForecasterType):
    """Last season's values, repeated: the baseline."""

    name = BASELINE_TYPE
    statsforecast_class = "SeasonalNaive"


@register_model_type
class EtsForecaster(ForecasterType):
    """Exponential smoothing, the error / trend / season form chosen by AICc."""

    name = "ets"
    statsforecast_class = "AutoETS"


@register_model_type
class ArimaForecaster(ForecasterType):
    """ARIMA with its orders chosen by a bounded stepwise search."""

    name = "arima"
    statsforecast_class = "AutoARIMA"
    takes_exogenous = True
    defaults: ClassVar[dict[str, Any]] = {
        "max_p": 3,
        "max_q": 3,
        "max_P": 1,
        "max_Q": 1,
        "stepwise": True,
        "approximation": True,
    }


@register_model_type
class ThetaForecaster(ForecasterType):
    """The Theta method, its variant chosen by in-sample error."""

    name = "theta"
    statsforecast_class = "AutoTheta"


# Lags a global model reads by default: two seasons (the seasonal naive's and the one before), within bounds.
_LAG_SEASONS, _MIN_DEFAULT_LAGS, _MAX_DEFAULT_LAGS = 2, 2, 48
# xgboost defaults for a global model: slower learning and more rounds than the xgboost type's (0.3, 100),
# since the scaled targets of many series are noisy.
_GBT_DEFAULTS: dict[str, Any] = {"n_estimators": 200, "learning_rate": 0.1, "max_depth": 6}


@register_model_type
class GlobalForecasterType(ModelType):
    """``gbt``: one xgboost model over every series (direct multi-horizon), trained by ``type: xgboost``'s
    estimator (native xgboost on the driver, or ``SparkXGBRegressor`` beyond ``driver_max_cells``).
    ``params``: ``lags`` (the past values a forecast reads; default two seasons, 2 to 48) and the params of
    ``type: xgboost`` (``n_estimators``, ``max_depth``, ``learning_rate``, ``training``, ...)."""

    name = "gbt"
    tasks: ClassVar[tuple[str, ...]] = ("forecasting",)
    uses_features: ClassVar[bool] = False

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "forecasting") -> None:
        """Raises: ConfigError: ``lags`` not an integer >= 1, or an xgboost param that ``type: xgboost`` refuses."""
        from sparkwright.models.xgboost_model import XGBoostType, check_value

        if "lags" in params:
            check_value(params["lags"], (int, lambda v: v >= 1, "an integer >= 1"), f"{path}.lags")
        XGBoostType().validate_params(self.xgboost_params(params), path, "regression")

    def resolve_params(self, params: Mapping[str, Any], task: str = "forecasting") -> dict[str, Any]:
        return {**_GBT_DEFAULTS, **params}

    def lags(self, params: Mapping[str, Any], season: int) -> int:
        """``params.lags``, or two seasons bounded to [2, 48]."""
        if "lags" in params:
            return int(params["lags"])
        return min(max(_LAG_SEASONS * season, _MIN_DEFAULT_LAGS), _MAX_DEFAULT_LAGS)

    def xgboost_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params handed to the xgboost estimator (the defaults above, then the project file's)."""
        return {k: v for k, v in self.resolve_params(params).items() if k != "lags"}

    def build(self, params: Mapping[str, Any], target: Target) -> Any:
        """sparkwright's xgboost estimator (driver or xgboost.spark by data size) for the scaled targets."""
        from sparkwright.models.xgboost_model import XGBoostType

        return XGBoostType().build(self.xgboost_params(params), target)


def takes_exogenous(type_: str) -> bool:
    """Whether forecasting type ``type_`` fits on the exogenous columns (the global model does not yet)."""
    from sparkwright.models.registry import get_model_type

    return bool(getattr(get_model_type(type_, "forecasting"), "takes_exogenous", False))


def is_global(type_: str) -> bool:
    """Whether forecasting type ``type_`` is one model over every series (not fitted per series)."""
    from sparkwright.models.registry import get_model_type

    return isinstance(get_model_type(type_, "forecasting"), GlobalForecasterType)


def forecaster_type(type_: str) -> ForecasterType:
    """The registered per-series forecasting model type ``type_``.

    Raises:
        ModelError: Unknown, or not a forecasting type (lists the valid ones).
    """
    from sparkwright.models.registry import get_model_type

    model_type = get_model_type(type_, "forecasting")
    assert isinstance(model_type, ForecasterType), f"{type_} is a global model, not fitted per series"
    return model_type


def build(type_: str, params: Mapping[str, Any], season: int) -> Any:
    """A fresh statsforecast model of the registered ``type_`` (see :class:`ForecasterType`)."""
    return forecaster_type(type_).build_forecaster(params, season)
