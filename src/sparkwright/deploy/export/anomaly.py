"""Export of ``type: isolation_forest`` models (the ``IsolationForestModel`` stage), read from the fitted
scikit-learn forest's arrays: nothing is pickled, and the runtime scores exactly as scikit-learn does."""

from __future__ import annotations

from typing import Any

import numpy as np

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import _Context, _converts
from sparkwright.errors import ModelError


@_converts("IsolationForestModel")
def _isolation_forest(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    from sklearn.ensemble._iforest import _average_path_length

    forest = getattr(stage, "estimator", None)
    if forest is None:
        raise ModelError(f"{where} holds no fitted forest; fit or load it first.")
    features = stage.getFeaturesCol()
    num_features = int(forest.n_features_in_)
    context.features(where, features, num_features)
    parts: dict[str, list[np.ndarray]] = {"feature": [], "threshold": [], "left": [], "right": [], "value": []}
    roots, offset, max_depth = [], 0, 0
    for tree, slots in zip(forest.estimators_, forest.estimators_features_, strict=True):
        nodes = tree.tree_
        leaf = nodes.children_left < 0
        depth = nodes.compute_node_depths()
        parts["feature"].append(np.where(leaf, -1, np.asarray(slots)[np.maximum(nodes.feature, 0)]))
        parts["threshold"].append(nodes.threshold.astype(np.float64))
        parts["left"].append(np.where(leaf, -1, nodes.children_left + offset))
        parts["right"].append(np.where(leaf, -1, nodes.children_right + offset))
        parts["value"].append(depth + _average_path_length(nodes.n_node_samples) - 1.0)
        roots.append(offset)
        offset += nodes.node_count
        max_depth = max(max_depth, int(nodes.max_depth))
    arrays = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    arrays["roots"] = np.asarray(roots, dtype=np.int64)
    score, prediction = stage.getScoreCol(), stage.getPredictionCol()
    context.add(score, "double")
    context.add(prediction, "double")
    params = {
        "stage": where,
        "features": features,
        "num_features": num_features,
        "score": score,
        "prediction": prediction,
        "threshold": float(stage.getOrDefault(stage.threshold)),
        "max_depth": max_depth + 1,
        "denominator": float(len(forest.estimators_) * _average_path_length([forest._max_samples])[0]),
    }
    return [rt.IsolationForestStep(params, arrays)]
