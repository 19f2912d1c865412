"""Classification pieces: class order, stratified split and folds, metrics against scikit-learn,
threshold, class weights, the majority-class baseline, and the classification plots."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F
from sklearn import metrics as skm

from sparkwright import plots
from sparkwright.config import ModelSpec
from sparkwright.data import assign_folds, split_train_test
from sparkwright.errors import DataError
from sparkwright.models import best_f1_threshold, fit_model, predict
from sparkwright.models.labels import index_to_label_stage, label_classes
from sparkwright.tasks import get_task
from sparkwright.tasks.classification import classification_metrics, confusion_matrix


@pytest.fixture(scope="module")
def imbalanced(spark):
    """1,000 rows, 20% positives that depend on x; z is noise."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 1000)
    z = rng.normal(0, 1, 1000)
    positive = x + rng.normal(0, 0.8, 1000) > 1.2
    rows = [(float(a), float(b), "churn" if p else "stay") for a, b, p in zip(x, z, positive, strict=True)]
    return spark.createDataFrame(rows, "x double, z double, label string").cache()


def _fit(df, type_="logistic_regression", **kwargs):
    return fit_model(
        df, ModelSpec(type=type_), label_col="label", categorical=[], numeric=["x", "z"], impute=None,
        task="classification", positive_class="churn", **kwargs,
    )  # fmt: skip


def test_classes_sort_by_value_and_put_the_positive_class_last(spark):
    ints = spark.createDataFrame([(v,) for v in [10, 2, 2, 1]], "y int")
    assert label_classes(ints, "y") == ["1", "2", "10"]
    flags = spark.createDataFrame([(True,), (False,)], "y boolean")
    assert label_classes(flags, "y") == ["false", "true"]
    assert label_classes(flags, "y", positive_class=False) == ["true", "false"]
    with pytest.raises(DataError, match=r"positive_class 'maybe' is not a class of 'y': \['false', 'true'\]"):
        label_classes(flags, "y", positive_class="maybe")
    with pytest.raises(DataError, match="positive_class applies to two classes, but label 'y' has 3"):
        label_classes(ints, "y", positive_class=2)
    with pytest.raises(DataError, match=r"has 1 distinct value\(s\) \(\['1'\]\).*needs at least two classes"):
        label_classes(ints.where("y = 1"), "y")


def test_predicted_index_maps_back_to_the_labels_own_values(spark):
    df = spark.createDataFrame([(0.0,), (1.0,)], "idx double")
    field = spark.createDataFrame([("it's",)], "label string").schema["label"]
    mapped = index_to_label_stage(["it's", "no"], "idx", "prediction", field).transform(df)
    assert [r.prediction for r in mapped.orderBy("idx").collect()] == ["it's", "no"]


def test_stratified_split_keeps_class_shares_exactly_whatever_the_partitioning(imbalanced):
    train, test = split_train_test(imbalanced, test_fraction=0.25, seed=1, stratify_by="label")
    counts = {r.label: r["count"] for r in imbalanced.groupBy("label").count().collect()}
    test_counts = {r.label: r["count"] for r in test.groupBy("label").count().collect()}
    assert test_counts == {k: int(0.25 * n + 0.5) for k, n in counts.items()}  # rounded half up
    assert train.count() + test.count() == imbalanced.count()
    again = split_train_test(imbalanced.repartition(7), test_fraction=0.25, seed=1, stratify_by="label")[1]
    assert sorted(again.collect()) == sorted(test.collect())


def test_stratified_folds_deal_each_class_evenly(imbalanced):
    folded = assign_folds(imbalanced, 4, seed=3, fold_col="fold", stratify_by="label")
    for label in ("churn", "stay"):
        sizes = [r["count"] for r in folded.where(F.col("label") == label).groupBy("fold").count().collect()]
        assert len(sizes) == 4 and max(sizes) - min(sizes) <= 1
    with pytest.raises(DataError, match="at least 2 folds"):
        assign_folds(imbalanced, 1, seed=3, fold_col="fold")


@pytest.mark.parametrize("k", [2, 3])
def test_metrics_match_scikit_learn(spark, k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 600)
    logits = rng.normal(0, 1, (600, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    classes = [f"c{i}" for i in range(k)]
    rows = [(classes[a], classes[b], Vectors.dense(p)) for a, b, p in zip(y, pred, proba, strict=True)]
    df = spark.createDataFrame(rows, ["label", "prediction", "probability"])

    got = classification_metrics(df, "label", classes)
    average = "binary" if k == 2 else "weighted"
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, average=average))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average=average))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average=average))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-9)
    auc = skm.roc_auc_score(y, proba[:, 1]) if k == 2 else skm.roc_auc_score(y, proba, multi_class="ovr")
    assert got["roc_auc"] == pytest.approx(auc, rel=1e-9)
    assert got["pr_auc"] == pytest.approx(get_task("classification").array_metric("pr_auc", y, pred, proba), abs=0.02)
    for name in ("accuracy", "f1", "roc_auc", "log_loss"):
        assert get_task("classification").array_metric(name, y, pred, proba) == pytest.approx(got[name], rel=1e-9)
    matrix = confusion_matrix(df, "label", classes)
    assert matrix.counts == skm.confusion_matrix(y, pred).tolist()


def test_unknown_test_class_is_a_clear_error(spark):
    df = spark.createDataFrame([("a", "a", Vectors.dense([1.0, 0.0])), ("z", "a", Vectors.dense([1.0, 0.0]))],
                               ["label", "prediction", "probability"])  # fmt: skip
    with pytest.raises(DataError, match=r"values \['z'\] of 'label' or 'prediction' are not classes"):
        classification_metrics(df, "label", ["a", "b"])


def test_baseline_predicts_the_most_frequent_class_with_its_share(imbalanced):
    fitted = _fit(imbalanced, "baseline")
    scored = predict(fitted, imbalanced)
    assert {r.prediction for r in scored.collect()} == {"stay"}
    share = imbalanced.where("label = 'churn'").count() / imbalanced.count()
    p1 = {round(float(r.probability[1]), 9) for r in scored.select("probability").collect()}
    assert p1 == {round(share, 9)}
    assert classification_metrics(scored, "label", fitted.classes)["roc_auc"] == pytest.approx(0.5)


def test_threshold_decides_the_positive_class_by_its_probability(imbalanced):
    fitted = _fit(imbalanced, threshold=0.3)
    rows = predict(fitted, imbalanced).collect()
    assert fitted.classes == ["stay", "churn"] and fitted.threshold == 0.3
    assert all((r.prediction == "churn") == (r.probability[1] >= 0.3) for r in rows)
    strict = predict(_fit(imbalanced, threshold=0.9), imbalanced).where("prediction = 'churn'").count()
    assert strict < sum(r.prediction == "churn" for r in rows)


@pytest.mark.parametrize("type_", ["logistic_regression", "random_forest"])
def test_balanced_class_weights_raise_minority_recall(imbalanced, type_):
    plain = classification_metrics(predict(_fit(imbalanced, type_), imbalanced), "label", ["stay", "churn"])
    weighted_fit = _fit(imbalanced, type_, class_weight="balanced")
    weighted = classification_metrics(predict(weighted_fit, imbalanced), "label", ["stay", "churn"])
    assert weighted["recall"] > plain["recall"] + 0.1
    with pytest.raises(DataError, match=r"class_weight names \['maybe'\], which are not classes"):
        _fit(imbalanced, type_, class_weight={"maybe": 2.0})


def test_best_f1_threshold_matches_a_brute_force_search(imbalanced):
    fitted = _fit(imbalanced)
    scored = predict(fitted, imbalanced)
    rows = scored.select("label", "probability").collect()
    y = np.array([r.label == "churn" for r in rows])
    p = np.array([r.probability[1] for r in rows])
    f1 = {t: skm.f1_score(y, p >= t) for t in np.round(np.arange(0.01, 1.0, 0.01), 2)}
    best = best_f1_threshold(scored, "label", "churn")
    assert f1[best] == pytest.approx(max(f1.values()))
    with pytest.raises(DataError, match="no 'nobody'"):
        best_f1_threshold(scored, "label", "nobody")


@pytest.mark.parametrize("cut", [0.29, 0.57, 0.99])
def test_a_probability_equal_to_a_candidate_reaches_it(spark, cut):
    """0.29 * 100 is 28.999... in floating point: the threshold 0.29 must still flag a probability of 0.29."""
    just_below = float(np.nextafter(cut, 0))
    rows = [("yes", Vectors.dense([1 - cut, cut]))] * 3 + [("no", Vectors.dense([1 - just_below, just_below]))] * 20
    rows += [("no", Vectors.dense([0.9, 0.1]))] * 5
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField("label", StringType()), StructField("probability", VectorUDT())])
    scored = spark.createDataFrame(rows, schema)
    assert best_f1_threshold(scored, "label", "yes") == cut  # flags exactly the three positives: F1 = 1


def test_classification_plots(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    proba = rng.dirichlet([1, 1, 1], 500) * 0.5 + 0.5 * np.eye(3)[y]
    classes = ["a", "b", "c"]
    roc = plots.roc_curve(y, proba, classes, "m: ROC")
    assert len(roc.axes[0].get_lines()) == 4  # one per class + chance
    binary = plots.precision_recall_curve(y[y < 2], proba[y < 2][:, :2], classes[:2], "m: PR")
    assert binary.axes[0].get_legend().get_texts()[0].get_text().startswith("b (AP = ")
    matrix = plots.confusion_matrix(classes, skm.confusion_matrix(y, proba.argmax(axis=1)), "m: confusion")
    assert len(matrix.axes[0].texts) == 9
    matrix.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
    with pytest.raises(DataError, match="2 probability columns for 3 classes"):
        plots.roc_curve(y, proba[:, :2], classes, "bad")
