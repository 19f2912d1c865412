"""`sparkwright predict`: batch scoring into Delta, idempotent reruns, rejects, and a SIGKILL mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.data import read_table, table_version

pytestmark = pytest.mark.slow
runner = CliRunner()


def predict(ws, *args: str):
    return runner.invoke(app, ["predict", *args, "--workspace", str(ws.root)], catch_exceptions=False)


def test_scores_a_table_with_model_metadata_and_reruns_replace(spark, trained):
    ws, result = trained
    out = ws.table_path("hotel-rates", "scored")
    first = predict(ws, "--model", "models:/hotel-rates@champion", "--input", "hotel-rates/silver",
                    "--output", "hotel-rates/scored")  # fmt: skip
    assert first.exit_code == 0, first.output
    silver = read_table(spark, result.tables["silver"].path)
    # The rows to score come from the Delta log; the task bar itself is drawn on a terminal only.
    assert f"✓ Scoring {silver.count():,} rows of {result.tables['silver'].path}" in first.output
    scored = read_table(spark, out)
    assert scored.count() == silver.count()
    meta = scored.select("_model_name", "_model_version", "_model_uri", "_input").distinct().collect()
    assert [tuple(r) for r in meta] == [
        (
            "hotel-rates",
            int(result.registered_version),
            f"models:/hotel-rates/{result.registered_version}",
            result.tables["silver"].path,
        )
    ]
    assert scored.where(F.col("prediction").isNull() | F.col("_scored_at").isNull()).count() == 0

    # The model takes the silver table too (its values convert to the source's types) and scores it as the
    # fitted model does.
    from sparkwright.models import predict as predict_with

    fitted = predict_with(result.best.fitted, silver.drop(result.label)).toPandas()
    assert sorted(scored.toPandas()["prediction"]) == pytest.approx(sorted(fitted["prediction"]), rel=1e-9)

    again = predict(ws, "--model", "models:/hotel-rates@champion", "--input", "hotel-rates/silver",
                    "--output", "hotel-rates/scored")  # fmt: skip
    assert again.exit_code == 0
    assert "(version 1)" in again.output
    assert read_table(spark, out).count() == silver.count()  # replaced, not appended


def test_files_are_read_with_the_models_types_and_malformed_rows_set_aside(spark, trained, tmp_path):
    import mlflow.pyfunc
    import pandas as pd

    ws, _ = trained
    # Rows as the source has them (the model prepares them itself), one with a value that is not a number.
    source = ws.root / "examples" / "hotel_rates" / "data" / "hotel_rates.csv"
    lines = source.read_text().splitlines()[:31]
    broken = lines[1].split(",")
    broken[lines[0].split(",").index("lead_time")] = "soon"
    csv = tmp_path / "new.csv"
    csv.write_text("\n".join([*lines, ",".join(broken)]) + "\n")

    outcome = predict(ws, "--model", "models:/hotel-rates/1", "--input", str(csv), "--output", "hotel-rates/new")
    assert outcome.exit_code == 0, outcome.output
    assert "30 rows" in outcome.output and "1 row set aside" in outcome.output
    rejects = read_table(spark, ws.table_path("hotel-rates", "new_rejects")).collect()
    assert len(rejects) == 1 and "lead_time" in rejects[0]["_reason"] and "soon" in rejects[0]["_reason"]

    # The predictions are the registered model's own, as MLflow's pyfunc gives them for the same rows.
    model = mlflow.pyfunc.load_model("models:/hotel-rates@champion")
    inputs = model.metadata.get_input_schema().input_names()
    scored = read_table(spark, ws.table_path("hotel-rates", "new")).toPandas().sort_values("rownames")
    rows = pd.read_csv(source, nrows=30).dropna().sort_values("rownames")
    rows = rows[rows["rownames"].isin(scored["rownames"])]
    expected = scored.set_index("rownames").loc[rows["rownames"], "prediction"]
    assert list(model.predict(rows[inputs])) == pytest.approx(list(expected), rel=1e-9)


def test_input_without_the_models_columns_is_a_clear_error(spark, trained, tmp_path):
    ws, _ = trained
    csv = tmp_path / "thin.csv"
    csv.write_text("lead_time,adults\n10,2\n")
    outcome = predict(ws, "--model", "models:/hotel-rates@champion", "--input", str(csv), "--output", "x/y")
    assert outcome.exit_code == 3
    message = " ".join(outcome.output.split())
    assert "the input lacks columns the model models:/hotel-rates/1 needs: ['meal', 'market_segment'" in message
    assert "it takes rows shaped like its source data with" in message
    missing = predict(ws, "--model", "models:/hotel-rates@nope", "--input", str(csv), "--output", "x/y")
    assert missing.exit_code == 4 and "has no alias 'nope'" in missing.output


def test_a_killed_scoring_job_leaves_the_output_at_its_last_version(spark, trained, tmp_path):
    from sparkwright.deploy.batch import score_batch
    from sparkwright.registry import Registry
    from sparkwright.tracking import Tracker

    ws, result = trained
    big = str(tmp_path / "big")
    silver = read_table(spark, result.tables["silver"].path)
    # ~15k rows in 300 small partitions: the write of one local core takes seconds, file by file.
    silver.crossJoin(spark.range(10).select(F.col("id").alias("copy"))).repartition(300).write.format("delta").save(big)
    out = ws.table_path("hotel-rates", "big_scored")
    command = [str(Path(sys.executable).with_name("sparkwright")), "predict", "--model", "models:/hotel-rates/1",
               "--input", big, "--output", out, "--workspace", str(ws.root), "--master", "local[1]"]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARKWRIGHT_TRACKING_URI": ws.tracking_uri}
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    # The runs before and after the kill go through the API in this process (a JVM start each saved);
    # the killed one is the CLI in its own process group, so SIGKILL takes its JVM down with it.
    score_batch(spark, registry, "models:/hotel-rates/1", big, out)
    rows = read_table(spark, big).count()
    assert table_version(spark, out) == 0 and read_table(spark, out).count() == rows

    before = {p for p in os.listdir(out) if p.endswith(".parquet")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and not ({p for p in os.listdir(out) if p.endswith(".parquet")} - before):
        assert proc.poll() is None, "the scoring job ended before it wrote a data file"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert {p for p in os.listdir(out) if p.endswith(".parquet")} - before, "killed before writing anything"
    assert table_version(spark, out) == 0
    assert read_table(spark, out).count() == rows

    score_batch(spark, registry, "models:/hotel-rates/1", big, out)
    assert table_version(spark, out) == 1
    assert read_table(spark, out).count() == rows  # the rerun replaced, no duplicates


def test_a_model_that_takes_silver_rows_still_scores_them(spark, trained, tmp_path):
    """Models logged before models prepared their own rows (no preparation stage, no input metadata)."""
    from sparkwright.models import predict as predict_with
    from sparkwright.tracking import Tracker

    ws, result = trained
    fitted = result.best.fitted
    features = read_table(spark, result.tables["silver"].path).drop(result.label)
    example = features.limit(5)
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    with tracker.run(tracker.experiment_id("older"), "older") as run_id:
        outputs = predict_with(fitted, example).select("prediction").toPandas()
        logged = tracker.log_spark_model(run_id, fitted.pipeline_model, input_example=example.toPandas(),
                                         predictions=outputs)  # fmt: skip
    tracker.register(logged, "older-model")
    outcome = predict(ws, "--model", "models:/older-model/1", "--input", "hotel-rates/silver",
                      "--output", "hotel-rates/older")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    scored = read_table(spark, ws.table_path("hotel-rates", "older")).toPandas()
    expected = predict_with(fitted, features).toPandas()
    assert sorted(scored["prediction"]) == pytest.approx(sorted(expected["prediction"]), rel=1e-12)
    csv = tmp_path / "thin.csv"
    csv.write_text("lead_time,adults\n10,2\n")
    thin = predict(ws, "--model", "models:/older-model/1", "--input", str(csv), "--output", "x/y")
    assert thin.exit_code == 3 and "it takes silver rows with" in " ".join(thin.output.split())
