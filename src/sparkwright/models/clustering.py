"""Clustering model types (k-means, bisecting k-means, Gaussian mixture) and their feature Pipeline.

Distances mix every feature, so numeric columns are standardised (mean 0, standard deviation 1) inside
the Pipeline by default: a column in thousands would otherwise decide the clusters alone. Categoricals
are one-hot encoded and left unscaled (0 / 1). The feature stages are fitted once per run and shared by
every model and every k; only the clustering estimator is refitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pyspark.ml.clustering import BisectingKMeans, GaussianMixture, KMeans

from sparkwright.config import ModelSpec
from sparkwright.data.preparation import MISSING_SUFFIX
from sparkwright.errors import ConfigError, DataError
from sparkwright.features import INTERNAL_PREFIX, ImputeStrategy, build_feature_stages
from sparkwright.models.base import SparkModelType, Target
from sparkwright.models.kmeans_seeded import ClusterFit, fit_seeded_kmeans
from sparkwright.models.registry import get_model_type, register_model_type

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.sql import DataFrame

TASK = "clustering"
FEATURES_COL = f"{INTERNAL_PREFIX}features"
PREDICTION_COL = "prediction"
_NUMERIC = f"{INTERNAL_PREFIX}numeric"
_SCALED = f"{INTERNAL_PREFIX}numeric_scaled"
_CATEGORICAL = f"{INTERNAL_PREFIX}categorical"
DEFAULT_SEED = 42
# kmeans' default start: scikit-learn's k-means++ on a driver sample (Spark has k-means|| and random).
SAMPLED_KMEANS_PLUS_PLUS = "k-means++"


class _ClusteringType(SparkModelType):
    """k comes from ``clustering.k`` (one value or a range swept per model), never from a model's params."""

    tasks = (TASK,)
    defaults: ClassVar[dict[str, Any]] = {"seed": DEFAULT_SEED}

    @classmethod
    def param_names(cls, task: str = TASK) -> list[str]:
        return [name for name in super().param_names(task) if name != "k"]

    def _convert(self, params: Mapping[str, Any], path: str, task: str) -> dict[str, Any]:
        if "k" in params:
            raise ConfigError(
                "k is set for every model by clustering.k (a number or {from: 2, to: 12}); remove it from params.",
                f"{path}.k",
            )
        return super()._convert(params, path, task)

    def build_with_k(self, params: Mapping[str, Any], target: Target, k: int, seed: int) -> Any:
        """The estimator for one k of the sweep, started from ``seed``."""
        estimator = self.build(params, target)
        estimator._set(k=k, seed=seed)
        return estimator

    def fit_with_k(
        self, params: Mapping[str, Any], target: Target, features: ClusteringFeatures, k: int, seed: int
    ) -> ClusterFit:
        """One start with ``k`` clusters on the prepared training vectors."""
        fitted = self.build_with_k(params, target, k, seed).fit(features.rows)
        return ClusterFit(fitted, self.cost(fitted), int(fitted.summary.numIter))

    def cost(self, fitted_stage: Transformer) -> float:
        """What the fit minimised, on its training rows (lower is better): restarts keep the lowest."""
        return float(fitted_stage.summary.trainingCost)


@register_model_type
class KMeansType(_ClusteringType):
    """``type: kmeans``: Lloyd's algorithm in Spark, started by default from k-means++ centres found on a
    driver sample (``initMode: k-means++``, see models/kmeans_seeded.py); Spark's own ``k-means||`` and
    ``random`` starts on request; exportable."""

    name = "kmeans"
    estimators: ClassVar[dict[str, type]] = {TASK: KMeans}
    defaults: ClassVar[dict[str, Any]] = {**_ClusteringType.defaults, "initMode": SAMPLED_KMEANS_PLUS_PLUS}
    # Metrics, profiles and the export measure squared Euclidean distance; cosine would disagree with them.
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "initMode": (SAMPLED_KMEANS_PLUS_PLUS, "k-means||", "random"),
        "distanceMeasure": ("euclidean",),
    }

    def build(self, params: Mapping[str, Any], target: Target) -> Any:
        seeded = self.resolve_params(params, TASK)["initMode"] == SAMPLED_KMEANS_PLUS_PLUS
        # Spark knows only its own starts; the sampled one is sparkwright's, run by fit_with_k.
        return super().build({**params, "initMode": "random"} if seeded else params, target)

    def fit_with_k(
        self, params: Mapping[str, Any], target: Target, features: ClusteringFeatures, k: int, seed: int
    ) -> ClusterFit:
        if self.resolve_params(params, TASK)["initMode"] != SAMPLED_KMEANS_PLUS_PLUS:
            return super().fit_with_k(params, target, features, k, seed)
        return fit_seeded_kmeans(self.build_with_k(params, target, k, seed), features.rows, features.row_count)


@register_model_type
class BisectingKMeansType(_ClusteringType):
    """``type: bisecting_kmeans``: splits clusters top-down; a row goes down the split tree, which is not
    always its nearest final centre."""

    name = "bisecting_kmeans"
    estimators: ClassVar[dict[str, type]] = {TASK: BisectingKMeans}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"distanceMeasure": ("euclidean",)}


@register_model_type
class GaussianMixtureType(_ClusteringType):
    """``type: gaussian_mixture``: soft clusters with full covariances; writes a ``probability`` vector
    (one membership probability per cluster) beside the cluster."""

    name = "gaussian_mixture"
    estimators: ClassVar[dict[str, type]] = {TASK: GaussianMixture}

    def cost(self, fitted_stage: Transformer) -> float:
        return -float(fitted_stage.summary.logLikelihood)


def clustering_feature_stages(
    categorical: Sequence[str], numeric: Sequence[str], *, impute: ImputeStrategy | None, standardize: bool
) -> list[Any]:
    """Imputed (and by default standardised) numerics and one-hot categoricals, assembled into one vector.

    Missing-value indicators (``<col>_missing``, 0 / 1) join the one-hot slots unscaled: standardised, the
    indicator of a column with 2 gaps in 300 rows would be 12 standard deviations from 0, and the
    clusters would isolate those 2 rows rather than find groups.
    """
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    indicators = [c for c in numeric if c.endswith(MISSING_SUFFIX) and c[: -len(MISSING_SUFFIX)] in numeric]
    numeric = [c for c in numeric if c not in indicators]
    stages: list[Any] = []
    parts: list[str] = []
    if numeric:
        stages += build_feature_stages([], numeric, impute=impute, features_col=_NUMERIC)
        if standardize:
            stages.append(StandardScaler(inputCol=_NUMERIC, outputCol=_SCALED, withMean=True, withStd=True))
        parts.append(_SCALED if standardize else _NUMERIC)
    if categorical or indicators:
        stages += build_feature_stages(categorical, indicators, impute=impute, features_col=_CATEGORICAL)
        parts.append(_CATEGORICAL)
    if not parts:
        raise ConfigError("there are no feature columns to cluster on; list some in data.features or drop fewer.")
    stages.append(VectorAssembler(inputCols=parts, outputCol=FEATURES_COL, handleInvalid="error"))
    return stages


@dataclass(frozen=True)
class ClusteringFeatures:
    """The fitted feature stages and the training rows as vectors (cached: every k of every model reads them)."""

    prefix: PipelineModel
    rows: DataFrame
    row_count: int
    categorical: list[str]
    numeric: list[str]

    def transform(self, df: DataFrame) -> DataFrame:
        return self.prefix.transform(df)


def prepare_features(
    train: DataFrame,
    categorical: Sequence[str],
    numeric: Sequence[str],
    *,
    impute: ImputeStrategy | None,
    standardize: bool = True,
) -> ClusteringFeatures:
    """Fit the feature stages on ``train`` only and cache the vectors the sweep fits on.

    Raises:
        DataError: A column is missing or the training data is empty.
    """
    from pyspark.ml import Pipeline

    missing = [c for c in [*categorical, *numeric] if c not in train.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the training data; columns: {', '.join(train.columns)}.")
    stages = clustering_feature_stages(categorical, numeric, impute=impute, standardize=standardize)
    prefix = Pipeline(stages=stages).fit(train)
    rows = prefix.transform(train).select(FEATURES_COL).cache()
    row_count = rows.count()
    if row_count == 0:
        raise DataError("the training data is empty; check the filters and the split.")
    return ClusteringFeatures(prefix, rows, row_count, list(categorical), list(numeric))


@dataclass(frozen=True)
class FittedClusterer:
    """One model at one k: the whole pipeline (feature stages + estimator), the estimator alone, and the
    best start's cost (what it minimised on the training rows) and iterations."""

    pipeline_model: PipelineModel
    estimator_model: Transformer
    spec: ModelSpec
    params: dict[str, Any]
    k: int
    cost: float
    iterations: int

    def assign(self, features: DataFrame) -> DataFrame:
        """``features`` (rows holding the assembled vector) with ``prediction``, the cluster index."""
        return self.estimator_model.transform(features)


def fit_clusterer(features: ClusteringFeatures, spec: ModelSpec, k: int, *, restarts: int = 1) -> FittedClusterer:
    """Fit ``spec`` with ``k`` clusters on the prepared training vectors, ``restarts`` times from seeds
    ``seed``, ``seed + 1``, ... and keep the fit with the lowest cost (scikit-learn's ``n_init``): one
    k-means|| start can stop in a local optimum that joins two clusters and splits another.

    Raises:
        ConfigError: Bad ``spec.params``; ``k`` is larger than the training rows.
        ModelError: The type does not cluster.
    """
    from pyspark.ml import PipelineModel

    model_type = get_model_type(spec.type, TASK)
    assert isinstance(model_type, _ClusteringType)
    model_type.validate_params(spec.params, f"{spec.display_name}.params", TASK)
    params = model_type.resolve_params(spec.params, TASK)
    target = Target(task=TASK, label_col="", features_col=FEATURES_COL, prediction_col=PREDICTION_COL)
    if k > features.row_count:
        raise ConfigError(
            f"k = {k} clusters, but the training data has only {features.row_count} rows; "
            "set a smaller clustering.k (or its 'to') or use more rows.",
            "clustering.k",
        )
    fits = [
        model_type.fit_with_k(spec.params, target, features, k, params["seed"] + restart) for restart in range(restarts)
    ]
    best = min(fits, key=lambda fit: fit.cost)
    pipeline_model = PipelineModel(stages=[*features.prefix.stages, best.model])
    return FittedClusterer(pipeline_model, best.model, spec, params, k, best.cost, best.iterations)
