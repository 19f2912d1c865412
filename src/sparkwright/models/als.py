"""``type: als``: Spark ML's alternating least squares, explicit ratings or implicit feedback (task recommendation).

For explicit ratings the model is **biases + factors** by default (``biases: true``): the global mean and
the regularised user and item biases are learnt first (:class:`~sparkwright.tasks.recommendation.BiasModel`,
the ``baseline_biases`` model itself), ALS fits its factors to what they leave over, and the prediction is
``mu + b_u + b_i + p_u . q_i``. Plain ALS has to spend its factors (and its regularisation) on the
biases, and on movielens scores worse than the bias model alone. The result is still one ``ALSModel``: the
biases ride in two extra factor columns (user ``[p_u, mu + b_u, 1]``, item ``[q_i, 1, b_i]``), so scoring,
top-N lists, saving and the Spark-free recommender need nothing new. ``biases: false`` is plain ALS
(always so for implicit feedback, where a bias of a confidence means nothing).

The columns, ``implicitPrefs`` and the cold-start strategy come from the project (``data.user`` / ``item``
/ ``rating`` and ``recommendation.implicit``), never from ``params``: the logged model relies on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pyspark.ml.recommendation import ALS

from sparkwright.errors import ConfigError, ModelError
from sparkwright.models.base import SparkModelType
from sparkwright.models.registry import register_model_type
from sparkwright.models.spark_models import DEFAULT_SEED
from sparkwright.tasks.recommendation import ITEM_INDEX, RATING_COL, USER_INDEX, BiasModel

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import Column, DataFrame

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
# sparkwright's own param: learn the biases first and ALS on their residuals (explicit ratings).
BIASES = "biases"


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
        return sorted([BIASES, *(name for name in super().param_names(task) if name not in WIRED)])

    def settings(self, params: Mapping[str, Any], *, implicit: bool) -> dict[str, Any]:
        """The params a fit uses, ``biases`` included (default: true for explicit ratings, false for implicit)."""
        return {BIASES: not implicit, **self.resolve_params(params, "recommendation")}

    def _convert(self, params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
        for name in params:
            if name in WIRED:
                raise ConfigError(f"sparkwright sets {name} itself (from {WIRED[name]}); remove it.", f"{path}.{name}")
        params = dict(params)
        biases = params.pop(BIASES, None)
        if biases is not None and not isinstance(biases, bool):
            raise ConfigError(f"must be true or false, got {biases!r}.", f"{path}.{BIASES}")
        converted = super()._convert(params, path, task)
        for name, (low, what) in _BOUNDS.items():
            if name in converted and converted[name] < low:
                raise ConfigError(f"must be {what}, got {params[name]!r}.", f"{path}.{name}")
        return converted if biases is None else {**converted, BIASES: biases}

    def fit(self, params: Mapping[str, Any], indexed_train: DataFrame, *, implicit: bool) -> ALSModel:
        """Fit on ``USER_INDEX, ITEM_INDEX, _rating`` rows; the model predicts into ``ALS_PREDICTION_COL``
        with NaN for an unknown user or item (the logged pipeline replaces it).

        Raises:
            ModelError: ``biases: true`` with implicit feedback.
        """
        resolved = self.settings(params, implicit=implicit)
        if not resolved.pop(BIASES):
            return _fit_als(resolved, indexed_train, implicit=implicit)
        if implicit:
            raise ModelError("als: biases apply to explicit ratings; remove biases: true (implicit feedback).")
        biases = BiasModel().fit(indexed_train)
        residuals = biases.residuals(indexed_train).cache()
        try:
            return _with_biases(_fit_als(resolved, residuals, implicit=False), biases)
        finally:
            residuals.unpersist()
            biases.release()


def _fit_als(params: dict[str, Any], rows: DataFrame, *, implicit: bool) -> ALSModel:
    estimator = ALS(
        userCol=USER_INDEX, itemCol=ITEM_INDEX, ratingCol=RATING_COL, implicitPrefs=implicit, coldStartStrategy="nan"
    )
    # The constructor does not take every param: predictionCol is set on the instance.
    estimator._set(predictionCol=ALS_PREDICTION_COL, **params)
    return estimator.fit(rows)


def _with_biases(als: ALSModel, biases: BiasModel) -> ALSModel:
    """One ``ALSModel`` of rank ``rank + 2`` whose dot product is ``mu + b_u + b_i + p_u . q_i``.

    ``ALSModel``'s constructor is ``private[ml]`` in Scala (public in the bytecode), so it is called through
    py4j; the factors are cached and counted here because the bias tables are released after the fit.
    """
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import functions as F

    assert biases.user_bias is not None and biases.item_bias is not None, "fit first"

    def extend(factors: DataFrame, bias: DataFrame, key: str, extra: list[Column]) -> DataFrame:
        joined = factors.join(bias.withColumnRenamed(key, "id"), "id")
        frame = joined.select("id", F.concat("features", F.array(*extra)).cast("array<float>").alias("features"))
        frame = frame.cache()
        frame.count()
        return frame

    one = F.lit(1.0)
    users = extend(als.userFactors, biases.user_bias, USER_INDEX, [F.col("b_u") + F.lit(biases.mean), one])
    items = extend(als.itemFactors, biases.item_bias, ITEM_INDEX, [one, F.col("b_i")])
    jvm = users.sparkSession._jvm
    java = jvm.org.apache.spark.ml.recommendation.ALSModel(als.uid, als.rank + 2, users._jdf, items._jdf)
    java.setUserCol(USER_INDEX).setItemCol(ITEM_INDEX).setPredictionCol(ALS_PREDICTION_COL)
    java.setColdStartStrategy("nan").setBlockSize(als.getBlockSize())
    return ALSModel(java)
