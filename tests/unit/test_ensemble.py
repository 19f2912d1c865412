"""Ensembles: greedy weights, the blended model on every scoring path (Spark, MLflow, batch, export, REST).

Members are real Spark ML models fitted once per module on a few hundred hotel-like rows; every path's
predictions are compared with the weighted mean of the members' own predictions, or with Spark's.
"""

from __future__ import annotations

from dataclasses import replace

import mlflow.pyfunc
import mlflow.spark
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer

from sparkwright.config import ModelSpec
from sparkwright.data import read_table, write_table
from sparkwright.deploy.batch import score_batch
from sparkwright.deploy.export import UnsupportedStageError, export_pipeline, save_pyfunc
from sparkwright.deploy.serve import create_app, load_served_model
from sparkwright.errors import ConfigError, DataError, ModelError
from sparkwright.models import EnsembleModel, blend, ensemble_weights, evaluate_model, fit_model, predict
from sparkwright.registry import Registry, parse_model_ref
from sparkwright.tracking import Tracker

SCHEMA = "row_id int, city string, nights int, lead double, price double, booked string, tier int"
INPUTS = ["city", "nights", "lead"]
LABELS = ["price", "booked", "tier"]
FEATURES = {"categorical": ["city"], "numeric": ["nights", "lead"], "impute": "median"}
TOLERANCE = 1e-9


def _rows(n: int, seed: int) -> list[tuple]:
    """Prices and classes that depend on every feature; 5% of lead is null."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["lisbon", "porto", "faro"], n)
    nights = rng.integers(1, 8, n)
    lead = rng.uniform(0, 100, n)
    price = 50 + 25 * (city == "lisbon") + 6 * nights + 0.6 * lead + rng.normal(0, 6, n)
    score = (price - 110) / 20 + rng.normal(0, 0.8, n)
    booked = np.where(score > 0, "yes", "no")
    tier = np.select([score < -0.6, score < 0.6], [1, 2], 3)
    null = rng.random(n) < 0.05
    return [
        (i, str(c), int(k), None if z else float(x), float(p), str(b), int(t))
        for i, (c, k, x, p, b, t, z) in enumerate(zip(city, nights, lead, price, booked, tier, null, strict=True))
    ]


@pytest.fixture(scope="module")
def train(spark):
    df = spark.createDataFrame(_rows(320, seed=1), SCHEMA).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def test_df(spark):
    df = spark.createDataFrame(_rows(120, seed=2), SCHEMA).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def inputs(test_df):
    """The scoring-time rows: no labels."""
    return test_df.drop(*LABELS)


def _fit(train, type_: str, label: str, params: dict | None = None, **options):
    task = "regression" if label == "price" else "classification"
    spec = ModelSpec(type=type_, params=params or {})
    return fit_model(train, spec, label_col=label, task=task, **FEATURES, **options)


@pytest.fixture(scope="module")
def regressors(train):
    return [
        _fit(train, "linear_regression", "price", log_label=True),
        _fit(train, "random_forest", "price", {"numTrees": 8, "maxDepth": 4}, log_label=True),
    ]


@pytest.fixture(scope="module")
def binary(train):
    return [
        _fit(train, "logistic_regression", "booked"),
        _fit(train, "decision_tree", "booked", {"maxDepth": 4}),
    ]


@pytest.fixture(scope="module")
def multiclass(train):
    return [
        _fit(train, "logistic_regression", "tier"),
        _fit(train, "random_forest", "tier", {"numTrees": 8, "maxDepth": 4}),
    ]


@pytest.fixture(scope="module")
def blended(regressors, binary, multiclass):
    return {
        "regression": blend(regressors, [1.0, 3.0]),
        "binary": blend(binary, [0.4, 0.6], threshold=0.35, name="lr+dt"),
        "multiclass": blend(multiclass, [0.5, 0.5]),
    }


def _scored(fitted, df) -> pd.DataFrame:
    return predict(fitted, df).orderBy("row_id").toPandas()


def _probabilities(frame: pd.DataFrame) -> np.ndarray:
    return np.stack([np.asarray(v.toArray() if hasattr(v, "toArray") else v) for v in frame["probability"]])


# ---- ensemble_weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_weights_go_to_the_better_candidate_in_the_metrics_direction(metric):
    rng = np.random.default_rng(0)
    y = rng.normal(100, 20, 400)
    good, bad = y + rng.normal(0, 1, 400), y + rng.normal(0, 15, 400)
    weights = ensemble_weights([bad, good], y, task="regression", metric=metric)
    np.testing.assert_array_equal(weights, [0.0, 1.0])


def test_weights_mix_independent_errors_into_a_blend_better_than_each_and_are_deterministic():
    rng = np.random.default_rng(1)
    y = rng.normal(100, 20, 500)
    first, second = y + rng.normal(0, 5, 500), y + rng.normal(0, 5, 500)
    weights = ensemble_weights([first, second], y, task="regression", metric="rmse", rounds=20)
    assert weights.sum() == pytest.approx(1.0) and weights.min() >= 0.3

    def rmse(p):
        return float(np.sqrt(np.mean((p - y) ** 2)))

    assert rmse(weights[0] * first + weights[1] * second) < 0.8 * min(rmse(first), rmse(second))
    again = ensemble_weights([first, second], y, task="regression", metric="rmse", rounds=20)
    np.testing.assert_array_equal(weights, again)
    # Equal candidates tie in every round: the earlier one wins them all.
    np.testing.assert_array_equal(ensemble_weights([first, first], y, task="regression", metric="rmse"), [1, 0])


@pytest.mark.parametrize("metric", ["log_loss", "roc_auc", "accuracy", "f1"])
def test_classification_weights_keep_noise_out(metric):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 600)
    sharp = np.full((600, 3), 0.1)
    sharp[np.arange(600), y] = 0.8
    noise = rng.dirichlet([1, 1, 1], 600)
    weights = ensemble_weights([sharp, noise], y, task="classification", metric=metric, num_classes=3)
    np.testing.assert_array_equal(weights, [1.0, 0.0])
    if metric == "log_loss":  # lower is better: noise makes it strictly worse, wherever it stands
        reverse = ensemble_weights([noise, sharp], y, task="classification", metric=metric)
        np.testing.assert_array_equal(reverse, [0.0, 1.0])


@pytest.mark.parametrize(
    ("predictions", "y", "options", "error", "message"),
    [
        ([], [1.0], {}, DataError, "predictions is empty"),
        ([np.ones(3), np.ones(4)], np.ones(3), {}, DataError, r"predictions\[1\] has shape \(4,\), but y has 3 rows"),
        ([np.ones((3, 2))], np.ones(3), {}, DataError, r"predictions\[0\] has shape \(3, 2\)"),
        ([np.array([1.0, np.nan, 2.0])], np.ones(3), {}, DataError, "NaN or infinite"),
        ([np.ones(3)], np.ones(3), {"metric": "rmsee"}, ConfigError, "metric: unknown metric 'rmsee'.*'rmse'"),
        ([np.ones(3)], np.ones(3), {"task": "ranking"}, ConfigError, "task: unknown task 'ranking'"),
        ([np.ones(3)], np.ones(3), {"rounds": 0}, ConfigError, "rounds: must be an integer >= 1"),
        (
            [np.full((3, 2), 0.5)],
            [0, 1, 2],
            {"task": "classification", "metric": "accuracy"},
            DataError,
            r"class indices 0 \.\. 1",
        ),
        (
            [np.full((3, 2), 0.5)],
            [0, 1, 1],
            {"task": "classification", "metric": "accuracy", "num_classes": 3},
            DataError,
            r"= \(3, 3\)",
        ),
    ],
)
def test_weights_refuse_bad_input_naming_it(predictions, y, options, error, message):
    kwargs = {"task": "regression", "metric": "rmse", **options}
    with pytest.raises(error, match=message):
        ensemble_weights(predictions, y, **kwargs)


# ---- the blended model in Spark -----------------------------------------------------------------


def test_regression_blend_is_the_weighted_mean_in_label_units(blended, regressors, inputs, test_df):
    fitted = blended["regression"]
    scored = _scored(fitted, inputs)
    lr, rf = (_scored(m, inputs)["prediction"].to_numpy() for m in regressors)
    assert regressors[0].log_label and regressors[1].log_label
    np.testing.assert_allclose(scored["prediction"], 0.25 * lr + 0.75 * rf, rtol=1e-12)
    assert list(scored.columns) == ["row_id", *INPUTS, "prediction"]  # no internal column left
    assert fitted.spec == ModelSpec(type="ensemble", name="ensemble") and fitted.model_type == "ensemble"
    assert fitted.params == {
        "members": [
            {"name": "linear_regression", "type": "linear_regression", "weight": 0.25},
            {"name": "random_forest", "type": "random_forest", "weight": 0.75},
        ]
    }
    metrics = evaluate_model(fitted, predict(fitted, test_df))
    assert metrics["rmse"] < evaluate_model(regressors[0], predict(regressors[0], test_df))["rmse"] * 1.5
    assert set(fitted.importances) == {"city", "nights", "lead"}
    assert sum(fitted.importances.values()) == pytest.approx(1.0)
    assert list(fitted.importances.values()) == sorted(fitted.importances.values(), reverse=True)


def test_binary_blend_applies_the_threshold_and_keeps_the_string_label(blended, binary, inputs):
    fitted = blended["binary"]
    assert fitted.classes == ["no", "yes"] and fitted.threshold == 0.35
    scored = _scored(fitted, inputs)
    members = [_probabilities(_scored(m, inputs)) for m in binary]
    probability = _probabilities(scored)
    np.testing.assert_allclose(probability, 0.4 * members[0] + 0.6 * members[1], rtol=1e-12)
    expected = np.where(probability[:, 1] >= 0.35, "yes", "no")
    assert list(scored["prediction"]) == list(expected)
    assert ((probability[:, 1] >= 0.35) & (probability[:, 1] < 0.5)).any()  # the threshold decided some rows
    assert predict(fitted, inputs).schema["prediction"].dataType.simpleString() == "string"


def test_multiclass_blend_predicts_the_most_probable_class_in_the_labels_type(blended, multiclass, inputs, test_df):
    fitted = blended["multiclass"]
    scored = _scored(fitted, inputs)
    members = [_probabilities(_scored(m, inputs)) for m in multiclass]
    probability = _probabilities(scored)
    np.testing.assert_allclose(probability, (members[0] + members[1]) / 2, rtol=1e-12)
    assert list(scored["prediction"]) == [int(fitted.classes[k]) for k in probability.argmax(axis=1)]
    assert predict(fitted, inputs).schema["prediction"].dataType.simpleString() == "int"
    assert evaluate_model(fitted, predict(fitted, test_df))["accuracy"] > 0.5


def test_members_with_weight_zero_are_left_out(regressors, inputs):
    fitted = blend([*regressors, regressors[0]], [0.0, 2.0, 0.0], name="forest only")
    stage = fitted.pipeline_model.stages[0]
    assert len(stage.members) == 1 and stage.getWeights() == [1.0]
    assert fitted.params["members"] == [{"name": "random_forest", "type": "random_forest", "weight": 1.0}]
    np.testing.assert_allclose(
        _scored(fitted, inputs)["prediction"], _scored(regressors[1], inputs)["prediction"], rtol=1e-12
    )


@pytest.mark.parametrize(
    ("pick", "weights", "options", "message"),
    [
        (lambda r, b, m: [], [], {}, "members is empty"),
        (lambda r, b, m: r, [1.0], {}, "2 members but 1 weights"),
        (lambda r, b, m: r, [1.0, -1.0], {}, "must be finite and >= 0"),
        (lambda r, b, m: r, [0, 0], {}, "every weight is 0"),
        (lambda r, b, m: [r[0], b[0]], [1, 1], {}, "differ in task"),
        (lambda r, b, m: [b[0], m[0]], [1, 1], {}, "differ in label"),
        (lambda r, b, m: r, [1, 1], {"threshold": 0.4}, "for task regression"),
        (lambda r, b, m: m, [1, 1], {"threshold": 0.4}, "with 3 classes"),
        (lambda r, b, m: b, [1, 1], {"threshold": 1.0}, r"in \(0, 1\)"),
    ],
)
def test_blend_refuses_members_that_do_not_blend(regressors, binary, multiclass, pick, weights, options, message):
    with pytest.raises(ModelError, match=message):
        blend(pick(regressors, binary, multiclass), weights, **options)


def test_blend_refuses_members_with_other_classes(binary):
    other = replace(binary[1], classes=["yes", "no"])
    with pytest.raises(ModelError, match=r"differ in classes \(in probability order\)"):
        blend([binary[0], other], [1, 1])


def test_an_ensemble_model_is_checked_when_it_scores_not_when_built(regressors, inputs):
    members = [m.pipeline_model for m in regressors]
    stage = EnsembleModel(members, [0.5, 0.6])
    with pytest.raises(ModelError, match=r"weights must be positive and sum to 1, got \[0.5, 0.6\]"):
        stage.transform(inputs)
    with pytest.raises(ModelError, match="2 members, 1 weights"):
        EnsembleModel(members, [1.0]).transform(inputs)
    with pytest.raises(ModelError, match="threshold applies to binary classification"):
        EnsembleModel(members, [0.5, 0.5], threshold=0.5).transform(inputs)


# ---- MLflow, batch scoring ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(spark, blended, inputs, tmp_path_factory):
    """The regression and binary ensembles logged with Tracker and registered as 'ens-reg' / 'ens-bin' v1."""
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("ensemble") / "ws")
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    example = inputs.select(*INPUTS).limit(5)
    for key, name in (("regression", "ens-reg"), ("binary", "ens-bin")):
        fitted = blended[key]
        with tracker.run(tracker.experiment_id(name), name) as run_id:
            outputs = predict(fitted, example).select("prediction").toPandas()
            logged = tracker.log_spark_model(
                run_id, fitted.pipeline_model, input_example=example.toPandas(), predictions=outputs
            )
        tracker.register(logged, name)
    return Registry(tracker)


def test_mlflow_round_trip_scores_identically_in_spark_and_as_pyfunc(registry, blended, inputs):
    local = registry.tracker.download_model(registry.resolve(parse_model_ref("models:/ens-bin/1")).source)
    loaded = mlflow.spark.load_model(str(local))
    stage = loaded.stages[0]
    assert isinstance(stage, EnsembleModel) and len(stage.members) == 2
    original = blended["binary"].pipeline_model.stages[0]
    assert (stage.getWeights(), stage.getClasses(), stage.getThreshold()) == ([0.4, 0.6], ["no", "yes"], 0.35)
    assert stage.getMemberNames() == original.getMemberNames() == ["logistic_regression", "decision_tree"]
    expected = _scored(blended["binary"], inputs)
    again = predict(loaded, inputs).orderBy("row_id").toPandas()
    assert list(again["prediction"]) == list(expected["prediction"])
    np.testing.assert_array_equal(_probabilities(again), _probabilities(expected))
    pyfunc = mlflow.pyfunc.load_model(str(local)).predict(expected[INPUTS])
    assert list(pyfunc) == list(expected["prediction"])


def test_batch_scoring_into_delta_writes_the_ensembles_predictions(spark, registry, blended, inputs, tmp_path):
    source, output = str(tmp_path / "silver"), str(tmp_path / "scored")
    write_table(inputs, source)
    result = score_batch(spark, registry, "models:/ens-reg/1", source, output)
    assert result.rows == inputs.count() and result.version == 0
    scored = read_table(spark, output).orderBy("row_id").toPandas()
    expected = _scored(blended["regression"], inputs)
    np.testing.assert_allclose(scored["prediction"], expected["prediction"], rtol=1e-12)
    assert set(scored["_model_uri"]) == {"models:/ens-reg/1"}


# ---- export and REST ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["regression", "binary", "multiclass"])
def test_the_jvm_free_export_equals_spark(blended, inputs, key, tmp_path):
    fitted = blended[key]
    expected = _scored(fitted, inputs)
    scorer = export_pipeline(fitted.pipeline_model, inputs.schema)
    assert sorted(scorer.input_columns) == sorted(INPUTS)
    got = scorer.predict(expected[["row_id", *INPUTS]])
    if key == "regression":
        np.testing.assert_allclose(got["prediction"], expected["prediction"], rtol=TOLERANCE)
        return
    assert scorer.classes == ([int(c) for c in fitted.classes] if key == "multiclass" else fitted.classes)
    assert list(got["prediction"]) == list(expected["prediction"])
    probability = got[[f"probability_{k}" for k in range(len(fitted.classes))]].to_numpy()
    np.testing.assert_allclose(probability, _probabilities(expected), rtol=TOLERANCE)
    if key == "binary":  # and the same through its MLflow pyfunc model, loaded without Spark's flavour
        save_pyfunc(scorer, tmp_path / "exported")
        pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "exported")).predict(expected[INPUTS])
        assert list(pyfunc["prediction"]) == list(expected["prediction"])
        np.testing.assert_allclose(pyfunc[["probability_0", "probability_1"]], probability, rtol=TOLERANCE)


def test_an_unexportable_member_is_named_with_its_stage(regressors, inputs):
    doubled = SQLTransformer(statement="SELECT *, lead * 2 AS lead2 FROM __THIS__")
    odd = replace(regressors[1], pipeline_model=PipelineModel([doubled, *regressors[1].pipeline_model.stages]))
    fitted = blend([regressors[0], odd], [0.5, 0.5])
    assert _scored(fitted, inputs)["prediction"].notna().all()  # Spark scores it
    with pytest.raises(
        UnsupportedStageError, match=r"member 1 \(random_forest\): stage 0 \(SQLTransformer .*lead \* 2"
    ):
        export_pipeline(fitted.pipeline_model, inputs.schema)


def test_rest_serving_returns_the_ensembles_predictions(registry, blended, inputs):
    expected = _scored(blended["binary"], inputs.where("lead IS NOT NULL")).head(30)
    served = load_served_model(registry, "models:/ens-bin/1")  # exported once; the session is active here
    client = TestClient(create_app(served))
    records = [{"city": r.city, "nights": int(r.nights), "lead": float(r.lead)} for r in expected.itertuples()]
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == list(expected["prediction"])
    assert body["classes"] == ["no", "yes"]
    np.testing.assert_allclose(body["probabilities"], _probabilities(expected), rtol=1e-9, atol=1e-12)
