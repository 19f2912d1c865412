"""Fit one model spec inside a Pipeline with its feature stages, on the training split only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec
from sparkwright.errors import DataError
from sparkwright.features import (
    INTERNAL_PREFIX,
    ImputeStrategy,
    build_feature_stages,
    feature_names,
    importances_by_column,
    max_categories,
)
from sparkwright.models.base import ModelType, Target
from sparkwright.models.labels import (
    ClassWeight,
    class_weight_column,
    index_to_label_stage,
    label_classes,
    label_indexer,
)
from sparkwright.models.registry import get_model_type

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.sql import DataFrame

PREDICTION_COL = "prediction"
PROBABILITY_COL = "probability"
# task: anomaly: higher is more anomalous (its prediction is the 1.0 / 0.0 flag).
ANOMALY_SCORE_COL = "anomaly_score"
# What a model writes, in this order, after the input columns.
OUTPUT_COLS = (PREDICTION_COL, PROBABILITY_COL, ANOMALY_SCORE_COL)
_FEATURES = f"{INTERNAL_PREFIX}features"
_LOG_LABEL = f"{INTERNAL_PREFIX}label_log"
_LOG_PREDICTION = f"{INTERNAL_PREFIX}prediction_log"
_LABEL_INDEX = f"{INTERNAL_PREFIX}label_index"
_PREDICTED_INDEX = f"{INTERNAL_PREFIX}prediction_index"
_RAW_PREDICTION = f"{INTERNAL_PREFIX}raw_prediction"
_WEIGHT = f"{INTERNAL_PREFIX}weight"


@dataclass(frozen=True)
class FittedModel:
    """A fitted pipeline whose ``transform`` outputs ``prediction`` in the label's units.

    Attributes:
        pipeline_model: Feature stages + estimator (+ the exp() back-transform when trained on log(label),
            or the class-index -> label mapping for classification).
        spec: The project file's model spec.
        model_type: The registered type name.
        params: The estimator parameters actually used (defaults included).
        label_col: The label column, in its own units.
        log_label: Whether the estimator was trained on ln(label).
        importances: Importance per original column, largest first; None when the type has none.
        task: ``regression`` or ``classification``.
        classes: Classification: the class labels (as strings) in the order of the ``probability``
            vector; a binary task's positive class is the last.
        threshold: Binary classification: the probability at or above which the positive class is predicted.
        summary: What the type reports about the fit (:meth:`ModelType.training_summary`), e.g. the
            ``best_iteration`` early stopping kept; empty for most types.
    """

    pipeline_model: PipelineModel
    spec: ModelSpec
    model_type: str
    params: dict[str, Any]
    label_col: str
    log_label: bool
    importances: dict[str, float] | None
    task: str = "regression"
    classes: list[str] | None = None
    threshold: float | None = None
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.display_name


def fit_model(
    train_df: DataFrame,
    spec: ModelSpec,
    *,
    label_col: str,
    categorical: Sequence[str],
    numeric: Sequence[str],
    impute: ImputeStrategy | None,
    log_label: bool = False,
    task: str = "regression",
    positive_class: Any = None,
    threshold: float | None = None,
    class_weight: ClassWeight = None,
) -> FittedModel:
    """Fit ``spec`` with its feature stages on ``train_df`` (the training split, and nothing else).

    With ``log_label`` the estimator learns ``ln(label)`` and a final stage returns ``exp()`` of its
    output, so predictions are in label units (the median, not the mean, of a log-normal error; no
    smearing correction). The baseline averages the label in its own units either way.

    For classification the label is indexed (classes in sorted order, ``positive_class`` last for a
    binary task), the model writes ``probability`` (a vector in that order) and a final stage maps the
    predicted index back to the label's own values and type. ``threshold`` applies to binary tasks;
    ``class_weight`` (``"balanced"`` or ``{class: weight}``) weights training rows. Neither applies to
    the baseline, which always predicts the most frequent class.

    Raises:
        ConfigError: Bad ``spec.params`` (path ``<model name>.params.<param>``).
        ModelError: Unknown model type, or a type that cannot fit this label (gbt with 3+ classes).
        DataError: Missing columns, null labels, fewer than two classes, labels <= 0 with ``log_label``,
            or numeric nulls with ``impute=None``.
    """
    from pyspark.ml import PipelineModel

    model_type = get_model_type(spec.type, task)
    model_type.validate_params(spec.params, f"{spec.display_name}.params", task)
    params = model_type.resolve_params(spec.params, task)
    prepared = prepare_training(
        train_df,
        model_type,
        label_col=label_col,
        categorical=categorical,
        numeric=numeric,
        impute=impute,
        log_label=log_label,
        task=task,
        positive_class=positive_class,
        threshold=threshold,
        class_weight=class_weight,
    )
    estimator_model = model_type.build(params, prepared.target).fit(prepared.rows)
    pipeline_model = PipelineModel(stages=[*prepared.prefix.stages, estimator_model, *prepared.post_stages])
    return FittedModel(
        pipeline_model=pipeline_model,
        spec=spec,
        model_type=model_type.name,
        params=params,
        label_col=label_col,
        log_label=prepared.target.label_col == _LOG_LABEL,
        importances=_importances(model_type, estimator_model, prepared.rows, [*categorical, *numeric]),
        task=task,
        classes=prepared.classes,
        threshold=prepared.target.threshold,
        summary=model_type.training_summary(estimator_model),
    )


@dataclass(frozen=True)
class PreparedTraining:
    """The training rows as the estimator sees them, and the stages around it.

    Attributes:
        prefix: Fitted label indexer (classification) and feature stages.
        rows: ``prefix.transform(train)``, plus the weight / log-label columns: the estimator's input.
        target: The estimator's columns and settings.
        post_stages: Stages after the estimator (index -> label, exp of a log prediction).
        classes: Classification: the classes in index order.
    """

    prefix: PipelineModel
    rows: DataFrame
    target: Target
    post_stages: list[Transformer]
    classes: list[str] | None


def prepare_training(
    train_df: DataFrame,
    model_type: ModelType,
    *,
    label_col: str,
    categorical: Sequence[str],
    numeric: Sequence[str],
    impute: ImputeStrategy | None,
    log_label: bool = False,
    task: str = "regression",
    positive_class: Any = None,
    threshold: float | None = None,
    class_weight: ClassWeight = None,
) -> PreparedTraining:
    """Check the data, fit the label indexer and feature stages, and describe the estimator's target.

    :func:`fit_model` fits the estimator on the result; tuning of single-node models collects it instead.
    """
    from pyspark.ml import Pipeline

    _check_training_data(train_df, label_col, list(categorical), list(numeric), impute, log_label)
    classification = task == "classification"
    on_log = log_label and model_type.fits_log_label and not classification
    train = train_df
    prefix_stages: list[Any] = []
    post_stages: list[Transformer] = []
    classes: list[str] | None = None
    weight_col = None
    if classification:
        classes = label_classes(train_df, label_col, positive_class)
        prefix_stages.append(label_indexer(classes, label_col, _LABEL_INDEX))
        post_stages.append(index_to_label_stage(classes, _PREDICTED_INDEX, PREDICTION_COL, train_df.schema[label_col]))
        if class_weight is not None and model_type.uses_features:
            train = train.withColumn(_WEIGHT, class_weight_column(train_df, label_col, classes, class_weight))
            weight_col = _WEIGHT
    if not classification or not model_type.uses_features or len(classes or []) != 2:
        threshold = None
    if on_log:
        from pyspark.ml.feature import SQLTransformer
        from pyspark.sql import functions as F

        train = train.withColumn(_LOG_LABEL, F.ln(F.col(f"`{label_col}`").cast("double")))
        post_stages.append(
            SQLTransformer(statement=f"SELECT *, EXP(`{_LOG_PREDICTION}`) AS `{PREDICTION_COL}` FROM __THIS__")
        )
    if model_type.uses_features:
        prefix_stages += build_feature_stages(
            categorical, numeric, impute=impute, features_col=_FEATURES, one_hot=model_type.one_hot
        )
    prefix = Pipeline(stages=prefix_stages).fit(train)
    rows = prefix.transform(train)
    target = Target(
        task=task,
        label_col=_LABEL_INDEX if classification else (_LOG_LABEL if on_log else label_col),
        features_col=_FEATURES,
        prediction_col=_PREDICTED_INDEX if classification else (_LOG_PREDICTION if on_log else PREDICTION_COL),
        probability_col=PROBABILITY_COL if classification else None,
        raw_prediction_col=_RAW_PREDICTION if classification else None,
        weight_col=weight_col,
        num_classes=len(classes) if classes else None,
        threshold=threshold,
        max_categories=max_categories(rows, _FEATURES) if model_type.uses_features else 0,
    )
    return PreparedTraining(prefix=prefix, rows=rows, target=target, post_stages=post_stages, classes=classes)


def predict(fitted: FittedModel | PipelineModel, df: DataFrame) -> DataFrame:
    """``df``'s columns plus ``prediction`` (and ``probability`` for classifiers, ``anomaly_score`` for anomaly
    detectors); internal columns dropped.

    Raises:
        DataError: ``df`` already has a ``prediction`` or ``probability`` column.
    """
    clashes = [c for c in OUTPUT_COLS if c in df.columns]
    if clashes:
        raise DataError(f"the data already has column(s) {clashes}; drop or rename them before scoring.")
    model = fitted.pipeline_model if isinstance(fitted, FittedModel) else fitted
    scored = model.transform(df)
    outputs = [c for c in OUTPUT_COLS if c in scored.columns]
    return scored.select(*[f"`{c}`" for c in df.columns], *outputs)


def evaluate_model(fitted: FittedModel, predictions: DataFrame) -> dict[str, float]:
    """The task's test metrics of ``predict(fitted, df)`` output (``df`` must hold the label)."""
    from sparkwright.tasks import get_task

    return get_task(fitted.task).metrics(predictions, fitted.label_col, fitted.classes)


def _importances(
    model_type: ModelType, estimator_model: Transformer, prepared: DataFrame, columns: list[str]
) -> dict[str, float] | None:
    values = model_type.importances(estimator_model)
    if values is None:
        return None
    return importances_by_column(values, feature_names(prepared.schema, _FEATURES), columns)


def _check_training_data(
    df: DataFrame,
    label_col: str,
    categorical: list[str],
    numeric: list[str],
    impute: str | None,
    log_label: bool,
) -> None:
    """One aggregation that turns the failures Spark reports cryptically mid-fit into clear errors."""
    from pyspark.sql import functions as F

    missing = [c for c in [label_col, *categorical, *numeric] if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the training data; columns: {', '.join(df.columns)}.")
    label = F.col(f"`{label_col}`")
    checks = {"__rows": F.count(F.lit(1)), "__null_label": F.count(F.when(label.isNull(), 1))}
    if log_label:
        checks["__nonpositive_label"] = F.count(F.when(label <= 0, 1))
    if impute is None:
        checks.update({c: F.count(F.when(F.col(f"`{c}`").isNull() | F.isnan(f"`{c}`"), 1)) for c in numeric})
    counts = df.agg(*[expr.alias(name) for name, expr in checks.items()]).first().asDict()
    if counts.pop("__rows") == 0:
        raise DataError("the training data is empty; check the filters and the split.")
    if counts.pop("__null_label"):
        raise DataError(f"label {label_col!r} has null values in the training data; the cleanse stage must drop them.")
    if counts.pop("__nonpositive_label", 0):
        raise DataError(
            f"log_label needs label {label_col!r} > 0, but the training data has values <= 0; "
            f"add the filter '{label_col} > 0' or set log_label: false."
        )
    with_nulls = sorted(c for c, n in counts.items() if n)
    if with_nulls:
        raise DataError(
            f"numeric columns {with_nulls} have nulls and impute is null; set cleanse.impute (median, mean, mode)."
        )
