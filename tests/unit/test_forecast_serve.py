"""A registered forecasting model served over REST and forecast in batch: a small Forecaster built from pandas
history with statsforecast's Theta, logged and registered in a store of its own (no forecasting run)."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sparkwright.deploy.forecaster import MAX_HORIZON, load_forecaster
from sparkwright.deploy.forecaster_app import create_forecaster_app
from sparkwright.forecast.logged import log_forecast_model
from sparkwright.forecast.runtime import Forecaster
from sparkwright.models.forecasters import forecaster_type
from sparkwright.registry import Registry
from sparkwright.tracking import Tracker

AUTH = {"Authorization": "Bearer s3cret"}
STORES = ("north", "south", "west")


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """Theta on three stores' 36 monthly points, horizon 4, registered as 'units' v1: (registry, loaded
    forecaster, pyfunc model)."""
    from sparkwright.workspace import Workspace

    rows = []
    for i, store in enumerate(STORES):
        for t, month in enumerate(pd.date_range("2020-01-01", periods=36, freq="MS")):
            rows.append((store, month, 100 * (i + 1) + 10 * np.sin(t * np.pi / 6) + t))
    history = pd.DataFrame(rows, columns=["store", "month", "units"])
    name, kwargs = forecaster_type("theta").constructor({}, 12)
    meta = {
        "series": ["store"],
        "time": "month",
        "value": "units",
        "freq": "MS",
        "horizon": 4,
        "levels": [80, 95],
        "models": [{"key": [s], "name": "theta", "class": name, "kwargs": kwargs} for s in STORES],
    }
    ws = Workspace.resolve(tmp_path_factory.mktemp("forecast-serve") / "ws")
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    with tracker.run(tracker.experiment_id("units"), "theta") as run_id:
        logged = log_forecast_model(tracker, run_id, Forecaster(meta, history))
    tracker.register(logged, "units")
    registry = Registry(tracker)
    loaded = load_forecaster(registry, "models:/units/1")
    pyfunc = mlflow.pyfunc.load_model(str(tracker.download_model(logged.model_uri)))
    return registry, loaded, pyfunc


@pytest.fixture(scope="module")
def client(registered):
    _, loaded, _ = registered
    return TestClient(create_forecaster_app(loaded, token="s3cret", max_body_bytes=20_000))


def test_predict_answers_what_the_pyfunc_model_gives(registered, client):
    _, _, pyfunc = registered
    body = {"series": [{"store": "north"}, {"store": "west", "horizon": 2}], "horizon": 6}
    answer = client.post("/predict", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    rows = pd.DataFrame(answer.json()["forecasts"])
    expected = pyfunc.predict(pd.DataFrame({"store": ["north", "west"], "horizon": [6, 2]}))
    assert list(rows.store) == ["north"] * 6 + ["west"] * 2
    assert list(rows.month) == [t.isoformat() for t in expected.month]
    for column in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        assert rows[column].to_numpy() == pytest.approx(expected[column].to_numpy(), rel=1e-12)
    assert set(rows.model) == {"theta"} and answer.json()["model"] == {"name": "units", "version": "1"}
    # The shape /predict of any served model takes, and the model's horizon when none is given.
    records = client.post("/predict", json={"records": [{"store": "south"}]}, headers=AUTH).json()["forecasts"]
    assert len(records) == 4 and {r["store"] for r in records} == {"south"}


def test_get_forecast_answers_one_series(client):
    one = client.get("/forecast", params={"store": "south", "horizon": 3}, headers=AUTH)
    posted = client.post("/predict", json={"series": [{"store": "south"}], "horizon": 3}, headers=AUTH)
    assert one.status_code == 200 and one.json() == posted.json()
    missing = client.get("/forecast", params={"horizon": 3}, headers=AUTH)
    assert missing.status_code == 422 and "['store']" in missing.json()["detail"]
    docs = client.get("/openapi.json").json()["paths"]["/forecast"]["get"]["parameters"]
    assert {p["name"] for p in docs} == {"store", "horizon"}


def test_workers_of_serve_build_the_forecaster_app(registered, monkeypatch):
    from sparkwright.deploy.serve import WORKER_CONFIG_ENV, worker_app, worker_config

    registry, loaded, _ = registered
    monkeypatch.setenv(WORKER_CONFIG_ENV, worker_config(registry, loaded, token="s3cret", max_body_bytes=20_000))
    worker = TestClient(worker_app())
    answer = worker.get("/forecast", params={"store": "west"}, headers=AUTH)
    assert answer.status_code == 200 and len(answer.json()["forecasts"]) == 4


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"series": [{"store": "north"}, {"store": "nowhere"}]}, "not fitted on: ('nowhere',)"),
        ({"series": [{"store": "north"}], "horizon": 0}, "greater than or equal to 1"),
        ({"series": [{"store": "north", "horizon": 2.5}]}, "valid integer"),
        ({"series": [{"store": "north"}], "horizon": MAX_HORIZON + 1}, f"less than or equal to {MAX_HORIZON}"),
        ({"series": [{"shop": "north"}]}, "shop"),
        ({"series": [{"store": 7}]}, "valid string"),
        ({"series": [{"store": "north", "horizon": 2}, {"store": "north", "horizon": 3}]}, "('north',)"),
        ({"series": [{"store": "north"}], "records": [{"store": "north"}]}, "one list of them"),
        ({"series": []}, "at least 1 item"),
    ],
)
def test_bad_requests_are_422_naming_the_problem(client, body, needle):
    answer = client.post("/predict", json=body, headers=AUTH)
    assert answer.status_code == 422 and needle in answer.text, answer.text


def test_token_health_metadata_docs_and_size_limit(client):
    assert client.get("/health").json() == {"status": "ok", "model": "units", "version": "1"}
    assert client.post("/predict", json={"series": [{"store": "north"}]}).status_code == 401
    assert client.get("/forecast", params={"store": "north"}).status_code == 401
    meta = client.get("/metadata", headers=AUTH).json()
    assert meta["task"] == "forecasting" and meta["series_columns"] == ["store"] and meta["series"] == 3
    assert meta["horizon"] == 4 and meta["levels"] == [80, 95] and meta["frequency"] == "MS"
    assert client.get("/docs").status_code == 200
    big = {"series": [{"store": "north"}] * 2000}
    assert client.post("/predict", json=big, headers=AUTH).status_code == 413


def test_batch_forecasts_known_series_and_sets_the_others_aside(spark, registered, tmp_path):
    from sparkwright.data import read_table
    from sparkwright.deploy.batch import score_batch

    registry, _, pyfunc = registered
    requests = tmp_path / "requests.csv"
    requests.write_text(
        "store,horizon,note\nnorth,6,a\nnorth,6,b\nsouth,,c\nnowhere,3,d\nwest,0,e\nwest,2.5,f\n"
    )  # north asked twice alike (once), south at the model's horizon, west's horizons refused
    output = str(tmp_path / "forecasts")
    result = score_batch(spark, registry, "models:/units/1", str(requests), output)
    assert result.forecasts and result.rows == 6 + 4 and result.rejected == 3
    table = read_table(spark, output).toPandas().sort_values(["store", "month"])
    expected = pyfunc.predict(pd.DataFrame({"store": ["north", "south"], "horizon": [6, 4]}))
    assert list(table.month) == list(expected.month) and list(table.store) == list(expected.store)
    assert table.forecast.to_numpy() == pytest.approx(expected.forecast.to_numpy(), rel=1e-9)
    assert set(table._model_uri) == {"models:/units/1"} and set(table._model_version) == {1}
    assert set(table._input) == {str(requests.resolve())}
    reasons = {r._raw: r._reason for r in read_table(spark, result.rejects_table).collect()}
    assert "not one the model was fitted on" in reasons['{"store":"nowhere","horizon":3}']
    assert "from 1 to" in reasons['{"store":"west","horizon":0}']
    assert any("west" in raw and "2.5" in raw for raw in reasons), reasons  # not an integer: malformed in the file


def test_batch_refuses_an_input_without_the_series_column(spark, registered, tmp_path):
    from sparkwright.deploy.batch import score_batch
    from sparkwright.errors import DataError

    registry, _, _ = registered
    requests = tmp_path / "shops.csv"
    requests.write_text("shop\nnorth\n")
    with pytest.raises(DataError, match=r"lacks the series column\(s\) \['store'\] of the forecasting model"):
        score_batch(spark, registry, "models:/units/1", str(requests), str(tmp_path / "out"))
