"""Models take rows shaped like the source: raw CSV rows score through batch, stream, REST and the export
exactly as the silver rows score through Spark, and rows a rule refuses get a reason, never a guess."""

from __future__ import annotations

import math
import os
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

import sparkwright

pytestmark = pytest.mark.slow

SAMPLE = 1_200
# Each example keeps its row id (it keys the comparison: hotel_rates' is a feature, wa_churn's its `keys`) and
# gains a rule to refuse rows by.
PROJECTS = {
    "hotel_rates": {
        "drop": ["arrival_date"],
        "models": [{"type": "lightgbm", "params": {"n_estimators": 60, "num_leaves": 15}}],
        "quality": [{"rule": "range", "column": "adults", "min": 1, "max": 3}],
        "optional": "country",
        "category": ("meal", "a meal plan never seen"),
    },
    "wa_churn": {
        "drop": [],
        "models": [{"type": "random_forest", "params": {"numTrees": 20, "maxDepth": 6}}],
        "quality": [{"rule": "range", "column": "tenure", "min": 0, "max": 70}],
        "optional": "total_charges",
        "category": ("payment_method", "carrier pigeon"),
    },
}


@pytest.fixture(scope="module", params=sorted(PROJECTS))
def run(request, spark, tmp_path_factory):
    """The example run on a sample; its registered model, its CSV and the silver rows scored by the fitted model."""
    from sparkwright.data import read_table
    from sparkwright.demo import materialise_example
    from sparkwright.models import predict
    from sparkwright.registry import Registry
    from sparkwright.settings import get_settings
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    example, setup = request.param, PROJECTS[request.param]
    ws = Workspace.resolve(tmp_path_factory.mktemp(example) / "ws")
    os.environ["SPARKWRIGHT_TRACKING_URI"] = ws.tracking_uri
    get_settings.cache_clear()
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.set_registry_uri(ws.tracking_uri)
    project = materialise_example(example, ws, sample_rows=SAMPLE)
    raw = yaml.safe_load(project.read_text())
    raw["data"]["drop"] = setup["drop"]
    raw.update(models=setup["models"], quality=setup["quality"], explore={"enabled": False}, workspace=str(ws.root))
    for key in ("search", "tune"):
        raw.pop(key, None)
    project.write_text(yaml.safe_dump(raw))
    result = sparkwright.run(project, spark=spark)
    silver = read_table(spark, result.tables["silver"].path, result.tables["silver"].version)
    expected = predict(result.best.fitted, silver.drop(result.label)).toPandas().set_index("rownames")
    csv = project.parent / "data" / f"{example}.csv"
    yield {
        "example": example,
        "setup": setup,
        "keys": raw["data"].get("keys", []),
        "result": result,
        "registry": Registry(Tracker(ws.tracking_uri, ws.artifacts)),
        "uri": f"models:/{result.registered_model}/1",
        "csv": csv,
        "raw": pd.read_csv(csv),
        "expected": expected,
        "ws": ws,
    }
    os.environ.pop("SPARKWRIGHT_TRACKING_URI", None)
    get_settings.cache_clear()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _assert_same(predictions: pd.Series, expected: pd.DataFrame, classification: bool) -> None:
    """Predictions keyed by rownames equal the silver rows' (labels exactly, numbers to 1e-9)."""
    common = predictions.index.intersection(expected.index)
    assert len(common) >= 0.95 * len(predictions)  # rows training quarantined are not in silver
    want = expected.loc[common, "prediction"]
    got = predictions.loc[common]
    if classification:
        assert got.astype(str).tolist() == want.astype(str).tolist()
    else:
        np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-9)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a REST client sends them: JSON null for a missing value, integers as integers."""
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _classification(run) -> bool:
    return run["example"] == "wa_churn"


def test_the_logged_model_takes_the_sources_columns(run):
    from mlflow.models import Model

    from sparkwright.data.preparation import MODEL_INPUT_KEY
    from sparkwright.registry import parse_model_ref

    local = run["registry"].tracker.download_model(run["registry"].resolve(parse_model_ref(run["uri"])).source)
    logged = Model.load(str(local / "MLmodel"))
    assert logged.metadata[MODEL_INPUT_KEY] == "raw"
    inputs = {c.name: c for c in logged.signature.inputs.inputs}
    label = run["result"].label
    assert set(inputs) == set(run["raw"].columns) - {label, *run["setup"]["drop"]}
    assert not any(name.endswith("_missing") for name in inputs)
    assert inputs[run["setup"]["optional"]].required is False
    # A key is read (typed, passed through) but not needed to score; a feature is.
    key_required = "rownames" not in run["keys"]
    assert inputs["rownames"].required is key_required and inputs["rownames"].type.name == "long"


def test_batch_scores_the_raw_csv_like_spark_scores_silver_and_sets_refused_rows_aside(run, spark, tmp_path):
    from sparkwright.data import read_table
    from sparkwright.deploy.batch import score_batch

    out = str(tmp_path / "scored")
    result = score_batch(spark, run["registry"], run["uri"], str(run["csv"]), out)
    scored = read_table(spark, out).toPandas().set_index("rownames")
    _assert_same(scored["prediction"], run["expected"], _classification(run))
    # Rows the quality rule quarantined at training are refused here too, each with its reason.
    rule = run["setup"]["quality"][0]
    broken = run["raw"][~_passes(run["raw"], rule)]
    assert result.rejected == len(broken) and len(scored) + len(broken) == len(run["raw"])
    if len(broken):
        rejects = read_table(spark, result.rejects_table).toPandas()
        assert all(rule["column"] in reason for reason in rejects["_reason"])


def _passes(frame: pd.DataFrame, rule: dict) -> pd.Series:
    values = frame[rule["column"]]
    return values.isna() | values.between(rule["min"], rule["max"])


def test_a_stream_of_raw_files_scores_alike(run, spark, tmp_path):
    from sparkwright.data import read_table
    from sparkwright.deploy.stream import start_scoring_stream, stream_spec

    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(run["csv"], landing / "part-0.csv")
    spec = stream_spec(str(landing), str(tmp_path / "streamed"))
    start_scoring_stream(spark, run["registry"], run["uri"], spec, trigger="available-now").awaitTermination()
    streamed = read_table(spark, spec.output).toPandas().set_index("rownames")
    _assert_same(streamed["prediction"], run["expected"], _classification(run))
    assert len(streamed) + read_table(spark, spec.rejects).count() == len(run["raw"])


def test_rest_and_the_export_score_raw_records_alike(run, spark, tmp_path):
    from fastapi.testclient import TestClient

    from sparkwright.deploy.export import export_model
    from sparkwright.deploy.serve import create_app, load_served_model

    rows = run["raw"][_passes(run["raw"], run["setup"]["quality"][0])].head(200)
    inputs = rows.drop(columns=[run["result"].label])
    client = TestClient(create_app(load_served_model(run["registry"], run["uri"])))
    response = client.post("/predict", json={"records": _records(inputs)})
    assert response.status_code == 200, response.text
    _assert_same(
        pd.Series(response.json()["predictions"], index=rows["rownames"]), run["expected"], _classification(run)
    )

    folder = tmp_path / "exported"
    export_model(run["uri"], folder, tracking_uri=run["ws"].tracking_uri)
    scorer = mlflow.pyfunc.load_model(str(folder))
    exported = scorer.predict(inputs)
    assert exported["_reason"].isna().all()
    _assert_same(
        pd.Series(exported["prediction"].to_numpy(), index=rows["rownames"]), run["expected"], _classification(run)
    )


def test_rest_takes_a_missing_optional_field_and_an_unseen_category_and_names_bad_fields(run, spark):
    from fastapi.testclient import TestClient

    from sparkwright.deploy.batch import load_spark_model
    from sparkwright.deploy.serve import create_app, load_served_model

    setup = run["setup"]
    record = _records(run["raw"][_passes(run["raw"], setup["quality"][0])].drop(columns=[run["result"].label]).head(1))[
        0
    ]
    client = TestClient(create_app(load_served_model(run["registry"], run["uri"])))
    spark_model = load_spark_model(run["registry"], run["uri"]).pipeline

    def spark_prediction(row: dict):
        frame = spark.createDataFrame(pd.DataFrame([row]))
        return spark_model.transform(frame).first()["prediction"]

    without = {k: v for k, v in record.items() if k != setup["optional"]}
    column, unseen = setup["category"]
    for variant in (without, {**record, column: unseen}):
        response = client.post("/predict", json={"records": [variant]})
        assert response.status_code == 200, response.text
        want = spark_prediction({**variant, setup["optional"]: variant.get(setup["optional"])})
        got = response.json()["predictions"][0]
        assert got == want if isinstance(want, str) else got == pytest.approx(want, rel=1e-9)

    wrong = {**record, "rownames": "seven"}
    response = client.post("/predict", json={"records": [wrong]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "records", 0, "rownames"]

    rule = setup["quality"][0]
    bad_value = 99
    response = client.post("/predict", json={"records": [record, {**record, rule["column"]: bad_value}]})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "records", 1, rule["column"]] and error["type"] == "refused"
    assert str(bad_value) in error["msg"]
