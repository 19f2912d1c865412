"""Deployment of fitted models: export of Spark ML pipelines to a scorer without Spark (``export``).

Names are imported on first use, so ``import sparkwright.deploy`` imports neither pyspark nor MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "export_pipeline": "sparkwright.deploy.export",
    "export_model": "sparkwright.deploy.export",
    "save_pyfunc": "sparkwright.deploy.export",
    "log_exported_model": "sparkwright.deploy.export",
    "supported_stages": "sparkwright.deploy.export",
    "UnsupportedStageError": "sparkwright.deploy.export",
    "ExportedScorer": "sparkwright.deploy.export",
    "ScoringError": "sparkwright.deploy.export",
    "load_scorer": "sparkwright.deploy.export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparkwright.deploy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
