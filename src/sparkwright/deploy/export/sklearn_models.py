"""Export of ``type: sklearn`` models (the ``SklearnModel`` stage), read from the fitted estimator's arrays.

Trees and forests become the runtime's tree step, linear models its linear and logistic steps. What
scikit-learn does differently from Spark is settled here, on the driver, with step kinds the runtime
already has wherever one fits:

- Trees compare ``float32(x) <= threshold`` (sklearn casts the features to float32): each threshold is
  replaced by the largest double whose float32 rounding is at most the threshold, so that comparing the
  double decides the same.
- Trees send NaN to the child ``missing_go_to_left`` names (when the tree saw no NaN in training, the
  child that got more rows); the runtime's trees send NaN right. A node whose NaN goes left is written
  mirrored, on the negated feature: ``-x <= s`` exactly when sklearn sends ``x`` right, with the children
  swapped, so NaN (never ``<=``) still goes right, now into sklearn's left child. A standard-scaler step
  with std -1 (exact negation) and an assembler append the negated features to the vector.
- Classifiers end with a ``sklearn_classes`` step: the probabilities as sklearn computes them (for
  logistic regression from the margins: ``expit``, ``1 - expit``, softmax), in class-index order with 0 for
  a class absent from training, and the class as ``predict_local`` picks it (NumPy's argmax; ``>=``
  threshold for two classes).

Anything else is refused, naming the estimator and listing the supported ones. Nothing is pickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import UnsupportedStageError, _Context, _converts
from sparkwright.errors import ModelError

# Estimator class (in sklearn's own modules) -> (task, how it is exported).
_ESTIMATORS = {
    "DecisionTreeRegressor": ("regression", "tree"),
    "RandomForestRegressor": ("regression", "forest"),
    "ExtraTreesRegressor": ("regression", "forest"),
    "LinearRegression": ("regression", "linear"),
    "Ridge": ("regression", "linear"),
    "Lasso": ("regression", "linear"),
    "ElasticNet": ("regression", "linear"),
    "DecisionTreeClassifier": ("classification", "tree"),
    "RandomForestClassifier": ("classification", "forest"),
    "ExtraTreesClassifier": ("classification", "forest"),
    "LogisticRegression": ("classification", "logistic"),
}

# float32 values round up to infinity from FLT_MAX + half its last-place step (2**104 / 2) on.
_FLOAT32_OVERFLOW = float(np.finfo(np.float32).max) + 2.0**103


def supported_estimators() -> list[str]:
    """Class names of the scikit-learn estimators a ``type: sklearn`` model can be exported with."""
    return sorted(_ESTIMATORS)


@_converts("SklearnModel")
def _sklearn_model(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    estimator = getattr(stage, "estimator", None)
    if estimator is None:
        raise ModelError(f"{where} holds no fitted estimator; fit or load it first.")
    task = stage.getOrDefault(stage.task)
    cls = type(estimator)
    # Exact classes only: a subclass (or a look-alike elsewhere) may predict differently.
    known = _ESTIMATORS.get(cls.__name__) if cls.__module__.startswith("sklearn.") else None
    if known is None or known[0] != task:
        raise UnsupportedStageError(
            f"{where} cannot be exported: the scikit-learn estimator {_public_path(cls)} "
            f"(task {task}) is not supported. Supported estimators: {', '.join(supported_estimators())}."
        )
    features = stage.getFeaturesCol()
    num_features = int(estimator.n_features_in_)
    context.features(where, features, num_features)
    params: dict[str, Any] = {
        "stage": where,
        "features": features,
        "prediction": stage.getPredictionCol(),
        "num_features": num_features,
    }
    if not params["prediction"]:
        raise UnsupportedStageError(f"{where}: predictionCol is empty; SklearnModel always writes it. Set it.")
    context.add(params["prediction"], "double")
    classes = _classes(stage, estimator, context, where) if task == "classification" else None
    if known[1] == "linear":
        return [_linear(estimator, params, where)]
    if known[1] == "logistic":
        return _logistic(stage, estimator, params, classes, context)
    return _trees(stage, estimator, known[1], params, classes, context, where)


def _public_path(cls: type) -> str:
    """``sklearn.neighbors.KNeighborsRegressor``, not its private module ``sklearn.neighbors._regression``."""
    parts = cls.__module__.split(".")
    public = parts[: next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))]
    return ".".join([*public, cls.__name__])


def _classes(stage: Any, estimator: Any, context: _Context, where: str) -> dict[str, Any]:
    """The classifier's outputs: probability column, class count, order of the estimator's columns, threshold."""
    probability = stage.getProbabilityCol()
    if not probability:
        raise UnsupportedStageError(f"{where}: probabilityCol is empty; SklearnModel always writes it. Set it.")
    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind not in "iuf" or not np.array_equal(classes, np.round(classes)) or classes.min() < 0:
        raise ModelError(f"{where}: the estimator's classes {classes.tolist()} are not class indices 0, 1, ...")
    classes = classes.astype(np.int64)
    defined = stage.isDefined(stage.numClasses)
    num_classes = int(stage.getOrDefault(stage.numClasses)) if defined else int(classes.max()) + 1
    if classes.max() >= num_classes:
        raise ModelError(f"{where}: the estimator knows class {int(classes.max())}, but numClasses is {num_classes}.")
    order = [-1] * num_classes
    for column, index in enumerate(classes.tolist()):
        order[index] = column
    # predict_local applies the threshold to two classes only.
    threshold = float(stage.getThreshold()) if stage.isSet(stage.threshold) and num_classes == 2 else None
    context.add(probability, rt.VECTOR, num_classes)
    return {
        "probability": probability,
        "num_classes": num_classes,
        "order": order,
        "threshold": threshold,
    }


def _classes_step(params: dict[str, Any], classes: dict[str, Any], source: str, column: str) -> rt.Step:
    return rt.SklearnClassesStep(
        {
            "stage": params["stage"],
            "input": column,
            "source": source,
            "probability": classes["probability"],
            "prediction": params["prediction"],
            "order": classes["order"],
            "threshold": classes["threshold"],
        }
    )


def _classifier_params(params: dict[str, Any], classes: dict[str, Any], raw: str) -> dict[str, Any]:
    """The model step's classifier params; ``num_classes`` is the final width, which the classes step writes."""
    return {
        **params,
        "raw": raw,
        "probability": classes["probability"],
        "num_classes": classes["num_classes"],
        "thresholds": None,
    }


# ---- linear models ------------------------------------------------------------------------------


def _linear(estimator: Any, params: dict[str, Any], where: str) -> rt.Step:
    coefficients = np.asarray(estimator.coef_, dtype=np.float64)
    intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)
    if coefficients.ndim == 2 and coefficients.shape[0] == 1:
        coefficients = coefficients[0]
    if coefficients.ndim != 1 or intercept.size > 1:
        raise UnsupportedStageError(f"{where}: the estimator predicts several outputs; only one is supported.")
    params = {**params, "intercept": float(intercept[0]) if intercept.size else 0.0}
    return rt.LinearRegressionStep(params, {"coefficients": coefficients})


def _logistic(
    stage: Any, estimator: Any, params: dict[str, Any], classes: dict[str, Any], context: _Context
) -> list[rt.Step]:
    """The margins from the logistic step (its raw prediction), the probabilities from them as sklearn does."""
    coefficients = np.asarray(estimator.coef_, dtype=np.float64)
    intercepts = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)
    binary = coefficients.shape[0] == 1
    margins = f"__sw_{stage.uid}_margins"
    model = _classifier_params(params, classes, margins)
    model["multinomial"] = not binary
    if binary:
        # Only the step's own prediction reads it, and the classes step overwrites that.
        model["binary_thresholds"] = [0.5, 0.0]
    context.add(margins, rt.VECTOR, 2 if binary else coefficients.shape[0])
    arrays = {"coefficients": coefficients, "intercepts": intercepts}
    source = "binary_margin" if binary else "margins"
    return [rt.LogisticRegressionStep(model, arrays), _classes_step(params, classes, source, margins)]


# ---- trees --------------------------------------------------------------------------------------


def _trees(
    stage: Any,
    estimator: Any,
    ensemble: str,
    params: dict[str, Any],
    classes: dict[str, Any] | None,
    context: _Context,
    where: str,
) -> list[rt.Step]:
    trees = [estimator] if ensemble == "tree" else list(estimator.estimators_)
    if any(int(tree.tree_.n_outputs) != 1 for tree in trees):
        raise UnsupportedStageError(f"{where}: the estimator predicts several outputs; only one is supported.")
    num_features = params["num_features"]
    arrays, max_depth = _tree_arrays([tree.tree_ for tree in trees], num_features, classes is not None)
    steps: list[rt.Step] = []
    model = dict(params)
    if (arrays["feature"] >= num_features).any():
        # Some nodes are mirrored onto the negated features: append them to the vector.
        negated = f"__sw_{stage.uid}_negated"
        widened = f"__sw_{stage.uid}_features_and_negated"
        scaler = {"stage": where, "input": params["features"], "output": negated, "with_mean": False, "with_std": True}
        sign = {"mean": np.zeros(num_features), "std": np.full(num_features, -1.0)}
        assembler = {
            "stage": where,
            "inputs": [params["features"], negated],
            "output": widened,
            "handle_invalid": "error",
        }
        steps += [rt.StandardScalerStep(scaler, sign), rt.VectorAssemblerStep(assembler)]
        context.add(negated, rt.VECTOR, num_features)
        context.add(widened, rt.VECTOR, 2 * num_features)
        model.update(features=widened, num_features=2 * num_features)
    model.update(task="classification" if classes else "regression", ensemble=ensemble, max_depth=max_depth)
    if classes is None:
        arrays.pop("stats")
        return [*steps, rt.TreeEnsembleStep(model, arrays)]
    model = _classifier_params(model, classes, "")
    classes_step = _classes_step(params, classes, "probability", classes["probability"])
    return [*steps, rt.TreeEnsembleStep(model, arrays), classes_step]


def _tree_arrays(trees: list[Any], num_features: int, classification: bool) -> tuple[dict[str, np.ndarray], int]:
    """sklearn ``tree_`` objects as the runtime's flat arrays (see ``trees.TreeArrays``), concatenated.

    Thresholds become their float64 equivalents; a node whose NaN goes left is mirrored onto feature
    ``num_features + f`` (the negation of feature ``f``) with its children swapped.
    """
    sizes = [int(tree.node_count) for tree in trees]
    offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    offset = np.repeat(offsets, sizes)
    left = np.concatenate([tree.children_left for tree in trees]).astype(np.int64)
    right = np.concatenate([tree.children_right for tree in trees]).astype(np.int64)
    inner = left >= 0
    left, right = np.where(inner, left + offset, -1), np.where(inner, right + offset, -1)
    feature = np.where(inner, np.concatenate([tree.feature for tree in trees]).astype(np.int64), -1)
    threshold = np.where(inner, float32_equivalent(np.concatenate([tree.threshold for tree in trees])), 0.0)
    missing_left = inner & np.concatenate([tree.missing_go_to_left for tree in trees]).astype(bool)
    with np.errstate(invalid="ignore"):
        mirrored_threshold = np.nextafter(-threshold, -np.inf)
    feature = np.where(missing_left, feature + num_features, feature)
    threshold = np.where(missing_left, mirrored_threshold, threshold)
    left, right = np.where(missing_left, right, left), np.where(missing_left, left, right)
    # value: (nodes, outputs, classes); sklearn >= 1.4 stores class fractions, the runtime normalises anyway.
    value = np.concatenate([tree.value[:, 0, :] for tree in trees]).astype(np.float64)
    nodes = len(left)
    arrays = {
        "roots": offsets,
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "right": right,
        "categorical": np.zeros(nodes, dtype=bool),
        "num_categories": np.zeros(nodes, dtype=np.int64),
        "category_row": np.full(nodes, -1, dtype=np.int64),
        "left_categories": np.zeros((0, 0), dtype=bool),
        "value": np.argmax(value, axis=1).astype(np.float64) if classification else value[:, 0],
        "stats": value,
    }
    return arrays, max(int(tree.max_depth) for tree in trees)


def float32_equivalent(thresholds: np.ndarray) -> np.ndarray:
    """The largest double ``u`` with ``float32(u) <= t``, per threshold ``t``: ``x <= u`` iff ``float32(x) <= t``.

    float32 rounding is monotone, so the doubles whose rounding is at most ``t`` are all those up to
    ``u``. With ``f`` the largest float32 at most ``t`` and ``m`` the midpoint between ``f`` and the next
    float32, ``u`` is ``m`` when ``m`` rounds to ``f`` (ties go to the even one), else the double below ``m``.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        f = t.astype(np.float32)
        f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)
        above = np.nextafter(f, np.float32(np.inf)).astype(np.float64)
        low = f.astype(np.float64)
        middle = np.where(
            np.isposinf(above), _FLOAT32_OVERFLOW, np.where(np.isneginf(low), -_FLOAT32_OVERFLOW, (low + above) / 2)
        )
        rounds_down = middle.astype(np.float32).astype(np.float64) <= t
        u = np.where(rounds_down, middle, np.nextafter(middle, -np.inf))
    return np.where(np.isposinf(t), np.inf, u)
