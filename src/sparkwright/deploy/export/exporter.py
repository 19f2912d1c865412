"""``export_pipeline``: a fitted ``PipelineModel`` -> an :class:`ExportedScorer` that scores without Spark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import (
    MODEL_KINDS,
    SQL_KINDS,
    UnsupportedStageError,
    convert_stages,
    schema_columns,
    supported_stages,
)
from sparkwright.errors import ModelError

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.sql.types import StructType


def export_pipeline(
    pipeline_model: PipelineModel | Transformer,
    input_schema: StructType | Any,
    *,
    prediction_col: str | None = None,
    work_dir: str | None = None,
) -> rt.ExportedScorer:
    """Turn a fitted Spark ML pipeline into a NumPy scorer whose predictions equal Spark's ``transform``.

    Nested ``PipelineModel``s are walked. Stages whose outputs the prediction does not depend on are
    dropped (the label indexer of a classifier, say), so their ``handleInvalid`` checks do not apply.

    Args:
        pipeline_model: The fitted pipeline (or a single fitted stage).
        input_schema: The columns the model gets at scoring time: a StructType, a DataFrame, a
            ``{column: Spark type}`` mapping or ``(column, type)`` pairs. Columns no stage reads are ignored;
            leave the label out.
        prediction_col: The column to return as the prediction. Default: the output of the last model or
            SQL stage (``prediction`` in sparkwright's pipelines, after the exp() or class-label mapping).
        work_dir: Where tree models are saved for a moment while their nodes are read (see
            :func:`sparkwright.deploy.export.trees.read_trees`); the default suits a local master.

    Returns:
        The scorer; ``.predict(pandas_df)`` scores, ``.save(folder)`` writes it (JSON + ``.npy``).

    Raises:
        UnsupportedStageError: A stage or setting the exporter does not support; lists the supported stages.
        ModelError: A stage reads a column that is neither an input nor made earlier, or of the wrong type.

    Example:
        >>> scorer = export_pipeline(fitted.pipeline_model, test_df.drop("price").schema)
        >>> scorer.predict(test_df.drop("price").toPandas())
    """
    import pyspark

    stages = _flatten(pipeline_model)
    inputs = schema_columns(input_schema)
    steps, columns = convert_stages(stages, inputs, work_dir)
    outputs = _outputs(steps, columns, prediction_col)
    prepare = next((s for s in steps if isinstance(s, rt.PrepareRowsStep)), None)
    if prepare is not None:
        outputs["reason"] = prepare.params["reason"]
    steps, used = _prune(
        steps, {outputs["prediction"], outputs.get("probability"), outputs.get("score"), outputs.get("reason")} - {None}
    )
    types = dict(inputs)
    unusable = [f"{name} ({types[name]})" for name in used if types[name] not in rt.SCALAR_TYPES]
    if unusable:
        raise ModelError(
            f"input columns {unusable} have types the scorer cannot read; supported: {', '.join(rt.SCALAR_TYPES)}."
        )
    metadata = {
        "spark_version": pyspark.__version__,
        "stages": [f"{type(s).__name__} {getattr(s, 'uid', '')}" for s in stages],
    }
    optional = {c["name"] for c in prepare.params["columns"] if c["optional"]} if prepare is not None else set()
    scorer_inputs = [
        {"name": name, "type": types[name], **({"optional": True} if name in optional else {})}
        for name, _ in inputs
        if name in used
    ]
    return rt.ExportedScorer(scorer_inputs, steps, outputs, metadata)


def _flatten(stage: Any) -> list[Any]:
    from pyspark.ml import Pipeline, PipelineModel

    if isinstance(stage, Pipeline):
        raise ModelError("export_pipeline needs a fitted PipelineModel, not a Pipeline; call .fit first.")
    if isinstance(stage, PipelineModel):
        return [inner for child in stage.stages for inner in _flatten(child)]
    return [stage]


def _outputs(steps: list[rt.Step], columns: dict[str, tuple[str, int | None]], prediction_col: str | None) -> dict:
    """The prediction column, and for a classifier its probability column, class count and labels."""
    classifiers = [s for s in steps if s.kind in MODEL_KINDS and s.params.get("num_classes")]
    if prediction_col is None:
        last = next((s for s in reversed(steps) if s.kind in MODEL_KINDS + SQL_KINDS), None)
        if last is None:
            raise UnsupportedStageError(
                "the pipeline has no model and no prediction statement, so there is nothing to predict; "
                f"supported stages: {', '.join(supported_stages())}."
            )
        prediction_col = last.params.get("prediction") or last.params.get("output")
        if not prediction_col:
            raise ModelError(f"{last.stage} has its predictionCol switched off; pass prediction_col.")
    if prediction_col not in columns or columns[prediction_col][0] == rt.VECTOR:
        raise ModelError(f"prediction_col {prediction_col!r} is not a scalar column the pipeline makes.")
    outputs: dict[str, Any] = {"prediction": prediction_col, "prediction_type": columns[prediction_col][0]}
    detector = next((s for s in steps if s.kind in MODEL_KINDS and s.params.get("score")), None)
    if detector is not None:  # an anomaly detector: its score beside the flag
        outputs["score"] = detector.params["score"]
    classifier = next((s for s in reversed(classifiers) if s.params.get("probability")), None)
    if classifier is not None:
        num_classes = int(classifier.params["num_classes"])
        outputs.update(probability=classifier.params["probability"], num_classes=num_classes, classes=None)
        mapping = next(
            (
                s
                for s in steps
                if s.kind == "sql_index_to_label"
                and s.params["input"] == classifier.params["prediction"]
                and s.params["output"] == prediction_col
            ),
            None,
        )
        if mapping is not None and all(str(k) in mapping.params["labels"] for k in range(num_classes)):
            outputs["classes"] = [mapping.params["labels"][str(k)] for k in range(num_classes)]
    return outputs


def _prune(steps: list[rt.Step], needed: set[str]) -> tuple[list[rt.Step], set[str]]:
    """Drop what no output depends on, backwards; returns the steps and the columns left to read from the input."""
    kept = []
    for step in reversed(steps):
        reduced = step.prune(needed)
        if reduced is None:
            continue
        needed = (needed - set(reduced.outputs())) | set(reduced.inputs())
        kept.append(reduced)
    return kept[::-1], needed
