"""The same project in local mode, on a standalone cluster and through Spark Connect: metrics and times side by side.

    .venv/bin/python benchmarks/bench_scale_out.py [--rows N] [--workers 2]

Starts what the tests start (``tests/integration/cluster.py``: a master and one-core workers from the pyspark
wheel; ``tests/integration/connect.py``: a Connect server with Delta), runs ``sparkwright run`` on hotel_rates
in each mode in a subprocess, as a user would, and prints each model's test metrics per mode, their largest
difference from local mode, and each mode's stage times. Writes benchmarks/results/scale_out.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sparkwright.demo import materialise_example
from sparkwright.tracking import Tracker
from sparkwright.workspace import Workspace

# The launchers the tests use, so the benchmark measures exactly what CI checks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from cluster import start_cluster
from connect import start_server

SPARKWRIGHT = str(Path(sys.executable).with_name("sparkwright"))
MODELS = [
    {"type": "linear_regression", "params": {"regParam": 0.01}},
    {"type": "decision_tree", "params": {"maxDepth": 8}},
    {"type": "random_forest", "params": {"numTrees": 40, "maxDepth": 10}},
    {"type": "gbt", "params": {"maxIter": 40, "maxDepth": 5, "stepSize": 0.2}},
]
SMALL_CLUSTER_CONF = [
    "--conf",
    "spark.driver.host=127.0.0.1",
    "--conf",
    "spark.sql.shuffle.partitions=4",
    "--conf",
    "spark.databricks.delta.snapshotPartitions=2",
]
METRICS = ("rmse", "mae", "r2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="Use the first N rows of hotel_rates (default: all).")
    parser.add_argument("--workers", type=int, default=2, help="One-core workers of the standalone cluster.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sparkwright-scale-out-"))

    results = {"local": run_mode(root / "local", args.rows, [])}
    cluster = start_cluster(root / "cluster-daemons", workers=args.workers)
    try:
        results["standalone"] = run_mode(root / "standalone", args.rows, ["--master", cluster.url, *SMALL_CLUSTER_CONF])
    finally:
        cluster.stop()
    (root / "connect-server").mkdir()
    server = start_server(root / "connect-server")
    try:
        results["connect"] = run_mode(root / "connect", args.rows, ["--remote", server.url])
    finally:
        server.stop()

    print_tables(results)
    out = Path(__file__).with_name("results") / "scale_out.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "workers": args.workers, "results": results}, indent=2))
    print(f"\nwrote {out}")


def run_mode(folder: Path, rows: int | None, options: list[str]) -> dict:
    """Run the project in a fresh workspace with ``options``; its metrics per model and stage seconds."""
    ws = Workspace.resolve(folder)
    project = materialise_example("hotel_rates", ws, sample_rows=rows)
    raw = yaml.safe_load(project.read_text())
    raw.pop("search", None)
    raw.update(models=MODELS, explore={"enabled": False}, workspace=str(ws.root))
    project.write_text(yaml.safe_dump(raw))
    started = time.perf_counter()
    completed = subprocess.run([SPARKWRIGHT, "run", str(project), *options], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"{' '.join(options) or 'local'} failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
        )
    tracker = Tracker(ws.tracking_uri, ws.artifacts)
    client = tracker.client
    experiment = client.get_experiment_by_name(raw["name"])
    parent = client.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId IS NULL")[0]
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    metrics = {
        run.info.run_name: {m: run.data.metrics[m] for m in METRICS if m in run.data.metrics} for run in children
    }
    stages = {k.removeprefix("seconds_"): v for k, v in parent.data.metrics.items() if k.startswith("seconds_")}
    return {"seconds": seconds, "metrics": metrics, "stages": stages}


def print_tables(results: dict[str, dict]) -> None:
    modes = list(results)
    print(f"\n| model | metric | {' | '.join(modes)} | largest difference from local |")
    print(f"| --- | --- |{' ---: |' * len(modes)} ---: |")
    for model in sorted(results["local"]["metrics"]):
        for metric in METRICS:
            values = [results[mode]["metrics"].get(model, {}).get(metric) for mode in modes]
            if values[0] is None:
                continue
            difference = max(abs(v - values[0]) for v in values if v is not None)
            cells = " | ".join("—" if v is None else f"{v:.6f}" for v in values)
            print(f"| {model} | {metric} | {cells} | {difference:.1e} |")
    stages = sorted({stage for result in results.values() for stage in result["stages"]})
    print(f"\n| stage (s) | {' | '.join(modes)} |")
    print(f"| --- |{' ---: |' * len(modes)}")
    for stage in stages:
        print(
            f"| {stage} | " + " | ".join(f"{results[m]['stages'].get(stage, float('nan')):.1f}" for m in modes) + " |"
        )
    print("| **wall clock of the command** | " + " | ".join(f"**{results[m]['seconds']:.1f}**" for m in modes) + " |")


if __name__ == "__main__":
    main()
