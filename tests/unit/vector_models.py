"""Shared by the tests of the single-node model types (sklearn, xgboost): data and a fit through the type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparkwright.models import Target, get_model_type

FEATURES = ["a", "b", "c", "mostly_zero"]


def labelled_frame(rows: int, seed: int) -> pd.DataFrame:
    """Regression, binary and 3-class labels on four features; "mostly_zero" is mostly 0, so the assembled
    vectors are sparse and a 0 that were read as missing would change the model."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=FEATURES[:3])
    frame["mostly_zero"] = (rng.random(rows) < 0.25) * rng.uniform(1, 3, rows)
    signal = 2 * frame.a + 1.5 * frame.mostly_zero - frame.b
    frame["y"] = signal + rng.normal(0, 0.3, rows)
    frame["binary"] = (signal + rng.normal(0, 0.5, rows) > 0.8).astype(float)
    frame["multi"] = np.digitize(signal, [-0.5, 1.0]).astype(float)
    # Heavy weight on rows with large b: a weighted fit must differ from an unweighted one.
    frame["w"] = np.where(frame.b > 0.5, 20.0, 1.0)
    return frame


def vector_target(task: str = "regression", label: str = "y", **kwargs) -> Target:
    """What the estimator reads and writes: label, "features" vector, prediction (+ probability, raw)."""
    classification = task == "classification"
    return Target(
        task=task,
        label_col=label,
        features_col="features",
        prediction_col="prediction",
        probability_col="probability" if classification else None,
        raw_prediction_col="raw" if classification else None,
        **kwargs,
    )


def fit_type(type_name: str, data, params: dict, target: Target):
    """Validate ``params`` as the project file would, then build and fit the model type's estimator."""
    model_type = get_model_type(type_name, target.task)
    model_type.validate_params(params, "models[0].params", target.task)
    return model_type.build(model_type.resolve_params(params, target.task), target).fit(data)
