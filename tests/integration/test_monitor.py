"""`sparkwright monitor` end to end on a registered hotel_rates model: undrifted data passes, drifted data and a
metric drop cross thresholds (exit 6), every output is written, bad inputs fail clearly, and the report opens
in a headless browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chromium import find_chromium, png_size, run_chromium
from mlflow import MlflowClient
from pyspark.sql import functions as F
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.data import read_table, table_version, write_table

pytestmark = pytest.mark.slow
runner = CliRunner()
MODEL = "models:/hotel-rates@champion"
DAY = 86_400


def monitor(ws, *args: str):
    return runner.invoke(app, ["monitor", "--model", MODEL, *args, "--workspace", str(ws.root)], catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())  # Rich wraps long lines


def with_days(df):
    """``_scored_at`` spread over three days by row id: three labelled windows."""
    day = F.pmod(F.col("rownames"), F.lit(3))
    return df.withColumn("_scored_at", F.timestamp_seconds(F.lit(1_767_225_600) + day * F.lit(DAY)))


@pytest.fixture(scope="module")
def scored(spark, trained):
    """The bronze rows (source-shaped) scored by the champion, spread over three days: undrifted input."""
    from sparkwright.deploy.batch import score_batch
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker

    ws, result = trained
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    first = ws.table_path("hotel-rates", "scored_once")
    score_batch(spark, registry, MODEL, result.tables["bronze"].path, first)
    path = ws.table_path("hotel-rates", "scored")
    write_table(with_days(read_table(spark, first)), path)
    return path


@pytest.fixture(scope="module")
def undrifted(spark, trained, scored):
    ws, _ = trained
    return monitor(ws, "--input", "hotel-rates/scored")


@pytest.fixture(scope="module")
def drifted(spark, trained):
    """Raw rows with lead_time shifted, a meal plan never seen on a third of them, country missing on half."""
    ws, result = trained
    bronze = read_table(spark, result.tables["bronze"].path)
    shifted = (
        bronze.withColumn("lead_time", F.col("lead_time") * 3 + 200)
        .withColumn("meal", F.when(F.col("rownames") % 3 == 0, F.lit("space_food")).otherwise(F.col("meal")))
        .withColumn("country", F.when(F.col("rownames") % 2 == 0, F.lit(None)).otherwise(F.col("country")))
    )
    path = ws.table_path("hotel-rates", "drifted")
    write_table(shifted, path)
    report = ws.root / "drifted-report.html"
    return monitor(ws, "--input", "hotel-rates/drifted", "--report", str(report)), report


@pytest.fixture(scope="module")
def labelled(spark, trained, scored):
    """The undrifted input with labels that arrived; on the third day the outcomes are 2.5 times the usual."""
    ws, result = trained
    bronze = read_table(spark, result.tables["bronze"].path)
    third_day = F.pmod(F.col("rownames"), F.lit(3)) == 2
    price = F.col("avg_price_per_room")
    labels = bronze.select("rownames", F.when(third_day, price * 2.5).otherwise(price).alias("avg_price_per_room"))
    write_table(labels, ws.table_path("hotel-rates", "labels"))
    return monitor(
        ws, "--input", "hotel-rates/scored", "--labels", "hotel-rates/labels", "--on", "rownames",
        "--window", "1d", "--metric-drop", "0.3",
    )  # fmt: skip


def monitoring_rows(spark, ws):
    return read_table(spark, ws.table_path("hotel-rates", "monitoring")).toPandas()


def last_run_id(output: str) -> str:
    return re.search(r"MLflow run ([0-9a-f]{32})", flat(output)).group(1)


def test_an_undrifted_sample_passes(spark, trained, undrifted):
    ws, result = trained
    assert undrifted.exit_code == 0, undrifted.output
    out = flat(undrifted.output)
    assert "no threshold crossed" in out
    run_id = last_run_id(undrifted.output)
    rows = monitoring_rows(spark, ws)
    mine = rows[rows.run_id == run_id]
    psi = mine[mine.statistic == "psi"]
    assert len(psi) >= 20 and not psi.crossed.any()
    assert psi.value.max() < 0.1
    assert set(mine.model_version) == {int(result.registered_version)}
    assert set(mine.reference_version) == {result.tables["silver"].version}
    # The scored table's own predictions were compared (no second scoring).
    run = MlflowClient(ws.tracking_uri).get_run(run_id)
    assert run.data.params["prediction_source"] == "input"
    assert run.data.tags["sparkwright.monitor.status"] == "ok"


def test_drifted_input_crosses_thresholds_and_exits_6(spark, trained, drifted):
    ws, result = trained
    outcome, report = drifted
    assert outcome.exit_code == 6, outcome.output
    out = flat(outcome.output)
    assert "threshold(s) crossed (exit code 6)" in out
    assert "feature lead_time: PSI" in out
    assert "feature meal:" in out and "'space_food'" in out
    assert "feature country:" in out and "missing" in out

    run_id = last_run_id(outcome.output)
    rows = monitoring_rows(spark, ws)
    mine = rows[rows.run_id == run_id].set_index(["column", "statistic"])
    assert mine.loc[("lead_time", "psi"), "crossed"]
    assert mine.loc[("lead_time", "psi"), "value"] > 1.0
    assert mine.loc[("meal", "new_category_share"), "crossed"]
    assert mine.loc[("meal", "new_category_share"), "value"] == pytest.approx(1 / 3, abs=0.01)
    assert mine.loc[("country", "null_rate_change"), "crossed"]
    assert mine.loc[("country", "null_rate_current"), "value"] == pytest.approx(0.5, abs=0.01)
    assert not mine.loc[("adults", "psi"), "crossed"]  # an untouched feature stays quiet
    assert mine.loc[("prediction", "psi"), "value"] > 0  # predictions of the shifted rows moved too

    client = MlflowClient(ws.tracking_uri)
    run = client.get_run(run_id)
    training_run = client.get_run(run.data.tags["sparkwright.monitor.training_run"])
    assert run.info.experiment_id == training_run.info.experiment_id  # in the model's experiment
    assert run.data.tags["sparkwright.monitor.model_version"] == result.registered_version
    assert run.data.tags["sparkwright.monitor.status"] == "crossed"
    assert run.data.metrics["psi.lead_time"] == pytest.approx(mine.loc[("lead_time", "psi"), "value"], rel=1e-12)
    assert run.data.params["prediction_source"] == "model"
    artifacts = {a.path for a in client.list_artifacts(run_id)} | {
        a.path for a in client.list_artifacts(run_id, "monitor")
    }
    assert {"monitor.json", f"monitor/{report.name}"} <= artifacts
    assert report.is_file()


def test_labels_give_metrics_per_window_and_a_drop_crosses(spark, trained, labelled):
    ws, result = trained
    assert labelled.exit_code == 6, labelled.output
    out = flat(labelled.output)
    assert "3 windows of 1 day" in out
    assert "feature" not in out.split("threshold(s) crossed")[1]  # only the metric crossed
    run_id = last_run_id(labelled.output)
    rows = monitoring_rows(spark, ws)
    windows = rows[(rows.run_id == run_id) & (rows.statistic == "rmse_drop") & rows.window_start.notna()]
    windows = windows.sort_values("window_start")
    assert len(windows) == 3 and list(windows.rows) == [500, 500, 500]
    assert list(windows.crossed) == [False, False, True]
    assert windows.value.iloc[2] > 1.0  # 2.5x the prices: RMSE more than doubles
    test_rmse = result.best.metrics["rmse"]
    first_day = rows[(rows.run_id == run_id) & (rows.statistic == "rmse") & rows.window_start.notna()]
    assert first_day.sort_values("window_start").value.iloc[0] == pytest.approx(test_rmse, rel=0.3)
    run = MlflowClient(ws.tracking_uri).get_run(run_id)
    assert run.data.params["metric"] == "rmse" and run.data.params["keys"] == "rownames"
    assert run.data.metrics["labelled_rows"] == 1_500


def test_the_monitoring_table_accumulates_one_commit_per_run(spark, trained, undrifted, drifted, labelled):
    ws, result = trained
    path = ws.table_path("hotel-rates", "monitoring")
    rows = read_table(spark, path)
    assert rows.select("run_id").distinct().count() == 3
    assert table_version(spark, path) == 2  # three appends
    version = MlflowClient(ws.tracking_uri).get_model_version("hotel-rates", result.registered_version)
    latest = rows.orderBy(F.desc("monitored_at")).first()
    assert version.tags["sparkwright.monitor.last_run"] == latest["run_id"]


def test_bad_inputs_fail_clearly(spark, trained, scored, tmp_path):
    ws, _ = trained
    unknown = runner.invoke(app, ["monitor", "--model", "models:/nope@champion", "--input", "hotel-rates/silver",
                                  "--workspace", str(ws.root)])  # fmt: skip
    assert unknown.exit_code == 4 and "no registered model 'nope'" in flat(unknown.output)
    missing = monitor(ws, "--input", "hotel-rates/nothing")
    assert missing.exit_code == 3 and "no Delta table 'hotel-rates/nothing'" in flat(missing.output)
    thin = tmp_path / "thin.csv"
    thin.write_text("lead_time,adults\n10,2\n")
    lacking = monitor(ws, "--input", str(thin))
    assert lacking.exit_code == 3 and "the input lacks columns the model models:/hotel-rates/1" in flat(lacking.output)
    assert monitor(ws, "--input", str(thin), "--psi", "-1").exit_code == 2
    no_keys = monitor(ws, "--input", str(thin), "--labels", "hotel-rates/silver")
    assert no_keys.exit_code == 2 and "labels need keys: give --on" in flat(no_keys.output)
    bad_window = monitor(ws, "--input", str(thin), "--window", "1w")
    assert bad_window.exit_code == 2 and "--window must be a whole number of days or hours" in flat(bad_window.output)

    # Labels that cannot be joined fail before the drift passes, naming the problem.
    twice = spark.createDataFrame([(1, 100.0), (1, 120.0), (2, 80.0)], "rownames int, avg_price_per_room double")
    write_table(twice, ws.table_path("hotel-rates", "labels_twice"))
    duplicated = monitor(
        ws, "--input", "hotel-rates/scored", "--labels", "hotel-rates/labels_twice", "--on", "rownames"
    )
    assert duplicated.exit_code == 3
    assert "has several rows for one key (rownames), e.g. rownames=1 (2 rows)" in flat(duplicated.output)
    write_table(twice.drop("avg_price_per_room"), ws.table_path("hotel-rates", "labels_unnamed"))
    unnamed = monitor(ws, "--input", "hotel-rates/scored", "--labels", "hotel-rates/labels_unnamed", "--on", "rownames")
    assert unnamed.exit_code == 3 and "needs the label named as in training" in flat(unnamed.output)


@pytest.fixture(scope="module")
def churn(spark, trained, tmp_path_factory):
    """A binary classifier (wa_churn sample, logistic regression) in the same MLflow store as ``trained``, and
    its bronze rows scored by it (``probability`` as an array) over three days, with their labels."""
    import yaml

    import sparkwright
    from sparkwright.demo import materialise_example
    from sparkwright.deploy.batch import score_batch
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(tmp_path_factory.mktemp("churn") / "ws")
    project = materialise_example("wa_churn", ws, sample_rows=900)
    raw = yaml.safe_load(project.read_text())
    raw.update(models=[{"type": "logistic_regression"}], explore={"enabled": False}, workspace=str(ws.root))
    raw["classification"]["threshold"] = 0.5
    raw.pop("tune", None)
    project.write_text(yaml.safe_dump(raw))
    result = sparkwright.run(project, spark=spark)
    once = ws.table_path("wa-churn", "scored_once")
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    score_batch(spark, registry, "models:/wa-churn@champion", result.tables["bronze"].path, once)
    write_table(with_days(read_table(spark, once)), ws.table_path("wa-churn", "scored"))
    write_table(
        read_table(spark, result.tables["bronze"].path).select("rownames", "churn"), ws.table_path("wa-churn", "labels")
    )
    return ws, result


def test_a_classifier_is_monitored_on_its_class_probability_and_its_metrics(spark, churn):
    ws, _ = churn
    outcome = runner.invoke(
        app,
        ["monitor", "--model", "models:/wa-churn@champion", "--input", "wa-churn/scored", "--labels", "wa-churn/labels",
         "--on", "rownames", "--metric-drop", "0.5", "--workspace", str(ws.root)],
        catch_exceptions=False,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "3 windows of 1 day; roc_auc over all" in flat(outcome.output)
    rows = read_table(spark, ws.table_path("wa-churn", "monitoring")).toPandas()
    predictions = rows[rows.role == "prediction"]
    assert set(predictions.column) == {"prediction", "probability[Yes]"}
    assert set(predictions[predictions.column == "prediction"].statistic) >= {"psi", "chi_square_p_value"}
    windows = rows[(rows.statistic == "roc_auc") & rows.window_start.notna()]
    assert len(windows) == 3 and windows.value.between(0.5, 1.0).all()
    assert {"accuracy", "f1", "log_loss"} <= set(rows[rows.role == "metric"].statistic)


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def test_the_report_opens_in_a_browser_with_the_verdict(chromium, drifted, tmp_path: Path):
    _, report = drifted
    html = report.read_text(encoding="utf-8")
    expected = len(re.findall(r"<img ", html))
    done = run_chromium(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-status="crossed"' in body
    assert f'data-images-ok="{expected}"' in body and f'data-images-total="{expected}"' in body
    assert expected > 20  # a PSI chart, one per feature, the predictions
    assert re.search(r'<tr data-column="lead_time" data-drift="true"', dom)
    assert re.search(r'<tr data-column="adults" data-drift="false"', dom)
    assert "space_food" in dom and "Threshold crossed" in dom

    shot = tmp_path / "monitor.png"
    done = run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1280, 2400)
    assert len(data) > 100_000  # text, tables and plots, not a blank page
