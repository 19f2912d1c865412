"""``type: als``: Spark ML's alternating least squares, explicit ratings or implicit feedback (task recommendation).

The columns, ``implicitPrefs`` and the cold-start strategy come from the project (``data.user`` / ``item``
/ ``rating`` and ``recommendation.implicit``), never from ``params``: the logged model relies on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pyspark.ml.recommendation import ALS

from sparkwright.errors import ConfigError
from sparkwright.models.base import SparkModelType
from sparkwright.models.registry import register_model_type
from sparkwright.models.spark_models import DEFAULT_SEED
from sparkwright.tasks.recommendation import ITEM_INDEX, RATING_COL, USER_INDEX

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame

# The raw ALS estimate; the logged model's last stage turns NaN (an unknown user or item) into the fallback.
ALS_PREDICTION_COL = "_als_prediction"
# Set by sparkwright from the project file: where the ids and ratings are, what kind of feedback, cold start.
WIRED = {
    "userCol": "data.user",
    "itemCol": "data.item",
    "ratingCol": "data.rating",
    "implicitPrefs": "recommendation.implicit",
    "coldStartStrategy": "the fallback of unknown users and items",
    "predictionCol": "the prediction column",
}
_BOUNDS = {"rank": (1, "an integer >= 1"), "alpha": (0, "a number >= 0")}


@register_model_type
class AlsType(SparkModelType):
    """``type: als``; tune ``rank``, ``regParam``, ``maxIter`` and (implicit) ``alpha`` like any param."""

    name = "als"
    tasks = ("recommendation",)
    uses_features = False
    estimators: ClassVar[dict[str, type]] = {"recommendation": ALS}
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}

    @classmethod
    def param_names(cls, task: str = "recommendation") -> list[str]:
        return [name for name in super().param_names(task) if name not in WIRED]

    def _convert(self, params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
        for name in params:
            if name in WIRED:
                raise ConfigError(f"sparkwright sets {name} itself (from {WIRED[name]}); remove it.", f"{path}.{name}")
        converted = super()._convert(params, path, task)
        for name, (low, what) in _BOUNDS.items():
            if name in converted and converted[name] < low:
                raise ConfigError(f"must be {what}, got {params[name]!r}.", f"{path}.{name}")
        return converted

    def fit(self, params: Mapping[str, Any], indexed_train: DataFrame, *, implicit: bool) -> ALSModel:
        """Fit on ``USER_INDEX, ITEM_INDEX, _rating`` rows; the model predicts into ``ALS_PREDICTION_COL``
        with NaN for an unknown user or item (the logged pipeline replaces it)."""
        estimator = ALS(
            userCol=USER_INDEX,
            itemCol=ITEM_INDEX,
            ratingCol=RATING_COL,
            implicitPrefs=implicit,
            coldStartStrategy="nan",
        )
        # The constructor does not take every param: predictionCol is set on the instance.
        estimator._set(predictionCol=ALS_PREDICTION_COL, **self.resolve_params(params, "recommendation"))
        return estimator.fit(indexed_train)
