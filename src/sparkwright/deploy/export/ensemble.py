"""Export of :class:`~sparkwright.models.ensemble.EnsembleModel`: each member's stages, then the blend.

An exported model carries one runtime file (``runtime.py``, copied as ``sparkwright_scorer.py``), so the
blend is written with step kinds that file already has, each used for the plain arithmetic it does:

- each member's stages are converted as a pipeline of their own, from the ensemble's input columns only
  (Spark runs a member after dropping the previous one's internal columns, so a member cannot read them
  here either); a one-input ``VectorAssembler`` then copies the member's output to a private column
  before the next member overwrites the shared names (``__sw_features``, ``prediction``, ...);
- regression: the copies are assembled into one vector and a ``LinearRegression`` step with the weights
  as coefficients (intercept 0) writes ``prediction``, their weighted mean;
- classification: the probability copies are assembled and a multinomial ``LogisticRegression`` step
  whose coefficient matrix holds the weights writes the weighted mean probabilities as its *raw*
  prediction, into ``probability``, and their first argmax as the class index; with a binary threshold a
  ``binary_threshold`` step (``p1 >= t``) gives the class index instead. The class index is mapped back
  to the label by the members' own index -> label mapping.

The blend reuses the last member's names for the class index and the probability, so the exporter
reports ``probability`` and the classes exactly as for a single model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import MODEL_KINDS, UnsupportedStageError, _Context, _converts, convert_stages
from sparkwright.errors import ModelError

_PREDICTION = "prediction"
_PROBABILITY = "probability"
_MEMBER = "__sw_ensemble_member_"
_ASSEMBLED = "__sw_ensemble_members"


@_converts("EnsembleModel")
def _ensemble(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    stage.check()
    classification = stage.getTask() == "classification"
    output = _PROBABILITY if classification else _PREDICTION
    inputs = [(name, column.type) for name, column in context.columns.items()]
    steps: list[rt.Step] = []
    copies: list[str] = []
    member_steps: list[rt.Step] = []
    for i, (member, name) in enumerate(zip(stage.members, stage.getMemberNames(), strict=True)):
        try:
            member_steps, columns = convert_stages(_flatten(member), inputs, context.work_dir)
        except ModelError as exc:
            raise type(exc)(f"{where}, member {i} ({name}): {exc}") from exc
        made = columns.get(output)
        expected = (rt.VECTOR, len(stage.getClasses())) if classification else ("double", None)
        if made is None or made[0] != expected[0] or (classification and made[1] != expected[1]):
            raise ModelError(
                f"{where}, member {i} ({name}) makes no {output!r} column of type {expected[0]}"
                + (f" with {expected[1]} classes" if classification else "")
                + f" (got {made}); members must be sparkwright models of task {stage.getTask()}."
            )
        copies.append(f"{_MEMBER}{i}")
        copy = {"stage": f"{where} copy of member {i}", "inputs": [output], "output": copies[-1]}
        steps += [*member_steps, rt.VectorAssemblerStep({**copy, "handle_invalid": "keep"})]
    size = len(copies) * (len(stage.getClasses()) if classification else 1)
    assemble = {"stage": f"{where} members", "inputs": copies, "output": _ASSEMBLED, "handle_invalid": "keep"}
    steps.append(rt.VectorAssemblerStep(assemble))
    if not classification:
        context.add(_PREDICTION, "double")
        params = {"stage": f"{where} weighted mean", "features": _ASSEMBLED, "prediction": _PREDICTION}
        params.update(num_features=size, intercept=0.0)
        weights = np.asarray(stage.getWeights(), dtype=np.float64)
        return [*steps, rt.LinearRegressionStep(params, {"coefficients": weights})]
    return steps + _classification_blend(stage, member_steps, context, where, size)


def _classification_blend(
    stage: Any, last_member: list[rt.Step], context: _Context, where: str, size: int
) -> list[rt.Step]:
    """Weighted mean probabilities, the class index (argmax or the binary threshold) and its label."""
    classes, weights, threshold = stage.getClasses(), stage.getWeights(), stage.getThreshold()
    k = len(classes)
    classifier = next(
        (s for s in reversed(last_member) if s.kind in MODEL_KINDS and s.params.get("probability") == _PROBABILITY),
        None,
    )
    mapping = next(
        (s for s in reversed(last_member) if s.kind == "sql_index_to_label" and s.params["output"] == _PREDICTION),
        None,
    )
    if classifier is None or mapping is None or not classifier.params.get("prediction"):
        raise UnsupportedStageError(
            f"{where}: the last member ({stage.getMemberNames()[-1]}) has no classifier writing {_PROBABILITY!r} "
            f"and a class index mapped to {_PREDICTION!r}; members must be sparkwright classification models."
        )
    index = classifier.params["prediction"]
    matrix = np.zeros((k, size))
    for i, weight in enumerate(weights):
        matrix[np.arange(k), i * k + np.arange(k)] = weight
    blend = {"stage": f"{where} weighted mean", "features": _ASSEMBLED, "num_features": size, "num_classes": k}
    blend.update(raw=_PROBABILITY, probability="", prediction="" if threshold is not None else index)
    blend.update(thresholds=None, multinomial=True)
    steps: list[rt.Step] = [rt.LogisticRegressionStep(blend, {"coefficients": matrix, "intercepts": np.zeros(k)})]
    if threshold is not None:
        cut = {"stage": f"{where} threshold", "probability": _PROBABILITY, "prediction": index, "threshold": threshold}
        steps.append(rt.BinaryThresholdStep(cut))
    steps.append(rt.IndexToLabelStep({**mapping.params, "stage": f"{where} class label", "input": index}))
    context.add(_PROBABILITY, rt.VECTOR, k)
    context.add(_PREDICTION, mapping.params["label_type"])
    return steps


def _flatten(stage: Any) -> list[Any]:
    from pyspark.ml import PipelineModel

    if isinstance(stage, PipelineModel):
        return [inner for child in stage.stages for inner in _flatten(child)]
    return [stage]
