"""The forecasting model in MLflow: a pyfunc "model from code" holding a :class:`~.runtime.Forecaster`."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkwright.errors import TrackingError
from sparkwright.forecast import runtime
from sparkwright.forecast.runtime import Forecaster
from sparkwright.tracking import pinned_requirement

if TYPE_CHECKING:
    from sparkwright.tracking import LoggedModel, Tracker

FORECASTER_ARTIFACT = "forecaster"
RUNTIME_MODULE = "sparkwright_forecast"
# The MLmodel metadata key that marks a forecasting model; its value names the series columns.
FORECASTER_KEY = "sparkwright_forecaster"


def signature(forecaster: Forecaster) -> Any:
    """Inputs: the series columns (their pandas types) and an optional ``horizon``; with exogenous columns, the
    time and their values (optional: only the series whose model uses them need them)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    frame = forecaster.history_frame()
    types = {"i": DataType.long, "u": DataType.long, "f": DataType.double, "b": DataType.boolean}
    columns = [ColSpec(types.get(frame[c].dtype.kind, DataType.string), c) for c in forecaster.series]
    columns.append(ColSpec(DataType.long, runtime.HORIZON_COL, required=False))
    exogenous = list(forecaster.meta.get("exogenous", []))
    if exogenous:  # rows of the points to forecast, for the models that use them
        columns.append(ColSpec(DataType.datetime, forecaster.time, required=False))
        columns += [ColSpec(DataType.double, c, required=False) for c in exogenous]
    return ModelSignature(inputs=Schema(columns))


def save_forecast_model(forecaster: Forecaster, path: str | Path) -> Path:
    """Write ``forecaster`` as an MLflow pyfunc model folder at ``path``; loading it needs MLflow, pandas and
    statsforecast (and xgboost when a global model is inside), not sparkwright.

    Raises:
        TrackingError: MLflow could not write the model.
    """
    import mlflow.pyfunc

    target = Path(path)
    packages = ["mlflow", "numpy", "pandas", "pyarrow", "statsforecast"]
    if forecaster.meta.get("global_models"):
        packages.append("xgboost")
    requirements = [pinned_requirement(p) for p in packages]
    with tempfile.TemporaryDirectory(prefix="sparkwright-forecaster-") as folder:
        runtime_copy = Path(folder) / f"{RUNTIME_MODULE}.py"
        shutil.copyfile(runtime.__file__, runtime_copy)
        saved = forecaster.save(Path(folder) / FORECASTER_ARTIFACT)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example was not provided")
            try:
                mlflow.pyfunc.save_model(
                    str(target),
                    python_model=str(Path(__file__).with_name("_forecast_pyfunc.py")),
                    artifacts={FORECASTER_ARTIFACT: str(saved)},
                    code_paths=[str(runtime_copy)],
                    signature=signature(forecaster),
                    pip_requirements=[r for r in requirements if r],
                    metadata={
                        FORECASTER_KEY: {
                            "series": forecaster.series,
                            "time": forecaster.time,
                            "series_count": len(forecaster.keys),
                            "horizon": forecaster.meta["horizon"],
                        }
                    },
                )
            except Exception as exc:
                raise TrackingError(f"MLflow could not save the forecasting model to {target}: {exc}") from exc
    return target


def log_forecast_model(tracker: Tracker, run_id: str, forecaster: Forecaster) -> LoggedModel:
    """Save ``forecaster`` and upload it as ``model`` of run ``run_id``."""
    from sparkwright.tracking import LoggedModel, model_uri_of_run

    with tempfile.TemporaryDirectory(prefix="sparkwright-forecaster-") as folder:
        local = save_forecast_model(forecaster, Path(folder) / "model")
        tracker.client.log_artifacts(run_id, str(local), "model")
    return LoggedModel(run_id=run_id, model_uri=model_uri_of_run(run_id, "model"))
