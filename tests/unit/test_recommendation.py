"""Task recommendation: project-file checks (no JVM), the per-user split, the bias baseline, the ranking
metrics and the Spark-free recommender."""

from __future__ import annotations

import numpy as np
import pytest

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
    ],
)
def test_model_errors_are_found_without_spark(models, message):
    with pytest.raises(ConfigError, match=message):
        validate_models(parse_project(_project(models=models)))


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
    model = BiasModel(_columns()).fit(df)
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
        integer_ids=(True, True),
    )


def test_recommender_ranks_known_users_and_falls_back_to_popular_items(tmp_path):
    recommender = Recommender.load(_recommender().save(tmp_path / "rec"))
    answer = recommender.recommend(7, 2)
    assert answer == {"user": 7, "items": [{"item": 11, "score": 2.0}, {"item": 12, "score": 1.0}], "source": "als"}
    assert recommender.recommend("7", 5)["items"][2]["item"] == 10  # ids as text work too; n beyond the items
    for unknown in ("8", "nobody"):  # no factors, or never seen
        fallback = recommender.recommend(unknown, 2)
        assert fallback["source"] == FALLBACK
        assert [p["item"] for p in fallback["items"]] == [12, 10]
    assert recommender.predict(7, 12) == pytest.approx(1.0)
    assert recommender.predict(7.0, "99") == 3.5
    with pytest.raises(DataError, match="n must be a positive integer"):
        recommender.recommend(7, 0)
