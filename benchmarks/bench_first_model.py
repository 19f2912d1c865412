"""From a CSV nobody wrote a project for to a registered model: ``sparkwright init`` then ``sparkwright run``, two
commands timed as a newcomer runs them (subprocesses, a fresh workspace), next to a reference on the same CSV.

    .venv/bin/python benchmarks/bench_first_model.py                     # hotel_rates and 1M synthetic rows
    .venv/bin/python benchmarks/bench_first_model.py --rows 200000 --skip-hotel

References:
- hotel_rates (15,402 rows): the bundled, hand-written example project (its 3-minute search) on the same CSV.
- synthetic: pandas + scikit-learn on the same CSV (read_csv, one-hot, HistGradientBoostingRegressor, the same
  80/20 split share), the single-machine route a data scientist would take first.

The synthetic CSV (numpy, seeded): an id, 8 numeric columns (two with nulls), 3 string categoricals, a constant
column, and a label that is a known function of them plus noise. The goal (issue 15): init to registered model in
under 5 minutes for 1M rows on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

BIN = Path(sys.executable).parent
GOAL_SECONDS = 300


def synthetic_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """Write the synthetic table; returns its path."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"customer_id": np.arange(1, rows + 1)})
    for i in range(8):
        frame[f"x{i}"] = rng.normal(size=rows) if i % 2 else rng.gamma(2.0, 2.0, size=rows)
    frame.loc[rng.random(rows) < 0.02, "x1"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "x6"] = np.nan
    levels = {"region": 4, "channel": 6, "plan": 12}
    for name, n in levels.items():
        frame[name] = np.array([f"{name}_{k}" for k in range(n)])[rng.integers(0, n, rows)]
    frame["source_system"] = "crm"
    effect = {f"plan_{k}": k * 0.8 for k in range(12)}
    frame["spend"] = (
        20
        + 3 * frame["x0"]
        - 2 * frame["x3"] * frame["x2"]
        + frame["plan"].map(effect)
        + np.where(frame["region"] == "region_1", 5.0, 0.0)
        + rng.normal(scale=3.0, size=rows)
    ).round(2)
    frame.to_csv(path, index=False)
    return path


def _timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}); see {log}")
    return seconds


def _best_rmse(workspace: Path) -> tuple[str, float]:
    board = sorted(workspace.rglob("leaderboard.json"), key=lambda p: p.stat().st_mtime)[-1]
    rows = json.loads(board.read_text())["leaderboard"]
    best = min(rows, key=lambda r: r["rmse"])
    return best["model"], best["rmse"]


def init_then_run(csv: Path, label: str, folder: Path) -> dict:
    """The newcomer's two commands; seconds of each, and what was registered."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    project, workspace, log = folder / "project.yaml", folder / "ws", folder / "commands.log"
    init = _timed([str(BIN / "sparkwright"), "init", str(csv), "--label", label, "-o", str(project)], log)
    run = _timed([str(BIN / "sparkwright"), "run", str(project), "--workspace", str(workspace)], log)
    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    name = client.search_registered_models()[0].name
    champion = client.get_model_version_by_alias(name, "champion")
    model, rmse = _best_rmse(workspace)
    return {"init": init, "run": run, "total": init + run, "model": model, "rmse": rmse, "version": champion.version}


def hand_written_example(folder: Path) -> tuple[Path, dict]:
    """hotel_rates' bundled project (hand-written) run as is; returns its CSV and the result."""
    from sparkwright.demo import materialise_example
    from sparkwright.workspace import Workspace

    ws = Workspace.resolve(folder / "example-ws")
    project = materialise_example("hotel_rates", ws)
    seconds = _timed([str(BIN / "sparkwright"), "run", str(project), "--workspace", str(ws.root)], folder / "ex.log")
    model, rmse = _best_rmse(ws.root)
    return project.parent / "data" / "hotel_rates.csv", {"total": seconds, "model": model, "rmse": rmse}


def sklearn_reference(csv: Path, label: str, drop: list[str]) -> dict:
    """pandas + scikit-learn on the same CSV: read, one-hot, 80/20 split, HistGradientBoostingRegressor."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    frame = pd.read_csv(csv).drop(columns=drop).dropna(subset=[label])
    features = pd.get_dummies(frame.drop(columns=[label]), dtype=float)
    x_train, x_test, y_train, y_test = train_test_split(features, frame[label], test_size=0.2, random_state=42)
    model = HistGradientBoostingRegressor(random_state=42).fit(x_train, y_train)
    rmse = float(np.sqrt(np.mean((model.predict(x_test) - y_test) ** 2)))
    return {"total": time.perf_counter() - started, "model": "HistGradientBoosting", "rmse": rmse}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Synthetic CSV rows.")
    parser.add_argument("--skip-hotel", action="store_true", help="Only the synthetic CSV.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sparkwright-first-model-"))
    results = []
    if not args.skip_hotel:
        csv, reference = hand_written_example(root)
        ours = init_then_run(csv, "avg_price_per_room", root / "hotel")
        results.append(("hotel_rates", 15_402, ours, reference, "the bundled hand-written project"))
    csv = synthetic_csv(root / f"synthetic_{args.rows}.csv", args.rows)
    ours = init_then_run(csv, "spend", root / "synthetic")
    reference = sklearn_reference(csv, "spend", ["customer_id", "source_system"])
    results.append((f"synthetic {args.rows:,}", args.rows, ours, reference, "pandas + scikit-learn"))

    print(f"\n{'data':<22} {'init s':>7} {'run s':>7} {'total s':>8} {'goal':>6}  {'best (rmse)':<34} reference")
    for name, _, ours, ref, what in results:
        goal = "met" if ours["total"] < GOAL_SECONDS else "missed"
        best = f"{ours['model']} ({ours['rmse']:.4g})"
        print(
            f"{name:<22} {ours['init']:>7.1f} {ours['run']:>7.1f} {ours['total']:>8.1f} {goal:>6}  {best:<34} "
            f"{what}: {ref['total']:.1f}s, {ref['model']} ({ref['rmse']:.4g}); time ratio "
            f"{ours['total'] / ref['total']:.2f}x, rmse ratio {ours['rmse'] / ref['rmse']:.3f}"
        )
    print(f"\nlogs and workspaces: {root}")


if __name__ == "__main__":
    main()
