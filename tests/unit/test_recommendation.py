"""Task recommendation: project-file checks (no JVM), the per-user split, the bias baseline, the ranking
metrics and the Spark-free recommender."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from sparkwright.config import parse_project
from sparkwright.deploy.recommender import FALLBACK, Recommender
from sparkwright.errors import ConfigError, DataError
from sparkwright.pipeline import validate_models
from sparkwright.tasks.recommendation import (
    ITEM_INDEX,
    RATING_COL,
    USER_INDEX,
    BiasModel,
    RatingColumns,
    ranking_metrics,
    split_per_user,
)


def _project(**changes) -> dict:
    project = {
        "name": "ratings",
        "task": "recommendation",
        "data": {"source": {"path": "r.csv"}, "user": "user", "item": "item", "rating": "stars"},
        "models": [{"type": "als", "params": {"rank": 4}}],
    }
    for key, value in changes.items():
        if key == "data":
            project["data"] = {**project["data"], **value}
        else:
            project[key] = value
    return project


def test_a_valid_project_ranks_by_rmse_and_implicit_feedback_by_ndcg():
    assert parse_project(_project()).selection_metric == "rmse"
    implicit = parse_project(_project(data={"rating": None}, recommendation={"implicit": True}))
    assert implicit.selection_metric == "ndcg_at_k"
    validate_models(implicit)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data": {"user": None}}, r"^data\.user: task recommendation needs the user column; add data\.user"),
        ({"data": {"rating": None}}, r"^data\.rating: .*or recommendation\.implicit: true"),
        ({"data": {"label": "stars"}}, r"^data\.label: task recommendation predicts data\.rating"),
        ({"data": {"item": "user"}}, r"^data\.item: data\.user and data\.item both name column 'user'"),
        ({"recommendation": {"implicit": True}, "metric": "rmse"}, r"^metric: metric 'rmse' judges predicted ratings"),
        ({"recommendation": {"k": 0}}, r"recommendation\.k"),
        ({"task": "regression", "data": {"label": "stars"}}, r"^data\.user: data\.user applies to task recommendation"),
        ({"classification": {"threshold": 0.4}}, r"^classification: the classification section applies"),
    ],
)
def test_project_file_errors_name_the_path_and_the_fix(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_project(_project(**changes))


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ([{"type": "als", "params": {"userCol": "x"}}], r"^models\[0\]\.params\.userCol: sparkwright sets userCol"),
        ([{"type": "als", "params": {"rank": 0}}], r"^models\[0\]\.params\.rank: must be an integer >= 1, got 0"),
        ([{"type": "als", "params": {"rnak": 5}}], r"^models\[0\]\.params\.rnak: .*Did you mean 'rank'\?"),
        ([{"type": "random_forest"}], r"^models\[0\]\.type: model type 'random_forest' does not support task"),
        ([{"type": "als", "params": {"biases": "no"}}], r"^models\[0\]\.params\.biases: must be true or false"),
    ],
)
def test_model_errors_are_found_without_spark(models, message):
    with pytest.raises(ConfigError, match=message):
        validate_models(parse_project(_project(models=models)))


def test_validate_without_models_announces_no_search(tmp_path):
    from typer.testing import CliRunner

    from sparkwright.cli import app

    project = _project()
    del project["models"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(project))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    assert "task recommendation" in result.output and "search" not in result.output


def test_biases_are_refused_with_implicit_feedback():
    project = _project(data={"rating": None}, recommendation={"implicit": True})
    project["models"] = [{"type": "als", "params": {"biases": True}}]
    with pytest.raises(ConfigError, match=r"^models\[0\]\.params\.biases: biases apply to explicit ratings"):
        validate_models(parse_project(project))


def test_search_and_unknown_tuning_params_are_refused():
    with pytest.raises(ConfigError, match=r"^search: the budgeted search covers regression and classification"):
        validate_models(parse_project(_project(search={"budget": "1m"})))
    tune = {"space": {"als": {"rnk": {"quniform": [2, 8, 2]}}}}
    with pytest.raises(ConfigError, match=r"^tune\.space\.als\.rnk: unknown parameter for 'als'"):
        validate_models(parse_project(_project(tune=tune)))


def _columns(timestamp: str | None = None) -> RatingColumns:
    return RatingColumns("user", "item", "stars", timestamp, implicit=False)


def test_split_holds_out_a_share_of_every_user_and_the_latest_by_timestamp(spark):
    rows = [(f"u{u}", f"i{i}", float(i % 5 + 1), 100 * u + i) for u in range(4) for i in range(u * 3 + 2)]
    df = spark.createDataFrame(rows, "user string, item string, stars double, ts long")
    columns = _columns("ts")
    train, test = split_per_user(columns, columns.ratings(df), 0.25, seed=1)
    held = {u: sorted(r.ts for r in test.where(f"user = '{u}'").collect()) for u in ("u0", "u1", "u2", "u3")}
    # n ratings -> floor(n / 4) held out: the user's latest ones.
    assert held == {"u0": [], "u1": [104], "u2": [206, 207], "u3": [309, 310]}
    assert train.count() + test.count() == len(rows)
    assert set(train.columns) == {"user", "item", RATING_COL, "ts"}


def test_split_without_timestamp_is_seeded_and_drops_unusable_rows(spark):
    rows = [(f"u{u}", f"i{i}", float(i % 5 + 1)) for u in range(5) for i in range(10)] + [("u9", None, 3.0)]
    df = spark.createDataFrame(rows, "user string, item string, stars double")
    columns = _columns()
    first = sorted(map(tuple, split_per_user(columns, columns.ratings(df), 0.2, 7)[1].collect()))
    again = sorted(map(tuple, split_per_user(columns, columns.ratings(df.repartition(3)), 0.2, 7)[1].collect()))
    other = sorted(map(tuple, split_per_user(columns, columns.ratings(df), 0.2, 8)[1].collect()))
    assert first == again != other
    assert len(first) == 10  # 2 of each user's 10; the row without an item is dropped
    with pytest.raises(DataError, match=r"^data\.rating: column 'stars' is not in the data"):
        columns.ratings(df.drop("stars"))


def test_bias_model_is_the_damped_mean_of_residuals(spark):
    rows = [(0.0, 0.0, 5.0), (0.0, 1.0, 3.0), (1.0, 0.0, 4.0)]
    df = spark.createDataFrame(rows, f"{USER_INDEX} double, {ITEM_INDEX} double, {RATING_COL} double")
    model = BiasModel().fit(df)
    mu = 4.0
    b_i = {0.0: (1 + 0) / (2 + 10), 1.0: -1 / (1 + 10)}
    b_u = {0.0: ((5 - mu - b_i[0.0]) + (3 - mu - b_i[1.0])) / (2 + 15), 1.0: (4 - mu - b_i[0.0]) / (1 + 15)}
    scored = {(r[USER_INDEX], r[ITEM_INDEX]): r.prediction for r in model.transform(df).collect()}
    assert scored[(0.0, 1.0)] == pytest.approx(mu + b_u[0.0] + b_i[1.0])
    unknown = spark.createDataFrame([(7.0, 1.0)], f"{USER_INDEX} double, {ITEM_INDEX} double")
    assert model.transform(unknown).first().prediction == pytest.approx(mu + b_i[1.0])
    assert model.top_items(2) == [0.0, 1.0]
    model.release()


def test_ranking_metrics_count_users_without_recommendations_as_zero(spark):
    relevant = spark.createDataFrame([(0.0, [1.0, 2.0]), (1.0, [3.0])], f"{USER_INDEX} double, relevant array<double>")
    recommended = spark.createDataFrame([(0.0, [1.0, 5.0])], f"{USER_INDEX} double, recommended array<double>")
    metrics = ranking_metrics(recommended, relevant, k=2)
    assert metrics["precision_at_k"] == pytest.approx((1 / 2 + 0) / 2)
    assert metrics["recall_at_k"] == pytest.approx((1 / 2 + 0) / 2)
    assert set(metrics) == {"precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"}


def _recommender() -> Recommender:
    return Recommender(
        user_col="user",
        item_col="item",
        users=["7", "8"],
        items=["10", "11", "12"],
        user_factors=np.array([[1.0, 0.0], [np.nan, np.nan]], dtype=np.float32),
        item_factors=np.array([[0.5, 1.0], [2.0, 0.0], [1.0, 3.0]], dtype=np.float32),
        popular=["12", "10", "11"],
        fallback_rating=3.5,
        implicit=False,
        seen_start=np.array([0, 1, 1]),  # user 7 rated item 11 in training, user 8 nothing
        seen_items=np.array([1], dtype=np.int32),
        integer_ids=(True, True),
    )


def test_recommender_ranks_known_users_and_falls_back_to_popular_items(tmp_path):
    recommender = Recommender.load(_recommender().save(tmp_path / "rec"))
    answer = recommender.recommend(7, 2)  # item 11 scores highest (2.0) but user 7 rated it in training
    assert answer == {"user": 7, "items": [{"item": 12, "score": 1.0}, {"item": 10, "score": 0.5}], "source": "als"}
    assert len(recommender.recommend("7", 5)["items"]) == 2  # ids as text work too; n beyond the unseen items
    for unknown in ("8", "nobody"):  # no factors, or never seen
        fallback = recommender.recommend(unknown, 2)
        assert fallback["source"] == FALLBACK
        assert [p["item"] for p in fallback["items"]] == [12, 10]
    assert recommender.predict(7, 12) == pytest.approx(1.0)
    assert recommender.predict(7.0, "99") == 3.5
    with pytest.raises(DataError, match="n must be a positive integer"):
        recommender.recommend(7, 0)


def _indexed_ratings(spark, rows):
    from sparkwright.pipeline.recommenders import IndexedRatings

    train = spark.createDataFrame(rows, f"user string, item string, {RATING_COL} double")
    return IndexedRatings.fit(_columns(), train, train.limit(0))


def test_biased_als_is_the_bias_model_plus_factors(spark):
    """With factors regularised to nothing, biased ALS predicts exactly what the bias baseline does."""
    from sparkwright.models import get_model_type
    from sparkwright.models.als import ALS_PREDICTION_COL

    rng = np.random.default_rng(3)
    rows = [
        (f"u{u}", f"i{i}", float(np.clip(3 + u % 3 - i % 2 + rng.normal(0, 0.3), 1, 5)))
        for u in range(12)
        for i in range(10)
        if rng.random() < 0.7
    ]
    indexed = _indexed_ratings(spark, rows)
    als = get_model_type("als", "recommendation")
    params = {"rank": 2, "maxIter": 3, "regParam": 1e6}
    model = als.fit(params, indexed.train, implicit=False)
    assert model.rank == 4  # the factors plus [mu + b_u, 1] . [1, b_i]
    biases = BiasModel().fit(indexed.train)
    expected = {(r[USER_INDEX], r[ITEM_INDEX]): r.prediction for r in biases.transform(indexed.train).collect()}
    got = {(r[USER_INDEX], r[ITEM_INDEX]): r[ALS_PREDICTION_COL] for r in model.transform(indexed.train).collect()}
    assert got == pytest.approx(expected, abs=1e-4)
    plain = als.fit({**params, "biases": False}, indexed.train, implicit=False)
    assert plain.rank == 2
    assert als.settings(params, implicit=True)["biases"] is False
    biases.release()
    indexed.release()


def test_top_k_lists_leave_out_the_items_a_user_rated_in_training(spark):
    rows = [("a", "x", 5.0), ("a", "y", 4.0), ("b", "x", 3.0), ("c", "x", 4.0), ("c", "z", 2.0), ("b", "w", 1.0)]
    from sparkwright.pipeline.recommenders import IndexedRatings

    train = spark.createDataFrame(rows, f"user string, item string, {RATING_COL} double")
    test = spark.createDataFrame([("a", "z", 3.0), ("b", "y", 3.0)], f"user string, item string, {RATING_COL} double")
    indexed = IndexedRatings.fit(_columns(), train, test)
    assert indexed.max_seen == 2
    items = indexed.items.labels  # most frequent first: x, then the rest
    users = indexed.users.labels
    lists = {
        users[int(r[USER_INDEX])]: [items[int(i)] for i in r.recommended] for r in indexed.popular_lists(2).collect()
    }
    assert lists["a"] == [i for i in items if i not in ("x", "y")][:2]
    assert lists["b"] == [i for i in items if i not in ("x", "w")][:2]
    indexed.release()


def test_integer_ids_are_their_own_index_and_the_recommender_maps_them_to_rows(spark):
    """movielens-like ids (integers with gaps) go to ALS as they are; the Spark-free recommender numbers them
    most frequent first and answers what the Spark model predicts."""
    from pyspark.sql import functions as F

    from sparkwright.models import get_model_type
    from sparkwright.models.als import ALS_PREDICTION_COL
    from sparkwright.pipeline.rating_ids import fits_als
    from sparkwright.pipeline.recommenders import IndexedRatings

    assert fits_als("int", 0, 10) and fits_als("bigint", 3, 2**31 - 1)
    assert not any([fits_als("bigint", -1, 10), fits_als("bigint", 0, 2**31), fits_als("string", None, None)])
    rng = np.random.default_rng(8)
    item_ids = [5, 500, 50_000, 7_000_000]
    rows = [
        (user, item, float(rng.integers(1, 6)))
        for user in (10, 20, 30, 40)
        for item in item_ids[: user // 10]  # 5 rated by all four users, 7,000,000 by one
    ]
    train = spark.createDataFrame(rows, f"user bigint, item bigint, {RATING_COL} double")
    indexed = IndexedRatings.fit(_columns(), train, train.limit(0))
    assert indexed.users.as_is and indexed.items.as_is
    assert indexed.items.labels == ["5", "500", "50000", "7000000"]  # most frequent first
    assert list(indexed.items.rows(np.array([50_000, 5, 6, -1]))) == [2, 0, -1, -1]
    assert list(indexed.items.indices(np.array([3, 1]))) == [7_000_000, 500]

    als = get_model_type("als", "recommendation").fit(
        {"rank": 2, "maxIter": 5, "biases": False}, indexed.train, implicit=False
    )
    recommender = indexed.recommender(als)
    pairs = spark.createDataFrame([(u, i) for u in (10, 20, 30, 40) for i in item_ids], "user bigint, item bigint")
    spark_scores = {
        (r.user, r.item): r[ALS_PREDICTION_COL]
        for r in als.transform(indexed.items.transform(indexed.users.transform(pairs))).collect()
    }
    assert {pair: recommender.predict(*pair) for pair in spark_scores} == pytest.approx(spark_scores, abs=1e-5)
    # User 20 rated items 5 and 500: the other two, by the Spark model's score.
    expected = sorted(item_ids[2:], key=lambda i: -spark_scores[(20, i)])
    assert [p["item"] for p in recommender.recommend(20, 5)["items"]] == expected
    assert recommender.recommend(99, 2)["items"] == [{"item": 5, "score": None}, {"item": 500, "score": None}]

    negative = spark.createDataFrame([(-1, 5, 3.0), (2, 5, 4.0)], f"user bigint, item bigint, {RATING_COL} double")
    indexed_negative = IndexedRatings.fit(_columns(), negative, negative.limit(0))
    assert not indexed_negative.users.as_is and indexed_negative.items.as_is  # a negative id: StringIndexer
    assert indexed_negative.train.where(F.col(USER_INDEX).isNull()).count() == 0
    indexed.release()
    indexed_negative.release()
