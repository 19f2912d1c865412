"""pandas-UDF inference against one scikit-learn process on the same rows in memory (issue 5a).

    .venv/bin/python benchmarks/bench_udf_inference.py [--rows 2000000] [--repeats 3] [--only cheap]

2M rows x 10 features (numpy, seeded, held as one pandas DataFrame) and two random forests fitted on the
first 100k rows: a cheap one (20 trees, depth 8) and a heavy one (100 trees, depth 12); every contender
predicts with one thread.

Contenders, all on the same rows:
- ``sklearn``: ``model.predict(frame)`` on all the in-memory rows in this process (the reference);
- ``sklearn, chunks``: the same process predicting ``--batch-size`` rows at a time (forests run faster
  on chunks that stay in the CPU cache, so this is the stricter reference);
- ``sparkwright``: ``sparkwright.udf.score`` (iterator pandas UDF, model loaded once per worker, rows
  regrouped to ``--batch-size``) inside ``arrow_batch_size(--arrow-batch)``;
- ``hand-written``: an iterator pandas UDF as usually written (model in the closure, ``pd.concat`` of
  the columns, ``predict`` per Arrow batch of the default 10,000 rows);
- ``mlflow spark_udf``: ``mlflow.pyfunc.spark_udf`` of the same model saved with ``mlflow.sklearn``,
  at the default Arrow batch and at ``--arrow-batch``.

The Spark input is a DataFrame of the same rows in ``--partitions`` (default: cores) partitions, cached
and counted before timing; each Spark job ends in a cheap sink (``agg(sum(prediction))``), checked against
scikit-learn's sum. Each contender runs once untimed (workers start, import, load) and then
``--repeats`` times, alternating order; medians and minima are reported. The machine may be shared:
before each timed run the script waits (up to --max-wait s) until other processes use less than
--quiet-share of the CPU and reports their share during each run. Writes benchmarks/results/udf_inference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import functions as F
from sklearn.ensemble import RandomForestRegressor

from proc_tree import descendants, process_table
from sparkwright.session import get_session
from sparkwright.udf import arrow_batch_size, score

MODELS = {"cheap": {"n_estimators": 20, "max_depth": 8}, "heavy": {"n_estimators": 100, "max_depth": 12}}
FEATURES = [f"x{i}" for i in range(10)]
DEFAULT_ARROW = 10_000


class CpuMeter:
    """CPU used by other processes (all busy time minus this process and its descendants: JVM, Python workers)."""

    def __init__(self, quiet_share: float, max_wait: float):
        self.quiet_share = quiet_share
        self.max_wait = max_wait
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1

    @staticmethod
    def _busy() -> tuple[float, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return float(sum(fields) - idle), float(sum(fields))

    def _own(self) -> float:
        """CPU jiffies (utime + stime) of this process and every process under it."""
        table = process_table()
        tree = {os.getpid(), *descendants(os.getpid(), table)}
        return float(sum(int(table[pid][2][11]) + int(table[pid][2][12]) for pid in tree if pid in table))

    def snapshot(self) -> tuple[float, float, float]:
        busy, total = self._busy()
        return busy, total, self._own()

    def others_share(self, start: tuple[float, float, float], end: tuple[float, float, float]) -> float:
        total = end[1] - start[1]
        others = (end[0] - start[0]) - (end[2] - start[2])
        return max(0.0, others / total) if total > 0 else 0.0

    def wait_until_quiet(self) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < self.max_wait:
            before = self.snapshot()
            time.sleep(1.0)
            if self.others_share(before, self.snapshot()) < self.quiet_share:
                break
        return time.perf_counter() - started


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, len(FEATURES)))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] - np.abs(X[:, 4]) + rng.normal(scale=0.3, size=rows)
    return X, y


def handwritten_udf(model) -> Callable:
    """The usual hand-written iterator pandas UDF."""
    from pyspark.sql.functions import pandas_udf

    def predict(batches: Iterator[tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        for columns in batches:
            features = pd.concat(columns, axis=1)
            features.columns = FEATURES
            yield pd.Series(model.predict(features))

    return pandas_udf(predict, "double")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--fit-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=sorted(MODELS), action="append", help="Run only this model (repeatable).")
    parser.add_argument("--batch-size", type=int, default=100_000, help="Rows per model call (sparkwright).")
    parser.add_argument("--arrow-batch", type=int, default=100_000, help="Arrow batch rows for sparkwright.")
    parser.add_argument("--partitions", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip", action="append", default=[], help="Skip a contender by name (repeatable).")
    parser.add_argument("--quiet-share", type=float, default=0.1)
    parser.add_argument("--max-wait", type=float, default=300)
    args = parser.parse_args()

    spark = get_session(master=f"local[{os.cpu_count()}]")
    X, y = make_data(args.rows)
    frame = pd.DataFrame(X, columns=FEATURES)
    rows = spark.createDataFrame(frame).repartition(args.partitions).cache()
    assert rows.count() == args.rows
    warm = spark.createDataFrame(frame.head(20_000)).repartition(args.partitions).cache()
    warm.count()
    meter = CpuMeter(args.quiet_share, args.max_wait)
    tmp = Path(tempfile.mkdtemp(prefix="sparkwright-bench-udf-"))
    report: dict = {
        "rows": args.rows,
        "features": len(FEATURES),
        "partitions": args.partitions,
        "batch_size": args.batch_size,
        "arrow_batch": args.arrow_batch,
        "repeats": args.repeats,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "models": {},
    }

    for name in args.only or list(MODELS):
        started = time.perf_counter()
        model = RandomForestRegressor(**MODELS[name], n_jobs=os.cpu_count(), random_state=0)
        model.fit(frame.head(args.fit_rows), y[: args.fit_rows])
        model.set_params(n_jobs=1)
        nodes = sum(tree.tree_.node_count for tree in model.estimators_)
        print(f"\n{name}: {MODELS[name]} fitted in {time.perf_counter() - started:.0f}s ({nodes:,} nodes)", flush=True)
        expected = float(model.predict(frame).sum())
        contenders = build_contenders(spark, model, frame, rows, warm, args, tmp / name)
        contenders = {k: v for k, v in contenders.items() if k not in args.skip}
        for run in contenders.values():
            run(warm=True)
        times: dict[str, list[float]] = {k: [] for k in contenders}
        others: dict[str, list[float]] = {k: [] for k in contenders}
        for repeat in range(args.repeats):
            order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
            for contender in order:
                waited = meter.wait_until_quiet()
                before = meter.snapshot()
                t0 = time.perf_counter()
                total = contenders[contender](warm=False)
                seconds = time.perf_counter() - t0
                share = meter.others_share(before, meter.snapshot())
                if not np.isclose(total, expected, rtol=1e-9):
                    raise AssertionError(f"{contender}: sum of predictions {total} != scikit-learn's {expected}")
                times[contender].append(seconds)
                others[contender].append(share)
                print(
                    f"  repeat {repeat} {contender:30} {seconds:7.2f}s  (others {share:.0%} of the CPU; "
                    f"waited {waited:.0f}s)",
                    flush=True,
                )
        report["models"][name] = summarise(times, others, args.rows, MODELS[name], nodes)
        print_table(name, report["models"][name])

    out = Path(__file__).resolve().parent / "results" / "udf_inference.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


def build_contenders(spark, model, frame: pd.DataFrame, rows, warm, args, folder: Path) -> dict[str, Callable]:
    import mlflow.pyfunc
    import mlflow.sklearn

    def sink(df, column: str) -> float:
        return float(df.agg(F.sum(column)).first()[0])

    def sklearn_full(warm: bool) -> float:
        return float(model.predict(frame.head(20_000) if warm else frame).sum())

    def sklearn_chunks(warm: bool) -> float:
        data, size = (frame.head(20_000) if warm else frame), args.batch_size
        return float(sum(model.predict(data.iloc[s : s + size]).sum() for s in range(0, len(data), size)))

    def sparkwright(warm: bool) -> float:
        with arrow_batch_size(spark, args.arrow_batch):
            return sink(score(warm_or(warm), model, FEATURES, batch_size=args.batch_size), "prediction")

    hand = handwritten_udf(model)

    def handwritten(warm: bool) -> float:
        with arrow_batch_size(spark, DEFAULT_ARROW):
            return sink(warm_or(warm).select(hand(*FEATURES).alias("p")), "p")

    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(  # with a signature, spark_udf names the columns as the model knows them
        model,
        str(folder / "model"),
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"],
        signature=infer_signature(frame.head(100), model.predict(frame.head(100))),
    )
    spark_udf = mlflow.pyfunc.spark_udf(spark, str(folder / "model"), result_type="double", env_manager="local")

    def mlflow_udf(arrow: int) -> Callable[[bool], float]:
        def run(warm: bool) -> float:
            with arrow_batch_size(spark, arrow):
                return sink(warm_or(warm).select(spark_udf(*FEATURES).alias("p")), "p")

        return run

    def warm_or(is_warm: bool):
        return warm if is_warm else rows

    return {
        "sklearn": sklearn_full,
        "sklearn, chunks": sklearn_chunks,
        "sparkwright": sparkwright,
        "hand-written": handwritten,
        "mlflow spark_udf": mlflow_udf(DEFAULT_ARROW),
        "mlflow spark_udf, arrow batch": mlflow_udf(args.arrow_batch),
    }


def summarise(times: dict[str, list[float]], others: dict[str, list[float]], rows: int, params: dict, nodes: int):
    medians = {k: statistics.median(v) for k, v in times.items()}
    reference = medians["sklearn"]
    chunks = medians.get("sklearn, chunks")
    return {
        "params": params,
        "nodes": nodes,
        "contenders": {
            k: {
                "median_s": medians[k],
                "min_s": min(times[k]),
                "runs_s": times[k],
                "others_cpu_share": others[k],
                "rows_per_s": rows / medians[k],
                "ratio_vs_sklearn": reference / medians[k],
                "ratio_vs_sklearn_chunks": (chunks / medians[k]) if chunks else None,
            }
            for k in times
        },
    }


def print_table(name: str, summary: dict) -> None:
    print(
        f"\n{name}: {'contender':30} {'median s':>9} {'min s':>7} {'M rows/s':>9} {'vs sklearn':>11} {'vs chunks':>10}"
    )
    for contender, item in summary["contenders"].items():
        chunks = item["ratio_vs_sklearn_chunks"]
        print(
            f"{'':{len(name) + 2}}{contender:30} {item['median_s']:9.2f} {item['min_s']:7.2f} "
            f"{item['rows_per_s'] / 1e6:9.2f} {item['ratio_vs_sklearn']:10.2f}x "
            f"{'' if chunks is None else f'{chunks:9.2f}x'}"
        )


if __name__ == "__main__":
    main()
