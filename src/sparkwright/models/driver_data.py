"""Feature vectors from Spark to the driver, for the models that train there (scikit-learn, xgboost).

One Arrow transfer, no Python object per row, on as few partitions as the cluster has task slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkwright.errors import DataError
from sparkwright.session import is_connect

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame, SparkSession


def task_slots(spark: SparkSession) -> int:
    """Tasks the cluster can run at once (a barrier stage needs all its workers running together).

    ``spark.default.parallelism`` is no measure of that (sparkwright sets it to 8 on a laptop).

    Raises:
        NotImplementedError: On Spark Connect, whose client has no SparkContext to count the slots with.
    """
    from xgboost.spark.utils import _get_max_num_concurrent_tasks

    if is_connect(spark):
        raise NotImplementedError("a Spark Connect client cannot count the cluster's task slots")

    return max(1, int(_get_max_num_concurrent_tasks(spark.sparkContext)))


def few_partitions(dataset: DataFrame) -> DataFrame:
    """``dataset`` coalesced to one partition per task slot, for a count or a collect.

    A cached or shuffled DataFrame may have hundreds of small partitions; their per-task overhead doubled
    the time of a count and of the Arrow collect of 1M rows on 2 cores. Coalescing needs no shuffle.
    """
    try:
        slots = task_slots(dataset.sparkSession)
    except NotImplementedError:  # Spark Connect has no SparkContext
        return dataset
    return dataset.coalesce(slots)


def collect_to_driver(
    dataset: DataFrame,
    features_col: str,
    label_col: str | None = None,
    weight_col: str | None = None,
    *,
    dtype: str = "float64",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The feature vectors as a dense (rows, slots) matrix, plus label and weights, in one Arrow transfer.

    The vectors travel as their raw parts (``unwrap_udt``: type, size, indices, values), so a sparse
    vector sends only its non-zeros and no Python object is made per row; numpy scatters them into the
    matrix, where every absent entry is 0 (a value, not missing).

    Raises:
        DataError: A null feature vector, or vectors of different sizes.
    """
    import numpy as np
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, DoubleType, FloatType

    vector = F.unwrap_udt(F.col(features_col))
    element = FloatType() if dtype == "float32" else DoubleType()
    columns = [
        vector.type.alias("type"),
        vector.size.alias("size"),
        vector.indices.alias("indices"),
        vector["values"].cast(ArrayType(element)).alias("values"),
    ]
    if label_col is not None:
        columns.append(F.col(label_col).cast("double").alias("y"))
    if weight_col is not None:
        columns.append(F.col(weight_col).cast("double").alias("w"))
    table = few_partitions(dataset.select(*columns)).toArrow()
    if table.column("type").null_count:
        raise DataError(f"{table.column('type').null_count} rows have a null feature vector in {features_col!r}.")
    batches = [batch for batch in table.to_batches() if batch.num_rows]
    width = _vector_width(batches[0]) if batches else 0
    X = np.zeros((table.num_rows, width), dtype=dtype)
    start = 0
    for batch in batches:
        if not _fill_rows(X[start : start + batch.num_rows], batch, width):
            raise DataError(f"the feature vectors in {features_col!r} differ in size; they must all have one size.")
        start += batch.num_rows
    y = table.column("y").to_numpy() if label_col is not None else None
    w = table.column("w").to_numpy() if weight_col is not None else None
    return X, y, w


def _vector_width(batch: Any) -> int:
    """Slots of the first vector of an unwrapped batch: a sparse vector's size or a dense one's length."""
    if batch.column("type")[0].as_py() == 0:
        return int(batch.column("size")[0].as_py())
    return len(batch.column("values")[0].as_py())


def _fill_rows(out: np.ndarray, batch: Any, width: int) -> bool:
    """Write one Arrow batch of unwrapped vectors into ``out`` (zeros); False when a vector is not ``width`` long."""
    import numpy as np
    import pyarrow.compute as pc

    dense = batch.column("type").to_numpy(zero_copy_only=False) == 1
    values = batch.column("values")
    lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    flat = values.flatten().to_numpy(zero_copy_only=False)
    if (lengths[dense] != width).any():
        return False
    if dense.all():
        out[:] = flat.reshape(out.shape)
        return True
    sizes = batch.column("size").to_numpy(zero_copy_only=False)
    if (sizes[~dense] != width).any():
        return False
    in_dense_row = np.repeat(dense, lengths)
    if dense.any():
        out[dense] = flat[in_dense_row].reshape(-1, width)
    # Indices are null for dense rows, so the flattened indices belong to the sparse rows, in order.
    indices = batch.column("indices").flatten().to_numpy(zero_copy_only=False)
    rows = np.repeat(np.nonzero(~dense)[0], lengths[~dense])
    out[rows, indices] = flat[~in_dense_row]
    return True
