"""`sparkwright models`: list, show, promote, rollback and alias against a real MLflow store (no Spark)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.errors import ModelError
from sparkwright.registry import ModelRef, Registry, parse_model_ref
from sparkwright.tracking import LoggedModel, Tracker

runner = CliRunner()


@pytest.fixture
def registry(workspace) -> Registry:
    """Model 'churn' with three versions whose runs have roc_auc 0.70, 0.80, 0.75; champion on v1."""
    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    experiment = tracker.experiment_id("churn")
    registry = Registry(tracker)
    for auc in (0.70, 0.80, 0.75):
        with tracker.run(experiment, "model") as run_id:
            tracker.log_metrics(run_id, {"roc_auc": auc})
            tracker.log_params(run_id, {"model_type": "random_forest", "silver_table": "/ws/lake/churn/silver",
                                        "silver_version": 2, "param_maxDepth": 5})  # fmt: skip
            tracker.log_text(run_id, "placeholder", "model/MLmodel")
        tracker.register(LoggedModel(run_id, f"runs:/{run_id}/model"), "churn")
    registry.set_alias("churn", "champion", "1")
    return registry


def invoke(workspace, *args: str):
    return runner.invoke(app, [*args, "--workspace", str(workspace.root)], catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("models:/churn@champion", ModelRef("churn", alias="champion")),
        ("models:/churn/3", ModelRef("churn", version="3")),
        ("models:/churn", ModelRef("churn")),
        ("churn", ModelRef("churn")),
    ],
)
def test_model_uris_parse(text, ref):
    assert parse_model_ref(text) == ref


def test_other_uris_are_refused_with_the_accepted_forms():
    with pytest.raises(ModelError, match=r"use models:/<name>@<alias>, models:/<name>/<version> or <name>"):
        parse_model_ref("runs:/abc/model")


def test_list_and_show(registry, workspace):
    listed = invoke(workspace, "models", "list")
    assert listed.exit_code == 0, listed.output
    assert "churn" in listed.output and "champion → v1" in listed.output and "v3" in listed.output

    shown = invoke(workspace, "models", "show", "churn")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if line.split() and line.split()[0] in ("v1", "v2", "v3")]
    assert [line.split()[0] for line in lines] == ["v3", "v2", "v1"]
    assert "0.8000" in lines[1] and "champion" in lines[2] and "churn/silver@v2" in lines[0]

    one = invoke(workspace, "models", "show", "models:/churn@champion")
    assert one.exit_code == 0
    assert "models:/churn/1" in one.output and "roc_auc=0.7000" in one.output and "maxDepth=5" in one.output


def test_promote_then_rollback_walks_the_alias_history(registry, workspace):
    assert invoke(workspace, "models", "promote", "models:/churn/2").output.strip() == "models:/churn@champion: v1 → v2"
    assert invoke(workspace, "models", "promote", "models:/churn/3").exit_code == 0
    assert registry.resolve(ModelRef("churn", alias="champion")).version == "3"

    first = invoke(workspace, "models", "rollback", "churn")
    assert first.output.strip() == "models:/churn@champion: v3 → v2 (rolled back)"
    second = invoke(workspace, "models", "rollback", "models:/churn@champion")
    assert second.output.strip() == "models:/churn@champion: v2 → v1 (rolled back)"
    third = invoke(workspace, "models", "rollback", "churn")
    assert third.exit_code == 4
    assert "no earlier version of 'churn' held alias 'champion' (it is on v1)" in " ".join(third.output.split())


def test_alias_sets_moves_and_deletes_any_alias(registry, workspace):
    assert invoke(workspace, "models", "alias", "models:/churn/2", "staging").exit_code == 0
    assert registry.resolve(parse_model_ref("models:/churn@staging")).version == "2"
    moved = invoke(workspace, "models", "alias", "models:/churn@champion", "staging")
    assert moved.output.strip() == "models:/churn@staging: v2 → v1"
    deleted = invoke(workspace, "models", "alias", "churn", "staging", "--delete")
    assert deleted.output.strip() == "models:/churn@staging removed (was v1)"
    assert invoke(workspace, "models", "alias", "churn", "3").exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "chrun"), r"no registered model 'chrun' in sqlite:///.*registered: churn\. Did you mean 'churn'\?"),
        (("show", "models:/churn/9"), r"model 'churn' has no version 9; versions: 1, 2, 3\."),
        (("promote", "models:/churn@staging"), r"model 'churn' has no alias 'staging'; its aliases: champion\."),
        (("rollback", "churn", "--alias", "staging"), r"model 'churn' has no alias 'staging'; nothing to roll back\."),
    ],
)
def test_unknown_models_versions_and_aliases_exit_4_with_what_exists(registry, workspace, args, message):
    import re

    result = invoke(workspace, "models", *args)
    assert result.exit_code == 4
    assert re.search(
        message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?"), " ".join(result.output.split())
    )
