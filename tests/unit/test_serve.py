"""`sparkwright serve`: a Spark model served through its export, validated against its signature."""

from __future__ import annotations

import subprocess

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from sparkwright.config import ModelSpec
from sparkwright.deploy.serve import INLINE_RECORDS, ServedModel, _column, create_app, load_served_model
from sparkwright.models import fit_model, predict
from sparkwright.registry import Registry
from sparkwright.tracking import Tracker

SCHEMA = "meal string, nights int, lead_time double, price double"


@pytest.fixture(scope="module")
def registered(spark, tmp_path_factory):
    """A random forest on hotel-like rows, logged and registered as 'rates' v1 in a store of its own."""
    from sparkwright.workspace import Workspace

    rng = np.random.default_rng(5)
    meals = rng.choice(["bb", "hb", "sc"], 300)
    nights = rng.integers(1, 8, 300)
    lead = rng.uniform(0, 100, 300)
    price = 50 + 30 * (meals == "hb") + 4 * nights + 0.5 * lead + rng.normal(0, 3, 300)
    rows = [(str(m), int(n), float(x), float(y)) for m, n, x, y in zip(meals, nights, lead, price, strict=True)]
    df = spark.createDataFrame(rows, SCHEMA)
    fitted = fit_model(df, ModelSpec(type="random_forest", params={"numTrees": 10}), label_col="price",
                       categorical=["meal"], numeric=["nights", "lead_time"], impute="median")  # fmt: skip
    ws = Workspace.resolve(tmp_path_factory.mktemp("serve") / "ws")
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    example = df.drop("price").limit(5)
    with tracker.run(tracker.experiment_id("rates"), "rf") as run_id:
        outputs = predict(fitted, example).select("prediction").toPandas()
        logged = tracker.log_spark_model(run_id, fitted.pipeline_model, input_example=example.toPandas(),
                                         predictions=outputs)  # fmt: skip
    tracker.register(logged, "rates")
    expected = predict(fitted, df.drop("price").limit(20)).toPandas()
    return ws, Registry(tracker), expected


@pytest.fixture(scope="module")
def client(registered):
    _, registry, _ = registered
    served = load_served_model(registry, "models:/rates/1")  # exports it once: the session is active here
    return TestClient(create_app(served, token="s3cret", max_body_bytes=20_000))


AUTH = {"Authorization": "Bearer s3cret"}


def _records(frame):
    return [{"meal": r.meal, "nights": int(r.nights), "lead_time": float(r.lead_time)} for r in frame.itertuples()]


def test_predictions_equal_sparks(registered, client):
    _, _, expected = registered
    response = client.post("/predict", json={"records": _records(expected)}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "rates", "version": "1"}
    assert body["predictions"] == pytest.approx(list(expected["prediction"]), rel=1e-9)


@pytest.mark.parametrize(
    ("record", "fields", "kind"),
    [
        ({"meal": "bb", "nights": 2}, {"lead_time"}, "missing"),
        ({"meal": "bb", "nights": 2, "lead_time": 5.0, "price": 1.0}, {"price"}, "extra_forbidden"),
        ({"meal": 3, "nights": "two", "lead_time": 5.0}, {"meal", "nights"}, "_type"),
        ({"meal": "bb", "nights": 2.5, "lead_time": "soon"}, {"nights", "lead_time"}, ""),
    ],
)
def test_bad_records_get_422_naming_each_field(client, record, fields, kind):
    response = client.post("/predict", json={"records": [record]}, headers=AUTH)
    assert response.status_code == 422
    details = response.json()["detail"]
    assert {d["loc"][-1] for d in details} >= fields
    assert all(kind in d["type"] for d in details if d["loc"][-1] in fields)


def test_an_unseen_category_that_spark_would_refuse_is_a_422_naming_it(client):
    record = {"meal": "all_inclusive", "nights": 2, "lead_time": 5.0}
    response = client.post("/predict", json={"records": [record]}, headers=AUTH)
    # StringIndexer keeps unseen levels (handleInvalid=keep), so this one scores, exactly as in Spark.
    assert response.status_code == 200


def test_token_health_metadata_docs_and_size_limit(client):
    assert client.post("/predict", json={"records": []}).status_code == 401
    assert client.get("/metadata").status_code == 401
    assert client.get("/metadata", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/health").json() == {"status": "ok", "model": "rates", "version": "1"}
    meta = client.get("/metadata", headers=AUTH).json()
    assert meta["signature"]["inputs"] == [
        {"name": "meal", "type": "string", "required": True},
        {"name": "nights", "type": "long", "required": True},  # the export reads Spark ints as longs
        {"name": "lead_time", "type": "double", "required": True},
    ]
    assert meta["exported"] is True and meta["name"] == "rates"
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
    big = {"records": [{"meal": "bb", "nights": 1, "lead_time": 1.0}] * 1000}
    assert client.post("/predict", json=big, headers=AUTH).status_code == 413
    assert client.post("/predict", json={"records": []}, headers=AUTH).status_code == 422


def _start_serve(serve_process, ws, *options: str):
    """``sparkwright serve --model models:/rates/1`` of ``ws`` with a bearer token, once it answers."""
    env = {"SPARKWRIGHT_SERVE_TOKEN": "t0ken", "SPARKWRIGHT_TRACKING_URI": ws.tracking_uri}
    return serve_process(ws.root, "models:/rates/1", *options, env=env)


def test_serve_command_binds_loopback_and_scores_without_spark(registered, client, serve_process):
    ws, _, expected = registered
    server = _start_serve(serve_process, ws)
    proc, url = server.proc, server.url
    try:
        response = httpx.post(f"{url}/predict", json={"records": _records(expected.head(3))},
                              headers={"Authorization": "Bearer t0ken"}, timeout=10)  # fmt: skip
        assert response.json()["predictions"] == pytest.approx(list(expected["prediction"].head(3)), rel=1e-9)
        # Loaded from the export logged when the module fixture served it: no JVM in the server.
        java = subprocess.run(["pgrep", "-P", str(proc.pid), "java"], capture_output=True, text=True)
        assert java.stdout.strip() == ""
    finally:
        out = server.stop()
    assert "Serving models:/rates/1 through its NumPy export (no Spark) on http://127.0.0.1:" in out


def test_serve_command_with_workers_shares_the_port_between_processes(registered, client, serve_process):
    ws, _, expected = registered
    server = _start_serve(serve_process, ws, "--workers", "2")
    proc, url = server.proc, server.url
    try:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
        auth = {"Authorization": "Bearer t0ken"}
        assert httpx.get(f"{url}/metadata", headers=auth).json()["version"] == "1"
        assert httpx.get(f"{url}/metadata").status_code == 401  # the workers got the token
        for _ in range(4):  # a new connection each time: whichever worker takes it answers alike
            response = httpx.post(f"{url}/predict", json={"records": _records(expected.head(2))}, headers=auth)
            assert response.json()["predictions"] == pytest.approx(list(expected["prediction"].head(2)), rel=1e-9)
    finally:
        out = server.stop()
    assert "in 2 processes" in out


def test_many_records_score_off_the_event_loop_alike(registered, client):
    _, _, expected = registered
    records = _records(expected) * 5  # over INLINE_RECORDS: scored in a worker thread
    assert len(records) > INLINE_RECORDS
    response = client.post("/predict", json={"records": records}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == pytest.approx(list(expected["prediction"]) * 5, rel=1e-9)


def test_an_integer_too_large_for_its_column_is_a_422_naming_it(client):
    record = {"meal": "bb", "nights": 2**63, "lead_time": 5.0}
    response = client.post("/predict", json={"records": [record]}, headers=AUTH)
    assert response.status_code == 422
    assert [d["loc"][-1] for d in response.json()["detail"]] == ["nights"]


def test_a_chunked_body_is_held_to_the_size_limit(client):
    def chunks(count):
        yield b'{"records": ['
        yield b",".join([b'{"meal": "bb", "nights": 1, "lead_time": 1.0}'] * count)
        yield b"]}"

    small = client.post("/predict", content=chunks(3), headers={**AUTH, "Content-Type": "application/json"})
    assert small.status_code == 200 and len(small.json()["predictions"]) == 3
    big = client.post("/predict", content=chunks(1000), headers={**AUTH, "Content-Type": "application/json"})
    assert big.status_code == 413


@pytest.mark.parametrize(
    ("values", "spark_type"),
    [
        (["bb", None, "hb"], "string"),
        (["bb", "hb"], "string"),
        ([1.5, None, -0.0], "double"),
        ([1.5, 2.25], "double"),
        ([0.1, None], "float"),
        ([1, None, 2**62 + 1], "bigint"),
        ([3, 4], "int"),
        ([True, None, False], "boolean"),
    ],
)
def test_columns_from_records_equal_the_scorers_own_input_columns(values, spark_type):
    """The server builds the scorer's columns from validated records as input_column does from pandas."""
    import pandas as pd

    from sparkwright.deploy.export.runtime import input_column

    ours = _column(values, spark_type)
    theirs = input_column(pd.Series(values, dtype=object), spark_type, "x")
    assert ours.type == theirs.type
    assert ours.values.dtype == theirs.values.dtype
    assert ours.nulls().tolist() == theirs.nulls().tolist()
    keep = ~theirs.nulls()
    assert ours.values[keep].tolist() == theirs.values[keep].tolist()


PYFUNC_CODE = """
import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class Echo(PythonModel):
    def predict(self, context, model_input, params=None):
        dtypes = ",".join(str(t) for t in model_input.dtypes)
        return pd.DataFrame({"prediction": [dtypes] * len(model_input)})


set_model(Echo())
"""


def test_a_pyfunc_model_gets_a_frame_of_its_signature_types(tmp_path):
    """Any MLflow pyfunc model (not an export) gets pandas columns that pass MLflow's schema check."""
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    code = tmp_path / "echo.py"
    code.write_text(PYFUNC_CODE)
    columns = [("meal", "string"), ("nights", "long"), ("rooms", "integer"), ("lead_time", "double"),
               ("breakfast", "boolean")]  # fmt: skip
    signature = ModelSignature(
        inputs=Schema([ColSpec(kind, name, required=False) for name, kind in columns]),
        outputs=Schema([ColSpec("string", "prediction")]),
    )
    mlflow.pyfunc.save_model(str(tmp_path / "model"), python_model=str(code), signature=signature)
    served = ServedModel(mlflow.pyfunc.load_model(str(tmp_path / "model")), "echo", "1",
                         [(name, kind, False) for name, kind in columns], ["prediction"])  # fmt: skip
    app = TestClient(create_app(served))
    full = {"meal": "bb", "nights": 2, "rooms": 1, "lead_time": 5.0, "breakfast": True}
    response = app.post("/predict", json={"records": [full]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["object,int64,int32,float64,bool"]
    gaps = {**full, "meal": None, "lead_time": None}
    response = app.post("/predict", json={"records": [full, gaps]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["object,int64,int32,float64,bool"] * 2
    # MLflow's schema check has no null for an integer column: a 422 with its message, not a 500.
    response = app.post("/predict", json={"records": [full, {**full, "nights": None}]})
    assert response.status_code == 422
    assert "Failed to enforce schema" in response.json()["detail"]
