"""The budgeted search across model families: reproducible with a seed, on Spark's own models when the data is
too large for the driver, and its ensemble on every deployment path. (A run through the CLI with a tiny budget
is the demo test in test_cli.py.)"""

from __future__ import annotations

import pytest
import yaml

from sparkwright.config import parse_project

pytestmark = pytest.mark.slow


def _search_project(project_file, **search) -> dict:
    raw = yaml.safe_load(project_file.read_text())
    raw.pop("models", None)
    raw["explore"] = {"enabled": False}
    if search:
        raw["search"] = search
    return raw


@pytest.fixture(scope="module")
def silver(trained, spark):
    from sparkwright.data import read_table

    ws, result = trained
    ref = result.tables["silver"]
    return ws, read_table(spark, ref.path, ref.version).cache()


def _search(silver, raw_search: dict, tmp_path, rows=None):
    from sparkwright.pipeline.search import run_search
    from sparkwright.tracking import Tracker

    ws, silver_rows = silver
    rows = silver_rows if rows is None else rows
    config = parse_project(
        {
            "name": "search-test",
            "task": "regression",
            "data": {"source": {"path": "unused.csv"}, "label": "avg_price_per_room"},
            "cleanse": {"log_label": True},
            "search": raw_search,
        }
    )
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    experiment = tracker.experiment_id("search-test")
    with tracker.run(experiment, "parent") as parent:
        return run_search(tracker, experiment, parent, config, rows)


def test_one_fold_validates_on_a_share_of_the_training_split_drawn_with_the_same_seed(silver, tmp_path):
    """Data too large for k folds gets one validation slice; drawn like the test split, it was empty."""
    from sparkwright.data import split_train_test

    train = split_train_test(silver[1], test_fraction=0.2, seed=42)[0].cache()
    search = {"families": ["lightgbm"], "max_trials": 2, "folds": 1, "budget": "2m", "seed": 42}
    outcome = _search(silver, search, tmp_path, rows=train)

    assert outcome.folds == 1
    assert [t["status"] for t in outcome.trials] == ["ok", "ok"]
    assert 0.15 < len(outcome.held_out_labels) / train.count() < 0.25


def test_the_same_seed_gives_the_same_search(silver, tmp_path):
    search = {"families": ["lightgbm", "linear"], "max_trials": 6, "folds": 3, "budget": "5m", "seed": 3}
    one, two = _search(silver, search, tmp_path), _search(silver, search, tmp_path)
    assert one.stopped_by == two.stopped_by == "max_trials"

    def key(outcome):
        return [(t["family"], t["params"], t["status"], t["score"]) for t in outcome.trials]

    assert key(one) == key(two)
    assert [(b.family, b.score, b.spec.params) for b in one.families] == [
        (b.family, b.score, b.spec.params) for b in two.families
    ]

    # The ensemble's candidates: each family's best few finished trials, its best marked, with held-out rows.
    def candidates(outcome):
        return [(c.family, c.trial, c.spec) for c in outcome.candidates]

    assert candidates(one) == candidates(two)
    for family in ("lightgbm", "linear"):
        mine = [c for c in one.candidates if c.family == family]
        assert 1 <= len(mine) <= 3 and [c.best_of_family for c in mine] == [True] + [False] * (len(mine) - 1)
        assert mine[0].spec.name == family and all(len(c.predictions) == len(one.held_out_labels) for c in mine)
    assert one.folds == 3 and one.on_driver


def test_data_too_large_for_the_driver_searches_spark_models(silver, tmp_path, monkeypatch):
    from sparkwright.settings import get_settings

    monkeypatch.setenv("SPARKWRIGHT_SKLEARN_MAX_ROWS", "100")
    get_settings.cache_clear()
    outcome = _search(silver, {"families": ["random_forest", "linear"], "max_trials": 3, "folds": 1}, tmp_path)
    assert not outcome.on_driver
    assert {b.spec.type for b in outcome.families} <= {"random_forest", "linear_regression"}
    assert {t["family"] for t in outcome.trials} == {"random_forest", "linear"}
    assert all(t["status"] == "ok" for t in outcome.trials)


def test_the_searchs_ensemble_scores_the_same_in_spark_batch_stream_rest_and_export(spark, hotel_project, workspace):
    """Winners of real families (lightgbm, extra_trees, linear) blended, then scored on every deployment path."""
    import numpy as np
    from fastapi.testclient import TestClient

    import sparkwright
    from sparkwright.data import read_table, write_table
    from sparkwright.deploy.batch import score_batch
    from sparkwright.deploy.export import export_pipeline
    from sparkwright.deploy.serve import create_app, load_served_model
    from sparkwright.deploy.stream import start_scoring_stream, stream_spec
    from sparkwright.models import predict
    from sparkwright.registry import Registry
    from sparkwright.tracking import LoggedModel, Tracker

    search = {"families": ["lightgbm", "extra_trees", "linear"], "max_trials": 9, "folds": 3, "seed": 1}
    hotel_project.write_text(yaml.safe_dump(_search_project(hotel_project, **search)))
    result = sparkwright.run(hotel_project, spark=spark)
    ensemble = next(m for m in result.models if m.type == "ensemble")
    members = ensemble.params["members"]
    assert len(members) >= 2 and abs(sum(m["weight"] for m in members) - 1) < 1e-9
    singles = [m for m in result.models if m.name in {"lightgbm", "extra_trees", "linear"}]
    assert len(singles) == 3

    silver = read_table(spark, result.tables["silver"].path, result.tables["silver"].version).limit(40)
    inputs = silver.drop("avg_price_per_room")
    expected = predict(ensemble.fitted, inputs).toPandas()

    tracker = Tracker(workspace.tracking_uri, workspace.artifacts)
    version = tracker.register(LoggedModel(run_id=ensemble.run_id, model_uri=ensemble.model_uri), "blend")
    uri = f"models:/blend/{version}"
    source, output = str(workspace.root / "to-score"), str(workspace.root / "scored")
    write_table(inputs, source)
    batch = score_batch(spark, Registry(tracker), uri, source, output)
    assert batch.rows == 40
    scored = read_table(spark, output).toPandas()
    np.testing.assert_allclose(np.sort(scored["prediction"]), np.sort(expected["prediction"]), rtol=1e-12)

    spec = stream_spec(source, str(workspace.root / "streamed"))
    start_scoring_stream(spark, Registry(tracker), uri, spec, trigger="available-now").awaitTermination()
    streamed = read_table(spark, spec.output).toPandas()
    np.testing.assert_allclose(np.sort(streamed["prediction"]), np.sort(expected["prediction"]), rtol=1e-12)

    scorer = export_pipeline(ensemble.fitted.pipeline_model, inputs.schema)
    exported = scorer.predict(expected[scorer.input_columns])
    np.testing.assert_allclose(exported["prediction"], expected["prediction"], rtol=1e-9)

    served = load_served_model(Registry(tracker), uri)
    client = TestClient(create_app(served))
    # A REST client sends each value in the type the served model's signature gives its column (the
    # source's types for a model that takes raw rows): integers as integers.
    integral = {name for name, type_, _ in served.inputs if type_ in ("integer", "long")}
    records = [
        {k: int(v) if k in integral else v for k, v in row.items()}
        for row in expected[scorer.input_columns].head(10).to_dict(orient="records")
    ]
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], expected["prediction"].head(10), rtol=1e-9)
