"""Task forecasting end to end on real Spark, Delta and MLflow: the txhousing demo through the CLI (backtests,
leaderboard, forecasts table, registered forecaster without Spark; per-series models and the global gbt), and
through the Python API a project whose series include one that fails and one too short, reported with their
keys instead of ending the run."""

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
    assert "Leaderboard (mase" in output and "baseline" in output and "ets" in output and "theta" in output
    assert "gbt" in output
    assert "Registered models:/txhousing/1" in output and "Forecast: mlflow.pyfunc.load_model" in output


def test_forecasts_table_holds_every_city_with_nested_intervals(demo, spark):
    ws, _ = demo
    forecasts = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "forecasts")).toPandas()
    silver = spark.read.format("delta").load(str(ws / "lake" / "txhousing" / "silver")).toPandas()
    assert set(forecasts.city) == set(silver.city) and set(forecasts.model) == {"baseline", "ets", "theta", "gbt"}
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
    project = {
        "name": "units",
        "task": "forecasting",
        "data": {
            "source": {"path": str(tmp_path / "units.csv")},
            "time": "month",
            "series": ["store"],
            "label": "units",
        },
        "explore": {"enabled": False},
        "forecasting": {"horizon": 3, "frequency": "MS", "backtest": {"windows": 2}},
        "models": [{"type": "theta"}],
        "workspace": str(tmp_path / "ws"),
    }
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


def result_tracking(tmp_path: Path) -> str:
    from sparkwright.workspace import Workspace

    return Workspace.resolve(tmp_path / "ws").tracking_uri
