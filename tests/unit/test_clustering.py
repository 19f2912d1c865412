"""``task: clustering``: its settings and validate's errors (no JVM), choosing k, and the metrics against
scikit-learn on the same vectors."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from sparkwright.cli import app
from sparkwright.config import parse_project
from sparkwright.demo import EXAMPLES
from sparkwright.errors import ConfigError, DataError
from sparkwright.tasks.clustering import choose_k

runner = CliRunner()


def _example() -> dict:
    text = resources.files("sparkwright.examples").joinpath(EXAMPLES["penguins"].project_file).read_text()
    return yaml.safe_load(text)


def test_k_is_a_number_or_an_inclusive_range():
    assert parse_project({**_example(), "clustering": {"k": 4}}).clustering_settings.k_values == [4]
    assert parse_project({**_example(), "clustering": {"k": {"from": 3, "to": 5}}}).clustering_settings.k_values == [
        3,
        4,
        5,
    ]
    assert parse_project({**_example(), "clustering": None}).clustering_settings.k_values == list(range(2, 11))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clustering": {"k": 1}}, r"^clustering\.k: must be an integer >= 2 or a range \{from: 2, to: 12\}, got 1"),
        ({"clustering": {"k": {"from": 6, "to": 3}}}, r"^clustering\.k: the range must not be empty: 'to' \(3\)"),
        ({"clustering": {"k": {"from": 2}}}, r"^clustering\.k: a range has exactly the keys 'from' and 'to'"),
        ({"clustering": {"select_k": "gap"}}, r"^clustering\.select_k: "),
        ({"clustering": {"restarts": 0}}, r"^clustering\.restarts: "),
        ({"metric": "rmse"}, r"^metric: metric 'rmse' does not apply to task 'clustering'; choose one of: silhouette"),
        ({"classification": {"threshold": 0.4}}, r"^classification: the classification section applies to task"),
    ],
)
def test_bad_settings_name_the_path_and_the_fix(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_project({**_example(), **change})


KMEANS = {"type": "kmeans"}
VALIDATE_CASES = [
    (
        {"models": [{**KMEANS, "params": {"k": 3}}]},
        r"models\[0\]\.params\.k: k is set for every model by clustering\.k",
    ),
    ({"models": [{**KMEANS, "params": {"maxIterr": 3}}]}, r"models\[0\]\.params\.maxIterr: .*Did you mean 'maxIter'"),
    ({"models": [{**KMEANS, "params": {"distanceMeasure": "cosine"}}]}, r"distanceMeasure: must be one of euclidean"),
    ({"models": [{"type": "random_forest"}]}, r"models\[0\]\.type: model type 'random_forest' does not support"),
    ({"models": [{"type": "kmean"}]}, r"models\[0\]\.type: unknown model type 'kmean'.*Did you mean 'kmeans'"),
    ({"models": []}, r"models: task clustering needs models to sweep over k; add e\.g\. models: \[\{type: kmeans\}"),
    ({"data": {**_example()["data"], "label": "species"}}, r"data\.label: task clustering uses no label; remove"),
    ({"tune": {"space": {"kmeans": {"maxIter": [5, 10]}}}}, r"tune: task clustering has no tune"),
]


@pytest.mark.parametrize(("change", "message"), VALIDATE_CASES)
def test_validate_checks_the_task_keys_without_starting_spark(tmp_path, change, message):
    project = tmp_path / "penguins.yaml"
    project.write_text(yaml.safe_dump({**_example(), **change}))
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code != 0
    assert re.search(message, " ".join(result.output.split())), result.output


def test_validate_accepts_the_example(tmp_path):
    project = tmp_path / "penguins.yaml"
    project.write_text(yaml.safe_dump(_example()))
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 0, result.output


def test_k_by_silhouette_is_the_highest_and_the_smaller_on_a_tie():
    assert choose_k([2, 3, 4, 5], [0.5, 0.7, 0.7, 0.6], [9, 5, 4, 3]) == 3


def test_k_by_elbow_is_where_the_sum_of_squares_stops_falling_fast():
    wssse = [1000.0, 400.0, 120.0, 100.0, 90.0, 85.0]  # a clear bend at k = 4
    assert choose_k([2, 3, 4, 5, 6, 7], [0.1] * 6, wssse, "elbow") == 4
    assert choose_k([2, 3], [0.1, 0.2], [10.0, 5.0], "elbow") == 2


def test_choose_k_refuses_a_ragged_sweep():
    with pytest.raises(DataError, match="one silhouette and one sum of squares per k"):
        choose_k([2, 3], [0.1], [1.0, 2.0])


def test_metrics_equal_scikit_learns_on_the_same_vectors(spark):
    from pyspark.ml.linalg import Vectors
    from sklearn.metrics import silhouette_score

    from sparkwright.tasks import get_task
    from sparkwright.tasks.clustering import FEATURES_COL, clustering_metrics

    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(c, 0.6, (60, 3)) for c in ([0, 0, 0], [4, 4, 0], [0, 5, 5])])
    labels = np.repeat([0, 1, 2], 60)
    labels[:5] = 1  # a few rows in the wrong cluster, so nothing is exact by construction
    rows = [(Vectors.dense(v), int(c)) for v, c in zip(x, labels, strict=True)]
    scored = spark.createDataFrame(rows, [FEATURES_COL, "prediction"])
    metrics = clustering_metrics(scored)
    total = ((x - x.mean(axis=0)) ** 2).sum()
    wss = sum(((x[labels == c] - x[labels == c].mean(axis=0)) ** 2).sum() for c in range(3))
    assert metrics["wssse"] == pytest.approx(wss, rel=1e-9)
    assert metrics["explained"] == pytest.approx(1 - wss / total, rel=1e-9)
    assert metrics["silhouette"] == pytest.approx(silhouette_score(x, labels, metric="sqeuclidean"), rel=1e-6)
    task = get_task("clustering")
    for name in ("wssse", "explained", "silhouette"):
        assert task.array_metric(name, x, labels) == pytest.approx(metrics[name], rel=1e-6)
    one = clustering_metrics(scored.selectExpr(FEATURES_COL, "0 AS prediction"))
    assert one == {"silhouette": 0.0, "explained": pytest.approx(0.0, abs=1e-12), "wssse": pytest.approx(total)}
