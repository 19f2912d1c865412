"""Model quality on the bundled examples: sparkwright's budgeted search against LightGBM on pandas (issue 10).

    .venv/bin/python benchmarks/bench_quality.py [--budget 10m] [--examples hotel_rates,wa_churn] [--trials 30]
    .venv/bin/python benchmarks/bench_quality.py --budget 1m,3m,10m     # one sparkwright run per budget
    .venv/bin/python benchmarks/bench_quality.py --examples wa_churn --budget 3m --split-seeds 42,43,44,45,46

For each example, in one run:

1. **sparkwright**: the example's project with its ``models`` and ``tune`` sections removed and
   ``search: {budget: <budget>}`` (the default families), run end to end on the whole dataset; its test
   metric is the leaderboard's best (what `sparkwright run FILE --budget 10m` registers). With several
   budgets, one run each (in a workspace of its own): the same split, so one reference serves them all.
2. The **same silver table and the same train / test split** (sparkwright's ``split_train_test`` with the
   project's seed, stratified for classification) go to LightGBM on pandas, as a data scientist would
   write it: the feature columns as sparkwright sees them, strings as pandas ``category`` (LightGBM's
   native categorical handling), the label as it is (regression: the price; classification: 1 for the
   positive class).
   - **LightGBM defaults**: ``LGBMRegressor`` / ``LGBMClassifier`` with ``random_state=42``.
   - **LightGBM + Optuna**: ``--trials`` TPE trials (seed 42) over a usual LightGBM space, each scored by
     5-fold cross-validation on the training set (stratified for classification), the best refit on all
     of it.
3. The **baseline** (sparkwright's: the mean, or the majority class) for scale.

With ``--split-seeds``, all of this runs once per train / test split (the project's ``split.seed`` set to
each seed): one test set of 1,409 rows (wa_churn) measures ROC AUC to about +-0.01, far coarser than the
differences between good models, so the summary gives each contender's mean over the splits and the
paired difference to LightGBM + Optuna with its standard error.

Metric: test RMSE (hotel_rates) and ROC AUC (wa_churn); wall time of each contender. Prints a table with
ratios to the Optuna-tuned LightGBM and writes benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import lightgbm
import numpy as np
import optuna
import pandas as pd
import yaml
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

import sparkwright
from sparkwright.config import load_project
from sparkwright.data import feature_columns, read_table
from sparkwright.demo import materialise_example
from sparkwright.session import get_session
from sparkwright.tasks import get_task
from sparkwright.workspace import Workspace

SEED = 42


def run_sparkwright(example: str, budget: str, root: Path, split_seed: int) -> tuple[dict, float, object]:
    """The example with a budgeted search instead of its model list; (leaderboard row of the best, seconds, result)."""
    ws = Workspace.resolve(root / example)
    project_file = materialise_example(example, ws)
    raw = yaml.safe_load(project_file.read_text())
    raw.pop("models", None)
    raw.pop("tune", None)
    raw["search"] = {"budget": budget}
    raw["split"] = {**raw.get("split", {}), "seed": split_seed}
    raw["explore"] = {"enabled": False}
    project_file.write_text(yaml.safe_dump(raw))
    started = time.perf_counter()
    result = sparkwright.run(project_file, workspace=ws.root)
    return result.leaderboard(), time.perf_counter() - started, result


def pandas_split(config, result) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """sparkwright's train / test rows of the run's silver table, as pandas frames."""
    spark = get_session()
    silver = result.tables["silver"]
    df = read_table(spark, silver.path, silver.version)
    train, test = get_task(config.task).split(config, df, config.split.test_fraction, config.split.seed)
    categorical, numeric = feature_columns(df, config)
    return train.toPandas(), test.toPandas(), categorical, numeric


def lightgbm_frames(train, test, categorical, numeric, label, positive):
    columns = [*categorical, *numeric]
    X_train, X_test = train[columns].copy(), test[columns].copy()
    for column in categorical:
        levels = sorted(set(X_train[column].dropna()))
        X_train[column] = pd.Categorical(X_train[column], categories=levels)
        X_test[column] = pd.Categorical(X_test[column], categories=levels)
    if positive is None:
        return X_train, train[label].to_numpy(float), X_test, test[label].to_numpy(float)
    return X_train, (train[label] == positive).to_numpy(int), X_test, (test[label] == positive).to_numpy(int)


def score(task: str, model, X, y) -> float:
    if task == "classification":
        return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))
    return float(mean_squared_error(y, model.predict(X)) ** 0.5)


def estimator(task: str, **params):
    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    return cls(random_state=SEED, verbose=-1, **params)


def optuna_lightgbm(task: str, X, y, trials: int):
    """``trials`` TPE trials of 5-fold CV on the training set; the best params refit on all of it."""
    splitter = (
        StratifiedKFold(5, shuffle=True, random_state=SEED)
        if task == "classification"
        else KFold(5, shuffle=True, random_state=SEED)
    )
    folds = list(splitter.split(X, y))

    def objective(trial: optuna.Trial) -> float:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 100, 1000, step=50),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "subsample_freq": 1,
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30, log=True),
        }
        values = []
        for fit_index, eval_index in folds:
            model = estimator(task, **params).fit(X.iloc[fit_index], y[fit_index])
            values.append(score(task, model, X.iloc[eval_index], y[eval_index]))
        return float(np.mean(values))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if task == "classification" else "minimize"
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=SEED))
    study.optimize(objective, n_trials=trials)
    return estimator(task, subsample_freq=1, **study.best_params).fit(X, y), study.best_params


def bench(example: str, budgets: list[str], trials: int, root: Path, split_seed: int) -> dict:
    runs = {budget: run_sparkwright(example, budget, root / budget, split_seed) for budget in budgets}
    _, _, result = runs[budgets[0]]
    config = load_project(root / budgets[0] / example / "examples" / example / f"{example}.yaml")
    task, metric = config.task, result.metric
    train, test, categorical, numeric = pandas_split(config, result)
    positive = None
    if task == "classification":
        positive = config.classification_settings.positive_class
    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, categorical, numeric, config.data.label, positive)

    started = time.perf_counter()
    default = estimator(task).fit(X_train, y_train)
    default_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tuned, best_params = optuna_lightgbm(task, X_train, y_train, trials)
    tuned_seconds = time.perf_counter() - started

    leaderboard = runs[budgets[0]][0]
    baseline = next(row for row in leaderboard if row["model"] == "baseline")
    return {
        "example": example,
        "split_seed": split_seed,
        "task": task,
        "metric": metric,
        "train_rows": len(train),
        "test_rows": len(test),
        "sparkwright": {budget: _sparkwright_row(metric, *runs[budget]) for budget in budgets},
        "lightgbm_defaults": {"metric": score(task, default, X_test, y_test), "seconds": default_seconds},
        "lightgbm_optuna": {
            "metric": score(task, tuned, X_test, y_test),
            "seconds": tuned_seconds,
            "trials": trials,
            "best_params": best_params,
        },
        "baseline": {"metric": baseline[metric]},
    }


def _sparkwright_row(metric: str, leaderboard: list[dict], seconds: float, result) -> dict:
    best, search = leaderboard[0], result.search
    return {
        "metric": best[metric],
        "best_model": best["model"],
        "seconds": seconds,
        "search_seconds": search.seconds if search else None,
        "search_trials": len(search.trials) if search else None,
        "leaderboard": [{"model": r["model"], metric: r[metric], "fit_seconds": r["fit_seconds"]} for r in leaderboard],
    }


def summarise(rows: list[dict], budgets: list[str]) -> None:
    """Per example: each contender's mean over the splits, and its paired difference to LightGBM + Optuna."""
    print("\nOver the splits: mean, and the paired difference to LightGBM + Optuna (mean +- standard error, wins)")
    for example in dict.fromkeys(row["example"] for row in rows):
        mine = [row for row in rows if row["example"] == example]
        reference = np.array([row["lightgbm_optuna"]["metric"] for row in mine])
        higher = mine[0]["task"] == "classification"
        contenders = {"lightgbm_defaults": [row["lightgbm_defaults"]["metric"] for row in mine]}
        contenders |= {f"sparkwright --budget {b}": [row["sparkwright"][b]["metric"] for row in mine] for b in budgets}
        print(f"{example} ({len(mine)} splits), LightGBM + Optuna mean {reference.mean():.4f}")
        for name, values in contenders.items():
            values = np.array(values)
            gain = (values - reference) if higher else (reference - values)
            error = gain.std(ddof=1) / np.sqrt(len(gain))
            print(
                f"  {name:<26} mean {values.mean():.4f}  better by {gain.mean():+.4f} +- {error:.4f}  "
                f"wins {int((gain >= 0).sum())}/{len(gain)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--examples", default="hotel_rates,wa_churn")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--split-seeds", default="42", help="One run per train / test split seed (42: the project's).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = Path(tempfile.mkdtemp(prefix="sparkwright-quality-"))
    budgets = args.budget.split(",")
    seeds = [int(seed) for seed in args.split_seeds.split(",")]
    rows = [
        bench(example, budgets, args.trials, root / f"split{seed}", seed)
        for example in args.examples.split(",")
        for seed in seeds
    ]

    print(f"\nModel quality, test set (budget {args.budget}, LightGBM + Optuna {args.trials} trials x 5-fold CV)")
    print(f"{'example@split':<16} {'contender':<26} {'metric':>14} {'vs optuna':>10} {'wall s':>8}  best (trials)")
    for row in rows:
        metric = row["metric"]
        reference = row["lightgbm_optuna"]["metric"]
        contenders = [(name, row[name]) for name in ("baseline", "lightgbm_defaults", "lightgbm_optuna")]
        contenders += [(f"sparkwright --budget {b}", ours) for b, ours in row["sparkwright"].items()]
        for name, numbers in contenders:
            value, seconds = numbers["metric"], numbers.get("seconds")
            shown = f"{seconds:8.1f}" if seconds is not None else f"{'':>8}"
            best = f"  {numbers['best_model']} ({numbers['search_trials']})" if "best_model" in numbers else ""
            label = f"{row['example']}@{row['split_seed']}"
            print(f"{label:<16} {name:<26} {metric} {value:8.4f} {value / reference:9.4f}x {shown}{best}")
    if len(seeds) > 1:
        summarise(rows, budgets)
    out = Path(__file__).parent / "results" / "quality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "budgets": budgets, "rows": rows}, indent=2)
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
