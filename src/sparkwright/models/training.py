"""Fit one model spec inside a Pipeline with its feature stages, on the training split only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkwright.config import ModelSpec
from sparkwright.errors import DataError
from sparkwright.features import (
    INTERNAL_PREFIX,
    ImputeStrategy,
    build_feature_stages,
    feature_names,
    importances_by_column,
)
from sparkwright.models.registry import get_model_type

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

PREDICTION_COL = "prediction"
_FEATURES = f"{INTERNAL_PREFIX}features"
_LOG_LABEL = f"{INTERNAL_PREFIX}label_log"
_LOG_PREDICTION = f"{INTERNAL_PREFIX}prediction_log"


@dataclass(frozen=True)
class FittedModel:
    """A fitted pipeline whose ``transform`` outputs ``prediction`` in the label's units.

    Attributes:
        pipeline_model: Feature stages + estimator (+ the exp() back-transform when trained on log(label)).
        spec: The project file's model spec.
        model_type: The registered type name.
        params: The estimator parameters actually used (defaults included).
        label_col: The label column, in its own units.
        log_label: Whether the estimator was trained on ln(label).
        importances: Importance per original column, largest first; None when the type has none.
    """

    pipeline_model: PipelineModel
    spec: ModelSpec
    model_type: str
    params: dict[str, Any]
    label_col: str
    log_label: bool
    importances: dict[str, float] | None

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
    log_label: bool,
) -> FittedModel:
    """Fit ``spec`` with its feature stages on ``train_df`` (the training split, and nothing else).

    With ``log_label`` the estimator learns ``ln(label)`` and a final stage returns ``exp()`` of its
    output, so predictions are in label units (the median, not the mean, of a log-normal error; no
    smearing correction). The baseline averages the label in its own units either way.

    Raises:
        ConfigError: Bad ``spec.params`` (path ``<model name>.params.<param>``).
        ModelError: Unknown model type.
        DataError: Missing columns, null labels, labels <= 0 with ``log_label``, or numeric nulls with
            ``impute=None``.
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer

    model_type = get_model_type(spec.type, "regression")
    model_type.validate_params(spec.params, f"{spec.display_name}.params")
    params = model_type.resolve_params(spec.params)
    _check_training_data(train_df, label_col, list(categorical), list(numeric), impute, log_label)

    on_log = log_label and model_type.fits_log_label
    feature_stages = (
        build_feature_stages(categorical, numeric, impute=impute, features_col=_FEATURES)
        if model_type.uses_features
        else []
    )
    estimator = model_type.build(
        params,
        label_col=_LOG_LABEL if on_log else label_col,
        features_col=_FEATURES,
        prediction_col=_LOG_PREDICTION if on_log else PREDICTION_COL,
    )
    stages = [*feature_stages, estimator]
    train = train_df
    if on_log:
        from pyspark.sql import functions as F

        train = train_df.withColumn(_LOG_LABEL, F.ln(F.col(label_col).cast("double")))
        stages.append(
            SQLTransformer(statement=f"SELECT *, EXP(`{_LOG_PREDICTION}`) AS `{PREDICTION_COL}` FROM __THIS__")
        )
    pipeline_model = Pipeline(stages=stages).fit(train)

    importances = None
    values = model_type.importances(pipeline_model.stages[len(feature_stages)])
    if values is not None:
        from pyspark.ml import PipelineModel

        # Only the schema is needed: no Spark job runs here.
        schema = PipelineModel(pipeline_model.stages[: len(feature_stages)]).transform(train_df).schema
        importances = importances_by_column(values, feature_names(schema, _FEATURES), [*categorical, *numeric])
    return FittedModel(
        pipeline_model=pipeline_model,
        spec=spec,
        model_type=model_type.name,
        params=params,
        label_col=label_col,
        log_label=on_log,
        importances=importances,
    )


def predict(fitted: FittedModel | PipelineModel, df: DataFrame) -> DataFrame:
    """``df``'s columns plus ``prediction`` (internal ``__sw_`` columns dropped).

    Raises:
        DataError: ``df`` already has a ``prediction`` column.
    """
    if PREDICTION_COL in df.columns:
        raise DataError(f"the data already has a {PREDICTION_COL!r} column; drop or rename it before scoring.")
    model = fitted.pipeline_model if isinstance(fitted, FittedModel) else fitted
    return model.transform(df).select(*[f"`{c}`" for c in df.columns], PREDICTION_COL)


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
