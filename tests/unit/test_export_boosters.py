"""Export of the boosted-tree types (lightgbm, xgboost) and serving them, without a JVM.

sparkwright's own pipelines (``fit_model``) with categoricals are fitted on a few hundred hotel-like rows
and exported; held-out rows (with unseen levels and nulls) scored by the exported MLflow pyfunc model
equal Spark's ``transform``: predictions and probabilities to a relative 1e-9, labels exactly. The
exported model lists lightgbm / xgboost in its requirements, loads where pyspark cannot be imported, and
``sparkwright serve``'s app serves a registered lightgbm model over HTTP.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import version

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from pyspark.ml import PipelineModel

from sparkwright.config import ModelSpec
from sparkwright.deploy.export import export_pipeline, save_pyfunc, supported_stages
from sparkwright.models import fit_model, predict

SCHEMA = "city string, room string, lead double, nights int, price double, booked string, tier string"
CATEGORICAL = ["city", "room"]
NUMERIC = ["lead", "nights"]
INPUTS = [*CATEGORICAL, *NUMERIC]
INPUT_TYPES = {"city": "string", "room": "string", "lead": "double", "nights": "int"}
TOLERANCE = 1e-9
CITY = {"lisbon": 40, "porto": 20, "faro": 30, "braga": 0, "evora": 55}
ROOM = {"double": 0, "suite": 60, "single": -15}


def _rows(n: int, seed: int, *, held_out: bool) -> list[tuple]:
    """Price, booked and tier depend on every feature; held-out rows add an unseen city and room, and nulls."""
    rng = np.random.default_rng(seed)
    cities = [*CITY, "coimbra"] if held_out else list(CITY)
    rooms = [*ROOM, "penthouse"] if held_out else list(ROOM)
    rows = []
    for _ in range(n):
        city, room = str(rng.choice(cities)), str(rng.choice(rooms))
        lead, nights = float(rng.uniform(0, 200)), int(rng.integers(1, 10))
        price = 60 + CITY.get(city, 10) + ROOM.get(room, 90) + 0.3 * lead + 5 * nights + rng.normal(0, 8)
        score = (price - 150) / 25 + rng.normal(0, 0.6)
        tier = "low" if score < -0.7 else "mid" if score < 0.8 else "high"
        null_lead = held_out and rng.random() < 0.1
        rows.append((city, room, None if null_lead else lead, nights, float(price), "yes" if score > 0 else "no", tier))
    return rows


@pytest.fixture(scope="module")
def train(spark):
    return spark.createDataFrame(_rows(360, seed=1, held_out=False), SCHEMA).cache()


@pytest.fixture(scope="module")
def held_out(spark):
    return spark.createDataFrame(_rows(160, seed=2, held_out=True), SCHEMA).select(*INPUTS).cache()


# name -> (type, params, task, label, log_label, threshold)
CASES = {
    "lightgbm-regression-log": ("lightgbm", {"n_estimators": 40}, "regression", "price", True, None),
    "lightgbm-binary-threshold": ("lightgbm", {"n_estimators": 30}, "classification", "booked", False, 0.35),
    "lightgbm-multiclass-early-stopping": (
        "lightgbm",
        {"n_estimators": 300, "early_stopping_rounds": 5},
        "classification",
        "tier",
        False,
        None,
    ),
    "xgboost-regression-log-early-stopping": (
        "xgboost",
        {"n_estimators": 300, "max_depth": 3, "early_stopping_rounds": 5},
        "regression",
        "price",
        True,
        None,
    ),
    "xgboost-binary-threshold": (
        "xgboost",
        {"n_estimators": 20, "max_depth": 3},
        "classification",
        "booked",
        False,
        0.35,
    ),
    "xgboost-multiclass-distributed": (
        "xgboost",
        {"n_estimators": 20, "max_depth": 3, "training": "distributed"},
        "classification",
        "tier",
        False,
        None,
    ),
}


def _fit(train, case: str):
    type_, params, task, label, log_label, threshold = CASES[case]
    return fit_model(
        train,
        ModelSpec(type=type_, params=params),
        label_col=label,
        categorical=CATEGORICAL,
        numeric=NUMERIC,
        impute="median",
        task=task,
        log_label=log_label,
        threshold=threshold,
    )


@pytest.fixture(scope="module")
def fitted(train):
    """Each case fitted once, on first use."""
    cache: dict[str, object] = {}

    def get(case: str):
        if case not in cache:
            cache[case] = _fit(train, case)
        return cache[case]

    return get


def _relative_difference(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    assert expected.shape == actual.shape
    scale = np.maximum(np.maximum(np.abs(expected), np.abs(actual)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(expected - actual) / scale))


@pytest.mark.parametrize("case", list(CASES))
def test_exported_model_equals_spark(case, fitted, held_out, tmp_path):
    model = fitted(case)
    type_, _, task, *_ = CASES[case]
    spark_pdf = predict(model, held_out).toPandas()
    scorer = export_pipeline(model.pipeline_model, held_out.schema)
    folder = save_pyfunc(scorer, tmp_path / "model")
    predicted = mlflow.pyfunc.load_model(str(folder)).predict(held_out.toPandas())

    assert len(predicted) == len(spark_pdf) == 160
    if task == "regression":
        assert _relative_difference(spark_pdf.prediction, predicted.prediction) <= TOLERANCE
    else:
        assert list(predicted.prediction) == list(spark_pdf.prediction)
        probabilities = np.stack([v.toArray() for v in spark_pdf.probability])
        assert _relative_difference(probabilities, predicted[scorer.output_columns[1:]].to_numpy()) <= TOLERANCE
        assert scorer.classes == model.classes
    # The library itself scores the export, so it is a requirement of the model (and the other one is not).
    requirements = (folder / "requirements.txt").read_text()
    other = {"lightgbm": "xgboost", "xgboost": "lightgbm"}[type_]
    assert f"{type_}=={version(type_)}" in requirements
    assert other not in requirements
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pickle"))


def test_early_stopped_exports_score_with_the_best_round(fitted):
    lightgbm_model = fitted("lightgbm-multiclass-early-stopping")
    xgboost_model = fitted("xgboost-regression-log-early-stopping")
    assert lightgbm_model.summary["best_iteration"] < 300 and xgboost_model.summary["best_iteration"] < 300
    xgb_step = next(s for s in export_pipeline(xgboost_model.pipeline_model, INPUT_TYPES).steps if s.kind == "xgboost")
    assert xgb_step.params["iterations"] == xgboost_model.summary["best_iteration"]
    lgb_step = next(
        s for s in export_pipeline(lightgbm_model.pipeline_model, INPUT_TYPES).steps if s.kind == "lightgbm"
    )
    text = lgb_step.arrays["model"].tobytes().decode()
    assert text.count("\nTree=") == lightgbm_model.summary["trees"]  # only the kept rounds travel


def test_the_threshold_stage_after_xgboost_is_exported(fitted):
    model = fitted("xgboost-binary-threshold")
    assert any(type(s).__name__ == "BinaryThreshold" for s in model.pipeline_model.stages[-2].stages)
    kinds = [s.kind for s in export_pipeline(model.pipeline_model, INPUT_TYPES).steps]
    assert kinds[-3:] == ["xgboost", "binary_threshold", "sql_index_to_label"]
    assert {"LightGBMModel", "SparkXGBRegressorModel", "SparkXGBClassifierModel", "BinaryThreshold"} <= set(
        supported_stages()
    )


def test_a_loaded_spark_model_exports_the_same(fitted, held_out, tmp_path):
    model = fitted("lightgbm-binary-threshold")
    model.pipeline_model.write().save(str(tmp_path / "spark"))
    loaded = PipelineModel.load(str(tmp_path / "spark"))
    rows = held_out.toPandas()
    expected = export_pipeline(model.pipeline_model, INPUT_TYPES).predict(rows)
    pd.testing.assert_frame_equal(export_pipeline(loaded, INPUT_TYPES).predict(rows), expected)


PROBE_WITHOUT_SPARK = textwrap.dedent(
    """
    import sys

    class Blocked:
        # This process stands for a machine where neither Spark nor sparkwright is installed.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pyspark", "py4j", "sparkwright"):
                raise ImportError(name + " is blocked")
            return None

    sys.meta_path.insert(0, Blocked())
    import mlflow.pyfunc
    import pandas as pd

    for folder, output in zip(sys.argv[2::2], sys.argv[3::2]):
        mlflow.pyfunc.load_model(folder).predict(pd.read_pickle(sys.argv[1])).to_pickle(output)
    print("LOADED", sorted({m.split(".")[0] for m in sys.modules} & {"pyspark", "py4j", "sparkwright"}))
    """
)


def test_exported_boosters_score_in_a_process_without_pyspark(fitted, held_out, tmp_path):
    rows = held_out.toPandas()
    rows.to_pickle(tmp_path / "input.pkl")
    arguments, expected = [], []
    for case in ("lightgbm-multiclass-early-stopping", "xgboost-binary-threshold"):
        scorer = export_pipeline(fitted(case).pipeline_model, held_out.schema)
        arguments += [str(save_pyfunc(scorer, tmp_path / case)), str(tmp_path / f"{case}.pkl")]
        expected.append(scorer.predict(rows))
    done = subprocess.run(
        [sys.executable, "-c", PROBE_WITHOUT_SPARK, str(tmp_path / "input.pkl"), *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    for output, frame in zip(arguments[1::2], expected, strict=True):
        pd.testing.assert_frame_equal(pd.read_pickle(output), frame)


def test_serve_scores_a_registered_lightgbm_model_over_http(fitted, held_out, tmp_path_factory):
    from fastapi.testclient import TestClient

    from sparkwright.deploy.serve import create_app, load_served_model
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    model = fitted("lightgbm-binary-threshold")
    ws = Workspace.resolve(tmp_path_factory.mktemp("serve-lightgbm") / "ws")
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    example = held_out.where("lead IS NOT NULL").limit(5)
    with tracker.run(tracker.experiment_id("bookings"), "lightgbm") as run_id:
        logged = tracker.log_spark_model(
            run_id,
            model.pipeline_model,
            input_example=example.toPandas(),
            predictions=predict(model, example).select("prediction").toPandas(),
        )
    tracker.register(logged, "bookings")
    served = load_served_model(Registry(tracker), "models:/bookings/1")  # exported here, once
    assert served.details["exported"] is True
    client = TestClient(create_app(served))

    rows = held_out.where("lead IS NOT NULL").limit(25).cache()
    records = [{"city": r.city, "room": r.room, "lead": r.lead, "nights": r.nights} for r in rows.collect()]
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = predict(model, rows).toPandas()
    assert body["predictions"] == list(expected.prediction)
    assert body["classes"] == ["no", "yes"]
    probabilities = np.stack([v.toArray() for v in expected.probability])
    np.testing.assert_allclose(np.array(body["probabilities"]), probabilities, rtol=0, atol=1e-12)
