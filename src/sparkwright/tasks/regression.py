"""``task: regression``: a numeric label; RMSE / MAE / MSE / R²; the training mean as the baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator
from pyspark.ml.param.shared import HasLabelCol, HasPredictionCol

from sparkwright.errors import DataError
from sparkwright.tasks.base import PLOT_SAMPLE_ROWS, HeldOut, Task, require_columns

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.ml.feature import SQLTransformer
    from pyspark.sql import DataFrame

    from sparkwright.tracking import Tracker

PREDICTION_COL = "prediction"


class RegressionTask(Task):
    name = "regression"

    def baseline(self, target: Any) -> MeanEstimator:
        return MeanEstimator(labelCol=target.label_col, predictionCol=target.prediction_col)

    def metrics(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> dict[str, float]:
        return regression_metrics(predictions, label_col, PREDICTION_COL)

    def array_metric(self, metric: str, actual: Any, prediction: Any, probability: Any = None) -> float:
        import numpy as np
        from sklearn.metrics import r2_score

        y = np.asarray(actual, dtype=float)
        p = np.asarray(prediction, dtype=float)
        if metric == "r2":
            return float(r2_score(y, p))
        mse = float(np.mean((p - y) ** 2))
        values = {"mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(p - y)))}
        if metric not in values:
            raise DataError(
                f"unknown metric {metric!r} for task regression; choose one of {sorted(self.spec.metrics)}."
            )
        return values[metric]

    def held_out(self, scored: DataFrame, label_col: str, num_classes: int | None = None) -> HeldOut:
        frame = scored.select(label_col, PREDICTION_COL).toPandas()
        prediction = frame[PREDICTION_COL].to_numpy(float)
        return HeldOut(frame[label_col].to_numpy(float), prediction, None)

    def plot_sample(self, predictions: DataFrame, label_col: str, classes: list[str] | None = None) -> pd.DataFrame:
        from pyspark.sql import functions as F

        columns = [F.col(f"`{label_col}`").alias("actual"), F.col(PREDICTION_COL)]
        return predictions.select(*columns).limit(PLOT_SAMPLE_ROWS).toPandas()

    def log_plots(
        self, tracker: Tracker, run_id: str, name: str, sample: pd.DataFrame, classes: list[str] | None = None
    ) -> None:
        from sparkwright import plots

        actual, predicted = sample["actual"].to_numpy(float), sample[PREDICTION_COL].to_numpy(float)
        tracker.log_figure(
            run_id,
            plots.predicted_vs_actual(actual, predicted, f"{name}: predicted vs actual"),
            "plots/predicted_vs_actual.png",
        )
        tracker.log_figure(run_id, plots.residuals(actual, predicted, f"{name}: residuals"), "plots/residuals.png")


def regression_metrics(predictions: DataFrame, label_col: str, prediction_col: str = "prediction") -> dict[str, float]:
    """RMSE, MAE, MSE and R² of ``prediction_col`` against ``label_col``, in one pass over the data.

    R² follows scikit-learn: 1 - SSE / SST, and for a constant label 1.0 when every prediction is
    exact, else 0.0.

    Returns:
        ``{"rmse": ..., "mae": ..., "mse": ..., "r2": ...}``.

    Raises:
        DataError: A column is missing, the data is empty, or a label or prediction is null.
    """
    from pyspark.sql import functions as F

    require_columns(predictions, [label_col, prediction_col])
    label = F.col(f"`{label_col}`").cast("double")
    error = F.col(f"`{prediction_col}`").cast("double") - label
    row = predictions.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(error).alias("n"),
        F.sum(error * error).alias("sse"),
        F.sum(F.abs(error)).alias("sae"),
        # var_pop uses a numerically stable update, unlike sum(y^2) - n * mean^2.
        F.var_pop(label).alias("var"),
    ).first()
    if row["rows"] == 0:
        raise DataError("cannot compute metrics on empty predictions; the test split has no rows.")
    if row["n"] != row["rows"]:
        raise DataError(
            f"{row['rows'] - row['n']} of {row['rows']} rows have a null {label_col!r} or {prediction_col!r}; "
            "metrics need both on every row."
        )
    n, sse, sst = row["n"], row["sse"], row["var"] * row["n"]
    mse = sse / n
    r2 = 1.0 - sse / sst if sst > 0 else float(sse == 0)  # constant label: scikit-learn's convention
    return {"rmse": mse**0.5, "mae": row["sae"] / n, "mse": mse, "r2": r2}


class MeanEstimator(Estimator, HasLabelCol, HasPredictionCol):
    """Learns the label mean; the fitted model is a ``SQLTransformer`` with the mean as a literal.

    A SQLTransformer is a Java stage, so the whole PipelineModel saves, loads and logs with
    ``mlflow.spark.log_model`` like any Spark ML model, with no Python class needed to load it.
    """

    def __init__(self, *, labelCol: str = "label", predictionCol: str = "prediction"):
        super().__init__()
        self._set(labelCol=labelCol, predictionCol=predictionCol)

    def _fit(self, dataset: DataFrame) -> SQLTransformer:
        from pyspark.ml.feature import SQLTransformer
        from pyspark.sql import functions as F

        label = self.getLabelCol()
        mean = dataset.agg(F.avg(F.col(label).cast("double"))).first()[0]
        if mean is None:
            raise DataError(f"cannot fit the baseline: label {label!r} has no non-null values in the training data.")
        # repr() is the shortest text that parses back to the same double.
        statement = f"SELECT *, CAST({float(mean)!r} AS DOUBLE) AS `{self.getPredictionCol()}` FROM __THIS__"
        return SQLTransformer(statement=statement)
