"""The reference: the main job written by hand with plain PySpark, Delta and MLflow, as a data scientist
would after the course. Same data, same steps, same models and parameters as the example project."""

from __future__ import annotations

import math
import time
from pathlib import Path

import mlflow
import mlflow.spark
from mlflow.models import infer_signature
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import Imputer, OneHotEncoder, SQLTransformer, StringIndexer, VectorAssembler
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, LinearRegression, RandomForestRegressor
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

LABEL = "avg_price_per_room"
DROP = ["rownames", "arrival_date"]


def run_handwritten(spark: SparkSession, csv_path: str, workspace: Path, models: list[dict]) -> dict[str, float]:
    """Run every step and return the seconds each stage took."""
    timings: dict[str, float] = {}
    lake = workspace / "lake"
    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    mlflow.create_experiment("handwritten", artifact_location=(workspace / "mlartifacts").as_uri())
    mlflow.set_experiment("handwritten")

    started = time.perf_counter()
    raw = spark.read.option("header", True).option("inferSchema", True).csv(csv_path)
    raw.write.format("delta").mode("overwrite").save(str(lake / "bronze"))
    timings["ingest"] = time.perf_counter() - started

    started = time.perf_counter()
    bronze = spark.read.format("delta").load(str(lake / "bronze"))
    df = bronze.drop(*DROP).dropDuplicates().where(F.col(LABEL).isNotNull()).where(f"{LABEL} > 0")
    categorical = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
    numeric = [c for c in df.columns if c not in categorical and c != LABEL]
    df = df.fillna("missing", subset=categorical)
    df = df.select(*categorical, *[F.col(c).cast("double") for c in numeric], F.col(LABEL).cast("double"))
    df.write.format("delta").mode("overwrite").save(str(lake / "silver"))
    timings["cleanse"] = time.perf_counter() - started

    started = time.perf_counter()
    silver = spark.read.format("delta").load(str(lake / "silver"))
    train, test = silver.randomSplit([0.8, 0.2], seed=42)
    train, test = train.cache(), test.cache()
    train.count(), test.count()
    timings["split"] = time.perf_counter() - started

    indexed = [f"{c}_idx" for c in categorical]
    features = [
        StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"),
        OneHotEncoder(inputCols=indexed, outputCols=[f"{c}_ohe" for c in categorical], handleInvalid="keep"),
        Imputer(inputCols=numeric, outputCols=[f"{c}_imp" for c in numeric], strategy="median"),
        VectorAssembler(
            inputCols=[f"{c}_ohe" for c in categorical] + [f"{c}_imp" for c in numeric], outputCol="features"
        ),
    ]
    train = train.withColumn("log_label", F.log(LABEL))
    estimators = {
        "linear_regression": LinearRegression,
        "decision_tree": DecisionTreeRegressor,
        "random_forest": RandomForestRegressor,
        "gbt": GBTRegressor,
    }
    evaluator = RegressionEvaluator(labelCol=LABEL, predictionCol="prediction")
    best = (math.inf, None)
    with mlflow.start_run(run_name="handwritten"):
        started = time.perf_counter()
        mean = train.agg(F.avg(LABEL)).first()[0]
        baseline_rmse = evaluator.evaluate(test.withColumn("prediction", F.lit(mean)), {evaluator.metricName: "rmse"})
        with mlflow.start_run(run_name="baseline", nested=True):
            mlflow.log_metric("rmse", baseline_rmse)
        timings["train:baseline"] = time.perf_counter() - started
        for spec in models:
            started = time.perf_counter()
            with mlflow.start_run(run_name=spec["type"], nested=True) as child:
                estimator = estimators[spec["type"]](
                    featuresCol="features",
                    labelCol="log_label",
                    predictionCol="log_prediction",
                    **spec.get("params", {}),
                )
                back = SQLTransformer(statement="SELECT *, exp(log_prediction) AS prediction FROM __THIS__")
                model = Pipeline(stages=[*features, estimator, back]).fit(train)
                predictions = model.transform(test).cache()
                metrics = {m: evaluator.evaluate(predictions, {evaluator.metricName: m}) for m in ("rmse", "mae", "r2")}
                mlflow.log_params(spec.get("params", {}))
                mlflow.log_metrics(metrics)
                example = test.drop(LABEL).limit(5).toPandas()
                signature = infer_signature(example, model.transform(test.limit(5)).select("prediction").toPandas())
                mlflow.spark.log_model(
                    model,
                    artifact_path="model",
                    signature=signature,
                    input_example=example,
                    pip_requirements=["pyspark", "mlflow"],
                )
                predictions.unpersist()
                if metrics["rmse"] < best[0]:
                    best = (metrics["rmse"], child.info.run_id)
            timings[f"train:{spec['type']}"] = time.perf_counter() - started
        started = time.perf_counter()
        version = mlflow.register_model(f"runs:/{best[1]}/model", "handwritten")
        mlflow.MlflowClient().set_registered_model_alias("handwritten", "champion", version.version)
        timings["register"] = time.perf_counter() - started
    train.unpersist()
    test.unpersist()
    return timings
