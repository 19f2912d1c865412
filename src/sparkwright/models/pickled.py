"""Saving a Spark ML model that holds a fitted single-node estimator (``type: sklearn``, ``isolation_forest``).

``metadata/`` holds the params as JSON and ``estimator/`` the pickled estimator in one parquet row. Both
are written through Spark, so the folder can be on any file system Spark writes to (``mlflow.spark``
saves through a DFS temporary folder).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

ESTIMATOR_DIR = "estimator"


class PickledEstimatorWriter(MLWriter):
    """Writes a model whose fitted estimator is its ``estimator`` attribute."""

    def __init__(self, instance: Any):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        from pyspark import cloudpickle

        spark = self.sparkSession
        DefaultParamsWriter.saveMetadata(self.instance, path, spark, extraMetadata={"estimator": ESTIMATOR_DIR})
        payload = bytearray(cloudpickle.dumps(self.instance.estimator))
        spark.createDataFrame([(payload,)], "estimator binary").coalesce(1).write.parquet(
            os.path.join(path, ESTIMATOR_DIR)
        )


class PickledEstimatorReader(MLReader):
    """Reads what :class:`PickledEstimatorWriter` wrote back into a ``model_class`` instance."""

    def __init__(self, model_class: type):
        super().__init__()
        self.model_class = model_class

    def load(self, path: str) -> Any:
        spark = self.sparkSession
        metadata = DefaultParamsReader.loadMetadata(path, spark)
        model = self.model_class()
        DefaultParamsReader.getAndSetParams(model, metadata)
        payload = spark.read.parquet(os.path.join(path, metadata.get("estimator", ESTIMATOR_DIR))).first()[0]
        model.estimator = pickle.loads(payload)
        model._resetUid(metadata["uid"])
        return model
