"""``type: isolation_forest``: scikit-learn's IsolationForest fitted on a sample on the driver, scored in Spark.

Why not a distributed forest on the JVM: no Spark 4 / Scala 2.13 build of LinkedIn's isolation-forest
resolves from Maven Central (docs/anomaly.md records what was tried). The forest does not need one:
each tree sees ``max_samples`` rows (256 by default), so a sample of ``sample_rows`` training rows
(default 100,000) collected to the driver in one Arrow transfer fits the same model as all of them
would, in seconds. Scoring is the expensive part, and it runs in Spark, through an iterator Arrow UDF
(the feature vectors arrive as one flat buffer per batch, no array per row), one unpickled forest per task.
Measured: scoring the same forest in the JVM, rewritten as a Spark ML random forest of path lengths, ran
3x slower per core than scikit-learn's Cython trees (tried and dropped; BENCHMARKS.md).

:func:`fit_detector` fits any anomaly type (this one and the task's z-score baseline) inside its
feature Pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsWritable,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)

from sparkwright.config import ModelSpec
from sparkwright.config.checks import did_you_mean
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.features import INTERNAL_PREFIX, ImputeStrategy, build_feature_stages
from sparkwright.models.base import ModelType, Target
from sparkwright.models.driver_data import collect_to_driver, few_partitions
from sparkwright.models.pickled import PickledEstimatorReader, PickledEstimatorWriter
from sparkwright.models.registry import get_model_type, register_model_type
from sparkwright.tasks.anomaly import PREDICTION_COL, SCORE_COL, DetectorParams, score_threshold

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparkwright.models.training import FittedModel

DEFAULT_SAMPLE_ROWS = 100_000
DEFAULT_SEED = 42
_FEATURES = f"{INTERNAL_PREFIX}features"
# Our params; every other key is a constructor param of sklearn.ensemble.IsolationForest.
_OWN = ("sample_rows",)
# Set by sparkwright: the flag comes from anomaly.contamination; n_jobs / verbose / warm_start change nothing scored.
_REFUSED = {
    "contamination": "set anomaly.contamination instead (it sets the flag threshold of every model)",
    "warm_start": "sparkwright fits each model once",
}


def make_isolation_forest(params: Mapping[str, Any], path: str = "params") -> Any:
    """An unfitted IsolationForest from project-file params, checked (``random_state`` defaults to 42).

    Raises:
        ConfigError: An unknown or refused param, or a value scikit-learn rejects; the path names it.
    """
    from sklearn.ensemble import IsolationForest

    valid = sorted(n for n in IsolationForest().get_params(deep=False) if n not in _REFUSED)
    kwargs: dict[str, Any] = {}
    for name, value in params.items():
        if name in _OWN:
            continue
        if name in _REFUSED:
            raise ConfigError(f"{_REFUSED[name]}; remove it from params.", f"{path}.{name}")
        if name not in valid:
            raise ConfigError(
                f"unknown parameter for isolation_forest; valid: {', '.join([*valid, *_OWN])}."
                + did_you_mean(name, [*valid, *_OWN]),
                f"{path}.{name}",
            )
        kwargs[name] = value
    kwargs.setdefault("random_state", DEFAULT_SEED)
    estimator = IsolationForest(**kwargs)
    try:
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        name = next((n for n in kwargs if f"'{n}' parameter" in str(exc)), None)
        raise ConfigError(str(exc), f"{path}.{name}" if name else path) from None
    return estimator


def _sample_rows(params: Mapping[str, Any], path: str) -> int:
    value = params.get("sample_rows", DEFAULT_SAMPLE_ROWS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ConfigError(f"must be an integer >= 2 (training rows sampled to the driver), got {value!r}.", path)
    return value


@register_model_type
class IsolationForestType(ModelType):
    """``type: isolation_forest``: IsolationForest constructor params, and ``sample_rows``."""

    name = "isolation_forest"
    tasks = ("anomaly",)
    single_node = True

    def validate_params(self, params: Mapping[str, Any], path: str = "params", task: str = "anomaly") -> None:
        make_isolation_forest(params, path)
        _sample_rows(params, f"{path}.sample_rows")

    def resolve_params(self, params: Mapping[str, Any], task: str = "anomaly") -> dict[str, Any]:
        forest = make_isolation_forest(params).get_params(deep=False)
        return {
            "sample_rows": _sample_rows(params, "params.sample_rows"),
            **{k: v for k, v in forest.items() if k not in _REFUSED},
        }

    def build(self, params: Mapping[str, Any], target: Target) -> IsolationForestDetector:
        from sklearn.ensemble import IsolationForest

        estimator = make_isolation_forest(params)
        defaults = IsolationForest().get_params(deep=False)
        explicit = {k: v for k, v in estimator.get_params(deep=False).items() if repr(v) != repr(defaults[k])}
        return IsolationForestDetector(
            estimatorParams=explicit,
            sampleRows=_sample_rows(params, "params.sample_rows"),
            featuresCol=target.features_col,
            predictionCol=target.prediction_col,
        )


class IsolationForestDetector(Estimator, DetectorParams, DefaultParamsReadable, DefaultParamsWritable):
    """Samples at most ``sampleRows`` training rows to the driver and fits an IsolationForest there."""

    estimatorParams = Param(Params._dummy(), "estimatorParams", "IsolationForest params", TypeConverters.identity)
    sampleRows = Param(Params._dummy(), "sampleRows", "most rows sampled to the driver", TypeConverters.toInt)

    def __init__(
        self,
        *,
        estimatorParams: dict[str, Any] | None = None,
        sampleRows: int = DEFAULT_SAMPLE_ROWS,
        featuresCol: str = "features",
        predictionCol: str = PREDICTION_COL,
    ):
        super().__init__()
        self._set(
            estimatorParams=dict(estimatorParams or {}),
            sampleRows=sampleRows,
            featuresCol=featuresCol,
            predictionCol=predictionCol,
        )

    def _fit(self, dataset: DataFrame) -> IsolationForestModel:
        from sklearn.ensemble import IsolationForest

        sample = _driver_sample(dataset, self.getOrDefault(self.sampleRows))
        X, _, _ = collect_to_driver(sample, self.getFeaturesCol())
        params = {"random_state": DEFAULT_SEED, **self.getOrDefault(self.estimatorParams)}
        forest = IsolationForest(**params).fit(X)
        model = self._copyValues(IsolationForestModel(forest))
        # The training sample's own scores set the flag, as IsolationForest(contamination=c).offset_ would.
        model._set(threshold=score_threshold(-forest.score_samples(X), self.getOrDefault(self.contamination)))
        model._resetUid(self.uid)
        return model


def _driver_sample(dataset: DataFrame, rows: int) -> DataFrame:
    """At most about ``rows`` rows of ``dataset`` (all of them when it has fewer), seeded.

    Raises:
        DataError: The dataset is empty.
    """
    total = few_partitions(dataset).count()
    if total == 0:
        raise DataError("the training data is empty; check the filters and the split.")
    if total <= rows:
        return dataset
    return dataset.sample(fraction=rows / total, seed=DEFAULT_SEED)


class IsolationForestModel(Model, DetectorParams, MLReadable, MLWritable):
    """A fitted IsolationForest scored in Spark by an iterator Arrow UDF.

    ``anomaly_score`` is the forest's ``-score_samples``: the paper's ``s(x) = 2^(-E[h(x)] / c(n))`` in (0, 1],
    where values near 1 are anomalies and values well below 0.5 normal rows.
    """

    def __init__(self, estimator: Any = None):
        super().__init__()
        self.estimator = estimator

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from collections.abc import Iterator

        import pyarrow as pa
        from pyspark import cloudpickle
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        if self.estimator is None:
            raise ModelError("this IsolationForestModel holds no fitted forest; fit or load it first.")
        payload = cloudpickle.dumps(self.estimator)
        task_cpus = int(dataset.sparkSession.conf.get("spark.task.cpus", "1") or 1)
        width = int(self.estimator.n_features_in_)

        def score(batches):
            from threadpoolctl import threadpool_limits

            forest = cloudpickle.loads(payload)  # once per task, not per batch
            with threadpool_limits(task_cpus):
                for batch in batches:
                    # The vectors' values back to back in one Arrow buffer: a matrix without a copy per row.
                    X = batch.flatten().to_numpy(zero_copy_only=False).reshape(len(batch), width)
                    yield pa.array(-forest.score_samples(X), pa.float64())

        # Real types rather than strings: arrow_udf reads the hints to pick the iterator UDF kind.
        score.__annotations__ = {"batches": Iterator[pa.Array], "return": Iterator[pa.Array]}
        scores = F.arrow_udf(score, "double")(vector_to_array(F.col(self.getFeaturesCol())))
        threshold = self.getOrDefault(self.threshold)
        return dataset.withColumn(self.getScoreCol(), scores).withColumn(
            self.getPredictionCol(), (F.col(self.getScoreCol()) > F.lit(threshold)).cast("double")
        )

    def write(self) -> MLWriter:
        return PickledEstimatorWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return PickledEstimatorReader(cls)


def fit_detector(
    train_df: DataFrame,
    spec: ModelSpec,
    *,
    categorical: Sequence[str],
    numeric: Sequence[str],
    impute: ImputeStrategy | None,
    contamination: float,
    label_col: str | None = None,
    classes: list[str] | None = None,
) -> FittedModel:
    """Fit an anomaly model ``spec`` (``isolation_forest`` or ``baseline``) with its feature stages.

    The label, when given, is never a feature and never seen by the fit: it only names the column the
    metrics compare against (``FittedModel.label_col``), with ``classes`` its values, the known anomaly's last.

    Raises:
        ConfigError: Bad ``spec.params`` (path ``<model name>.params.<param>``).
        ModelError: A type that does not detect anomalies.
        DataError: Missing columns, no rows, or numeric nulls with ``impute=None``.
    """
    from pyspark.ml import Pipeline, PipelineModel

    from sparkwright.models.training import FittedModel

    model_type = get_model_type(spec.type, "anomaly")
    model_type.validate_params(spec.params, f"{spec.display_name}.params", "anomaly")
    params = model_type.resolve_params(spec.params, "anomaly")
    _check_features(train_df, list(categorical), list(numeric), impute)
    prefix = Pipeline(stages=build_feature_stages(categorical, numeric, impute=impute, features_col=_FEATURES)).fit(
        train_df
    )
    target = Target(task="anomaly", label_col=label_col or "", features_col=_FEATURES, prediction_col=PREDICTION_COL)
    detector = model_type.build(params, target)
    detector._set(contamination=contamination, scoreCol=SCORE_COL)
    fitted = detector.fit(prefix.transform(train_df))
    return FittedModel(
        pipeline_model=PipelineModel(stages=[*prefix.stages, fitted]),
        spec=spec,
        model_type=model_type.name,
        params={**params, "contamination": contamination},
        label_col=label_col or "",
        log_label=False,
        importances=None,
        task="anomaly",
        classes=classes,
        threshold=fitted.getOrDefault(fitted.threshold),
    )


def _check_features(df: DataFrame, categorical: list[str], numeric: list[str], impute: str | None) -> None:
    from pyspark.sql import functions as F

    missing = [c for c in [*categorical, *numeric] if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the training data; columns: {', '.join(df.columns)}.")
    if not categorical and not numeric:
        raise DataError("an anomaly model needs at least one feature column; check data.features and data.drop.")
    if impute is None and numeric:
        counts = df.agg(*[F.count(F.when(F.col(f"`{c}`").isNull() | F.isnan(f"`{c}`"), 1)).alias(c) for c in numeric])
        with_nulls = sorted(c for c, n in counts.first().asDict().items() if n)
        if with_nulls:
            raise DataError(
                f"numeric columns {with_nulls} have nulls and impute is null; set cleanse.impute (median, mean, mode)."
            )
