"""Export of ``type: sklearn`` models: tree ensembles and linear models score without Spark as Spark scores them.

Each supported estimator is fitted with ``fit_model`` on a few hundred hotel-like rows (two categorical,
two numeric columns, nulls in one), exported, and compared on held-out rows with Spark's ``transform``:
predictions and probabilities to a relative difference of 1e-9, class indices and labels exactly. Binary
thresholds are chosen where forest probabilities sit exactly on them, so ``>=`` is tested, not ``>``.
Hand-built pipelines cover what ``fit_model`` never produces: NaN reaching a tree (sklearn routes it by
``missing_go_to_left``) and classes absent from training.
"""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import VectorAssembler

from sparkwright.config import ModelSpec
from sparkwright.deploy.export import ExportedScorer, UnsupportedStageError, export_pipeline, save_pyfunc
from sparkwright.deploy.export.sklearn_models import float32_equivalent, supported_estimators
from sparkwright.errors import ModelError
from sparkwright.models import fit_model
from sparkwright.models.sklearn_model import SklearnModel

CATEGORICAL = ["meal", "room_type"]
NUMERIC = ["lead_time", "nights"]
LABELS = ["price", "booked", "tier"]
SCHEMA = "id int, meal string, room_type string, lead_time double, nights double, price double, booked string, tier int"
TOLERANCE = 1e-9
PREDICTED_INDEX = "__sw_prediction_index"

# case -> (task, label, estimator, params, threshold)
CASES = {
    "regression-decision-tree": ("regression", "price", "sklearn.tree.DecisionTreeRegressor", {"max_depth": 6}, None),
    "regression-random-forest": (
        "regression",
        "price",
        "sklearn.ensemble.RandomForestRegressor",
        {"n_estimators": 6, "max_depth": 6},
        None,
    ),
    "regression-extra-trees": (
        "regression",
        "price",
        "sklearn.ensemble.ExtraTreesRegressor",
        {"n_estimators": 6, "max_depth": 6},
        None,
    ),
    "regression-linear": ("regression", "price", "sklearn.linear_model.LinearRegression", {}, None),
    "regression-ridge": ("regression", "price", "sklearn.linear_model.Ridge", {"alpha": 3.0}, None),
    "regression-ridge-standardized": (
        "regression",
        "price",
        "sklearn.linear_model.Ridge",
        {"alpha": 3.0, "standardize": True},
        None,
    ),
    "regression-lasso": ("regression", "price", "sklearn.linear_model.Lasso", {"alpha": 0.5}, None),
    "regression-elastic-net": (
        "regression",
        "price",
        "sklearn.linear_model.ElasticNet",
        {"alpha": 0.5, "l1_ratio": 0.3},
        None,
    ),
    "binary-decision-tree": ("classification", "booked", "sklearn.tree.DecisionTreeClassifier", {"max_depth": 5}, None),
    # Fully grown trees have pure leaves: 5 trees give probabilities in steps of 0.2, some exactly 0.4.
    "binary-random-forest-threshold": (
        "classification",
        "booked",
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 5},
        0.4,
    ),
    "binary-extra-trees-threshold": (
        "classification",
        "booked",
        "sklearn.ensemble.ExtraTreesClassifier",
        {"n_estimators": 4},
        0.5,
    ),
    "binary-logistic-threshold": (
        "classification",
        "booked",
        "sklearn.linear_model.LogisticRegression",
        {"C": 100.0, "max_iter": 5000},
        0.35,
    ),
    "binary-logistic-standardized": (
        "classification",
        "booked",
        "sklearn.linear_model.LogisticRegression",
        {"C": 0.5, "standardize": True},
        None,
    ),
    "multiclass-decision-tree": ("classification", "tier", "sklearn.tree.DecisionTreeClassifier", {}, None),
    "multiclass-random-forest": (
        "classification",
        "tier",
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 6, "max_depth": 5},
        None,
    ),
    "multiclass-extra-trees": (
        "classification",
        "tier",
        "sklearn.ensemble.ExtraTreesClassifier",
        {"n_estimators": 6, "max_depth": 5},
        None,
    ),
    "multiclass-logistic": (
        "classification",
        "tier",
        "sklearn.linear_model.LogisticRegression",
        {"C": 100.0, "max_iter": 5000},
        None,
    ),
}


def _rows(n: int, seed: int) -> list[tuple]:
    """Hotel-like rows (as in test_model_conformance): a price, a binary 'booked' and a 3-class 'tier'."""
    rng = np.random.default_rng(seed)
    meals = rng.choice(["bed_and_breakfast", "half_board", "self_catering"], n)
    rooms = rng.choice(["double", "suite"], n)
    lead = rng.uniform(0, 100, n)
    nights = rng.integers(1, 8, n).astype(float)
    score = 40 * (meals == "half_board") + 30 * (rooms == "suite") + 0.8 * lead + 4 * nights
    price = 60 + score + rng.normal(0, 5, n)
    booked = np.where(score + rng.normal(0, 12, n) > np.median(score), "yes", "no")
    tier = np.digitize(score + rng.normal(0, 8, n), np.quantile(score, [0.33, 0.66]))
    null = rng.random(n) < 0.1
    return [
        (i, str(m), str(r), None if z else float(x), float(k), float(y), str(b), int(t))
        for i, (m, r, x, z, k, y, b, t) in enumerate(
            zip(meals, rooms, lead, null, nights, price, booked, tier, strict=True)
        )
    ]


@pytest.fixture(scope="module")
def train(spark):
    df = spark.createDataFrame(_rows(400, seed=1), SCHEMA).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def held_out(spark):
    df = spark.createDataFrame(_rows(200, seed=2), SCHEMA).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def held_out_pdf(held_out):
    """The scoring-time columns as pandas: nulls as None in an object column, as a client sends them."""
    rows = held_out.drop(*LABELS).collect()
    data = {c: pd.Series([r[c] for r in rows], dtype=object) for c in ["meal", "room_type", "lead_time"]}
    data["nights"] = pd.Series([r["nights"] for r in rows], dtype=float)
    return pd.DataFrame(data, index=pd.Index([r["id"] for r in rows], name="id"))


@pytest.fixture(scope="module")
def fitted(train):
    """Fits a case the first time a test asks for it; later tests of the module reuse the fit."""
    cache = {}

    def fit(case: str):
        if case not in cache:
            task, label, estimator, params, threshold = CASES[case]
            cache[case] = fit_model(
                train,
                ModelSpec(type="sklearn", params={"estimator": estimator, **params}),
                label_col=label,
                categorical=CATEGORICAL,
                numeric=NUMERIC,
                impute="median",
                task=task,
                threshold=threshold,
            )
        return cache[case]

    return fit


# ---- comparison ---------------------------------------------------------------------------------


def _max_relative_difference(expected, actual) -> float:
    expected, actual = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    assert expected.shape == actual.shape
    assert np.array_equal(np.isnan(expected), np.isnan(actual)), "NaN in different places"
    finite = ~np.isnan(expected)
    a, b = expected[finite], actual[finite]
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b) / scale))


def _assert_close(expected, actual, what: str) -> None:
    difference = _max_relative_difference(expected, actual)
    assert difference <= TOLERANCE, f"{what}: max relative difference {difference:.3g}"


def _vectors(cells) -> np.ndarray:
    return np.stack([c.toArray() for c in cells]).astype(np.float64)


def _compare(spark_pdf: pd.DataFrame, scorer: ExportedScorer, predicted: pd.DataFrame, inputs: pd.DataFrame) -> None:
    """Prediction, probabilities and the class index of the exported model against Spark's columns."""
    spark_pdf = spark_pdf.set_index("id").loc[predicted.index]
    assert len(predicted) == len(spark_pdf) > 0
    name = scorer.outputs["prediction"]
    if scorer.is_classifier:
        assert list(predicted[name]) == list(spark_pdf[name])
        _assert_close(_vectors(spark_pdf[scorer.outputs["probability"]]), predicted[scorer.output_columns[1:]], name)
        index = scorer.transform(inputs)[PREDICTED_INDEX].values
        assert np.array_equal(index, spark_pdf[PREDICTED_INDEX].to_numpy())
    else:
        _assert_close(spark_pdf[name].to_numpy(), predicted[name].to_numpy(), name)


# ---- fit_model pipelines ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_exported_sklearn_model_equals_spark(case, fitted, held_out, held_out_pdf):
    fit = fitted(case)
    scorer = export_pipeline(fit.pipeline_model, held_out.drop(*LABELS).schema)
    spark_pdf = fit.pipeline_model.transform(held_out).toPandas()
    predicted = scorer.predict(held_out_pdf)
    _compare(spark_pdf, scorer, predicted, held_out_pdf)

    kinds = {step.kind for step in scorer.steps}
    estimator = CASES[case][2]
    family = {"LogisticRegression": "logistic_regression"}.get(estimator.rpartition(".")[2], "trees")
    if ".linear_model." in estimator and "Logistic" not in estimator:
        family = "linear_regression"
    assert family in kinds
    assert ("sklearn_classes" in kinds) == (fit.task == "classification")
    assert set(scorer.input_columns) == {"meal", "room_type", "lead_time", "nights"}
    if fit.task == "classification":
        assert [str(c) for c in scorer.classes] == fit.classes
    threshold = CASES[case][4]
    if threshold is not None and "logistic" not in case:
        # The data puts rows exactly on the threshold, where >= predicts the positive class.
        positive = _vectors(spark_pdf["probability"])[:, 1]
        on_threshold = positive == threshold
        assert on_threshold.any()
        assert (spark_pdf[PREDICTED_INDEX].to_numpy()[on_threshold] == 1.0).all()


def test_saved_pyfunc_loads_with_mlflow_and_scores_like_spark(fitted, held_out, held_out_pdf, tmp_path):
    fit = fitted("binary-random-forest-threshold")
    scorer = export_pipeline(fit.pipeline_model, held_out.drop(*LABELS).schema)
    folder = save_pyfunc(scorer, tmp_path / "model", input_example=held_out_pdf[scorer.input_columns].head(3))
    loaded = mlflow.pyfunc.load_model(str(folder))
    predicted = loaded.predict(held_out_pdf[scorer.input_columns])
    spark_pdf = fit.pipeline_model.transform(held_out).toPandas()
    _compare(spark_pdf, ExportedScorer.load(folder / "artifacts" / "scorer"), predicted, held_out_pdf)
    assert list(predicted.columns) == ["prediction", "probability_0", "probability_1"]
    # No pickle anywhere: JSON, .npy read with allow_pickle=False, and the model's code as source.
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]
    for array in (folder / "artifacts" / "scorer" / "arrays").glob("*.npy"):
        np.load(array, allow_pickle=False)
    manifest = json.loads((folder / "artifacts" / "scorer" / "scorer.json").read_text())
    assert [s["kind"] for s in manifest["steps"]][-3:] == ["trees", "sklearn_classes", "sql_index_to_label"]


def test_unsupported_estimator_is_refused_naming_it(train, held_out):
    fit = fit_model(
        train,
        ModelSpec(type="sklearn", params={"estimator": "sklearn.neighbors.KNeighborsRegressor", "n_neighbors": 3}),
        label_col="price",
        categorical=CATEGORICAL,
        numeric=NUMERIC,
        impute="median",
    )
    with pytest.raises(UnsupportedStageError, match=r"sklearn\.neighbors\.KNeighborsRegressor .*is not supported") as e:
        export_pipeline(fit.pipeline_model, held_out.drop(*LABELS).schema)
    assert isinstance(e.value, ModelError)
    assert f"Supported estimators: {', '.join(supported_estimators())}." in str(e.value)
    assert "RandomForestRegressor" in str(e.value) and "LogisticRegression" in str(e.value)


# ---- hand-built pipelines: NaN reaching the trees, classes absent from training ----------------


def _nan_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three features, a fifth of each NaN; a value and a class that depend on them (NaN carries signal)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    missing = rng.random((n, 3)) < 0.2
    y = X[:, 0] + 0.1 * X[:, 1] + 8 * X[:, 2] + 2.0 * missing[:, 0] + rng.normal(0, 0.3, n)
    X[missing] = np.nan
    return X, y, np.digitize(y, np.quantile(y, [0.3, 0.6]))


def _sklearn_pipeline(estimator, task: str, num_classes: int | None) -> PipelineModel:
    model = SklearnModel(estimator)
    model.set(model.task, task)
    if num_classes is not None:
        model.set(model.numClasses, num_classes)
    assembler = VectorAssembler(inputCols=["a", "b", "c"], outputCol=model.getFeaturesCol(), handleInvalid="keep")
    return PipelineModel(stages=[assembler, model])


def _frame(spark, X: np.ndarray):
    """Spark rows and pandas inputs; the first rows have a null instead of NaN (the assembler keeps both as NaN)."""
    values = [[None if (i < 5 and np.isnan(v)) else float(v) for v in row] for i, row in enumerate(X)]
    df = spark.createDataFrame([(i, *row) for i, row in enumerate(values)], "id int, a double, b double, c double")
    pdf = pd.DataFrame(X, columns=["a", "b", "c"], index=pd.Index(range(len(X)), name="id"))
    return df, pdf


NAN_TREES = {
    "decision-tree-regressor": ("regression", "sklearn.tree.DecisionTreeRegressor", {"max_depth": 6}),
    "random-forest-regressor": ("regression", "sklearn.ensemble.RandomForestRegressor", {"n_estimators": 4}),
    "extra-trees-classifier": ("classification", "sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 4}),
    "decision-tree-classifier": ("classification", "sklearn.tree.DecisionTreeClassifier", {"max_depth": 6}),
}


@pytest.mark.parametrize("case", sorted(NAN_TREES))
def test_nan_features_go_where_sklearn_sends_them(case, spark):
    """Trees fitted with NaN learn where it goes; on a tree fitted without, NaN goes to the larger child."""
    from sklearn.base import clone

    from sparkwright.models.sklearn_model import load_estimator_class

    task, path, params = NAN_TREES[case]
    X, y, classes = _nan_rows(300, seed=3)
    label = y if task == "regression" else np.where(classes == 1, 3, classes)  # classes 0, 2, 3 of 4
    estimator = load_estimator_class(path)(random_state=0, **params)
    for fitted_on in (X, np.nan_to_num(X)):
        model = clone(estimator).fit(fitted_on, label)
        missing_left = np.concatenate(
            [t.tree_.missing_go_to_left[t.tree_.children_left >= 0] for t in getattr(model, "estimators_", [model])]
        )
        assert missing_left.any() and not missing_left.all()  # both directions occur
        pipeline = _sklearn_pipeline(model, task, 4 if task == "classification" else None)
        X_test = _nan_rows(150, seed=4)[0]
        df, pdf = _frame(spark, X_test)
        scorer = export_pipeline(pipeline, df.drop("id").schema)
        spark_pdf = pipeline.transform(df).toPandas().set_index("id")
        predicted = scorer.predict(pdf)
        _assert_close(spark_pdf["prediction"].to_numpy(), predicted["prediction"].to_numpy(), "prediction")
        if task == "classification":
            probability = _vectors(spark_pdf["probability"])
            assert probability.shape[1] == 4 and (probability[:, 1] == 0).all()
            _assert_close(probability, predicted[scorer.output_columns[1:]].to_numpy(), "probability")


@pytest.mark.parametrize("present", [(0, 2), (0, 1, 3)], ids=["binary-of-3", "multinomial-3-of-4"])
def test_logistic_regression_gives_absent_classes_zero(present, spark):
    from sklearn.linear_model import LogisticRegression

    X, _, classes = _nan_rows(300, seed=5)
    X = np.nan_to_num(X)
    label = np.asarray(present)[classes % len(present)]
    num_classes = max(present) + 2
    pipeline = _sklearn_pipeline(LogisticRegression(max_iter=2000).fit(X, label), "classification", num_classes)
    df, pdf = _frame(spark, np.nan_to_num(_nan_rows(150, seed=6)[0]))
    scorer = export_pipeline(pipeline, df.drop("id").schema)
    spark_pdf = pipeline.transform(df).toPandas().set_index("id")
    predicted = scorer.predict(pdf)
    assert list(predicted["prediction"]) == list(spark_pdf["prediction"])
    probability = _vectors(spark_pdf["probability"])
    absent = [k for k in range(num_classes) if k not in present]
    assert probability.shape[1] == num_classes and (probability[:, absent] == 0).all()
    _assert_close(probability, predicted[scorer.output_columns[1:]].to_numpy(), "probability")


def test_binary_logistic_probabilities_match_in_the_tails(spark):
    """sklearn computes p1 = expit(m) and p0 = 1 - p1; Spark's order (p0 first) differs by 1e-6 relative near 0."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    X = rng.normal(size=(700, 3)) * [2.0, 10.0, 0.1]
    label = (X[:, 0] + 0.1 * X[:, 1] + rng.normal(0, 0.3, 700) > 0).astype(int)  # margins up to about 25
    estimator = LogisticRegression(max_iter=5000).fit(X[:300], label[:300])
    pipeline = _sklearn_pipeline(estimator, "classification", 2)
    df, pdf = _frame(spark, X[300:])
    scorer = export_pipeline(pipeline, df.drop("id").schema)
    expected = _vectors(pipeline.transform(df).toPandas().set_index("id")["probability"])
    assert 0 < expected.min() < 1e-10
    actual = scorer.predict(pdf)[scorer.output_columns[1:]].to_numpy()
    _assert_close(expected, actual, "probability")


def test_unsupported_subclass_and_wrong_task_are_refused(spark):
    from sklearn.linear_model import Ridge

    class MyRidge(Ridge):
        pass

    X = np.random.default_rng(7).normal(size=(50, 3))
    df, _ = _frame(spark, X)
    subclass = _sklearn_pipeline(MyRidge().fit(X, X[:, 0]), "regression", None)
    with pytest.raises(
        UnsupportedStageError, match=r"estimator test_export_sklearn\.MyRidge \(task regression\) is not supported"
    ):
        export_pipeline(subclass, df.drop("id").schema)
    as_classifier = _sklearn_pipeline(Ridge().fit(X, X[:, 0]), "classification", 2)
    with pytest.raises(UnsupportedStageError, match=r"sklearn\.linear_model\.Ridge \(task classification\)"):
        export_pipeline(as_classifier, df.drop("id").schema)


# ---- thresholds as float32 comparisons ----------------------------------------------------------


def test_float32_equivalent_decides_as_a_float32_comparison():
    """``x <= u`` must equal sklearn's ``float32(x) <= t`` for every double x, right at the rounding edges too."""
    rng = np.random.default_rng(0)
    f32 = rng.normal(0, 50, 400).astype(np.float32)
    midpoints = f32[:-1].astype(np.float64) / 2 + f32[1:].astype(np.float64) / 2  # sklearn's best split
    special = [0.0, -0.0, 1e-45, -1e-45, 1.0, float(np.finfo(np.float32).max), 3.5e38, -3.5e38, 1e300]
    thresholds = np.concatenate([midpoints, f32.astype(np.float64), rng.normal(0, 50, 400), special])
    u = float32_equivalent(thresholds)
    for t, edge in zip(thresholds, u, strict=True):
        # Around the edge, around t, and around the float32 neighbours of t, a few doubles each way.
        with np.errstate(over="ignore"):
            neighbours32 = np.nextafter(np.float32(t), np.float32([-np.inf, np.inf])).astype(np.float64)
            x = np.array([c for centre in [edge, t, *neighbours32] for c in _neighbours(centre) if np.isfinite(c)])
            sklearn_left = x.astype(np.float32) <= t
        assert np.array_equal(x <= edge, sklearn_left), t
    assert float32_equivalent(np.array([np.inf]))[0] == np.inf


def _neighbours(centre: float, steps: int = 3) -> list[float]:
    out, low, high = [centre], centre, centre
    for _ in range(steps):
        low, high = np.nextafter(low, -np.inf), np.nextafter(high, np.inf)
        out += [float(low), float(high)]
    return out
