"""The CLI end to end, and the bad-input suite: each error has a clear message, an exit code, and
leaves no partial table or registered model behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from sparkwright.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def truncated(csv_line: str) -> str:
    """A malformed CSV record: the last three fields are missing."""
    return ",".join(csv_line.split(",")[:-3])


def registered_models(workspace) -> list[str]:
    client = MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    return [m.name for m in client.search_registered_models()]


def lake_tables(workspace) -> set[str]:
    return {p.parent.name for p in Path(workspace.lake).glob("*/*/_delta_log")}


def test_run_prints_leaderboard_and_where_things_went(spark, hotel_project, workspace, edit_project):
    edit_project(hotel_project, explore={"enabled": True})
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Leaderboard (rmse, test set)" in out
    assert "baseline" in out and "decision_tree" in out and "linear_regression" in out
    assert "Input rows 2,000 = accepted 2,000 + rejected 0" in out
    assert "promoted to champion" in out
    assert f"Report: {workspace.root / 'reports' / 'hotel-rates' / 'profile.html'}" in " ".join(out.split())
    assert f"Summary: {workspace.root / 'reports' / 'hotel-rates' / 'run-summary.html'}" in " ".join(out.split())
    assert lake_tables(workspace) == {"bronze", "silver"}  # nothing rejected: no empty rejects tables
    assert registered_models(workspace) == ["hotel-rates"]


def test_missing_source_file(edit_project, spark, hotel_project, workspace):
    edit_project(hotel_project, data={"source": {"path": "data/nope.csv"}, "label": "avg_price_per_room"})
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 3
    assert "nope.csv" in result.output and "does not exist" in result.output
    assert lake_tables(workspace) == set()
    assert registered_models(workspace) == []


def test_empty_source_file(edit_project, spark, hotel_project, workspace):
    (hotel_project.parent / "data" / "empty.csv").write_text("")
    edit_project(hotel_project, data={"source": {"path": "data/empty.csv"}, "label": "avg_price_per_room"})
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 3
    assert "empty.csv" in result.output and "no data rows" in result.output
    assert lake_tables(workspace) == set()


def test_unknown_label_column_leaves_no_silver_table_or_model(edit_project, spark, hotel_project, workspace):
    edit_project(hotel_project, data={"source": {"path": "data/hotel_rates.csv"}, "label": "avg_price_per_rom"})
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 3
    assert "avg_price_per_rom" in result.output and "Did you mean 'avg_price_per_room'?" in result.output
    assert "silver" not in lake_tables(workspace)
    assert registered_models(workspace) == []
    runs = MlflowClient(workspace.tracking_uri).search_runs(
        [MlflowClient(workspace.tracking_uri).get_experiment_by_name("hotel-rates").experiment_id]
    )
    assert [r.info.status for r in runs] == ["FAILED"]


def test_malformed_rows_over_the_limit_stop_before_bronze(spark, hotel_project, workspace):
    csv = hotel_project.parent / "data" / "hotel_rates.csv"
    lines = csv.read_text().splitlines()
    header, rows = lines[0], lines[1:201]
    broken = [truncated(row) if i % 10 == 0 else row for i, row in enumerate(rows)]  # 20 of 200 rows
    csv.write_text("\n".join([header, *broken]) + "\n")
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 3
    assert "20 of 200" in result.output or "20/200" in result.output or "20 rejected" in result.output
    assert "bronze_rejects" in result.output
    assert "bronze" not in lake_tables(workspace)
    assert registered_models(workspace) == []


def test_malformed_rows_under_the_limit_are_quarantined_with_reasons(spark, hotel_project, workspace):
    from sparkwright.data import read_table

    csv = hotel_project.parent / "data" / "hotel_rates.csv"
    lines = csv.read_text().splitlines()
    lines[5] = truncated(lines[5])
    csv.write_text("\n".join(lines) + "\n")
    result = invoke("run", str(hotel_project))
    assert result.exit_code == 0, result.output
    assert "Input rows 2,000 = accepted 1,999 + rejected 1" in result.output
    rejects = read_table(spark, str(Path(workspace.lake) / "hotel-rates" / "bronze_rejects")).collect()
    assert len(rejects) == 1
    assert rejects[0]["_raw"] == lines[5] and rejects[0]["_reason"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modles": []}, r"modles: unknown key 'modles'.*Did you mean 'models'\?"),
        ({"split": {"test_fraction": "a lot"}}, r"split\.test_fraction: .*valid number"),
        ({"models": [{"type": "random_forest", "params": {"maxDepth": "deep"}}]}, r"models\[0\]\.params\.maxDepth"),
        ({"models": [{"type": "random_forrest"}]}, r"models\[0\]\.type: .*Did you mean 'random_forest'\?"),
    ],
)
def test_invalid_project_file_exits_2_before_touching_data(edit_project, hotel_project, workspace, change, message):
    import re

    edit_project(hotel_project, **change)
    for command in ("validate", "run"):
        result = invoke(command, str(hotel_project))
        assert result.exit_code == 2, result.output
        assert re.search(message, " ".join(result.output.split()))
    assert not Path(workspace.lake).exists()


def test_demo_runs_the_bundled_example_and_scores_with_the_champion(spark, workspace):
    """The default example searches model families: with a tiny budget it stops on time and registers its best."""
    import json
    import time

    budget_seconds = 15
    started = time.perf_counter()
    result = invoke("demo", "--sample", "1500", "--budget", f"{budget_seconds}s", "--workspace", str(workspace.root))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Leaderboard (rmse, test set)" in out
    assert "Searched" in out and "stopped by budget" in out
    for model in ("baseline", "lightgbm", "xgboost", "linear"):
        assert model in out
    assert "promoted to champion" in out
    assert "mlflow.pyfunc.load_model('models:/hotel-rates@champion') predicts on source rows:" in out
    assert (workspace.root / "examples" / "hotel_rates" / "hotel_rates.yaml").is_file()

    client = MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("hotel-rates").experiment_id])

    def artifact(run_id: str, path: str) -> dict:
        return json.loads(Path(client.download_artifacts(run_id, path)).read_text())

    search_run = next(r for r in runs if r.info.run_name == "search")
    # The search itself keeps to its budget (plus the folds in flight when it ran out).
    assert search_run.data.metrics["search_seconds"] <= budget_seconds + 10
    assert search_run.data.params["search_budget_seconds"] == str(float(budget_seconds))
    trials = artifact(search_run.info.run_id, "search_trials.json")["trials"]
    assert {"lightgbm", "linear"} <= {t["family"] for t in trials}
    assert any(t["status"] == "ok" for t in trials)

    # Each family's best was refit and evaluated on the test set like a listed model, with its fit time.
    parent = next(r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags)
    leaderboard = artifact(parent, "leaderboard.json")["leaderboard"]
    assert "baseline" in [row["model"] for row in leaderboard]
    assert all(row["fit_seconds"] > 0 for row in leaderboard if row["model"] != "baseline")
    best, baseline = leaderboard[0], next(row for row in leaderboard if row["model"] == "baseline")
    assert best["rmse"] < 0.6 * baseline["rmse"]
    version = client.get_model_version_by_alias("hotel-rates", "champion")
    assert client.get_run(version.run_id).info.run_name == best["model"]
    assert elapsed < 600


def test_ui_serves_the_workspace_store(workspace):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli = Path(sys.executable).with_name("sparkwright")
    server = subprocess.Popen(
        [str(cli), "ui", "--workspace", str(workspace.root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # MLflow starts uvicorn workers: stop the whole group
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the MLflow UI did not answer within 90 s"
                time.sleep(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
            data=b'{"max_results": 10}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert b"Default" in response.read()  # the workspace's own SQLite store answers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert (workspace.root / "mlflow.db").is_file()


def test_quality_rules_quarantine_rows_and_report_counts(spark, hotel_project, workspace, edit_project):
    import pandas as pd

    from sparkwright.data import read_table

    edit_project(
        hotel_project,
        explore={"enabled": True},
        quality=[
            {"rule": "range", "column": "adults", "min": 1, "max": 3},
            {"rule": "not_null", "column": "country", "name": "country known"},
        ],
    )
    source = pd.read_csv(hotel_project.parent / "data" / "hotel_rates.csv")
    out_of_range = int((~source["adults"].between(1, 3)).sum())
    no_country = int(source["country"].isna().sum())
    broken = int((~source["adults"].between(1, 3) | source["country"].isna()).sum())
    assert out_of_range > 0 and no_country > 0  # the sample exercises both rules

    result = invoke("run", str(hotel_project))
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"Quality rules quarantined {broken:,} of 2,000 rows" in out
    assert f"adults in [1, 3]: {out_of_range:,}" in out and f"country known: {no_country:,}" in out
    quarantine = read_table(spark, str(Path(workspace.lake) / "hotel-rates" / "quality_quarantine"))
    assert quarantine.count() == broken
    assert read_table(spark, str(Path(workspace.lake) / "hotel-rates" / "silver")).count() == 2000 - broken
    report = (workspace.root / "reports" / "hotel-rates" / "profile.html").read_text()
    assert f"{broken:,} of 2,000 rows broke at least one rule" in report
    assert "adults in [1, 3]" in report and "country known" in report
