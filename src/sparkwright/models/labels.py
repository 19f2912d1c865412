"""Class labels of a classification task: their order, indexing, mapping back, and class weights.

Spark ML classifiers learn class indices 0..k-1. sparkwright fixes the order itself (sorted by the
label's own values, a binary task's positive class last, so it is index 1 and ``probability[1]`` is
its score) instead of StringIndexer's frequency order, which would change with the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from sparkwright.errors import DataError

if TYPE_CHECKING:
    from pyspark.ml.feature import SQLTransformer, StringIndexerModel
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructField

ClassWeight = Literal["balanced"] | Mapping[str, float] | None

# More distinct labels than this is almost certainly a numeric target given the wrong task.
MAX_CLASSES = 1000


def label_classes(df: DataFrame, label_col: str, positive_class: Any = None) -> list[str]:
    """The label's classes as Spark casts them to string, sorted by value; the positive class last.

    Raises:
        DataError: Fewer than two classes, more than ``MAX_CLASSES``, or an unknown positive class.
    """
    from pyspark.sql import functions as F

    label = F.col(f"`{label_col}`")
    rows = df.select(label.alias("value"), label.cast("string").alias("text")).distinct().limit(MAX_CLASSES + 1)
    pairs = sorted((r["value"], r["text"]) for r in rows.collect() if r["value"] is not None)
    classes = [text for _, text in pairs]
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"label {label_col!r} has more than {MAX_CLASSES} distinct values; a classification label is "
            "categorical. Is this a regression task?"
        )
    if len(classes) < 2:
        raise DataError(
            f"label {label_col!r} has {len(classes)} distinct value(s) ({classes}) in the training data; "
            "classification needs at least two classes."
        )
    if positive_class is None:
        return classes
    wanted = _as_spark_text(positive_class)
    if len(classes) != 2:
        raise DataError(
            f"classification.positive_class applies to two classes, but label {label_col!r} has "
            f"{len(classes)}: {classes}; remove positive_class."
        )
    if wanted not in classes:
        raise DataError(f"classification.positive_class {positive_class!r} is not a class of {label_col!r}: {classes}.")
    return [c for c in classes if c != wanted] + [wanted]


def label_indexer(classes: list[str], label_col: str, output_col: str) -> StringIndexerModel:
    """Label -> index in ``classes`` order. At scoring, where the label is absent, Spark skips this stage."""
    from pyspark.ml.feature import StringIndexerModel

    return StringIndexerModel.from_labels(classes, inputCol=label_col, outputCol=output_col, handleInvalid="error")


def index_to_label_stage(classes: list[str], index_col: str, output_col: str, label: StructField) -> SQLTransformer:
    """A Java stage mapping the predicted index back to the label's own value and type."""
    from pyspark.ml.feature import SQLTransformer

    sql_type = label.dataType.simpleString()
    cases = " ".join(f"WHEN {i} THEN CAST({_sql_string(c)} AS {sql_type})" for i, c in enumerate(classes))
    return SQLTransformer(
        statement=f"SELECT *, CASE CAST(`{index_col}` AS INT) {cases} END AS `{output_col}` FROM __THIS__"
    )


def class_weight_column(df: DataFrame, label_col: str, classes: list[str], class_weight: ClassWeight) -> Column:
    """Per-row training weight: ``balanced`` (n / (k * n_class)) or an explicit ``{class: weight}``.

    Raises:
        DataError: A class in the mapping is not a class of the label, or a weight is not positive.
    """
    from pyspark.sql import functions as F

    label_text = F.col(f"`{label_col}`").cast("string")
    if class_weight == "balanced":
        counts = {r[0]: r[1] for r in df.groupBy(label_text).count().collect()}
        total = sum(counts.values())
        weights = {c: total / (len(classes) * counts[c]) for c in classes}
    else:
        weights = {_as_spark_text(k): float(v) for k, v in dict(class_weight or {}).items()}
        unknown = sorted(set(weights) - set(classes))
        if unknown:
            raise DataError(f"classification.class_weight names {unknown}, which are not classes; classes: {classes}.")
        bad = sorted(c for c, w in weights.items() if not w > 0)
        if bad:
            raise DataError(f"classification.class_weight must be > 0; check the weights of {bad}.")
    column = F.lit(1.0)
    expr = None
    for cls, weight in weights.items():
        expr = (F if expr is None else expr).when(label_text == F.lit(cls), F.lit(float(weight)))
    return expr.otherwise(column) if expr is not None else column


def _as_spark_text(value: Any) -> str:
    """A YAML value as Spark's cast to string writes it (true/false, not Python's True/False)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
