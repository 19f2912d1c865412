"""sparkwright: scalable machine learning on Apache Spark as one toolkit.

Names are imported on first use so that ``import sparkwright`` (and the CLI's ``--help``) does not
import pyspark or start a JVM.

Example:
    >>> import sparkwright
    >>> result = sparkwright.run("project.yaml")
    >>> result.best.name, result.model_uri
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # main job
    "run": "sparkwright.pipeline",
    "RunResult": "sparkwright.pipeline",
    "validate_models": "sparkwright.pipeline",
    # project files
    "load_project": "sparkwright.config",
    "parse_project": "sparkwright.config",
    "ProjectConfig": "sparkwright.config",
    "ModelSpec": "sparkwright.config",
    # session and workspace
    "get_session": "sparkwright.session",
    "Workspace": "sparkwright.workspace",
    # stages, DataFrame in and out
    "ingest": "sparkwright.data",
    "read_source": "sparkwright.data",
    "cleanse": "sparkwright.data",
    "feature_columns": "sparkwright.data",
    "read_table": "sparkwright.data",
    "write_table": "sparkwright.data",
    "write_silver": "sparkwright.data",
    "table_history": "sparkwright.data",
    "split_train_test": "sparkwright.data.split",
    "assign_folds": "sparkwright.data.split",
    "build_feature_stages": "sparkwright.features",
    "fit_model": "sparkwright.models",
    "predict": "sparkwright.models",
    "evaluate_model": "sparkwright.models",
    "regression_metrics": "sparkwright.tasks.regression",
    "classification_metrics": "sparkwright.tasks.classification",
    "confusion_matrix": "sparkwright.tasks.classification",
    # tuning, registry, deployment
    "search": "sparkwright.tune",
    "grid_search": "sparkwright.tune",
    "Registry": "sparkwright.registry",
    "score_batch": "sparkwright.deploy.batch",
    "start_scoring_stream": "sparkwright.deploy.stream",
    "export_model": "sparkwright.deploy.export",
    "load_served_model": "sparkwright.deploy.serve",
    "create_app": "sparkwright.deploy.serve",
    "Tracker": "sparkwright.tracking",
    # errors
    "SparkwrightError": "sparkwright.errors",
    "ConfigError": "sparkwright.errors",
    "DataError": "sparkwright.errors",
    "ModelError": "sparkwright.errors",
    "TrackingError": "sparkwright.errors",
    "SessionError": "sparkwright.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparkwright' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
