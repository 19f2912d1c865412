"""A registered forecasting model without Spark: its :class:`~sparkwright.forecast.runtime.Forecaster`, where it
came from, and the rules a request row must meet, shared by ``sparkwright predict`` and ``sparkwright serve``.

A forecasting run logs an MLflow pyfunc model whose MLmodel metadata carries ``sparkwright_forecaster``; the
forecaster's files are one of its artifacts, so it loads from the downloaded folder without MLflow's pyfunc
machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkwright.forecast.logged import FORECASTER_ARTIFACT, FORECASTER_KEY
from sparkwright.forecast.runtime import HORIZON_COL, Forecaster
from sparkwright.registry import Registry, VersionInfo, parse_model_ref

# The most points one request row may ask for: a forecast holds them all in memory at once.
MAX_HORIZON = 10_000


@dataclass(frozen=True)
class RegisteredForecaster:
    """A registered version's forecaster and where it came from.

    Attributes:
        inputs: The series columns and ``horizon`` -> Spark SQL type, from the model's signature.
    """

    forecaster: Forecaster
    name: str
    version: str
    run_id: str | None
    metrics: dict[str, float]
    inputs: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def series(self) -> list[str]:
        return self.forecaster.series

    @property
    def exogenous_columns(self) -> list[str]:
        """The time and the exogenous columns a request row carries for a model that uses exogenous values
        (none without them)."""
        exogenous = list(self.forecaster.meta.get("exogenous", []))
        return [self.forecaster.time, *exogenous] if exogenous else []

    @property
    def horizon(self) -> int:
        """The run's horizon: the forecast length of a request row without one."""
        return int(self.forecaster.meta["horizon"])

    def describe(self) -> str:
        """What a request row holds, for error messages."""
        return (
            f"rows with the series column(s) {self.series} and an optional {HORIZON_COL!r} "
            f"(1 to {MAX_HORIZON}; default {self.horizon})"
        )


def load_forecaster(registry: Registry, model: str) -> RegisteredForecaster | None:
    """The forecaster of ``model`` (``models:/name@alias``, ``models:/name/version``), or None when ``model`` is
    not a forecasting model.

    Raises:
        ModelError: Unknown model, version or alias.
    """
    info = registry.resolve(parse_model_ref(model))
    return forecaster_in(info, registry.tracker.download_model(info.source))


def forecaster_in(info: VersionInfo, local: Path) -> RegisteredForecaster | None:
    """The forecaster of version ``info`` downloaded to ``local``; None for any other kind of model."""
    from mlflow.models import Model

    from sparkwright.deploy.batch import signature_inputs

    metadata = Model.load(str(local / "MLmodel"))
    if FORECASTER_KEY not in (metadata.metadata or {}):
        return None
    artifacts = metadata.flavors.get("python_function", {}).get("artifacts", {})
    folder = local / artifacts.get(FORECASTER_ARTIFACT, {}).get("path", f"artifacts/{FORECASTER_ARTIFACT}")
    metrics = {k: v for k, v in info.metrics.items() if not k.startswith(("train_", "fit_"))}
    inputs, _ = signature_inputs(metadata)
    return RegisteredForecaster(Forecaster.load(folder), info.name, info.version, info.run_id, metrics, inputs)


def horizon_problem(value: Any) -> str | None:
    """Why ``value`` is not a horizon (a whole number from 1 to ``MAX_HORIZON``), or None when it is one or
    is missing (the run's horizon applies)."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, bool) or not isinstance(number, int | float) or not float(number).is_integer():
        return f"horizon must be a whole number of points, got {value!r}."
    if not 1 <= number <= MAX_HORIZON:
        return f"horizon must be from 1 to {MAX_HORIZON}, got {int(number)}."
    return None
