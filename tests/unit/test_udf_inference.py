"""pandas-UDF inference: predictions equal the model's own, the model loads once per Python worker, the batch
size holds, and MLflow models are fetched through the workspace's registry."""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from pyspark import cloudpickle
from pyspark.sql import functions as F
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression

from sparkwright.errors import DataError, ModelError
from sparkwright.registry import Registry
from sparkwright.tracking import LoggedModel, Tracker, model_uri_of_run
from sparkwright.udf import arrow_batch_size, predict_udf, score
from sparkwright.udf.inference import ARROW_BATCH_CONF

FEATURES = ["a", "b", "c"]
# The Python workers cannot import this test module: classes defined here travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class CountingRegressor(LinearRegression):
    """A real LinearRegression that records each unpickling (a model load) and each predict call in files."""

    def __init__(self, log_dir: str = "", fit_intercept: bool = True):
        super().__init__(fit_intercept=fit_intercept)
        self.log_dir = log_dir

    def __setstate__(self, state):
        super().__setstate__(state)
        with open(Path(state["log_dir"]) / "loads.txt", "a") as out:
            out.write(f"{os.getpid()}\n")

    def predict(self, X):
        with open(Path(self.log_dir) / "calls.txt", "a") as out:
            out.write(f"{os.getpid()} {len(X)}\n")
        return super().predict(X)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    data = pd.DataFrame(rng.normal(size=(3000, 3)), columns=FEATURES)
    data["y"] = 2 * data.a - data.b * data.c + rng.normal(scale=0.1, size=len(data))
    data["cls"] = np.where(data.y > 0.5, "high", np.where(data.y < -0.5, "low", "mid"))
    data.insert(0, "id", np.arange(len(data)))
    return data


@pytest.fixture(scope="module")
def rows(spark, frame):
    return spark.createDataFrame(frame).repartition(3).cache()


def _by_id(df) -> pd.DataFrame:
    return df.toPandas().sort_values("id").reset_index(drop=True)


def test_sklearn_regressor_predictions_equal_predict(rows, frame):
    model = RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0).fit(frame[FEATURES], frame.y)

    scored = _by_id(score(rows, model, batch_size=700))

    assert scored["prediction"].tolist() == model.predict(frame[FEATURES]).tolist()
    assert list(scored.columns) == [*frame.columns, "prediction"]


def test_classifier_labels_and_probabilities(rows, frame):
    model = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(frame[FEATURES], frame.cls)

    scored = _by_id(score(rows, model, probability_col="probability", output_col="label"))

    assert scored["label"].tolist() == model.predict(frame[FEATURES]).tolist()
    np.testing.assert_allclose(np.stack(scored["probability"]), model.predict_proba(frame[FEATURES]), rtol=1e-9)


def test_xgboost_model_and_booster(rows, frame):
    import xgboost

    model = xgboost.XGBRegressor(n_estimators=20, max_depth=4, n_jobs=2).fit(frame[FEATURES], frame.y)
    expected = model.predict(frame[FEATURES])

    from_model = _by_id(score(rows, model))
    from_booster = _by_id(score(rows, model.get_booster(), FEATURES))

    np.testing.assert_allclose(from_model["prediction"], expected, rtol=1e-9)
    np.testing.assert_allclose(from_booster["prediction"], expected, rtol=1e-9)


def test_pyfunc_model_by_registry_and_run_uri(rows, frame, workspace, tmp_path):
    from mlflow.models import infer_signature

    model = LinearRegression().fit(frame[FEATURES], frame.y)  # MLflow saves it with skops, no pickle
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    local = tmp_path / "sk-model"
    mlflow.sklearn.save_model(
        model,
        str(local),
        signature=infer_signature(frame[FEATURES], model.predict(frame[FEATURES])),
        pip_requirements=["scikit-learn"],
    )
    with tracker.run(tracker.experiment_id("udf"), "sk") as run_id:
        tracker.client.log_artifacts(run_id, str(local), "model")
    logged = LoggedModel(run_id, model_uri_of_run(run_id))
    version = tracker.register(logged, "udf-sk")
    Registry(tracker).set_alias("udf-sk", "champion", version)
    expected = mlflow.pyfunc.load_model("models:/udf-sk@champion").predict(frame[FEATURES])

    by_alias = _by_id(score(rows, "models:/udf-sk@champion", tracker=tracker))  # columns from the signature
    by_run = _by_id(score(rows, logged.model_uri, FEATURES, tracker=tracker))

    np.testing.assert_allclose(by_alias["prediction"], expected, rtol=1e-9)
    np.testing.assert_allclose(by_run["prediction"], expected, rtol=1e-9)
    with pytest.raises(ModelError, match=r"no registered model 'nope'"):
        score(rows, "models:/nope@champion", FEATURES, tracker=tracker)


def test_model_loads_once_per_worker_and_batch_size_holds(spark, tmp_path):
    data = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) % 7})
    model = CountingRegressor(str(tmp_path)).fit(data, 3 * data.a - data.b)
    rows = spark.range(0, 6000, numPartitions=6).select(
        F.col("id").cast("double").alias("a"), (F.col("id") % 7).cast("double").alias("b")
    )
    previous = spark.conf.get(ARROW_BATCH_CONF)

    with arrow_batch_size(spark, 64):
        first = score(rows, model, batch_size=250).agg(F.sum("prediction")).first()[0]
        second = score(rows, model, batch_size=250).agg(F.sum("prediction")).first()[0]
    calls = [line.split() for line in (tmp_path / "calls.txt").read_text().splitlines()]
    loads = collections.Counter((tmp_path / "loads.txt").read_text().split())

    assert spark.conf.get(ARROW_BATCH_CONF) == previous
    assert first == second == pytest.approx(float((3 * np.arange(6000) - np.arange(6000) % 7).sum()), rel=1e-9)
    # 12 tasks of 1,000 rows, regrouped from 64-row Arrow batches into model calls of 250 rows.
    assert [int(size) for _, size in calls] == [250] * 48
    # One load per worker process over both jobs (same model, same cache key), however many batches it scored.
    assert set(loads) == {pid for pid, _ in calls}
    assert set(loads.values()) == {1}

    (tmp_path / "calls.txt").unlink()
    with arrow_batch_size(spark, 64):
        score(rows, model, batch_size=None).agg(F.sum("prediction")).first()
    lines = (tmp_path / "calls.txt").read_text().splitlines()
    sizes = collections.Counter(int(line.split()[1]) for line in lines)
    assert sizes == {64: 6 * 15, 1000 - 15 * 64: 6}  # one call per Arrow batch when batch_size is None


def test_predict_udf_on_feature_columns(rows, frame):
    model = LinearRegression().fit(frame[FEATURES].to_numpy(), frame.y)
    udf = predict_udf(model, FEATURES, batch_size=1000)

    scored = _by_id(rows.select("id", udf(*FEATURES).alias("p")))

    np.testing.assert_allclose(scored["p"], model.predict(frame[FEATURES].to_numpy()), rtol=1e-9)
    with pytest.raises(ModelError, match=r"does not name its input columns"):
        predict_udf(model)


def test_clear_errors(rows, frame):
    fitted = LinearRegression().fit(frame[FEATURES].to_numpy(), frame.y)
    with pytest.raises(ModelError, match=r"LinearRegression is not fitted"):
        score(rows, LinearRegression(), FEATURES)
    with pytest.raises(ModelError, match=r"does not name its input columns; pass feature_columns"):
        score(rows, fitted)
    with pytest.raises(DataError, match=r"lacks feature column\(s\) \['zz'\]"):
        score(rows, fitted, ["a", "zz"])
    with pytest.raises(DataError, match=r"already has column\(s\) \['id'\]"):
        score(rows, fitted, FEATURES, output_col="id")
    with pytest.raises(ModelError, match=r"gives no class probabilities"):
        score(rows, fitted, FEATURES, probability_col="p")
    with pytest.raises(ModelError, match=r"cannot score a dict"):
        score(rows, {"not": "a model"}, FEATURES)
    named = LinearRegression().fit(frame[FEATURES], frame.y)
    with pytest.raises(ModelError, match=r"fitted on columns \['a', 'b', 'c'\], not \['c', 'b', 'a'\]"):
        score(rows, named, ["c", "b", "a"])
