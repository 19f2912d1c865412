"""The MLflow "model from code" of a routing model: MLflow copies this file into the model and runs it at load.

Where sparkwright is installed its ``sparkwright.udf.routing`` is used (same exception classes as the
library); elsewhere ``sparkwright_routing``, the copy of ``routing.py`` in the model's ``code/`` folder, so
loading needs MLflow, pandas and the group models' library only. Both read the same router folder
(``routing.json`` carries a format version).
"""

from __future__ import annotations

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

try:  # sparkwright installed: its own classes, so `except sparkwright.udf.UnknownGroupError` catches
    from sparkwright.udf.routing import GroupRouter
except ImportError:  # no sparkwright: the copy that travels with the model
    from sparkwright_routing import GroupRouter


class RoutingModel(PythonModel):
    """pyfunc wrapper: ``predict(pandas_df)`` -> one prediction per row, by the row's group model."""

    def load_context(self, context):
        self.router = GroupRouter.load(context.artifacts["router"])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        return self.router.predict(model_input)


set_model(RoutingModel())
