"""The bundled wa_churn example end to end through the CLI: classification, xgboost, tuning, registry."""

from __future__ import annotations

import json

import mlflow
import pytest
from typer.testing import CliRunner

from sparkwright.cli import app

pytestmark = pytest.mark.slow

SAMPLE_ROWS = 1_500
TRIALS = 3  # the example tunes 8; --max-evals overrides it (the tuning itself is tested in test_tuning_job.py)


@pytest.fixture(scope="module")
def churn_run(spark, tmp_path_factory):
    """`sparkwright demo --example wa_churn` on the first 1,500 customers with 3 tuning trials, in a workspace
    of its own."""
    from sparkwright.workspace import Workspace

    root = tmp_path_factory.mktemp("churn") / "ws"
    workspace = Workspace.resolve(root)
    mlflow.set_tracking_uri(workspace.tracking_uri)
    mlflow.set_registry_uri(workspace.tracking_uri)
    result = CliRunner().invoke(
        app, ["demo", "--example", "wa_churn", "--sample", str(SAMPLE_ROWS), "--max-evals", str(TRIALS),
              "--workspace", str(root)],
        catch_exceptions=False,
    )  # fmt: skip
    yield result, workspace
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def _leaderboard(workspace) -> list[dict]:
    experiment = mlflow.get_experiment_by_name("wa-churn")
    [parent] = mlflow.search_runs(
        [experiment.experiment_id], filter_string="tags.mlflow.runName = 'wa-churn-run'", output_format="list"
    )
    return json.loads(mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/leaderboard.json"))["leaderboard"]


def test_best_model_beats_the_baseline_on_f1_and_roc_auc(churn_run):
    result, workspace = churn_run
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Leaderboard (roc_auc, test set)" in out
    assert "Tuning (cross-validated roc_auc" in out and f"Tuned random_forest: {TRIALS} trials" in out
    rows = _leaderboard(workspace)
    best, baseline = rows[0], next(r for r in rows if r["type"] == "baseline")
    assert best["type"] != "baseline"
    assert best["roc_auc"] > baseline["roc_auc"] + 0.2
    assert best["f1"] > baseline["f1"] + 0.3
    assert {r["type"] for r in rows} == {"baseline", "logistic_regression", "decision_tree", "random_forest", "gbt",
                                         "xgboost"}  # fmt: skip


def test_every_model_run_has_classification_artifacts_and_a_chosen_threshold(churn_run):
    _, workspace = churn_run
    for row in _leaderboard(workspace):
        run = mlflow.get_run(row["run_id"])
        files = {f.path for f in mlflow.artifacts.list_artifacts(run_id=row["run_id"], artifact_path="plots")}
        assert {"plots/confusion.png", "plots/roc.png", "plots/precision_recall.png"} <= files
        matrix = json.loads(mlflow.artifacts.load_text(f"runs:/{row['run_id']}/confusion_matrix.json"))
        assert matrix["classes"] == ["No", "Yes"]
        assert run.data.params["classes"] == "No,Yes"
        if row["type"] == "baseline":
            assert "threshold" not in run.data.params
            assert matrix["counts"][0][1] == matrix["counts"][1][1] == 0  # always predicts "No"
        else:
            assert 0 < float(run.data.params["threshold"]) < 1


def test_champion_loads_as_pyfunc_and_predicts_the_labels_values(churn_run, spark):
    import pandas as pd

    result, workspace = churn_run
    assert "mlflow.pyfunc.load_model('models:/wa-churn@champion') predicts on source rows:" in result.output
    model = mlflow.pyfunc.load_model("models:/wa-churn@champion")
    inputs = model.metadata.get_input_schema().input_names()
    assert "churn" not in inputs and "rownames" not in inputs
    rows = pd.read_csv(workspace.root / "examples" / "wa_churn" / "data" / "wa_churn.csv").head(50)
    predictions = [str(p) for p in list(model.predict(rows[inputs]))]
    assert set(predictions) <= {"Yes", "No"} and len(predictions) == 50
