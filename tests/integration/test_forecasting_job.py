"""Task forecasting end to end on real Spark, Delta and MLflow: the txhousing demo through the CLI (backtests,
leaderboard, forecasts table, registered forecaster without Spark, per-series models, the global gbt and
routing, ``sparkwright predict`` and ``serve``), and through the Python API a project whose series include one
that fails and one too short, reported with their keys instead of ending the run, and one with exogenous
columns."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sparkwright
from sparkwright.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The txhousing example on its first 800 rows (5 cities, monthly): (workspace, CLI output)."""
    ws = tmp_path_factory.mktemp("txhousing") / "ws"
    result = runner.invoke(
        app, ["demo", "--example", "txhousing", "--sample", "800", "--workspace", str(ws)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return ws, result.output


def test_demo_ranks_the_models_against_the_seasonal_naive_baseline(demo):
    _ws, output = demo
    assert "Leaderboard (mase, backtest windows)" in output and "baseline" in output and "ets" in output
    assert "theta" in output and "gbt" in output
    assert "Registered models:/txhousing/1" in output and "Forecast: mlflow.pyfunc.load_model" in output


def test_forecasts_table_holds_every_city_with_nested_intervals(demo, spark):
    ws, _ = demo
    forecasts = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "forecasts")).toPandas()
    silver = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "silver")).toPandas()
    assert set(forecasts.city) == set(silver.city)
    assert set(forecasts.model) == {"baseline", "ets", "theta", "gbt", "routed"}
    for (city, _), rows in forecasts.groupby(["city", "model"]):
        last = pd.Timestamp(silver.loc[silver.city == city, "month_start"].max())
        expected = pd.date_range(last, periods=13, freq="MS")[1:]
        assert list(rows.sort_values("month_start").month_start) == list(expected)
    assert (forecasts.lo_95 <= forecasts.lo_80).all() and (forecasts.lo_80 <= forecasts.forecast).all()
    assert (forecasts.forecast <= forecasts.hi_80).all() and (forecasts.hi_80 <= forecasts.hi_95).all()
    backtests = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "backtests")).toPandas()
    assert set(backtests.status) == {"ok"} and sorted(backtests.window.unique()) == [0, 1, 2]
    gbt = backtests[backtests.model == "gbt"]
    assert len(gbt) == len(backtests[backtests.model == "ets"]) and gbt.mase.notna().all()


def test_routing_forecasts_each_city_with_the_model_that_backtested_best_on_it(demo, spark, tmp_path):
    ws, output = demo
    lake = ws / "lake" / "txhousing"
    routing = spark.read.format("delta").load(str(lake / "routing")).toPandas()
    backtests = spark.read.format("delta").load(str(lake / "backtests")).toPandas()
    mean_mase = backtests.groupby(["city", "model"])["mase"].mean()
    for row in routing.itertuples():
        assert row.model in {"baseline", "ets", "theta", "gbt"}
        assert row.score == pytest.approx(mean_mase[(row.city, row.model)])
        assert row.score == pytest.approx(mean_mase[row.city].min())  # no model did better on that city
    forecasts = spark.read.format("delta").load(str(lake / "forecasts")).toPandas()
    routed = forecasts[forecasts.model == "routed"]
    assert set(routed.city) == set(routing.city)
    for row in routing.itertuples():
        mine = routed[routed.city == row.city].sort_values("month_start").forecast.to_numpy()
        chosen = forecasts[(forecasts.city == row.city) & (forecasts.model == row.model)]
        assert mine == pytest.approx(chosen.sort_values("month_start").forecast.to_numpy())
    assert "Routing by mase" in output and "routed" in output.split("Leaderboard", 1)[1]

    from sparkwright.workspace import Workspace

    client = mlflow.MlflowClient(Workspace.resolve(ws).tracking_uri)
    (run,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "attributes.run_name = 'routed'"
    )
    assert json.loads(Path(client.download_artifacts(run.info.run_id, "routing.json")).read_text())["series"] == {
        name: int((routing.model == name).sum()) for name in ("baseline", "ets", "theta", "gbt")
    }
    model = mlflow.pyfunc.load_model(client.download_artifacts(run.info.run_id, "model", str(tmp_path)))
    answer = model.predict(pd.DataFrame({"city": list(routing.city)}))
    expected = forecasts[forecasts.model == "routed"].sort_values(["city", "month_start"])
    answer = answer.sort_values(["city", "month_start"])
    assert answer.forecast.to_numpy() == pytest.approx(expected.forecast.to_numpy(), rel=1e-6)
    assert dict(zip(answer.city, answer.model, strict=False)) == dict(zip(routing.city, routing.model, strict=True))


def test_registered_forecaster_answers_the_run_without_spark(demo, spark):
    """The champion, loaded as pyfunc, refits the city's model on its history: the run's forecast, any horizon."""
    ws, _ = demo
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    workspace = Workspace.resolve(ws)
    model = Tracker(workspace.tracking_uri, workspace.artifacts).load_pyfunc("txhousing")  # the champion
    answer = model.predict(pd.DataFrame({"city": ["Abilene"], "horizon": [6]}))
    champion = answer.model.iloc[0]
    table = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "forecasts"))
    expected = table.where(f"city = 'Abilene' AND model = '{champion}'").orderBy("month_start").toPandas().head(6)
    assert len(answer) == 6 and list(answer.month_start) == list(expected.month_start)
    assert answer.forecast.to_numpy() == pytest.approx(expected.forecast.to_numpy(), rel=1e-6)
    with pytest.raises(Exception, match="not fitted on: \\('Nowhere',\\)"):
        model.predict(pd.DataFrame({"city": ["Nowhere"]}))


def predict(ws: Path, *args: str):
    return runner.invoke(app, ["predict", *args, "--workspace", str(ws)], catch_exceptions=False)


def _forecasts(spark, ws: Path, table: str) -> pd.DataFrame:
    return spark.read.format("delta").load(str(ws / "lake" / "txhousing" / table)).toPandas()


def _champion(ws: Path) -> str:
    """The leaderboard name of the model registered as champion (its run's name)."""
    from sparkwright.workspace import Workspace

    uri = Workspace.resolve(ws).tracking_uri
    # The registry URI explicitly: MLflow's fluent one, which an earlier test may have set, would win otherwise.
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    version = client.get_model_version_by_alias("txhousing", "champion")
    return client.get_run(version.run_id).info.run_name


def test_predict_writes_the_runs_forecasts_and_a_rerun_replaces_them(demo, spark, tmp_path):
    ws, _ = demo
    run = _forecasts(spark, ws, "forecasts")
    keys = tmp_path / "cities.csv"
    keys.write_text("city\n" + "\n".join(sorted(set(run.city))) + "\n")
    args = ["--model", "models:/txhousing@champion", "--input", str(keys), "--output", "txhousing/predicted"]
    first = predict(ws, *args)
    assert first.exit_code == 0, first.output
    assert "60 forecast rows of the series in" in first.output and "(version 0)" in first.output
    predicted = _forecasts(spark, ws, "predicted")
    expected = run[run.model == _champion(ws)]
    joined = expected.merge(predicted, on=["city", "month_start"], suffixes=("_run", ""), validate="one_to_one")
    assert len(joined) == len(predicted) == len(expected) == 5 * 12
    for column in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        assert joined[column].to_numpy() == pytest.approx(joined[f"{column}_run"].to_numpy(), rel=1e-9, abs=1e-9)
    lineage = predicted[["_model_name", "_model_version", "_model_uri", "_input"]].drop_duplicates()
    assert lineage.values.tolist() == [["txhousing", 1, "models:/txhousing/1", str(keys.resolve())]]
    again = predict(ws, *args)
    assert again.exit_code == 0 and "(version 1)" in again.output
    assert len(_forecasts(spark, ws, "predicted")) == 60  # replaced, not appended


def test_predict_takes_another_horizon_and_sets_unknown_series_aside(demo, spark, tmp_path):
    ws, _ = demo
    run = _forecasts(spark, ws, "forecasts")
    requests = tmp_path / "requests.csv"
    requests.write_text("city,horizon\nAbilene,6\nNowhere,3\n")
    outcome = predict(ws, "--model", "models:/txhousing@champion", "--input", str(requests),
                      "--output", "txhousing/shorter")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "6 forecast rows" in outcome.output and "1 row set aside" in outcome.output
    shorter = _forecasts(spark, ws, "shorter").sort_values("month_start")
    expected = run[(run.city == "Abilene") & (run.model == _champion(ws))].sort_values("month_start")
    assert len(shorter) == 6 and set(shorter.city) == {"Abilene"}
    assert shorter.forecast.to_numpy() == pytest.approx(expected.forecast.head(6).to_numpy(), rel=1e-9)
    [reject] = _forecasts(spark, ws, "shorter_rejects").itertuples()
    assert "Nowhere" in reject._1 and "('Nowhere',) is not one the model was fitted on (5 series)" in reject._2

    towns = tmp_path / "towns.csv"
    towns.write_text("town\nAbilene\n")
    missing = predict(ws, "--model", "models:/txhousing@champion", "--input", str(towns), "--output", "x/y")
    assert missing.exit_code == 3
    message = " ".join(missing.output.split())
    assert "the input lacks the series column(s) ['city'] of the forecasting model models:/txhousing/1" in message
    assert "an optional 'horizon'" in message


def test_serve_answers_forecasts_over_http(demo, spark, serve_process):
    import httpx

    ws, _ = demo
    server = serve_process(ws, "models:/txhousing@champion", env={"SPARKWRIGHT_SERVE_TOKEN": "t0ken"})
    url, auth = server.url, {"Authorization": "Bearer t0ken"}
    try:
        body = {"series": [{"city": "Abilene"}], "horizon": 3}
        answer = httpx.post(f"{url}/predict", json=body, headers=auth, timeout=30).json()["forecasts"]
        unknown = httpx.post(f"{url}/predict", json={"series": [{"city": "Nowhere"}]}, headers=auth, timeout=30)
    finally:
        out = server.stop()
    run = _forecasts(spark, ws, "forecasts")
    expected = run[(run.city == "Abilene") & (run.model == answer[0]["model"])].sort_values("month_start").head(3)
    assert [row["month_start"] for row in answer] == [t.isoformat() for t in expected.month_start]
    assert [row["forecast"] for row in answer] == pytest.approx(list(expected.forecast), rel=1e-9)
    assert unknown.status_code == 422 and "Nowhere" in unknown.text
    assert "Serving forecaster models:/txhousing/1 (5 series)" in out


def test_the_global_gbt_model_is_tracked_and_forecasts_without_spark(demo, spark):
    """The gbt run has backtest metrics, and its logged model (a booster and the features' spec) answers the
    run's forecasts and intervals from the stored history."""
    ws, _ = demo
    from sparkwright.workspace import Workspace

    client = mlflow.MlflowClient(Workspace.resolve(ws).tracking_uri)
    experiment = client.get_experiment_by_name("txhousing")
    (run,) = client.search_runs([experiment.experiment_id], "tags.mlflow.runName = 'gbt'")
    assert run.data.metrics["mase"] > 0 and run.data.params["intervals"] == "backtest"
    requirements = Path(client.download_artifacts(run.info.run_id, "model/requirements.txt")).read_text()
    assert "xgboost==" in requirements
    model = mlflow.pyfunc.load_model(client.download_artifacts(run.info.run_id, "model"))
    answer = model.predict(pd.DataFrame({"city": ["Abilene", "Amarillo"]}))
    table = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "forecasts")).where("model = 'gbt'")
    expected = table.toPandas().merge(answer, on=["city", "month_start"], suffixes=("", "_runtime"))
    assert len(answer) == 24 and len(expected) == 24
    for name in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        assert expected[f"{name}_runtime"].to_numpy() == pytest.approx(expected[name].to_numpy(), rel=1e-6)


def test_a_failing_and_a_short_series_are_reported_and_the_others_forecast(spark, tmp_path):
    rows = []
    for store, months in (("steady", 48), ("brief", 10), ("odd", 40)):
        for t, at in enumerate(pd.date_range("2018-01-01", periods=months, freq="MS")):
            at = at + pd.Timedelta(days=9) if store == "odd" and t == 20 else at
            rows.append((store, at.date().isoformat(), 100 + 10 * np.sin(t * np.pi / 6) + t))
    pd.DataFrame(rows, columns=["store", "month", "units"]).to_csv(tmp_path / "units.csv", index=False)
    project = _stores_project(
        tmp_path, "units", {"horizon": 3, "frequency": "MS", "backtest": {"windows": 2}}, [{"type": "theta"}]
    )
    result = sparkwright.run(project, spark=spark)
    problems = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.parent_run_id,
                artifact_path="series_problems.json",
                tracking_uri=result_tracking(tmp_path),
            )
        ).read_text()
    )
    by_store = {p["store"]: p for p in problems["series"]}
    assert problems["failed"] == 1 and problems["too_short"] == 1
    assert by_store["odd"]["status"] == "failed" and "2019-09-10" in by_store["odd"]["message"]
    assert by_store["brief"]["status"] == "too_short" and "10 points" in by_store["brief"]["message"]
    forecasts = spark.read.format("delta").load(result.tables["forecasts"].path).toPandas()
    assert set(forecasts.store) == {"steady"} and len(forecasts) == 2 * 3  # baseline and theta, 3 months
    assert {m.name for m in result.models} == {"baseline", "theta"}


def _stores_project(tmp_path: Path, name: str, forecasting: dict, models: list[dict]) -> dict:
    """A project over ``tmp_path / "units.csv"`` (store, month, units): one series per store."""
    return {
        "name": name,
        "task": "forecasting",
        "data": {
            "source": {"path": str(tmp_path / "units.csv")},
            "time": "month",
            "series": ["store"],
            "label": "units",
        },
        "explore": {"enabled": False},
        "forecasting": forecasting,
        "models": models,
        "workspace": str(tmp_path / "ws"),
    }


def result_tracking(tmp_path: Path) -> str:
    from sparkwright.workspace import Workspace

    return Workspace.resolve(tmp_path / "ws").tracking_uri


def test_exogenous_columns_drive_arima_in_backtests_forecasts_and_the_registered_model(spark, tmp_path):
    """Sales that jump in promotion months: ARIMA with the promotion as a regressor (its future values from
    forecasting.future) beats the same ARIMA without it, and the registered model takes the future rows."""
    rng = np.random.default_rng(3)
    months = pd.date_range("2016-01-01", periods=60, freq="MS")
    ahead = pd.date_range(months[-1], periods=7, freq="MS")[1:]
    rows, future = [], []
    for store in ("north", "south"):
        promo = rng.integers(0, 2, len(months) + 6).astype(float)
        for t, at in enumerate(months):
            rows.append((store, at.date().isoformat(), 100 + 40 * promo[t] + rng.normal(0, 2), promo[t]))
        future += [(store, at.date().isoformat(), promo[len(months) + i]) for i, at in enumerate(ahead)]
    pd.DataFrame(rows, columns=["store", "month", "units", "promo"]).to_csv(tmp_path / "units.csv", index=False)
    pd.DataFrame(future, columns=["store", "month", "promo"]).to_csv(tmp_path / "future.csv", index=False)
    forecasting = {
        "horizon": 6,
        "frequency": "MS",
        "exogenous": ["promo"],
        "future": {"path": str(tmp_path / "future.csv")},
    }
    models = [{"name": "arima_promo", "type": "arima"}, {"type": "theta"}]
    project = {**_stores_project(tmp_path, "promos", forecasting, models), "register": {"name": "promos"}}
    result = sparkwright.run(project, spark=spark)
    scores = {m.name: m.metrics["mae"] for m in result.models}
    assert scores["arima_promo"] < 0.5 * scores["theta"], scores  # the promotion explains the jumps
    forecasts = spark.read.format("delta").load(result.tables["forecasts"].path).toPandas()
    arima = forecasts[forecasts.model == "arima_promo"].sort_values(["store", "month"])
    promo = pd.DataFrame(future, columns=["store", "month", "promo"]).sort_values(["store", "month"])
    assert len(arima) == 12
    lifted = arima.forecast.to_numpy()[promo.promo.to_numpy() == 1].mean()
    plain = arima.forecast.to_numpy()[promo.promo.to_numpy() == 0].mean()
    assert lifted - plain == pytest.approx(40, abs=5)

    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    workspace = Workspace.resolve(tmp_path / "ws")
    model = Tracker(workspace.tracking_uri, workspace.artifacts).load_pyfunc("promos")
    request = promo.assign(month=pd.to_datetime(promo.month))
    answer = model.predict(request).sort_values(["store", "month"])
    assert answer.forecast.to_numpy() == pytest.approx(arima.forecast.to_numpy(), rel=1e-6)
    with pytest.raises(Exception, match="uses exogenous columns; send one row per point"):
        model.predict(pd.DataFrame({"store": ["north"]}))

    # The same future rows through `sparkwright predict` (a file in, Delta out) and the REST app.
    cli = runner.invoke(
        app,
        [
            "predict",
            "--model",
            "promos",
            "--input",
            str(tmp_path / "future.csv"),
            "--output",
            str(tmp_path / "out"),
            "--workspace",
            str(tmp_path / "ws"),
        ],
    )
    assert cli.exit_code == 0, cli.output
    batch = spark.read.format("delta").load(str(tmp_path / "out")).toPandas().sort_values(["store", "month"])
    assert batch.forecast.to_numpy() == pytest.approx(arima.forecast.to_numpy(), rel=1e-6)

    from fastapi.testclient import TestClient

    from sparkwright.deploy.forecaster import load_forecaster
    from sparkwright.deploy.forecaster_app import create_forecaster_app
    from sparkwright.registry import Registry

    loaded = load_forecaster(Registry(Tracker(workspace.tracking_uri, workspace.artifacts)), "models:/promos/1")
    client = TestClient(create_forecaster_app(loaded))
    north = promo[promo.store == "north"]
    body = {
        "series": [{"store": "north", "month": m, "promo": p} for m, p in zip(north.month, north.promo, strict=True)]
    }
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    got = [row["forecast"] for row in answer.json()["forecasts"]]
    assert got == pytest.approx(arima[arima.store == "north"].forecast.tolist(), rel=1e-6)
    assert client.post("/predict", json={"series": [{"store": "north"}]}).status_code == 422


def test_report_shows_the_scores_and_the_best_models_forecasts_in_a_browser(demo, tmp_path):
    import re

    from chromium import find_chromium, png_size, run_chromium

    ws, _ = demo
    report = ws / "reports" / "txhousing" / "profile.html"
    text = report.read_text(encoding="utf-8")
    section = text[text.index('<section id="forecasts">') :]
    assert section.index("</section>") > 0 and "mase" in section and "routed" in section and "gbt" in section
    chromium = find_chromium()
    done = run_chromium(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout).group(0)
    total, ok = (int(re.search(rf'data-images-{n}="(\d+)"', body).group(1)) for n in ("total", "ok"))
    assert total == len(re.findall(r"<img ", text)) and ok == total  # the forecast plot decodes with the others
    shot = tmp_path / "report.png"
    done = run_chromium(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", report.as_uri() + "#forecasts"
    )
    assert done.returncode == 0 and png_size(shot.read_bytes()) == (1280, 4000)
