"""Export fitted Spark ML pipelines to a scorer that needs no JVM (NumPy and pandas), as an MLflow pyfunc model.

Names are imported on first use: importing this package imports neither pyspark nor MLflow.

Example:
    >>> from sparkwright.deploy.export import export_model
    >>> export_model("models:/hotel-rates@champion", "exported", tracking_uri="sqlite:///ws/mlflow.db")
    >>> import mlflow.pyfunc
    >>> mlflow.pyfunc.load_model("exported").predict(pandas_df)   # no Spark needed here
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "export_pipeline": "sparkwright.deploy.export.exporter",
    "export_model": "sparkwright.deploy.export.pyfunc",
    "save_pyfunc": "sparkwright.deploy.export.pyfunc",
    "log_exported_model": "sparkwright.deploy.export.pyfunc",
    "supported_stages": "sparkwright.deploy.export.converters",
    "UnsupportedStageError": "sparkwright.deploy.export.converters",
    "ExportedScorer": "sparkwright.deploy.export.runtime",
    "ScoringError": "sparkwright.deploy.export.runtime",
    "load_scorer": "sparkwright.deploy.export.runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparkwright.deploy.export' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
