"""The main job tracked in the workspace's SQLite file and on a team server (PostgreSQL + ``sparkwright server``,
artifacts uploaded over HTTP): stage times side by side.

    .venv/bin/python benchmarks/bench_tracking_store.py [--rows N] [--repeats 2]

Starts what the tests start (``tests/integration/team_server.py``: Debian's PostgreSQL in a temporary folder and
the tracking server on it), runs ``sparkwright run`` on hotel_rates with four Spark ML models in a subprocess per
run, alternating which store goes first, and prints each stage's median seconds per store and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sparkwright.demo import materialise_example
from sparkwright.tracking import Tracker
from sparkwright.workspace import Workspace

# The launchers the tests use, so the benchmark measures what CI checks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from team_server import start_postgres, start_tracking_server

from bench_scale_out import MODELS  # the same four Spark ML models

SPARKWRIGHT = str(Path(sys.executable).with_name("sparkwright"))


def run_once(folder: Path, rows: int | None, tracking_uri: str | None) -> dict[str, float]:
    """One main job in a fresh workspace; its stage seconds (from the run) and the command's wall clock."""
    ws = Workspace.resolve(folder)
    project = materialise_example("hotel_rates", ws, sample_rows=rows)
    raw = yaml.safe_load(project.read_text())
    raw.pop("search", None)
    raw.update(name=f"bench-{folder.name}", models=MODELS, explore={"enabled": False}, workspace=str(ws.root))
    raw["register"] = {"name": raw["name"]}
    project.write_text(yaml.safe_dump(raw))
    command = [SPARKWRIGHT, *(["--tracking-uri", tracking_uri] if tracking_uri else []), "run", str(project)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    uri = tracking_uri or ws.tracking_uri
    client = Tracker(uri).client
    experiment = client.get_experiment_by_name(raw["name"])
    parent = client.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId IS NULL")[0]
    stages = {k.removeprefix("seconds_"): v for k, v in parent.data.metrics.items() if k.startswith("seconds_")}
    return {**stages, "wall clock": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="First N rows of hotel_rates (default: all 15,402).")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sparkwright-tracking-store-"))
    database = start_postgres()
    try:
        server = start_tracking_server(database.url, root / "server-home")
        try:
            runs: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql server": []}
            for i in range(args.repeats):
                order = [("sqlite", None), ("postgresql server", server.url)]
                for store, uri in order if i % 2 == 0 else order[::-1]:
                    runs[store].append(run_once(root / f"{store.split()[0]}-{i}", args.rows, uri))
                    print(f"repeat {i + 1}: {store} {runs[store][-1]['wall clock']:.1f}s", flush=True)
        finally:
            server.stop()
    finally:
        database.stop()
    stages = [*sorted({k for r in runs["sqlite"] for k in r} - {"wall clock"}), "wall clock"]
    print(f"\n| stage (median s, {args.repeats} runs each) | sqlite | postgresql server | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for stage in stages:
        a = statistics.median(r.get(stage, float("nan")) for r in runs["sqlite"])
        b = statistics.median(r.get(stage, float("nan")) for r in runs["postgresql server"])
        print(f"| {stage} | {a:.2f} | {b:.2f} | {b / a:.2f}x |" if a else f"| {stage} | {a:.2f} | {b:.2f} | — |")


if __name__ == "__main__":
    main()
