"""The main job at scale: a synthetic 20-column table generated in Spark, run through ``sparkwright run`` as a
user would run it, at several sizes; and pandas + scikit-learn doing the same job under the same memory.

    .venv/bin/python benchmarks/bench_scale.py --rows 100000,1000000                 # the sweep
    .venv/bin/python benchmarks/bench_scale.py --rows 50000000 --memory 12g          # one big run
    .venv/bin/python benchmarks/bench_scale.py --pandas --rows 1000000,5000000,10000000,20000000,50000000

Data (generated in Spark from ``spark.range`` and seeded ``rand`` / ``randn``, written once per size as a Delta
table under ``--root``/data and reused): 14 numeric columns (normal, uniform, log-normal, correlated, counts, two
with nulls, an ``age`` with a -999 sentinel on 0.05% of rows) and 6 string categoricals of 3 to 50 levels (one
with nulls); the label is a known function of them (linear terms, an interaction, per-level effects) plus noise,
null on 0.05% of rows and negative on 0.1% (so cleansing drops or filters them, and a quality rule quarantines
the sentinel rows).

The job: ``sparkwright run scale.yaml --conf spark.driver.memory=<memory>`` in a subprocess (``local[*]``): ingest
into Delta, quality, cleanse, explore (profile report), split 80/20, baseline + linear regression + GBT
(``GBT_PARAMS``), evaluate, register. A thread samples the process tree every 0.25 s: peak RSS of the JVM, of the
Python driver, and of the whole tree (with the Python workers). Stage seconds come from the run's MLflow metrics
``seconds_<stage>``.

``--pandas``: the same steps in pandas + scikit-learn (numpy-generated data of the same shape; dense one-hot,
``LinearRegression``, ``HistGradientBoostingRegressor`` with the same depth and iterations) in a child process
whose address space is capped at ``--memory`` (``RLIMIT_AS``), at increasing sizes until one fails.

Results are merged by size into benchmarks/results/scale.json (so sizes can be run one at a time); the plot of
every size measured so far goes to docs/img/scale_sweep.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from proc_tree import descendants, process_table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scale.json"
PLOT = HERE.parent / "docs" / "img" / "scale_sweep.png"
PROJECT = "scale"
# Depth 5 and few iterations: each GBT iteration is about depth + 1 passes over the cached training rows, so 10
# iterations are some 60 passes; on 2 cores that is the bulk of a 50M-row run.
GBT_PARAMS = {"maxIter": 10, "maxDepth": 5, "stepSize": 0.3}
LEVELS = {"c_region": 3, "c_channel": 5, "c_segment": 8, "c_product": 15, "c_store": 30, "c_city": 50}
NULL_CATEGORICAL = "c_segment"


# ---------------------------------------------------------------------------------------------------------------
# Data, in Spark
# ---------------------------------------------------------------------------------------------------------------


def synthetic_table(spark, rows: int):
    """The synthetic table (14 numeric, 6 categorical, label) as a lazy DataFrame of ``rows`` rows."""
    from pyspark.sql import functions as F

    partitions = max(2, rows // 2_000_000)  # files of about 2M rows
    indices = {name: F.floor(F.rand(100 + i) * levels).cast("int") for i, (name, levels) in enumerate(LEVELS.items())}
    base = spark.range(rows, numPartitions=partitions).select(
        F.randn(1).alias("n_score"),
        F.randn(2).alias("n_balance"),
        (F.rand(3) * 100).alias("n_usage"),
        F.exp(F.randn(4)).alias("n_spend"),
        F.randn(5).alias("z"),
        F.floor(F.rand(6) * 10).cast("double").alias("n_visits"),
        F.when(F.rand(7) < 0.02, None).otherwise(F.randn(8)).alias("n_rating"),
        F.when(F.rand(9) < 0.01, None).otherwise(F.rand(10)).alias("n_share"),
        F.when(F.rand(11) < 0.0005, -999.0).otherwise(F.floor(F.rand(12) * 72 + 18)).alias("age"),
        (F.randn(13) * 5 + 50).alias("n_temperature"),
        F.rand(14).alias("n_discount"),
        F.randn(15).alias("n_trend"),
        F.floor(F.rand(16) * 1000).cast("double").alias("n_items"),
        (F.randn(17) * 0.1).alias("n_noise"),
        F.rand(18).alias("u_label"),
        F.randn(19).alias("noise"),
        *(index.alias(f"{name}_i") for name, index in indices.items()),
    )
    # A known function: linear terms, an interaction (which linear regression cannot fit, GBT can) and level effects.
    label = (
        100
        + 3 * F.col("n_score")
        - 2 * F.col("n_balance")
        + 0.05 * F.col("n_usage")
        + 1.5 * F.col("n_spend")
        + 0.1 * F.when(F.col("age") > 0, F.col("age")).otherwise(40)
        + 4 * F.when(F.col("n_discount") > 0.5, F.col("n_trend")).otherwise(0)
        + 2 * F.col("c_region_i")
        + 1.5 * (F.col("c_channel_i") - 2)
        + (F.col("c_city_i") % 7 - 3)
        + 2 * F.col("noise")
    )
    label = F.when(F.col("u_label") < 0.0005, None).when(F.col("u_label") < 0.0015, -1.0).otherwise(label)
    categoricals = []
    for name in LEVELS:
        value = F.concat(F.lit(f"{name[2:]}_"), F.col(f"{name}_i").cast("string"))
        if name == NULL_CATEGORICAL:
            value = F.when(F.col(f"{name}_i") == 0, None).otherwise(value)  # 1 in 8 rows: null
        categoricals.append(value.alias(name))
    numeric = [c for c in base.columns if c.startswith(("n_", "age"))]
    # n_correlated follows n_score: the profile's correlation matrix has something to show.
    return base.select(
        *numeric,
        (F.col("n_score") * 0.8 + F.col("z") * 0.6).alias("n_correlated"),
        *categoricals,
        label.alias("label"),
    )


def table_path(root: Path, rows: int) -> Path:
    return root / "data" / f"synthetic-{rows}"


def _generate(rows: int, path: str, memory: str) -> None:
    """In a child process (its JVM goes away with it): write the table as Delta."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from sparkwright.session import get_session

    spark = get_session(app_name="bench-scale-generate", conf={"spark.driver.memory": memory})
    synthetic_table(spark, rows).write.format("delta").mode("overwrite").save(path)
    spark.stop()


def ensure_table(root: Path, rows: int, memory: str) -> tuple[Path, float | None]:
    """The Delta table for ``rows``, generated unless a committed one exists -> (path, seconds or None if cached)."""
    path = table_path(root, rows)
    if (path / "_delta_log" / "00000000000000000000.json").is_file():
        return path, None
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=_generate, args=(rows, str(path), memory))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"generating {rows:,} rows into {path} failed (exit code {child.exitcode})")
    return path, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------------------------
# The job, as a user runs it
# ---------------------------------------------------------------------------------------------------------------


def project(source: Path) -> dict[str, Any]:
    return {
        "name": PROJECT,
        "task": "regression",
        "data": {"source": {"path": str(source), "format": "delta"}, "label": "label"},
        "quality": [{"rule": "range", "column": "age", "min": 0, "max": 120}],
        "cleanse": {"impute": "median", "filters": ["label > 0"]},
        "explore": {"enabled": True},
        "split": {"test_fraction": 0.2, "seed": 42},
        "models": [{"type": "linear_regression"}, {"type": "gbt", "params": GBT_PARAMS}],
        "metric": "rmse",
        "register": {"name": PROJECT, "promote_if_better": True},
    }


def _status_kib(pid: int, field: str, file: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(root: int) -> dict[int, str]:
    """pid -> command name of every process under ``root``."""
    table = process_table()
    return {pid: table[pid][1] for pid in descendants(root, table) if pid in table}


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree: the Python driver (the root), its JVM, and the whole tree, from /proc.

    Per process the kernel's own high-water mark (``VmHWM``) is read, so a peak between samples is not missed.
    The tree's total is a sum of sampled proportional set sizes (``Pss``: a page shared by the forked Python
    workers counts once, not once per worker, as a sum of RSS would), so it can miss a short peak.
    """

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.python_kib = self.jvm_kib = self.tree_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.python_kib = max(self.python_kib, _status_kib(self.pid, "VmHWM"))
            tree = _descendants(self.pid)
            for pid, name in tree.items():
                if name == "java":
                    self.jvm_kib = max(self.jvm_kib, _status_kib(pid, "VmHWM"))
            total = sum(_status_kib(pid, "Pss", "smaps_rollup") for pid in [self.pid, *tree])
            self.tree_kib = max(self.tree_kib, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_job(root: Path, rows: int, source: Path, memory: str) -> dict[str, Any]:
    """``sparkwright run`` in a subprocess on a fresh workspace; stage seconds from MLflow, peak memory sampled."""
    ws = root / f"ws-{rows}"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    project_file = ws / "scale.yaml"
    project_file.write_text(yaml.safe_dump(project(source), sort_keys=False))
    # The console script of this interpreter's environment: what a user types.
    command = [
        str(Path(sys.executable).with_name("sparkwright")),
        "run",
        str(project_file),
        "--workspace",
        str(ws),
        "--conf",
        f"spark.driver.memory={memory}",
    ]
    log_path = ws / "run.log"
    started = time.perf_counter()
    with open(log_path, "w") as log:
        job = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYSPARK_PYTHON": sys.executable}
        )
        sampler = MemorySampler(job.pid)
        sampler.start()
        job.wait()
        sampler.stop()
    wall = time.perf_counter() - started
    if job.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {job.returncode}):\n{log_path.read_text()[-4000:]}")
    return {
        "rows": rows,
        "memory": memory,
        "command": " ".join(command),
        "wall_seconds": wall,
        **tracked(ws),
        "peak_rss_mib": {
            "jvm": sampler.jvm_kib / 1024,
            "python_driver": sampler.python_kib / 1024,
            "tree": sampler.tree_kib / 1024,
        },
    }


def tracked(ws: Path) -> dict[str, Any]:
    """The run's stage seconds, split sizes and test metrics, and the registered version, from MLflow."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{ws / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(PROJECT)
    run = client.search_runs(
        [experiment.experiment_id], f"attributes.run_name = '{PROJECT}-run'", order_by=["attributes.start_time DESC"]
    )[0]
    metrics = run.data.metrics
    stages = {k.removeprefix("seconds_"): v for k, v in metrics.items() if k.startswith("seconds_")}
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    versions = client.search_model_versions(f"name = '{PROJECT}'")
    return {
        "stages": stages,
        "train_rows": int(run.data.params["train_rows"]),
        "test_rows": int(run.data.params["test_rows"]),
        "rmse": {c.info.run_name: c.data.metrics.get("rmse") for c in children},
        "registered_versions": len(versions),
    }


# ---------------------------------------------------------------------------------------------------------------
# pandas + scikit-learn under the same memory
# ---------------------------------------------------------------------------------------------------------------


def _numpy_table(rows: int):
    """The synthetic table's shape and distributions, in numpy / pandas."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)

    def with_nulls(values, fraction):
        values[rng.uniform(size=rows) < fraction] = np.nan
        return values

    score, balance, usage = rng.standard_normal(rows), rng.standard_normal(rows), rng.uniform(0, 100, rows)
    spend = np.exp(rng.standard_normal(rows))
    age = np.floor(rng.uniform(18, 90, rows))
    age[rng.uniform(size=rows) < 0.0005] = -999.0
    discount, trend = rng.uniform(size=rows), rng.standard_normal(rows)
    codes = {name: rng.integers(0, levels, rows) for name, levels in LEVELS.items()}
    label = (
        100
        + 3 * score
        - 2 * balance
        + 0.05 * usage
        + 1.5 * spend
        + 0.1 * np.where(age > 0, age, 40)
        + 4 * np.where(discount > 0.5, trend, 0)
        + 2 * codes["c_region"]
        + 1.5 * (codes["c_channel"] - 2)
        + (codes["c_city"] % 7 - 3)
        + 2 * rng.standard_normal(rows)
    )
    u = rng.uniform(size=rows)
    label[u < 0.0015] = -1.0
    label[u < 0.0005] = np.nan
    frame = pd.DataFrame(
        {
            "n_score": score,
            "n_balance": balance,
            "n_usage": usage,
            "n_spend": spend,
            "n_visits": np.floor(rng.uniform(0, 10, rows)),
            "n_rating": with_nulls(rng.standard_normal(rows), 0.02),
            "n_share": with_nulls(rng.uniform(size=rows), 0.01),
            "age": age,
            "n_temperature": rng.normal(50, 5, rows),
            "n_discount": discount,
            "n_trend": trend,
            "n_items": np.floor(rng.uniform(0, 1000, rows)),
            "n_noise": rng.normal(0, 0.1, rows),
            "n_correlated": score * 0.8 + rng.standard_normal(rows) * 0.6,
            "label": label,
        }
    )
    for name, levels in LEVELS.items():
        # Strings, as Spark has them (object dtype), with a null level where Spark has one.
        names = np.array([f"{name[2:]}_{i}" for i in range(levels)], dtype=object)
        values = names[codes[name]]
        if name == NULL_CATEGORICAL:
            values[codes[name] == 0] = None
        frame[name] = values
    return frame


def _pandas_job(rows: int, limit_bytes: int, queue) -> None:
    """The job's steps in pandas + scikit-learn, under an address-space cap; puts (stage seconds, peak MiB)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    seconds: dict[str, float] = {}
    stage = None
    try:
        clock = time.perf_counter()

        def done(name: str) -> None:
            nonlocal clock
            seconds[name] = time.perf_counter() - clock
            clock = time.perf_counter()

        stage = "ingest"
        frame = _numpy_table(rows)
        done(stage)
        stage = "cleanse"
        frame = frame[~(frame["age"].lt(0) | frame["age"].gt(120))]
        frame = frame.drop_duplicates().dropna(subset=["label"])
        frame = frame[frame["label"] > 0]
        numeric = [c for c in frame.columns if c.startswith(("n_", "age"))]
        categorical = list(LEVELS)
        for name in numeric:
            if frame[name].isna().any():
                frame[f"{name}_missing"] = frame[name].isna().astype("float64")
                frame[name] = frame[name].fillna(frame[name].median())
        frame[categorical] = frame[categorical].fillna("missing")
        done(stage)
        stage = "explore"
        frame.describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95])
        frame.select_dtypes("number").corr()
        for name in categorical:
            frame[name].value_counts().head(10)
        done(stage)
        stage = "split"
        test_mask = np.random.default_rng(42).uniform(size=len(frame)) < 0.2
        train, test = frame[~test_mask], frame[test_mask]
        del frame
        done(stage)
        stage = "featurize"
        columns = None

        def features(part):
            dense = pd.get_dummies(part.drop(columns="label"), columns=categorical, dtype="float64")
            return dense if columns is None else dense.reindex(columns=columns, fill_value=0.0)

        x_train = features(train)
        columns = list(x_train.columns)
        x_test = features(test)
        y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
        del train, test
        done(stage)
        for name, model in (
            ("linear_regression", LinearRegression()),
            (
                "gbt",
                HistGradientBoostingRegressor(
                    max_iter=GBT_PARAMS["maxIter"],
                    max_depth=GBT_PARAMS["maxDepth"],
                    learning_rate=GBT_PARAMS["stepSize"],
                    early_stopping=False,
                ),
            ),
        ):
            stage = f"train:{name}"
            model.fit(x_train, y_train)
            predicted = model.predict(x_test)
            mean_squared_error(y_test, predicted), mean_absolute_error(y_test, predicted), r2_score(y_test, predicted)
            done(stage)
    except MemoryError as exc:
        queue.put({"error": f"MemoryError in {stage}: {exc}", "stages": seconds, "peak_rss_mib": _own_peak_mib()})
        return
    queue.put({"stages": seconds, "peak_rss_mib": _own_peak_mib()})


def _own_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pandas(rows: int, memory: str) -> dict[str, Any]:
    """The pandas job in a child capped at ``memory``; an ``error`` key when it did not fit."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_pandas_job, args=(rows, parse_bytes(memory), queue))
    started = time.perf_counter()
    child.start()
    child.join()
    wall = time.perf_counter() - started
    found = queue.get() if not queue.empty() else {"error": f"the child died (exit code {child.exitcode})"}
    return {"rows": rows, "memory": memory, "wall_seconds": wall, **found}


def parse_bytes(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    return int(float(text[:-1]) * units[text[-1].lower()]) if text[-1].lower() in units else int(text)


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------

STAGE_ORDER = [
    "session",
    "ingest",
    "cleanse",
    "explore",
    "split",
    "train:baseline",
    "train:linear_regression",
    "train:gbt",
    "artifacts",
    "register",
]


def stage_names(runs: list[dict[str, Any]]) -> list[str]:
    seen = {s.replace("train_", "train:", 1) for run in runs for s in run["stages"]}
    return [s for s in STAGE_ORDER if s in seen] + sorted(seen - set(STAGE_ORDER))


def stage_seconds(run: dict[str, Any], stage: str) -> float:
    return run["stages"].get(stage.replace(":", "_"), run["stages"].get(stage, math.nan))


def print_sweep(runs: list[dict[str, Any]]) -> None:
    runs = sorted(runs, key=lambda r: r["rows"])
    stages = stage_names(runs)
    header = "".join(f"{r['rows']:>14,}" for r in runs)
    print(f"\nseconds per stage (sparkwright run, driver memory {runs[-1]['memory']})\n{'stage':26}{header}")
    for stage in stages:
        print(f"{stage:26}" + "".join(f"{stage_seconds(r, stage):14.1f}" for r in runs))
    print(f"{'job total (stages)':26}" + "".join(f"{sum(r['stages'].values()):14.1f}" for r in runs))
    print(f"{'process wall':26}" + "".join(f"{r['wall_seconds']:14.1f}" for r in runs))
    print(f"{'rows / s (stages)':26}" + "".join(f"{r['rows'] / sum(r['stages'].values()):14,.0f}" for r in runs))
    print(f"\nmicroseconds per row per stage\n{'stage':26}{header}")
    for stage in stages:
        print(f"{stage:26}" + "".join(f"{1e6 * stage_seconds(r, stage) / r['rows']:14.2f}" for r in runs))
    if len(runs) > 1:
        print("\ngrowth exponent between consecutive sizes (1 = linear; seconds ~ rows^k)")
        for stage in stages:
            exponents = [
                math.log(stage_seconds(b, stage) / stage_seconds(a, stage)) / math.log(b["rows"] / a["rows"])
                for a, b in itertools.pairwise(runs)
            ]
            print(f"{stage:26}" + "".join(f"{k:14.2f}" for k in exponents))
    print(f"\npeak RSS MiB\n{'process':26}{header}")
    for key in ("jvm", "python_driver", "tree"):
        print(f"{key:26}" + "".join(f"{r['peak_rss_mib'][key]:14,.0f}" for r in runs))
    print(f"\ntest RMSE\n{'model':26}{header}")
    for model in sorted({m for r in runs for m in r["rmse"]}):
        print(f"{model:26}" + "".join(f"{r['rmse'].get(model, math.nan):14.3f}" for r in runs))


def print_pandas(results: list[dict[str, Any]]) -> None:
    print(f"\npandas + scikit-learn, address space capped at {results[0]['memory']}")
    print(f"{'rows':>12} {'seconds':>9} {'peak RSS MiB':>13}  outcome")
    for r in results:
        outcome = r.get("error") or "ok  " + ", ".join(f"{k} {v:.1f}s" for k, v in r["stages"].items())
        print(f"{r['rows']:>12,} {r['wall_seconds']:>9.1f} {r['peak_rss_mib']:>13,.0f}  {outcome}")


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Seconds against rows per stage, log-log, with a linear reference through the smallest total."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = sorted(runs, key=lambda r: r["rows"])
    rows = [r["rows"] for r in runs]
    fig = Figure(figsize=(7.5, 5), layout="constrained", dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for stage in stage_names(runs):
        ax.plot(rows, [stage_seconds(r, stage) for r in runs], marker="o", label=stage)
    totals = [sum(r["stages"].values()) for r in runs]
    ax.plot(rows, totals, marker="s", color="black", linewidth=2, label="total")
    ax.plot(rows, [totals[0] * n / rows[0] for n in rows], "k--", linewidth=1, label="linear from the smallest total")
    ax.set(xscale="log", yscale="log", xlabel="rows", ylabel="seconds", title="sparkwright run: seconds per stage")
    ax.legend(fontsize=7, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def merge_results(kind: str, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep earlier sizes' results, replace the ones just measured; write the file back."""
    saved = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    by_rows = {r["rows"]: r for r in saved.get(kind, [])}
    by_rows.update({r["rows"]: r for r in new})
    saved[kind] = sorted(by_rows.values(), key=lambda r: r["rows"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=2))
    return saved[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000", help="Comma-separated sizes (default 100000,1000000).")
    parser.add_argument(
        "--memory", default="12g", help="spark.driver.memory of the job; the pandas child's address-space cap."
    )
    parser.add_argument("--root", type=Path, default=Path("/tmp/sparkwright-bench-scale"), help="Data + workspaces.")
    parser.add_argument("--pandas", action="store_true", help="Run pandas + scikit-learn instead, until a size fails.")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.rows.split(","))

    if args.pandas:
        results = []
        for rows in sizes:
            results.append(run_pandas(rows, args.memory))
            print_pandas(results[-1:])
            if "error" in results[-1]:
                break
        print_pandas(merge_results(f"pandas-{args.memory}", results))
        return

    runs = []
    for rows in sizes:
        source, generated = ensure_table(args.root, rows, args.memory)
        if generated is not None:
            print(f"generated {rows:,} rows in {generated:.1f}s -> {source}")
        runs.append(run_job(args.root, rows, source, args.memory))
        print(f"{rows:,} rows: {sum(runs[-1]['stages'].values()):.1f}s in stages, {runs[-1]['wall_seconds']:.1f}s wall")
    every = merge_results("spark", runs)
    print_sweep(every)
    plot(every, PLOT)
    print(f"\nplot: {PLOT}\nresults: {RESULTS}")


if __name__ == "__main__":
    main()
