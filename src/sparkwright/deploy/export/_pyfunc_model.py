"""The MLflow "model from code" of an exported scorer: MLflow copies this file into the model and runs it at load.

It imports ``sparkwright_scorer``, the copy of ``runtime.py`` that travels in the model's ``code/`` folder,
so loading needs MLflow, NumPy and pandas only. While the exporter saves the model (MLflow runs this file
then too, before that folder exists) the same module comes from the installed package.
"""

from __future__ import annotations

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

try:
    from sparkwright_scorer import ExportedScorer
except ImportError:  # saving, in the exporting process
    from sparkwright.deploy.export.runtime import ExportedScorer


class ExportedScorerModel(PythonModel):
    """pyfunc wrapper: ``predict(pandas_df)`` -> ``prediction`` (+ ``probability_<i>`` for classifiers)."""

    def load_context(self, context):
        self.scorer = ExportedScorer.load(context.artifacts["scorer"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.scorer.predict(model_input)


set_model(ExportedScorerModel())
