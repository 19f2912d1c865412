"""Side-by-side: ``sparkwright.run`` against a hand-written PySpark + Delta + MLflow script doing the same
steps on the same data, in one process and one SparkSession, alternating which goes first.

    .venv/bin/python benchmarks/bench_main_job.py [--repeats 2] [--rows N]

Prints each stage's time for both and the ratio of the totals; writes benchmarks/results/main_job.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

import sparkwright
from handwritten_main_job import run_handwritten
from sparkwright.demo import materialise_example
from sparkwright.session import get_session
from sparkwright.workspace import Workspace

SPARK_MODELS = [
    {"type": "linear_regression", "params": {"regParam": 0.01, "elasticNetParam": 0.0}},
    {"type": "decision_tree", "params": {"maxDepth": 8}},
    {"type": "random_forest", "params": {"numTrees": 40, "maxDepth": 10}},
    {"type": "gbt", "params": {"maxIter": 40, "maxDepth": 5, "stepSize": 0.2}},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rows", type=int, default=None, help="Use the first N rows of hotel_rates.")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="sparkwright-bench-"))
    spark = get_session()
    source_ws = Workspace(root / "source")
    project_file = materialise_example("hotel_rates", source_ws, sample_rows=args.rows)
    config = yaml.safe_load(project_file.read_text())
    # Like for like: the hand-written script does not profile the data, so neither does this run, and both
    # train the same four Spark ML models (the example itself searches across families instead).
    config["explore"] = {"enabled": False}
    config.pop("search", None)
    config["models"] = SPARK_MODELS
    project_file.write_text(yaml.safe_dump(config))
    csv_path = str(project_file.parent / config["data"]["source"]["path"])

    # Warm the JVM (class loading, JIT) once for both contenders.
    run_handwritten(spark, csv_path, root / "warmup", config["models"][:1])
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    runs: dict[str, list[dict[str, float]]] = {"sparkwright": [], "handwritten": []}
    for repeat in range(args.repeats):
        order = ["sparkwright", "handwritten"] if repeat % 2 == 0 else ["handwritten", "sparkwright"]
        for contender in order:
            ws = root / f"{contender}-{repeat}"
            if contender == "handwritten":
                timings = run_handwritten(spark, csv_path, ws, config["models"])
                # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI, which sparkwright would follow.
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                started = time.perf_counter()
                result = sparkwright.run(project_file, spark=spark, workspace=ws)
                timings = dict(result.stage_seconds)
                timings["(total incl. tracking)"] = time.perf_counter() - started
            runs[contender].append(timings)
            print(f"repeat {repeat} {contender}: {sum(v for k, v in timings.items() if not k.startswith('(')):.1f}s")
            shutil.rmtree(ws, ignore_errors=True)

    report = summarise(runs)
    print_report(report)
    out = Path(__file__).resolve().parent / "results" / "main_job.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows or "all", "repeats": args.repeats, **report}, indent=2))
    shutil.rmtree(root, ignore_errors=True)


def summarise(runs: dict[str, list[dict[str, float]]]) -> dict:
    """Median seconds per stage and in total for each contender, and the ratio of the totals."""
    medians = {
        name: {stage: statistics.median(t[stage] for t in timings) for stage in timings[0]}
        for name, timings in runs.items()
    }
    totals = {
        name: statistics.median(t.get("(total incl. tracking)", sum(t.values())) for t in timings)
        for name, timings in runs.items()
    }
    return {"stages": medians, "totals": totals, "ratio": totals["sparkwright"] / totals["handwritten"]}


def print_report(report: dict) -> None:
    stages = sorted(set(report["stages"]["sparkwright"]) | set(report["stages"]["handwritten"]))
    print(f"\n{'stage':28} {'sparkwright s':>14} {'hand-written s':>15}")
    for stage in stages:
        left = report["stages"]["sparkwright"].get(stage)
        right = report["stages"]["handwritten"].get(stage)
        left, right = (math.nan if v is None else v for v in (left, right))
        print(f"{stage:28} {left:14.2f} {right:15.2f}")
    print(f"{'total':28} {report['totals']['sparkwright']:14.2f} {report['totals']['handwritten']:15.2f}")
    print(f"ratio sparkwright / hand-written: {report['ratio']:.2f}x (goal <= 1.15x)")


if __name__ == "__main__":
    main()
