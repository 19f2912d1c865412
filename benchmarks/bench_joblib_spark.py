"""Joblib on Spark (issue 13, point 5): the same grid search + 3-fold CV through every way sparkwright can run it.

    .venv/bin/python benchmarks/bench_joblib_spark.py [--repeats 2] [--only quick|heavy]

Two workloads on synthetic regression data (``sklearn.datasets.make_regression``, seeded):

- ``quick``: Ridge over 4 alphas on 2,000 x 20 rows: 12 fits of a few milliseconds, where the cost of
  shipping each fit somewhere dominates;
- ``heavy``: RandomForestRegressor (30 trees, single-threaded) over 2 max_depth x 2 max_features on
  4,000 x 20 rows: 12 fits of a few tenths of a second each on an idle core.

Contenders, each on the same folds and grid (their best params and CV losses are checked to agree):

- ``serial``: sparkwright's ``grid_search``, threads executor, parallelism 1;
- ``threads(2)``: what ``method: grid`` with ``parallelism: 2`` runs today (driver threads);
- ``joblib-spark(2)``: ``tune.trials: joblib-spark`` (joblib's Spark backend on a ``local[2]`` session);
- ``sklearn loky(2)``: scikit-learn's ``GridSearchCV(n_jobs=2)`` on joblib's default loky backend, the
  plain single-machine reference.

sparkwright's ``parallel`` executor runs sampled searches (hyperopt / optuna), not grids, so it is not a
contender here (its own numbers: BENCHMARKS.md, "Parallel tuning"). Reports median wall seconds, the
ratio to serial, and the overhead per fit = (wall x workers - summed fit seconds) / fits; writes
benchmarks/results/joblib_spark.json. Alternates the contenders' order between repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

WORKLOADS: dict[str, dict[str, Any]] = {
    "quick": {
        "rows": 2_000,
        "estimator": "sklearn.linear_model.Ridge",
        "fixed": {},
        "grid": {"alpha": [0.01, 0.1, 1.0, 10.0]},
    },
    "heavy": {
        "rows": 4_000,
        "estimator": "sklearn.ensemble.RandomForestRegressor",
        "fixed": {"n_estimators": 30, "random_state": 0, "n_jobs": 1},
        "grid": {"max_depth": [6, 12], "max_features": [0.3, 0.6]},
    },
}
FOLDS = 3
WORKERS = 2


def _estimator(path: str) -> type:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class FoldEvaluator:
    """``evaluate(params, fold) -> RMSE`` on NumPy folds; picklable, so joblib can ship it to a Spark task."""

    def __init__(self, X: np.ndarray, y: np.ndarray, estimator: str, fixed: dict[str, Any]):
        from sklearn.model_selection import KFold

        self.X, self.y, self.estimator, self.fixed = X, y, estimator, fixed
        self.splits = list(KFold(FOLDS, shuffle=True, random_state=0).split(X))

    def __call__(self, params: dict[str, Any], fold: int) -> float:
        fit_on, score_on = self.splits[fold]
        model = _estimator(self.estimator)(**self.fixed, **params).fit(self.X[fit_on], self.y[fit_on])
        residual = model.predict(self.X[score_on]) - self.y[score_on]
        return float(np.sqrt(np.mean(residual**2)))


def run_sparkwright(evaluator: FoldEvaluator, grid: dict[str, list], executor: str, parallelism: int) -> dict:
    from sparkwright.tune import grid_search

    started = time.perf_counter()
    result = grid_search(evaluator, grid, folds=FOLDS, parallelism=parallelism, executor=executor)
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "fit_seconds": sum(p.seconds for p in result.points),
        "best_params": result.best_params,
        "losses": {json.dumps(p.params, sort_keys=True): p.mean for p in result.points},
    }


def run_sklearn_loky(evaluator: FoldEvaluator, grid: dict[str, list]) -> dict:
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        _estimator(evaluator.estimator)(**evaluator.fixed),
        grid,
        cv=evaluator.splits,
        scoring="neg_root_mean_squared_error",
        n_jobs=WORKERS,
        refit=False,
    )
    started = time.perf_counter()
    search.fit(evaluator.X, evaluator.y)
    wall = time.perf_counter() - started
    cv = search.cv_results_
    fit_seconds = float(np.sum(cv["mean_fit_time"] + cv["mean_score_time"]) * FOLDS)
    return {
        "wall": wall,
        "fit_seconds": fit_seconds,
        "best_params": search.best_params_,
        "losses": {json.dumps(p, sort_keys=True): -s for p, s in zip(cv["params"], cv["mean_test_score"], strict=True)},
    }


def contenders(evaluator: FoldEvaluator, grid: dict[str, list]) -> dict[str, tuple[Callable[[], dict], int]]:
    """name -> (run, workers it may use)."""
    return {
        "serial": (lambda: run_sparkwright(evaluator, grid, "threads", 1), 1),
        "threads(2)": (lambda: run_sparkwright(evaluator, grid, "threads", WORKERS), WORKERS),
        "joblib-spark(2)": (lambda: run_sparkwright(evaluator, grid, "joblib-spark", WORKERS), WORKERS),
        "sklearn loky(2)": (lambda: run_sklearn_loky(evaluator, grid), WORKERS),
    }


def bench(name: str, repeats: int, warm_up: bool) -> list[dict]:
    from sklearn.datasets import make_regression

    workload = WORKLOADS[name]
    X, y = make_regression(workload["rows"], 20, n_informative=12, noise=10.0, random_state=0)
    evaluator = FoldEvaluator(X, y, workload["estimator"], workload["fixed"])
    runs = contenders(evaluator, workload["grid"])
    if warm_up:  # imports, the loky pool, Spark's Python workers (once per run: later workloads reuse them)
        for run, _ in runs.values():
            run()
    walls: dict[str, list[float]] = {c: [] for c in runs}
    results: dict[str, dict] = {}
    for repeat in range(repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for contender in order:
            results[contender] = runs[contender][0]()
            walls[contender].append(results[contender]["wall"])
            print(f"{name} repeat {repeat + 1}: {contender} {walls[contender][-1]:.2f} s", flush=True)
    reference = results["serial"]
    rows = []
    for contender, (_, workers) in runs.items():
        got = results[contender]
        assert got["best_params"] == reference["best_params"], (contender, got["best_params"])
        for point, loss in reference["losses"].items():
            assert abs(got["losses"][point] - loss) < 1e-9, (contender, point, got["losses"][point], loss)
        wall = statistics.median(walls[contender])
        fits = len(reference["losses"]) * FOLDS
        rows.append(
            {
                "workload": name,
                "contender": contender,
                "walls": walls[contender],
                "wall": wall,
                "vs_serial": statistics.median(walls["serial"]) / wall,
                "fit_seconds": got["fit_seconds"],
                "overhead_per_fit": (wall * workers - got["fit_seconds"]) / fits,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=sorted(WORKLOADS))
    args = parser.parse_args()

    from sparkwright.session import get_session

    started = time.perf_counter()
    get_session(master=f"local[{WORKERS}]", app_name="bench-joblib-spark")
    load_before = os.getloadavg()
    names = [args.only] if args.only else list(WORKLOADS)
    rows = [row for i, name in enumerate(names) for row in bench(name, args.repeats, warm_up=i == 0)]
    load_after = os.getloadavg()

    print(
        f"\n{FOLDS}-fold grid search, local[{WORKERS}], {args.repeats} repeats (median); load average "
        f"{load_before[0]:.1f} -> {load_after[0]:.1f}; whole run {time.perf_counter() - started:.0f} s"
    )
    print(
        f"{'workload':8} {'contender':16} {'wall s':>8} {'repeats':>14} {'vs serial':>9} {'fit s':>7} {'ovh/fit s':>9}"
    )
    for row in rows:
        repeats = ", ".join(f"{w:.2f}" for w in row["walls"])
        print(
            f"{row['workload']:8} {row['contender']:16} {row['wall']:8.2f} {repeats:>14} {row['vs_serial']:8.2f}x "
            f"{row['fit_seconds']:7.2f} {row['overhead_per_fit']:9.3f}"
        )
    out = Path(__file__).resolve().parent / "results" / "joblib_spark.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"load_average": [load_before, load_after], "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
