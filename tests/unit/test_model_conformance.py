"""One conformance test over every registered model type, for every task it supports.

Each type must fit inside its feature Pipeline, predict every row, beat (or, for the baseline, be)
the baseline, log to MLflow with a signature, load back and score the same, and reject a bad param
with the YAML path. A new type gets all of this by registering itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from sparkwright.config import ModelSpec
from sparkwright.errors import ConfigError, ModelError
from sparkwright.models import fit_model, get_model_type, model_types, predict
from sparkwright.tasks.classification import classification_metrics
from sparkwright.tasks.regression import regression_metrics
from sparkwright.tracking import Tracker

CATEGORICAL = ["meal", "room_type"]
NUMERIC = ["lead_time", "lead_time_missing", "nights"]
SCHEMA = (
    "meal string, room_type string, lead_time double, lead_time_missing double, nights double, "
    "price double, booked string, tier int"
)
# Small, fast settings where a type's defaults would take long on 2 cores.
QUICK_PARAMS = {"gbt": {"maxIter": 10}, "xgboost": {"n_estimators": 30}, "lightgbm": {"n_estimators": 30}}


def _rows(n: int, seed: int) -> list[tuple]:
    """Hotel-like rows: a price, a binary 'booked' and a 3-class 'tier' that all depend on the features."""
    rng = np.random.default_rng(seed)
    meals = rng.choice(["bed_and_breakfast", "half_board", "self_catering"], n)
    rooms = rng.choice(["double", "suite"], n)
    lead = rng.uniform(0, 100, n)
    nights = rng.integers(1, 8, n).astype(float)
    score = 40 * (meals == "half_board") + 30 * (rooms == "suite") + 0.8 * lead + 4 * nights
    price = 60 + score + rng.normal(0, 5, n)
    booked = np.where(score + rng.normal(0, 12, n) > np.median(score), "yes", "no")
    tier = np.digitize(score + rng.normal(0, 8, n), np.quantile(score, [0.33, 0.66]))
    null = rng.random(n) < 0.1
    return [
        (m, r, None if z else float(x), float(z), float(k), float(y), b, int(t))
        for m, r, x, z, k, y, b, t in zip(meals, rooms, lead, null, nights, price, booked, tier, strict=True)
    ]


@pytest.fixture(scope="module")
def train(spark):
    return spark.createDataFrame(_rows(500, seed=1), SCHEMA).cache()


@pytest.fixture(scope="module")
def test(spark):
    return spark.createDataFrame(_rows(200, seed=2), SCHEMA).cache()


def _fit(train_df, type_: str, task: str, label: str, params: dict | None = None):
    return fit_model(
        train_df,
        ModelSpec(type=type_, params=QUICK_PARAMS.get(type_, {}) if params is None else params),
        label_col=label,
        categorical=CATEGORICAL,
        numeric=NUMERIC,
        impute="median",
        task=task,
    )


def _metrics(fitted, scored, label: str) -> dict[str, float]:
    if fitted.task == "classification":
        return classification_metrics(scored, label, fitted.classes)
    return regression_metrics(scored, label)


@pytest.fixture(scope="module")
def baselines(train, test):
    """The baseline's test metrics per (task, label)."""
    out = {}
    for task, label in (("regression", "price"), ("classification", "booked"), ("classification", "tier")):
        fitted = _fit(train, "baseline", task, label)
        out[(task, label)] = _metrics(fitted, predict(fitted, test), label)
    return out


CASES = [("regression", "price", t) for t in model_types("regression")] + [
    ("classification", "booked", t) for t in model_types("classification")
]


@pytest.mark.parametrize(("task", "label", "type_"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_conformance(task, label, type_, train, test, baselines, workspace, tmp_path):
    import mlflow.pyfunc

    fitted = _fit(train, type_, task, label)
    scored = predict(fitted, test).cache()
    outputs = ["prediction", "probability"] if task == "classification" else ["prediction"]
    assert scored.columns == [*test.columns, *outputs]
    assert scored.where(F.col("prediction").isNull()).count() == 0
    assert scored.count() == test.count()

    metrics, base = _metrics(fitted, scored, label), baselines[(task, label)]
    if type_ == "baseline":
        assert metrics == pytest.approx(base)
        assert fitted.importances is None
    elif task == "regression":
        assert metrics["rmse"] < 0.7 * base["rmse"]
    else:
        assert metrics["roc_auc"] > base["roc_auc"] + 0.2
        assert metrics["f1"] > base["f1"]
        assert dict(scored.dtypes)["prediction"] == "string"  # the label's own values and type
        assert {r.prediction for r in scored.select("prediction").distinct().collect()} <= {"yes", "no"}
    if fitted.importances is not None:
        assert set(fitted.importances) == {*CATEGORICAL, *NUMERIC}

    # Log to MLflow with a signature, load back (Spark flavour and pyfunc) and score the same.
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    experiment = tracker.experiment_id("conformance")
    example = test.select(*CATEGORICAL, *NUMERIC).limit(5)
    with tracker.run(experiment, type_) as run_id:
        logged = tracker.log_spark_model(
            run_id,
            fitted.pipeline_model,
            input_example=example.toPandas(),
            predictions=predict(fitted, example).select("prediction").toPandas(),
        )
    model = mlflow.pyfunc.load_model(logged.model_uri)
    assert model.metadata.get_input_schema().input_names() == [*CATEGORICAL, *NUMERIC]
    assert model.metadata.get_output_schema().input_names() == ["prediction"]
    rows = test.select(*CATEGORICAL, *NUMERIC).limit(20).toPandas()
    expected = [r.prediction for r in predict(fitted, test.limit(20)).collect()]
    got = list(np.asarray(model.predict(rows)).ravel())
    if task == "regression":
        assert got == pytest.approx(expected, rel=1e-9)
    else:
        assert got == expected

    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.notAParam: "):
        get_model_type(type_, task).validate_params({"notAParam": 1}, "models[0].params", task)


MULTICLASS = [t for t in model_types("classification") if t != "gbt"]


@pytest.mark.parametrize("type_", MULTICLASS)
def test_multiclass(type_, train, test, baselines):
    fitted = _fit(train, type_, "classification", "tier")
    assert fitted.classes == ["0", "1", "2"]
    scored = predict(fitted, test)
    assert dict(scored.dtypes)["prediction"] == "int"
    assert {r.prediction for r in scored.select("prediction").distinct().collect()} <= {0, 1, 2}
    assert all(len(r.probability) == 3 for r in scored.select("probability").limit(5).collect())
    metrics, base = classification_metrics(scored, "tier", fitted.classes), baselines[("classification", "tier")]
    if type_ == "baseline":
        assert metrics["roc_auc"] == pytest.approx(0.5)
    else:
        assert metrics["roc_auc"] > base["roc_auc"] + 0.2
        assert metrics["accuracy"] > base["accuracy"]


def test_gbt_refuses_multiclass_naming_alternatives(train):
    with pytest.raises(ModelError, match=r"gbt classifies two classes only, but the label has 3; use xgboost"):
        _fit(train, "gbt", "classification", "tier")


ANOMALY_TYPES = model_types("anomaly")


@pytest.mark.parametrize("type_", ANOMALY_TYPES)
def test_anomaly_conformance(type_, train, test, workspace):
    """Anomaly types: the flag and the score on every row, the flag at the contamination share of training,
    and the same scores after logging to MLflow and loading back (Spark flavour and pyfunc)."""
    import mlflow.pyfunc
    import mlflow.spark

    from sparkwright.models import fit_detector

    fitted = fit_detector(
        train, ModelSpec(type=type_), categorical=CATEGORICAL, numeric=NUMERIC, impute="median", contamination=0.1
    )
    scored = predict(fitted, test).cache()
    assert scored.columns == [*test.columns, "prediction", "anomaly_score"]
    assert scored.where(F.col("anomaly_score").isNull()).count() == 0
    share = predict(fitted, train).agg(F.avg("prediction")).first()[0]
    assert share == pytest.approx(0.1, abs=0.01)

    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    example = test.select(*CATEGORICAL, *NUMERIC).limit(5)
    with tracker.run(tracker.experiment_id("conformance"), type_) as run_id:
        logged = tracker.log_spark_model(
            run_id,
            fitted.pipeline_model,
            input_example=example.toPandas(),
            predictions=predict(fitted, example).select("prediction").toPandas(),
        )
    reloaded = mlflow.spark.load_model(logged.model_uri)
    expected = [r.anomaly_score for r in predict(fitted, test.limit(20)).collect()]
    assert [r.anomaly_score for r in predict(reloaded, test.limit(20)).collect()] == pytest.approx(expected, rel=1e-12)
    flags = list(np.asarray(mlflow.pyfunc.load_model(logged.model_uri).predict(example.toPandas())).ravel())
    assert flags == [r.prediction for r in predict(fitted, example).collect()]

    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.notAParam: "):
        get_model_type(type_, "anomaly").validate_params({"notAParam": 1}, "models[0].params", "anomaly")


# ------------------------------------------------------------------------------- recommendation types
# Their contract differs where the task does: they fit on (user, item, rating) rows, not features, and
# score through the task's pipeline (ids -> indices -> model -> the fallback rating for unknown ids).
RECOMMENDATION_PARAMS = {"als": {"rank": 3, "maxIter": 8, "regParam": 0.05}}


# Ids as text (through StringIndexers), or integers with gaps that ALS takes as they are; each with ids no
# model knows: new ones, and for integers a negative one and one beyond ALS's int range.
IDS = {
    "text": ("string", lambda u: f"u{u}", lambda i: f"i{i}", [("nobody", "i1"), ("u1", "never-rated")]),
    "integer": ("bigint", lambda u: 1000 + u, lambda i: 7 * i + 3, [(-5, 10), (1001, 99_999), (2**40, 10)]),
}


def _ratings(spark, ids: str):
    """30 users x 20 of 40 items each: 3 + (user . item factors) + noise, so a model that finds the factors beats
    the bias baseline."""
    from sparkwright.tasks.recommendation import RatingColumns, split_per_user

    id_type, user, item, _ = IDS[ids]

    rng = np.random.default_rng(5)
    users, items = rng.normal(0, 1, (30, 2)), rng.normal(0, 1, (40, 2))
    rows = [
        (user(u), item(int(i)), float(np.clip(3 + users[u] @ items[i] + rng.normal(0, 0.2), 1, 5)))
        for u in range(30)
        for i in rng.choice(40, 20, replace=False)
    ]
    columns = RatingColumns("user", "item", "stars", None, implicit=False)
    frame = spark.createDataFrame(rows, f"user {id_type}, item {id_type}, stars double")
    return columns, *split_per_user(columns, columns.ratings(frame), 0.2, 1)


@pytest.mark.parametrize("ids", IDS)
@pytest.mark.parametrize("type_", model_types("recommendation"))
def test_recommendation_conformance(type_, ids, spark, workspace):
    import mlflow.pyfunc

    from sparkwright.pipeline.recommenders import IndexedRatings, judged_predictions, scoring_pipeline
    from sparkwright.tasks.recommendation import RATING_COL, BiasModel

    columns, train, test = _ratings(spark, ids)
    indexed = IndexedRatings.fit(columns, train, test)
    assert (indexed.users.as_is, indexed.items.as_is) == (ids == "integer",) * 2
    model_type = get_model_type(type_, "recommendation")
    fitted = model_type.fit(RECOMMENDATION_PARAMS.get(type_, {}), indexed.train, implicit=False)
    pipeline = scoring_pipeline(indexed, fitted)

    # Every row gets a number, an unknown user or item the stated fallback; known pairs beat the bias model.
    unknown_pairs = IDS[ids][3]
    unknown = spark.createDataFrame([(*pair, 3.0) for pair in unknown_pairs], test.schema)
    scored = pipeline.transform(test.unionByName(unknown)).cache()
    assert scored.count() == test.count() + len(unknown_pairs)
    assert scored.where(F.col("prediction").isNull() | F.isnan("prediction")).count() == 0
    fallback = {(r.user, r.item): r.prediction for r in scored.collect() if (r.user, r.item) in unknown_pairs}
    assert fallback == pytest.approx(dict.fromkeys(unknown_pairs, indexed.fallback_rating))
    rated = pipeline.transform(indexed.rated.drop("_user_index", "_item_index"))
    # The model finds the rows it can judge itself: the same rows as the known users' and items'.
    assert judged_predictions(indexed, fitted).count() == rated.count() > 0
    biases = BiasModel().fit(indexed.train)
    bias_rmse = regression_metrics(biases.transform(indexed.rated), RATING_COL)["rmse"]
    assert regression_metrics(rated, RATING_COL)["rmse"] < 0.8 * bias_rmse

    # Log with a signature, load back through pyfunc and score the same.
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    example = test.select("user", "item").limit(5)
    with tracker.run(tracker.experiment_id("conformance"), type_) as run_id:
        logged = tracker.log_spark_model(
            run_id,
            pipeline,
            input_example=example.toPandas(),
            predictions=pipeline.transform(example).select("prediction").toPandas(),
        )
    model = mlflow.pyfunc.load_model(logged.model_uri)
    assert model.metadata.get_input_schema().input_names() == ["user", "item"]
    rows = test.select("user", "item").limit(20)
    expected = [r.prediction for r in pipeline.transform(rows).collect()]
    assert list(np.asarray(model.predict(rows.toPandas())).ravel()) == pytest.approx(expected, rel=1e-6)

    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.notAParam: "):
        model_type.validate_params({"notAParam": 1}, "models[0].params", "recommendation")
    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.maxIter: must be an integer >= 0"):
        model_type.validate_params({"maxIter": -1}, "models[0].params", "recommendation")
    biases.release()
    indexed.release()
