"""Export of fitted Spark ML pipelines to a NumPy scorer: equal to Spark's transform on held-out rows.

Every supported stage and model is fitted on a few hundred synthetic hotel-like rows, then the held-out
rows (with unseen categories, nulls and NaN) are scored by Spark's ``transform`` and by the exported
scorer after a save / load round trip through its MLflow pyfunc model. Predictions and probabilities
agree to a relative difference of 1e-9, predicted labels exactly; every intermediate column the scorer
makes (indices, one-hot vectors, imputed values, assembled and scaled features) is compared too.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    DecisionTreeClassifier,
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import (
    Bucketizer,
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    StringIndexerModel,
    VectorAssembler,
)
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, LinearRegression, RandomForestRegressor
from pyspark.sql import functions as F

from sparkwright.config import ModelSpec
from sparkwright.deploy.export import (
    ExportedScorer,
    ScoringError,
    UnsupportedStageError,
    export_model,
    export_pipeline,
    save_pyfunc,
    supported_stages,
)
from sparkwright.errors import DataError, ModelError
from sparkwright.features import build_feature_stages
from sparkwright.models import fit_model
from sparkwright.tasks.regression import MeanEstimator

SCHEMA = (
    "row_id int, city string, room string, floor int, lead double, nights double, adults int, "
    "price double, y_bin string, y_multi string"
)
INPUTS = ["city", "room", "floor", "lead", "nights", "adults"]
CATEGORICAL = ["city", "room"]
NUMERIC = ["lead", "nights"]
TOLERANCE = 1e-9


def _rows(n: int, seed: int, *, held_out: bool) -> list[tuple]:
    """Rows whose price and classes depend on every feature; held-out rows add unseen levels and gaps."""
    rng = np.random.default_rng(seed)
    cities = ["lisbon", "porto", "faro", "braga"] + (["coimbra"] if held_out else [])
    rooms = ["double", "suite", "single"] + (["penthouse"] if held_out else [])
    city = rng.choice(cities, n, p=None if not held_out else [0.22, 0.22, 0.22, 0.22, 0.12])
    room = rng.choice(rooms, n)
    floor = rng.integers(0, 5 if not held_out else 7, n)
    lead = rng.uniform(0, 200, n)
    nights = rng.integers(1, 10, n).astype(float)
    adults = rng.integers(1, 5, n)
    base = {"lisbon": 40, "porto": 20, "faro": 30, "braga": 0, "coimbra": 10}
    bump = {"double": 0, "suite": 60, "single": -15, "penthouse": 90}
    price = np.array([base[c] + bump[r] for c, r in zip(city, room, strict=True)]) + 60 + 0.3 * lead + 5 * nights
    price = price + 3 * floor + rng.normal(0, 8, n)
    score = (price - 120) / 25 + rng.normal(0, 0.6, n)
    y_bin = np.where(score > 0, "yes", "no")
    y_multi = np.select([score < -0.7, score < 0.8], ["low", "mid"], "high")
    gap = rng.random(n)
    rows = []
    for i in range(n):
        lead_value = None if gap[i] < 0.08 else (math.nan if gap[i] < 0.12 else float(lead[i]))
        adults_value = None if rng.random() < 0.08 else int(adults[i])
        rows.append(
            (
                i,
                str(city[i]),
                str(room[i]),
                int(floor[i]),
                lead_value,
                float(nights[i]),
                adults_value,
                float(price[i]),
                str(y_bin[i]),
                str(y_multi[i]),
            )
        )
    return rows


@pytest.fixture(scope="module")
def train(spark):
    df = spark.createDataFrame(_rows(360, seed=1, held_out=False), SCHEMA)
    df = df.withColumn("log_price", F.log("price")).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def held_out(spark):
    df = spark.createDataFrame(_rows(160, seed=2, held_out=True), SCHEMA).cache()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def held_out_pdf(held_out):
    """The held-out inputs as pandas, nulls as None (object columns), NaN as NaN, indexed by row_id."""
    rows = held_out.collect()
    data = {c: pd.Series([r[c] for r in rows], dtype=object) for c in INPUTS}
    data["nights"] = data["nights"].astype(float)
    data["floor"] = data["floor"].astype(np.int64)
    return pd.DataFrame(data, index=pd.Index([r["row_id"] for r in rows], name="row_id"))


# ---- pipelines ----------------------------------------------------------------------------------
# The feature stages are fitted once per module (as sparkwright fits its prefix once, then the estimator);
# each case fits only its estimator on the prepared rows and is exported as the whole PipelineModel.

BINARY = ["no", "yes"]
MULTI = ["high", "low", "mid"]
LABELS = {"y_bin": ("bin_idx", BINARY), "y_multi": ("multi_idx", MULTI)}


def _one_hot():
    """sparkwright's own feature stages: StringIndexer (keep) + OneHotEncoder + Imputer + VectorAssembler."""
    return build_feature_stages(CATEGORICAL, NUMERIC, impute="median", features_col="features")


def _indexed():
    """Categoricals as indices with nominal metadata (no one-hot), as sparkwright builds them for trees."""
    indexed = [f"{c}_idx" for c in CATEGORICAL]
    imputed = [f"{c}_imp" for c in NUMERIC]
    return [
        StringIndexer(inputCols=CATEGORICAL, outputCols=indexed, handleInvalid="keep"),
        Imputer(inputCols=NUMERIC, outputCols=imputed, strategy="mean"),
        VectorAssembler(inputCols=[*indexed, *imputed], outputCol="features"),
    ]


def _label_indexer(label: str) -> StringIndexerModel:
    """The label -> index stage of sparkwright's classification (absent label at scoring: Spark skips it)."""
    output, classes = LABELS[label]
    return StringIndexerModel.from_labels(classes, inputCol=label, outputCol=output, handleInvalid="error")


def _index_to_label(classes: list[str]) -> SQLTransformer:
    """The index -> label statement, in the form sparkwright's classification writes."""
    cases = " ".join(f"WHEN {i} THEN CAST('{c}' AS string)" for i, c in enumerate(classes))
    return SQLTransformer(
        statement=f"SELECT *, CASE CAST(`prediction_idx` AS INT) {cases} END AS `prediction` FROM __THIS__"
    )


@pytest.fixture(scope="module")
def prefixes(train):
    """Fitted feature stages and the training rows they prepare, by name (None: no feature stages)."""
    labels = [_label_indexer(label) for label in LABELS]
    labelled = PipelineModel(stages=labels).transform(train).cache()
    out = {None: ([], labelled)}
    for name, stages in (("onehot", _one_hot()), ("indexed", _indexed())):
        fitted = Pipeline(stages=stages).fit(labelled)
        out[name] = (fitted.stages, fitted.transform(labelled).cache())
    yield out
    for _, prepared in out.values():
        prepared.unpersist()


def _fit(prefixes, prefix: str | None, stages: list, label: str | None = None) -> PipelineModel:
    """The whole fitted pipeline: (label indexer) + feature stages + ``stages`` fitted on prepared rows."""
    feature_stages, prepared = prefixes[prefix]
    fitted = Pipeline(stages=stages).fit(prepared).stages
    if label is None:
        return PipelineModel(stages=[*feature_stages, *fitted])
    mapping = _index_to_label(LABELS[label][1])
    return PipelineModel(stages=[_label_indexer(label), *feature_stages, *fitted, mapping])


def _classifier(estimator_cls, label="y_bin", **params):
    return estimator_cls(labelCol=LABELS[label][0], predictionCol="prediction_idx", seed=3, **params)


def _logistic(label="y_bin", **params):
    return LogisticRegression(labelCol=LABELS[label][0], predictionCol="prediction_idx", **params)


REGRESSION = {
    "linear-scaled": (
        "onehot",
        lambda: [
            StandardScaler(inputCol="features", outputCol="scaled", withMean=True, withStd=True),
            LinearRegression(featuresCol="scaled", labelCol="price"),
        ],
    ),
    "linear-scaled-std-only": (
        "indexed",
        lambda: [
            StandardScaler(inputCol="features", outputCol="scaled"),
            LinearRegression(featuresCol="scaled", labelCol="price", elasticNetParam=0.5, regParam=0.1),
        ],
    ),
    "tree-categorical": ("indexed", lambda: [DecisionTreeRegressor(labelCol="price", maxDepth=6)]),
    "forest-categorical": (
        "indexed",
        lambda: [RandomForestRegressor(labelCol="price", numTrees=8, maxDepth=5, seed=3)],
    ),
    "gbt-categorical": ("indexed", lambda: [GBTRegressor(labelCol="price", maxIter=8, maxDepth=3, seed=3)]),
    "baseline": (None, lambda: [MeanEstimator(labelCol="price")]),
}

CLASSIFICATION = {
    "logistic-binary-thresholds": (
        "onehot",
        "y_bin",
        lambda: [_logistic(regParam=0.01, thresholds=[0.6, 0.4])],
    ),
    "logistic-multinomial": (
        "onehot",
        "y_multi",
        lambda: [_logistic("y_multi", family="multinomial", regParam=0.01)],
    ),
    "tree-binary-categorical": ("indexed", "y_bin", lambda: [_classifier(DecisionTreeClassifier, maxDepth=5)]),
    "forest-multiclass-categorical": (
        "indexed",
        "y_multi",
        lambda: [_classifier(RandomForestClassifier, "y_multi", numTrees=8, maxDepth=5)],
    ),
    "gbt-binary-categorical": ("indexed", "y_bin", lambda: [_classifier(GBTClassifier, maxIter=8, maxDepth=3)]),
    "tree-multiclass-onehot": (
        "onehot",
        "y_multi",
        lambda: [_classifier(DecisionTreeClassifier, "y_multi", maxDepth=4)],
    ),
    "forest-binary-thresholds-onehot": (
        "onehot",
        "y_bin",
        lambda: [_classifier(RandomForestClassifier, numTrees=6, maxDepth=4).setThresholds([0.3, 0.7])],
    ),
}


# ---- comparison ---------------------------------------------------------------------------------


def _matrix(cells) -> np.ndarray:
    return np.stack([c.toArray() if c is not None else np.full(1, np.nan) for c in cells]).astype(np.float64)


def _max_relative_difference(expected: np.ndarray, actual: np.ndarray) -> float:
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


def _compare(spark_pdf: pd.DataFrame, scorer: ExportedScorer, held_out_pdf: pd.DataFrame, predicted: pd.DataFrame):
    """Predictions and probabilities from the pyfunc model; every intermediate column from the scorer."""
    spark_pdf = spark_pdf.set_index("row_id").loc[predicted.index]
    prediction = scorer.outputs["prediction"]
    if scorer.outputs["prediction_type"] == "string":
        assert list(predicted[prediction]) == list(spark_pdf[prediction])
    else:
        _assert_close(spark_pdf[prediction].to_numpy(), predicted[prediction].to_numpy(), prediction)
    if scorer.is_classifier:
        expected = _matrix(spark_pdf[scorer.outputs["probability"]])
        actual = predicted[scorer.output_columns[1:]].to_numpy()
        _assert_close(expected, actual, "probability")
    frame = scorer.transform(held_out_pdf)
    assert list(frame.index) == list(predicted.index)
    compared = 0
    for name, column in frame.columns.items():
        if name in INPUTS or name not in spark_pdf.columns:
            continue
        expected = spark_pdf[name]
        if column.type == "vector":
            _assert_close(_matrix(expected), column.values, name)
        elif column.type == "string":
            assert list(column.values) == list(expected), name
        else:
            _assert_close(expected.to_numpy(dtype=np.float64), column.values.astype(np.float64), name)
        compared += 1
    return compared


def _round_trip(model: PipelineModel, held_out, held_out_pdf, folder: Path):
    """Spark's output, and the exported model's after save_pyfunc + mlflow.pyfunc.load_model."""
    spark_pdf = model.transform(held_out).toPandas()
    scorer = export_pipeline(model, held_out.select(INPUTS).schema)
    save_pyfunc(scorer, folder)
    loaded = mlflow.pyfunc.load_model(str(folder))
    predicted = loaded.predict(held_out_pdf[scorer.input_columns])
    return spark_pdf, ExportedScorer.load(folder / "artifacts" / "scorer"), predicted


@pytest.mark.parametrize("case", sorted(REGRESSION))
def test_export_regression_equals_spark(case, prefixes, held_out, held_out_pdf, tmp_path):
    prefix, stages = REGRESSION[case]
    model = _fit(prefixes, prefix, stages())
    spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, tmp_path / "model")
    assert len(predicted) == held_out.count()
    compared = _compare(spark_pdf, scorer, held_out_pdf, predicted)
    assert compared >= (1 if case == "baseline" else 3)


@pytest.mark.parametrize("case", sorted(CLASSIFICATION))
def test_export_classification_equals_spark(case, prefixes, held_out, held_out_pdf, tmp_path):
    prefix, label, stages = CLASSIFICATION[case]
    model = _fit(prefixes, prefix, stages(), label)
    spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, tmp_path / "model")
    assert list(predicted.columns) == scorer.output_columns
    assert scorer.classes in (BINARY, MULTI)
    # The label indexer reads the label, absent at scoring: the export drops it, as Spark skips it.
    assert "y_bin" not in scorer.input_columns and "y_multi" not in scorer.input_columns
    _compare(spark_pdf, scorer, held_out_pdf, predicted)


SPARKWRIGHT_MODELS = {
    "classification-forest-int-label": {
        "task": "classification",
        "label_col": "y_int",
        "type": "random_forest",
        "params": {"numTrees": 5, "maxDepth": 4},
        "threshold": 0.4,
    },
    "classification-majority-baseline": {"task": "classification", "label_col": "y_multi", "type": "baseline"},
    "regression-gbt-log-label": {
        "task": "regression",
        "label_col": "price",
        "type": "gbt",
        "params": {"maxIter": 5, "maxDepth": 3},
        "log_label": True,
    },
}


@pytest.mark.parametrize("case", sorted(SPARKWRIGHT_MODELS))
def test_export_sparkwrights_own_fitted_models(case, train, held_out, held_out_pdf, tmp_path):
    """fit_model's pipelines as the main job fits them: label indexer, feature stages, model, label mapping."""
    settings = dict(SPARKWRIGHT_MODELS[case])
    spec = ModelSpec(type=settings.pop("type"), params=settings.pop("params", {}))
    data = train.withColumn("y_int", (F.col("y_bin") == "yes").cast("int"))
    fitted = fit_model(data, spec, categorical=CATEGORICAL, numeric=NUMERIC, impute="median", **settings)
    spark_pdf, scorer, predicted = _round_trip(fitted.pipeline_model, held_out, held_out_pdf, tmp_path / "model")
    assert settings["label_col"] not in scorer.input_columns
    if fitted.task == "classification":
        assert [str(c) for c in scorer.classes] == fitted.classes
        assert scorer.outputs["prediction_type"] == ("int" if case.endswith("int-label") else "string")
    _compare(spark_pdf, scorer, held_out_pdf, predicted)


def test_export_classifier_paths_without_raw_or_probability_columns(prefixes, held_out, held_out_pdf, tmp_path):
    """Spark predicts from the probability when there is no raw column, and calls predict() when there is neither."""
    cases = {
        "tree-predict": _classifier(DecisionTreeClassifier, maxDepth=4, rawPredictionCol="", probabilityCol=""),
        "logistic-probability": _logistic(rawPredictionCol="", thresholds=[0.7, 0.3]),
        "gbt-predict": _classifier(GBTClassifier, maxIter=3, maxDepth=2).setRawPredictionCol("").setProbabilityCol(""),
    }
    for name, estimator in cases.items():
        model = _fit(prefixes, "indexed", [estimator], "y_bin")
        spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, tmp_path / name)
        assert scorer.is_classifier == (name == "logistic-probability")
        _compare(spark_pdf, scorer, held_out_pdf, predicted)


def test_export_skip_drops_the_rows_spark_drops(train, held_out, held_out_pdf, tmp_path):
    stages = [
        StringIndexer(inputCols=CATEGORICAL, outputCols=["c_idx", "r_idx"], handleInvalid="skip"),
        OneHotEncoder(inputCols=["c_idx", "r_idx"], outputCols=["c_vec", "r_vec"]),
        VectorAssembler(inputCols=["c_vec", "r_vec", *NUMERIC], outputCol="features", handleInvalid="skip"),
        LinearRegression(labelCol="price"),
    ]
    model = Pipeline(stages=stages).fit(train)
    spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, tmp_path / "model")
    assert 0 < len(predicted) < len(held_out_pdf) - 20
    assert sorted(predicted.index) == sorted(spark_pdf["row_id"])
    _compare(spark_pdf, scorer, held_out_pdf, predicted)


def test_export_keep_passes_nan_features_like_spark(train, held_out, held_out_pdf, tmp_path):
    """No imputer: null and NaN reach the vector as NaN; trees send NaN right, a linear model predicts NaN."""
    indexed = ["c_idx", "r_idx"]
    features = VectorAssembler(inputCols=[*indexed, *NUMERIC], outputCol="features", handleInvalid="keep")
    stages = [StringIndexer(inputCols=CATEGORICAL, outputCols=indexed, handleInvalid="keep"), features]
    clean = train.where(F.col("lead").isNotNull() & ~F.isnan("lead"))
    for estimator in (DecisionTreeRegressor(labelCol="price", maxDepth=5), LinearRegression(labelCol="price")):
        model = Pipeline(stages=[*stages, estimator]).fit(clean)
        folder = tmp_path / type(estimator).__name__
        spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, folder)
        assert predicted["prediction"].isna().any() == isinstance(estimator, LinearRegression)
        _compare(spark_pdf, scorer, held_out_pdf, predicted)


def test_export_numeric_indexer_and_one_hot_keep(train, held_out, held_out_pdf, tmp_path):
    """StringIndexer on numbers matches Spark's text of them (2 -> "2", 3.0 -> "3.0"); unseen floors kept."""
    stages = [
        StringIndexer(inputCols=["floor", "nights"], outputCols=["f_idx", "n_idx"], handleInvalid="keep"),
        OneHotEncoder(
            inputCols=["f_idx", "n_idx"], outputCols=["f_vec", "n_vec"], dropLast=False, handleInvalid="keep"
        ),
        VectorAssembler(inputCols=["f_vec", "n_vec"], outputCol="features"),
        LinearRegression(labelCol="price"),
    ]
    model = Pipeline(stages=stages).fit(train)
    spark_pdf, scorer, predicted = _round_trip(model, held_out, held_out_pdf, tmp_path / "model")
    assert (scorer.transform(held_out_pdf)["f_idx"].values == 5.0).any()  # floors 5 and 6 are unseen
    _compare(spark_pdf, scorer, held_out_pdf, predicted)


def test_export_imputer_on_an_integer_column_with_a_missing_value(spark, tmp_path):
    """Integer input: the surrogate is cast back to int (truncated); missingValue -1 and null are replaced."""
    rows = [(i, None if i % 7 == 0 else (-1 if i % 5 == 0 else i % 9), float(i % 4)) for i in range(120)]
    df = spark.createDataFrame(rows, "row_id int, adults int, y double")
    stages = [
        Imputer(inputCols=["adults"], outputCols=["adults_imp"], strategy="mean", missingValue=-1.0),
        VectorAssembler(inputCols=["adults_imp"], outputCol="features"),
        LinearRegression(labelCol="y"),
    ]
    model = Pipeline(stages=stages).fit(df)
    spark_pdf = model.transform(df).toPandas()
    scorer = export_pipeline(model, df.select("adults").schema)
    pdf = pd.DataFrame({"adults": pd.Series([r[1] for r in rows], dtype=object)}, index=[r[0] for r in rows])
    predicted = scorer.predict(pdf)
    assert _compare(spark_pdf, scorer, pdf.rename_axis("row_id"), predicted) == 3
    assert scorer.transform(pdf)["adults_imp"].values.dtype == np.int64


def test_export_error_mode_refuses_what_spark_refuses(train, held_out, held_out_pdf):
    stages = [
        StringIndexer(inputCol="city", outputCol="c_idx", handleInvalid="error"),
        VectorAssembler(inputCols=["c_idx", "nights"], outputCol="features"),
        LinearRegression(labelCol="price"),
    ]
    model = Pipeline(stages=stages).fit(train)
    with pytest.raises(Exception, match="Unseen label: coimbra"):
        model.transform(held_out).collect()
    scorer = export_pipeline(model, held_out.select(INPUTS).schema)
    assert scorer.input_columns == ["city", "nights"]
    with pytest.raises(ScoringError, match="Unseen label: coimbra") as raised:
        scorer.predict(held_out_pdf)
    assert isinstance(raised.value, DataError)
    seen = held_out_pdf[held_out_pdf["city"] != "coimbra"]
    assert len(scorer.predict(seen)) == len(seen)


def test_export_single_rows_and_column_checks(prefixes, held_out_pdf):
    model = _fit(prefixes, "onehot", [LinearRegression(labelCol="price")])
    scorer = export_pipeline(model, {"city": "string", "room": "string", "lead": "double", "nights": "double"})
    one = scorer.predict({"city": ["porto"], "room": ["suite"], "lead": [None], "nights": [3]})
    assert list(one.columns) == ["prediction"] and len(one) == 1
    batch = scorer.predict(held_out_pdf)
    assert batch.loc[held_out_pdf.index[0], "prediction"] == scorer.predict(held_out_pdf.iloc[:1])["prediction"].iloc[0]
    with pytest.raises(ScoringError, match=r"lacks columns \['nights'\]"):
        scorer.predict({"city": ["porto"], "room": ["suite"], "lead": [1.0]})
    with pytest.raises(ScoringError, match="'nights' must hold numbers"):
        scorer.predict({"city": ["porto"], "room": ["suite"], "lead": [1.0], "nights": ["three"]})


UNSUPPORTED = {
    "bucketizer": (
        lambda: Bucketizer(splits=[0, 3, 100], inputCol="nights", outputCol="nights_bucket"),
        "Bucketizer is not supported",
    ),
    "custom-sql": (lambda: SQLTransformer(statement="SELECT *, nights * 2 AS n2 FROM __THIS__"), "cannot be exported"),
    "sql-with-where": (
        lambda: SQLTransformer(statement="SELECT *, EXP(`nights`) AS `e` FROM __THIS__ WHERE nights > 1"),
        "cannot be exported",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_export_refuses_unsupported_stages_and_lists_the_supported(case, held_out):
    make, message = UNSUPPORTED[case]
    model = PipelineModel(stages=[make()])
    with pytest.raises(UnsupportedStageError, match=message) as raised:
        export_pipeline(model, held_out.select(INPUTS).schema)
    assert isinstance(raised.value, ModelError)
    if case == "bucketizer":
        assert "StringIndexerModel" in str(raised.value) and "GBTClassificationModel" in str(raised.value)
    else:
        assert "EXP(`<col>`)" in str(raised.value)


def test_export_names_a_column_the_input_lacks(prefixes, held_out):
    model = _fit(prefixes, "onehot", [LinearRegression(labelCol="price")])
    with pytest.raises(ModelError, match="reads column 'lead', which is neither an input column"):
        export_pipeline(model, held_out.select("city", "room", "nights").schema)


def test_supported_stages_cover_the_issue():
    stages = set(supported_stages())
    for name in (
        "StringIndexerModel",
        "OneHotEncoderModel",
        "ImputerModel",
        "VectorAssembler",
        "StandardScalerModel",
        "SQLTransformer",
        "LinearRegressionModel",
        "LogisticRegressionModel",
        "DecisionTreeRegressionModel",
        "RandomForestClassificationModel",
        "GBTRegressionModel",
        "PipelineModel",
    ):
        assert name in stages


def test_export_model_from_an_mlflow_spark_model(train, held_out, held_out_pdf, tmp_path):
    """export_model reads the input columns from the logged model's signature and writes the pyfunc folder."""
    import mlflow.spark
    from mlflow.models import infer_signature

    stages = [
        StringIndexer(inputCol="city", outputCol="c_idx", handleInvalid="keep"),
        VectorAssembler(inputCols=["c_idx", "nights", "floor"], outputCol="features"),
        DecisionTreeRegressor(labelCol="price", maxDepth=4),
    ]
    model = Pipeline(stages=stages).fit(train)
    inputs = ["city", "nights", "floor"]
    example = held_out.select(inputs).limit(5).toPandas()
    signature = infer_signature(example, model.transform(held_out).select("prediction").limit(5).toPandas())
    logged = tmp_path / "spark-model"
    mlflow.spark.save_model(
        model,
        str(logged),
        signature=signature,
        input_example=example,
        pip_requirements=["pyspark"],
        dfs_tmpdir=str(tmp_path / "dfs"),
    )
    # A work_dir reads the saved trees back with Spark, as on a cluster (a local master reads them with pyarrow).
    scorer = export_model(str(logged), tmp_path / "exported", work_dir=str(tmp_path / "work"))
    assert scorer.input_columns == inputs
    assert [i["type"] for i in scorer.inputs] == ["string", "double", "int"]
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "exported"))
    assert loaded.metadata.metadata["sparkwright_export"]["prediction"] == "prediction"
    # The Spark model's input example travels with the export.
    pd.testing.assert_frame_equal(loaded.input_example.reset_index(drop=True), example, check_dtype=False)
    expected = model.transform(held_out).toPandas().set_index("row_id")["prediction"]
    predicted = loaded.predict(held_out_pdf[inputs])
    _assert_close(expected.loc[predicted.index].to_numpy(), predicted["prediction"].to_numpy(), "prediction")


def test_export_model_resolves_a_registry_alias_in_the_store_it_is_given(train, tmp_path, monkeypatch):
    """models:/name@alias resolves in ``tracking_uri``, whatever MLflow's global tracking URI points at."""
    import mlflow.spark
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    model = Pipeline(
        stages=[
            VectorAssembler(inputCols=["nights", "floor"], outputCol="features"),
            LinearRegression(labelCol="price"),
        ]
    ).fit(train)
    example = train.select("nights", "floor").limit(3).toPandas()
    logged = tmp_path / "spark-model"
    signature = infer_signature(example, model.transform(train).select("prediction").limit(3).toPandas())
    mlflow.spark.save_model(model, str(logged), signature=signature, dfs_tmpdir=str(tmp_path / "dfs"))
    store = f"sqlite:///{tmp_path / 'store.db'}"
    client = MlflowClient(store, registry_uri=store)
    experiment = client.create_experiment("export", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(logged), "model")
    client.create_registered_model("exported-rates")
    version = client.create_model_version("exported-rates", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("exported-rates", "champion", version.version)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)

    scorer = export_model("models:/exported-rates@champion", tmp_path / "exported", tracking_uri=store)

    assert scorer.input_columns == ["nights", "floor"]
    predicted = mlflow.pyfunc.load_model(str(tmp_path / "exported")).predict(example)["prediction"].to_numpy()
    _assert_close(model.transform(train.limit(3)).toPandas()["prediction"].to_numpy(), predicted, "prediction")


PROBE_WITHOUT_SPARK = textwrap.dedent(
    """
    import sys

    class Blocked:
        # This process stands for a machine where neither Spark nor sparkwright is installed.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pyspark", "py4j", "sparkwright"):
                raise ImportError(name + " is blocked")
            return None

    sys.meta_path.insert(0, Blocked())
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(sys.argv[1])
    model.predict(pd.read_pickle(sys.argv[2])).to_pickle(sys.argv[3])
    print("LOADED", sorted({m.split(".")[0] for m in sys.modules} & {"pyspark", "py4j", "sparkwright"}))
    """
)

PROBE_RUNTIME = textwrap.dedent(
    """
    import sys

    sys.path.insert(0, sys.argv[1] + "/code")
    import pandas as pd
    from sparkwright_scorer import ExportedScorer

    scorer = ExportedScorer.load(sys.argv[1] + "/artifacts/scorer")
    scorer.predict(pd.read_pickle(sys.argv[2])).to_pickle(sys.argv[3])
    print("PYSPARK", "pyspark" in sys.modules, "PY4J", "py4j" in sys.modules)
    """
)


def test_export_scores_in_a_process_without_pyspark(prefixes, held_out, held_out_pdf, tmp_path):
    """The exported model loads and scores where pyspark cannot be imported, with the same predictions."""
    model = _fit(prefixes, "indexed", [_classifier(RandomForestClassifier, "y_multi", numTrees=4)], "y_multi")
    scorer = export_pipeline(model, held_out.select(INPUTS).schema)
    folder = save_pyfunc(scorer, tmp_path / "model")
    held_out_pdf.to_pickle(tmp_path / "input.pkl")
    expected = scorer.predict(held_out_pdf)
    for probe, marker in ((PROBE_WITHOUT_SPARK, "LOADED []"), (PROBE_RUNTIME, "PYSPARK False PY4J False")):
        output = tmp_path / "output.pkl"
        done = subprocess.run(
            [sys.executable, "-c", probe, str(folder), str(tmp_path / "input.pkl"), str(output)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert marker in done.stdout
        pd.testing.assert_frame_equal(pd.read_pickle(output), expected)
