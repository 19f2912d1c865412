"""`sparkwright serve`: a Spark model served through its export, validated against its signature."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from sparkwright.config import ModelSpec
from sparkwright.deploy.serve import create_app, load_served_model
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_binds_loopback_and_scores_without_spark(registered, client):
    ws, _, expected = registered
    port = _free_port()
    command = [str(Path(sys.executable).with_name("sparkwright")), "serve", "--model", "models:/rates/1",
               "--port", str(port), "--workspace", str(ws.root)]  # fmt: skip
    env = {**os.environ, "SPARKWRIGHT_SERVE_TOKEN": "t0ken", "SPARKWRIGHT_TRACKING_URI": ws.tracking_uri}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.2)
        response = httpx.post(f"{url}/predict", json={"records": _records(expected.head(3))},
                              headers={"Authorization": "Bearer t0ken"}, timeout=10)  # fmt: skip
        assert response.json()["predictions"] == pytest.approx(list(expected["prediction"].head(3)), rel=1e-9)
        # Loaded from the export logged when the module fixture served it: no JVM in the server.
        java = subprocess.run(["pgrep", "-P", str(proc.pid), "java"], capture_output=True, text=True)
        assert java.stdout.strip() == ""
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "Serving models:/rates/1 through its NumPy export (no Spark) on http://127.0.0.1:" in out
