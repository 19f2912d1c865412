"""Spark ML feature stages: categorical one-hot encoding, numeric imputation, one assembled vector.

The stages go into the same ``Pipeline`` as the estimator, so imputation values and category levels
are learnt from the training split only and travel with the fitted model to scoring.
Internal columns start with ``__sw_`` so they never collide with a user's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from sparkwright.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.ml import PipelineStage
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

INTERNAL_PREFIX = "__sw_"
_INDEX = f"{INTERNAL_PREFIX}idx_"
_ONEHOT = f"{INTERNAL_PREFIX}ohe_"
_IMPUTED = f"{INTERNAL_PREFIX}imp_"
IMPUTE_STRATEGIES = ("median", "mean", "mode")

ImputeStrategy = Literal["median", "mean", "mode"]


def build_feature_stages(
    categorical: Sequence[str],
    numeric: Sequence[str],
    *,
    impute: ImputeStrategy | None = "median",
    features_col: str = "features",
    one_hot: bool = True,
) -> list[PipelineStage]:
    """Stages that turn silver columns into one sparse feature vector.

    Categorical columns go through ``StringIndexer`` (unseen levels kept as ``__unknown``) and
    ``OneHotEncoder`` (sparse, ``dropLast``: the dropped last level is ``__unknown``, so an unseen
    level encodes as all zeros and no training level is lost). Numeric columns are imputed by
    ``Imputer`` with ``impute``. With ``impute=None`` numeric columns go to the assembler as they are
    and a null fails loudly (``handleInvalid="error"``) rather than silently dropping rows at scoring;
    :func:`sparkwright.models.fit_model` checks the training data up front for a clear message.

    Args:
        categorical: String columns without nulls.
        numeric: Double columns, possibly with nulls.
        impute: ``median``, ``mean``, ``mode`` or ``None``.
        features_col: Name of the assembled vector column.
        one_hot: False for trees: categoricals stay single indexed slots with nominal metadata, which
            Spark's trees split on by level (one slot per column, so importances stay per column).

    Returns:
        The stages, in order, ready for ``Pipeline(stages=...)``.

    Raises:
        ConfigError: No columns at all, a column in both lists, or an unknown strategy.
    """
    from pyspark.ml.feature import Imputer, OneHotEncoder, StringIndexer, VectorAssembler

    categorical, numeric = list(categorical), list(numeric)
    if not categorical and not numeric:
        raise ConfigError("there are no feature columns; list some in data.features or drop fewer.")
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise ConfigError(f"columns {both} are both categorical and numeric; each column must be one kind.")
    if impute is not None and impute not in IMPUTE_STRATEGIES:
        raise ConfigError(f"impute must be one of {', '.join(IMPUTE_STRATEGIES)} or null, got {impute!r}.")

    stages: list[PipelineStage] = []
    assembled: list[str] = []
    if categorical:
        indexed = [_INDEX + c for c in categorical]
        encoded = [_ONEHOT + c for c in categorical]
        stages.append(StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"))
        if one_hot:
            # Indices are always in range (StringIndexer maps unseen levels to its own last index), so
            # "error" here never fires; "keep" would only add a feature that is zero for every row.
            stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, dropLast=True, handleInvalid="error"))
            assembled += encoded
        else:
            assembled += indexed
    if numeric:
        if impute is None:
            assembled += numeric
        else:
            imputed = [_IMPUTED + c for c in numeric]
            stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy=impute))
            assembled += imputed
    stages.append(VectorAssembler(inputCols=assembled, outputCol=features_col, handleInvalid="error"))
    return stages


def feature_names(df_or_schema: DataFrame | StructType, features_col: str = "features") -> list[str]:
    """Readable names of the assembled vector's slots, from its ML attribute metadata.

    A one-hot slot reads ``column=level`` (``meal=bed_and_breakfast``), a numeric slot the column
    name (``lead_time``). Pass the output of the fitted pipeline (or its schema); the levels are
    read from the intermediate one-hot columns when present, which keeps names with underscores exact.

    Raises:
        DataError: ``features_col`` is missing or carries no attribute metadata.
    """
    schema = getattr(df_or_schema, "schema", df_or_schema)
    fields = {f.name: f for f in schema.fields}
    if features_col not in fields:
        raise DataError(f"column {features_col!r} is not in the data; columns: {', '.join(fields)}.")
    attrs = fields[features_col].metadata.get("ml_attr", {}).get("attrs")
    if not attrs:
        raise DataError(f"column {features_col!r} has no feature metadata; was it made by VectorAssembler?")
    slots = sorted((a["idx"], a.get("name", f"f{a['idx']}")) for group in attrs.values() for a in group)

    onehot_names: dict[str, str] = {}
    for name, field in fields.items():
        if name.startswith(_ONEHOT):
            column = name[len(_ONEHOT) :]
            for group in field.metadata.get("ml_attr", {}).get("attrs", {}).values():
                for attr in group:
                    onehot_names[f"{name}_{attr['name']}"] = f"{column}={attr['name']}"
    return [onehot_names.get(raw) or _strip_internal(raw) for _, raw in slots]


def max_categories(df_or_schema: DataFrame | StructType, features_col: str = "features") -> int:
    """The most levels of any nominal (indexed categorical) slot of the assembled vector; 0 when none."""
    schema = getattr(df_or_schema, "schema", df_or_schema)
    attrs = schema[features_col].metadata.get("ml_attr", {}).get("attrs", {})
    return max((len(a.get("vals", [])) or a.get("num_vals", 0) for a in attrs.get("nominal", [])), default=0)


def categorical_slots(df_or_schema: DataFrame | StructType, features_col: str = "features") -> list[int]:
    """Slots of the assembled vector that hold an indexed categorical (nominal metadata), in order."""
    schema = getattr(df_or_schema, "schema", df_or_schema)
    attrs = schema[features_col].metadata.get("ml_attr", {}).get("attrs", {})
    return sorted(int(a["idx"]) for a in attrs.get("nominal", []))


def importances_by_column(
    values: Sequence[float], names: Sequence[str], original_columns: Sequence[str]
) -> dict[str, float]:
    """Sum expanded importances back onto the original columns, largest first.

    Args:
        values: One importance (or absolute coefficient) per vector slot.
        names: The slot names from :func:`feature_names`.
        original_columns: The columns given to :func:`build_feature_stages`.

    Raises:
        DataError: ``values`` and ``names`` differ in length.
    """
    if len(values) != len(names):
        raise DataError(f"{len(values)} importances for {len(names)} feature names; they must match.")
    # Longest first, so "lead_time_missing" is not credited to "lead_time".
    columns = sorted(original_columns, key=len, reverse=True)
    totals = dict.fromkeys(original_columns, 0.0)
    for value, name in zip(values, names, strict=True):
        column = _owner(_strip_internal(name), columns)
        totals[column] = totals.get(column, 0.0) + float(value)
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))


def _owner(name: str, columns_longest_first: list[str]) -> str:
    """The original column a slot name belongs to (the name itself when none matches)."""
    if "=" in name and name.split("=", 1)[0] in columns_longest_first:
        return name.split("=", 1)[0]
    if name in columns_longest_first:
        return name
    for column in columns_longest_first:
        if name.startswith((f"{column}=", f"{column}_")):
            return column
    return name


def _strip_internal(name: str) -> str:
    for prefix in (_ONEHOT, _IMPUTED, _INDEX):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
