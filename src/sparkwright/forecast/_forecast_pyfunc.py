"""The MLflow "model from code" of a forecasting model: MLflow copies this file into the model and runs it at load.

Where sparkwright is installed its ``sparkwright.forecast.runtime`` is used; elsewhere ``sparkwright_forecast``,
the copy of ``runtime.py`` in the model's ``code/`` folder, so loading needs MLflow, pandas and statsforecast.
"""

from __future__ import annotations

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

try:
    from sparkwright.forecast.runtime import Forecaster
except ImportError:  # no sparkwright: the copy that travels with the model
    from sparkwright_forecast import Forecaster


class ForecastModel(PythonModel):
    """pyfunc wrapper: ``predict(rows of series keys [, horizon])`` -> the forecast rows of those series."""

    def load_context(self, context):
        self.forecaster = Forecaster.load(context.artifacts["forecaster"])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        return self.forecaster.forecast(model_input)


set_model(ForecastModel())
