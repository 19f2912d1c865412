"""Fitted Spark trees as flat NumPy arrays, read from the model's own saved form.

Walking ``rootNode()`` through py4j costs about 0.75 ms per node (several JVM round trips each), about
a minute for a 40-tree forest of depth 10 (78K nodes). Instead the model is saved once with its own writer, whose
``data`` Parquet holds every node (id, prediction, impurity stats, children, split) in the layout Spark
must keep readable across versions, and read back: with pyarrow when the driver wrote it to its own
disk (a local master), else with one Spark job. Node ids are pre-order, the root is 0, a leaf's children
are -1; a continuous split stores ``[threshold]`` with ``numCategories = -1``, a categorical one its
left categories and ``numCategories``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sparkwright.errors import ModelError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TreeArrays:
    """Every tree of a model in one set of arrays, one row per node (all trees concatenated).

    Attributes:
        arrays: ``roots`` (first node of each tree), ``feature`` (-1 at leaves), ``threshold``, ``left``,
            ``right`` (-1 at leaves), ``categorical``, ``num_categories``, ``category_row`` (row in
            ``left_categories`` or -1), ``left_categories`` (bool, categorical split x category), ``value``
            (the node's prediction), ``stats`` (impurity stats: class counts for classifiers).
        max_depth: The deepest leaf's depth over all trees.
    """

    arrays: dict[str, np.ndarray]
    max_depth: int


def read_trees(model: Any, *, work_dir: str | None = None) -> TreeArrays:
    """The trees of a fitted tree model (decision tree, random forest or GBT) as :class:`TreeArrays`.

    Args:
        model: The fitted pyspark model.
        work_dir: Where to save the model for a moment; a folder every node of the cluster can reach
            (e.g. ``hdfs:///tmp``). Default: a local temporary folder with a local master, else
            ``/tmp`` on the cluster's default file system.

    Raises:
        ModelError: The saved model cannot be read back as trees.
    """
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise ModelError("exporting tree models needs an active SparkSession (the one the model was loaded with).")
    path, local_base = _scratch_path(spark, work_dir)
    try:
        model.write().save(path)
        rows = _read_local(path) if local_base else _read_with_spark(spark, path)
    except Exception as exc:
        raise ModelError(f"could not read the trees of {type(model).__name__} {model.uid}: {exc}") from exc
    finally:
        _remove(spark, path, local_base)
    return _flatten(rows.sort_values(["tree", "id"]).reset_index(drop=True))


# Our name -> the field of a saved node (under ``nodeData.`` for ensembles, whose rows also carry ``treeID``).
_FIELDS = {
    "id": "id",
    "prediction": "prediction",
    "stats": "impurityStats",
    "left": "leftChild",
    "right": "rightChild",
    "feature": "split.featureIndex",
    "split": "split.leftCategoriesOrThreshold",
    "num_categories": "split.numCategories",
}


def _read_local(path: str) -> pd.DataFrame:
    """The saved nodes with pyarrow, no Spark job: the driver wrote them to its own disk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(f"{path}/data")
    while any(pa.types.is_struct(column_type) for column_type in table.schema.types):
        table = table.flatten()
    prefix = "nodeData." if "treeID" in table.column_names else ""
    columns = {name: table.column(prefix + field).to_pylist() for name, field in _FIELDS.items()}
    tree = table.column("treeID").to_pylist() if prefix else [0] * table.num_rows
    return pd.DataFrame({"tree": tree, **columns})


def _read_with_spark(spark: SparkSession, path: str) -> pd.DataFrame:
    """The saved nodes through Spark, wherever the cluster wrote them."""
    from pyspark.sql import functions as F

    data = spark.read.parquet(f"{path}/data")
    prefix = "nodeData." if "treeID" in data.columns else ""
    tree = F.col("treeID") if prefix else F.lit(0)
    columns = [F.col(prefix + field).alias(name) for name, field in _FIELDS.items()]
    return data.select(tree.alias("tree"), *columns).toPandas()


def _flatten(rows: Any) -> TreeArrays:
    tree = rows["tree"].to_numpy(np.int64)
    local_id = rows["id"].to_numpy(np.int64)
    starts = np.flatnonzero(np.r_[True, tree[1:] != tree[:-1]])
    sizes = np.diff(np.r_[starts, len(rows)])
    offset = np.repeat(starts, sizes)
    if not np.array_equal(local_id, np.arange(len(rows)) - offset):
        raise ModelError("the saved trees do not number their nodes 0..n-1; this Spark version's layout is unknown.")
    left_local = rows["left"].to_numpy(np.int64)
    right_local = rows["right"].to_numpy(np.int64)
    inner = left_local >= 0
    left = np.where(inner, left_local + offset, -1)
    right = np.where(inner, right_local + offset, -1)
    num_categories = rows["num_categories"].to_numpy(np.int64)
    categorical = inner & (num_categories >= 0)
    splits = [np.asarray(s, dtype=np.float64) for s in rows["split"]]
    continuous = inner & ~categorical
    threshold = np.array([s[0] if c and len(s) else 0.0 for s, c in zip(splits, continuous, strict=True)])
    category_row = np.full(len(rows), -1, dtype=np.int64)
    category_row[categorical] = np.arange(int(categorical.sum()))
    width = int(num_categories[categorical].max()) if categorical.any() else 0
    left_categories = np.zeros((int(categorical.sum()), width), dtype=bool)
    for row, node in enumerate(np.flatnonzero(categorical)):
        left_categories[row, splits[node].astype(np.int64)] = True
    stats = [np.asarray(s, dtype=np.float64) for s in rows["stats"]]
    width_stats = max((len(s) for s in stats), default=0)
    stats_matrix = np.zeros((len(rows), width_stats))
    for i, s in enumerate(stats):
        stats_matrix[i, : len(s)] = s
    depth = np.zeros(len(rows), dtype=np.int64)
    for node in range(len(rows)):  # pre-order: a parent comes before its children
        if inner[node]:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    arrays = {
        "roots": starts.astype(np.int64),
        "feature": np.where(inner, rows["feature"].to_numpy(np.int64), -1),
        "threshold": threshold,
        "left": left,
        "right": right,
        "categorical": categorical,
        "num_categories": np.where(categorical, num_categories, 0),
        "category_row": category_row,
        "left_categories": left_categories,
        "value": rows["prediction"].to_numpy(np.float64),
        "stats": stats_matrix,
    }
    return TreeArrays(arrays=arrays, max_depth=int(depth.max()) if len(depth) else 0)


def _scratch_path(spark: SparkSession, work_dir: str | None) -> tuple[str, str | None]:
    """A fresh path to save a model under, and the local folder to delete afterwards (if local)."""
    name = f"sparkwright-export-{uuid.uuid4().hex}"
    if work_dir:
        return f"{work_dir.rstrip('/')}/{name}", None
    if spark.sparkContext.master.startswith("local"):
        base = tempfile.mkdtemp(prefix="sparkwright-export-")
        return f"{base}/{name}", base
    return f"/tmp/{name}", None


def _remove(spark: SparkSession, path: str, local_base: str | None) -> None:
    """Delete the saved model through Hadoop's file system API (local, HDFS, object stores alike)."""
    try:
        jvm = spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hadoop_path, True)
    except Exception:  # clean-up must not hide the export's own result or error
        log.debug("could not delete %s", path, exc_info=True)
    if local_base:
        shutil.rmtree(local_base, ignore_errors=True)
