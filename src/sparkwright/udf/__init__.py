"""pandas UDFs that scale single-node models on Spark: scoring (``score``) and one model per group
(``train_per_group``) behind one routing MLflow model.

Names are imported on first use, so ``import sparkwright.udf`` imports neither pyspark nor MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "DEFAULT_BATCH_SIZE": "sparkwright.udf.inference",
    "PreparedModel": "sparkwright.udf.inference",
    "arrow_batch_size": "sparkwright.udf.inference",
    "predict_udf": "sparkwright.udf.inference",
    "prepare_model": "sparkwright.udf.inference",
    "score": "sparkwright.udf.inference",
    "EstimatorSpec": "sparkwright.udf.grouped",
    "GroupTrainingResult": "sparkwright.udf.grouped",
    "train_per_group": "sparkwright.udf.grouped",
    "log_routing_model": "sparkwright.udf.grouped",
    "save_routing_model": "sparkwright.udf.grouped",
    "GroupRouter": "sparkwright.udf.routing",
    "UnknownGroupError": "sparkwright.udf.routing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparkwright.udf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
