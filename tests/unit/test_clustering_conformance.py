"""The conformance test for the clustering model types (every type registered for ``clustering``).

Each type must fit inside its feature Pipeline (numerics standardised, categoricals one-hot), assign
every row, explain a share of the total sum of squares on well-separated data where one cluster
explains none (most of it, for the k-means types), log to MLflow with a signature and score the same
when loaded back, and reject a bad param with the YAML path. k-means and Gaussian mixtures also
export to the JVM-free runtime with the same assignments.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from sparkwright.config import ModelSpec
from sparkwright.errors import ConfigError
from sparkwright.models import get_model_type, model_types, predict
from sparkwright.models.clustering import fit_clusterer, prepare_features
from sparkwright.tasks.clustering import clustering_metrics, one_cluster_estimator
from sparkwright.tracking import Tracker

CATEGORICAL = ["colour"]
NUMERIC = ["width", "price"]
SCHEMA = "colour string, width double, price double"


def _rows(n: int, seed: int) -> list[tuple]:
    """Three groups apart in width (cm) and price (thousands): only standardising weighs them alike."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    width = np.array([10.0, 20.0, 30.0])[group] + rng.normal(0, 1.0, n)
    price = np.array([1000.0, 5000.0, 3000.0])[group] + rng.normal(0, 300.0, n)
    colour = np.where(rng.random(n) < 0.8, np.array(["red", "green", "blue"])[group], "grey")
    return [
        (str(c), None if i % 50 == 0 else float(w), float(p))
        for i, (c, w, p) in enumerate(zip(colour, width, price, strict=True))
    ]


@pytest.fixture(scope="module")
def train(spark):
    return spark.createDataFrame(_rows(450, seed=1), SCHEMA).cache()


@pytest.fixture(scope="module")
def test(spark):
    return spark.createDataFrame(_rows(150, seed=2), SCHEMA).cache()


@pytest.fixture(scope="module")
def features(train):
    return prepare_features(train, CATEGORICAL, NUMERIC, impute="median", standardize=True)


TYPES = model_types("clustering")


def test_the_three_clustering_types_are_registered():
    assert TYPES == ["bisecting_kmeans", "gaussian_mixture", "kmeans"]


@pytest.mark.parametrize("type_", TYPES)
def test_conformance(type_, features, test, workspace):
    import mlflow.pyfunc

    fitted = fit_clusterer(features, ModelSpec(type=type_), 3)
    scored = predict(fitted.pipeline_model, test).cache()
    outputs = ["prediction", "probability"] if type_ == "gaussian_mixture" else ["prediction"]
    assert scored.columns == [*test.columns, *outputs]
    assert scored.where(F.col("prediction").isNull()).count() == 0
    assert {r.prediction for r in scored.select("prediction").distinct().collect()} == {0, 1, 2}

    vectors = features.transform(test)
    metrics = clustering_metrics(fitted.assign(vectors))
    baseline = clustering_metrics(one_cluster_estimator().fit(vectors).transform(vectors))
    assert baseline["explained"] == pytest.approx(0.0, abs=1e-12)
    # A Gaussian mixture maximises likelihood, not the sum of squares: it must still explain a real share.
    assert metrics["explained"] > (0.3 if type_ == "gaussian_mixture" else 0.8)
    assert metrics["silhouette"] > 0.2 and metrics["wssse"] < baseline["wssse"]

    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    example = test.limit(5)
    with tracker.run(tracker.experiment_id("conformance"), type_) as run_id:
        logged = tracker.log_spark_model(
            run_id,
            fitted.pipeline_model,
            input_example=example.toPandas(),
            predictions=predict(fitted.pipeline_model, example).select("prediction").toPandas(),
        )
    model = mlflow.pyfunc.load_model(logged.model_uri)
    assert model.metadata.get_input_schema().input_names() == ["colour", *NUMERIC]
    expected = [r.prediction for r in predict(fitted.pipeline_model, test.limit(20)).collect()]
    assert list(np.asarray(model.predict(test.limit(20).toPandas())).ravel()) == expected

    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.notAParam: "):
        get_model_type(type_, "clustering").validate_params({"notAParam": 1}, "models[0].params", "clustering")


def test_numerics_are_standardised_and_one_hot_and_indicator_slots_are_not(train):
    """Scaled numerics have mean 0 and sd 1; one-hot levels and missing indicators stay 0 / 1."""
    with_indicator = train.withColumn("width_missing", (train["width"].isNull()).cast("double"))
    features = prepare_features(with_indicator, CATEGORICAL, [*NUMERIC, "width_missing"], impute="median")
    x = np.array([r[0].toArray() for r in features.rows.collect()])
    assert np.allclose(x[:, :2].mean(axis=0), 0, atol=1e-9) and np.allclose(x[:, :2].std(axis=0, ddof=1), 1)
    assert set(np.unique(x[:, 2:])) == {0.0, 1.0}
    assert x[:, -1].sum() == with_indicator.where("width IS NULL").count()


def test_unscaled_a_column_in_thousands_decides_the_clusters_alone(spark):
    """Groups differ in width and height (cm); price (thousands) is noise, and without scaling it wins."""
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(4)
    group = rng.integers(0, 3, 300)
    width = np.array([10.0, 20.0, 30.0])[group] + rng.normal(0, 1.0, 300)
    height = np.array([5.0, 15.0, 10.0])[group] + rng.normal(0, 1.0, 300)
    price = rng.normal(3000, 2000, 300)
    rows = [tuple(map(float, r)) for r in zip(width, height, price, strict=True)]
    df = spark.createDataFrame(rows, "width double, height double, price double")
    features = prepare_features(df, [], df.columns, impute="median", standardize=False)
    assigned = fit_clusterer(features, ModelSpec(type="kmeans"), 3).pipeline_model.transform(df)
    assert adjusted_rand_score(group, [r.prediction for r in assigned.select("prediction").collect()]) < 0.2


@pytest.mark.parametrize("init", ["k-means++", "k-means||"])
def test_restarts_keep_the_lowest_cost_of_their_seeds(features, init):
    costs = [
        fit_clusterer(features, ModelSpec(type="kmeans", params={"seed": seed, "initMode": init}), 5).cost
        for seed in (42, 43, 44)
    ]
    best = fit_clusterer(features, ModelSpec(type="kmeans", params={"initMode": init}), 5, restarts=3)
    assert best.cost == min(costs)
    if init == "k-means||":
        assert best.cost == best.estimator_model.summary.trainingCost


def _blobs(spark, rows: int, k: int, dims: int, seed: int):
    """``k`` unit-variance groups with centres in [-4, 4]^dims (the clustering benchmark's data, smaller)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, (k, dims))[rng.integers(0, k, rows)] + rng.normal(0, 1.0, (rows, dims))
    return spark.createDataFrame([tuple(map(float, r)) for r in x], [f"x{i}" for i in range(dims)])


@pytest.mark.parametrize("sample_rows", [100_000, 500], ids=["sample-is-every-row", "lloyd-in-spark"])
def test_default_kmeans_reaches_scikit_learns_optimum_and_stops_at_the_means(spark, monkeypatch, sample_rows):
    """k-means++ on a driver sample (all 3,000 rows, or 500 of them and then Lloyd's passes in Spark): the sum
    of squares of scikit-learn's best of 10 k-means++ starts, and each centre is the mean of its rows."""
    from sklearn.cluster import KMeans as LocalKMeans

    from sparkwright.models import kmeans_seeded

    monkeypatch.setattr(kmeans_seeded, "SAMPLE_ROWS", sample_rows)
    df = _blobs(spark, 3000, k=8, dims=20, seed=7)
    features = prepare_features(df, [], df.columns, impute="median")
    fitted = fit_clusterer(features, ModelSpec(type="kmeans"), 8, restarts=1)
    x = np.array([r[0].toArray() for r in features.rows.collect()])
    reference = LocalKMeans(n_clusters=8, n_init=10, random_state=0).fit(x).inertia_
    assert fitted.cost == pytest.approx(reference, rel=1e-9)
    assigned = fitted.assign(features.rows).select("prediction").toPandas()["prediction"].to_numpy()
    centres = np.array(fitted.estimator_model.clusterCenters())
    for cluster in range(8):
        assert np.allclose(centres[cluster], x[assigned == cluster].mean(axis=0), atol=1e-9)


def test_k_above_the_rows_or_the_distinct_vectors_names_clustering_k(spark):
    few = spark.createDataFrame([(float(i % 2), 1.0) for i in range(5)], "a double, b double")
    features = prepare_features(few, [], few.columns, impute="median", standardize=False)
    with pytest.raises(ConfigError, match=r"only 5 rows") as rows_error:
        fit_clusterer(features, ModelSpec(type="kmeans"), 6)
    with pytest.raises(ConfigError, match=r"only 2 distinct feature vectors") as distinct_error:
        fit_clusterer(features, ModelSpec(type="kmeans"), 3)
    assert rows_error.value.path == distinct_error.value.path == "clustering.k"


@pytest.mark.parametrize("type_", ["kmeans", "gaussian_mixture"])
def test_exports_with_the_same_assignments(type_, features, test):
    from sparkwright.deploy.export.exporter import export_pipeline

    fitted = fit_clusterer(features, ModelSpec(type=type_), 3)
    scorer = export_pipeline(fitted.pipeline_model, test.schema)
    got = scorer.predict(test.toPandas())
    spark_rows = predict(fitted.pipeline_model, test).collect()
    assert got["prediction"].tolist() == [r.prediction for r in spark_rows]
    if type_ == "gaussian_mixture":
        expected = np.array([r.probability.toArray() for r in spark_rows])
        exported = got[["probability_0", "probability_1", "probability_2"]].to_numpy()
        assert np.allclose(exported, expected, rtol=1e-9, atol=1e-12)
